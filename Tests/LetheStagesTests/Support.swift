import Foundation
import LetheTestSupport
import XCTest
import LethePipeline
import LetheShards

/// A sandbox is where stage executables run (their working directory).
extension Sandbox {
    /// Runs a built executable (lethe-annotate, lethe-report) here, with its own hash cache (and no progress
    /// output unless the arguments ask for it).
    func run(_ product: String, _ arguments: [String], environment: [String: String?] = [:]) throws -> CommandResult {
        try runProduct(product, arguments + (arguments.contains("--progress") ? [] : ["--progress", "off"]), in: url,
                       environment: environment)
    }

    /// Every sample of a stage folder's shards, in order.
    func samples(_ stage: String) throws -> [ShardSample] {
        let manifest = try XCTUnwrap(try StageFolder(url: path(stage)).manifest(), "\(stage) has no manifest")
        return try manifest.shards.flatMap { try ShardReader.readAll(path(stage).appendingPathComponent($0.name)) }
    }
}

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Writes a complete stage folder as a stage executable would: shards (one per element of `shards`), extra
/// files, and a manifest with fixed times, so the same call gives the same bytes.
@discardableResult
func writeStageFolder(at folder: URL, name: String, executable: String, parameters: [String: [String]] = [:],
                      inputs: [String: [InputIdentity]] = [:], shards: [[ShardSample]] = [], samples: Int? = nil,
                      files: [String: [UInt8]] = [:]) throws -> String {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var records: [ShardRecord] = []
    for (index, samples) in shards.enumerated() {
        let writer = try ShardWriter(url: folder.appendingPathComponent(ShardName.file(index)))
        for sample in samples { try writer.append(sample) }
        records.append(try writer.finish())
    }
    var fileRecords: [FileRecord] = []
    for (relative, bytes) in files.sorted(by: { $0.key < $1.key }) {
        let url = folder.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        fileRecords.append(FileRecord(name: relative, bytes: bytes.count, sha256: SHA256Hex.of(bytes)))
    }
    let count = samples ?? records.reduce(0) { $0 + $1.samples }
    let manifest = StageManifest(
        version: StageManifest.currentVersion, stage: name, fingerprint: SHA256Hex.of(Array(name.utf8)),
        executable: .init(name: executable, version: LetheVersion.current, format: 1), parameters: parameters, inputs: inputs,
        shards: records, files: fileRecords,
        totals: .init(shards: records.count, samples: count, bytes: records.reduce(0) { $0 + $1.bytes } + fileRecords.reduce(0) { $0 + $1.bytes }),
        started: "2025-01-01T00:00:00.000Z", finished: "2025-01-01T00:00:01.000Z", extra: .object([:]))
    try StageFolder(url: folder).write(manifest)
    return try SHA256Hex.ofFile(atPath: folder.appendingPathComponent(StageFolder.manifestName).path)
}

extension XCTestCase {
    /// Runs `product` expecting failure with exactly one line on standard error that starts with the product's
    /// name and contains every fragment; and that `output` got no manifest.
    func assertFails(_ sandbox: Sandbox, _ product: String, _ arguments: [String], output: String, saying fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try sandbox.run(product, arguments + ["--output", output])
        XCTAssertNotEqual(result.status, 0, "\(product) should fail", file: file, line: line)
        let lines = result.error.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line expected:\n\(result.error)", file: file, line: line)
        XCTAssertTrue(result.error.hasPrefix("\(product): "), result.error, file: file, line: line)
        for fragment in fragments { XCTAssertTrue(result.error.contains(fragment), "'\(fragment)' missing in: \(result.error)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path(output + "/manifest.json").path), file: file, line: line)
    }
}
