import Foundation
import LetheTestSupport
import XCTest
@testable import LethePipeline
import LetheShards

/// A fresh temporary folder, removed by `cleanUp`.
struct Sandbox {
    let url: URL

    init(_ name: String = #function) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-\(name.prefix(30))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    func write(_ relative: String, _ text: String) throws {
        let file = path(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }

    /// The sha256 of every file in a stage folder that is output (shards, records' shards, extra files),
    /// keyed by name: what must be identical between two runs.
    func outputDigests(_ relative: String) throws -> [String: String] {
        let folder = path(relative)
        var digests: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".tar.zst") || name == "summary.json" {
            digests[name] = try SHA256Hex.ofFile(atPath: folder.appendingPathComponent(name).path)
        }
        return digests
    }
}

/// Waits until `condition` holds, polling every 10 ms, for at most `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
