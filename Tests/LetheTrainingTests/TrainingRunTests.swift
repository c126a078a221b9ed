import XCTest
import LetheModel
@testable import LetheTraining

/// Chunks held in memory, each with a random encoder state of the model's shape.
struct ArrayChunks: ChunkSource {
    let chunks: [[Int32]]
    let states: [(ssm: [Float], conv: [Float])]
    /// Throw once this many batches have been read (to interrupt a run).
    var failAfter: Int?
    let reads = Counter()

    final class Counter { var value = 0 }

    init(config: MambaConfig, lengths: [Int], seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        chunks = lengths.map { l in (0..<l).map { _ in Int32(1 + rng.nextIndex(below: config.vocabSize - 1)) } }
        let (ssmCount, convCount) = (config.numLayers * config.ssmCountPerLayer, config.numLayers * config.convCountPerLayer)
        states = lengths.map { _ in
            ((0..<ssmCount).map { _ in rng.nextUnitFloat() - 0.5 }, (0..<convCount).map { _ in rng.nextUnitFloat() - 0.5 })
        }
    }

    init(chunks: [[Int32]], states: [(ssm: [Float], conv: [Float])]) {
        self.chunks = chunks
        self.states = states
    }

    var lengths: [Int] { chunks.map(\.count) }

    func batch(_ indices: [Int], withStates: Bool) throws -> TrainingBatch {
        reads.value += 1
        if let failAfter, reads.value > failAfter { throw TrainingError("interrupted") }
        return TrainingBatch(tokens: indices.flatMap { chunks[$0] }, batchSize: indices.count,
                             encoderStates: withStates ? indices.map { states[$0] } : nil)
    }
}

final class TrainingRunTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func decoder() throws -> MambaModel {
        try MambaModel.load(from: trainingFixtures.appendingPathComponent("small/decoder"))
    }

    func settings(steps: Int = 6, objective: TrainingObjective = .autoencoder) -> RunSettings {
        RunSettings(objective: objective, batchSize: 2, steps: steps, seed: 7, shuffle: true,
                    optimizer: OptimizerSettings(learningRate: LearningRatePlan(base: 3e-3, schedule: .cosine,
                                                                                warmupSteps: 2, totalSteps: steps),
                                                 weightDecay: 0.1, clipNorm: 1.0),
                    evalEvery: 2, checkpointEvery: 3)
    }

    func logLines(_ folder: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: folder.appendingPathComponent(TrainingRun.logFile), encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Mixed lengths (three lengths, some batches partial), shuffled: 6 steps in one go, and 3 steps + an
    /// interruption + --resume, give bit-identical losses, learning rates, gradient norms and final weights.
    func testResumeReproducesAnUninterruptedRun() throws {
        let config = try decoder().config
        let lengths = [3, 4, 6, 3, 3, 6, 4, 3, 6]
        let validation = ArrayChunks(config: config, lengths: [5, 5, 2], seed: 2)
        let whole = scratch.appendingPathComponent("whole"), resumed = scratch.appendingPathComponent("resumed")

        let straight = try TrainingRun(settings: settings(), output: whole,
                                       train: ArrayChunks(config: config, lengths: lengths, seed: 1),
                                       validation: validation).run(resume: false, initialModel: decoder)
        var interrupted = ArrayChunks(config: config, lengths: lengths, seed: 1)
        interrupted.failAfter = 4  // dies in step 5, after the checkpoint of step 3
        XCTAssertThrowsError(try TrainingRun(settings: settings(), output: resumed, train: interrupted,
                                             validation: validation).run(resume: false, initialModel: decoder))
        XCTAssertEqual(try logLines(resumed).compactMap { $0["loss"] }.count, 4, "steps 1-4 were logged")
        var resumedFrom = -1
        let continued = try TrainingRun(settings: settings(), output: resumed,
                                        train: ArrayChunks(config: config, lengths: lengths, seed: 1),
                                        validation: validation)
            .run(resume: true, initialModel: { XCTFail("resuming must not start over"); return try decoder() }) {
                if case .resumed(let step, _) = $0 { resumedFrom = step }
            }
        XCTAssertEqual(resumedFrom, 3)

        let (a, b) = (try logLines(whole), try logLines(resumed))
        XCTAssertEqual(a.count, 6 + 3, "6 steps and validation after steps 2, 4 and 6")
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            for key in ["step", "loss", "lr", "grad_norm", "val_loss"] {
                XCTAssertEqual(x[key] as? Double, y[key] as? Double, "\(key) at step \(x["step"]!)")
            }
        }
        XCTAssert(values(straight.parameters) == values(continued.parameters), "final weights")
        // The losses move: the run trains.
        let losses = a.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(Set(losses).count, losses.count)
        // final/ is a Hugging Face folder with the optimizer state.
        let final = try TrainingCheckpoint.readState(whole.appendingPathComponent("final"))
        XCTAssertEqual(final.step, 6)
        let (reloaded, optimizer) = try TrainingCheckpoint.read(whole.appendingPathComponent("final"), state: final)
        XCTAssert(values(reloaded.parameters) == values(straight.parameters), "final/ holds the weights")
        XCTAssertEqual(optimizer.step, 6)
    }

    /// Validation with greedy scores by length and final/ from the best validation: an interrupted run resumed from
    /// its checkpoint writes the same log (losses, validation losses and scores by length) and the same best/ and
    /// final/ weights as an uninterrupted one. Each score equals the scorer applied to an independent greedy
    /// decoding of the same chunk by the logged step's weights.
    func testResumeWithValidationScoresAndBestCheckpoint() throws {
        let config = try decoder().config
        let lengths = [3, 4, 6, 3, 3, 6, 4, 3, 6]
        let validation = ArrayChunks(config: config, lengths: [5, 5, 5, 2, 7], seed: 2)
        // A scorer of its own (unigram overlap of ids), so the test checks the plumbing, not ROUGE; it cannot
        // score chunks that start with an even id, which the means leave out.
        let scorer: ReconstructionScorer = { reference, reconstruction in
            if reference[0] % 2 == 0 { return nil }
            let shared = Set(reference).intersection(reconstruction).count
            return reconstruction.isEmpty ? 0 : Double(2 * shared) / Double(Set(reference).count + Set(reconstruction).count)
        }
        func run(_ folder: URL, train: ArrayChunks, resume: Bool) throws -> MambaModel {
            let training = try TrainingRun(settings: settings(), output: folder, train: train, validation: validation)
            training.scorer = scorer
            training.finalCheckpoint = .best
            training.validationChunksPerLength = 2
            return try training.run(resume: resume, initialModel: decoder)
        }
        let whole = scratch.appendingPathComponent("whole"), resumed = scratch.appendingPathComponent("resumed")
        let straight = try run(whole, train: ArrayChunks(config: config, lengths: lengths, seed: 1), resume: false)
        var interrupted = ArrayChunks(config: config, lengths: lengths, seed: 1)
        interrupted.failAfter = 4  // dies in step 5, after the checkpoint of step 3 and the validation of step 4
        XCTAssertThrowsError(try run(resumed, train: interrupted, resume: false))
        let continued = try run(resumed, train: ArrayChunks(config: config, lengths: lengths, seed: 1), resume: true)

        XCTAssert(validation.chunks.contains { $0[0] % 2 == 0 } && validation.chunks.contains { $0[0] % 2 != 0 },
                  "the sample has chunks the scorer scores and chunks it leaves out")
        let (a, b) = (try logLines(whole), try logLines(resumed))
        XCTAssertEqual(a.count, 6 + 3)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            for key in ["step", "loss", "lr", "grad_norm", "val_loss", "val_chunks"] {
                XCTAssertEqual(x[key] as? Double, y[key] as? Double, "\(key) at step \(x["step"]!)")
            }
            for key in ["val_loss_by_length", "val_f1_by_length"] {
                XCTAssertEqual(x[key] as? [String: Double], y[key] as? [String: Double], "\(key) at step \(x["step"]!)")
            }
        }
        let validations = a.filter { $0["val_loss"] != nil }
        XCTAssertEqual(validations.first?["val_chunks"] as? Int, 2 + 1 + 1, "2 of the 3 chunks of length 5")
        let best = validations.min { ($0["val_loss"] as! Double) < ($1["val_loss"] as! Double) }!
        let final = whole.appendingPathComponent("final")
        XCTAssertEqual(try TrainingCheckpoint.readState(final).step, best["step"] as? Int)
        XCTAssert(values(straight.parameters) == values(continued.parameters), "final weights")
        XCTAssert(values(try MambaModel.load(from: final).parameters) == values(straight.parameters), "final/ is the best")
        XCTAssertEqual(try TrainingCheckpoint.readState(whole.appendingPathComponent("step-6")).step, 6,
                       "the last step's weights are kept")

        // The logged scores of the best step, recomputed: the sample (chunks 0 and 1 of length 5, the others),
        // decoded greedily from each chunk's state by final/'s weights.
        let model = try MambaModel.load(from: final)
        let greedy = try GreedyDecoder(model: model, batchSize: 4)
        var expected: [String: Double] = [:]
        for (length, indices) in [(2, [3]), (5, [0, 1]), (7, [4])] {
            let decoded = try greedy.decode(indices.map {
                DecodingRequest(ssm: validation.states[$0].ssm, conv: validation.states[$0].conv, maxNewTokens: length + 8)
            })
            let scores = zip(indices, decoded).compactMap { scorer(validation.chunks[$0.0], $0.1.tokens) }
            if !scores.isEmpty { expected[String(length)] = scores.reduce(0, +) / Double(scores.count) }
        }
        let logged = try XCTUnwrap(best["val_f1_by_length"] as? [String: Double])
        XCTAssertEqual(Set(logged.keys), Set(expected.keys), "lengths with a scorable chunk")
        for (key, value) in expected { XCTAssertEqual(logged[key]!, value, accuracy: 1e-12, "length \(key)") }
    }

    func testRefusesToOverwriteARunAndToResumeWithOtherSettings() throws {
        let config = try decoder().config
        let chunks = ArrayChunks(config: config, lengths: [4, 4, 4], seed: 1)
        let out = scratch.appendingPathComponent("run")
        _ = try TrainingRun(settings: settings(steps: 3, objective: .lm), output: out, train: chunks)
            .run(resume: false, initialModel: decoder)
        let log = try String(contentsOf: out.appendingPathComponent(TrainingRun.logFile), encoding: .utf8)
        XCTAssertThrowsError(try TrainingRun(settings: settings(steps: 3, objective: .lm), output: out, train: chunks)
            .run(resume: false, initialModel: decoder)) { error in
            XCTAssert("\(error)".contains("already holds a training run"), "\(error)")
        }
        var other = settings(steps: 3, objective: .lm)
        other.seed = 8
        XCTAssertThrowsError(try TrainingRun(settings: other, output: out, train: chunks)
            .run(resume: true, initialModel: decoder)) { error in
            XCTAssert("\(error)".contains("other settings"), "\(error)")
        }
        XCTAssertThrowsError(try TrainingRun(settings: settings(steps: 3, objective: .lm), output: out,
                                             train: ArrayChunks(config: config, lengths: [4, 4, 5], seed: 1))
            .run(resume: true, initialModel: decoder)) { error in
            XCTAssert("\(error)".contains("another training set"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent(TrainingRun.logFile), encoding: .utf8), log,
                       "the log is untouched")
    }

    /// Same seed and threads, two fresh runs: bit-identical losses (no thread timing reaches the numbers).
    func testRunsAreDeterministic() throws {
        let config = try decoder().config
        var logs: [[Double]] = []
        for name in ["one", "two"] {
            let out = scratch.appendingPathComponent(name)
            _ = try TrainingRun(settings: settings(steps: 3), output: out,
                                train: ArrayChunks(config: config, lengths: [5, 5, 3, 5], seed: 3))
                .run(resume: false, initialModel: decoder)
            logs.append(try logLines(out).compactMap { $0["loss"] as? Double })
        }
        XCTAssertEqual(logs[0], logs[1])
        XCTAssertEqual(logs[0].count, 3)
    }
}

final class BatchingTests: XCTestCase {
    func testInOrderBatchesFollowTheCorpus() {
        let plan = LengthBatches(lengths: [3, 5, 3, 3, 5, 4, 3], batchSize: 2, shuffle: false, seed: 1)
        // A batch leaves when full; partial batches follow in the order of their first chunk.
        XCTAssertEqual(plan.epoch(0), [[0, 2], [1, 4], [3, 6], [5]])
        XCTAssertEqual(plan.epoch(3), plan.epoch(0))
        XCTAssertEqual(plan.batchesPerEpoch, 4)
    }

    func testShuffledBatchesCoverEveryChunkOnceWithOneLengthEach() {
        var rng = Xoshiro256(seed: 5)
        let lengths = (0..<200).map { _ in 4 + rng.nextIndex(below: 20) }
        let plan = LengthBatches(lengths: lengths, batchSize: 8, shuffle: true, seed: 42)
        var orders: [[Int]] = []
        for epoch in 0..<3 {
            let batches = plan.epoch(epoch)
            XCTAssertEqual(batches.count, plan.batchesPerEpoch)
            XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<200))
            for batch in batches {
                XCTAssert((1...8).contains(batch.count))
                XCTAssertEqual(Set(batch.map { lengths[$0] }).count, 1, "one length per batch")
            }
            XCTAssertEqual(batches, plan.epoch(epoch), "rebuilt from the seed")
            orders.append(batches.flatMap { $0 })
        }
        XCTAssertNotEqual(orders[0], orders[1])
        XCTAssertNotEqual(orders[0], LengthBatches(lengths: lengths, batchSize: 8, shuffle: true, seed: 43).epoch(0).flatMap { $0 })
    }

    /// xoshiro256** seeded by SplitMix64, against an independent Python implementation of the published
    /// algorithms (SplitMix64's first output for seed 0 is the well-known 0xe220a8397b1dcdaf).
    func testGeneratorMatchesTheReferenceAlgorithm() {
        var a = Xoshiro256(seed: 42)
        XCTAssertEqual([a.next(), a.next(), a.next()], [0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1])
        var b = Xoshiro256(seed: 0)
        XCTAssertEqual([b.next(), b.next()], [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a])
        var c = Xoshiro256(seed: 9)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<3000 { counts[c.nextIndex(below: 3)] += 1 }
        XCTAssert(counts.allSatisfy { (900...1100).contains($0) }, "\(counts)")
    }
}

final class InitializationTests: XCTestCase {
    /// Random weights drawn as transformers' _init_weights: the fixed parts exactly, the random ones within
    /// their ranges and with the stated spread; the same seed gives the same weights.
    func testRandomWeightsFollowTransformersInit() throws {
        let config = try MambaConfig.read(contentsOf: trainingFixtures.appendingPathComponent("small/decoder/config.json"))
        let a = MambaModel(config: config), b = MambaModel(config: config)
        var settings = MambaInitialization()
        settings.initializerRange = 0.05
        settings.randomize(a, seed: 3)
        settings.randomize(b, seed: 3)
        XCTAssert(values(a.parameters) == values(b.parameters), "the same seed, the same weights")
        let (di, n, k, r) = (config.intermediateSize, config.stateSize, config.convKernel, config.timeStepRank)
        func read(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
        let w = a.weights, layer = w.layers[1]
        XCTAssertEqual(read(layer.aLog, di * n), (0..<di * n).map { Float(log(Double($0 % n + 1))) })
        XCTAssertEqual(Set(read(layer.d, di)), [1])
        XCTAssertEqual(Set(read(layer.norm, config.hiddenSize) + read(w.normF, config.hiddenSize)), [1])
        XCTAssertEqual(Set(read(layer.convBias, di)), [0])
        XCTAssert(read(layer.convWeight, di * k).allSatisfy { abs($0) <= 1 / Float(k).squareRoot() })
        XCTAssert(read(layer.dtProjWeight, di * r).allSatisfy { abs($0) <= 1 / Float(r).squareRoot() })
        // softplus(dt bias) is the initial time step, in [time_step_min, time_step_max].
        XCTAssert(read(layer.dtProjBias, di).allSatisfy { let dt = log1p(exp(Double($0))); return dt >= 0.001 * 0.999 && dt <= 0.1 * 1.001 })
        let embeddings = read(w.embeddings, config.vocabSize * config.hiddenSize).map(Double.init)
        let std = (embeddings.reduce(0) { $0 + $1 * $1 } / Double(embeddings.count)).squareRoot()
        XCTAssertEqual(std, 0.05, accuracy: 0.005, "normal(0, initializer_range)")
        withExtendedLifetime(a) {}  // `w` points into a's parameters
    }

    /// Mamba-2's as Mamba2PreTrainedModel._init_weights: A_log = log(1…H) per head, D and the norms 1, conv bias 0,
    /// conv and out_proj within their kaiming bounds, softplus(dt_bias) in [time_step_min, time_step_max], in_proj
    /// normal(0, initializer_range).
    func testRandomMamba2WeightsFollowTransformersInit() throws {
        // A config-only folder as Python's json module writes it (a bare Infinity in time_step_limit) loads too.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-mamba2-init-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = #"{"model_type": "mamba2", "hidden_size": 8, "num_hidden_layers": 1, "num_heads": 4, "head_dim": 4, "n_groups": 2, "state_size": 3, "vocab_size": 11, "time_step_limit": [0.0, Infinity]}"#
        try text.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let (scratch, random) = try MambaModel.loadOrRandomize(from: folder, seed: 1)
        XCTAssertTrue(random)
        XCTAssertEqual(scratch.config.mamba2?.timeStepMax, .infinity)

        let config = try MambaConfig.read(contentsOf: trainingFixtures.appendingPathComponent("mamba2/decoder/config.json"))
        let model = MambaModel(config: config)
        MambaInitialization().randomize(model, seed: 4)
        let (di, heads, k) = (config.intermediateSize, config.mamba2!.heads, config.convKernel)
        func read(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
        let w = model.weights, layer = w.layers[1]
        XCTAssertEqual(read(layer.aLog, heads), (0..<heads).map { Float(log(Double($0 + 1))) })
        XCTAssertEqual(Set(read(layer.d, heads)), [1])
        XCTAssertEqual(Set(read(layer.norm, config.hiddenSize) + read(layer.gatedNorm, di) + read(w.normF, config.hiddenSize)), [1])
        XCTAssertEqual(Set(read(layer.convBias, config.convChannels)), [0])
        XCTAssert(read(layer.convWeight, config.convChannels * k).allSatisfy { abs($0) <= 1 / Float(k).squareRoot() })
        XCTAssert(read(layer.outProj, config.hiddenSize * di).allSatisfy { abs($0) <= 1 / Float(di).squareRoot() })
        XCTAssert(read(layer.dtProjBias, heads).allSatisfy { let dt = log1p(exp(Double($0))); return dt >= 0.001 * 0.999 && dt <= 0.1 * 1.001 })
        let inProj = read(layer.inProj, config.inProjSize * config.hiddenSize).map(Double.init)
        XCTAssertEqual((inProj.reduce(0) { $0 + $1 * $1 } / Double(inProj.count)).squareRoot(), 0.1, accuracy: 0.01,
                       "normal(0, initializer_range)")
        withExtendedLifetime(model) {}
    }
}
