import Foundation

/// Options of `lethe run --executor slurm` that apply to every stage.
public struct SlurmOptions: Equatable, Sendable {
    public var partition: String?
    public var account: String?
    /// Array tasks of a shard-parallel stage whose resources do not give "tasks".
    public var tasks: Int
    /// At most this many tasks of one array run at the same time (`--array=0-N%LIMIT`); nil: no limit.
    public var maxRunning: Int?
    /// How many times a failed task is requeued before it counts as failed.
    public var retries: Int

    public static let defaultTasks = 4

    public init(partition: String? = nil, account: String? = nil, tasks: Int = SlurmOptions.defaultTasks,
                maxRunning: Int? = nil, retries: Int = 1) {
        self.partition = partition
        self.account = account
        self.tasks = tasks
        self.maxRunning = maxRunning
        self.retries = retries
    }
}

/// The batch script of one stage, written to its folder as `slurm-job.sh` and submitted with sbatch.
///
/// A shard-parallel stage is an array job: task i runs the stage executable with `--shard-index i --num-shards N`,
/// and the harness skips units already done, so any task can be rerun or requeued and resumes where it stopped.
/// A stage that runs as one process (train, report) is a single job. Every process gets `--threads` = its cpus.
/// A task that fails requeues itself (`scontrol requeue`) until it has had `retries` more attempts; the attempts
/// append to one log, `slurm-JOB_TASK.log` (`slurm-JOB.log` for a single job), in the stage folder.
///
/// Time limits and preemption: Slurm signals the batch shell (USR1, `--signal`) `warningSeconds` before the time
/// limit; the shell stops the stage with SIGTERM (lethe-train first writes the checkpoint of its step) and
/// requeues the task, which then resumes from its finished shards or last checkpoint. A preempted task is
/// requeued by Slurm itself (`--requeue`). Neither counts as a failed attempt: failures are counted in a file
/// of the stage folder, `.slurm-JOB_TASK.failures`, removed when the task ends (done, or out of attempts).
public struct SlurmJobScript: Equatable, Sendable {
    public static let fileName = "slurm-job.sh"

    public var stage: String
    public var pipeline: URL
    /// The located stage executable, absolute (the cluster shares the file system).
    public var executable: URL
    /// The runner's command line for the stage (`Runner.commandLine(of:)`), without worker options.
    public var arguments: [String]
    public var request: ResourceRequest
    /// Array tasks; nil for a single job.
    public var tasks: Int?
    public var options: SlurmOptions
    /// The pipeline's folder, where stages run.
    public var workingDirectory: URL
    /// The stage's output folder, absolute: it receives the logs.
    public var outputFolder: URL

    public init(stage: String, pipeline: URL, executable: URL, arguments: [String], request: ResourceRequest, tasks: Int?,
                options: SlurmOptions, workingDirectory: URL, outputFolder: URL) {
        self.stage = stage
        self.pipeline = pipeline
        self.executable = executable
        self.arguments = arguments
        self.request = request
        self.tasks = tasks
        self.options = options
        self.workingDirectory = workingDirectory
        self.outputFolder = outputFolder
    }

    /// How long before the time limit the task is told to stop: a tenth of the limit, from 30 s to 5 minutes.
    public static func warningSeconds(timeLimit: String) -> Int {
        min(300, max(30, (StageResources.timeLimitSeconds(timeLimit) ?? 0) / 10))
    }

    /// The log of a task (or of the job, for a single job), relative to `folder` (the stage's output path).
    public static func logPath(folder: String, job: String, task: Int?) -> String {
        folder + "/" + (task.map { "slurm-\(job)_\($0).log" } ?? "slurm-\(job).log")
    }

    public var text: String {
        let attempts = options.retries + 1
        var lines = ["#!/bin/bash",
                     "# Stage \"\(stage)\" of \(shellQuoted(pipeline.path)), written by `lethe run --executor slurm`; submit it again with",
                     "# `sbatch \(shellQuoted(outputFolder.appendingPathComponent(Self.fileName).path))` (add --dependency=afterok:JOB for stages it reads).",
        ]
        if let tasks {
            lines += ["# An array of \(tasks) tasks: task i does the units j with j % \(tasks) == i and skips units already done, so a",
                      "# requeued or resubmitted task resumes where it stopped. Each task logs to slurm-JOB_TASK.log in this folder."]
        } else {
            lines += ["# One process; it logs to slurm-JOB.log in this folder."]
        }
        let warning = Self.warningSeconds(timeLimit: request.time)
        lines += ["# A failed attempt is requeued until the task has had \(attempts) attempt\(attempts == 1 ? "" : "s").",
                  "# \(warning) s before the time limit the stage is stopped and the task requeued; it resumes where it stopped."]
        var directives = ["--job-name=lethe-\(stage)"]
        if let tasks {
            directives.append("--array=0-\(tasks - 1)" + (options.maxRunning.map { "%\($0)" } ?? ""))
        }
        directives += ["--cpus-per-task=\(request.cpus)", "--mem=\(request.memory)", "--time=\(request.time)",
                       "--output=" + Self.directiveQuoted(outputFolder.appendingPathComponent(tasks == nil ? "slurm-%j.log" : "slurm-%A_%a.log").path),
                       "--open-mode=append", "--chdir=" + Self.directiveQuoted(workingDirectory.path), "--requeue", "--kill-on-invalid-dep=yes",
                       "--signal=B:USR1@\(warning)"]
        if let partition = options.partition { directives.append("--partition=" + Self.directiveQuoted(partition)) }
        if let account = options.account { directives.append("--account=" + Self.directiveQuoted(account)) }
        lines += directives.map { "#SBATCH " + $0 }

        let workerOptions = (tasks.map { ["--shard-index", "\"$task\"", "--num-shards", "\($0)"] } ?? []) + ["--threads", "\(request.cpus)"]
        let command = shellCommandLine([executable.path] + arguments) + " \\\n    " + workerOptions.joined(separator: " ")
        let what = tasks.map { "stage \(stage), task $task of \($0)" } ?? "stage \(stage)"
        let failures = shellQuoted(outputFolder.path + "/.slurm-") + "\"${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-0}}_$task.failures\""
        lines += [
            "",
            "task=${SLURM_ARRAY_TASK_ID:-0}",
            "failures=" + failures,
            "attempt=$(( $(cat \"$failures\" 2>/dev/null || echo 0) + 1 ))",
            "echo \"== lethe: \(what), attempt $attempt of \(attempts), job ${SLURM_JOB_ID:-?} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"",
            "export \(ResourceUsage.environmentName)=" + shellQuoted(outputFolder.path + "/" + ResourceUsage.filePrefix) + "\"$task.json\"",
            "near_limit=0",
            "trap 'near_limit=1; kill -TERM \"$child\" 2>/dev/null' USR1",
            command + " &",
            "child=$!",
            "wait \"$child\"; status=$?",
            "[ \"$near_limit\" -eq 1 ] && [ \"$status\" -gt 128 ] && { wait \"$child\"; status=$?; }  # the signal ended the wait early",
            "if [ \"$near_limit\" -eq 1 ] && [ \"$status\" -ne 0 ]; then",
            "    echo \"== lethe: the time limit is near: stopped (exit status $status) and requeued; the task resumes where it stopped\"",
            "    scontrol requeue \"$SLURM_JOB_ID\" && sleep 600  # the requeue ends this attempt",
            "fi",
            "if [ \"$status\" -ne 0 ] && [ \"$attempt\" -lt \(attempts) ]; then",
            "    echo \"== lethe: exit status $status; requeued for attempt $((attempt + 1))\"",
            "    echo \"$attempt\" >\"$failures\" && scontrol requeue \"$SLURM_JOB_ID\" && sleep 600  # the requeue ends this attempt",
            "fi",
            "[ \"$status\" -ne 0 ] && echo \"== lethe: \(what) failed with exit status $status\"",
            "rm -f \"$failures\"  # the task ends here: its count of failed attempts goes with it",
            "exit \"$status\"",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// A value in an #SBATCH line: sbatch splits those lines at white space unless the value is in double quotes.
    static func directiveQuoted(_ value: String) -> String {
        value.contains(where: \.isWhitespace) ? "\"" + value + "\"" : value
    }
}
