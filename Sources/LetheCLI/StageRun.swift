import Foundation
import LethePipeline
import LetheShards

/// The harness every stage executable runs on: fingerprint, refusal to clobber, this worker's share of
/// the units, resume, and the manifest.
///
/// A stage's work is cut into units that do not depend on the number of workers; unit j writes
/// `shard-j.tar.zst` (for a map stage, input shard j). The worker `--shard-index i --num-shards n` does
/// the units with j % n == i and skips those already done (shard and record present, same fingerprint,
/// same size and sha256). Whichever worker finds every unit done writes manifest.json, so one process,
/// several, or a cluster array give the same shards byte for byte.
///
///     let run = try StageRun(description: Self.stageDescription, options: stage, workers: workers)
///     try run.runUnits(count: blocks) { unit, writer in
///         ... try writer.append(sample) ...
///         return ["skipped_lines": 3]          // summed over units into the manifest's "extra"
///     }
public final class StageRun {
    public let description: StageDescription
    public let options: StageOptions
    /// This worker's number and how many share the stage (`WorkerOptions`; 0 of 1 for a stage run as one process).
    public let shardIndex, numShards: Int
    public let folder: StageFolder
    /// The stage name recorded in the manifest.
    public let name: String
    public let fingerprint: String
    public let parameters: [String: [String]]
    public let inputs: [String: [InputIdentity]]
    /// True when the output folder already holds complete output of this configuration.
    public let isUpToDate: Bool
    private let started = Timestamp.now()

    /// Computes the fingerprint of this command line and checks the output folder: complete output of the
    /// same configuration makes the run a no-op; output of another configuration needs `--force`.
    public init(description: StageDescription, options: StageOptions, workers: WorkerOptions? = nil,
                arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                cache: FileHashCache = .standard()) throws {
        self.description = description
        self.options = options
        (shardIndex, numShards) = workers.map { ($0.shardIndex, $0.numShards) } ?? (0, 1)
        name = options.stageName
        folder = StageFolder(url: resolve(options.output, against: base).standardizedFileURL)
        if !description.parallel, numShards > 1 {
            throw StageError("\(description.executable) runs as one process; --num-shards must be 1")
        }
        let parsed = try StageArguments.parse(arguments)
        (fingerprint, parameters, inputs) = try Fingerprint.of(arguments: parsed, description: description, base: base, cache: cache)
        for (option, paths) in parsed.inputPaths(for: description) {
            for path in paths {
                let input = resolve(path, against: base).standardizedFileURL.path
                let output = folder.url.path
                if input == output || input.hasPrefix(output + "/") || output.hasPrefix(input + "/") {
                    throw StageError("\(options.output): the output folder overlaps input --\(option) \(path); a stage never writes into its inputs")
                }
            }
        }
        isUpToDate = try StageRun.checkOutputFolder(folder, fingerprint: fingerprint, force: options.force, output: options.output,
                                                     explain: { [parameters, inputs] manifest in
                                                         Explain.differences(recorded: manifest, description: description,
                                                                             parameters: parameters, inputs: inputs)
                                                     })
        let existed = FileManager.default.fileExists(atPath: folder.url.path)
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        // Workers started together by hand may find the folder another created a moment ago: only a lone one removes it.
        if !existed, numShards == 1 { CreatedOutputFolders.add(folder.url.path) }
    }

    /// True when the folder is complete for `fingerprint`; throws when it holds other output and not `force`.
    static func checkOutputFolder(_ folder: StageFolder, fingerprint: String, force: Bool, output: String,
                                  explain: (StageManifest) -> [String]) throws -> Bool {
        let manifest: StageManifest?
        do { manifest = try folder.manifest() } catch {
            guard force else { throw StageError("\(error); pass --force to replace the output") }
            try? FileManager.default.removeItem(at: folder.manifestURL)
            return false
        }
        if let manifest {
            if manifest.fingerprint == fingerprint {
                guard let damage = folder.problems(with: manifest, checkContent: false).first else { return true }
                guard force else { throw StageError("\(damage); the output is damaged, pass --force to redo the missing part") }
                try? FileManager.default.removeItem(at: folder.manifestURL)
                return false
            }
            guard force else {
                throw StageError("\(output): holds the output of a different configuration (\(explain(manifest).joined(separator: "; "))); pass --force to replace it")
            }
            // Another worker of this run may have just written the new manifest: remove only the old one.
            if (try? folder.manifest())??.fingerprint == manifest.fingerprint { try? FileManager.default.removeItem(at: folder.manifestURL) }
            return false
        }
        let foreign = folder.recordedUnits().filter { folder.record(unit: $0)?.fingerprint != fingerprint }
        if !foreign.isEmpty, !force {
            throw StageError("\(output): holds partial output of a different configuration (\(foreign.count) shards); pass --force to replace it")
        }
        return false
    }

    /// Messages about the run, on standard error.
    public func say(_ text: String) {
        guard options.progress != .off else { return }
        FileHandle.standardError.write(Data("\(name): \(text)\n".utf8))
    }

    /// Says that the output folder already holds this configuration's output (the stage then does nothing).
    public func sayUpToDate() {
        say("up to date in \(options.output) (fingerprint \(fingerprint.prefix(12))); nothing to do")
    }

    // MARK: Units

    /// Does this worker's share of `unitCount` units, then writes the manifest if every unit is done.
    ///
    /// - Parameters:
    ///   - samplesPerUnit: the expected number of samples of a unit, if known (sizes the progress display).
    ///   - concurrency: how many of this worker's units run at the same time (each on its own thread).
    ///   - summarize: combines the units' `extra` objects into the manifest's (default: `mergeExtras`).
    ///   - finalize: runs once all units are done, before the manifest, e.g. to write and register extra files.
    ///   - work: writes unit `unit` into `writer` and returns facts about it for the manifest's "extra".
    public func runUnits(count unitCount: Int, samplesPerUnit: ((Int) -> Int)? = nil, concurrency: Int = 1,
                         summarize: ([JSONValue]) -> JSONValue = mergeExtras,
                         finalize: ((inout StageFiles) throws -> Void)? = nil,
                         work: @escaping (_ unit: Int, _ writer: ShardWriter) throws -> JSONValue) throws {
        guard !isUpToDate else { return sayUpToDate() }
        let mine = (0..<unitCount).filter { $0 % numShards == shardIndex }
        let todo = mine.filter { folder.completedUnit($0, fingerprint: fingerprint, checkContent: true) == nil }
        let worker = numShards > 1 ? "worker \(shardIndex + 1)/\(numShards): " : ""
        say("\(worker)\(todo.count) of \(mine.count) units to do (\(mine.count - todo.count) already done, \(unitCount) in all)")

        let progress = Progress(label: name, total: samplesPerUnit.map { count in todo.reduce(0) { $0 + count($1) } },
                                unit: "samples", mode: options.progress)
        var pending = todo.makeIterator()
        try runHandedOver(concurrency: min(concurrency, todo.count), unitCount: unitCount, onAppend: { progress.advance() },
                          next: { pending.next().map { ($0, ()) } }, work: { unit, _, writer in try work(unit, writer) })
        if !todo.isEmpty { progress.finish() }
        try finishIfComplete(unitCount: unitCount, summarize: summarize, finalize: finalize)
    }

    /// Writes unit `unit` (of `unitCount`, when known) and its record.
    private func runUnit(_ unit: Int, of unitCount: Int?, onAppend: (() -> Void)?,
                         work: (_ unit: Int, _ writer: ShardWriter) throws -> JSONValue) throws {
        let unitStarted = Timestamp.now()
        let writer = try ShardWriter(url: folder.shardURL(unit: unit))
        writer.onAppend = onAppend
        let extra: JSONValue
        do { extra = try work(unit, writer) } catch {
            writer.abandon()
            throw error
        }
        let shard = try writer.finish()
        try folder.write(UnitRecord(unit: unit, units: unitCount, fingerprint: fingerprint, shard: shard,
                                    started: unitStarted, finished: Timestamp.now(), extra: extra))
    }

    // MARK: Units found while reading

    /// Like `runUnits`, for a stage whose units are found while reading its input as a stream, so that their
    /// number is known only at the end (the tokenize stage: unit j is the j-th block of D documents of its
    /// input files; counting them first would read every input twice).
    ///
    /// `next` runs on the calling thread and returns the units' inputs in order, nil at the end. Every worker
    /// reads the whole stream; its own units (j % num-shards == shard-index) that are not done yet go to
    /// `concurrency` threads running `work`, with at most `concurrency` more waiting, so a few units are in
    /// memory whatever the size of the input, and reading overlaps the work. At the end of the stream the
    /// manifest is written if every unit is done (by any worker). `progress` advances by `size(input)` for each
    /// unit written or passed over. When `next` throws (bad input), the units already handed over are finished
    /// before the error is passed on; when `work` throws, the run stops at once. Records carry no unit total:
    /// it is unknown while they are written.
    public func runStreamedUnits<Input>(concurrency: Int = 1, progress: Progress? = nil,
                                        size: @escaping (Input) -> Int = { _ in 1 },
                                        summarize: ([JSONValue]) -> JSONValue = mergeExtras,
                                        finalize: ((inout StageFiles) throws -> Void)? = nil,
                                        next: () throws -> Input?,
                                        work: @escaping (_ unit: Int, _ input: Input, _ writer: ShardWriter) throws -> JSONValue) throws {
        guard !isUpToDate else { return sayUpToDate() }
        var unitCount = 0, mine = 0, alreadyDone = 0
        try runHandedOver(concurrency: concurrency, unitCount: nil, onAppend: nil, after: { progress?.advance(by: size($0)) }, next: {
            while let input = try next() {
                let unit = unitCount
                unitCount += 1
                if unit % numShards == shardIndex {
                    mine += 1
                    if folder.completedUnit(unit, fingerprint: fingerprint, checkContent: true) == nil { return (unit, input) }
                    alreadyDone += 1
                }
                progress?.advance(by: size(input))
            }
            return nil
        }, work: work)
        progress?.finish()
        let worker = numShards > 1 ? "worker \(shardIndex + 1)/\(numShards): " : ""
        say("\(worker)\(Inspect.counted(unitCount, "unit")) in all, \(mine) of them this worker's: \(mine - alreadyDone) done now, \(alreadyDone) already done")
        try finishIfComplete(unitCount: unitCount, summarize: summarize, finalize: finalize)
    }

    /// The one worker loop of every stage: `next` runs on the calling thread and hands over, in order, the units
    /// to do with their inputs (nil at the end); `concurrency` threads run `work` on them, each unit to its shard
    /// and record (`runUnit`), with at most `concurrency` more waiting, so reading overlaps the work and a few
    /// units are in memory whatever the size of the input. `onAppend` (each sample) and `after` (each unit
    /// written) run on the worker threads, at the same time as each other: they must be thread-safe. When `next`
    /// throws (bad input), the units already handed over are finished before the error is passed on; when
    /// `work` throws, the run stops at once.
    private func runHandedOver<Input>(concurrency: Int, unitCount: Int?, onAppend: (() -> Void)?, after: ((Input) -> Void)? = nil,
                                      next: () throws -> (unit: Int, input: Input)?,
                                      work: @escaping (_ unit: Int, _ input: Input, _ writer: ShardWriter) throws -> JSONValue) throws {
        let threads = max(1, concurrency)
        let handoff = BoundedQueue<(unit: Int, input: Input)>(capacity: threads)
        let workers = DispatchGroup()
        // Threads of their own rather than concurrentPerform: they block on the hand-off while the reader runs.
        for _ in 0..<threads {
            workers.enter()
            let thread = Thread {
                defer { workers.leave() }
                while let (unit, input) = handoff.take() {
                    do {
                        try self.runUnit(unit, of: unitCount, onAppend: onAppend) { unit, writer in try work(unit, input, writer) }
                        after?(input)
                    } catch {
                        handoff.fail(error)
                    }
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        var readFailure: Error?
        do {
            while let handed = try next() {
                if !handoff.put(handed) { break }  // a unit failed
            }
        } catch {
            // Bad input: the units read before it are good, so those handed over are still written.
            readFailure = error
        }
        handoff.close()
        workers.wait()
        if let error = handoff.failure ?? readFailure { throw error }
    }

    /// Writes the manifest if all `unitCount` units are done (by any worker). Returns whether it did.
    @discardableResult
    public func finishIfComplete(unitCount: Int, summarize: ([JSONValue]) -> JSONValue = mergeExtras,
                                 finalize: ((inout StageFiles) throws -> Void)? = nil) throws -> Bool {
        var records: [UnitRecord] = []
        for unit in 0..<unitCount {
            guard let record = folder.completedUnit(unit, fingerprint: fingerprint, checkContent: false) else {
                let missing = (0..<unitCount).filter { folder.completedUnit($0, fingerprint: fingerprint, checkContent: false) == nil }
                say("\(missing.count) of \(unitCount) units still to be done by other workers; the last one to finish writes the manifest")
                return false
            }
            records.append(record)
        }
        try folder.removeLeftovers(keepingUnits: unitCount)
        var files = StageFiles(folder: folder.url)
        try finalize?(&files)
        try writeManifest(shards: records.map(\.shard), files: files.records,
                          started: records.map(\.started).min() ?? started, extra: summarize(records.map(\.extra)))
        return true
    }

    /// For stages that are not cut into units (train, report): runs `body` once, which writes files into
    /// the folder, registers them and returns the manifest's "extra"; then writes the manifest.
    public func runWhole(_ body: (inout StageFiles) throws -> JSONValue) throws {
        guard !isUpToDate else { return sayUpToDate() }
        var files = StageFiles(folder: folder.url)
        let extra = try body(&files)
        try writeManifest(shards: [], files: files.records, started: started, extra: extra)
    }

    private func writeManifest(shards: [ShardRecord], files: [FileRecord], started: String, extra: JSONValue) throws {
        let samples = shards.reduce(0) { $0 + $1.samples }
        let bytes: Int = shards.reduce(0) { $0 + $1.bytes } + files.reduce(0) { $0 + $1.bytes }
        let manifest = StageManifest(
            version: StageManifest.currentVersion, stage: name, fingerprint: fingerprint,
            executable: .init(name: description.executable, version: description.version, format: description.format),
            parameters: parameters, inputs: inputs, shards: shards, files: files,
            totals: .init(shards: shards.count, samples: samples, bytes: bytes),
            started: started, finished: Timestamp.now(), extra: extra)
        try folder.write(manifest)
        say("complete: \(Inspect.counted(manifest.totals.shards, "shard")), \(Inspect.counted(manifest.totals.samples, "sample"))\(files.isEmpty ? "" : ", " + Inspect.counted(files.count, "file")) in \(options.output)")
    }
}

/// Combines the units' "extra" objects: numbers are summed, objects merged key by key, and any other
/// value kept when all units agree (an array of the units' values when they do not).
public func mergeExtras(_ extras: [JSONValue]) -> JSONValue {
    let present = extras.filter { $0 != .null }
    guard let first = present.first else { return .object([:]) }
    if present.allSatisfy({ if case .int = $0 { return true }; return false }) {
        return .int(present.reduce(0) { $0 + $1.intValue! })
    }
    if present.allSatisfy({ $0.doubleValue != nil && $0.boolValue == nil }) {
        return .double(present.reduce(0) { $0 + $1.doubleValue! })
    }
    if present.allSatisfy({ $0.objectValue != nil }) {
        let keys = Set(present.flatMap { $0.objectValue!.keys })
        return .object(Dictionary(uniqueKeysWithValues: keys.map { key in (key, mergeExtras(present.compactMap { $0[key] })) }))
    }
    return present.allSatisfy({ $0 == first }) ? first : .array(present)
}

/// Files a stage writes into its folder besides shards; each registered file is listed in the manifest.
public struct StageFiles {
    public let folder: URL
    public private(set) var records: [FileRecord] = []

    public init(folder: URL) { self.folder = folder }

    /// The URL of `relativePath` inside the stage folder.
    public func url(_ relativePath: String) -> URL { folder.appendingPathComponent(relativePath) }

    /// Lists a file already written in the folder, with its size and sha256.
    public mutating func register(_ relativePath: String) throws {
        let path = url(relativePath).path
        guard let size = DurableFile.size(ofFile: path) else { throw StageError("\(path): registered output file does not exist") }
        records.removeAll { $0.name == relativePath }
        records.append(FileRecord(name: relativePath, bytes: size, sha256: try SHA256Hex.ofFile(atPath: path)))
    }

    /// Writes `bytes` durably (temporary name, fsync, rename) and registers the file.
    public mutating func write(_ bytes: [UInt8], to relativePath: String) throws {
        let target = url(relativePath)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try DurableFile.write(bytes, to: target)
        try register(relativePath)
    }
}

public struct StageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
