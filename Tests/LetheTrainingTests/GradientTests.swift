import XCTest
import LetheModel
import LetheShards
@testable import LetheTraining

/// The whole decoder's loss, every parameter's gradient and the encoder states' gradient against PyTorch (make_training_fixtures.py: the
/// reference's decoder construction on transformers' Mamba modules), for four configs: small, odd sizes (a chunk
/// shorter than the conv kernel), an untied lm_head with one layer and a batch of one, a Falcon-Mamba (its
/// weightless norms of dt, B and C), and two Mamba-2s (heads in groups, dt clamped or not; the LM gradients from
/// transformers' chunked scan).
final class GradientTests: XCTestCase {
    static let fixtures = ["small", "odd", "untied", "falcon", "mamba2", "mamba2-odd"]

    struct Fixture {
        let model: MambaModel
        let batch: TrainingBatch
        let expected: [String: Any]
        let directory: URL

        init(_ name: String) throws {
            directory = trainingFixtures.appendingPathComponent(name)
            model = try MambaModel.load(from: directory.appendingPathComponent("decoder"))
            let tokens = try NPYArray.read(contentsOf: directory.appendingPathComponent("tokens.npy"))
            let ssm = try NPYArray.read(contentsOf: directory.appendingPathComponent("encoder_ssm.npy"))
            let conv = try NPYArray.read(contentsOf: directory.appendingPathComponent("encoder_conv.npy"))
            let b = tokens.shape[0]
            let (ssmValues, convValues) = (ssm.floats(), conv.floats())
            let (ssmCount, convCount) = (ssmValues.count / b, convValues.count / b)
            let states = (0..<b).map { s in
                (ssm: Array(ssmValues[s * ssmCount ..< (s + 1) * ssmCount]),
                 conv: Array(convValues[s * convCount ..< (s + 1) * convCount]))
            }
            batch = TrainingBatch(tokens: try tokens.int32s(), batchSize: b, encoderStates: states)
            expected = try loadJSON("\(name)/expected.json")
        }

        func grads(_ file: String) throws -> [String: (shape: [Int], values: [Float])] {
            try readSafetensors(directory.appendingPathComponent(file))
        }
    }

    func testAutoencoderLossAndGradients() throws {
        for name in GradientTests.fixtures {
            let f = try Fixture(name)
            let backprop = Backprop(model: f.model, objective: .autoencoder)
            let loss = try backprop.lossAndGradients(f.batch)
            let expectedLoss = f.expected["autoencoder_loss"] as! Double
            XCTAssertEqual(loss, expectedLoss, accuracy: 1e-5 * expectedLoss, name)
            assertTensorsMatch(backprop.gradients, try f.grads("autoencoder_grads.safetensors"), tolerance: 1e-4,
                               "\(name) autoencoder")
            XCTAssertNil(backprop.stateGradients, "only when asked")
            // d(loss)/d(the encoder's states), asked for: the parameters' gradients are the same bits.
            let withStates = Backprop(model: f.model, objective: .autoencoder)
            withStates.computesStateGradients = true
            XCTAssertEqual(try withStates.lossAndGradients(f.batch), loss, name)
            XCTAssert(values(withStates.gradients) == values(backprop.gradients), "\(name): the parameters' gradients unchanged")
            let expectedStates = try f.grads("autoencoder_state_grads.safetensors")
            let states = try XCTUnwrap(withStates.stateGradients)
            XCTAssertLessThanOrEqual(relativeError(states.ssm, expectedStates["ssm"]!.values), 1e-4, "\(name) d(encoder ssm state)")
            XCTAssertLessThanOrEqual(relativeError(states.conv, expectedStates["conv"]!.values), 1e-4, "\(name) d(encoder conv state)")
            let forwardOnly = try backprop.loss(f.batch)
            XCTAssertEqual(forwardOnly.predictions, f.batch.batchSize * (f.batch.length + 1))
            XCTAssertEqual(forwardOnly.total / Double(forwardOnly.predictions), loss, accuracy: 1e-7 * loss)
        }
    }

    /// With no room for every layer's activations the backward pass recomputes each layer, and the output layer
    /// its logits: the same gradients, bit for bit.
    func testRecomputingLayersGivesTheSameGradients() throws {
        for name in GradientTests.fixtures {
            let f = try Fixture(name)
            let keeping = Backprop(model: f.model, objective: .autoencoder)
            let recomputing = Backprop(model: f.model, objective: .autoencoder)
            recomputing.activationBudget = 0
            let (a, b) = (try keeping.lossAndGradients(f.batch), try recomputing.lossAndGradients(f.batch))
            XCTAssertEqual(a, b, name)
            XCTAssert(values(keeping.gradients) == values(recomputing.gradients), name)
        }
    }

    /// The auto-encoder frames each chunk with the decoder's eos_token_id (0 for Mamba, Falcon-Mamba-7B's is 11).
    func testDecoderInputIsFramedWithTheConfigsEOS() throws {
        var config = try Fixture("small").model.config
        config.eosTokenID = 11
        let backprop = Backprop(model: MambaModel(config: config), objective: .autoencoder)
        let (input, targets, length) = try backprop.decoderSequences(TrainingBatch(tokens: [4, 5, 6, 7], batchSize: 2))
        XCTAssertEqual(input, [11, 4, 5, 11, 11, 6, 7, 11])
        XCTAssertEqual(targets, [4, 5, 11, -1, 6, 7, 11, -1])
        XCTAssertEqual(length, 4)
    }

    func testLanguageModelLossAndGradients() throws {
        for name in GradientTests.fixtures {
            let f = try Fixture(name)
            let backprop = Backprop(model: f.model, objective: .lm)
            let loss = try backprop.lossAndGradients(TrainingBatch(tokens: f.batch.tokens, batchSize: f.batch.batchSize))
            let expectedLoss = f.expected["lm_loss"] as! Double
            XCTAssertEqual(loss, expectedLoss, accuracy: 1e-5 * expectedLoss, name)
            assertTensorsMatch(backprop.gradients, try f.grads("lm_grads.safetensors"), tolerance: 1e-4, "\(name) lm")
        }
    }
}

/// Five AdamW steps (weight decay with the no-decay groups, clipping, a warmup schedule) against
/// torch.optim.AdamW + clip_grad_norm_ + transformers' get_scheduler on the same batch.
final class TrainingStepTests: XCTestCase {
    func testFiveAdamWStepsMatchTorch() throws {
        for name in GradientTests.fixtures {
            let f = try GradientTests.Fixture(name)
            let run = f.expected["adamw"] as! [String: Any]
            XCTAssertEqual(Set(f.model.layout.entries.map(\.name).filter(ParameterLayout.isExemptFromWeightDecay)),
                           Set(f.expected["no_decay"] as! [String]), "the no-decay group")
            let plan = LearningRatePlan(base: run["lr"] as! Double,
                                        schedule: LearningRateSchedule(rawValue: run["schedule"] as! String)!,
                                        warmupSteps: run["warmup"] as! Int, totalSteps: run["total_steps"] as! Int)
            let initial = values(f.model.parameters)
            let trainer = Trainer(model: f.model, objective: .autoencoder,
                                  settings: OptimizerSettings(learningRate: plan, weightDecay: run["weight_decay"] as! Double,
                                                              clipNorm: run["clip"] as? Double))
            let losses = run["losses"] as! [Double], lrs = run["lrs"] as! [Double], norms = run["grad_norms"] as! [Double]
            for i in 0..<losses.count {
                let record = try trainer.train(f.batch)
                XCTAssertEqual(record.step, i + 1)
                XCTAssertEqual(record.loss, losses[i], accuracy: 1e-5 * losses[i], "\(name) step \(i + 1) loss")
                XCTAssertEqual(record.lr, lrs[i], accuracy: 1e-12, "\(name) step \(i + 1) lr")
                XCTAssertEqual(record.gradNorm, norms[i], accuracy: 1e-5 * norms[i], "\(name) step \(i + 1) grad norm")
            }
            // What the five updates did to the weights, per tensor: max|Δp - Δp_ref| <= 1e-3 · max|Δp_ref|. (Adam
            // moves every weight by about the learning rate whatever its gradient's size, so float32 rounding in
            // small gradients shows in the update; measured up to 1.3e-4.)
            let final = try f.grads("adamw_final.safetensors"), trained = values(f.model.parameters)
            for entry in f.model.layout.entries {
                let range = entry.offset ..< entry.offset + entry.count
                let moved = zip(trained[range], initial[range]).map { $0 - $1 }
                let movedRef = zip(final[entry.name]!.values, initial[range]).map { $0 - $1 }
                XCTAssertLessThanOrEqual(relativeError(moved, movedRef), 1e-3, "\(name) after 5 steps: \(entry.name)")
            }
        }
    }
}

/// Every tensor of `buffer` against the file's tensor of the same name:
/// max|g - g_ref| <= tolerance · max|g_ref| per tensor, and no tensor missing on either side.
func assertTensorsMatch(_ buffer: ParameterBuffer, _ expected: [String: (shape: [Int], values: [Float])],
                        tolerance: Double, _ what: String) {
    XCTAssertEqual(Set(buffer.layout.entries.map(\.name)), Set(expected.keys), what)
    for entry in buffer.layout.entries {
        guard let reference = expected[entry.name] else { continue }
        XCTAssertEqual(entry.shape, reference.shape, "\(what) \(entry.name)")
        let error = relativeError(Array(buffer.tensor(entry)), reference.values)
        XCTAssertLessThanOrEqual(error, tolerance, "\(what) \(entry.name)")
    }
}
