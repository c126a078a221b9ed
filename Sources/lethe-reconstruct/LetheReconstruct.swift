import ArgumentParser
import Foundation
import LetheCLI
import LetheModel
import LethePipeline
import LetheShards
import LetheStages
import LetheTokenizer

/// The reconstruct stage: the trained decoder's greedy reconstruction of each chunk from its encoder state.
/// Glue only: decoding is LetheModel's `GreedyDecoder`, in-order writing `ShardReconstructor`'s.
@main
struct LetheReconstruct: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-reconstruct",
        abstract: "Rebuild each chunk from its encoder state with the trained decoder (greedy), as token ids and text.",
        discussion: """
        Reads the output of lethe-encode (repeat --input for several folders, taken in order) and writes one \
        shard per input shard, same keys, same order. Each sample keeps KEY.json, KEY.tokens.npy and any \
        member of another name, drops the states (KEY.ssm.npy, KEY.conv.npy: no later stage needs them) and gains:
          KEY.recon.npy  int32, the generated token ids, without the leading
                         eos input and without the stopping eos
          KEY.json       + "reference" (the chunk's text), "reconstruction"
                         (the decoded ids; no clean-up of spaces), "stop"
                         ("eos" or "length"), "decoder" (the model folder's
                         name and sizes)

        Decoding (the reference's decoder_utils.reconstruct): the decoder starts from the chunk's encoder \
        state, reads eos (the eos_token_id of its config.json: 0 for Mamba), then its own choices; each next \
        token is the argmax of the logits (ties to the lowest id). A chunk stops at its first eos ("eos") or after --max-new-tokens tokens ("length"; \
        default: the chunk's length + 8). Up to --batch-size chunks decode together; a finished chunk leaves \
        the batch and the next one takes its place.

        --model is the trained decoder (a lethe-train output folder, whose final/ is used, or any Hugging Face or \
        state-spaces Mamba, Falcon-Mamba or Mamba-2 folder). It must have the encoder's state shapes (for \
        Mamba-1 n_layer, d_inner, d_state and conv_kernel; Mamba-2 also its heads and groups).

        The shards are the same, byte for byte, whatever --threads and however many workers \
        (--shard-index/--num-shards) share the work; a rerun keeps the finished shards and does only the rest.

        Tokenizer (to decode the text): --tokenizer FILE, else the shipped \(DefaultTokenizer.relativePath) found \
        in the folder of this executable or a folder above it, else in the working directory or a folder above \
        it. Only a tokenizer given with --tokenizer is part of the stage's fingerprint.

        Example:
          lethe-reconstruct --input stages/encode --model stages/train/final \\
              --output stages/reconstruct --batch-size 64 --threads 2
        """)

    static let stageDescription = StageDescription.stage("lethe-reconstruct", format: 4, inputs: ["input", "model", "tokenizer"])

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(help: ArgumentHelp("An encode stage folder (lethe-encode output); repeat for several, in order.", valueName: "dir"))
    var input: [String] = []

    @Option(help: ArgumentHelp("The trained decoder: a lethe-train output folder (its final/ checkpoint) or any Hugging Face or state-spaces Mamba folder.", valueName: "dir"))
    var model: String

    @Option(name: .customLong("max-new-tokens"), parsing: .unconditional,
            help: ArgumentHelp("The most tokens generated per chunk, a stopping eos included. (default: the chunk's length + 8)", valueName: "n"))
    var maxNewTokens: Int?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp("Chunks decoded together.", valueName: "n"))
    var batchSize = 64

    @Option(help: ArgumentHelp("The tokenizer.json that decodes the ids (default: the shipped GPT-NeoX-20B tokenizer; see above).", valueName: "file"))
    var tokenizer: String?

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input (a lethe-encode output folder)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxNewTokens, maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1") }
    }

    func run() throws {
        BLASCore.useTheCPUsKernels()
        try runReconstructStage(try StageRun(description: Self.stageDescription, options: stage, workers: workers), inputs: input,
                                model: model, tokenizer: tokenizer, batchSize: batchSize, maxNewTokens: maxNewTokens,
                                threads: stage.threads)
    }
}
