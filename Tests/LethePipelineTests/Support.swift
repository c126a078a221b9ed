import Foundation
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

/// The folder holding the built executables: the same build folder as this test bundle.
let productsFolder = URL(fileURLWithPath: try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    .deletingLastPathComponent()

struct CommandResult {
    var status: Int32
    var output: String
    var error: String
}

/// Runs a built executable (`lethe`, `lethe-test-stage`) in `folder` with its own hash cache.
@discardableResult
func runProduct(_ name: String, _ arguments: [String], in folder: URL) throws -> CommandResult {
    let process = try startProduct(name, arguments, in: folder)
    let output = process.outputPipe.fileHandleForReading.readDataToEndOfFile()
    let error = process.errorPipe.fileHandleForReading.readDataToEndOfFile()
    process.process.waitUntilExit()
    return CommandResult(status: process.process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                         error: String(decoding: error, as: UTF8.self))
}

struct StartedProcess {
    let process: Process
    let outputPipe: Pipe
    let errorPipe: Pipe
}

func startProduct(_ name: String, _ arguments: [String], in folder: URL) throws -> StartedProcess {
    let process = Process()
    process.executableURL = productsFolder.appendingPathComponent(name)
    process.arguments = arguments
    process.currentDirectoryURL = folder
    var environment = ProcessInfo.processInfo.environment
    environment["LETHE_HASH_CACHE"] = folder.appendingPathComponent(".hash-cache.json").path
    process.environment = environment
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    return StartedProcess(process: process, outputPipe: output, errorPipe: error)
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
