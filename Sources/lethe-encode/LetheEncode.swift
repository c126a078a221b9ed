import ArgumentParser
import Foundation
import LetheCLI
import LetheModel
import LethePipeline
import LetheShards
import LetheStages

/// The encode stage: each chunk's final recurrent state under a frozen Mamba. Its options and a call into
/// LetheStages (runEncodeStage).
@main
struct LetheEncode: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-encode",
        abstract: "Run a frozen Mamba over each chunk and store its final recurrent state (KEY.ssm.npy, KEY.conv.npy).",
        discussion: """
        Reads token shards (the output of lethe-tokenize; repeat --input for several folders, taken in order) and \
        writes one shard per input shard, same keys, same order. Each sample keeps KEY.json, KEY.tokens.npy and \
        any member of another name (after them), and gains:
          KEY.ssm.npy   [n_layer, d_inner, d_state]      the ssm state after the
                        chunk's last token
          KEY.conv.npy  [n_layer, d_inner, conv_kernel]  the conv state: the last
                        conv_kernel inputs of each layer's conv, zero-padded on
                        the left for chunks shorter than conv_kernel
                        (transformers' cache convention)
          KEY.surprisal.npy  float32 [L], with --surprisal: the encoder's
                        surprisal of each token, -log p(token | the tokens
                        before it) in nats from the same forward pass; NaN
                        for the first token (lethe-report relates omission
                        to it)
          KEY.json      + "encoder": the model folder's name, model_type and
                        sizes, + "state_dtype"
        A Mamba-2 encoder's states are transformers' Mamba-2 cache: ssm [n_layer, heads, head_dim, d_state] and \
        conv [n_layer, d_inner + 2·n_groups·d_state, conv_kernel] (the conv runs over x, B and C).
        States are float32, or float16 with --state-dtype float16 (half the disk; the train and reconstruct \
        stages read both). Mamba-130m's states are 2.9 MB per chunk in float32, whatever the chunk's length; \
        mamba2-130m's (d_state 128) are 19.6 MB.

        --model is a Hugging Face folder (config.json + model.safetensors or sharded safetensors; F32, F16 or \
        BF16, computed in float32) of a Mamba, Falcon-Mamba or Mamba-2 model such as \
        state-spaces/mamba-130m-hf, or an original state-spaces folder (config.json + pytorch_model.bin; Mamba1 \
        or Mamba2 layers). Every chunk starts from the empty state.

        Chunks of equal length are batched together (--batch-size chunks per forward pass); chunks of different \
        lengths never share a pass, so nothing is padded into a state. Long batches run in passes of at most \
        \(EncodeLimits.tokensPerPass) tokens, the state carrying over. Memory stays bounded whatever the number of chunks: \
        chunks waiting for a full batch are held up to \(EncodeLimits.heldTokenLimit) tokens, and samples encoded before \
        their turn wait in a temporary file next to the output shard (deleted as it goes).

        The shards are the same, byte for byte, whatever --threads and however many workers \
        (--shard-index/--num-shards) share the work; a rerun keeps the finished shards and does only the rest.

        Token ids outside the model's vocabulary stop the stage with one line naming the shard and the sample.

        Example:
          lethe-encode --input stages/tokenize --model models/mamba-130m-hf \\
              --output stages/encode --batch-size 64 --threads 2
        """)

    static let stageDescription = StageDescription.stage("lethe-encode", format: 3, inputs: ["input", "model"])

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(help: ArgumentHelp("A token stage folder (lethe-tokenize output); repeat for several, encoded in order.", valueName: "dir"))
    var input: [String] = []

    @Option(help: ArgumentHelp("The frozen encoder: a Hugging Face or state-spaces Mamba folder.", valueName: "dir"))
    var model: String

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp("Chunks of one length per forward pass.", valueName: "n"))
    var batchSize = 64

    @Option(name: .customLong("state-dtype"), help: "The stored states' dtype: float32 or float16.")
    var stateDType: StateDType = .float32

    @Flag(help: "Also store each token's surprisal under the encoder (KEY.surprisal.npy): the lm_head over every token, about a third more work for mamba-130m.")
    var surprisal = false

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input (a lethe-tokenize output folder)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        BLASCore.useTheCPUsKernels()
        try runEncodeStage(try StageRun(description: Self.stageDescription, options: stage, workers: workers), inputs: input, model: model,
                           batchSize: batchSize, stateDType: stateDType, surprisal: surprisal, threads: stage.threads)
    }
}

extension StateDType: ExpressibleByArgument {}
