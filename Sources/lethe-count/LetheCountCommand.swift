import ArgumentParser
import Foundation
import LetheCLI
import LetheCount
import LethePipeline
import LetheShards
import LetheTokenizer

/// The count stage: how often each token id (and word) occurs in a pretraining-scale corpus.
@main
struct LetheCountCommand: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-count",
        abstract: "Count token ids (and words) in a corpus, overall and per subset, as pretraining frequencies.",
        discussion: """
            Reads .jsonl, .jsonl.zst (streamed: constant memory however large) and .txt \
            files (a paragraph is a document), tokenizes every document with the \
            tokenize stage's tokenizer on all threads, and counts each token id. A JSONL \
            line's subset is read from --subset-field (the Pile's meta.pile_set_name).

            Each input file is one unit whose counts are kept in shard-NNNNNN.tar.zst: \
            an interrupted run resumes at the first unfinished file, and workers given \
            --shard-index i --num-shards n split the files. The worker that finishes \
            the last file merges them, exactly whatever the split, into:

              counts.npy        int64, one count per token id of the tokenizer (50,277
                                for GPT-NeoX-20B; ids a model pads beyond never occur)
              subsets/NAME.npy  the same per subset; subsets.json lists them, with totals
              words.tsv         with --words: word<TAB>count, most frequent first
              manifest.json     "extra": documents, tokens and text bytes, overall and
                                per subset; skipped lines

            Example:
              lethe-count --input pile/train --output stages/count --words
            """)

    static let stageDescription = StageDescription.stage("lethe-count", format: 1, inputs: ["input", "tokenizer"])

    @OptionGroup var stage: StageOptions

    @Option(name: .customLong("input"),
            help: ArgumentHelp("A corpus file, or a folder whose corpus files (.jsonl, .jsonl.zst, .txt) are all read, in sorted order. Repeatable.",
                               valueName: "path"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("The tokenizer.json (default: the shipped \(DefaultTokenizer.relativePath), found above this executable or the working directory).",
                               valueName: "file"))
    var tokenizer: String?

    @Flag(help: "Also count words, split as nltk.word_tokenize splits them (the annotate stage's words); writes words.tsv.")
    var words = false

    @Flag(name: .customLong("skip-bad"),
          help: "Skip lines that are not valid UTF-8 or JSON, lack the text, or have an unreadable subset, and the rest of a truncated .zst; count them in the manifest instead of stopping.")
    var skipBad = false

    @Option(name: .customLong("text-field"),
            help: ArgumentHelp("The JSONL field (or CSV column) holding a document's text. Repeat it to count several fields, each as documents of its own (GSM8K: question and answer); then a line (or a CSV file) may lack some of them, but a file in which none has any is an error. (default: text)",
                               valueName: "name"))
    var textField: [String] = []

    @Option(name: .customLong("subset-field"),
            help: ArgumentHelp("The JSONL field naming a document's subset, as a dotted path; \"\" for none. Documents without it count only overall.",
                               valueName: "path"))
    var subsetField = "meta.pile_set_name"

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one --input file or folder") }
    }

    func run() throws {
        let run = try StageRun(description: Self.stageDescription, options: stage)
        if run.isUpToDate { return run.sayUpToDate() }
        let field = subsetField.isEmpty ? nil : try SubsetField(subsetField)
        let (files, ignored) = try CorpusFiles.expand(inputs)
        if !ignored.isEmpty {
            run.say("left out \(ignored.count) file\(ignored.count == 1 ? "" : "s") without a corpus extension: \(ignored.prefix(5).joined(separator: ", "))\(ignored.count > 5 ? ", ..." : "")")
        }
        let tokenizerPath = try DefaultTokenizer.resolve(tokenizer).path
        // One thread reads a file (about 150 MB/s of JSONL) for the threads that tokenize it (40-70 MB/s each):
        // past 4 threads, several files are counted at once so that reading never holds the tokenizers back.
        let filesAtOnce = max(1, min(files.count, stage.threads / 4))
        let counter = CorpusCounter(
            tokenizer: try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizerPath)),
            settings: CountSettings(threads: stage.threads / filesAtOnce, subsetField: field, countWords: words,
                                    skipBadLines: skipBad, textFields: textField.isEmpty ? ["text"] : textField))
        let text = Progress(label: "\(run.name) text", total: nil, unit: "MB", mode: stage.progress)
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
