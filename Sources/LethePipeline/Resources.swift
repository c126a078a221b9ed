import Foundation
import LetheShards

/// A stage's "resources" in pipeline.json: what one of its processes (one Slurm task) needs.
///
///     "resources": {"cpus": 8, "memory": "16G", "time": "12:00:00", "tasks": 32}
///
/// On Slurm every stage asks for cpus, memory and time (`--cpus-per-task`, `--mem`, `--time`), the stage kind's
/// defaults filling in what the pipeline leaves out, and a shard-parallel stage runs as `tasks` array tasks.
/// Locally only `cpus` is used, as `--threads`, and only when the pipeline gives it.
public struct StageResources: Equatable, Sendable {
    public var cpus: Int?
    /// A size as Slurm writes it: digits and a unit K, M, G or T ("16G").
    public var memory: String?
    /// A time limit as Slurm writes it: "90" (minutes), "30:00", "2:00:00", "1-12", "1-12:00", "1-12:00:00".
    public var time: String?
    /// Slurm array tasks (workers, `--num-shards`) for a shard-parallel stage.
    public var tasks: Int?

    public init(cpus: Int? = nil, memory: String? = nil, time: String? = nil, tasks: Int? = nil) {
        self.cpus = cpus
        self.memory = memory
        self.time = time
        self.tasks = tasks
    }

    public static let keys = ["cpus", "memory", "time", "tasks"]

    /// Reads and validates the "resources" object of a stage; problems go to `report(location, text)`.
    static func parse(_ value: JSONValue, at location: String, report: (String, String) -> Void) -> StageResources {
        guard let members = value.objectValue else {
            report(location, "expected an object such as {\"cpus\": 4, \"memory\": \"8G\", \"time\": \"2:00:00\"}")
            return StageResources()
        }
        Pipeline.checkKeys(members, allowed: keys, at: location, report: report)
        var resources = StageResources()
        func count(_ key: String) -> Int? {
            guard let value = members[key] else { return nil }
            guard case .int(let n) = value, n >= 1 else {
                report("\(location).\(key)", "expected a whole number of at least 1, found \(value.serialized())")
                return nil
            }
            return n
        }
        resources.cpus = count("cpus")
        resources.tasks = count("tasks")
        if let value = members["memory"] {
            if let text = value.stringValue, let size = normalizedMemory(text) {
                resources.memory = size
            } else {
                report("\(location).memory", "expected a size with a unit such as \"16G\" or \"500M\" (K, M, G or T), found \(value.serialized())")
            }
        }
        if let value = members["time"] {
            if let text = value.stringValue, let seconds = timeLimitSeconds(text), seconds > 0 {
                resources.time = text
            } else {
                report("\(location).time", "expected a time limit such as \"90\" (minutes), \"2:00:00\" or \"1-12:00:00\" (days-hours:minutes:seconds), found \(value.serialized())")
            }
        }
        return resources
    }

    /// "16g" → "16G"; nil unless digits followed by one of K, M, G, T.
    static func normalizedMemory(_ text: String) -> String? {
        guard let unit = text.last?.uppercased(), ["K", "M", "G", "T"].contains(unit) else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.allSatisfy(\.isDigit09), let amount = Int(digits), amount > 0 else { return nil }
        return "\(amount)\(unit)"
    }

    /// Seconds in a Slurm time limit, nil when it is not one of Slurm's formats: "minutes", "minutes:seconds",
    /// "hours:minutes:seconds", "days-hours", "days-hours:minutes", "days-hours:minutes:seconds".
    public static func timeLimitSeconds(_ text: String) -> Int? {
        func numbers(_ part: Substring) -> [Int]? {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy(\.isDigit09) }) else { return nil }
            return fields.map { Int($0)! }
        }
        let dash = text.split(separator: "-", omittingEmptySubsequences: false)
        switch dash.count {
        case 1:
            guard let n = numbers(dash[0]) else { return nil }
            switch n.count {
            case 1: return n[0] * 60
            case 2: return n[0] * 60 + n[1]
            case 3: return n[0] * 3600 + n[1] * 60 + n[2]
            default: return nil
            }
        case 2:
            guard let days = numbers(dash[0]), days.count == 1, let n = numbers(dash[1]), (1...3).contains(n.count) else { return nil }
            return days[0] * 86400 + n[0] * 3600 + (n.count > 1 ? n[1] * 60 : 0) + (n.count > 2 ? n[2] : 0)
        default:
            return nil
        }
    }
}

/// What one process of a stage asks Slurm for: the pipeline's resources with the stage kind's defaults.
public struct ResourceRequest: Equatable, Sendable {
    public var cpus: Int
    public var memory: String
    public var time: String

    public init(cpus: Int, memory: String, time: String) {
        self.cpus = cpus
        self.memory = memory
        self.time = time
    }

    /// Defaults by stage kind, for the models of the paper (Mamba 130M to 1.4B in float32): one task of
    /// encode or reconstruct holds a model and a batch of states, train holds an encoder, a decoder and AdamW's
    /// moments, count holds a vocabulary table per thread. Stages Lethe does not know get the defaults of
    /// their kind (shard-parallel or single). Set "resources" in pipeline.json for larger models or clusters.
    public static func defaults(executable: String, parallel: Bool) -> ResourceRequest {
        switch executable {
        case "lethe-tokenize": return ResourceRequest(cpus: 4, memory: "8G", time: "4:00:00")
        case "lethe-count": return ResourceRequest(cpus: 8, memory: "16G", time: "12:00:00")
        case "lethe-encode", "lethe-reconstruct": return ResourceRequest(cpus: 8, memory: "16G", time: "12:00:00")
        case "lethe-annotate": return ResourceRequest(cpus: 4, memory: "8G", time: "4:00:00")
        case "lethe-train": return ResourceRequest(cpus: 16, memory: "32G", time: "2-00:00:00")
        case "lethe-report": return ResourceRequest(cpus: 2, memory: "8G", time: "2:00:00")
        default:
            return parallel ? ResourceRequest(cpus: 4, memory: "8G", time: "4:00:00")
                            : ResourceRequest(cpus: 8, memory: "16G", time: "12:00:00")
        }
    }

    /// The stage's own resources over the defaults of its kind.
    public static func resolve(_ resources: StageResources, executable: String, parallel: Bool) -> ResourceRequest {
        let defaults = self.defaults(executable: executable, parallel: parallel)
        return ResourceRequest(cpus: resources.cpus ?? defaults.cpus, memory: resources.memory ?? defaults.memory,
                               time: resources.time ?? defaults.time)
    }
}

private extension Character {
    var isDigit09: Bool { ("0"..."9").contains(self) }
}
