import Foundation
import XCTest
@testable import LetheCLI
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// `arguments` as a shard-parallel stage executable parses them: --shard-index and --num-shards (with their values)
/// into WorkerOptions, the rest into StageOptions.
func parseStageOptions(_ arguments: [String]) throws -> (StageOptions, WorkerOptions) {
    var shared: [String] = [], worker: [String] = []
    var i = 0
    while i < arguments.count {
        if ["--shard-index", "--num-shards"].contains(arguments[i]) {
            worker += arguments[i ..< min(i + 2, arguments.count)]
            i += 2
        } else {
            shared.append(arguments[i])
            i += 1
        }
    }
    return (try StageOptions.parse(shared), try WorkerOptions.parse(worker))
}

/// The stage harness in-process: units, workers, resume, clobber protection, manifests.
final class HarnessTests: XCTestCase {
    let description = StageDescription.stage("lethe-unit-test", format: 1, inputs: ["input"])

    /// A StageRun for `--output OUTPUT` plus `stageOptions` (shared options) and `parameters` (the stage's own).
    func stageRun(_ output: String, _ stageOptions: [String] = [], parameters: [String] = [], in sandbox: Sandbox) throws -> StageRun {
        let shared = ["--output", output, "--progress", "off"] + stageOptions
        let (options, workers) = try parseStageOptions(shared)
        return try StageRun(description: description, options: options, workers: workers, arguments: shared + parameters,
                            base: sandbox.url, cache: FileHashCache(url: nil))
    }

    /// Unit j: three samples whose tokens depend on j and on `scale`.
    func generate(scale: Int32 = 1, calls: Calls? = nil) -> (Int, ShardWriter) throws -> JSONValue {
        return { unit, writer in
            calls?.add(unit)
            for k in 0..<3 {
                var sample = ShardSample(key: "u\(unit)-\(k)")
                sample.set("tokens", npy: NPYArray(int32: [Int32(unit), Int32(k)].map { $0 * scale }, shape: [2]))
                sample.setJSON(["unit": .int(unit)])
                try writer.append(sample)
            }
            return ["samples": 3, "kind": "generated"]
        }
    }

    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var units: [Int] = []
        func add(_ unit: Int) { lock.lock(); units.append(unit); lock.unlock() }
        var sorted: [Int] { lock.lock(); defer { lock.unlock() }; return units.sorted() }
    }

    func testWorkersTogetherWriteWhatOneProcessWrites() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("one", in: sandbox).runUnits(count: 7, work: generate())
        let single = try XCTUnwrap(StageFolder(url: sandbox.path("one")).manifest())
        XCTAssertEqual(single.totals, .init(shards: 7, samples: 21, bytes: single.shards.reduce(0) { $0 + $1.bytes }))
        XCTAssertEqual(single.extra, ["samples": 21, "kind": "generated"])
        XCTAssertEqual(single.stage, "one")

        for worker in 0..<3 {
            let run = try stageRun("three", ["--shard-index", "\(worker)", "--num-shards", "3", "--stage", "one"], in: sandbox)
            XCTAssertEqual(run.fingerprint, try stageRun("x", in: sandbox).fingerprint)
            let calls = Calls()
            try run.runUnits(count: 7, concurrency: 2, work: generate(calls: calls))
            XCTAssertEqual(calls.sorted, Array(stride(from: worker, to: 7, by: 3)))
            // Only the worker that completes the last unit writes the manifest.
            XCTAssertEqual(FileManager.default.fileExists(atPath: sandbox.path("three/manifest.json").path), worker == 2)
        }
        let sharded = try XCTUnwrap(StageFolder(url: sandbox.path("three")).manifest())
        XCTAssertEqual(sharded.shards, single.shards)
        XCTAssertEqual(sharded.fingerprint, single.fingerprint)
        XCTAssertEqual(try sandbox.outputDigests("three"), try sandbox.outputDigests("one"))
    }

    func testResumeSkipsDoneUnitsAndRedoesBrokenOnes() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("out", in: sandbox).runUnits(count: 5, work: generate())
        let digests = try sandbox.outputDigests("out")
        let folder = StageFolder(url: sandbox.path("out"))

        // Up to date: nothing is redone.
        let none = Calls()
        let current = try stageRun("out", in: sandbox)
        XCTAssertTrue(current.isUpToDate)
        try current.runUnits(count: 5, work: generate(calls: none))
        XCTAssertEqual(none.sorted, [])

        // A crash between a shard's rename and its record; a shard damaged in place (same size); a
        // leftover temporary shard; and no manifest: units 1 and 3 are redone, nothing else.
        try FileManager.default.removeItem(at: folder.recordURL(unit: 1))
        var bytes = try [UInt8](Data(contentsOf: folder.shardURL(unit: 3)))
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: folder.shardURL(unit: 3))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder.shardURL(unit: 4).path + ".tmp.99999"))
        try FileManager.default.removeItem(at: folder.manifestURL)
        let redo = Calls()
        try stageRun("out", in: sandbox).runUnits(count: 5, work: generate(calls: redo))
        XCTAssertEqual(redo.sorted, [1, 3])
        XCTAssertEqual(try sandbox.outputDigests("out"), digests)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.shardURL(unit: 4).path + ".tmp.99999"))
    }

    func testOutputOfAnotherConfigurationNeedsForce() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("out", parameters: ["--scale", "2"], in: sandbox).runUnits(count: 5, work: generate(scale: 2))
        let digests = try sandbox.outputDigests("out")
        XCTAssertThrowsError(try stageRun("out", parameters: ["--scale", "3"], in: sandbox)) { error in
            XCTAssertEqual("\(error)", "out: holds the output of a different configuration (parameter --scale changed 2 -> 3); pass --force to replace it")
        }
        XCTAssertEqual(try sandbox.outputDigests("out"), digests, "refusing must leave the output alone")

        // With --force, everything is redone under the new fingerprint; surplus units of the old run go.
        let calls = Calls()
        try stageRun("out", ["--force"], parameters: ["--scale", "3"], in: sandbox).runUnits(count: 3, work: generate(scale: 3, calls: calls))
        XCTAssertEqual(calls.sorted, [0, 1, 2])
        let manifest = try XCTUnwrap(StageFolder(url: sandbox.path("out")).manifest())
        XCTAssertEqual(manifest.parameters, ["scale": ["3"]])
        XCTAssertEqual(Set(try sandbox.outputDigests("out").keys), ["shard-000000.tar.zst", "shard-000001.tar.zst", "shard-000002.tar.zst"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("out/shard-000004.json").path))
    }

    func testFailingUnitStopsTheRunAndLeavesNoShard() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        XCTAssertThrowsError(try stageRun("out", parameters: ["--scale", "2"], in: sandbox).runUnits(count: 4, work: { unit, writer in
            if unit == 2 { throw StageError("boom") }
            return try self.generate(scale: 2)(unit, writer)
        })) { error in XCTAssertEqual("\(error)", "boom") }
        let folder = StageFolder(url: sandbox.path("out"))
        XCTAssertNil(try folder.manifest())
        XCTAssertEqual(folder.recordedUnits(), [0, 1])
        XCTAssertNil(DurableFile.size(ofFile: folder.shardURL(unit: 2).path))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).contains { $0.contains(".tmp") })

        XCTAssertThrowsError(try stageRun("out", parameters: ["--scale", "5"], in: sandbox)) { error in
            XCTAssertEqual("\(error)", "out: holds partial output of a different configuration (2 shards); pass --force to replace it")
        }
        // The same configuration resumes without --force.
        let calls = Calls()
        try stageRun("out", parameters: ["--scale", "2"], in: sandbox).runUnits(count: 4, work: generate(scale: 2, calls: calls))
        XCTAssertEqual(calls.sorted, [2, 3])
    }

    func testOutputMayNotOverlapAnInput() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("stages/up", in: sandbox).runUnits(count: 1, work: generate())
        for output in ["stages/up", "stages/up/inner", "stages"] {
            XCTAssertThrowsError(try stageRun(output, parameters: ["--input", "stages/up"], in: sandbox), output) { error in
                XCTAssertEqual("\(error)", "\(output): the output folder overlaps input --input stages/up; a stage never writes into its inputs")
            }
        }
    }

    func testMapStageAndExtraFiles() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("stages/up", in: sandbox).runUnits(count: 3, work: generate())
        let run = try stageRun("stages/down", parameters: ["--input", "stages/up"], in: sandbox)
        try runMapStage(run, inputs: [sandbox.path("stages/up").path]) { _ in MapWork(finalize: { files in
            try files.write(Array("counts\n".utf8), to: "counts/total.txt")
        }) { reader, writer in
            var count = 0
            while var sample = try reader.next() {
                sample.setJSON(try sample.json().merging(["mapped": true]))
                try writer.append(sample)
                count += 1
            }
            return ["mapped": .int(count)]
        } }
        let manifest = try XCTUnwrap(StageFolder(url: sandbox.path("stages/down")).manifest())
        XCTAssertEqual(manifest.totals.samples, 9)
        XCTAssertEqual(manifest.extra, ["mapped": 9])
        XCTAssertEqual(manifest.files, [FileRecord(name: "counts/total.txt", bytes: 7, sha256: SHA256Hex.of(Array("counts\n".utf8)))])
        XCTAssertEqual(manifest.inputs["input"]?.first?.kind, .stage)
        let samples = try ShardReader.readAll(sandbox.path("stages/down/shard-000002.tar.zst"))
        XCTAssertEqual(try samples.map { try $0.json() }, [["unit": 2, "mapped": true], ["unit": 2, "mapped": true], ["unit": 2, "mapped": true]])

        XCTAssertThrowsError(try StageInput(path: "stages/none", base: sandbox.url)) { error in
            XCTAssertEqual("\(error)", "stages/none: no such stage folder")
        }
        try FileManager.default.createDirectory(at: sandbox.path("stages/half"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try StageInput(path: "stages/half", base: sandbox.url)) { error in
            XCTAssertEqual("\(error)", "stages/half: no manifest.json: not a stage's output folder, or its stage has not finished; run that stage first")
        }
    }

    func testRunWholeListsItsFiles() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        var body = 0
        for _ in 0..<2 {
            try stageRun("train", in: sandbox).runWhole { files in
                body += 1
                try files.write([1, 2, 3], to: "checkpoint.bin")
                return ["steps": 10]
            }
        }
        XCTAssertEqual(body, 1, "the second run finds the output current")
        let manifest = try XCTUnwrap(StageFolder(url: sandbox.path("train")).manifest())
        XCTAssertEqual(manifest.shards, [])
        XCTAssertEqual(manifest.files.map(\.name), ["checkpoint.bin"])
        XCTAssertEqual(manifest.totals.bytes, 3)
        XCTAssertEqual(manifest.extra, ["steps": 10])
    }

    func testInvalidManifestNeedsForce() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try stageRun("out", in: sandbox).runUnits(count: 2, work: generate())
        let manifestURL = sandbox.path("out/manifest.json")
        var manifest = try JSONValue.read(contentsOf: manifestURL)
        manifest["lethe_manifest"] = 2
        try Data(manifest.bytes()).write(to: manifestURL)
        XCTAssertThrowsError(try StageFolder(url: sandbox.path("out")).manifest()) { error in
            XCTAssertEqual("\(error)", "\(manifestURL.path): manifest version 2; this lethe reads version 1")
        }
        manifest["shards"] = "none"
        try Data(manifest.bytes()).write(to: manifestURL)
        XCTAssertThrowsError(try stageRun("out", in: sandbox)) { error in
            XCTAssertEqual("\(error)", "\(manifestURL.path): invalid (wrong type at shards); pass --force to replace the output")
        }
        // With --force the units already done under this fingerprint are kept and the manifest rewritten.
        let calls = Calls()
        try stageRun("out", ["--force"], in: sandbox).runUnits(count: 2, work: generate(calls: calls))
        XCTAssertEqual(calls.sorted, [])
        XCTAssertEqual(try StageFolder(url: sandbox.path("out")).manifest()?.totals.shards, 2)
    }

    func testMergeExtras() {
        XCTAssertEqual(mergeExtras([["n": 1, "x": 0.5, "name": "a", "nested": ["k": 2]], ["n": 2, "x": 1, "name": "a", "nested": ["k": 3]]]),
                       ["n": 3, "x": 1.5, "name": "a", "nested": ["k": 5]])
        XCTAssertEqual(mergeExtras([["v": "a"], ["v": "b"]]), ["v": ["a", "b"]])
        XCTAssertEqual(mergeExtras([]), [:])
    }
}

extension JSONValue {
    func merging(_ other: JSONValue) -> JSONValue {
        var merged = self
        for (key, value) in other.objectValue ?? [:] { merged[key] = value }
        return merged
    }
}
