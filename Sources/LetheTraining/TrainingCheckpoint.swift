import Foundation
import LetheModel
import LetheShards

/// Everything that decides a run's numbers; a resumed run must have the same (only the step counts may differ
/// for validation and checkpoints).
public struct RunSettings: Codable, Equatable, Sendable {
    public var objective: TrainingObjective
    public var batchSize: Int
    /// Total updates of the run (the schedule's num_training_steps).
    public var steps: Int
    public var seed: UInt64
    public var shuffle: Bool
    public var optimizer: OptimizerSettings
    /// Validation loss every this many steps (and after the last); nil: only after the last, if there is a
    /// validation set.
    public var evalEvery: Int?
    /// A checkpoint `step-N/` every this many steps; `final/` is always written.
    public var checkpointEvery: Int?

    public init(objective: TrainingObjective, batchSize: Int, steps: Int, seed: UInt64, shuffle: Bool,
                optimizer: OptimizerSettings, evalEvery: Int? = nil, checkpointEvery: Int? = nil) {
        self.objective = objective
        self.batchSize = batchSize
        self.steps = steps
        self.seed = seed
        self.shuffle = shuffle
        self.optimizer = optimizer
        self.evalEvery = evalEvery
        self.checkpointEvery = checkpointEvery
    }

    /// The settings that change the losses: all but how often to validate and checkpoint.
    func numerics() -> RunSettings {
        var s = self
        s.evalEvery = nil
        s.checkpointEvery = nil
        return s
    }
}

/// `trainer_state.json` of a checkpoint: with the weights (model.safetensors) and AdamW's moments
/// (exp_avg.npy, exp_avg_sq.npy: float32 in the parameter layout, `parameters` below) it is all a resumed run
/// needs. The data position is the step: each epoch's batches are rebuilt from the seed (see LengthBatches).
public struct TrainerState: Codable, Equatable {
    public static let currentFormat = 1
    public var format: Int
    /// Updates done.
    public var step: Int
    public var settings: RunSettings
    /// Chunks in the training set and a hash of their lengths: a resumed run must read the same corpus.
    public var chunks: Int
    public var corpusFingerprint: String
    /// The parameter layout the moment files follow: (name, shape, offset).
    public var parameters: [ParameterEntry]

    public struct ParameterEntry: Codable, Equatable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
    }

    enum CodingKeys: String, CodingKey {
        case format, step, settings, chunks, parameters
        case corpusFingerprint = "corpus_fingerprint"
    }
}

/// Writing and reading checkpoint folders: the model in the Hugging Face format (config.json +
/// model.safetensors, which transformers' MambaForCausalLM loads) plus the optimizer state.
public enum TrainingCheckpoint {
    public static let stateFile = "trainer_state.json"

    /// Writes `directory` whole or not at all: everything goes to a temporary sibling that is renamed into place
    /// (an existing folder of that name, e.g. `final` of an earlier attempt, is replaced only then). The weights
    /// are stored as `dtype`; the optimizer moments always in float32.
    public static func write(to directory: URL, model: MambaModel, optimizer: AdamW, state: TrainerState,
                             dtype: StoredDType = .float32) throws {
        let fm = FileManager.default
        // Checked first, so that a nearly full disk stops the run with what it needs rather than mid-file.
        let needed = optimizer.parameterCount * (dtype.byteSize + 8) + 1 << 16
        if let free = DurableFile.freeBytes(at: directory.deletingLastPathComponent().path), free < needed {
            throw TrainingError("\(directory.path): the checkpoint needs \(DurableFile.byteCount(needed)) and \(DurableFile.byteCount(free)) "
                                + "are free where it goes; nothing was written and earlier checkpoints are kept: free space and run again")
        }
        let temporary = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: temporary)
        try model.save(to: temporary, dtype: dtype)
        try NPYArray(float32: optimizer.firstMoment, shape: [optimizer.parameterCount])
            .write(to: temporary.appendingPathComponent("exp_avg.npy"))
        try NPYArray(float32: optimizer.secondMoment, shape: [optimizer.parameterCount])
            .write(to: temporary.appendingPathComponent("exp_avg_sq.npy"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write([UInt8](try encoder.encode(state)), to: temporary.appendingPathComponent(stateFile))
        // An earlier folder of that name (`final/` of an interrupted attempt) stays until the new one is complete.
        let previous = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).old-\(getpid())")
        let replacing = fm.fileExists(atPath: directory.path)
        if replacing { try fm.moveItem(at: directory, to: previous) }
        try fm.moveItem(at: temporary, to: directory)
        if replacing { try? fm.removeItem(at: previous) }
    }

    public static func readState(_ directory: URL) throws -> TrainerState {
        let url = directory.appendingPathComponent(stateFile)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw TrainingError("\(url.path): not a trainer state (\(error))")
        }
        guard state.format == TrainerState.currentFormat else {
            throw TrainingError("\(url.path): format \(state.format), this Lethe reads format \(TrainerState.currentFormat)")
        }
        return state
    }

    /// The model and an optimizer restored from `directory`, checked against `state.parameters`.
    public static func read(_ directory: URL, state: TrainerState) throws -> (MambaModel, AdamW) {
        let model = try MambaModel.load(from: directory)
        let layout = model.layout.entries.map { TrainerState.ParameterEntry(name: $0.name, shape: $0.shape, offset: $0.offset) }
        guard layout == state.parameters else {
            throw TrainingError("\(directory.path): the model's parameters differ from those \(stateFile) lists")
        }
        var moments: [[Float]] = []
        for file in ["exp_avg.npy", "exp_avg_sq.npy"] {
            let array = try NPYArray.read(contentsOf: directory.appendingPathComponent(file))
            guard array.dtype == .float32, array.shape == [model.layout.count] else {
                throw TrainingError("\(directory.appendingPathComponent(file).path): expected float32 [\(model.layout.count)], found \(array.dtype.name) \(array.shape)")
            }
            moments.append(array.floats())
        }
        let o = state.settings.optimizer
        var optimizer = AdamW(parameterCount: model.layout.count, decayed: model.layout.decayedRanges,
                              weightDecay: o.weightDecay, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon)
        optimizer.step = state.step
        optimizer.firstMoment = moments[0]
        optimizer.secondMoment = moments[1]
        return (model, optimizer)
    }
}
