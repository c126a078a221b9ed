import ArgumentParser
import Foundation
import LetheAnalysis
import LetheCLI
import LetheModel
import LethePipeline
import LetheShards
import LetheTokenizer
import LetheTraining

/// The train stage: a Mamba decoder learns to rebuild each chunk from the encoder's final state (or, with
/// --objective lm, plain next-token training from the empty state). Thin glue over LetheTraining.
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
        starting from that state in every layer and learns to predict each next token (the auto-encoder of \
        Hossain et al., AACL 2025). --init is a Hugging Face Mamba folder; the decoder starts from its weights \
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
            --init models/mamba-130m --output stages/train --steps 2000 --batch-size 8 \\
            --lr 1e-4 --schedule cosine --warmup 100 --clip 1 --checkpoint-every 500 \\
            --validate stages/tokenize-valid --eval-every 200 --final-checkpoint best
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

    @Option(help: "Training steps (optimizer updates). Default: one epoch.") var steps: Int?
    @Option(help: "Passes over the training chunks (instead of --steps).") var epochs: Int?
    @Option(help: "Chunks per batch (each batch holds chunks of one length).") var batchSize = 8
    @Option(help: "Peak learning rate.") var lr = 5e-5
    @Option(help: "AdamW's decoupled weight decay (not applied to biases, norm weights, A_log, D).") var weightDecay = 0.0
    @Option(help: "Learning-rate schedule after the warmup: constant, linear or cosine (to 0 at the last step).")
    var schedule = LearningRateSchedule.linear
    @Option(help: "Warmup steps (linear from 0).") var warmup = 0
    @Option(help: "Clip gradients to this global L2 norm.") var clip: Double?
    @Option(help: "Seed of the chunk order and of random initial weights.") var seed: UInt64 = 0
    @Flag(inversion: .prefixedNo, help: "Shuffle the chunks each epoch (--no-shuffle: shard and sample order).")
    var shuffle = true
    @Option(help: "autoencoder (rebuild from the encoder state) or lm (next token from the empty state).")
    var objective = TrainingObjective.autoencoder
    @Option(name: .customLong("validate"), help: ArgumentHelp("Stage folder of held-out validation chunks (repeat for several datasets and lengths).",
                               valueName: "dir"))
    var validationSets: [String] = []
    @Option(help: "Validation every N steps (and after the last step).") var evalEvery: Int?
    @Option(help: "Validation chunks of each length: a fixed sample spread evenly over --validate.") var validateChunks = 64
    @Option(help: "Which weights final/ holds: last (after the last step) or best (lowest validation loss).")
    var finalCheckpoint = FinalCheckpoint.last
    @Option(help: ArgumentHelp("The tokenizer.json that decodes validation reconstructions for ROUGE (default: the shipped GPT-NeoX-20B tokenizer).", valueName: "file"))
    var tokenizer: String?
    @Option(help: "A checkpoint step-N/ every N steps (final/ is always written).") var checkpointEvery: Int?
    @Flag(help: "Continue the run in --output from its newest checkpoint.") var resume = false
    @Option(help: "How final/model.safetensors stores the weights: float32, float16 or bfloat16 (step-N/ stays float32).")
    var finalDtype = StoredDType.float32
    @Option(help: "Megabytes all layers' activations may take before the backward pass recomputes them layer by layer.")
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
        if finalCheckpoint == .best, validationSets.isEmpty {
            throw ValidationError("--final-checkpoint best chooses by validation loss: give --validate")
        }
        if encoder != nil, objective == .lm { throw ValidationError("--encoder is for the autoencoder objective") }
    }

    func run() throws {
        BLASCore.useTheCPUsKernels()
        let run = try StageRun(description: Self.stageDescription, options: stage)
        LetheThreads.set(stage.threads)
        try run.runWhole { files in
            let output = run.folder.url
            // The runner passes --force: an interrupted run of this very configuration (the stage's fingerprint,
            // recorded when it started) is resumed from its newest checkpoint; any other earlier run is removed.
            let marker = output.appendingPathComponent(Self.fingerprintFile)
            let sameConfiguration = (try? String(contentsOf: marker, encoding: .utf8)) == run.fingerprint
            if stage.force, !resume, !sameConfiguration { try removeEarlierRun(in: output) }
            // Written only when this run starts the folder's run, so it always names the run the folder holds.
            if !TrainingRun.holdsARun(output) { try DurableFile.write(Array(run.fingerprint.utf8), to: marker) }
            let initFolder = MambaModel.checkpointFolder(URL(fileURLWithPath: `init`))
            let config = try MambaConfig.read(contentsOf: initFolder.appendingPathComponent("config.json"))
            let frozen = try encoder.map { try frozenEncoder($0, decoder: config) }
            let shapes = objective == .autoencoder && frozen == nil
                ? (ssm: config.ssmStateShape, conv: config.convStateShape) : nil
            run.say("reading \(input.joined(separator: ", "))")
            let train = try chunks(input, config: config, shapes: shapes, encoder: frozen,
                                   stateFile: output.appendingPathComponent(".train-states.f32"))
            defer { try? FileManager.default.removeItem(at: output.appendingPathComponent(".train-states.f32")) }
            let valid = validationSets.isEmpty ? nil : try chunks(validationSets, config: config, shapes: shapes, encoder: frozen,
                                                            stateFile: output.appendingPathComponent(".validation-states.f32"))
            defer { try? FileManager.default.removeItem(at: output.appendingPathComponent(".validation-states.f32")) }

            let total = steps ?? TrainingRun.steps(epochs: epochs ?? 1, lengths: train.lengths, batchSize: batchSize)
            let settings = RunSettings(
                objective: objective, batchSize: batchSize, steps: total, seed: seed, shuffle: shuffle,
                optimizer: OptimizerSettings(learningRate: LearningRatePlan(base: lr, schedule: schedule,
                                                                            warmupSteps: warmup, totalSteps: total),
                                             weightDecay: weightDecay, clipNorm: clip),
                evalEvery: evalEvery, checkpointEvery: checkpointEvery)
            let passes = Double(total) / Double(LengthBatches(lengths: train.lengths, batchSize: batchSize, shuffle: false,
                                                              seed: 0).batchesPerEpoch)
            run.say("\(train.lengths.count) chunks of \(Set(train.lengths).count) lengths (\(train.lengths.reduce(0, +)) tokens), \(total) steps of \(batchSize) chunks: \(String(format: "%.2f", passes)) passes"
                    + (frozen == nil ? "" : "; states computed by the frozen encoder \(encoder!)"))
            let training = try TrainingRun(settings: settings, output: output, train: train, validation: valid)
            training.activationBudget = activationBudgetMb << 20
            training.finalDType = finalDtype
            training.finalCheckpoint = finalCheckpoint
            training.validationChunksPerLength = validateChunks
            if objective == .autoencoder, valid != nil {
                let text = try Tokenizer(contentsOf: try DefaultTokenizer.resolve(tokenizer))
                training.scorer = Rouge.tokenF1(decode: { text.decode($0) })
            }
            let reporter = StepReporter(name: run.name, total: total, mode: stage.progress)
            var lastLoss = Double.nan, lastValidation: ValidationRecord?, bestValidation: ValidationRecord?
            var lastPass = 0
            // SIGTERM (a Slurm time limit near, a preemption, kill): finish the step, write its checkpoint, stop.
            terminationRequested = 0  // initialised here, never first in the handler
            signal(SIGTERM) { _ in terminationRequested = 1 }
            _ = try training.run(resume: resume || (stage.force && sameConfiguration), initialModel: { try initialModel(initFolder, run: run) },
                                 shouldStop: { terminationRequested != 0 }) { event in
                switch event {
                case .resumed(let step, let directory):
                    run.say("resuming after step \(step) from \(directory.lastPathComponent)/")
                case .step(let record, let remaining):
                    lastLoss = record.loss
                    lastPass = record.pass ?? lastPass
                    reporter.step(record, secondsRemaining: remaining)
                case .validation(let record):
                    lastValidation = record
                    if bestValidation.map({ record.valLoss < $0.valLoss }) ?? true { bestValidation = record }
                    reporter.say("step \(record.step): " + describe(record))
                case .checkpoint(let step, let directory):
                    reporter.say("step \(step): checkpoint \(directory.lastPathComponent)/")
                }
            }
            reporter.finish()
            for file in try trainingFiles(in: output) { try files.register(file) }
            var extra: [String: JSONValue] = ["steps": .int(total), "chunks": .int(train.lengths.count),
                                              "final_checkpoint": .string(finalCheckpoint.rawValue),
                                              "states": .string(frozen == nil ? "stored" : "encoder")]
            if lastPass > 0 { extra["passes"] = .int(lastPass) }
            if lastLoss.isFinite { extra["last_loss"] = .double(lastLoss) }
            if let lastValidation { extra["val_loss"] = .double(lastValidation.valLoss) }
            let finalRecord = finalCheckpoint == .best ? bestValidation : lastValidation
            if let finalRecord {
                extra["final_step"] = .int(finalRecord.step)
                extra["final_val_loss"] = .double(finalRecord.valLoss)
                if let f1 = finalRecord.f1ByLength { extra["final_val_f1_by_length"] = .object(f1.mapValues { .double($0) }) }
            }
            return .object(extra)
        }
    }

    /// The decoder's starting weights: the folder's checkpoint, or random ones when it holds only config.json.
    func initialModel(_ folder: URL, run: StageRun) throws -> MambaModel {
        let (model, random) = try MambaModel.loadOrRandomize(from: folder, seed: seed)
        if random { run.say("\(folder.path) holds no weights: random initial weights (seed \(seed))") }
        return model
    }

    /// Training or validation chunks of stage folders: with a frozen encoder, tokens whose states it computes per
    /// batch; else the stored states (or tokens only, for the LM objective).
    func chunks(_ paths: [String], config: MambaConfig, shapes: (ssm: [Int], conv: [Int])?, encoder: MambaModel?,
                stateFile: URL) throws -> ChunkSource {
        let stored = try EncodedChunks(shards: try shardURLs(paths), vocabularySize: config.vocabSize, stateShapes: shapes,
                                       stateFile: stateFile)
        return encoder.map { EncoderChunks(tokens: stored, encoder: $0) } ?? stored
    }

    /// The frozen encoder: its states must fit the decoder's (same layers, d_inner, d_state and conv kernel).
    func frozenEncoder(_ path: String, decoder: MambaConfig) throws -> MambaModel {
        let model = try MambaModel.load(from: URL(fileURLWithPath: path))
        guard model.config.ssmStateShape == decoder.ssmStateShape, model.config.convStateShape == decoder.convStateShape else {
            throw StageError("\(path): the encoder's states \(model.config.ssmStateShape) / \(model.config.convStateShape) do not fit the decoder's \(decoder.ssmStateShape) / \(decoder.convStateShape) (--init)")
        }
        return model
    }

    /// One validation line for the progress output.
    func describe(_ record: ValidationRecord) -> String {
        func byLength(_ values: [String: Double]) -> String {
            values.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key): \(String(format: "%.3f", $0.value))" }
                .joined(separator: ", ")
        }
        return "validation loss \(String(format: "%.4f", record.valLoss)) (\(record.chunks) chunks; by length \(byLength(record.lossByLength)))"
            + (record.f1ByLength.map { "; ROUGE-1 F1 \(byLength($0))" } ?? "")
    }

    /// The shard files of stage folders, in order.
    func shardURLs(_ paths: [String]) throws -> [URL] {
        try paths.flatMap { path -> [URL] in
            let stage = try StageInput(path: path)
            return (0..<stage.shardCount).map(stage.shardURL)
        }
    }

    /// In the output folder: the fingerprint of the stage configuration whose run the folder holds.
    static let fingerprintFile = ".run-fingerprint"

    /// Removes the run in `folder` (log, checkpoints, marker): --force found one of another configuration.
    func removeEarlierRun(in folder: URL) throws {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where name == TrainingRun.logFile || RunFolder.isRunFolder(name) || name == Self.fingerprintFile {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Every file of the run (log and checkpoints), relative to the folder, for the manifest.
    func trainingFiles(in folder: URL) throws -> [String] {
        let fm = FileManager.default
        var files = [TrainingRun.logFile]
        for name in try fm.contentsOfDirectory(atPath: folder.path).sorted()
        where RunFolder.isRunFolder(name) {
            files += try fm.contentsOfDirectory(atPath: folder.appendingPathComponent(name).path).sorted().map { "\(name)/\($0)" }
        }
        return files
    }
}

extension LearningRateSchedule: ExpressibleByArgument {}
extension TrainingObjective: ExpressibleByArgument {}
extension FinalCheckpoint: ExpressibleByArgument {}

/// Progress of the steps on standard error: `train: step 120/2000 (6.0%), loss 3.2145, 1,234 tok/s, ETA 25m`,
/// on a ProgressLine (the last step always shown).
final class StepReporter {
    let name: String
    let total: Int
    private let line: ProgressLine

    init(name: String, total: Int, mode: ProgressMode) {
        self.name = name
        self.total = total
        line = ProgressLine(mode: mode, firstLineAtOnce: true)
    }

    func step(_ record: StepRecord, secondsRemaining: Double) {
        guard record.step == total ? line.mode != .off : line.isDue() else { return }
        let percent = String(format: "%.1f", 100 * Double(record.step) / Double(total))
        line.show("\(name): step \(record.step)/\(total) (\(percent)%), loss \(String(format: "%.4f", record.loss)), "
                  + "\(Int(record.tokensPerSecond.rounded())) tok/s, ETA \(Progress.duration(secondsRemaining))")
    }

    func say(_ text: String) { line.say("\(name): \(text)") }

    func finish() { line.finish() }
}

extension StoredDType: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "float32": self = .float32
        case "float16": self = .float16
        case "bfloat16": self = .bfloat16
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["float32", "float16", "bfloat16"] }
    public var defaultValueDescription: String { self == .float32 ? "float32" : self == .float16 ? "float16" : "bfloat16" }
}

/// Set by the SIGTERM handler, read after every training step.
nonisolated(unsafe) var terminationRequested: sig_atomic_t = 0
