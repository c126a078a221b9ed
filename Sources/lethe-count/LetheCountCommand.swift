import ArgumentParser
import LetheCLI
import LethePipeline
import LetheStages

/// The count stage: how often each token id (and word) occurs in a pretraining-scale corpus. Its options and a
/// call into LetheStages (runCountStage).
@main
struct LetheCountCommand: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-count",
        abstract: "Count token ids (and words) in a corpus, overall and per subset, as pretraining frequencies.",
        discussion: """
            Reads .jsonl, .jsonl.zst (streamed: constant memory however large), .csv \
            (a row is a document), .txt (a paragraph is a document) and CoNLL-2003 \
            files (a -DOCSTART- document), tokenizes every document with the \
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

    static let stageDescription = StageDescription.stage("lethe-count", format: 2, inputs: ["input", "tokenizer"])

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(name: .customLong("input"),
            help: ArgumentHelp("A corpus file, or a folder whose corpus files (.jsonl, .jsonl.zst, .csv, .txt, CoNLL) are all read, in sorted order. Repeatable.",
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
            help: ArgumentHelp("The JSONL field (or CSV column) holding a document's text. Repeat it to count several fields, each as documents of its own (GSM8K: question and answer); then a line (or a CSV file) may lack some of them, but a file in which none has any is an error. Plain text and CoNLL files have no fields: they are read once, whatever the fields. (default: text)",
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
        let run = try StageRun(description: Self.stageDescription, options: stage, workers: workers)
        try runCountStage(run, inputs: inputs, tokenizer: tokenizer, words: words, skipBad: skipBad,
                          textFields: textField.isEmpty ? ["text"] : textField,
                          subsetField: subsetField.isEmpty ? nil : subsetField, threads: stage.threads, progress: stage.progress)
    }
}
