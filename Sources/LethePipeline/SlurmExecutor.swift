import Foundation
import LetheShards

/// `slurm.json` in a stage folder: the job last submitted for the stage, so that `lethe status` can show its
/// state, `lethe cancel` can cancel it, and a new run can refuse to start while it is still queued or running.
public struct SlurmJobRecord: Codable, Equatable, Sendable {
    public static let fileName = "slurm.json"

    public var job: String
    /// Array tasks; nil for a single job.
    public var tasks: Int?
    /// Requeues allowed per task.
    public var retries: Int
    /// The jobs it waited for (`--dependency=afterok:...`).
    public var afterOK: [String]
    /// ISO 8601, UTC.
    public var submitted: String
    /// The batch script, in the stage folder.
    public var script: String

    public init(job: String, tasks: Int?, retries: Int, afterOK: [String], submitted: String, script: String) {
        self.job = job
        self.tasks = tasks
        self.retries = retries
        self.afterOK = afterOK
        self.submitted = submitted
        self.script = script
    }

    /// The record in `folder`, nil when there is none or it cannot be read (it only ever names past jobs).
    public static func read(in folder: StageFolder) -> SlurmJobRecord? {
        try? decodeJSON(SlurmJobRecord.self, from: folder.url.appendingPathComponent(fileName))
    }

    func write(in folder: StageFolder) throws {
        try DurableFile.write(try canonicalJSON(self).bytes(pretty: true), to: folder.url.appendingPathComponent(Self.fileName))
    }
}

/// Runs a pipeline on Slurm: each stage `lethe run` would run becomes one sbatch job (an array for a
/// shard-parallel stage) chained to the jobs of the stages it reads with `--dependency=afterok`, all submitted at
/// once. The stages themselves decide what is done, as in local runs: same manifests, fingerprints and resume.
public final class SlurmExecutor {
    public let runner: Runner
    public let options: SlurmOptions
    public let client: SlurmClient
    var pipeline: Pipeline { runner.pipeline }
    var say: (String) -> Void { runner.say }

    public init(runner: Runner, options: SlurmOptions, client: SlurmClient = SlurmClient()) {
        self.runner = runner
        self.options = options
        self.client = client
    }

    /// A stage submitted to Slurm.
    public struct Submission: Sendable {
        public var stage: PipelineStage
        public var record: SlurmJobRecord
    }

    // MARK: Submitting

    /// Submits every stage that `lethe run` would run (see `Runner.plan`), in dependency order, and returns them.
    /// With `dryRun`, says what would be submitted and submits nothing.
    @discardableResult
    public func submit(target: String?, force: Bool, dryRun: Bool) throws -> [Submission] {
        let plans = try runner.plan(target: target, force: force)
        let toRun = plans.filter(\.willRun)
        if dryRun {
            for plan in plans {
                say(runner.line(for: plan))
                if plan.willRun { say(String(repeating: " ", count: 16) + "on Slurm: " + describe(job(for: plan.check))) }
            }
            say(toRun.isEmpty ? "Nothing to do: all \(plans.count) stages are up to date." : "\(toRun.count) of \(plans.count) stages would be submitted to Slurm.")
            return []
        }
        guard !toRun.isEmpty else {
            say("Nothing to do: all \(plans.count) stages are up to date.")
            return []
        }
        // Before anything changes: the commands are there and no earlier job works on these stages.
        try client.checkInstalled(["sbatch", "squeue", "scontrol"])
        try refuseWhileActive()
        var submitted: [Submission] = []
        do {
            for plan in toRun {
                submitted.append(try submit(plan, after: submitted))
            }
        } catch {
            // Half a pipeline in the queue would run stages whose inputs never come: take it back.
            let jobs = submitted.map(\.record.job)
            try? client.cancel(jobs)
            throw PipelineError("\(error)" + (jobs.isEmpty ? "" : "\n(cancelled the jobs submitted before it: \(jobs.joined(separator: ", ")))"))
        }
        let jobs = submitted.map { "\($0.record.job) (\($0.stage.name))" }.joined(separator: ", ")
        say("Submitted \(Inspect.counted(submitted.count, "stage")) to Slurm: \(jobs). `lethe status` shows their state, `lethe cancel` cancels them; each task logs to STAGE-FOLDER/slurm-JOB_TASK.log.")
        if let target {
            let stale = pipeline.downstream(of: target)
            if !stale.isEmpty { say("Stale once \(target) is rebuilt: \(stale.joined(separator: ", ")); `lethe run` then brings them up to date.") }
        }
        return submitted
    }

    /// What one stage's job asks for.
    struct JobRequest {
        var tasks: Int?
        var request: ResourceRequest
    }

    func job(for check: StageCheck) -> JobRequest {
        let description = check.executable.description
        return JobRequest(tasks: description.parallel ? (check.stage.resources.tasks ?? options.tasks) : nil,
                          request: ResourceRequest.resolve(check.stage.resources, executable: description.executable,
                                                           parallel: description.parallel))
    }

    func describe(_ job: JobRequest) -> String {
        let each = "\(Inspect.counted(job.request.cpus, "cpu")), \(job.request.memory) memory, time limit \(job.request.time)"
        return job.tasks.map { "array of \(Inspect.counted($0, "task")), each \(each)" } ?? "one job, \(each)"
    }

    private func submit(_ plan: PlannedStage, after earlier: [Submission]) throws -> Submission {
        let stage = plan.check.stage
        let folder = plan.check.folder
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        if plan.forced { try folder.discardCompletion() }
        try folder.clearResourceRecords()
        let job = job(for: plan.check)
        let script = SlurmJobScript(stage: stage.name, pipeline: pipeline.url, executable: plan.check.executable.url,
                                    arguments: runner.commandLine(of: stage), request: job.request, tasks: job.tasks,
                                    options: options, workingDirectory: pipeline.base, outputFolder: folder.url)
        let scriptURL = folder.url.appendingPathComponent(SlurmJobScript.fileName)
        try DurableFile.write(Array(script.text.utf8), to: scriptURL)
        let afterOK = earlier.filter { stage.upstream.contains($0.stage.name) }.map(\.record.job)
        let id = try client.submit(script: scriptURL, afterOK: afterOK)
        let record = SlurmJobRecord(job: id, tasks: job.tasks, retries: options.retries, afterOK: afterOK,
                                    submitted: Timestamp.now(), script: SlurmJobScript.fileName)
        do { try record.write(in: folder) } catch {
            try? client.cancel([id])  // a job nobody could find to follow or cancel
            throw error
        }
        let after = afterOK.isEmpty ? "" : ", after job \(afterOK.joined(separator: ", "))"
        appendToLog(folder, "== \(record.submitted) submitted to Slurm as job \(id) (\(describe(job))\(after)): \(scriptURL.path); task logs \(folder.url.path)/slurm-\(id)\(job.tasks == nil ? "" : "_*").log\n")
        say("== \(stage.name): submitted job \(id), \(describe(job))\(after) (\(plan.check.reasons.joined(separator: "; ")))")
        return Submission(stage: stage, record: record)
    }

    private func appendToLog(_ folder: StageFolder, _ text: String) {
        let log = folder.url.appendingPathComponent(StageFolder.logName)
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: log.path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try? handle.close()
    }

    // MARK: Jobs of the pipeline

    /// The stages whose folder names a job, with it (all stages, or `target` only).
    public func recordedJobs(target: String? = nil) -> [(stage: PipelineStage, record: SlurmJobRecord)] {
        pipeline.order.filter { target == nil || $0 == target }.compactMap { name in
            let stage = pipeline.stages[name]!
            return SlurmJobRecord.read(in: StageFolder(url: pipeline.outputURL(of: name))).map { (stage, $0) }
        }
    }

    /// The recorded jobs that Slurm still has queued or running.
    public func activeJobs(target: String? = nil) throws -> [(stage: PipelineStage, record: SlurmJobRecord)] {
        let recorded = recordedJobs(target: target)
        guard !recorded.isEmpty else { return [] }
        let active = Set(try client.activeTasks(of: recorded.map(\.record.job)).map(\.job))
        return recorded.filter { active.contains($0.record.job) }
    }

    /// Throws when jobs of this pipeline are still queued or running: a second run would work on the same units.
    public func refuseWhileActive() throws {
        try refuse(ifActive: try activeJobs())
    }

    public func refuse(ifActive active: [(stage: PipelineStage, record: SlurmJobRecord)]) throws {
        guard !active.isEmpty else { return }
        throw PipelineError("\(pipeline.url.lastPathComponent): Slurm jobs of stages \(active.map(\.stage.name).joined(separator: ", ")) are still queued or running (\(active.map(\.record.job).joined(separator: ", "))); wait for them (`lethe status`) or cancel them (`lethe cancel`)")
    }

    /// Cancels the recorded jobs still queued or running and returns them.
    @discardableResult
    public func cancel(target: String? = nil) throws -> [(stage: PipelineStage, record: SlurmJobRecord)] {
        let active = try activeJobs(target: target)
        try client.cancel(active.map(\.record.job))
        return active
    }

    // MARK: Following

    /// Waits until every submitted job has ended, printing each stage's tasks as they change (polling every `poll`
    /// seconds), then each stage's outcome. Throws one line per stage that did not complete, with its task logs.
    public func follow(_ submissions: [Submission], poll: Double) throws {
        guard !submissions.isEmpty else { return }
        say("Following the jobs every \(String(format: "%g", poll)) s; Ctrl-C stops following, the jobs go on.")
        var waiting = submissions
        var shown: [String: String] = [:]
        var problems: [String] = []
        var failedLooks = 0
        while true {
            let active: [SlurmTaskState]
            do {
                active = try client.activeTasks(of: waiting.map(\.record.job))
                failedLooks = 0
            } catch {
                // A busy controller sometimes times out; the jobs are not affected.
                failedLooks += 1
                guard failedLooks < Self.failedLooksAllowed else { throw error }
                say("   (\(error); trying again)")
                Thread.sleep(forTimeInterval: poll)
                continue
            }
            var stillWaiting: [Submission] = []
            for submission in waiting {
                let tasks = active.filter { $0.job == submission.record.job }
                if tasks.isEmpty {
                    problems += try finished(submission)
                    continue
                }
                stillWaiting.append(submission)
                let summary = Self.summary(of: tasks, total: submission.record.tasks)
                if shown[submission.stage.name] != summary {
                    say("   \(submission.stage.name) (job \(submission.record.job)): \(summary)")
                    shown[submission.stage.name] = summary
                }
            }
            waiting = stillWaiting
            if waiting.isEmpty { break }
            Thread.sleep(forTimeInterval: poll)
        }
        guard problems.isEmpty else { throw PipelineError(problems.joined(separator: "\n")) }
    }

    /// Consecutive failures of squeue that `follow` rides out.
    static let failedLooksAllowed = 5

    /// Says how a stage whose job has ended came out; returns the problems (empty when it is complete).
    func finished(_ submission: Submission) throws -> [String] {
        let stage = submission.stage
        let reasons: [String]
        do {
            let check = try runner.check(stage.name, pending: [])
            if check.isCurrent, let manifest = check.manifest {
                let usage = check.folder.resourceSummary().map { ", " + $0.description } ?? ""
                say("== \(stage.name): done on Slurm (job \(submission.record.job)\(usage); \(Inspect.counted(manifest.totals.shards, "shard")), \(Inspect.counted(manifest.totals.samples, "sample")), \(Inspect.counted(manifest.files.count, "file")))")
                return []
            }
            reasons = check.reasons
        } catch {
            reasons = ["\(error)"]  // e.g. an input stage that failed left no folder to fingerprint
        }
        let problems = failures(of: stage, record: submission.record, tasks: try client.tasks(of: submission.record.job), reasons: reasons)
        for problem in problems { say("== \(problem)") }
        return problems
    }

    /// Why a stage whose job ended is not complete, one line per failed task (with its log) or for the stage.
    func failures(of stage: PipelineStage, record: SlurmJobRecord, tasks: [SlurmTaskState], reasons: [String]) -> [String] {
        let job = record.job
        if !tasks.isEmpty, tasks.allSatisfy({ $0.state == "CANCELLED" && ($0.reason ?? "").hasPrefix("Dependency") }) {
            return ["stage \(stage.name) did not run: job \(job) was cancelled because a stage it reads failed"]
        }
        let failed = tasks.filter { !$0.succeeded }
        if failed.isEmpty {
            let logs = SlurmJobScript.logPath(folder: stage.output, job: job, task: record.tasks == nil ? nil : 0)
                .replacingOccurrences(of: "_0.log", with: "_*.log")
            let what = tasks.isEmpty ? "job \(job) ended (Slurm no longer knows how)" : "every task of job \(job) completed"
            return ["stage \(stage.name) is not complete: \(what), but \(reasons.joined(separator: "; ")); see \(logs)"]
        }
        return failed.map { task in
            let attempts = (task.restarts ?? 0) + 1
            let which = task.task.map { "task \($0) of job \(job)" } ?? "job \(job)"
            return "stage \(stage.name) failed on Slurm: \(which) \(task.state)\(task.exitDescription.map { " (\($0))" } ?? "") after \(Inspect.counted(attempts, "attempt")); see \(SlurmJobScript.logPath(folder: stage.output, job: job, task: task.task))"
        }
    }

    // MARK: Status

    /// A line for `lethe status` about the stage's recorded job, or nil when there is none worth showing
    /// (no job, or a complete stage whose job Slurm has forgotten).
    public func statusLine(for check: StageCheck) -> String? {
        guard let record = SlurmJobRecord.read(in: check.folder) else { return nil }
        let indent = String(repeating: " ", count: max(16, check.stage.name.count + 2))
        let tasks: [SlurmTaskState]
        do { tasks = try client.tasks(of: record.job) } catch {
            return check.isCurrent ? nil : "\(indent)slurm job \(record.job): state unknown (\(error))"
        }
        if tasks.isEmpty {
            return check.isCurrent ? nil : "\(indent)slurm job \(record.job) (submitted \(record.submitted)) has ended; Slurm no longer knows how"
        }
        var line = "\(indent)slurm job \(record.job): \(Self.summary(of: tasks, total: record.tasks))"
        // The logs of the tasks that ended badly (a task cancelled before it started has none).
        let failed = tasks.filter { !$0.isActive && !$0.succeeded }
        for task in failed.prefix(5) {
            let log = SlurmJobScript.logPath(folder: check.stage.output, job: record.job, task: task.task)
            guard FileManager.default.fileExists(atPath: resolve(log, against: pipeline.base).path) else { continue }
            line += "; \(task.task.map { "task \($0)" } ?? "job") \(task.state)\(task.exitDescription.map { " (\($0))" } ?? ""): \(log)"
        }
        if failed.count > 5 { line += "; ..." }
        return line
    }

    /// "2 running, 1 pending (Dependency), 1 completed" for a job's tasks; tasks Slurm does not list (finished long
    /// ago) are counted as "n ended" when the total is known.
    static func summary(of tasks: [SlurmTaskState], total: Int?) -> String {
        let order = ["RUNNING", "COMPLETING", "PENDING", "REQUEUED", "COMPLETED"]
        var groups: [String: Int] = [:]
        for task in tasks {
            // Why a task waits, or why it was cancelled (a stage it reads failed).
            let why = task.state == "PENDING" || task.state == "CANCELLED" ? task.reason.map { " (\($0))" } ?? "" : ""
            groups[task.state.lowercased() + why, default: 0] += 1
        }
        let sorted = groups.keys.sorted {
            let a = order.firstIndex(of: $0.split(separator: " ")[0].uppercased()) ?? order.count
            let b = order.firstIndex(of: $1.split(separator: " ")[0].uppercased()) ?? order.count
            return a != b ? a < b : $0 < $1
        }
        var parts = sorted.map { "\(groups[$0]!) \($0)" }
        let listed = Set(tasks.map { $0.task ?? -1 }).count
        if let total, total > listed { parts.append("\(total - listed) ended") }
        return parts.joined(separator: ", ")
    }
}
