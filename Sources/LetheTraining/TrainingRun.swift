import Foundation
import LetheModel
import LetheShards

/// Where training reads its chunks. The training stage implements it over encoded shards; tests over arrays.
public protocol ChunkSource {
    /// Tokens per chunk, in corpus order (shard order, then sample order within a shard).
    var lengths: [Int] { get }
    /// The chunks at these corpus positions (all of one length) as a batch, in this order, with each chunk's
    /// encoder state when `withStates` (the auto-encoder objective).
    func batch(_ indices: [Int], withStates: Bool) throws -> TrainingBatch
}

/// What a run reports as it goes (for progress lines).
public enum TrainingEvent {
    case resumed(step: Int, from: URL)
    case step(StepRecord, secondsRemaining: Double)
    case validation(ValidationRecord)
    case checkpoint(step: Int, at: URL)
}

/// Which checkpoint becomes final/.
public enum FinalCheckpoint: String, Codable, Sendable, CaseIterable {
    /// The weights after the last step.
    case last
    /// The weights of the validation with the lowest loss (kept in best/ while training).
    case best
}

/// Scores a greedy reconstruction against its chunk (ROUGE-1 F1 in lethe-train), from token ids; nil when the
/// chunk cannot be scored (a reference without a word for ROUGE), which leaves it out of the mean.
public typealias ReconstructionScorer = (_ reference: [Int32], _ reconstruction: [Int32]) -> Double?

/// A whole training run in an output folder:
///   train_log.jsonl   one line per step {step, pass, loss, lr, grad_norm, tokens_per_s}; validation lines
///                     {step, val_loss, val_chunks, val_loss_by_length, val_f1_by_length}
///   step-N/           checkpoints every `checkpointEvery` steps; final/ after the last step (or, with
///                     `finalCheckpoint` best, the weights of best/, the validation with the lowest loss, and
///                     step-N/ of the last step). Each holds the Hugging Face model (config.json,
///                     model.safetensors), AdamW's moments and trainer_state.json.
/// `resume` continues from the newest checkpoint and reproduces the losses of an uninterrupted run bit for bit
/// (same seed and threads): the weights, the moments and the step are restored, and the step fixes the data
/// position, as every epoch's batches are rebuilt from the seed.
public final class TrainingRun {
    public static let logFile = "train_log.jsonl"
    public let settings: RunSettings
    public let output: URL
    public let train: ChunkSource
    public let validation: ChunkSource?
    /// Bytes every layer's activations may take before the backward pass recomputes them (see Backprop).
    public var activationBudget = 4 << 30
    /// How final/model.safetensors stores the weights (step-N/ checkpoints, which a resumed run reads, stay
    /// float32): float16 halves a model that is shipped, e.g. Lethe's embedded encoder.
    public var finalDType = StoredDType.float32
    /// Which weights final/ holds; `best` needs a validation set.
    public var finalCheckpoint = FinalCheckpoint.last
    /// Validation reads at most this many chunks of each length, spread evenly over the set (a fixed sample).
    public var validationChunksPerLength = 64
    /// With a scorer, validation also decodes its sample greedily from each chunk's state and logs the mean score
    /// by chunk length (the decoder's first input eos, at most length + 8 tokens, as lethe-reconstruct).
    public var scorer: ReconstructionScorer?
    /// Sequences decoded together in validation.
    public var decodingBatchSize = 64
    private let batches: LengthBatches

    public init(settings: RunSettings, output: URL, train: ChunkSource, validation: ChunkSource? = nil) throws {
        guard settings.batchSize > 0 else { throw TrainingError("the batch size must be positive") }
        guard settings.steps > 0 else { throw TrainingError("the number of steps must be positive") }
        guard !train.lengths.isEmpty else { throw TrainingError("the training set has no chunks") }
        let shortest = settings.objective == .lm ? 2 : 1
        if let bad = train.lengths.firstIndex(where: { $0 < shortest }) {
            throw TrainingError("training chunk \(bad) has \(train.lengths[bad]) tokens; the \(settings.objective.rawValue) objective needs at least \(shortest)")
        }
        self.settings = settings
        self.output = output
        self.train = train
        self.validation = validation
        batches = LengthBatches(lengths: train.lengths, batchSize: settings.batchSize, shuffle: settings.shuffle,
                                seed: settings.seed)
    }

    /// Steps of `epochs` passes over chunks of these lengths.
    public static func steps(epochs: Int, lengths: [Int], batchSize: Int) -> Int {
        epochs * LengthBatches(lengths: lengths, batchSize: batchSize, shuffle: false, seed: 0).batchesPerEpoch
    }

    /// Trains `initialModel()` (called only when not resuming) and returns the trained model.
    /// `shouldStop` is asked after every step: when it says yes (a SIGTERM arrived), the run writes that step's
    /// checkpoint and throws `TrainingStopped`, so that a resumed run loses nothing.
    public func run(resume: Bool, initialModel: () throws -> MambaModel, shouldStop: () -> Bool = { false },
                    events: (TrainingEvent) -> Void = { _ in }) throws -> MambaModel {
        let fm = FileManager.default
        let log = output.appendingPathComponent(TrainingRun.logFile)
        let trainer: Trainer
        if resume, let (directory, state) = try newestCheckpoint() {
            try check(state, directory)
            let (model, optimizer) = try TrainingCheckpoint.read(directory, state: state)
            trainer = Trainer(model: model, objective: settings.objective, settings: settings.optimizer)
            trainer.optimizer = optimizer
            try truncateLog(log, after: state.step)
            events(.resumed(step: state.step, from: directory))
        } else {
            if !resume, Self.holdsARun(output) {
                throw TrainingError("\(output.path) already holds a training run; pass --resume to continue it or choose another output folder")
            }
            let model = try initialModel()
            trainer = Trainer(model: model, objective: settings.objective, settings: settings.optimizer)
            try fm.createDirectory(at: output, withIntermediateDirectories: true)
            try Data().write(to: log, options: .atomic)
        }

        if finalCheckpoint == .best, validation == nil {
            throw TrainingError("the best checkpoint is chosen by validation loss: give a validation set")
        }
        trainer.backprop.activationBudget = activationBudget
        let writer = try LogWriter(log)
        var best = try bestValidation(in: log)
        var epoch = -1, plan: [[Int]] = []
        var elapsed = 0.0, timedSteps = 0
        while trainer.step < settings.steps {
            let step = trainer.step  // 0-based index of this update
            if step / batches.batchesPerEpoch != epoch {
                epoch = step / batches.batchesPerEpoch
                plan = batches.epoch(epoch)
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let batch = try train.batch(plan[step % batches.batchesPerEpoch],
                                        withStates: settings.objective == .autoencoder)
            var record = try trainer.train(batch)
            record.pass = epoch + 1
            try writer.append(record)
            elapsed += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            timedSteps += 1
            events(.step(record, secondsRemaining: elapsed / Double(timedSteps) * Double(settings.steps - record.step)))

            let last = record.step == settings.steps
            if let validation, last || settings.evalEvery.map({ record.step % $0 == 0 }) == true {
                let result = try validate(trainer, validation)
                try writer.append(result)
                events(.validation(result))
                if finalCheckpoint == .best, best.map({ result.valLoss < $0.loss }) ?? true {
                    best = (result.step, result.valLoss)
                    try TrainingCheckpoint.write(to: output.appendingPathComponent(RunFolder.best), model: trainer.model,
                                                 optimizer: trainer.optimizer, state: state(trainer))
                }
            }
            let stepFolder = output.appendingPathComponent(RunFolder.step(record.step))
            // The last step's weights are kept as a step checkpoint when final/ is the best one (a resumed run sees
            // that training is done); a stop request gets the checkpoint of the step it stops after.
            let scheduled = !last && settings.checkpointEvery.map { record.step % $0 == 0 } == true
            let stopping = !last && shouldStop()
            if (last && finalCheckpoint == .best) || scheduled || stopping {
                try TrainingCheckpoint.write(to: stepFolder, model: trainer.model, optimizer: trainer.optimizer,
                                             state: state(trainer))
                events(.checkpoint(step: record.step, at: stepFolder))
            }
            if stopping { throw TrainingStopped(step: record.step, checkpoint: stepFolder) }
        }
        let final = output.appendingPathComponent(RunFolder.final)
        if finalCheckpoint == .best {
            let bestFolder = output.appendingPathComponent(RunFolder.best)
            let state = try TrainingCheckpoint.readState(bestFolder)
            let (model, optimizer) = try TrainingCheckpoint.read(bestFolder, state: state)
            try TrainingCheckpoint.write(to: final, model: model, optimizer: optimizer, state: state, dtype: finalDType)
            events(.checkpoint(step: state.step, at: final))
            return model
        }
        try TrainingCheckpoint.write(to: final, model: trainer.model, optimizer: trainer.optimizer, state: state(trainer),
                                     dtype: finalDType)
        events(.checkpoint(step: trainer.step, at: final))
        return trainer.model
    }

    /// The fixed validation sample: at most `validationChunksPerLength` chunks of each length, evenly spread over
    /// the set in corpus order (so every dataset of a mixed set is drawn), grouped by length.
    public func validationSample(_ source: ChunkSource) -> [Int: [Int]] {
        var byLength: [Int: [Int]] = [:]
        for (index, length) in source.lengths.enumerated() { byLength[length, default: []].append(index) }
        let cap = max(1, validationChunksPerLength)
        return byLength.mapValues { all in
            all.count <= cap ? all : (0..<cap).map { all[$0 * all.count / cap] }
        }
    }

    /// Loss (and, with a scorer, greedy reconstruction scores) of the fixed validation sample, by chunk length.
    public func validate(_ trainer: Trainer, _ source: ChunkSource) throws -> ValidationRecord {
        var total = 0.0, predictions = 0, chunks = 0
        var lossByLength: [String: Double] = [:], scoreByLength: [String: Double] = [:]
        let decoder = try scorer.map { _ in try GreedyDecoder(model: trainer.model, batchSize: decodingBatchSize) }
        for (length, indices) in validationSample(source).sorted(by: { $0.key < $1.key }) {
            var lengthTotal = 0.0, lengthPredictions = 0, scores: [Double] = []
            for start in stride(from: 0, to: indices.count, by: settings.batchSize) {
                let part = Array(indices[start ..< min(indices.count, start + settings.batchSize)])
                let batch = try source.batch(part, withStates: settings.objective == .autoencoder)
                let result = try trainer.backprop.loss(batch)
                lengthTotal += result.total
                lengthPredictions += result.predictions
                guard let scorer, let decoder, let states = batch.encoderStates else { continue }
                let decoded = try decoder.decode(states.map {
                    DecodingRequest(ssm: $0.ssm, conv: $0.conv, maxNewTokens: length + 8)
                })
                for (b, result) in decoded.enumerated() {
                    if let score = scorer(Array(batch.tokens[b * length ..< (b + 1) * length]), result.tokens) {
                        scores.append(score)
                    }
                }
            }
            total += lengthTotal
            predictions += lengthPredictions
            chunks += indices.count
            lossByLength[String(length)] = lengthTotal / Double(max(1, lengthPredictions))
            if !scores.isEmpty { scoreByLength[String(length)] = scores.reduce(0, +) / Double(scores.count) }
        }
        return ValidationRecord(step: trainer.step, valLoss: total / Double(max(1, predictions)), chunks: chunks,
                                lossByLength: lossByLength, f1ByLength: scorer == nil ? nil : scoreByLength)
    }

    /// The lowest validation loss in the log so far and its step (a resumed run goes on comparing with it).
    private func bestValidation(in log: URL) throws -> (step: Int, loss: Double)? {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        var best: (step: Int, loss: Double)?
        for line in text.split(separator: "\n") {
            guard let record = try? JSONDecoder().decode(ValidationRecord.self, from: Data(line.utf8)) else { continue }
            if best.map({ record.valLoss < $0.loss }) ?? true { best = (record.step, record.valLoss) }
        }
        return best
    }

    private func state(_ trainer: Trainer) -> TrainerState {
        TrainerState(format: TrainerState.currentFormat, step: trainer.step, settings: settings,
                     chunks: train.lengths.count, corpusFingerprint: fingerprint(train.lengths),
                     parameters: trainer.model.layout.entries.map {
                         TrainerState.ParameterEntry(name: $0.name, shape: $0.shape, offset: $0.offset)
                     })
    }

    private func check(_ state: TrainerState, _ directory: URL) throws {
        let file = directory.appendingPathComponent(TrainingCheckpoint.stateFile).path
        guard state.settings.numerics() == settings.numerics() else {
            throw TrainingError("\(file): the run was started with other settings (\(describe(state.settings))); resume it with the same ones (now \(describe(settings)))")
        }
        guard state.chunks == train.lengths.count, state.corpusFingerprint == fingerprint(train.lengths) else {
            throw TrainingError("\(file): the run was started on another training set (\(state.chunks) chunks); resume it on the same one (now \(train.lengths.count) chunks)")
        }
    }

    private func describe(_ s: RunSettings) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(s.numerics())).flatMap { String(data: $0, encoding: .utf8) } ?? "\(s)"
    }

    /// Whether `folder` holds a training run: a checkpoint, or a log with lines.
    public static func holdsARun(_ folder: URL) -> Bool {
        !checkpoints(in: folder).isEmpty || (DurableFile.size(ofFile: folder.appendingPathComponent(logFile).path) ?? 0) > 0
    }

    private func checkpoints() -> [URL] { Self.checkpoints(in: output) }

    /// Complete checkpoint folders (step-N/ and final/, each with its trainer_state.json).
    private static func checkpoints(in folder: URL) -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter(RunFolder.isCheckpoint)
            .map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent(TrainingCheckpoint.stateFile).path) }
    }

    private func newestCheckpoint() throws -> (URL, TrainerState)? {
        try checkpoints().map { ($0, try TrainingCheckpoint.readState($0)) }.max { $0.1.step < $1.1.step }
    }

    /// Keeps the log lines of steps up to `step`: the resumed run writes the later ones again.
    private func truncateLog(_ log: URL, after step: Int) throws {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        try (kept.map { $0 + "\n" }.joined()).write(to: log, atomically: true, encoding: .utf8)
    }
}

/// A validation line of train_log.jsonl: the fixed sample's mean loss per predicted token, overall and by chunk
/// length (keys: the length in tokens), and the mean ROUGE-1 F1 of its greedy reconstructions by length.
public struct ValidationRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var valLoss: Double
    public var chunks: Int
    public var lossByLength: [String: Double]
    public var f1ByLength: [String: Double]?

    public init(step: Int, valLoss: Double, chunks: Int, lossByLength: [String: Double], f1ByLength: [String: Double]?) {
        self.step = step
        self.valLoss = valLoss
        self.chunks = chunks
        self.lossByLength = lossByLength
        self.f1ByLength = f1ByLength
    }

    enum CodingKeys: String, CodingKey {
        case step
        case valLoss = "val_loss"
        case chunks = "val_chunks"
        case lossByLength = "val_loss_by_length"
        case f1ByLength = "val_f1_by_length"
    }
}

/// Appends JSON lines to the log, each written whole with one write() so an interrupted run leaves whole lines.
final class LogWriter {
    private let handle: FileHandle
    private let encoder: JSONEncoder

    init(_ url: URL) throws {
        do { handle = try FileHandle(forWritingTo: url) } catch {
            throw TrainingError("\(url.path): cannot open for appending (\(error.localizedDescription))")
        }
        handle.seekToEndOfFile()
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
    }

    deinit { try? handle.close() }

    func append<T: Encodable>(_ record: T) throws {
        var line = try encoder.encode(record)
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }
}

/// FNV-1a over the chunk lengths: enough to notice a different corpus on resume.
func fingerprint(_ lengths: [Int]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for length in lengths {
        for byte in withUnsafeBytes(of: UInt64(length).littleEndian, Array.init) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
    }
    return String(hash, radix: 16)
}

/// A run stopped on request (SIGTERM: a Slurm time limit near, a preemption) after writing the checkpoint of its
/// last step; `--resume` (or `lethe run`) continues from it to the losses of an uninterrupted run.
public struct TrainingStopped: Error, CustomStringConvertible {
    public let step: Int
    public let checkpoint: URL
    public var description: String {
        "stopped by SIGTERM after step \(step); its checkpoint \(checkpoint.lastPathComponent)/ is written: run again (lethe run, or --resume) to continue"
    }
}
