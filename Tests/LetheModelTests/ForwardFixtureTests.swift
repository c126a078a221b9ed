import Foundation
import XCTest
@testable import LetheModel
import LetheTestSupport

/// The forward pass against transformers' MambaForCausalLM (fixtures by make_model_fixtures.py): logits and
/// both states within 1e-4 of the tensor's largest magnitude.
final class ForwardFixtureTests: XCTestCase {
    let tolerance: Float = 1e-4

    private func checkChunks(model folder: String, expected: String, lengths: [Int]) throws {
        let model = try MambaModel.load(from: fixture(folder))
        for length in lengths {
            let name = "\(expected)/len\(length)"
            let (tokens, batch, l) = try expectedTokens("\(name).tokens")
            XCTAssertEqual(l, length)
            let cache = MambaCache(config: model.config, batchSize: batch)
            let logits = try model.forward(tokens: tokens, batchSize: batch, cache: cache, logits: .allTokens)!
            assertClose(logits, try expectedFloats("\(name).logits"), relativeToMax: tolerance, "\(name) logits")
            assertClose(cache.ssm, try expectedFloats("\(name).ssm"), relativeToMax: tolerance, "\(name) ssm state")
            assertClose(cache.conv, try expectedFloats("\(name).conv"), relativeToMax: tolerance, "\(name) conv state")
        }
    }

    func testEvenConfigMatchesTransformers() throws {
        try checkChunks(model: "even", expected: "even", lengths: [1, 3, 4, 9, 40])
    }

    func testOddShardedUntiedConfigMatchesTransformers() throws {
        try checkChunks(model: "odd-sharded", expected: "odd-sharded", lengths: [1, 2, 3, 5, 13, 40])
    }

    func testOriginalStateSpacesCheckpointMatchesTransformers() throws {
        try checkChunks(model: "orig", expected: "orig", lengths: [1, 2, 6, 17])
    }

    /// Falcon-Mamba: the same block with a weightless RMSNorm of dt, B and C (its mixer_rms_eps read from config.json).
    func testFalconMambaMatchesTransformers() throws {
        try checkChunks(model: "falcon", expected: "falcon", lengths: [1, 2, 5, 40])
        // The norms matter: the same weights read as Mamba-1 give other logits.
        let falcon = try MambaModel.load(from: fixture("falcon"))
        XCTAssertEqual(falcon.config.mixerRMSEpsilon, 0.01)
        var plain = falcon.config
        plain.mixerRMSEpsilon = nil
        let mamba = MambaModel(config: plain)
        mamba.parameters.pointer.update(from: falcon.parameters.pointer, count: falcon.parameters.count)
        let (tokens, batch, _) = try expectedTokens("falcon/len5.tokens")
        let logits = try mamba.forward(tokens: tokens, batchSize: batch, cache: MambaCache(config: plain, batchSize: batch), logits: .allTokens)!
        let expected = try expectedFloats("falcon/len5.logits")
        let gap = zip(logits, expected).map { abs($0 - $1) }.max()! / expected.map(abs).max()!
        XCTAssertGreaterThan(gap, 0.01, "without the norms, logits within \(gap) of max |logit|")
    }

    /// Mamba-2: several heads and groups, odd sizes, lengths within one of transformers' scan chunks and across
    /// several (chunk_size 8 and 5), dt clamped by time_step_limit (mamba2-odd).
    func testMamba2MatchesTransformers() throws {
        try checkChunks(model: "mamba2", expected: "mamba2", lengths: [1, 2, 7, 8, 9, 40])
        try checkChunks(model: "mamba2-odd", expected: "mamba2-odd", lengths: [1, 3, 5, 6, 13])
        // The original state-spaces layout of mamba2/ (ssm_cfg.layer Mamba2, pytorch_model.bin).
        try checkChunks(model: "mamba2-orig", expected: "mamba2", lengths: [2, 9])
        XCTAssertEqual(try MambaModel.load(from: fixture("mamba2-orig")).config.mamba2,
                       MambaConfig.Mamba2Heads(heads: 6, headDim: 8, groups: 2, chunkSize: 8))
        let config = try MambaModel.load(from: fixture("mamba2-odd")).config
        XCTAssertEqual(config.mamba2, MambaConfig.Mamba2Heads(heads: 7, headDim: 6, groups: 1, chunkSize: 5,
                                                               timeStepMin: 0.01, timeStepMax: 0.5))
        XCTAssertEqual(config.ssmStateShape, [3, 7, 6, 4])
        XCTAssertEqual(config.convStateShape, [3, 42 + 2 * 4, 4])
        XCTAssertEqual(try MambaModel.load(from: fixture("mamba2")).config.mamba2?.timeStepMax, .infinity,
                       "transformers 5's {\"__float__\": \"Infinity\"}")
    }

    func testHalfPrecisionCheckpointsMatchTransformers() throws {
        try checkChunks(model: "even-f16", expected: "even-f16", lengths: [6])
        try checkChunks(model: "even-bf16", expected: "even-bf16", lengths: [6])
    }

    /// Encoding (no logits: the last layer stops after its scan), last-token logits and keeping every
    /// layer's activations give the same numbers as the plain forward.
    func testLogitRequestsAndActivationModesAgree() throws {
        let model = try MambaModel.load(from: fixture("odd-sharded"))
        let (tokens, batch, length) = try expectedTokens("odd-sharded/len13.tokens")
        let reference = MambaCache(config: model.config, batchSize: batch)
        let all = try model.forward(tokens: tokens, batchSize: batch, cache: reference, logits: .allTokens)!

        let encoded = MambaCache(config: model.config, batchSize: batch)
        XCTAssertNil(try model.forward(tokens: tokens, batchSize: batch, cache: encoded, logits: .none))
        XCTAssertEqual(encoded.ssm, reference.ssm)
        XCTAssertEqual(encoded.conv, reference.conv)

        let last = try model.forward(tokens: tokens, batchSize: batch, cache: MambaCache(config: model.config, batchSize: batch),
                                     logits: .lastToken)!
        let v = model.config.vocabSize
        for b in 0..<batch {
            // Same rows, but sgemm may sum in another order for another number of rows: 1e-6.
            assertClose(Array(last[b * v ..< (b + 1) * v]), Array(all[((b + 1) * length - 1) * v ..< (b + 1) * length * v]),
                        relativeToMax: 1e-6, "last-token logits of sequence \(b)")
        }

        let kept = MambaActivations(config: model.config, batchSize: batch, length: length, keepEveryLayer: true)
        let keptCache = MambaCache(config: model.config, batchSize: batch)
        let keptLogits = try model.forward(tokens: tokens, batchSize: batch, cache: keptCache, logits: .allTokens,
                                           activations: kept)!
        // Keeping tensors for a backward pass makes it training's, whose products are cut among the workers
        // (ProductSplit.byWorkers) into other calls than encoding's, which OpenBLAS may round otherwise.
        assertClose(keptLogits, all, relativeToMax: 1e-6, "logits of the pass that keeps its tensors")
        assertClose(keptCache.ssm, reference.ssm, relativeToMax: 1e-6, "states of the pass that keeps its tensors")
        // The kept residual streams differ layer to layer (each layer adds its mixer output).
        XCTAssertNotEqual(kept.hidden[0].array, kept.hidden[1].array)
    }

    func testOneAndTwoWorkersGiveTheSameNumbers() throws {
        let model = try MambaModel.load(from: fixture("even"))
        let (tokens, batch, _) = try expectedTokens("even/len40.tokens")
        let saved = LetheThreads.count
        defer { LetheThreads.set(saved) }
        var results: [[Float]] = []
        for workers in [1, 2] {
            LetheThreads.set(workers)
            let cache = MambaCache(config: model.config, batchSize: batch)
            let logits = try model.forward(tokens: tokens, batchSize: batch, cache: cache, logits: .allTokens)!
            results.append(logits + cache.ssm + cache.conv)
        }
        assertClose(results[1], results[0], relativeToMax: 1e-6, "2 workers vs 1")
    }

    func testBadInputsAreRejectedWithTheirReason() throws {
        let model = try MambaModel.load(from: fixture("odd-sharded"))
        let cache = MambaCache(config: model.config, batchSize: 2)
        XCTAssertThrowsError(try model.forward(tokens: [1, 2, 3], batchSize: 2, cache: cache)) {
            XCTAssert("\($0)".contains("3 tokens do not make 2 sequences"), "\($0)")
        }
        XCTAssertThrowsError(try model.forward(tokens: [1, 101], batchSize: 2, cache: cache)) {
            XCTAssert("\($0)".contains("token id 101 outside the vocabulary 0..<101"), "\($0)")
        }
        XCTAssertThrowsError(try model.forward(tokens: [1, 2, 3], batchSize: 3, cache: cache)) {
            XCTAssert("\($0)".contains("the cache holds 2 sequences of states [2, 74, 5] / [2, 74, 3]; this batch needs 3"), "\($0)")
        }
    }
}
