import Foundation
import LetheShards

/// The state of one stage's output compared with what pipeline.json asks for.
public struct StageCheck {
    public let stage: PipelineStage
    public let executable: StageExecutable
    public let folder: StageFolder
    public let manifest: StageManifest?
    /// The fingerprint the stage's output must carry; nil while an input stage is still to be rebuilt.
    public let expectedFingerprint: String?
    /// Why the output is not current; empty when it is.
    public var reasons: [String]
    /// For an incomplete folder: units done under the expected fingerprint, and how many there are.
    public var unitsDone = 0
    public var unitsTotal: Int?
    /// Why the stage cannot run as pipeline.json gives it: an option its executable does not have or refuses, an
    /// input file or folder that cannot be read. It stops any run that includes the stage, and only those.
    public var problem: String?

    public var isCurrent: Bool { reasons.isEmpty }
}

public struct PlannedStage {
    public var check: StageCheck
    /// Whether `lethe run` runs it this time.
    public var willRun: Bool
    /// A forced rerun redoes every unit, even those already done under the same fingerprint.
    public var forced: Bool
    /// Stale but left alone because it is outside the `--stage` selection.
    public var outOfScope: Bool
}

/// Decides which stages of a pipeline are current, and runs the others in dependency order.
public final class Runner {
    public let pipeline: Pipeline
    public let locator: ExecutableLocator
    public let cache: FileHashCache
    public var executor: StageExecutor
    /// Processes per shard-parallel stage.
    public var jobs: Int
    /// Where the runner's own messages go.
    public var say: (String) -> Void

    public init(pipeline: Pipeline, locator: ExecutableLocator, cache: FileHashCache, executor: StageExecutor = LocalExecutor(),
                jobs: Int = 1, say: @escaping (String) -> Void = { print($0) }) {
        self.pipeline = pipeline
        self.locator = locator
        self.cache = cache
        self.executor = executor
        self.jobs = jobs
        self.say = say
    }

    // MARK: Checking

    /// Compares one stage's folder with the pipeline. `pending` holds the stages that will be (or need to
    /// be) rebuilt before it; a stage reading one of them is stale whatever its folder holds.
    public func check(_ name: String, pending: Set<String>) throws -> StageCheck {
        let stage = pipeline.stages[name]!
        let executable: StageExecutable
        do { executable = try locator.describe(stage.run, base: pipeline.base) } catch let error as PipelineError {
            throw PipelineError("\(pipeline.url.lastPathComponent): stages.\(name).run: \(error.description)")
        }
        let folder = StageFolder(url: pipeline.outputURL(of: name))
        var manifest: StageManifest?
        var manifestProblem: String?
        do { manifest = try folder.manifest() } catch { manifestProblem = "\(error)" }
        func cannotRun(_ problem: String) -> StageCheck {
            var check = StageCheck(stage: stage, executable: executable, folder: folder, manifest: manifest, expectedFingerprint: nil,
                                   reasons: ["cannot run: \(problem)"])
            check.problem = problem
            return check
        }

        // The options and the files a stage reads must be right now, whether or not the stages before it are to
        // run: a typo or a model missing in the last stage stops the run before the first stage starts (or any job
        // is submitted).
        if let problem = optionProblem(of: stage, against: executable.description) { return cannotRun(problem) }
        if let problem = locator.problem(with: commandLine(of: stage), for: executable) {
            return cannotRun("\(pipeline.url.lastPathComponent): stages.\(name): \(executable.description.executable) refuses its options: \(problem)")
        }
        for option in stage.files.keys.sorted() {
            for path in stage.files[option]! where !FileManager.default.fileExists(atPath: resolve(path, against: pipeline.base).path) {
                return cannotRun("\(pipeline.url.lastPathComponent): stages.\(name).files.\(option): \(path): no such file or folder")
            }
        }

        let rebuilt = stage.upstream.filter(pending.contains)
        guard rebuilt.isEmpty else {
            return StageCheck(stage: stage, executable: executable, folder: folder, manifest: manifest, expectedFingerprint: nil,
                              reasons: rebuilt.map { "input stage \($0) is rebuilt first" })
        }
        let arguments = try StageArguments.parse(stage.arguments(outputOf: { self.pipeline.stages[$0]!.output }))
        let fingerprint: String, parameters: [String: [String]], inputs: [String: [InputIdentity]]
        do {
            (fingerprint, parameters, inputs) = try Fingerprint.of(arguments: arguments, description: executable.description,
                                                                   base: pipeline.base, cache: cache)
        } catch let error as PipelineError {
            return cannotRun(error.description)
        }
        var check = StageCheck(stage: stage, executable: executable, folder: folder, manifest: manifest,
                               expectedFingerprint: fingerprint, reasons: [])
        if let manifestProblem {
            check.reasons = ["manifest invalid: \(manifestProblem)"]
        } else if let manifest {
            if manifest.fingerprint != fingerprint {
                check.reasons = Explain.differences(recorded: manifest, description: executable.description,
                                                    parameters: parameters, inputs: inputs)
            } else if let damage = folder.problems(with: manifest, checkContent: false).first {
                check.reasons = ["output damaged: \(damage)"]
            }
        } else {
            let records = folder.recordedUnits().compactMap { folder.completedUnit($0, fingerprint: fingerprint, checkContent: false) }
            check.unitsDone = records.count
            check.unitsTotal = records.lazy.compactMap(\.units).first
            if let total = check.unitsTotal {
                check.reasons = ["output incomplete (\(records.count) of \(total) shards done)"]
            } else if !records.isEmpty {
                // A stage that finds its units while reading (tokenize) knows the total only at the end.
                check.reasons = ["output incomplete (\(Inspect.counted(records.count, "shard")) done)"]
            } else {
                check.reasons = ["output missing"]
            }
        }
        return check
    }

    /// Every option the pipeline gives must be classified as the executable classifies it (input paths under
    /// "inputs" or "files", everything else under "params"), be one of its options or flags with a value of the
    /// right kind, and be given once unless the executable takes it repeatedly. The first problem, or nil.
    func optionProblem(of stage: PipelineStage, against description: StageDescription) -> String? {
        let file = pipeline.url.lastPathComponent
        // Whether the executable is known to take `option` once only (an older one lists no repeatable options).
        func once(_ option: String) -> Bool { description.repeatable.map { !$0.contains(option) } ?? false }
        let declared = description.inputs.map { "--" + $0 }.joined(separator: ", ")
        for (section, options) in [("inputs", stage.inputs), ("files", stage.files)] {
            for (option, values) in options.sorted(by: { $0.key < $1.key }) {
                let location = "\(file): stages.\(stage.name).\(section).\(option)"
                if !description.inputs.contains(option) {
                    return "\(location): \(description.executable) has no input option --\(option) (its inputs: \(declared.isEmpty ? "none" : declared)); other options go under \"params\""
                }
                if values.count > 1, once(option) {
                    return "\(location): --\(option) of \(description.executable) takes one \(section == "inputs" ? "stage" : "path"), not \(values.count)"
                }
            }
        }
        for option in stage.params.keys.sorted() where description.inputs.contains(option) {
            return "\(file): stages.\(stage.name).params.\(option): --\(option) is an input of \(description.executable); list it under \"files\" (a path) or \"inputs\" (a stage)"
        }
        // An executable that lists its command line: every param must be one of its options or flags, with a
        // value of the right kind, so that a typo stops the run before any stage starts (or any job is submitted).
        guard let options = description.options, let flags = description.flags else { return nil }
        for (option, value) in stage.params.sorted(by: { $0.key < $1.key }) {
            let location = "\(file): stages.\(stage.name).params.\(option)"
            let values: [JSONValue]
            if case .array(let elements) = value { values = elements } else { values = [value] }
            let bools = values.filter { if case .bool = $0 { true } else { false } }.count
            if flags.contains(option) {
                if bools < values.count { return "\(location): --\(option) is a flag of \(description.executable); give true or false" }
                // false leaves the flag out, which keeps its default: one with an inverse may be on by default.
                if values.contains(.bool(false)), flags.contains("no-" + option) {
                    return "\(location): false leaves --\(option) out, which keeps its default; to turn it off give \"no-\(option)\": true"
                }
            } else if options.contains(option) {
                if bools > 0 { return "\(location): --\(option) of \(description.executable) takes a value, not true or false" }
                if values.count > 1, once(option) {
                    return "\(location): --\(option) of \(description.executable) takes one value, not \(values.count)"
                }
            } else {
                let settable = Set(options + flags).subtracting(description.inputs).subtracting(Pipeline.runnerOptions).sorted()
                return "\(location): \(description.executable) has no option --\(option)\(Pipeline.suggestion(option, among: settable)) (see \(description.executable) --help)"
            }
        }
        return nil
    }

    /// Asks the executables about every stage's command line at once (one process per executable), before the
    /// stages are checked one by one.
    func prepareArgumentChecks() {
        var lines: [(StageExecutable, [String])] = []
        for name in pipeline.order {
            let stage = pipeline.stages[name]!
            guard let executable = try? locator.describe(stage.run, base: pipeline.base) else { continue }  // check() says why
            lines.append((executable, commandLine(of: stage)))
        }
        locator.prepareChecks(lines)
    }

    /// Checks every stage in order; a stage that is not current makes everything downstream stale.
    public func status() throws -> [StageCheck] {
        prepareArgumentChecks()
        var pending: Set<String> = []
        return try pipeline.order.map { name in
            let check = try self.check(name, pending: pending)
            if !check.isCurrent { pending.insert(name) }
            return check
        }
    }

    /// What `lethe run` would do. With `target`, only that stage (always) and the stages it needs (when
    /// not current) run; `force` reruns every stage in that selection.
    public func plan(target: String?, force: Bool) throws -> [PlannedStage] {
        if let target, pipeline.stages[target] == nil {
            throw PipelineError("\(pipeline.url.lastPathComponent): no stage named \"\(target)\"\(Pipeline.suggestion(target, among: Array(pipeline.stages.keys))) (stages: \(pipeline.order.joined(separator: ", ")))")
        }
        prepareArgumentChecks()
        let scope = target.map { Set(pipeline.upstream(of: $0) + [$0]) } ?? Set(pipeline.order)
        var pending: Set<String> = []
        var plans: [PlannedStage] = []
        for name in pipeline.order {
            var check = try self.check(name, pending: pending)
            if let problem = check.problem, scope.contains(name) { throw PipelineError(problem) }
            let forced = scope.contains(name) && (force || name == target)
            if forced { check.reasons.append(name == target ? "requested with --stage" : "forced with --force") }
            let willRun = scope.contains(name) && !check.isCurrent
            // A stage left out of the selection that is not current still makes the stages reading it stale
            // (and their fingerprints unknowable: its folder may not exist yet).
            if !check.isCurrent { pending.insert(name) }
            plans.append(PlannedStage(check: check, willRun: willRun, forced: forced, outOfScope: !scope.contains(name) && !check.isCurrent))
        }
        return plans
    }

    // MARK: Running

    /// Runs what `plan` selects. Returns the number of stages run; throws on the first failure.
    @discardableResult
    public func run(target: String?, force: Bool, dryRun: Bool) throws -> Int {
        let plans = try plan(target: target, force: force)
        let toRun = plans.filter(\.willRun)
        if dryRun {
            for plan in plans { say(line(for: plan)) }
            say(toRun.isEmpty ? "Nothing to do: all \(plans.count) stages are up to date." : "\(toRun.count) of \(plans.count) stages would run.")
            return 0
        }
        guard !toRun.isEmpty else {
            say("Nothing to do: all \(plans.count) stages are up to date.")
            return 0
        }
        for plan in toRun {
            // Inputs rebuilt a moment ago have new manifests: check again for the real fingerprint.
            let check = try self.check(plan.check.stage.name, pending: [])
            if let problem = check.problem { throw PipelineError(problem) }
            try execute(check, forced: plan.forced, why: plan.check.reasons)
        }
        if let target {
            let stale = pipeline.downstream(of: target)
            if !stale.isEmpty { say("Now stale (downstream of \(target)): \(stale.joined(separator: ", ")); `lethe run` brings them up to date.") }
        }
        return toRun.count
    }

    /// A stage's command line as the runner gives it, before the worker options (--shard-index, --num-shards,
    /// --threads): the pipeline's options, then the output folder and the stage name. `--force` lets the stage
    /// replace output of another configuration (the runner has decided it must); it keeps same-configuration units.
    public func commandLine(of stage: PipelineStage) -> [String] {
        stage.arguments(outputOf: { self.pipeline.stages[$0]!.output })
            + ["--output", stage.output, "--stage", stage.name, "--force", "--progress", "lines"]
    }

    func execute(_ check: StageCheck, forced: Bool, why: [String]) throws {
        let name = check.stage.name
        let folder = check.folder
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        if forced { try folder.discardCompletion() }
        try folder.clearResourceRecords()
        say("== \(name): running \(check.executable.description.executable) (\(why.joined(separator: "; ")))")
        let start = Date()
        let base = commandLine(of: check.stage)
        let workers = check.executable.description.parallel ? max(1, jobs) : 1
        // The machine's cores shared among the workers; the pipeline's "cpus", if given, caps each worker's share.
        let share = max(1, ProcessInfo.processInfo.activeProcessorCount / workers)
        let threads = check.stage.resources.cpus.map { min($0, share) } ?? share
        let threadOptions = workers > 1 || check.stage.resources.cpus != nil ? ["--threads", "\(threads)"] : []
        let invocations = (0..<workers).map { index in
            StageInvocation(executable: check.executable.url,
                            arguments: base + (workers > 1 ? ["--shard-index", "\(index)", "--num-shards", "\(workers)"] : []) + threadOptions,
                            workingDirectory: pipeline.base, label: workers > 1 ? "\(name) \(index + 1)/\(workers)" : name,
                            environment: [ResourceUsage.environmentName: folder.resourceFile(worker: "\(index)").path])
        }
        let log = folder.url.appendingPathComponent(StageFolder.logName)
        let statuses = try executor.run(invocations, log: log)
        let logPath = check.stage.output + "/" + StageFolder.logName
        if let failed = statuses.firstIndex(where: { $0 != 0 }) {
            throw PipelineError("stage \(name) failed (\(invocations[failed].label): \(check.executable.description.executable) exited with status \(statuses[failed])); see \(logPath)")
        }
        guard let manifest = try folder.manifest() else {
            throw PipelineError("stage \(name): \(check.executable.description.executable) exited without writing \(check.stage.output)/manifest.json; see \(logPath)")
        }
        if let expected = check.expectedFingerprint, manifest.fingerprint != expected {
            throw PipelineError("stage \(name): \(check.executable.description.executable) recorded fingerprint \(manifest.fingerprint.prefix(12)) but the runner expected \(expected.prefix(12)); the executable and lethe disagree about its options")
        }
        let seconds = Date().timeIntervalSince(start)
        let usage = folder.resourceSummary().map { ", " + $0.description } ?? ""
        say("== \(name): done in \(String(format: "%.1f", seconds)) s\(usage) (\(Inspect.counted(manifest.totals.shards, "shard")), \(Inspect.counted(manifest.totals.samples, "sample")), \(Inspect.counted(manifest.files.count, "file")))")
    }

    // MARK: Text

    /// One line per stage for `--dry-run` and `status`.
    public func line(for plan: PlannedStage) -> String {
        let name = plan.check.stage.name.padding(toLength: max(16, plan.check.stage.name.count + 2), withPad: " ", startingAt: 0)
        if plan.willRun { return "\(name)run: \(plan.check.reasons.joined(separator: "; "))" }
        if plan.outOfScope { return "\(name)stale, not selected: \(plan.check.reasons.joined(separator: "; "))" }
        return "\(name)up to date"
    }

    public func statusLine(for check: StageCheck) -> String {
        let name = check.stage.name.padding(toLength: max(16, check.stage.name.count + 2), withPad: " ", startingAt: 0)
        guard check.isCurrent, let manifest = check.manifest else {
            return "\(name)stale: \(check.reasons.joined(separator: "; "))"
        }
        let usage = check.folder.resourceSummary().map { "; " + $0.description } ?? ""
        return "\(name)up to date: \(Inspect.counted(manifest.totals.shards, "shard")), \(Inspect.counted(manifest.totals.samples, "sample")), \(Inspect.counted(manifest.files.count, "file")), finished \(manifest.finished)\(usage)"
    }
}
