import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// The runner and a real stage executable (lethe-test-stage, built on the harness), end to end.
final class RunnerTests: XCTestCase {
    func pipeline(scale: Int = 3, mapParams: String = "") -> String {
        """
        {"version": 1, "stages": {
          "gen": {"run": "lethe-test-stage", "files": {"offset-file": "data/offset.txt"}, "params": {"samples": 30, "shard-size": 8}},
          "map": {"run": "lethe-test-stage", "inputs": {"input": "gen"}, "params": {"scale": \(scale), "write-summary": true\(mapParams)}}
        }}
        """
    }

    func makeSandbox(_ name: String = #function) throws -> Sandbox {
        let sandbox = try Sandbox(name)
        try sandbox.write("data/offset.txt", "12345")
        try sandbox.write("pipeline.json", pipeline())
        return sandbox
    }

    func lethe(_ arguments: String..., in sandbox: Sandbox) throws -> CommandResult {
        try runProduct("lethe", arguments, in: sandbox.url)
    }

    func testRunSkipsCurrentStagesAndExplainsWhy() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        var result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("== gen: running lethe-test-stage (output missing)"), result.output)
        XCTAssertTrue(result.output.contains("== map: running lethe-test-stage (input stage gen is rebuilt first)"), result.output)
        let log = try String(contentsOf: sandbox.path("stages/map/log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("map: complete: 4 shards, 30 samples, 1 file in stages/map"), log)
        let summary = try JSONValue.read(contentsOf: sandbox.path("stages/map/summary.json"))
        XCTAssertEqual(summary["tokens"], try JSONValue.read(contentsOf: sandbox.path("stages/map/manifest.json"))["extra"]?["tokens"])
        let genDigests = try sandbox.outputDigests("stages/gen")

        result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.output, "Nothing to do: all 2 stages are up to date.\n")

        // A parameter change: the dry run says why and changes nothing; the run redoes only that stage.
        try sandbox.write("pipeline.json", pipeline(scale: 4))
        let manifestBefore = try SHA256Hex.ofFile(atPath: sandbox.path("stages/map/manifest.json").path)
        result = try lethe("run", "--dry-run", in: sandbox)
        XCTAssertEqual(result.output, """
            gen             up to date
            map             run: parameter --scale changed 3 -> 4
            1 of 2 stages would run.

            """)
        XCTAssertEqual(try SHA256Hex.ofFile(atPath: sandbox.path("stages/map/manifest.json").path), manifestBefore)
        result = try lethe("run", in: sandbox)
        XCTAssertFalse(result.output.contains("== gen"), result.output)
        XCTAssertTrue(result.output.contains("== map: running lethe-test-stage (parameter --scale changed 3 -> 4)"), result.output)

        // --stage reruns one stage and leaves the stages after it stale.
        result = try lethe("run", "--stage", "gen", in: sandbox)
        XCTAssertTrue(result.output.contains("== gen: running lethe-test-stage (requested with --stage)"), result.output)
        XCTAssertFalse(result.output.contains("== map"), result.output)
        XCTAssertTrue(result.output.contains("Now stale (downstream of gen): map"), result.output)
        XCTAssertEqual(try sandbox.outputDigests("stages/gen"), genDigests, "a rerun writes the same shards")
        result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("map             stale: input stages/gen was rebuilt"), result.output)
        XCTAssertTrue(result.output.hasPrefix("gen             up to date: 4 shards, 30 samples, 0 files, finished "), result.output)
        result = try lethe("run", in: sandbox)
        XCTAssertTrue(result.output.contains("== map: running lethe-test-stage (input stages/gen was rebuilt)"), result.output)

        // A changed input file.
        try sandbox.write("data/offset.txt", "123456")
        result = try lethe("run", "--dry-run", in: sandbox)
        XCTAssertTrue(result.output.contains("gen             run: input file data/offset.txt changed"), result.output)
        XCTAssertTrue(result.output.contains("map             run: input stage gen is rebuilt first"), result.output)

        // --force reruns everything; a missing output is noticed.
        result = try lethe("run", "--force", in: sandbox)
        XCTAssertTrue(result.output.contains("forced with --force"), result.output)
        try FileManager.default.removeItem(at: sandbox.path("stages/map/shard-000002.tar.zst"))
        result = try lethe("run", "--dry-run", in: sandbox)
        XCTAssertTrue(result.output.contains("map             run: output damaged: \(sandbox.path("stages/map").path)/shard-000002.tar.zst: missing"), result.output)
    }

    /// `--stage` on a fresh checkout: the stages outside the selection have no folders yet, and the stages
    /// reading them are reported stale rather than fingerprinted; but a file missing from any of them, even one
    /// after a stage still to run, stops a whole run before it starts anything.
    func testStageSelectedBeforeItsSiblingsExist() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipeline.json", """
            {"version": 1, "stages": {
              "a": {"run": "lethe-test-stage", "params": {"samples": 4}},
              "b": {"run": "lethe-test-stage", "params": {"samples": 5}},
              "both": {"run": "lethe-test-stage", "inputs": {"input": ["a", "b"]}},
              "later": {"run": "lethe-test-stage", "inputs": {"input": "b"}, "files": {"offset-file": "data/not-yet.txt"}}
            }}
            """)
        var result = try lethe("run", "--stage", "a", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("== a: running lethe-test-stage (output missing; requested with --stage)"), result.output)
        XCTAssertFalse(result.output.contains("== b"), result.output)
        result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("b               stale: output missing"), result.output)
        XCTAssertTrue(result.output.contains("both            stale: input stage b is rebuilt first"), result.output)
        let missing = "pipeline.json: stages.later.files.offset-file: data/not-yet.txt: no such file or folder"
        XCTAssertTrue(result.output.contains("later           stale: cannot run: \(missing)"), result.output)
        // A whole run, its dry run and validate check every stage's files before anything starts.
        for command in [["run"], ["run", "--dry-run"], ["validate"]] {
            result = try runProduct("lethe", command, in: sandbox.url)
            XCTAssertEqual(result.status, 1, "\(command)")
            XCTAssertEqual(result.error, "lethe: \(missing)\n", "\(command)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("stages/b").path))
        try sandbox.write("data/not-yet.txt", "7")
        result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertFalse(result.output.contains("== a"), result.output)
        XCTAssertTrue(result.output.contains("== both: running"), result.output)
        XCTAssertTrue(result.output.contains("== later: running"), result.output)
    }

    /// kill -9 in the middle of a stage, then a rerun: the result is byte-identical to an uninterrupted run.
    func testStageKilledMidwayResumesToIdenticalOutput() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        let arguments = ["--samples", "40", "--shard-size", "4", "--progress", "off"]
        let reference = try runProduct("lethe-test-stage", arguments + ["--output", "reference"], in: sandbox.url)
        XCTAssertEqual(reference.status, 0, reference.error)

        let victim = try startProduct("lethe-test-stage", arguments + ["--output", "victim", "--delay-ms", "25", "--threads", "1"], in: sandbox.url)
        let folder = StageFolder(url: sandbox.path("victim"))
        XCTAssertTrue(waitUntil(seconds: 30) { folder.recordedUnits().count >= 3 }, "the stage never got going")
        kill(victim.process.processIdentifier, SIGKILL)
        victim.process.waitUntilExit()
        XCTAssertEqual(victim.process.terminationReason, .uncaughtSignal)

        // Whatever the kill interrupted, a unit that counts as done has a complete, readable shard.
        XCTAssertNil(try folder.manifest())
        let fingerprint = try XCTUnwrap(folder.record(unit: 0)?.fingerprint)
        let done = (0..<10).filter { folder.completedUnit($0, fingerprint: fingerprint, checkContent: true) != nil }
        XCTAssertTrue(done.count >= 3 && done.count < 10, "\(done)")
        for unit in done { XCTAssertEqual(try ShardReader.readAll(folder.shardURL(unit: unit)).count, 4) }

        let resumed = try runProduct("lethe-test-stage", arguments.dropLast(2) + ["--progress", "lines", "--output", "victim"], in: sandbox.url)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.error.contains("victim: \(10 - done.count) of 10 units to do (\(done.count) already done, 10 in all)"), resumed.error)
        XCTAssertEqual(try sandbox.outputDigests("victim"), try sandbox.outputDigests("reference"))
        XCTAssertEqual(try folder.manifest()?.shards, try StageFolder(url: sandbox.path("reference")).manifest()?.shards)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.contains(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testParallelJobsWriteWhatOneProcessWrites() throws {
        let one = try makeSandbox("jobs-one"), three = try makeSandbox("jobs-three")
        defer { one.cleanUp(); three.cleanUp() }
        XCTAssertEqual(try lethe("run", in: one).status, 0)
        let result = try lethe("run", "--jobs", "3", in: three)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("[map 3/3] map: worker 3/3: 1 of 1 units to do"), result.output)
        for stage in ["stages/gen", "stages/map"] {
            XCTAssertEqual(try three.outputDigests(stage), try one.outputDigests(stage), stage)
            XCTAssertEqual(try StageFolder(url: three.path(stage)).manifest()?.shards,
                           try StageFolder(url: one.path(stage)).manifest()?.shards)
        }
        // (map's fingerprints differ: its input is identified by gen's manifest, which records when gen ran.)
        XCTAssertEqual(try StageFolder(url: three.path("stages/gen")).manifest()?.fingerprint,
                       try StageFolder(url: one.path("stages/gen")).manifest()?.fingerprint)
    }

    /// Each process of a stage records its peak memory and CPU time; the runner's "done" line and `lethe status` give
    /// the largest peak and the total CPU time; a rerun replaces the records of the last run.
    func testStagesRecordTheirPeakMemoryAndCPUTime() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        var result = try lethe("run", "--jobs", "3", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        let folder = StageFolder(url: sandbox.path("stages/map"))
        let records = try (0..<3).map { worker in
            try JSONDecoder().decode(ResourceUsage.self, from: Data(contentsOf: folder.resourceFile(worker: "\(worker)")))
        }
        for record in records {
            XCTAssert(record.peakMemoryMB > 1 && record.peakMemoryMB < 4096, "\(record)")
            XCTAssert(record.cpuSeconds >= 0 && record.cpuSeconds < 600, "\(record)")
        }
        let summary = try XCTUnwrap(folder.resourceSummary())
        XCTAssertEqual(summary.peakMemoryMB, records.map(\.peakMemoryMB).max())
        XCTAssertEqual(summary.cpuSeconds, records.map(\.cpuSeconds).reduce(0, +), accuracy: 1e-9)
        XCTAssertEqual(summary.processes, 3)
        XCTAssertTrue(summary.description.hasPrefix("peak memory \(Int(summary.peakMemoryMB.rounded())) MB (the largest of 3 processes), CPU "),
                      summary.description)
        XCTAssertTrue(result.output.contains("== map: done in "), result.output)
        XCTAssertTrue(result.output.contains(", \(summary.description) (4 shards"), result.output)
        result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("; \(summary.description)\n"), result.output)

        // The records are not output: the manifest does not list them and they change no fingerprint.
        XCTAssertEqual(try lethe("run", in: sandbox).output, "Nothing to do: all 2 stages are up to date.\n")
        // A rerun as one process leaves one record.
        result = try lethe("run", "--force", "--stage", "map", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(try XCTUnwrap(folder.resourceSummary()).processes, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.resourceFile(worker: "1").path))
    }

    func testFailingStageStopsTheRunWithOneLine() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipeline.json", pipeline(mapParams: #", "fail-on-unit": 1"#))
        let result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error, "lethe: stage map failed (map: lethe-test-stage exited with status 1); see stages/map/log.txt\n")
        let log = try String(contentsOf: sandbox.path("stages/map/log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("lethe-test-stage: injected failure in unit 1\n"), log)
        XCTAssertNotNil(try StageFolder(url: sandbox.path("stages/gen")).manifest(), "the stage before stays complete")
    }

    func testStageRunDirectlyRefusesToClobberAndReportsCorruptInput() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        XCTAssertEqual(try runProduct("lethe-test-stage", ["--output", "out", "--samples", "10", "--progress", "off"], in: sandbox.url).status, 0)
        let digests = try sandbox.outputDigests("out")
        var result = try runProduct("lethe-test-stage", ["--output", "out", "--samples", "12"], in: sandbox.url)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error, "lethe-test-stage: out: holds the output of a different configuration (parameter --samples changed 10 -> 12); pass --force to replace it\n")
        XCTAssertEqual(try sandbox.outputDigests("out"), digests)

        // A shard damaged in place (same size, so only reading finds it) gives one line naming it.
        let shard = sandbox.path("out/shard-000001.tar.zst")
        var bytes = try [UInt8](Data(contentsOf: shard))
        for i in stride(from: 20, to: bytes.count - 8, by: 7) { bytes[i] ^= 0xA5 }
        try Data(bytes).write(to: shard)
        result = try runProduct("lethe-test-stage", ["--output", "mapped", "--input", "out", "--progress", "off"], in: sandbox.url)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.hasPrefix("lethe-test-stage: \(shard.path): "), result.error)
        XCTAssertEqual(result.error.filter { $0 == "\n" }.count, 1, result.error)
        XCTAssertNil(try StageFolder(url: sandbox.path("mapped")).manifest())

        result = try runProduct("lethe-test-stage", ["--output", "x", "--input", "nowhere"], in: sandbox.url)
        XCTAssertEqual(result.error, "lethe-test-stage: nowhere: no such file or folder (input --input)\n")

        // A stage that fails before writing anything leaves no folder behind; one with finished units keeps them.
        let failing = ["--fail-on-unit", "0", "--threads", "1", "--progress", "off"]
        result = try runProduct("lethe-test-stage", ["--output", "failed/early"] + failing, in: sandbox.url)
        XCTAssertEqual(result.error, "lethe-test-stage: injected failure in unit 0\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("failed/early").path))
        result = try runProduct("lethe-test-stage", ["--output", "failed/later", "--shard-size", "4", "--fail-on-unit", "2", "--threads", "1"], in: sandbox.url)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(StageFolder(url: sandbox.path("failed/later")).recordedUnits(), [0, 1])
    }

    /// `--lethe-describe` lists the executable's options and flags as its parser has them (not a hand-kept list).
    func testDescriptionListsTheCommandLine() throws {
        let described = try runProduct("lethe-test-stage", [StageDescription.flag], in: FileManager.default.temporaryDirectory)
        let description = try JSONDecoder().decode(StageDescription.self, from: Data(described.output.utf8))
        XCTAssertEqual(description.options, ["delay-ms", "fail-on-unit", "input", "num-shards", "offset-file", "output", "progress",
                                             "samples", "scale", "shard-index", "shard-size", "stage", "threads"])
        XCTAssertEqual(description.flags, ["force", "write-summary"])
        XCTAssertEqual(description.repeatable, ["input"])
        let tokenize = try runProduct("lethe-tokenize", [StageDescription.flag], in: FileManager.default.temporaryDirectory)
        XCTAssertEqual(try JSONDecoder().decode(StageDescription.self, from: Data(tokenize.output.utf8)).repeatable, ["chunk-size", "input"])
        // Only the shard-parallel stages take the worker options (their --help offers them; train's and report's not).
        for (executable, parallel) in [("lethe-encode", true), ("lethe-count", true), ("lethe-train", false), ("lethe-report", false)] {
            let output = try runProduct(executable, [StageDescription.flag], in: FileManager.default.temporaryDirectory).output
            let described = try JSONDecoder().decode(StageDescription.self, from: Data(output.utf8))
            XCTAssertEqual(described.parallel, parallel, executable)
            XCTAssertEqual(described.options?.contains("num-shards"), parallel, executable)
            XCTAssertEqual(described.options?.contains("shard-index"), parallel, executable)
        }
    }

    func testBadPipelinesAndExecutablesGiveClearErrors() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        let cases: [(String, String)] = [
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "parms": {}}}}"#,
             #"lethe: pipeline.json: stages.a: unknown key "parms" (did you mean "params"?) (allowed: run, inputs, files, params, output, resources, description)"#),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-no-such-stage"}}}"#,
             "lethe: pipeline.json: stages.a.run: lethe-no-such-stage: executable not found (looked next to lethe in \(productsFolder.path) and on PATH)"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"offset-file": "data/offset.txt"}}}}"#,
             #"lethe: pipeline.json: stages.a.params.offset-file: --offset-file is an input of lethe-test-stage; list it under "files" (a path) or "inputs" (a stage)"#),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "files": {"samples": "data/offset.txt"}}}}"#,
             #"lethe: pipeline.json: stages.a.files.samples: lethe-test-stage has no input option --samples (its inputs: --input, --offset-file); other options go under "params""#),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"sampels": 30}}}}"#,
             #"lethe: pipeline.json: stages.a.params.sampels: lethe-test-stage has no option --sampels (did you mean "samples"?) (see lethe-test-stage --help)"#),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"write-summary": "yes"}}}}"#,
             "lethe: pipeline.json: stages.a.params.write-summary: --write-summary is a flag of lethe-test-stage; give true or false"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"scale": true}}}}"#,
             "lethe: pipeline.json: stages.a.params.scale: --scale of lethe-test-stage takes a value, not true or false"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"samples": [3, 4]}}}}"#,
             "lethe: pipeline.json: stages.a.params.samples: --samples of lethe-test-stage takes one value, not 2"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "files": {"offset-file": ["data/offset.txt", "data/offset.txt"]}}}}"#,
             "lethe: pipeline.json: stages.a.files.offset-file: --offset-file of lethe-test-stage takes one path, not 2"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage"}, "r": {"run": "lethe-reconstruct", "inputs": {"model": ["a", "a"]}}}}"#,
             "lethe: pipeline.json: stages.r.inputs.model: --model of lethe-reconstruct takes one stage, not 2"),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-train", "params": {"shuffle": false}}}}"#,
             #"lethe: pipeline.json: stages.a.params.shuffle: false leaves --shuffle out, which keeps its default; to turn it off give "no-shuffle": true"#),
            (#"{"version": 1, "stages": {"a": {"run": "lethe-test-stage", "params": {"scale": "three"}}}}"#,
             "lethe: pipeline.json: stages.a: lethe-test-stage refuses its options: The value 'three' is invalid for '--scale <scale>'"),
            (#"{"version": 1, "stages": {"a": {"run": "/bin/true"}}}"#,
             "lethe: pipeline.json: stages.a.run: /bin/true: is not a Lethe stage executable (it does not answer --lethe-describe)"),
        ]
        for (text, message) in cases {
            try sandbox.write("pipeline.json", text)
            let result = try lethe("run", in: sandbox)
            XCTAssertEqual(result.status, 1, text)
            XCTAssertEqual(result.error, message + "\n", text)
        }
        // A typo in the last stage's params, or a value its executable refuses, stops the run before the first
        // stage starts.
        try sandbox.write("pipeline.json", pipeline(mapParams: #", "scael": 2"#))
        var result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.error, #"lethe: pipeline.json: stages.map.params.scael: lethe-test-stage has no option --scael (did you mean "scale"?) (see lethe-test-stage --help)"# + "\n")
        try sandbox.write("pipeline.json", pipeline().replacingOccurrences(of: #""scale": 3"#, with: #""scale": 2.5"#))
        result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.error, "lethe: pipeline.json: stages.map: lethe-test-stage refuses its options: The value '2.5' is invalid for '--scale <scale>'\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("stages/gen").path))
        // Only the runs that include the stage: the stage before it runs alone, status and validate name the problem.
        result = try lethe("run", "--stage", "gen", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("== gen: running"), result.output)
        result = try lethe("status", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        let refused = "pipeline.json: stages.map: lethe-test-stage refuses its options: The value '2.5' is invalid for '--scale <scale>'"
        XCTAssertTrue(result.output.contains("gen             up to date: "), result.output)
        XCTAssertTrue(result.output.contains("map             stale: cannot run: \(refused)\n"), result.output)
        for command in [["run"], ["run", "--stage", "map"], ["validate"]] {
            result = try runProduct("lethe", command, in: sandbox.url)
            XCTAssertEqual(result.status, 1, "\(command)")
            XCTAssertEqual(result.error, "lethe: \(refused)\n", "\(command)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("stages/map").path))
        try sandbox.write("pipeline.json", pipeline())
        result = try lethe("run", "--stage", "mapp", in: sandbox)
        XCTAssertEqual(result.error, #"lethe: pipeline.json: no stage named "mapp" (did you mean "map"?) (stages: gen, map)"# + "\n")
        XCTAssertEqual(try lethe("run", "missing.json", in: sandbox).error, "lethe: \(sandbox.path("missing.json").path): no such pipeline file\n")
    }

    func testInspectAndValidate() throws {
        let sandbox = try makeSandbox()
        defer { sandbox.cleanUp() }
        XCTAssertEqual(try lethe("run", in: sandbox).status, 0)
        var result = try lethe("inspect", "stages/map/shard-000000.tar.zst", "--samples", "1", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        let lines = result.output.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasSuffix("stages/map/shard-000000.tar.zst: 8 samples, 24 members, \(Inspect.formatBytes(DurableFile.size(ofFile: sandbox.path("stages/map/shard-000000.tar.zst").path)!))"), lines[0])
        XCTAssertEqual(Array(lines[1...]), [
            "sample 0: doc000000",
            #"  json        {"dataset":"test","document":0,"scaled_by":3,"words":["w5","w12","w19","w26"]}"#,
            "  tokens.npy  int32 [4]  15 36 57 78",
            "  values.npy  float32 [4]  7.5 18 28.5 39",
            "... 7 more samples (--samples N shows more)",
        ])
        result = try lethe("inspect", "stages/gen", in: sandbox)
        XCTAssertTrue(result.output.contains("stage gen, complete"), result.output)
        XCTAssertTrue(result.output.contains("  parameters   --samples 30 --shard-size 8\n"), result.output)
        XCTAssertTrue(result.output.contains("  input        --offset-file data/offset.txt (file \(SHA256Hex.of(Array("12345".utf8)).prefix(12)))\n"), result.output)
        XCTAssertTrue(result.output.contains("  shards       4 with 30 samples"), result.output)

        result = try lethe("inspect", "data", in: sandbox)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error, "lethe: \(sandbox.path("data").path): not a stage folder, or a stage that has not finished a shard yet (no manifest.json)\n")

        result = try lethe("validate", in: sandbox)
        XCTAssertEqual(result.output, "pipeline.json is valid: 2 stages; the files of 2 completed stages match their manifests (sha256).\n", result.error)
        let shard = sandbox.path("stages/gen/shard-000003.tar.zst")
        var bytes = try [UInt8](Data(contentsOf: shard))
        bytes[bytes.count - 1] ^= 1
        try Data(bytes).write(to: shard)
        result = try lethe("validate", in: sandbox)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error, "lethe: \(shard.path): sha256 differs from the manifest\n")
        // A shard cut short: inspect says the folder is damaged, not complete.
        try Data(bytes.prefix(bytes.count / 2)).write(to: shard)
        result = try lethe("inspect", "stages/gen", in: sandbox)
        XCTAssertTrue(result.output.hasPrefix("\(sandbox.path("stages/gen").path): stage gen, damaged: \(shard.path): "), result.output)
    }
}
