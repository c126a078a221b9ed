import ArgumentParser
import Foundation
import LetheCLI
import LethePipeline

@main
struct Lethe: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe",
        abstract: "Runs a Lethe pipeline: the stages of pipeline.json in dependency order, skipping those whose output is current.",
        discussion: """
        Each stage writes into its folder (stages/NAME unless pipeline.json says otherwise): shards, a manifest.json \
        written last, and log.txt. A stage is current when its manifest's fingerprint matches the executable, \
        parameters and inputs that pipeline.json gives it now. README.md describes the pipeline.json schema.
        """,
        version: LetheVersion.current,
        subcommands: [Run.self, Status.self, Cancel.self, Inspect.self, Validate.self])
}

/// Writes a line to standard output at once (unbuffered, so it interleaves with stage output).
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

func loadPipeline(_ path: String) throws -> Pipeline { try Pipeline.load(URL(fileURLWithPath: path).standardizedFileURL) }

enum ExecutorKind: String, ExpressibleByArgument, CaseIterable {
    case local, slurm
}

struct Run: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the stages that are not up to date, here or on a Slurm cluster.",
        discussion: """
        Examples:
          lethe run                      run pipeline.json
          lethe run --dry-run            say what would run and why
          lethe run --stage encode-eval  rerun encode-eval (and what it needs); later stages become stale
          lethe run --jobs 2             run shard-parallel stages as 2 processes
          lethe run --executor slurm --partition cpu --tasks 16
                                         submit the stages to Slurm (arrays of 16 tasks, chained by afterok) and return
          lethe run --executor slurm --wait
                                         submit, then follow the jobs until they end
          lethe run --wait-lock          wait while another `lethe run` works on these stage folders

        While it runs (locally) or submits (Slurm), `lethe run` holds a lock file beside each stage folder of the \
        pipeline (stages/NAME.lock, naming host, process and pipeline): a second `lethe run` on any of those \
        folders exits at once naming the holder, or waits with --wait-lock. A lock whose run and stage processes are \
        all gone is removed by the next run; one held on another host is shown with the file to remove once that run is known to be \
        gone. status, inspect, validate and --dry-run never take it.

        On Slurm, each stage to run becomes one job: an array of --tasks tasks for a shard-parallel stage (each runs \
        the stage with --shard-index/--num-shards), one job for train and report. Each job waits for the jobs of the \
        stages it reads (--dependency=afterok) and asks for the stage's "resources" in pipeline.json (cpus, memory, \
        time, tasks; README.md lists the defaults). Job scripts and task logs go to the stage folders \
        (slurm-job.sh, slurm-JOB_TASK.log). `lethe status` shows the jobs, `lethe cancel` cancels them.
        """)

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    @Option(help: ArgumentHelp("Rerun this stage even if up to date (running first the stages it needs that are not); the stages after it become stale.", valueName: "name"))
    var stage: String?

    @Flag(help: "Rerun every selected stage even if up to date.")
    var force = false

    @Flag(name: .customLong("dry-run"), help: "Say which stages would run and why; run nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Where stages run: local (processes on this machine) or slurm (jobs submitted with sbatch).", valueName: "local|slurm"))
    var executor = ExecutorKind.local

    @Option(parsing: .unconditional, help: ArgumentHelp("Local: processes for each shard-parallel stage (each gets --shard-index/--num-shards).", valueName: "n"))
    var jobs = 1

    @Flag(name: .customLong("wait-lock"), help: "If another `lethe run` holds a stage folder of this pipeline, wait for it (default: exit at once, naming it).")
    var waitLock = false

    @OptionGroup(title: "Slurm (with --executor slurm)")
    var slurm: SlurmRunOptions

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        try slurm.validate()
        if executor == .local, let given = slurm.givenOptions.first {
            throw ValidationError("\(given) applies to --executor slurm only")
        }
        if executor == .slurm, jobs != 1 {
            throw ValidationError("--jobs applies to --executor local only; on Slurm, --tasks (or a stage's \"tasks\" resource) sets the array tasks")
        }
    }

    func run() throws {
        let runner = Runner(pipeline: try loadPipeline(pipeline), locator: .standard(), cache: .standard(), jobs: jobs, say: say)
        // Slurm: the lock covers the submission; the jobs are then guarded by their records (slurm.json), which
        // make a later run refuse while they are queued or running.
        let lock = dryRun ? nil : try RunLock.acquire(runner.pipeline, wait: waitLock, say: say)
        switch executor {
        case .local:
            // The lock names the stage processes too: killed, this run leaves them working, and its lock holds until
            // they end.
            runner.executor = LocalExecutor(started: { pids in
                do { try lock?.record(stages: pids) } catch { say("warning: cannot record the stage processes in the lock: \(error)") }
            })
            if !dryRun { try refuseWhileSlurmJobsActive(runner) }
            try runner.run(target: stage, force: force, dryRun: dryRun)
            lock?.release()
        case .slurm:
            let slurmExecutor = SlurmExecutor(runner: runner, options: slurm.options)
            let submitted = try slurmExecutor.submit(target: stage, force: force, dryRun: dryRun)
            lock?.release()
            if slurm.wait { try slurmExecutor.follow(submitted, poll: slurm.poll) }
        }
    }
}

struct SlurmRunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Partition for every job (sbatch --partition).", valueName: "name"))
    var partition: String?

    @Option(help: ArgumentHelp("Account charged for the jobs (sbatch --account).", valueName: "name"))
    var account: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Array tasks for each shard-parallel stage without \"tasks\" in its resources (default \(SlurmOptions.defaultTasks)).", valueName: "n"))
    var tasks: Int?

    @Option(name: .customLong("max-array"), parsing: .unconditional, help: ArgumentHelp("At most this many tasks of one array run at the same time (sbatch --array=...%N).", valueName: "n"))
    var maxArray: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("How many times a failed task is requeued before it counts as failed (default 1).", valueName: "n"))
    var retries: Int?

    @Flag(help: "Follow the jobs until they end and exit with their outcome (default: submit and return).")
    var wait = false

    @Option(parsing: .unconditional, help: ArgumentHelp("With --wait: seconds between looks at the queue.", valueName: "seconds"))
    var poll: Double = 10

    var options: SlurmOptions {
        SlurmOptions(partition: partition, account: account, tasks: tasks ?? SlurmOptions.defaultTasks, maxRunning: maxArray,
                     retries: retries ?? 1)
    }

    /// The Slurm options given on the command line, as written (for "applies to --executor slurm only").
    var givenOptions: [String] {
        [("--partition", partition != nil), ("--account", account != nil), ("--tasks", tasks != nil), ("--max-array", maxArray != nil),
         ("--retries", retries != nil), ("--wait", wait)].filter(\.1).map(\.0)
    }

    func validate() throws {
        if let tasks, tasks < 1 { throw ValidationError("--tasks must be at least 1") }
        if let maxArray, maxArray < 1 { throw ValidationError("--max-array must be at least 1") }
        if let retries, retries < 0 { throw ValidationError("--retries must be 0 or more") }
        guard poll > 0 else { throw ValidationError("--poll must be more than 0 seconds") }
    }
}

/// A local run must not work on stages that Slurm jobs of an earlier `lethe run --executor slurm` are still
/// working on. Checked only when a stage folder names a job and squeue is at hand; when Slurm cannot be asked
/// (no controller here), the run goes ahead with a warning.
func refuseWhileSlurmJobsActive(_ runner: Runner) throws {
    let slurm = SlurmExecutor(runner: runner, options: SlurmOptions())
    guard !slurm.recordedJobs().isEmpty, slurm.client.locate("squeue") != nil else { return }
    let active: [(stage: PipelineStage, record: SlurmJobRecord)]
    do { active = try slurm.activeJobs() } catch {
        say("warning: cannot ask Slurm whether this pipeline's jobs are still running (\(error)); running here anyway")
        return
    }
    try slurm.refuse(ifActive: active)
}

struct Status: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether each stage is up to date, and why not; for stages sent to Slurm, their jobs' state.")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    func run() throws {
        let runner = Runner(pipeline: try loadPipeline(pipeline), locator: .standard(), cache: .standard(), say: say)
        let checks = try runner.status()
        let slurm = SlurmExecutor(runner: runner, options: SlurmOptions())
        for check in checks {
            say(runner.statusLine(for: check))
            if let jobs = slurm.statusLine(for: check) { say(jobs) }
            if let holder = try? RunLock.read(RunLock.file(for: check.folder.url)) {
                say(String(repeating: " ", count: 16) + "locked by \(holder.description)\(holder.isGone ? " (no longer running: the next run removes the lock)" : "")")
            }
        }
        let stale = checks.filter { !$0.isCurrent }.count
        say(stale == 0 ? "All \(checks.count) stages are up to date." : "\(stale) of \(checks.count) stages are not up to date.")
    }
}

struct Cancel: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel the Slurm jobs of a pipeline that are still queued or running (scancel).",
        discussion: "Finished units are kept: the next `lethe run` resumes the stages where their jobs stopped.")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    @Option(help: ArgumentHelp("Cancel only this stage's job (the jobs of the stages after it then fail their dependency and end too).", valueName: "name"))
    var stage: String?

    func run() throws {
        let loaded = try loadPipeline(pipeline)
        if let stage, loaded.stages[stage] == nil {
            throw PipelineError("\(loaded.url.lastPathComponent): no stage named \"\(stage)\" (stages: \(loaded.order.joined(separator: ", ")))")
        }
        let runner = Runner(pipeline: loaded, locator: .standard(), cache: .standard(), say: say)
        let cancelled = try SlurmExecutor(runner: runner, options: SlurmOptions()).cancel(target: stage)
        say(cancelled.isEmpty ? "No Slurm job of \(loaded.url.lastPathComponent) is queued or running."
            : "Cancelled \(cancelled.map { "job \($0.record.job) (\($0.stage.name))" }.joined(separator: ", ")).")
    }
}

struct Inspect: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a shard's samples, or a stage folder's manifest.",
        discussion: "Examples:\n  lethe inspect stages/eval-prose\n  lethe inspect stages/eval-prose/shard-000000.tar.zst --samples 5")

    @Argument(help: "A shard file (.tar.zst) or a stage folder.")
    var path: String

    @Option(parsing: .unconditional, help: "How many samples of a shard to show.")
    var samples = 3

    func validate() throws {
        guard samples >= 0 else { throw ValidationError("--samples must be 0 or more") }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PipelineError("\(path): no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        say(isDirectory.boolValue ? try LethePipeline.Inspect.stageFolder(url) : try LethePipeline.Inspect.shard(url, samples: samples))
    }
}

struct Validate: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline.json, its executables and every stage's options against them, and the sha256 of every completed stage's files.")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    func run() throws {
        let loaded = try loadPipeline(pipeline)
        let runner = Runner(pipeline: loaded, locator: .standard(), cache: .standard(), say: say)
        var problems: [String] = []
        var verified = 0
        for check in try runner.status() {
            if let problem = check.problem { problems.append(problem) }
            guard let manifest = check.manifest else { continue }
            let found = check.folder.problems(with: manifest, checkContent: true)
            problems += found
            if found.isEmpty { verified += 1 }
        }
        guard problems.isEmpty else { throw PipelineError(problems.joined(separator: "\n")) }
        say("\(loaded.url.lastPathComponent) is valid: \(loaded.stages.count) stages; the files of \(verified) completed stages match their manifests (sha256).")
    }
}
