import Foundation
import LetheModel

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
    case validation(step: Int, loss: Double)
    case checkpoint(step: Int, at: URL)
}

/// A whole training run in an output folder:
///   train_log.jsonl   one line per step {step, loss, lr, grad_norm, tokens_per_s}; validation lines {step, val_loss}
///   step-N/           checkpoints every `checkpointEvery` steps; final/ after the last step. Each holds the
///                     Hugging Face model (config.json, model.safetensors), AdamW's moments and trainer_state.json.
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
    public func run(resume: Bool, initialModel: () throws -> MambaModel,
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
            if !resume, !checkpoints().isEmpty || !((try? Data(contentsOf: log))?.isEmpty ?? true) {
                throw TrainingError("\(output.path) already holds a training run; pass --resume to continue it or choose another output folder")
            }
            let model = try initialModel()
            trainer = Trainer(model: model, objective: settings.objective, settings: settings.optimizer)
            try fm.createDirectory(at: output, withIntermediateDirectories: true)
            try Data().write(to: log, options: .atomic)
        }

        trainer.backprop.activationBudget = activationBudget
        let writer = try LogWriter(log)
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
            let record = try trainer.train(batch)
            try writer.append(record)
            elapsed += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            timedSteps += 1
            events(.step(record, secondsRemaining: elapsed / Double(timedSteps) * Double(settings.steps - record.step)))

            let last = record.step == settings.steps
            if let validation, last || settings.evalEvery.map({ record.step % $0 == 0 }) == true {
                let loss = try validationLoss(trainer.backprop, validation)
                try writer.append(ValidationRecord(step: record.step, valLoss: loss))
                events(.validation(step: record.step, loss: loss))
            }
            if !last, let every = settings.checkpointEvery, record.step % every == 0 {
                let directory = output.appendingPathComponent("step-\(record.step)")
                try TrainingCheckpoint.write(to: directory, model: trainer.model, optimizer: trainer.optimizer,
                                             state: state(trainer))
                events(.checkpoint(step: record.step, at: directory))
            }
        }
        let final = output.appendingPathComponent("final")
        try TrainingCheckpoint.write(to: final, model: trainer.model, optimizer: trainer.optimizer, state: state(trainer),
                                     dtype: finalDType)
        events(.checkpoint(step: trainer.step, at: final))
        return trainer.model
    }

    /// The mean loss over every chunk of `source` (batched by length, in order).
    public func validationLoss(_ backprop: Backprop, _ source: ChunkSource) throws -> Double {
        let plan = LengthBatches(lengths: source.lengths, batchSize: settings.batchSize, shuffle: false, seed: 0)
        var total = 0.0, predictions = 0
        for indices in plan.epoch(0) {
            let result = try backprop.loss(source.batch(indices, withStates: settings.objective == .autoencoder))
            total += result.total
            predictions += result.predictions
        }
        return total / Double(max(1, predictions))
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

    /// Complete checkpoint folders (step-N/ and final/, each with its trainer_state.json).
    private func checkpoints() -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: output.path) else { return [] }
        return names.filter { $0 == "final" || ($0.hasPrefix("step-") && Int($0.dropFirst(5)) != nil) }
            .map { output.appendingPathComponent($0) }
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

/// A validation line of train_log.jsonl.
public struct ValidationRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var valLoss: Double

    enum CodingKeys: String, CodingKey {
        case step
        case valLoss = "val_loss"
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
