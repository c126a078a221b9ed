import Foundation
import LethePipeline
import LetheShards
import LetheTestSupport
import XCTest

enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/tokenize")
    static let tokenizer = root.appendingPathComponent("data/tokenizer/gpt-neox-20b-tokenizer.json")
    static func data(_ relative: String) -> String { root.appendingPathComponent("data/" + relative).path }
}

/// A temporary folder per test, removed afterwards.
class StageTestCase: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-tokenize-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: folder) }

    func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }

    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(relative)))
        return path(relative)
    }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String { try write(relative, Array(text.utf8)) }

    /// Runs `name` (default lethe-tokenize) with `arguments` in `directory` (default: the repository, so that
    /// the fixtures' relative paths hold), with its own hash cache.
    @discardableResult
    func run(_ arguments: [String], product name: String = "lethe-tokenize", in directory: URL? = nil) throws -> CommandResult {
        try start(arguments, product: name, in: directory).finish()
    }

    func start(_ arguments: [String], product name: String = "lethe-tokenize", in directory: URL? = nil) throws -> StartedProcess {
        try startProduct(name, arguments, in: directory ?? Repository.root, hashCache: path(".hash-cache.json"))
    }

    /// Runs the stage and fails the test unless it succeeds.
    func tokenize(_ arguments: [String], output: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try run(arguments + ["--output", path(output), "--progress", "off"])
        XCTAssertEqual(result.status, 0, result.error, file: file, line: line)
    }

    func manifest(_ output: String) throws -> StageManifest {
        try XCTUnwrap(try StageFolder(url: URL(fileURLWithPath: path(output))).manifest(), "no manifest in \(output)")
    }

    /// Every sample of a complete stage folder, in shard order, with the index of its shard.
    func samples(_ output: String) throws -> [(shard: Int, sample: ShardSample)] {
        let folder = URL(fileURLWithPath: path(output))
        return try manifest(output).shards.enumerated().flatMap { index, shard in
            try ShardReader.readAll(folder.appendingPathComponent(shard.name)).map { (index, $0) }
        }
    }

    /// The sha256 of each shard file of a folder, by name.
    func shardDigests(_ output: String) throws -> [String: String] {
        var digests: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: path(output)) where name.hasSuffix(".tar.zst") {
            digests[name] = try SHA256Hex.ofFile(atPath: path(output + "/" + name))
        }
        return digests
    }
}

/// Waits until `condition` holds, polling every 5 ms, for at most `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
