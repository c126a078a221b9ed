import ArgumentParser
import Foundation

/// The options every stage executable shares (`@OptionGroup var stage: StageOptions`); a shard-parallel one adds
/// `WorkerOptions`. Numeric options here and in the executables parse `.unconditional`ly (a repeatable one
/// `.unconditionalSingleValue`), so that `--threads -2` reaches the option's own check instead of ArgumentParser's
/// "Missing value" (it would read -2 as an option).
public struct StageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder for this stage's shards, manifest.json and log.", valueName: "dir"))
    public var output: String

    @Option(help: ArgumentHelp("Stage name recorded in the manifest (default: the output folder's name).", valueName: "name"))
    public var stage: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads for this worker.", valueName: "n"))
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Progress display: auto (a live line on a terminal, plain lines otherwise), bar, lines or off.")
    public var progress: ProgressMode = .auto

    @Flag(help: "Replace output of a different configuration found in the output folder (output of the same configuration is kept and resumed).")
    public var force = false

    public init() {}

    /// Options that never change what a stage writes; they are left out of its fingerprint (with WorkerOptions').
    public static let executionOnly = ["output", "stage", "threads", "progress", "force"] + WorkerOptions.executionOnly

    /// The stage's name: `--stage`, else the output folder's name.
    public var stageName: String { stage ?? URL(fileURLWithPath: output).standardizedFileURL.lastPathComponent }

    public func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard !output.isEmpty else { throw ValidationError("--output must name a folder") }
    }
}

/// The options of a shard-parallel stage's worker (`@OptionGroup var workers: WorkerOptions`); a stage that runs as
/// one process (train, report) has none, so its --help does not offer them.
public struct WorkerOptions: ParsableArguments {
    @Option(name: .customLong("shard-index"), parsing: .unconditional,
            help: ArgumentHelp("This worker's number, 0 ..< num-shards: it does the units j with j % num-shards == shard-index.", valueName: "i"))
    public var shardIndex = 0

    @Option(name: .customLong("num-shards"), parsing: .unconditional,
            help: ArgumentHelp("How many workers (processes, cluster tasks) share the stage. Any split gives the same output.", valueName: "n"))
    public var numShards = 1

    public init() {}

    static let executionOnly = ["shard-index", "num-shards"]

    public func validate() throws {
        guard numShards >= 1 else { throw ValidationError("--num-shards must be at least 1") }
        guard (0..<numShards).contains(shardIndex) else { throw ValidationError("--shard-index must be in 0 ..< \(numShards)") }
    }
}
