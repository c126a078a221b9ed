import Foundation
import LetheAnalysis
import LetheCLI
import LetheModel
import LetheShards
import LetheTokenizer
import LetheTraining

/// What the train stage trains and how (lethe-train's options; see its --help).
public struct TrainStageSettings {
    public var inputs: [String], validationSets: [String]
    public var encoder: String?, initFolder: String, tokenizer: String?
    public var objective: TrainingObjective
    public var steps: Int?, epochs: Int?, batchSize: Int
    public var lr: Double, weightDecay: Double, schedule: LearningRateSchedule, warmup: Int, clip: Double?
    public var seed: UInt64, shuffle: Bool
    public var evalEvery: Int?, validateChunks: Int, finalCheckpoint: FinalCheckpoint, checkpointEvery: Int?
    public var resume: Bool, finalDtype: StoredDType, activationBudgetMb: Int

    public init(inputs: [String], validationSets: [String], encoder: String?, initFolder: String, tokenizer: String?,
                objective: TrainingObjective, steps: Int?, epochs: Int?, batchSize: Int, lr: Double, weightDecay: Double,
                schedule: LearningRateSchedule, warmup: Int, clip: Double?, seed: UInt64, shuffle: Bool, evalEvery: Int?,
                validateChunks: Int, finalCheckpoint: FinalCheckpoint, checkpointEvery: Int?, resume: Bool,
                finalDtype: StoredDType, activationBudgetMb: Int) {
        self.inputs = inputs; self.validationSets = validationSets; self.encoder = encoder; self.initFolder = initFolder
        self.tokenizer = tokenizer; self.objective = objective; self.steps = steps; self.epochs = epochs
        self.batchSize = batchSize; self.lr = lr; self.weightDecay = weightDecay; self.schedule = schedule
        self.warmup = warmup; self.clip = clip; self.seed = seed; self.shuffle = shuffle; self.evalEvery = evalEvery
        self.validateChunks = validateChunks; self.finalCheckpoint = finalCheckpoint
        self.checkpointEvery = checkpointEvery; self.resume = resume; self.finalDtype = finalDtype
        self.activationBudgetMb = activationBudgetMb
    }
}

/// The train stage (lethe-train): a TrainingRun in the stage folder, resumed when the runner reruns the same
/// configuration (`force` with the folder's fingerprint marker), stopped with a checkpoint on SIGTERM; its log and
/// checkpoints registered as the stage's files.
public func runTrainStage(_ run: StageRun, _ s: TrainStageSettings, force: Bool, threads: Int, progress progressMode: ProgressMode) throws {
    LetheThreads.set(threads)
    try run.runWhole { files in
        let output = run.folder.url
        // The runner passes --force: an interrupted run of this very configuration (the stage's fingerprint,
        // recorded when it started) is resumed from its newest checkpoint; any other earlier run is removed.
        let marker = output.appendingPathComponent(TrainStage.fingerprintFile)
        let sameConfiguration = (try? String(contentsOf: marker, encoding: .utf8)) == run.fingerprint
        if force, !s.resume, !sameConfiguration { try TrainStage.removeEarlierRun(in: output) }
        // Written only when this run starts the folder's run, so it always names the run the folder holds.
        if !TrainingRun.holdsARun(output) { try DurableFile.write(Array(run.fingerprint.utf8), to: marker) }
        let initFolder = MambaModel.checkpointFolder(URL(fileURLWithPath: s.initFolder))
        let config = try MambaConfig.read(contentsOf: initFolder.appendingPathComponent("config.json"))
        let frozen = try s.encoder.map { try TrainStage.frozenEncoder($0, decoder: config) }
        // The training and validation chunks' encoders share one packed copy of the frozen encoder's weights.
        let encoder = frozen.map { ChunkEncoder(model: $0) }
        let shapes = s.objective == .autoencoder && frozen == nil
            ? (ssm: config.ssmStateShape, conv: config.convStateShape) : nil
        run.say("reading \(s.inputs.joined(separator: ", "))")
        let train = try TrainStage.chunks(s.inputs, config: config, shapes: shapes, encoder: encoder,
                               stateFile: output.appendingPathComponent(".train-states.f32"))
        defer { try? FileManager.default.removeItem(at: output.appendingPathComponent(".train-states.f32")) }
        let valid = s.validationSets.isEmpty ? nil : try TrainStage.chunks(s.validationSets, config: config, shapes: shapes,
                                                                           encoder: encoder?.sibling(),
                                                                           stateFile: output.appendingPathComponent(".validation-states.f32"))
        defer { try? FileManager.default.removeItem(at: output.appendingPathComponent(".validation-states.f32")) }

        let total = s.steps ?? TrainingRun.steps(epochs: s.epochs ?? 1, lengths: train.lengths, batchSize: s.batchSize)
        let settings = RunSettings(
            objective: s.objective, batchSize: s.batchSize, steps: total, seed: s.seed, shuffle: s.shuffle,
            optimizer: OptimizerSettings(learningRate: LearningRatePlan(base: s.lr, schedule: s.schedule,
                                                                        warmupSteps: s.warmup, totalSteps: total),
                                         weightDecay: s.weightDecay, clipNorm: s.clip),
            evalEvery: s.evalEvery, checkpointEvery: s.checkpointEvery)
        let passes = Double(total) / Double(LengthBatches(lengths: train.lengths, batchSize: s.batchSize, shuffle: false,
                                                          seed: 0).batchesPerEpoch)
        run.say("\(train.lengths.count) chunks of \(Set(train.lengths).count) lengths (\(train.lengths.reduce(0, +)) tokens), \(total) steps of \(s.batchSize) chunks: \(String(format: "%.2f", passes)) passes"
                + (frozen == nil ? "" : "; states computed by the frozen encoder \(s.encoder!)"))
        let training = try TrainingRun(settings: settings, output: output, train: train, validation: valid)
        training.activationBudget = s.activationBudgetMb << 20
        training.finalDType = s.finalDtype
        training.finalCheckpoint = s.finalCheckpoint
        training.validationChunksPerLength = s.validateChunks
        if s.objective == .autoencoder, valid != nil {
            let text = try Tokenizer(contentsOf: try DefaultTokenizer.resolve(s.tokenizer))
            training.scorer = Rouge.tokenF1(decode: { text.decode($0) })
        }
        let reporter = StepReporter(name: run.name, total: total, mode: progressMode)
        var lastLoss = Double.nan, lastValidation: ValidationRecord?, bestValidation: ValidationRecord?
        var lastPass = 0
        // SIGTERM (a Slurm time limit near, a preemption, kill): finish the step, write its checkpoint, stop.
        terminationRequested = 0  // initialised here, never first in the handler
        signal(SIGTERM) { _ in terminationRequested = 1 }
        _ = try training.run(resume: s.resume || (force && sameConfiguration), initialModel: { try TrainStage.initialModel(initFolder, seed: s.seed, run: run) },
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
                reporter.say("step \(record.step): " + TrainStage.describe(record))
            case .checkpoint(let step, let directory):
                reporter.say("step \(step): checkpoint \(directory.lastPathComponent)/")
            }
        }
        reporter.finish()
        for file in try TrainStage.trainingFiles(in: output) { try files.register(file) }
        var extra: [String: JSONValue] = ["steps": .int(total), "chunks": .int(train.lengths.count),
                                          "final_checkpoint": .string(s.finalCheckpoint.rawValue),
                                          "states": .string(frozen == nil ? "stored" : "encoder")]
        if lastPass > 0 { extra["passes"] = .int(lastPass) }
        if lastLoss.isFinite { extra["last_loss"] = .double(lastLoss) }
        if let lastValidation { extra["val_loss"] = .double(lastValidation.valLoss) }
        let finalRecord = s.finalCheckpoint == .best ? bestValidation : lastValidation
        if let finalRecord {
            extra["final_step"] = .int(finalRecord.step)
            extra["final_val_loss"] = .double(finalRecord.valLoss)
            if let f1 = finalRecord.f1ByLength { extra["final_val_f1_by_length"] = .object(f1.mapValues { .double($0) }) }
        }
        return .object(extra)
    }
}

/// The train stage's helpers.
enum TrainStage {

    /// The decoder's starting weights: the folder's checkpoint, or random ones when it holds only config.json.
    static func initialModel(_ folder: URL, seed: UInt64, run: StageRun) throws -> MambaModel {
        let (model, random) = try MambaModel.loadOrRandomize(from: folder, seed: seed)
        if random { run.say("\(folder.path) holds no weights: random initial weights (seed \(seed))") }
        return model
    }

    /// Training or validation chunks of stage folders: with a frozen encoder, tokens whose states it computes per
    /// batch; else the stored states (or tokens only, for the LM objective).
    static func chunks(_ paths: [String], config: MambaConfig, shapes: (ssm: [Int], conv: [Int])?, encoder: ChunkEncoder?,
                stateFile: URL) throws -> ChunkSource {
        let stored = try EncodedChunks(shards: try shardURLs(paths), vocabularySize: config.vocabSize, stateShapes: shapes,
                                       stateFile: stateFile)
        return encoder.map { EncoderChunks(tokens: stored, encoder: $0) } ?? stored
    }

    /// The frozen encoder: its states must fit the decoder's (same layers, d_inner, d_state and conv kernel).
    static func frozenEncoder(_ path: String, decoder: MambaConfig) throws -> MambaModel {
        let model = try MambaModel.load(from: URL(fileURLWithPath: path))
        guard model.config.ssmStateShape == decoder.ssmStateShape, model.config.convStateShape == decoder.convStateShape else {
            throw StageError("\(path): the encoder's states \(model.config.ssmStateShape) / \(model.config.convStateShape) do not fit the decoder's \(decoder.ssmStateShape) / \(decoder.convStateShape) (--init)")
        }
        return model
    }

    /// One validation line for the progress output.
    static func describe(_ record: ValidationRecord) -> String {
        func byLength(_ values: [String: Double]) -> String {
            values.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key): \(String(format: "%.3f", $0.value))" }
                .joined(separator: ", ")
        }
        return "validation loss \(String(format: "%.4f", record.valLoss)) (\(record.chunks) chunks; by length \(byLength(record.lossByLength)))"
            + (record.f1ByLength.map { "; ROUGE-1 F1 \(byLength($0))" } ?? "")
    }

    /// The shard files of stage folders, in order.
    static func shardURLs(_ paths: [String]) throws -> [URL] {
        try paths.flatMap { path -> [URL] in
            let stage = try StageInput(path: path)
            return (0..<stage.shardCount).map(stage.shardURL)
        }
    }

    /// In the output folder: the fingerprint of the stage configuration whose run the folder holds.
    static let fingerprintFile = ".run-fingerprint"

    /// Removes the run in `folder` (log, checkpoints, marker): --force found one of another configuration.
    static func removeEarlierRun(in folder: URL) throws {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where name == TrainingRun.logFile || RunFolder.isRunFolder(name) || name == Self.fingerprintFile {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Every file of the run (log and checkpoints), relative to the folder, for the manifest.
    static func trainingFiles(in folder: URL) throws -> [String] {
        let fm = FileManager.default
        var files = [TrainingRun.logFile]
        for name in try fm.contentsOfDirectory(atPath: folder.path).sorted()
        where RunFolder.isRunFolder(name) {
            files += try fm.contentsOfDirectory(atPath: folder.appendingPathComponent(name).path).sorted().map { "\(name)/\($0)" }
        }
        return files
    }
}

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

/// Set by the SIGTERM handler, read after every training step.
nonisolated(unsafe) private var terminationRequested: sig_atomic_t = 0
