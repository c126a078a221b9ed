import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// `lethe run --executor slurm`, `lethe status` and `lethe cancel` against a real one-node Slurm cluster on
/// localhost (slurmctld, slurmd, munged), started once for the class and stopped afterwards. Where Slurm cannot
/// be installed the tests are skipped with the reason.
final class SlurmTests: XCTestCase {
    static var cluster: Result<SlurmCluster, SlurmCluster.Unavailable>?

    override class func setUp() {
        super.setUp()
        cluster = SlurmCluster.start()
        // lethe and the jobs it submits (sbatch passes its environment on) find the cluster through SLURM_CONF.
        if case .success(let running) = cluster { setenv("SLURM_CONF", running.configuration.path, 1) }
    }

    override class func tearDown() {
        if case .success(let running) = cluster { running.stop() }
        unsetenv("SLURM_CONF")
        cluster = nil
        super.tearDown()
    }

    var running: SlurmCluster!

    override func setUpWithError() throws {
        switch Self.cluster {
        case .success(let cluster): running = cluster
        case .failure(.skip(let reason)): throw XCTSkip(reason)
        case .failure(.failure(let problem)): XCTFail(problem); throw XCTSkip("no cluster: \(problem)")
        case nil: XCTFail("the cluster was not started"); throw XCTSkip("no cluster")
        }
    }

    /// gen (generated token shards) → map (tokens × 3), one cpu and 200 MB per task. `genParams` adds to gen's
    /// params, `mapParams` to map's; `last` adds a third stage reading map.
    func pipeline(genParams: String = "", mapParams: String = "", last: Bool = false) -> String {
        let resources = #""resources": {"cpus": 1, "memory": "200M", "time": "5"}"#
        return """
        {"version": 1, "stages": {
          "gen": {"run": "lethe-test-stage", "files": {"offset-file": "data/offset.txt"}, "params": {"samples": 40, "shard-size": 4\(genParams)}, \(resources)},
          "map": {"run": "lethe-test-stage", "inputs": {"input": "gen"}, "params": {"scale": 3, "write-summary": true\(mapParams)}, \(resources)}\(last ? ",\n  \"last\": {\"run\": \"lethe-test-stage\", \"inputs\": {\"input\": \"map\"}, \(resources)}" : "")
        }}
        """
    }

    func makeSandbox(_ name: String = #function, pipeline text: String) throws -> Sandbox {
        let sandbox = try Sandbox(name)
        try sandbox.write("data/offset.txt", "12345")
        try sandbox.write("pipeline.json", text)
        return sandbox
    }

    /// Runs lethe; a run that has not ended after two minutes (a cluster that never runs the jobs) is killed, so
    /// that the suite fails instead of hanging.
    func lethe(_ arguments: String..., in sandbox: Sandbox, minutes: Double = 2) throws -> CommandResult {
        let started = try startProduct("lethe", arguments, in: sandbox.url)
        let process = started.process
        DispatchQueue.global().asyncAfter(deadline: .now() + minutes * 60) { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        return finish(started)
    }

    func finish(_ started: StartedProcess) -> CommandResult {
        let result = started.finish()
        XCTAssertNotEqual(started.process.terminationReason, .uncaughtSignal, "lethe was killed: it took too long")
        return result
    }

    func record(_ stage: String, in sandbox: Sandbox) throws -> SlurmJobRecord {
        try XCTUnwrap(SlurmJobRecord.read(in: StageFolder(url: sandbox.path("stages/\(stage)"))), "no slurm.json for \(stage)")
    }

    func fileText(_ relative: String, in sandbox: Sandbox) throws -> String {
        try String(contentsOf: sandbox.path(relative), encoding: .utf8)
    }

    /// Output of the local run the Slurm runs must reproduce, byte for byte.
    func assertSameOutput(_ sandbox: Sandbox, asLocalRunOf text: String, stages: [String] = ["gen", "map"],
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try makeSandbox("reference", pipeline: text)
        defer { reference.cleanUp() }
        if FileManager.default.fileExists(atPath: sandbox.path("bin").path) {
            try FileManager.default.copyItem(at: sandbox.path("bin"), to: reference.path("bin"))
        }
        let result = try lethe("run", in: reference)
        XCTAssertEqual(result.status, 0, result.error, file: file, line: line)
        for stage in stages.map({ "stages/\($0)" }) {
            XCTAssertEqual(try sandbox.outputDigests(stage), try reference.outputDigests(stage), stage, file: file, line: line)
            XCTAssertEqual(try StageFolder(url: sandbox.path(stage)).manifest()?.shards,
                           try StageFolder(url: reference.path(stage)).manifest()?.shards, stage, file: file, line: line)
        }
    }

    /// Waits until Slurm lists none of `jobs` as queued or running.
    func waitUntilEnded(_ jobs: [String], seconds: Double = 60) throws {
        XCTAssertTrue(waitUntil(seconds: seconds) {
            ((try? running.command("squeue", ["--noheader", "--jobs=" + jobs.joined(separator: ",")])) ?? "x").isEmpty
        }, "jobs \(jobs) still queued or running")
    }

    /// The process of a task of a stage running in `sandbox` (its working directory is the sandbox).
    func taskProcess(shardIndex: Int, in sandbox: Sandbox) -> pid_t? {
        let stage = productsFolder.appendingPathComponent("lethe-test-stage").path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name),
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/cwd"), cwd == sandbox.url.path,
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first == stage, let i = arguments.firstIndex(of: "--shard-index"), arguments[i + 1] == "\(shardIndex)" { return pid }
        }
        return nil
    }

    // MARK: Tests

    func testSlurmRunWritesWhatALocalRunWritesWithChainedJobs() throws {
        let sandbox = try makeSandbox(pipeline: pipeline())
        defer { sandbox.cleanUp() }
        var result = try lethe("run", "--executor", "slurm", "--tasks", "3", "--wait", "--poll", "0.2", in: sandbox)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        let gen = try record("gen", in: sandbox), map = try record("map", in: sandbox)
        XCTAssertTrue(result.output.contains("== gen: submitted job \(gen.job), array of 3 tasks, each 1 cpu, 200M memory, time limit 5 (output missing)\n"), result.output)
        XCTAssertTrue(result.output.contains("== map: submitted job \(map.job), array of 3 tasks, each 1 cpu, 200M memory, time limit 5, after job \(gen.job) (input stage gen is rebuilt first)\n"), result.output)
        // Each task recorded its peak memory and CPU time (what the stage's "memory" request is sized from).
        let usage = try XCTUnwrap(StageFolder(url: sandbox.path("stages/map")).resourceSummary())
        XCTAssertEqual(usage.processes, 3)
        XCTAssertTrue(result.output.contains("== map: done on Slurm (job \(map.job), \(usage.description); 10 shards, 40 samples, 1 file)"), result.output)
        try assertSameOutput(sandbox, asLocalRunOf: pipeline())

        // Chained: map's job waited for gen's, and its first unit started after gen's manifest was written.
        XCTAssertEqual(gen.afterOK, [])
        XCTAssertEqual(map.afterOK, [gen.job])
        let genManifest = try XCTUnwrap(StageFolder(url: sandbox.path("stages/gen")).manifest())
        let mapManifest = try XCTUnwrap(StageFolder(url: sandbox.path("stages/map")).manifest())
        XCTAssertGreaterThanOrEqual(mapManifest.started, genManifest.finished)
        // Each array task did its own share, with the absolute path of the located executable, in the pipeline's folder.
        for task in 0..<3 {
            let log = try fileText("stages/gen/slurm-\(gen.job)_\(task).log", in: sandbox)
            XCTAssertTrue(log.contains("gen: worker \(task + 1)/3: \(task < 1 ? 4 : 3) of \(task < 1 ? 4 : 3) units to do (0 already done, 10 in all)"), log)
        }
        let script = try fileText("stages/map/slurm-job.sh", in: sandbox)
        XCTAssertTrue(script.contains("\n" + productsFolder.appendingPathComponent("lethe-test-stage").path
                                      + " --input stages/gen --scale 3 --write-summary --output stages/map --stage map --force --progress lines \\\n    --shard-index \"$task\" --num-shards 3 --threads 1 &\n"), script)
        XCTAssertTrue(script.contains("#SBATCH --chdir=\(sandbox.url.path)\n"), script)

        // Up to date: nothing is submitted; status shows the jobs Slurm still remembers.
        result = try lethe("run", "--executor", "slurm", in: sandbox)
        XCTAssertEqual(result.output, "Nothing to do: all 2 stages are up to date.\n")
        result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("\n                slurm job \(gen.job): 3 completed\nmap             up to date: 10 shards"), result.output)
    }

    /// A real stage whose units are found while reading (lethe-tokenize: every task reads the whole input and
    /// writes its own blocks) writes on Slurm what it writes here.
    func testTokenizeStageOnSlurmWritesWhatItWritesLocally() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = """
            {"version": 1, "stages": {"gsm8k": {"run": "lethe-tokenize",
              "files": {"input": "\(repository.path)/data/gsm8k/test.jsonl", "tokenizer": "\(repository.path)/data/tokenizer/gpt-neox-20b-tokenizer.json"},
              "params": {"text-field": "question", "chunking": "fixed", "chunk-size": 32, "documents-per-shard": 200},
              "resources": {"cpus": 1, "memory": "1G", "time": "10"}}}}
            """
        let sandbox = try makeSandbox(pipeline: text)
        defer { sandbox.cleanUp() }
        let result = try lethe("run", "--executor", "slurm", "--tasks", "3", "--wait", "--poll", "0.2", in: sandbox)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        let usage = try XCTUnwrap(StageFolder(url: sandbox.path("stages/gsm8k")).resourceSummary())
        XCTAssertTrue(result.output.contains("== gsm8k: done on Slurm (job \(try record("gsm8k", in: sandbox).job), \(usage.description); 7 shards"), result.output)
        try assertSameOutput(sandbox, asLocalRunOf: text, stages: ["gsm8k"])
    }

    /// A stage that runs as one process (as train and report do) is one job, not an array.
    func testSingleProcessStageIsOneJob() throws {
        let single = #", "whole": {"run": "bin/lethe-test-stage-single", "inputs": {"input": "map"}, "params": {"scale": 2}, "resources": {"cpus": 2, "memory": "100M", "time": "2"}}"#
        let text = pipeline().replacingOccurrences(of: "\n}}", with: single + "\n}}")
        let sandbox = try makeSandbox(pipeline: text)
        defer { sandbox.cleanUp() }
        try FileManager.default.createDirectory(at: sandbox.path("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: sandbox.path("bin/lethe-test-stage-single"),
                                                   withDestinationURL: productsFolder.appendingPathComponent("lethe-test-stage"))
        let result = try lethe("run", "--executor", "slurm", "--tasks", "2", "--wait", "--poll", "0.2", in: sandbox)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        let whole = try record("whole", in: sandbox), map = try record("map", in: sandbox)
        XCTAssertNil(whole.tasks)
        XCTAssertEqual(whole.afterOK, [map.job])
        XCTAssertTrue(result.output.contains("== whole: submitted job \(whole.job), one job, 2 cpus, 100M memory, time limit 2, after job \(map.job)"), result.output)
        let log = try fileText("stages/whole/slurm-\(whole.job).log", in: sandbox)
        XCTAssertTrue(log.hasPrefix("== lethe: stage whole, attempt 1 of 2, job \(whole.job) on "), log)
        XCTAssertTrue(log.contains("whole: 10 of 10 units to do (0 already done, 10 in all)"), log)
        let script = try fileText("stages/whole/slurm-job.sh", in: sandbox)
        XCTAssertTrue(script.contains("\n" + sandbox.path("bin/lethe-test-stage-single").path + " --input stages/map --scale 2 --output stages/whole --stage whole --force --progress lines \\\n    --threads 2 &\n"), script)
        XCTAssertFalse(script.contains("--array"), script)
        try assertSameOutput(sandbox, asLocalRunOf: text, stages: ["gen", "map", "whole"])
    }

    /// kill -9 of one task's process: the task requeues itself and its second attempt does only the missing units.
    func testTaskKilledWithSIGKILLIsRequeuedAndResumes() throws {
        let sandbox = try makeSandbox(pipeline: pipeline(genParams: #", "delay-ms": 100"#))
        defer { sandbox.cleanUp() }
        let run = try startProduct("lethe", ["run", "--executor", "slurm", "--tasks", "2", "--wait", "--poll", "0.2"], in: sandbox.url)
        let folder = StageFolder(url: sandbox.path("stages/gen"))
        let started = waitUntil(seconds: 60) { folder.recordedUnits().contains(0) }
        let pid = taskProcess(shardIndex: 0, in: sandbox)
        if let pid { kill(pid, SIGKILL) } else { run.process.terminate() }
        let result = finish(run)
        XCTAssertTrue(started, "task 0 never finished a unit")
        XCTAssertNotNil(pid, "task 0's process not found")
        XCTAssertEqual(result.status, 0, result.output + result.error)

        let gen = try record("gen", in: sandbox)
        let log = try fileText("stages/gen/slurm-\(gen.job)_0.log", in: sandbox)
        XCTAssertTrue(log.contains("== lethe: exit status 137; requeued for attempt 2\n"), log)
        let resumed = try XCTUnwrap(log.range(of: #"gen: worker 1/2: \d of 5 units to do \([1-4] already done, 10 in all\)"#, options: .regularExpression), log)
        XCTAssertTrue(log[..<resumed.lowerBound].contains("== lethe: stage gen, task 0 of 2, attempt 2 of 2"), log)
        XCTAssertTrue(try lethe("status", in: sandbox).output.contains("slurm job \(gen.job): 2 completed"))
        // The failed attempt was counted in a file that the task removed when it ended.
        let left = try FileManager.default.contentsOfDirectory(atPath: sandbox.path("stages/gen").path).filter { $0.hasSuffix(".failures") }
        XCTAssertEqual(left, [])
        try assertSameOutput(sandbox, asLocalRunOf: pipeline())
    }

    /// A task longer than its time limit (2 minutes; the stage needs about 100 s of work on one task and Slurm
    /// warns the batch shell 30 s before the limit, up to a minute earlier by its own account): the shell stops the
    /// stage and requeues the task, which resumes from its finished shards; `lethe run --wait` ends with the stage
    /// complete, without a second run, and the shards are those of a local run. Takes 2 to 4 minutes.
    func testTaskAtItsTimeLimitIsRequeuedAndResumes() throws {
        let limited = #""resources": {"cpus": 1, "memory": "200M", "time": "2"}"#
        let gen = #""gen": {"run": "lethe-test-stage", "files": {"offset-file": "data/offset.txt"}, "params": {"samples": 40, "shard-size": 4"#
        let text = #"{"version": 1, "stages": {"# + gen + #", "delay-ms": 2500}, "# + limited + "}}}"
        let sandbox = try makeSandbox(pipeline: text)
        defer { sandbox.cleanUp() }
        let result = try lethe("run", "--executor", "slurm", "--tasks", "1", "--wait", "--poll", "1", in: sandbox, minutes: 8)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        let job = try record("gen", in: sandbox).job
        let log = try fileText("stages/gen/slurm-\(job)_0.log", in: sandbox)
        XCTAssertTrue(log.contains("== lethe: the time limit is near: stopped (exit status 143) and requeued; the task resumes where it stopped\n"), log)
        XCTAssertNotNil(log.range(of: #"gen: \d+ of 10 units to do \([1-9] already done, 10 in all\)"#, options: .regularExpression), log)
        XCTAssertFalse(log.contains("attempt 2 of 2"), "a time-limit requeue is not a failed attempt: \(log)")
        XCTAssertNotNil(try StageFolder(url: sandbox.path("stages/gen")).manifest())
        try assertSameOutput(sandbox, asLocalRunOf: #"{"version": 1, "stages": {"# + gen + "}, " + limited + "}}}", stages: ["gen"])
    }

    /// scancel of one array task: the stage stays incomplete, the stage after it is cancelled, status says so,
    /// and the next run resubmits both and redoes only the missing units.
    func testCancelledTaskIsResumedByTheNextRun() throws {
        let sandbox = try makeSandbox(pipeline: pipeline(genParams: #", "delay-ms": 100"#))
        defer { sandbox.cleanUp() }
        var result = try lethe("run", "--executor", "slurm", "--tasks", "2", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        let gen = try record("gen", in: sandbox), map = try record("map", in: sandbox)
        XCTAssertTrue(result.output.hasSuffix("Submitted 2 stages to Slurm: \(gen.job) (gen), \(map.job) (map). `lethe status` shows their state, `lethe cancel` cancels them; each task logs to STAGE-FOLDER/slurm-JOB_TASK.log.\n"), result.output)

        let folder = StageFolder(url: sandbox.path("stages/gen"))
        XCTAssertTrue(waitUntil(seconds: 60) { folder.recordedUnits().contains(1) }, "task 1 never finished a unit")
        _ = try running.command("scancel", ["\(gen.job)_1"])
        try waitUntilEnded([gen.job, map.job])

        result = try lethe("status", in: sandbox)
        let done = folder.recordedUnits().count
        XCTAssertTrue((1..<10).contains(done), "\(done)")
        XCTAssertTrue(result.output.contains("gen             stale: output incomplete (\(done) of 10 shards done)\n                slurm job \(gen.job): 1 completed, 1 cancelled; task 1 CANCELLED (signal 15): stages/gen/slurm-\(gen.job)_1.log\n"), result.output)
        XCTAssertTrue(result.output.contains("map             stale: input stage gen is rebuilt first\n                slurm job \(map.job): 2 cancelled (DependencyNeverSatisfied)\n"), result.output)

        result = try lethe("run", "--executor", "slurm", "--tasks", "2", "--wait", "--poll", "0.2", in: sandbox)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        XCTAssertTrue(result.output.contains("(output incomplete (\(done) of 10 shards done))\n"), result.output)
        let again = try record("gen", in: sandbox)
        XCTAssertNotEqual(again.job, gen.job)
        let logs = try (0..<2).map { try fileText("stages/gen/slurm-\(again.job)_\($0).log", in: sandbox) }.joined()
        let redone = try XCTUnwrap(logs.firstMatch(#"units to do \((\d+) already done, 10 in all\)"#, count: 2))
        XCTAssertEqual(redone.reduce(0, +), done, logs)
        try assertSameOutput(sandbox, asLocalRunOf: pipeline())
    }

    func testStatusShowsQueuedJobsAndCancelCancelsThem() throws {
        // 40 samples at 500 ms on 2 tasks: 10 s, long enough for the commands below on a loaded machine (at 200 ms the
        // jobs once finished before `lethe cancel`, during a build beside the tests); cancelled well before that.
        let sandbox = try makeSandbox(pipeline: pipeline(genParams: #", "delay-ms": 500"#))
        defer { sandbox.cleanUp() }
        XCTAssertEqual(try lethe("run", "--executor", "slurm", "--tasks", "2", in: sandbox).status, 0)
        let gen = try record("gen", in: sandbox), map = try record("map", in: sandbox)

        var result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("map             stale: input stage gen is rebuilt first\n                slurm job \(map.job): 2 pending (Dependency)\n"), result.output)
        XCTAssertTrue(result.output.range(of: #"gen             stale: output (missing|incomplete \(\d of 10 shards done\))\n                slurm job \#(gen.job): (2 running|1 running, 1 pending|2 pending)"#, options: .regularExpression) != nil, result.output)

        // A second run, on Slurm or here, would work on the same units: refused while the jobs are queued or running.
        let refusal = "lethe: pipeline.json: Slurm jobs of stages gen, map are still queued or running (\(gen.job), \(map.job)); wait for them (`lethe status`) or cancel them (`lethe cancel`)\n"
        result = try lethe("run", "--executor", "slurm", "--force", in: sandbox)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error, refusal)
        result = try lethe("run", in: sandbox)
        XCTAssertEqual(result.error, refusal)

        result = try lethe("cancel", in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(result.output, "Cancelled job \(gen.job) (gen), job \(map.job) (map).\n")
        try waitUntilEnded([gen.job, map.job])
        XCTAssertEqual(try lethe("cancel", in: sandbox).output, "No Slurm job of pipeline.json is queued or running.\n")
        result = try lethe("status", in: sandbox)
        XCTAssertTrue(result.output.contains("slurm job \(gen.job): 2 cancelled"), result.output)
        XCTAssertTrue(result.output.contains("slurm job \(map.job): 2 cancelled"), result.output)
        XCTAssertNil(try StageFolder(url: sandbox.path("stages/gen")).manifest())
    }

    /// A task that fails is requeued once (--retries 1), fails again and is reported with its log; the stage after
    /// it never runs.
    func testFailingTaskIsRetriedThenReportedWithItsLog() throws {
        let sandbox = try makeSandbox(pipeline: pipeline(mapParams: #", "fail-on-unit": 1"#, last: true))
        defer { sandbox.cleanUp() }
        let result = try lethe("run", "--executor", "slurm", "--tasks", "2", "--retries", "1", "--wait", "--poll", "0.2", in: sandbox)
        XCTAssertEqual(result.status, 1, result.output)
        let map = try record("map", in: sandbox), last = try record("last", in: sandbox)
        XCTAssertEqual(last.afterOK, [map.job])
        XCTAssertEqual(result.error, """
            lethe: stage map failed on Slurm: task 1 of job \(map.job) FAILED (exit status 1) after 2 attempts; see stages/map/slurm-\(map.job)_1.log
            lethe: stage last did not run: job \(last.job) was cancelled because a stage it reads failed

            """)
        let log = try fileText("stages/map/slurm-\(map.job)_1.log", in: sandbox)
        for expected in ["== lethe: stage map, task 1 of 2, attempt 1 of 2", "lethe-test-stage: injected failure in unit 1\n== lethe: exit status 1; requeued for attempt 2",
                         "== lethe: stage map, task 1 of 2, attempt 2 of 2", "lethe-test-stage: injected failure in unit 1\n== lethe: stage map, task 1 of 2 failed with exit status 1\n"] {
            XCTAssertTrue(log.contains(expected), "\(expected) not in \(log)")
        }
        XCTAssertNotNil(try StageFolder(url: sandbox.path("stages/gen")).manifest())
        XCTAssertNil(try StageFolder(url: sandbox.path("stages/map")).manifest())
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("stages/last/slurm-\(last.job)_0.log").path))
    }
}

extension String {
    /// The integers captured by the first group of each of the first `count` matches of `pattern`; nil if fewer match.
    func firstMatch(_ pattern: String, count: Int) -> [Int]? {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        let matches = expression.matches(in: self, range: NSRange(startIndex..., in: self))
        guard matches.count >= count else { return nil }
        return matches.prefix(count).compactMap { Range($0.range(at: 1), in: self).flatMap { Int(self[$0]) } }
    }
}
