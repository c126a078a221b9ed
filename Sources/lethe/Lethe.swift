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
        subcommands: [Run.self, Status.self, Inspect.self, Validate.self])
}

/// Writes a line to standard output at once (unbuffered, so it interleaves with stage output).
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

func loadPipeline(_ path: String) throws -> Pipeline { try Pipeline.load(URL(fileURLWithPath: path).standardizedFileURL) }

struct Run: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the stages that are not up to date.",
        discussion: "Examples:\n  lethe run                      run pipeline.json\n  lethe run --dry-run            say what would run and why\n  lethe run --stage encode       rerun encode (and what it needs); later stages become stale\n  lethe run --jobs 2             run shard-parallel stages as 2 processes")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    @Option(help: ArgumentHelp("Rerun this stage even if up to date (running first the stages it needs that are not); the stages after it become stale.", valueName: "name"))
    var stage: String?

    @Flag(help: "Rerun every selected stage even if up to date.")
    var force = false

    @Flag(name: .customLong("dry-run"), help: "Say which stages would run and why; run nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Processes for each shard-parallel stage (each gets --shard-index/--num-shards).", valueName: "n"))
    var jobs = 1

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let runner = Runner(pipeline: try loadPipeline(pipeline), locator: .standard(), cache: .standard(), jobs: jobs, say: say)
        try runner.run(target: stage, force: force, dryRun: dryRun)
    }
}

struct Status: LetheCommand {
    static let configuration = CommandConfiguration(abstract: "Show whether each stage is up to date, and why not.")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    func run() throws {
        let runner = Runner(pipeline: try loadPipeline(pipeline), locator: .standard(), cache: .standard(), say: say)
        let checks = try runner.status()
        for check in checks { say(runner.statusLine(for: check)) }
        let stale = checks.filter { !$0.isCurrent }.count
        say(stale == 0 ? "All \(checks.count) stages are up to date." : "\(stale) of \(checks.count) stages are not up to date.")
    }
}

struct Inspect: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a shard's samples, or a stage folder's manifest.",
        discussion: "Examples:\n  lethe inspect stages/tokenize\n  lethe inspect stages/tokenize/shard-000000.tar.zst --samples 5")

    @Argument(help: "A shard file (.tar.zst) or a stage folder.")
    var path: String

    @Option(help: "How many samples of a shard to show.")
    var samples = 3

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PipelineError("\(path): no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        say(isDirectory.boolValue ? try LethePipeline.Inspect.stageFolder(url) : try LethePipeline.Inspect.shard(url, samples: max(0, samples)))
    }
}

struct Validate: LetheCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline.json, its executables, and the sha256 of every completed stage's files.")

    @Argument(help: "The pipeline file.")
    var pipeline = Pipeline.defaultFileName

    func run() throws {
        let loaded = try loadPipeline(pipeline)
        let runner = Runner(pipeline: loaded, locator: .standard(), cache: .standard(), say: say)
        var problems: [String] = []
        var verified = 0
        for check in try runner.status() {
            guard let manifest = check.manifest else { continue }
            let found = check.folder.problems(with: manifest, checkContent: true)
            problems += found
            if found.isEmpty { verified += 1 }
        }
        guard problems.isEmpty else { throw PipelineError(problems.joined(separator: "\n")) }
        say("\(loaded.url.lastPathComponent) is valid: \(loaded.stages.count) stages; the files of \(verified) completed stages match their manifests (sha256).")
    }
}
