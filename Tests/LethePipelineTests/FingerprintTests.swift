import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

final class FingerprintTests: XCTestCase {
    let description = StageDescription(executable: "lethe-x", version: "0.1.0", format: 1, inputs: ["input", "vocab"],
                                       executionOnly: ["output", "stage", "threads", "shard-index", "num-shards", "progress", "force"],
                                       parallel: true)

    func fingerprint(_ arguments: [String], in sandbox: Sandbox, description: StageDescription? = nil) throws -> String {
        try Fingerprint.of(arguments: StageArguments.parse(arguments), description: description ?? self.description,
                           base: sandbox.url, cache: FileHashCache(url: nil)).fingerprint
    }

    func testArgumentsBecomeOptionValues() throws {
        let parsed = try StageArguments.parse(["--input", "a", "--input", "b", "--lower", "--chunk-size=64", "--offset", "-3"])
        XCTAssertEqual(parsed.options, ["input": ["a", "b"], "lower": [], "chunk-size": ["64"], "offset": ["-3"]])
        XCTAssertEqual(parsed.parameters(for: description), ["lower": [], "chunk-size": ["64"], "offset": ["-3"]])
        XCTAssertEqual(parsed.inputPaths(for: description), ["input": ["a", "b"]])
        XCTAssertThrowsError(try StageArguments.parse(["positional"])) { error in
            XCTAssertTrue("\(error)".contains("unexpected argument 'positional'"), "\(error)")
        }
    }

    func testChangesWithParametersAndNotWithExecutionOnlyOptions() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("data/a.txt", "alpha")
        let base = try fingerprint(["--input", "data/a.txt", "--chunk-size", "64", "--output", "stages/x"], in: sandbox)
        XCTAssertEqual(base.count, 64)

        // Execution-only options and option order do not matter.
        XCTAssertEqual(base, try fingerprint(["--chunk-size", "64", "--input", "data/a.txt", "--output", "elsewhere", "--threads", "7",
                                              "--shard-index", "1", "--num-shards", "3", "--progress", "off", "--force", "--stage", "y"],
                                             in: sandbox))
        // Parameters do.
        XCTAssertNotEqual(base, try fingerprint(["--input", "data/a.txt", "--chunk-size", "128"], in: sandbox))
        XCTAssertNotEqual(base, try fingerprint(["--input", "data/a.txt", "--chunk-size", "64", "--lower"], in: sandbox))
        XCTAssertNotEqual(base, try fingerprint(["--input", "data/a.txt"], in: sandbox))
        // So do the executable's name and format version.
        var bumped = description
        bumped.format = 2
        XCTAssertNotEqual(base, try fingerprint(["--input", "data/a.txt", "--chunk-size", "64"], in: sandbox, description: bumped))
        // The version alone does not (a release that writes the same output keeps outputs current).
        var release = description
        release.version = "0.2.0"
        XCTAssertEqual(base, try fingerprint(["--input", "data/a.txt", "--chunk-size", "64"], in: sandbox, description: release))
    }

    func testChangesWithInputContentNotPath() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("a.txt", "alpha")
        try sandbox.write("copy.txt", "alpha")
        let base = try fingerprint(["--input", "a.txt"], in: sandbox)
        XCTAssertEqual(base, try fingerprint(["--input", "copy.txt"], in: sandbox), "same content, same identity")
        try sandbox.write("a.txt", "alphb")
        XCTAssertNotEqual(base, try fingerprint(["--input", "a.txt"], in: sandbox))

        // A stage folder is identified by its manifest file: rewriting the manifest makes downstream stale.
        try sandbox.write("stages/up/manifest.json", #"{"finished": "1"}"#)
        let upstream = try fingerprint(["--input", "stages/up"], in: sandbox)
        try sandbox.write("stages/up/manifest.json", #"{"finished": "2"}"#)
        XCTAssertNotEqual(upstream, try fingerprint(["--input", "stages/up"], in: sandbox))
        let identity = try InputIdentity.of(path: "stages/up", option: "input", base: sandbox.url, cache: FileHashCache(url: nil))
        XCTAssertEqual(identity.kind, .stage)
        XCTAssertEqual(identity.sha256, SHA256Hex.of(Array(#"{"finished": "2"}"#.utf8)))

        // A plain folder (a model) by its files' relative paths and contents.
        try sandbox.write("model/config.json", "{}")
        try sandbox.write("model/weights.bin", "0123")
        let model = try fingerprint(["--vocab", "model"], in: sandbox)
        try sandbox.write("model/weights.bin", "0124")
        XCTAssertNotEqual(model, try fingerprint(["--vocab", "model"], in: sandbox))
        try FileManager.default.moveItem(at: sandbox.path("model/weights.bin"), to: sandbox.path("model/weights2.bin"))
        XCTAssertNotEqual(model, try fingerprint(["--vocab", "model"], in: sandbox))

        XCTAssertThrowsError(try fingerprint(["--input", "missing.txt"], in: sandbox)) { error in
            XCTAssertEqual("\(error)", "missing.txt: no such file or folder (input --input)")
        }
    }

    /// The cache answers for a file whose size, mtime and inode are unchanged, and rehashes otherwise.
    func testHashCacheReusesAndInvalidates() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let file = sandbox.path("big.bin")
        try Data(repeating: 7, count: FileHashCache.minimumCachedSize).write(to: file)
        let cacheURL = sandbox.path("cache/hashes.json")
        let real = try FileHashCache(url: cacheURL).sha256(ofFile: file.path)
        XCTAssertEqual(real, try SHA256Hex.ofFile(atPath: file.path))

        let first = FileHashCache(url: cacheURL)
        _ = try first.sha256(ofFile: file.path)
        first.save()
        // Plant a recognizable hash in the saved entry: a later lookup must return it without reading the file.
        var entries = try JSONDecoder().decode([String: FileHashCache.Entry].self, from: Data(contentsOf: cacheURL))
        let key = file.standardizedFileURL.path
        XCTAssertNotNil(entries[key])
        entries[key]!.sha256 = "planted"
        try JSONEncoder().encode(entries).write(to: cacheURL)
        XCTAssertEqual(try FileHashCache(url: cacheURL).sha256(ofFile: file.path), "planted")

        // Changing the file (size and mtime) makes the entry stale.
        try Data(repeating: 8, count: FileHashCache.minimumCachedSize + 1).write(to: file)
        XCTAssertEqual(try FileHashCache(url: cacheURL).sha256(ofFile: file.path), try SHA256Hex.ofFile(atPath: file.path))

        XCTAssertNil(FileHashCache.standard(environment: ["LETHE_HASH_CACHE": "off"]).url)
        XCTAssertEqual(FileHashCache.standard(environment: ["XDG_CACHE_HOME": "/c"]).url?.path, "/c/lethe/file-hashes.json")
    }

    func testExplainSaysWhatChanged() {
        let manifest = StageManifest(
            version: 1, stage: "encode", fingerprint: "old", executable: .init(name: "lethe-x", version: "0.1.0", format: 1),
            parameters: ["chunk-size": ["64"], "lower": []],
            inputs: ["input": [InputIdentity(path: "stages/tokenize", kind: .stage, sha256: "a")]],
            shards: [], files: [], totals: .init(shards: 0, samples: 0, bytes: 0), started: "", finished: "", extra: [:])
        let reasons = Explain.differences(recorded: manifest, description: description,
                                          parameters: ["chunk-size": ["128"], "seed": ["1"]],
                                          inputs: ["input": [InputIdentity(path: "stages/tokenize", kind: .stage, sha256: "b")]])
        XCTAssertEqual(reasons, ["parameter --chunk-size changed 64 -> 128", "parameter --lower removed",
                                 "parameter --seed added (1)", "input stages/tokenize was rebuilt"])
    }
}
