import Foundation
import LethePipeline
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
            throw StageError("\(path): incomplete stage output (no manifest.json); run that stage first")
        }
        if let problem = folder.problems(with: manifest, checkContent: false).first { throw StageError(problem) }
        self.manifest = manifest
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

/// Runs a map stage: input shard j becomes output shard j. `transform` reads the input shard lazily and
/// appends to the output writer, returning facts for the manifest's "extra" (summed over shards).
///
///     try runMapStage(run, input: options.input) { input, output in
///         while var sample = try input.next() { ...; try output.append(sample) }
///         return [:]
///     }
public func runMapStage(_ run: StageRun, input path: String, concurrency: Int = 1,
                        summarize: ([JSONValue]) -> JSONValue = mergeExtras,
                        finalize: ((inout StageFiles) throws -> Void)? = nil,
                        transform: @escaping (_ input: ShardReader, _ output: ShardWriter) throws -> JSONValue) throws {
    if run.isUpToDate { return try run.runUnits(count: 0, work: { _, _ in .null }) }
    let input = try StageInput(path: path)
    try run.runUnits(count: input.shardCount, samplesPerUnit: { input.manifest.shards[$0].samples }, concurrency: concurrency,
                     summarize: summarize, finalize: finalize) { unit, writer in
        try transform(try ShardReader(url: input.shardURL(unit)), writer)
    }
}
