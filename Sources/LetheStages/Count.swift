import Foundation
import LetheCLI
import LetheCount
import LetheShards
import LetheTokenizer

/// The count stage (lethe-count): token (and with `words`, word) frequencies of corpus files or folders, one unit
/// per file (CorpusCounter), merged into counts.npy, words.tsv and the per-subset files (CountMerge).
/// `subsetField`: the dotted path of a document's subset (nil: none).
public func runCountStage(_ run: StageRun, inputs: [String], tokenizer: String?, words: Bool, skipBad: Bool,
                          textFields: [String], subsetField: String?, threads: Int, progress progressMode: ProgressMode) throws {
    if run.isUpToDate { return run.sayUpToDate() }
    let field = try subsetField.map(SubsetField.init)
    let (files, ignored) = try CorpusFiles.expand(inputs)
    if !ignored.isEmpty {
        run.say("left out \(ignored.count) file\(ignored.count == 1 ? "" : "s") without a corpus extension: \(ignored.prefix(5).joined(separator: ", "))\(ignored.count > 5 ? ", ..." : "")")
    }
    let tokenizerPath = try DefaultTokenizer.resolve(tokenizer).path
    // One thread reads a file (about 150 MB/s of JSONL) for the threads that tokenize it (40-70 MB/s each):
    // past 4 threads, several files are counted at once so that reading never holds the tokenizers back.
    let filesAtOnce = max(1, min(files.count, threads / 4))
    let counter = CorpusCounter(
        tokenizer: try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizerPath)),
        settings: CountSettings(threads: threads / filesAtOnce, subsetField: field, countWords: words,
                                skipBadLines: skipBad, textFields: textFields))
    let text = Progress(label: "\(run.name) text", total: nil, unit: "MB", mode: progressMode)
    let counted = CountedFiles()

    var summary: JSONValue = .null
    try run.runUnits(count: files.count, concurrency: filesAtOnce, summarize: { _ in summary }, finalize: { outputs in
        var merge = CountMerge(vocabularySize: counter.tokenizer.vocabularySize, countWords: words)
        for unit in 0..<files.count {
            let shard = run.folder.shardURL(unit: unit)
            try merge.add(FileCounts(shardSamples: try ShardReader.readAll(shard), origin: shard.path))
        }
        let written = merge.outputFiles(subsetField: field)
        try removeStaleSubsetFiles(in: outputs.url("subsets"), keeping: Set(written.map(\.path)))
        for (path, bytes) in written { try outputs.write(bytes, to: path) }
        summary = merge.summary(subsetField: field)
    }) { unit, writer in
        counted.add(files: 1)
        var pendingBytes = 0
        let counts = try counter.count(file: files[unit]) { bytes in
            pendingBytes += bytes
            text.advance(by: pendingBytes / 1_000_000)
            pendingBytes %= 1_000_000
        }
        if counts.skippedLines > 0 {
            run.say("\(files[unit]): skipped \(counts.skippedLines) bad line\(counts.skippedLines == 1 ? "" : "s"), e.g. \(counts.skippedExamples[0])")
        }
        for sample in counts.shardSamples() { try writer.append(sample) }
        return ["source": .string(files[unit]), "documents": .int(counts.documents), "tokens": .int(counts.tokens),
                "bytes": .int(counts.bytes), "skipped_lines": .int(counts.skippedLines)]
    }
    if counted.files > 0 { text.finish() }
}

/// Subset files of an earlier configuration (replaced with --force) that this merge does not write.
private func removeStaleSubsetFiles(in folder: URL, keeping written: Set<String>) throws {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    for name in names where name.hasSuffix(".npy") && !written.contains("subsets/" + name) {
        try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
    }
}

/// How many files this process counted (units run on several threads at once).
private final class CountedFiles: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var files: Int { lock.lock(); defer { lock.unlock() }; return count }

    func add(files: Int) {
        lock.lock()
        count += files
        lock.unlock()
    }
}
