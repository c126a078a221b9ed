import Foundation
import LethePipeline
import LetheSamples
import LetheShards

/// A complete stage folder read as input: its manifest and shards.
public struct StageInput {
    public let path: String
    public let folder: StageFolder
    public let manifest: StageManifest

    /// Opens the stage folder at `path`; it must have a valid manifest.json whose shards are all there.
    public init(path: String, base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) throws {
        self.path = path
        folder = StageFolder(url: resolve(path, against: base))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StageError("\(path): no such stage folder")
        }
        guard let manifest = try folder.manifest() else {
            throw StageError("\(path): no manifest.json: not a stage's output folder, or its stage has not finished; run that stage first")
        }
        if let problem = folder.problems(with: manifest, checkContent: false).first { throw StageError(problem) }
        self.manifest = manifest
    }

    /// Opens an input stage folder that must hold samples of `kind`: written by its producer, or, written by
    /// another executable, its first sample has the kind's distinctive member ("recon.npy"). Anything else is
    /// refused before any work, naming what was expected ("a reconstruct output").
    public static func requiring(_ path: String, kind: ChunkKind) throws -> StageInput {
        let input = try StageInput(path: path)
        let writer = input.manifest.executable.name
        guard writer != kind.producer else { return input }
        let member = kind.distinctiveMember.ext
        let first = input.shardCount > 0 ? try ShardReader(url: input.shardURL(0)).next() : nil
        guard let first, first.data(member) != nil else {
            throw StageError("\(path): not \(kind.outputName): it was written by \(writer) and "
                             + (first.map { "its samples have no KEY.\(member) (it has: \($0.members.map(\.ext).joined(separator: ", ")))" } ?? "has no samples"))
        }
        return input
    }

    public var shardCount: Int { manifest.shards.count }
    public func shardURL(_ index: Int) -> URL { folder.url.appendingPathComponent(manifest.shards[index].name) }
    /// A file the stage registered (e.g. "counts.npy").
    public func fileURL(_ name: String) throws -> URL {
        guard manifest.files.contains(where: { $0.name == name }) else {
            throw StageError("\(path): the stage output has no file \(name) (it has: \(manifest.files.map(\.name).joined(separator: ", ")))")
        }
        return folder.url.appendingPathComponent(name)
    }
}

/// What a map stage does once it knows it has work: `transform` turns one input shard into its output shard
/// (reading lazily, appending to the writer) and returns facts for the manifest's "extra"; `summarize` merges
/// them (default: summed); `finalize` may write extra files once every unit is done.
public struct MapWork {
    public var transform: (_ input: ShardReader, _ output: ShardWriter) throws -> JSONValue
    public var summarize: ([JSONValue]) -> JSONValue
    public var finalize: ((inout StageFiles) throws -> Void)?

    public init(summarize: @escaping ([JSONValue]) -> JSONValue = mergeExtras, finalize: ((inout StageFiles) throws -> Void)? = nil,
                transform: @escaping (_ input: ShardReader, _ output: ShardWriter) throws -> JSONValue) {
        self.transform = transform
        self.summarize = summarize
        self.finalize = finalize
    }
}

/// The driver of every map stage (encode, reconstruct, annotate): the shards of the input stage folders, taken
/// in order, are the units, input shard j becomes output shard j, written in input order and resumed shard by
/// shard; `concurrency` shards at a time. `open` reads an input folder (a stage may refuse another stage's
/// output before any work); `prepare` loads what the work needs (a model, a tokenizer) and runs only when the
/// stage is not up to date.
///
///     try runMapStage(run, inputs: options.input) { inputs in
///         MapWork { input, output in
///             while var sample = try input.next() { ...; try output.append(sample) }
///             return [:]
///         }
///     }
public func runMapStage(_ run: StageRun, inputs paths: [String], open: (String) throws -> StageInput = { try StageInput(path: $0) },
                        concurrency: Int = 1, prepare: ([StageInput]) throws -> MapWork) throws {
    guard !run.isUpToDate else { return run.sayUpToDate() }
    let inputs = try paths.map(open)
    let work = try prepare(inputs)
    let units = inputs.indices.flatMap { i in (0..<inputs[i].shardCount).map { (input: i, shard: $0) } }
    try run.runUnits(count: units.count, samplesPerUnit: { inputs[units[$0].input].manifest.shards[units[$0].shard].samples },
                     concurrency: concurrency, summarize: work.summarize, finalize: work.finalize) { unit, writer in
        try work.transform(try ShardReader(url: inputs[units[unit].input].shardURL(units[unit].shard)), writer)
    }
}
