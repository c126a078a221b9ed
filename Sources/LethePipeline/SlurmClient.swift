import Foundation

/// The state of one Slurm job, or of one task of an array job, as squeue, scontrol or sacct report it.
public struct SlurmTaskState: Equatable, Sendable {
    /// The job id that was submitted (the array's id for an array task).
    public var job: String
    /// The array index; nil for a job that is not an array.
    public var task: Int?
    /// Slurm's state name: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...
    public var state: String
    /// Why it waits or ended ("Dependency", "NonZeroExitCode", "DependencyNeverSatisfied"), when Slurm says.
    public var reason: String?
    /// "exit status:signal", e.g. "1:0", when Slurm says.
    public var exitCode: String?
    /// How often Slurm requeued it (each retry is one).
    public var restarts: Int?

    public init(job: String, task: Int?, state: String, reason: String? = nil, exitCode: String? = nil, restarts: Int? = nil) {
        self.job = job
        self.task = task
        self.state = state
        self.reason = reason
        self.exitCode = exitCode
        self.restarts = restarts
    }

    /// Still queued or running (Slurm may still start, finish or requeue it).
    public var isActive: Bool { ["PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
                                 "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"].contains(state) }
    public var succeeded: Bool { state == "COMPLETED" }

    /// "exit status 1" or "signal 9" from Slurm's "1:0" or "0:9"; nil for "0:0" or when unknown.
    public var exitDescription: String? {
        guard let parts = exitCode?.split(separator: ":").compactMap({ Int($0) }), parts.count == 2 else { return nil }
        if parts[1] != 0 { return "signal \(parts[1])" }
        return parts[0] != 0 ? "exit status \(parts[0])" : nil
    }
}

/// Slurm's client commands (sbatch, squeue, scontrol, sacct, scancel), found on PATH, with their output parsed.
/// Set SLURM_CONF in the environment to talk to another cluster (the tests start one on localhost).
public struct SlurmClient: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public struct Output {
        public var status: Int32
        public var text: String
        public var error: String
    }

    /// The command's path on PATH, or nil.
    public func locate(_ tool: String) -> URL? {
        for folder in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !folder.isEmpty {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Throws for the first of `tools` that is not on PATH.
    public func checkInstalled(_ tools: [String]) throws {
        if let missing = tools.first(where: { locate($0) == nil }) {
            throw PipelineError("\(missing): not found on PATH; Slurm's client commands (sbatch, squeue, scontrol, scancel) are needed to run on Slurm")
        }
    }

    /// Runs a Slurm command and returns its status and output; throws when it cannot be run at all.
    public func run(_ tool: String, _ arguments: [String]) throws -> Output {
        try checkInstalled([tool])
        let url = locate(tool)!
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = environment
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw PipelineError("\(url.path): cannot run (\(error.localizedDescription))") }
        // Standard error is read on another thread so that neither pipe can fill up and block the command.
        let errorText = ErrorText()
        let reader = DispatchGroup()
        DispatchQueue.global().async(group: reader) { errorText.data = error.fileHandleForReading.readDataToEndOfFile() }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        reader.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, text: String(decoding: outputData, as: UTF8.self),
                      error: String(decoding: errorText.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs a command that must succeed; a failure is one line naming the command and what Slurm said.
    func require(_ tool: String, _ arguments: [String]) throws -> String {
        let output = try run(tool, arguments)
        guard output.status == 0 else {
            let said = output.error.isEmpty ? "exit status \(output.status)" : output.error.replacingOccurrences(of: "\n", with: "; ")
            throw PipelineError("\(tool) \(arguments.joined(separator: " ")): \(said)")
        }
        return output.text
    }

    // MARK: Commands

    /// Submits a job script; `afterOK` are the jobs it waits for (`--dependency=afterok:...`). Returns the job id.
    public func submit(script: URL, afterOK: [String]) throws -> String {
        var arguments = ["--parsable"]
        if !afterOK.isEmpty { arguments.append("--dependency=afterok:" + afterOK.joined(separator: ":")) }
        let text = try require("sbatch", arguments + [script.path])
        // --parsable prints "JOBID" or "JOBID;CLUSTER".
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else { throw PipelineError("sbatch \(script.path): unexpected answer \"\(text)\"") }
        return id
    }

    /// The tasks of `jobs` that are still queued or running (squeue). Jobs Slurm no longer lists are simply absent.
    public func activeTasks(of jobs: [String]) throws -> [SlurmTaskState] {
        guard !jobs.isEmpty else { return [] }
        let output = try run("squeue", ["--noheader", "--array", "--jobs=" + jobs.joined(separator: ","), "--format=%i|%T|%r"])
        if output.status != 0 {
            // squeue fails when none of the ids is known any more (they all ended long ago).
            if output.error.contains("Invalid job id") { return [] }
            throw PipelineError("squeue: \(output.error.isEmpty ? "exit status \(output.status)" : output.error)")
        }
        return Self.parseSqueue(output.text)
    }

    /// Every task of `job`, finished ones included: scontrol (which remembers jobs for a few minutes after they
    /// end), else sacct (on clusters that keep accounting). Empty when Slurm knows nothing of the job any more.
    public func tasks(of job: String) throws -> [SlurmTaskState] {
        let output = try run("scontrol", ["--oneliner", "show", "job", job])
        if output.status == 0 {
            let tasks = Self.parseScontrol(output.text)
            if !tasks.isEmpty { return tasks }
        }
        guard locate("sacct") != nil else { return [] }
        let accounting = try run("sacct", ["--noheader", "--parsable2", "--allocations", "--jobs=" + job, "--format=JobID,State,ExitCode"])
        return accounting.status == 0 ? Self.parseSacct(accounting.text) : []
    }

    /// Cancels jobs (every task of an array).
    public func cancel(_ jobs: [String]) throws {
        guard !jobs.isEmpty else { return }
        _ = try require("scancel", jobs)
    }

    // MARK: Parsing

    /// Lines of `squeue --array --format=%i|%T|%r`: "123_4|RUNNING|None", "124|PENDING|Dependency".
    static func parseSqueue(_ text: String) -> [SlurmTaskState] {
        var seen: Set<String> = []
        return text.split(separator: "\n").flatMap { line -> [SlurmTaskState] in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2 else { return [] }
            return expand(jobID: fields[0], state: fields[1], reason: fields.count > 2 ? fields[2] : nil, exitCode: nil, restarts: nil)
        }.filter { seen.insert("\($0.job)_\($0.task ?? -1)").inserted }  // a requeued task can be listed twice
    }

    /// `scontrol --oneliner show job`: one line per task ("JobId=125 ArrayJobId=123 ArrayTaskId=2 ... JobState=FAILED
    /// Reason=NonZeroExitCode ... Restarts=1 ... ExitCode=1:0 ..."); tasks not started yet share one line whose
    /// ArrayTaskId is a range ("3-7%2").
    static func parseScontrol(_ text: String) -> [SlurmTaskState] {
        text.split(separator: "\n").flatMap { line -> [SlurmTaskState] in
            var fields: [String: String] = [:]
            var last: String?
            for token in line.split(separator: " ") {
                if let equals = token.firstIndex(of: "="), token[..<equals].allSatisfy({ $0.isLetter || "/:_".contains($0) }) {
                    let key = String(token[..<equals])
                    fields[key] = String(token[token.index(after: equals)...])
                    last = key
                } else if let key = last {
                    fields[key, default: ""] += " " + token  // a value with spaces (a path, a command)
                }
            }
            guard let jobID = fields["JobId"], let state = fields["JobState"] else { return [] }
            let job = fields["ArrayJobId"] ?? jobID
            let restarts = fields["Restarts"].flatMap { Int($0) }
            // A job just submitted has no reason yet, but its unmet dependency is already listed.
            let waitsForJob = fields["Dependency"].map { $0.contains("(unfulfilled)") } ?? false
            let reason = fields["Reason"].flatMap { $0 == "None" ? nil : $0 } ?? (state == "PENDING" && waitsForJob ? "Dependency" : nil)
            guard let range = fields["ArrayTaskId"] else {
                return [SlurmTaskState(job: job, task: nil, state: state, reason: reason, exitCode: fields["ExitCode"], restarts: restarts)]
            }
            return taskIndices(range).map {
                SlurmTaskState(job: job, task: $0, state: state, reason: reason, exitCode: fields["ExitCode"], restarts: restarts)
            }
        }
    }

    /// `sacct --parsable2 --format=JobID,State,ExitCode`: "123_4|FAILED|1:0", "123_[5-7]|PENDING|0:0", "124|CANCELLED by 0|0:0".
    static func parseSacct(_ text: String) -> [SlurmTaskState] {
        text.split(separator: "\n").flatMap { line -> [SlurmTaskState] in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { return [] }
            let state = fields[1].split(separator: " ").first.map(String.init) ?? fields[1]
            return expand(jobID: fields[0], state: state, reason: nil, exitCode: fields[2], restarts: nil)
        }
    }

    /// "123_4", "123_[5-7%2]" or "124" as task states.
    static func expand(jobID: String, state: String, reason: String?, exitCode: String?, restarts: Int?) -> [SlurmTaskState] {
        let reason = reason.flatMap { $0 == "None" || $0.isEmpty ? nil : $0 }
        guard let underscore = jobID.firstIndex(of: "_") else {
            return [SlurmTaskState(job: jobID, task: nil, state: state, reason: reason, exitCode: exitCode, restarts: restarts)]
        }
        let job = String(jobID[..<underscore])
        let tasks = String(jobID[jobID.index(after: underscore)...]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return taskIndices(tasks).map { SlurmTaskState(job: job, task: $0, state: state, reason: reason, exitCode: exitCode, restarts: restarts) }
    }

    /// "0-3,7,9-11:2%4" → [0, 1, 2, 3, 7, 9, 11] (a "%N" limit and ":step" as Slurm writes them).
    static func taskIndices(_ text: String) -> [Int] {
        let list = text.split(separator: "%").first ?? ""
        return list.split(separator: ",").flatMap { part -> [Int] in
            let stepParts = part.split(separator: ":")
            let step = stepParts.count > 1 ? max(1, Int(stepParts[1]) ?? 1) : 1
            let bounds = stepParts[0].split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: return [bounds[0]]
            case 2 where bounds[0] <= bounds[1]: return Array(stride(from: bounds[0], through: bounds[1], by: step))
            default: return []
            }
        }
    }
}

/// Standard error of a command, filled by the thread that reads it (the DispatchGroup orders the access).
private final class ErrorText: @unchecked Sendable {
    var data = Data()
}
