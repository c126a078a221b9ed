import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// The parts of the Slurm executor that need no cluster: resources in pipeline.json, job scripts, and reading
/// what squeue, scontrol and sacct print.
final class SlurmScriptTests: XCTestCase {
    func problems(_ text: String) -> [String] {
        do {
            let sandbox = try Sandbox()
            defer { sandbox.cleanUp() }
            try sandbox.write("pipeline.json", text)
            _ = try Pipeline.load(sandbox.path("pipeline.json"))
            return []
        } catch {
            return "\(error)".split(separator: "\n").map(String.init)
        }
    }

    func testResourcesAreReadAndBadOnesGiveOneLineEach() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipeline.json", #"{"version": 1, "stages": {"a": {"run": "x", "resources": {"cpus": 8, "memory": "16g", "time": "1-12:00:00", "tasks": 32}}, "b": {"run": "y"}}}"#)
        let pipeline = try Pipeline.load(sandbox.path("pipeline.json"))
        XCTAssertEqual(pipeline.stages["a"]!.resources, StageResources(cpus: 8, memory: "16G", time: "1-12:00:00", tasks: 32))
        XCTAssertEqual(pipeline.stages["b"]!.resources, StageResources())

        let cases: [(String, [String])] = [
            (#""resources": {"cpu": 2}"#, [#"pipeline.json: stages.a.resources: unknown key "cpu" (did you mean "cpus"?) (allowed: cpus, memory, time, tasks)"#]),
            (#""resources": {"cpus": 0, "tasks": 2.5}"#, ["pipeline.json: stages.a.resources.cpus: expected a whole number of at least 1, found 0",
                                                       "pipeline.json: stages.a.resources.tasks: expected a whole number of at least 1, found 2.5"]),
            (#""resources": {"memory": 16}"#, [#"pipeline.json: stages.a.resources.memory: expected a size with a unit such as "16G" or "500M" (K, M, G or T), found 16"#]),
            (#""resources": {"memory": "16GB"}"#, [#"pipeline.json: stages.a.resources.memory: expected a size with a unit such as "16G" or "500M" (K, M, G or T), found "16GB""#]),
            (#""resources": {"time": "2h"}"#, [#"pipeline.json: stages.a.resources.time: expected a time limit such as "90" (minutes), "2:00:00" or "1-12:00:00" (days-hours:minutes:seconds), found "2h""#]),
            (#""resources": {"time": "0"}"#, [#"pipeline.json: stages.a.resources.time: expected a time limit such as "90" (minutes), "2:00:00" or "1-12:00:00" (days-hours:minutes:seconds), found "0""#]),
            (#""resources": [4]"#, [#"pipeline.json: stages.a.resources: expected an object such as {"cpus": 4, "memory": "8G", "time": "2:00:00"}"#]),
            (#""params": {"threads": 4}"#, [#"pipeline.json: stages.a.params.threads: --threads is set by the runner; give the stage "resources": {"cpus": N}"#]),
        ]
        for (stage, expected) in cases {
            XCTAssertEqual(problems(#"{"version": 1, "stages": {"a": {"run": "x", "# + stage + "}}}"), expected, stage)
        }
    }

    func testTimeLimitsInSlurmFormats() {
        let cases: [(String, Int?)] = [("90", 5400), ("30:15", 1815), ("2:00:00", 7200), ("1-12", 129_600), ("1-12:30", 131_400),
                                       ("2-00:00:01", 172_801), ("", nil), ("1:2:3:4", nil), ("1-", nil), ("-5", nil), ("1-2-3", nil),
                                       ("1:x", nil), ("1.5", nil), ("1-1:1:1:1", nil)]
        for (text, seconds) in cases { XCTAssertEqual(StageResources.timeLimitSeconds(text), seconds, text) }
    }

    func testDefaultsByStageKindFillWhatThePipelineLeavesOut() {
        XCTAssertEqual(ResourceRequest.resolve(StageResources(memory: "64G"), executable: "lethe-train", parallel: false),
                       ResourceRequest(cpus: 16, memory: "64G", time: "2-00:00:00"))
        XCTAssertEqual(ResourceRequest.resolve(StageResources(cpus: 2), executable: "lethe-encode", parallel: true),
                       ResourceRequest(cpus: 2, memory: "16G", time: "12:00:00"))
        XCTAssertEqual(ResourceRequest.resolve(StageResources(), executable: "my-stage", parallel: true),
                       ResourceRequest(cpus: 4, memory: "8G", time: "4:00:00"))
        XCTAssertEqual(ResourceRequest.resolve(StageResources(), executable: "my-stage", parallel: false),
                       ResourceRequest(cpus: 8, memory: "16G", time: "12:00:00"))
    }

    func testJobScriptOfAnArray() {
        let script = SlurmJobScript(
            stage: "encode", pipeline: URL(fileURLWithPath: "/data/run/pipeline.json"),
            executable: URL(fileURLWithPath: "/opt/lethe/bin/lethe-encode"),
            arguments: ["--input", "stages/tokenize", "--note", "it's here", "--output", "stages/encode"],
            request: ResourceRequest(cpus: 8, memory: "16G", time: "12:00:00"), tasks: 32,
            options: SlurmOptions(partition: "cpu", account: "my lab", tasks: 4, maxRunning: 10, retries: 2),
            workingDirectory: URL(fileURLWithPath: "/data/run"), outputFolder: URL(fileURLWithPath: "/data/run/stages/encode"))
        XCTAssertEqual(script.text, #"""
            #!/bin/bash
            # Stage "encode" of /data/run/pipeline.json, written by `lethe run --executor slurm`; submit it again with
            # `sbatch /data/run/stages/encode/slurm-job.sh` (add --dependency=afterok:JOB for stages it reads).
            # An array of 32 tasks: task i does the units j with j % 32 == i and skips units already done, so a
            # requeued or resubmitted task resumes where it stopped. Each task logs to slurm-JOB_TASK.log in this folder.
            # A failed attempt is requeued until the task has had 3 attempts.
            # 300 s before the time limit the stage is stopped and the task requeued; it resumes where it stopped.
            #SBATCH --job-name=lethe-encode
            #SBATCH --array=0-31%10
            #SBATCH --cpus-per-task=8
            #SBATCH --mem=16G
            #SBATCH --time=12:00:00
            #SBATCH --output=/data/run/stages/encode/slurm-%A_%a.log
            #SBATCH --open-mode=append
            #SBATCH --chdir=/data/run
            #SBATCH --requeue
            #SBATCH --kill-on-invalid-dep=yes
            #SBATCH --signal=B:USR1@300
            #SBATCH --partition=cpu
            #SBATCH --account="my lab"

            task=${SLURM_ARRAY_TASK_ID:-0}
            failures=/data/run/stages/encode/.slurm-"${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-0}}_$task.failures"
            attempt=$(( $(cat "$failures" 2>/dev/null || echo 0) + 1 ))
            echo "== lethe: stage encode, task $task of 32, attempt $attempt of 3, job ${SLURM_JOB_ID:-?} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
            export LETHE_RESOURCE_FILE=/data/run/stages/encode/.resources-"$task.json"
            near_limit=0
            trap 'near_limit=1; kill -TERM "$child" 2>/dev/null' USR1
            /opt/lethe/bin/lethe-encode --input stages/tokenize --note 'it'\''s here' --output stages/encode \
                --shard-index "$task" --num-shards 32 --threads 8 &
            child=$!
            wait "$child"; status=$?
            [ "$near_limit" -eq 1 ] && [ "$status" -gt 128 ] && { wait "$child"; status=$?; }  # the signal ended the wait early
            if [ "$near_limit" -eq 1 ] && [ "$status" -ne 0 ]; then
                echo "== lethe: the time limit is near: stopped (exit status $status) and requeued; the task resumes where it stopped"
                scontrol requeue "$SLURM_JOB_ID" && sleep 600  # the requeue ends this attempt
            fi
            if [ "$status" -ne 0 ] && [ "$attempt" -lt 3 ]; then
                echo "== lethe: exit status $status; requeued for attempt $((attempt + 1))"
                echo "$attempt" >"$failures" && scontrol requeue "$SLURM_JOB_ID" && sleep 600  # the requeue ends this attempt
            fi
            [ "$status" -ne 0 ] && echo "== lethe: stage encode, task $task of 32 failed with exit status $status"
            rm -f "$failures"  # the task ends here: its count of failed attempts goes with it
            exit "$status"

            """#)
    }

    func testJobScriptOfASingleJobWithoutRetries() {
        let text = SlurmJobScript(
            stage: "train", pipeline: URL(fileURLWithPath: "/p/pipeline.json"), executable: URL(fileURLWithPath: "/bin/lethe-train"),
            arguments: ["--output", "stages/train"], request: ResourceRequest(cpus: 16, memory: "32G", time: "2-00:00:00"), tasks: nil,
            options: SlurmOptions(retries: 0), workingDirectory: URL(fileURLWithPath: "/p"),
            outputFolder: URL(fileURLWithPath: "/p/stages/train")).text
        XCTAssertTrue(text.contains("# One process; it logs to slurm-JOB.log in this folder.\n# A failed attempt is requeued until the task has had 1 attempt.\n# 300 s before the time limit the stage is stopped and the task requeued; it resumes where it stopped.\n#SBATCH --job-name=lethe-train\n#SBATCH --cpus-per-task=16\n"), text)
        XCTAssertTrue(text.contains("#SBATCH --output=/p/stages/train/slurm-%j.log\n"), text)
        XCTAssertTrue(text.contains("echo \"== lethe: stage train, attempt $attempt of 1, job"), text)
        XCTAssertTrue(text.contains("\n/bin/lethe-train --output stages/train \\\n    --threads 16 &\nchild=$!\n"), text)
        XCTAssertTrue(text.contains("\nif [ \"$status\" -ne 0 ] && [ \"$attempt\" -lt 1 ]; then"), text)
        XCTAssertEqual(SlurmJobScript.warningSeconds(timeLimit: "5"), 30)
        XCTAssertEqual(SlurmJobScript.warningSeconds(timeLimit: "1:00:00"), 300)
        XCTAssertEqual(SlurmJobScript.warningSeconds(timeLimit: "30:00"), 180)
        XCTAssertFalse(text.contains("--array") || text.contains("--shard-index") || text.contains("--partition"), text)
    }

    func testReadingSqueueScontrolAndSacct() {
        XCTAssertEqual(SlurmClient.parseSqueue("12_3|RUNNING|None\n12_[4-6%2]|PENDING|JobArrayTaskLimit\n13|PENDING|Dependency\n12_3|RUNNING|None\n"), [
            SlurmTaskState(job: "12", task: 3, state: "RUNNING"),
            SlurmTaskState(job: "12", task: 4, state: "PENDING", reason: "JobArrayTaskLimit"),
            SlurmTaskState(job: "12", task: 5, state: "PENDING", reason: "JobArrayTaskLimit"),
            SlurmTaskState(job: "12", task: 6, state: "PENDING", reason: "JobArrayTaskLimit"),
            SlurmTaskState(job: "13", task: nil, state: "PENDING", reason: "Dependency"),
        ])
        // As Slurm 22.05's `scontrol --oneliner show job` prints them (cut after ExitCode), a task and the not yet started rest.
        let scontrol = """
            JobId=5 ArrayJobId=1 ArrayTaskId=1 JobName=lethe-map UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 Reboot=0 ExitCode=1:0 Command=/tmp/a b/slurm-job.sh WorkDir=/tmp/a b
            JobId=1 ArrayJobId=1 ArrayTaskId=2-3,7 JobName=lethe-map UserId=root(0) JobState=PENDING Reason=Dependency Dependency=afterok:4_*(unfulfilled) Restarts=0 ExitCode=0:0
            JobId=9 JobName=lethe-report JobState=CANCELLED Reason=DependencyNeverSatisfied Restarts=0 ExitCode=0:0
            JobId=10 JobName=lethe-report JobState=PENDING Reason=None Dependency=afterok:9(unfulfilled) Restarts=0 ExitCode=0:0
            """
        XCTAssertEqual(SlurmClient.parseScontrol(scontrol), [
            SlurmTaskState(job: "1", task: 1, state: "FAILED", reason: "NonZeroExitCode", exitCode: "1:0", restarts: 1),
            SlurmTaskState(job: "1", task: 2, state: "PENDING", reason: "Dependency", exitCode: "0:0", restarts: 0),
            SlurmTaskState(job: "1", task: 3, state: "PENDING", reason: "Dependency", exitCode: "0:0", restarts: 0),
            SlurmTaskState(job: "1", task: 7, state: "PENDING", reason: "Dependency", exitCode: "0:0", restarts: 0),
            SlurmTaskState(job: "9", task: nil, state: "CANCELLED", reason: "DependencyNeverSatisfied", exitCode: "0:0", restarts: 0),
            SlurmTaskState(job: "10", task: nil, state: "PENDING", reason: "Dependency", exitCode: "0:0", restarts: 0),
        ])
        // sacct's documented --parsable2 layout (the test cluster keeps no accounting, so this path is read from text only).
        XCTAssertEqual(SlurmClient.parseSacct("20_0|COMPLETED|0:0\n20_1|TIMEOUT|0:15\n20_[2-3]|PENDING|0:0\n21|CANCELLED by 0|0:0\n"), [
            SlurmTaskState(job: "20", task: 0, state: "COMPLETED", exitCode: "0:0"),
            SlurmTaskState(job: "20", task: 1, state: "TIMEOUT", exitCode: "0:15"),
            SlurmTaskState(job: "20", task: 2, state: "PENDING", exitCode: "0:0"),
            SlurmTaskState(job: "20", task: 3, state: "PENDING", exitCode: "0:0"),
            SlurmTaskState(job: "21", task: nil, state: "CANCELLED", exitCode: "0:0"),
        ])
        XCTAssertEqual(SlurmClient.taskIndices("0-6:3,9%2"), [0, 3, 6, 9])
        XCTAssertEqual(SlurmTaskState(job: "1", task: nil, state: "FAILED", exitCode: "1:0").exitDescription, "exit status 1")
        XCTAssertEqual(SlurmTaskState(job: "1", task: nil, state: "CANCELLED", exitCode: "0:9").exitDescription, "signal 9")
        XCTAssertNil(SlurmTaskState(job: "1", task: nil, state: "COMPLETED", exitCode: "0:0").exitDescription)
    }

    func testSummaryOfTasks() {
        let tasks = [SlurmTaskState(job: "1", task: 0, state: "COMPLETED"), SlurmTaskState(job: "1", task: 1, state: "RUNNING"),
                     SlurmTaskState(job: "1", task: 2, state: "PENDING", reason: "Resources"),
                     SlurmTaskState(job: "1", task: 3, state: "PENDING", reason: "Resources"), SlurmTaskState(job: "1", task: 4, state: "FAILED")]
        XCTAssertEqual(SlurmExecutor.summary(of: tasks, total: 8), "1 running, 2 pending (Resources), 1 completed, 1 failed, 3 ended")
        XCTAssertEqual(SlurmExecutor.summary(of: [SlurmTaskState(job: "2", task: nil, state: "PENDING", reason: "Dependency")], total: nil),
                       "1 pending (Dependency)")
    }

    /// Locally, "cpus" becomes --threads (at most the machine's cores for each process).
    func testLocalRunPassesCpusAsThreads() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipeline.json", #"{"version": 1, "stages": {"gen": {"run": "lethe-test-stage", "params": {"samples": 10}, "resources": {"cpus": 1, "memory": "1G"}}}}"#)
        let result = try runProduct("lethe", ["run"], in: sandbox.url)
        XCTAssertEqual(result.status, 0, result.error)
        let log = try String(contentsOf: sandbox.path("stages/gen/log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains(" lethe-test-stage --samples 10 --output stages/gen --stage gen --force --progress lines --threads 1\n"), log)
    }
}
