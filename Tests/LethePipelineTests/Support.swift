import Foundation
import LetheTestSupport
import XCTest
@testable import LethePipeline
import LetheShards

extension Sandbox {
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
