import ArgumentParser
import LetheCLI
import LethePipeline
import LetheStages

/// The annotate stage: each reconstructed chunk's reference words, retained or omitted, with their categories.
/// Its options and a call into LetheStages (runAnnotateStage; the annotation itself is LetheAnalysis's).
@main
struct LetheAnnotate: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-annotate",
        abstract: "Mark which reference words each reconstruction kept, with their categories (for lethe-report).",
        discussion: """
        Reads the output of lethe-reconstruct; writes one shard per input shard,
        with the same keys. Each sample has:
          KEY.words.json  the annotation: dataset, length, reference,
                          reconstruction, rouge1 {precision, recall, f1},
                          words [{word, position, retained, pos, ner,
                          wordClass, rarestTokenFrequency, meanTokenFrequency,
                          wordFrequency, surprisal}], tokenFates (per
                          reference token: 0 kept, 1 substituted, 2 dropped),
                          insertedTokens, tokenFrequencies, tokenSurprisals
          KEY.json        the metadata carried forward, plus rouge1,
                          reference_words, retained_words and token_fates
                          {kept, substituted, dropped, inserted}
          KEY.tokens.npy, KEY.recon.npy, KEY.surprisal.npy  carried forward
                          (states are not)

        Reference words are the gold words of CoNLL-2003 chunks (the words of
        KEY.json when they carry POS or NER tags), else the reference text split
        as nltk.word_tokenize splits it. The reconstruction is split the same
        way; the k-th occurrence of a reference word is retained when the
        reconstruction has that word at least k times (exact, case-sensitive).
        A second view aligns the token ids by edit distance: each reference
        token is kept, substituted or dropped. Each word also gets a rule-based
        class (url, number, math, variable, code, punctuation, capitalized,
        word) and its position; each chunk its dataset: the Pile subset
        (metadata.meta.pile_set_name) when there is one, else "dataset".

        With --counts (a lethe-count output folder): each reference token's
        pretraining count, and per word the count of its rarest token and the
        mean over its tokens; the word's own count too when the count stage
        wrote words.tsv. --counts needs --tokenizer (the tokenizer.json the
        chunks were made with) to find each word's tokens.

        With KEY.surprisal.npy (lethe-encode --surprisal): each reference
        token's surprisal under the encoder, and per word the sum over its
        tokens (found as for the counts; give --tokenizer unless the words
        carry token spans).

        Example:
          lethe-annotate --input stages/reconstruct --output stages/annotate \\
            --counts stages/count \\
            --tokenizer data/tokenizer/gpt-neox-20b-tokenizer.json
        """)

    static let stageDescription = StageDescription.stage("lethe-annotate", format: 3, inputs: ["input", "counts", "tokenizer"])

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(help: ArgumentHelp("A lethe-reconstruct output folder; repeat to annotate several, in order.", valueName: "dir"))
    var input: [String] = []

    @Option(help: ArgumentHelp("A lethe-count output folder (counts.npy, optional words.tsv): adds pretraining frequencies.",
                               valueName: "dir"))
    var counts: String?

    @Option(help: ArgumentHelp("The tokenizer.json the chunks were tokenized with (needed with --counts, and for word surprisal unless the words carry token spans).", valueName: "file"))
    var tokenizer: String?

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input (a lethe-reconstruct output folder)") }
        if counts != nil, tokenizer == nil {
            throw ValidationError("--counts needs --tokenizer FILE (the tokenizer.json the chunks were made with) to find each word's tokens")
        }
    }

    func run() throws {
        try runAnnotateStage(try StageRun(description: Self.stageDescription, options: stage, workers: workers), inputs: input,
                             counts: counts, tokenizer: tokenizer, threads: stage.threads)
    }
}
