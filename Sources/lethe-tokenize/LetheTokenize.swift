import ArgumentParser
import Foundation
import LetheCLI
import LetheCorpus
import LethePipeline
import LetheShards
import LetheStages
import LetheTokenizer

/// The tokenize stage: corpus files in, token shards out. Its options and a call into LetheStages
/// (runTokenizeStage).
@main
struct LetheTokenize: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-tokenize",
        abstract: "Cut corpus files into chunks of GPT-NeoX tokens: one sample (KEY.tokens.npy + KEY.json) per chunk.",
        discussion: """
        The --input files are read in the order given as one sequence of documents (JSONL and CSV: one per line or \
        record; txt: one per paragraph, see --text-unit; CoNLL-2003: one per article, see --conll-unit). Documents \
        --skip-documents ..< --skip-documents + --max-documents of it are kept and cut into blocks of \
        --documents-per-shard documents; block j becomes shard-NNNNNN.tar.zst number j in --output, so the output \
        is the same, byte for byte, whatever --threads and however many workers (--shard-index/--num-shards) share \
        the work. A rerun keeps the finished shards and does only the missing ones.

        Each sample is KEY.tokens.npy (int32 token ids) and KEY.json: text (exactly what the tokens decode to; for \
        `none` the document's text), dataset, source, doc (the document's number within source), line, length, \
        documents, token_offset, metadata (JSONL: the other fields; CSV: the other columns) and, for `words` \
        chunking and for CoNLL input with `none`, the words with their labels and token spans. KEY is bNNNNNN-sNNNNNN: block, then sample \
        within the block.

        Chunking (--chunking):
          none   one sample per document, all its tokens
          fixed  the block's tokens, documents concatenated, cut into chunks
                 of --chunk-size tokens; the remainder is dropped
          mixed  as fixed, each length drawn from --min-length...--max-length
                 (seeded by --seed and the block number)
          words  whole words packed into chunks of at most --chunk-size
                 tokens, each word with its labels and token span

        Tokenizer: --tokenizer FILE, else the shipped \(DefaultTokenizer.relativePath) found in the folder of this \
        executable or a folder above it (every build inside a Lethe checkout finds it), else in the working \
        directory or a folder above it. Only a tokenizer given with --tokenizer is part of the stage's fingerprint.

        Bad input (invalid UTF-8, a line that is not JSON or lacks the text field, a truncated .zst, a bad CoNLL or \
        CSV line) stops the stage with one line FILE:LINE: problem; with --skip-bad such lines are skipped and \
        counted in the manifest.

        Examples:
          lethe-tokenize --input data/gsm8k/test.jsonl --text-field question \\
              --chunk-size 64 --output stages/gsm8k
          lethe-tokenize --input data/dialects/aave-sae.csv --text-field AAVE \\
              --dataset aave --chunking none --output stages/aave
          lethe-tokenize --input data/conll2003/eng.testb --chunking words \\
              --chunk-size 32 --output stages/conll
          lethe-tokenize --input pile.jsonl.zst --max-documents 100000 \\
              --dataset-field meta.pile_set_name --chunking mixed \\
              --min-length 4 --max-length 256 --seed 1 --output stages/pile
        """)

    static let stageDescription = StageDescription.stage("lethe-tokenize", format: 1, inputs: ["input", "tokenizer"])

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(help: ArgumentHelp("A corpus file (.jsonl, .jsonl.zst, .txt, .csv, CoNLL-2003); repeat for several, read in order.",
                               valueName: "file"))
    var input: [String] = []

    @Option(help: ArgumentHelp("The tokenizer.json (default: the shipped GPT-NeoX-20B tokenizer; see above).", valueName: "file"))
    var tokenizer: String?

    @Option(help: "The inputs' format: auto (from each file's name) or one of jsonl, jsonl.zst, txt, conll, csv for all.")
    var format: InputFormat = .auto

    @Option(name: .customLong("text-field"), help: ArgumentHelp("The JSONL field or CSV column holding the text.", valueName: "name"))
    var textField = "text"

    @Option(name: .customLong("text-unit"), help: "What a document of a .txt file is: paragraph, line or file.")
    var textUnit: TextUnit = .paragraph

    @Option(name: .customLong("conll-unit"), help: "What a document of a CoNLL file is: document (an article) or sentence.")
    var conllUnit: ConllUnit = .document

    @Option(help: "How documents become chunks (see above).")
    var chunking: ChunkingMode = .fixed

    @Option(name: .customLong("chunk-size"), parsing: .unconditionalSingleValue, help: ArgumentHelp("""
        Tokens per chunk for fixed; at most that many for words. (default: 64) fixed takes several (repeat the \
        option): chunks then cycle through the sizes, e.g. an evaluation set of lengths 4 to 256 from one text.
        """, valueName: "n"))
    var chunkSize: [Int] = []

    @Option(name: .customLong("min-length"), parsing: .unconditional, help: ArgumentHelp("mixed: the shortest chunk, in tokens.", valueName: "a"))
    var minLength: Int?

    @Option(name: .customLong("max-length"), parsing: .unconditional, help: ArgumentHelp("mixed: the longest chunk, in tokens.", valueName: "b"))
    var maxLength: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("mixed: seed of the chunk lengths. (default: 0)", valueName: "s"))
    var seed: UInt64?

    @Option(help: ArgumentHelp("The samples' dataset label. (default: the input file's name without its extension)", valueName: "label"))
    var dataset: String?

    @Option(name: .customLong("dataset-field"),
            help: ArgumentHelp("Label each sample with this metadata field, a dotted path such as meta.pile_set_name (JSONL) or a column (CSV); samples without it get --dataset.", valueName: "path"))
    var datasetField: String?

    @Option(name: .customLong("skip-documents"), parsing: .unconditional, help: ArgumentHelp("Leave out the first n documents of the inputs.", valueName: "n"))
    var skipDocuments = 0

    @Option(name: .customLong("max-documents"), parsing: .unconditional, help: ArgumentHelp("Keep at most n documents after those skipped.", valueName: "n"))
    var maxDocuments: Int?

    @Option(name: .customLong("documents-per-shard"), parsing: .unconditional, help: ArgumentHelp("Documents per block; block j is shard j.", valueName: "d"))
    var documentsPerShard = 1000

    @Option(help: ArgumentHelp("""
        fixed and mixed: text appended to every document before the documents' tokens are joined, e.g. a blank \
        line or <|endoftext|> (default: nothing, as the reference code joins them).
        """, valueName: "text"))
    var separator: String?

    @Flag(name: .customLong("skip-bad"), help: "Skip bad lines (and count them in the manifest) instead of stopping.")
    var skipBad = false

    enum InputFormat: String, ExpressibleByArgument, CaseIterable {
        case auto, jsonl, jsonlZst = "jsonl.zst", txt, conll, csv
        var corpusFormat: CorpusFormat? { CorpusFormat(rawValue: rawValue) }
    }

    enum ChunkingMode: String, ExpressibleByArgument, CaseIterable {
        case none, fixed, mixed, words
    }

    static let defaultChunkSize = 64

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input file") }
        switch chunking {
        case .none:
            if !chunkSize.isEmpty { throw ValidationError("--chunk-size applies to --chunking fixed and words") }
        case .fixed, .words:
            if chunkSize.contains(where: { $0 < 1 }) { throw ValidationError("--chunk-size must be at least 1") }
            if chunking == .words && chunkSize.count > 1 { throw ValidationError("--chunking words takes one --chunk-size") }
        case .mixed:
            if !chunkSize.isEmpty { throw ValidationError("--chunking mixed takes --min-length and --max-length, not --chunk-size") }
            guard let minLength, let maxLength else { throw ValidationError("--chunking mixed needs --min-length and --max-length") }
            guard minLength >= 1, minLength <= maxLength else {
                throw ValidationError("need 1 <= --min-length <= --max-length, got \(minLength) and \(maxLength)")
            }
        }
        if chunking != .mixed && (minLength != nil || maxLength != nil || seed != nil) {
            throw ValidationError("--min-length, --max-length and --seed apply to --chunking mixed")
        }
        if separator != nil && chunking != .fixed && chunking != .mixed {
            throw ValidationError("--separator applies to --chunking fixed and mixed")
        }
        guard documentsPerShard >= 1 else { throw ValidationError("--documents-per-shard must be at least 1") }
        guard skipDocuments >= 0 else { throw ValidationError("--skip-documents must be 0 or more") }
        if let maxDocuments, maxDocuments < 1 { throw ValidationError("--max-documents must be at least 1") }
        if let datasetField, datasetField.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw ValidationError("--dataset-field must be field names joined by dots, like meta.pile_set_name")
        }
    }

    var chunkingRule: Chunking {
        switch chunking {
        case .none: return .none
        case .fixed: return .fixed(lengths: chunkSize.isEmpty ? [Self.defaultChunkSize] : chunkSize)
        case .mixed: return .mixed(minLength: minLength!, maxLength: maxLength!, seed: seed ?? 0)
        case .words: return .words(maxTokens: chunkSize.first ?? Self.defaultChunkSize)
        }
    }

    func run() throws {
        let run = try StageRun(description: Self.stageDescription, options: stage, workers: workers)
        try runTokenizeStage(run, TokenizeSettings(
            inputs: input.map { CorpusInput(path: $0, format: format.corpusFormat) }, tokenizer: tokenizer,
            readOptions: ReadOptions(skipBadLines: skipBad, textField: textField, textUnit: textUnit, conllUnit: conllUnit),
            chunking: chunkingRule, separator: separator, dataset: dataset, datasetField: datasetField,
            skipDocuments: skipDocuments, maxDocuments: maxDocuments, documentsPerShard: documentsPerShard),
            threads: stage.threads, progress: stage.progress)
    }
}

extension TextUnit: ExpressibleByArgument {}
extension ConllUnit: ExpressibleByArgument {}
