import ArgumentParser
import LetheCLI
import LetheModel
import LethePipeline
import LetheStages
import LetheTraining

/// The train stage: a Mamba decoder learns to rebuild each chunk from the encoder's final state (or, with
/// --objective lm, plain next-token training from the empty state). Its options and a call into LetheStages
/// (runTrainStage).
@main
struct LetheTrain: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-train",
        abstract: "Train a Mamba decoder to rebuild chunks from their encoder state (or a language model).",
        discussion: """
        With --encoder MODEL, --input is token shards (lethe-tokenize's output) and the frozen encoder's forward \
        pass computes each batch's states as it is drawn (the forward lethe-encode runs): nothing is stored, so \
        the training set is as large as the token shards. Without it, --input is the encode stage's output: each \
        chunk's tokens and its stored state (KEY.ssm.npy, KEY.conv.npy). The decoder reads [eos] + chunk + [eos] \
        (eos: the eos_token_id of --init's config.json, 0 for Mamba) starting from that state in every layer \
        and learns to predict each next token (the auto-encoder of Hossain et al., AACL 2025). --init is a \
        Hugging Face Mamba, Falcon-Mamba or Mamba-2 folder, or an original state-spaces one; the decoder starts \
        from its weights \
        (usually the encoder's), or from random weights when the folder holds only config.json. Chunks of \
        different lengths are batched by length: no padding. Each pass over the chunks is a new random order: \
        no chunk repeats before every chunk has been seen; the log says which pass each step belongs to.

        --validate: held-out chunks, read as --input is (token shards with --encoder). Every --eval-every steps \
        (and after the last) a fixed sample of them (--validate-chunks per length, spread evenly over the set) \
        gives the validation loss by chunk length and, decoded greedily as lethe-reconstruct does, the mean \
        ROUGE-1 F1 by chunk length (rouge-score's tokenization, texts decoded with --tokenizer; chunks whose \
        reference has no word, only spaces and punctuation, are left out, as in lethe-report). \
        --final-checkpoint best makes final/ the weights of the lowest validation loss (kept in best/).

        Writes to --output: train_log.jsonl (one line per step: step, pass, loss before the update, lr, \
        grad_norm, tokens_per_s; validation lines: step, val_loss, val_chunks, val_loss_by_length, \
        val_f1_by_length), checkpoints step-N/ and final/ (config.json and model.safetensors, which \
        transformers' MambaForCausalLM loads, plus AdamW's moments and trainer_state.json). An interrupted run \
        continues with --resume from its newest checkpoint to the same losses as an uninterrupted one (same \
        seed and --threads); with --force (as `lethe run` passes it) an interrupted run of the same configuration \
        is resumed the same way and the run of any other configuration is removed first.

        Example:
          lethe-train --encoder models/mamba-130m --input stages/tokenize-train \\
            --init models/mamba-130m --output stages/train --steps 2000 \\
            --batch-size 8 --lr 1e-4 --schedule cosine --warmup 100 --clip 1 \\
            --checkpoint-every 500 --validate stages/tokenize-valid \\
            --eval-every 200 --final-checkpoint best
        """)

    static let stageDescription = StageDescription.stage(
        "lethe-train", format: 3, inputs: ["input", "init", "validate", "encoder", "tokenizer"],
        executionOnly: ["resume", "activation-budget-mb"], parallel: false)

    @OptionGroup var stage: StageOptions

    @Option(help: ArgumentHelp("Stage folder of training chunks (repeat for several; read in the order given).", valueName: "dir"))
    var input: [String]

    @Option(help: ArgumentHelp("Hugging Face Mamba folder (or lethe-train output) of the frozen encoder: --input and --validate are token shards whose states it computes per batch.", valueName: "dir"))
    var encoder: String?

    @Option(help: ArgumentHelp("Hugging Face Mamba folder (or lethe-train output) the decoder starts from (only config.json: random weights).", valueName: "dir"))
    var `init`: String

    @Option(parsing: .unconditional, help: "Training steps (optimizer updates). Default: one epoch.") var steps: Int?
    @Option(parsing: .unconditional, help: "Passes over the training chunks (instead of --steps).") var epochs: Int?
    @Option(parsing: .unconditional, help: "Chunks per batch (each batch holds chunks of one length).") var batchSize = 8
    @Option(parsing: .unconditional, help: "Peak learning rate.") var lr = 5e-5
    @Option(parsing: .unconditional, help: "AdamW's decoupled weight decay (not applied to biases, norm weights, A_log, D).") var weightDecay = 0.0
    @Option(help: "Learning-rate schedule after the warmup: constant, linear or cosine (to 0 at the last step).")
    var schedule = LearningRateSchedule.linear
    @Option(parsing: .unconditional, help: "Warmup steps (linear from 0).") var warmup = 0
    @Option(parsing: .unconditional, help: "Clip gradients to this global L2 norm.") var clip: Double?
    @Option(parsing: .unconditional, help: "Seed of the chunk order and of random initial weights.") var seed: UInt64 = 0
    @Flag(inversion: .prefixedNo, help: "Shuffle the chunks each epoch (--no-shuffle: shard and sample order).")
    var shuffle = true
    @Option(help: "autoencoder (rebuild from the encoder state) or lm (next token from the empty state).")
    var objective = TrainingObjective.autoencoder
    @Option(name: .customLong("validate"), help: ArgumentHelp("Stage folder of held-out validation chunks (repeat for several datasets and lengths).",
                               valueName: "dir"))
    var validationSets: [String] = []
    @Option(parsing: .unconditional, help: "Validation every N steps (and after the last step).") var evalEvery: Int?
    @Option(parsing: .unconditional, help: "Validation chunks of each length: a fixed sample spread evenly over --validate.") var validateChunks = 64
    @Option(help: "Which weights final/ holds: last (after the last step) or best (lowest validation loss).")
    var finalCheckpoint = FinalCheckpoint.last
    @Option(help: ArgumentHelp("The tokenizer.json that decodes validation reconstructions for ROUGE (default: the shipped GPT-NeoX-20B tokenizer).", valueName: "file"))
    var tokenizer: String?
    @Option(parsing: .unconditional, help: "A checkpoint step-N/ every N steps (final/ is always written).") var checkpointEvery: Int?
    @Flag(help: "Continue the run in --output from its newest checkpoint.") var resume = false
    @Option(help: "How final/model.safetensors stores the weights: float32, float16 or bfloat16 (step-N/ stays float32).")
    var finalDtype = FinalDType.float32
    @Option(parsing: .unconditional, help: "Megabytes all layers' activations may take before the backward pass recomputes them layer by layer; the output layer keeps its logits in what they leave (else recomputes them).")
    var activationBudgetMb = 4096

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("--input: give at least one stage folder") }
        guard steps == nil || epochs == nil else { throw ValidationError("give --steps or --epochs, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must not be negative") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        if let clip, !(clip > 0) { throw ValidationError("--clip must be positive") }
        if let evalEvery, evalEvery < 1 { throw ValidationError("--eval-every must be at least 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        if evalEvery != nil, validationSets.isEmpty { throw ValidationError("--eval-every needs --validate") }
        guard validateChunks >= 1 else { throw ValidationError("--validate-chunks must be at least 1") }
        guard activationBudgetMb >= 0 else { throw ValidationError("--activation-budget-mb must not be negative") }
        if finalCheckpoint == .best, validationSets.isEmpty {
            throw ValidationError("--final-checkpoint best chooses by validation loss: give --validate")
        }
        if encoder != nil, objective == .lm { throw ValidationError("--encoder is for the autoencoder objective") }
    }

    func run() throws {
        BLASCore.useTheCPUsKernels()
        let run = try StageRun(description: Self.stageDescription, options: stage)
        try runTrainStage(run, TrainStageSettings(
            inputs: input, validationSets: validationSets, encoder: encoder, initFolder: `init`, tokenizer: tokenizer,
            objective: objective, steps: steps, epochs: epochs, batchSize: batchSize, lr: lr, weightDecay: weightDecay,
            schedule: schedule, warmup: warmup, clip: clip, seed: seed, shuffle: shuffle, evalEvery: evalEvery,
            validateChunks: validateChunks, finalCheckpoint: finalCheckpoint, checkpointEvery: checkpointEvery,
            resume: resume, finalDtype: finalDtype.stored, activationBudgetMb: activationBudgetMb),
            force: stage.force, threads: stage.threads, progress: stage.progress)
    }
}

extension LearningRateSchedule: ExpressibleByArgument {}
extension TrainingObjective: ExpressibleByArgument {}
extension FinalCheckpoint: ExpressibleByArgument {}

/// --final-dtype's values: PyTorch's names (the checkpoint's own, StoredDType's raw values, are safetensors' F32, F16,
/// BF16, which ArgumentParser would show).
enum FinalDType: String, CaseIterable, ExpressibleByArgument {
    case float32, float16, bfloat16

    var stored: StoredDType { StoredDType.allCases.first { $0.torchName == rawValue }! }
}
