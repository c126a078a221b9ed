import Foundation
import LetheShards

/// One stage of pipeline.json.
public struct PipelineStage: Equatable, Sendable {
    public var name: String
    /// The executable, e.g. "lethe-encode".
    public var run: String
    /// Option → names of the stages whose output folders it reads (`--input stages/tokenize`).
    public var inputs: [String: [String]]
    /// Option → paths of files or folders, relative to the pipeline file (`--model models/small`).
    public var files: [String: [String]]
    /// Option → value(s) that are not paths. Strings and numbers become `--key value`, arrays repeat
    /// the option, true is a bare `--key`, false leaves the option out.
    public var params: [String: JSONValue]
    /// The output folder, relative to the pipeline file: "stages/NAME" unless the stage says otherwise.
    public var output: String
    /// What one process of the stage needs (cpus, memory, time; Slurm array tasks).
    public var resources = StageResources()

    /// The command line after the executable name, without the runner's own options (--output, ...).
    public func arguments(outputOf: (String) -> String) -> [String] {
        var arguments: [String] = []
        for option in inputs.keys.sorted() { for stage in inputs[option]! { arguments += ["--" + option, outputOf(stage)] } }
        for option in files.keys.sorted() { for path in files[option]! { arguments += ["--" + option, path] } }
        for option in params.keys.sorted() {
            let values: [JSONValue]
            if case .array(let elements) = params[option]! { values = elements } else { values = [params[option]!] }
            for value in values {
                switch value {
                case .bool(true): arguments.append("--" + option)
                case .bool(false): break
                case .int(let i): arguments += ["--" + option, String(i)]
                case .double(let d): arguments += ["--" + option, d.description]
                case .string(let s): arguments += ["--" + option, s]
                default: break  // rejected by validation
                }
            }
        }
        return arguments
    }

    /// Names of the stages this one reads, sorted.
    public var upstream: [String] { Set(inputs.values.joined()).sorted() }
}

/// pipeline.json: named stages, each an executable with parameters, reading files and other stages' folders.
///
///     {"version": 1,
///      "stages": {
///        "tokenize": {"run": "lethe-tokenize", "files": {"input": ["data/prose.jsonl"]}, "params": {"chunk-size": 64}},
///        "encode":   {"run": "lethe-encode", "inputs": {"input": "tokenize"}, "files": {"model": "models/small"}}}}
public struct Pipeline: Sendable {
    public static let defaultFileName = "pipeline.json"
    /// Options the runner sets itself; a pipeline may not set them.
    public static let runnerOptions: Set<String> = ["output", "stage", "shard-index", "num-shards", "force", "progress", "threads",
                                                     String(StageDescription.flag.dropFirst(2))]

    public let url: URL
    /// The folder paths, output folders and the stages' working directory are relative to: the pipeline file's
    /// folder, or the top-level "root" relative to it (pipelines/x.json with "root": ".." works from the checkout).
    public let base: URL
    public let stages: [String: PipelineStage]
    /// Stage names in dependency order (ties broken by name).
    public let order: [String]

    public init(url: URL, root: String = ".", stages: [String: PipelineStage]) throws {
        self.url = url
        base = URL(fileURLWithPath: root, relativeTo: url.deletingLastPathComponent()).standardizedFileURL
        self.stages = stages
        order = try Self.dependencyOrder(stages, file: url.lastPathComponent)
    }

    public func outputURL(of stage: String) -> URL { resolve(stages[stage]!.output, against: base) }

    /// Stages that read `stage`'s output, directly or further down, in dependency order.
    public func downstream(of stage: String) -> [String] {
        var found: Set<String> = [stage]
        for name in order where !stages[name]!.upstream.filter(found.contains).isEmpty { found.insert(name) }
        return order.filter { $0 != stage && found.contains($0) }
    }

    /// Stages `stage` needs, directly or further up, in dependency order.
    public func upstream(of stage: String) -> [String] {
        var needed: Set<String> = []
        var pending = stages[stage]?.upstream ?? []
        while let next = pending.popLast() {
            guard needed.insert(next).inserted else { continue }
            pending += stages[next]?.upstream ?? []
        }
        return order.filter(needed.contains)
    }

    // MARK: Loading and validation

    /// Reads and validates a pipeline file. Every problem is one line starting with the file name; all
    /// problems found are reported together.
    public static func load(_ url: URL) throws -> Pipeline {
        let name = url.lastPathComponent
        guard FileManager.default.fileExists(atPath: url.path) else { throw PipelineError("\(url.path): no such pipeline file") }
        let json: JSONValue
        do { json = try JSONValue.read(contentsOf: url) } catch let error as JSONError {
            throw PipelineError(error.description.replacingOccurrences(of: url.path, with: name))
        }
        var problems: [String] = []
        func problem(_ location: String, _ text: String) { problems.append("\(name): \(location): \(text)") }

        guard let top = json.objectValue else { throw PipelineError("\(name): expected a JSON object at the top level") }
        checkKeys(top, allowed: ["version", "root", "stages", "description"], at: "top level", report: problem)
        var root = "."
        if let value = top["root"] {
            if let text = value.stringValue, !text.isEmpty { root = text } else { problem("root", "expected a folder path (relative to the pipeline file)") }
        }
        if top["version"] != .int(1) { problem("version", top["version"] == nil ? "missing (write \"version\": 1)" : "unsupported version \(top["version"]!.serialized()) (this lethe reads version 1)") }
        guard let stageObjects = top["stages"]?.objectValue else {
            problem("stages", top["stages"] == nil ? "missing" : "expected an object of stage name -> stage")
            throw PipelineError(problems.joined(separator: "\n"))
        }
        if stageObjects.isEmpty { problem("stages", "no stages") }

        var stages: [String: PipelineStage] = [:]
        for stageName in stageObjects.keys.sorted() {
            let at = "stages.\(stageName)"
            if !isValidName(stageName) { problem(at, "invalid stage name (use letters, digits, '-', '_' and '.', not starting with '.')") }
            guard let object = stageObjects[stageName]!.objectValue else { problem(at, "expected an object"); continue }
            checkKeys(object, allowed: ["run", "inputs", "files", "params", "output", "resources", "description"], at: at, report: problem)
            guard let run = object["run"]?.stringValue, !run.isEmpty else {
                problem("\(at).run", object["run"] == nil ? "missing (the stage's executable, e.g. \"lethe-encode\")" : "expected an executable name")
                continue
            }
            let inputs = stringLists(object["inputs"], at: "\(at).inputs", what: "stage name", report: problem)
            let files = stringLists(object["files"], at: "\(at).files", what: "path", report: problem)
            var params: [String: JSONValue] = [:]
            if let value = object["params"] {
                if let members = value.objectValue {
                    for (option, v) in members.sorted(by: { $0.key < $1.key }) {
                        if !isValidScalarOrList(v) {
                            problem("\(at).params.\(option)", "expected a string, number, boolean or an array of them, found \(v.typeName)")
                        }
                        params[option] = v
                    }
                } else { problem("\(at).params", "expected an object of option -> value") }
            }
            var seen: [String: String] = [:]
            for (section, keys) in [("inputs", Array(inputs.keys)), ("files", Array(files.keys)), ("params", Array(params.keys))] {
                for option in keys.sorted() {
                    if !isValidName(option) || option.hasPrefix("-") { problem("\(at).\(section).\(option)", "invalid option name (write it without the leading --)") }
                    if option == "threads" {
                        problem("\(at).\(section).\(option)", "--threads is set by the runner; give the stage \"resources\": {\"cpus\": N}")
                    } else if runnerOptions.contains(option) {
                        problem("\(at).\(section).\(option)", "--\(option) is set by the runner, not by the pipeline")
                    }
                    if let other = seen[option] { problem("\(at).\(section).\(option)", "option also given in \(other)") }
                    seen[option] = section
                }
            }
            var output = "stages/\(stageName)"
            if let value = object["output"] {
                if let text = value.stringValue, !text.isEmpty { output = text } else { problem("\(at).output", "expected a folder path") }
            }
            let resources = object["resources"].map { StageResources.parse($0, at: "\(at).resources", report: problem) } ?? StageResources()
            stages[stageName] = PipelineStage(name: stageName, run: run, inputs: inputs, files: files, params: params, output: output,
                                              resources: resources)
        }
        for stage in stages.values.sorted(by: { $0.name < $1.name }) {
            for (option, names) in stage.inputs.sorted(by: { $0.key < $1.key }) {
                for upstream in names where stages[upstream] == nil {
                    let known = stages.keys.sorted().joined(separator: ", ")
                    problem("stages.\(stage.name).inputs.\(option)", "no stage named \"\(upstream)\"\(suggestion(upstream, among: Array(stages.keys))) (stages: \(known))")
                }
            }
        }
        var outputs: [String: String] = [:]
        for stage in stages.values.sorted(by: { $0.name < $1.name }) {
            let key = URL(fileURLWithPath: stage.output, relativeTo: URL(fileURLWithPath: root, relativeTo: url.deletingLastPathComponent()))
                .standardizedFileURL.path
            if let other = outputs[key] { problem("stages.\(stage.name).output", "same output folder as stage \(other)") }
            outputs[key] = stage.name
        }
        guard problems.isEmpty else { throw PipelineError(problems.joined(separator: "\n")) }
        return try Pipeline(url: url, root: root, stages: stages)
    }

    static func checkKeys(_ object: [String: JSONValue], allowed: [String], at location: String, report: (String, String) -> Void) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            report(location, "unknown key \"\(key)\"\(suggestion(key, among: allowed)) (allowed: \(allowed.joined(separator: ", ")))")
        }
    }

    /// Reads {"option": "value"} or {"option": ["v1", "v2"]}.
    static func stringLists(_ value: JSONValue?, at location: String, what: String, report: (String, String) -> Void) -> [String: [String]] {
        guard let value else { return [:] }
        guard let members = value.objectValue else { report(location, "expected an object of option -> \(what)(s)"); return [:] }
        var lists: [String: [String]] = [:]
        for (option, v) in members.sorted(by: { $0.key < $1.key }) {
            let items = v.arrayValue ?? [v]
            let strings = items.compactMap(\.stringValue)
            if strings.count != items.count || strings.contains("") || items.isEmpty {
                report("\(location).\(option)", "expected a \(what) or an array of them, found \(v.serialized())")
            }
            lists[option] = strings
        }
        return lists
    }

    static func isValidScalarOrList(_ value: JSONValue) -> Bool {
        switch value {
        case .string, .int, .double, .bool: return true
        case .array(let elements): return elements.allSatisfy { if case .array = $0 { return false }; return isValidScalarOrList($0) }
        default: return false
        }
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "." else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// " (did you mean "params"?)" when a known word is one or two edits away.
    static func suggestion(_ word: String, among candidates: [String]) -> String {
        let best = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (candidate, distance) = best, distance <= 2, distance < word.count else { return "" }
        return " (did you mean \"\(candidate)\"?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    /// Kahn's algorithm with a sorted ready list; a cycle is reported with its path.
    static func dependencyOrder(_ stages: [String: PipelineStage], file: String) throws -> [String] {
        var remaining = stages.mapValues { Set($0.upstream) }
        var order: [String] = []
        while true {
            let ready = remaining.filter { $0.value.isEmpty }.keys.sorted()
            guard !ready.isEmpty else { break }
            for name in ready {
                order.append(name)
                remaining[name] = nil
            }
            for name in remaining.keys { remaining[name]!.subtract(ready) }
        }
        guard remaining.isEmpty else {
            // Walk upstream links from any stage left over until one repeats: that is a cycle.
            var path = [remaining.keys.sorted()[0]]
            while true {
                let next = remaining[path.last!]!.sorted()[0]
                if let start = path.firstIndex(of: next) {
                    // path follows "reads from" links; reversed, it reads in the direction data flows.
                    let cycle = Array((path[start...] + [next]).reversed())
                    throw PipelineError("\(file): stages form a cycle: \(cycle.joined(separator: " -> "))")
                }
                path.append(next)
            }
        }
        return order
    }
}
