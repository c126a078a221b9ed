import Foundation
import XCTest
@testable import LetheModel
import LetheTestSupport

/// The recurrent one-token step and the forward pass from an initial cache, against transformers' own
/// cached decoding (its one-token path, the one that uses both states) and against the full forward over
/// the growing sequence.
final class StepTests: XCTestCase {
    let tolerance: Float = 1e-4

    /// `rows` (B, S, V) → the V logits of sequence b at step s.
    private func row(_ values: [Float], _ b: Int, _ s: Int, steps: Int, vocab: Int) -> [Float] {
        Array(values[(b * steps + s) * vocab ..< (b * steps + s + 1) * vocab])
    }

    private func column(_ tokens: [Int32], _ s: Int, steps: Int, batch: Int) -> [Int32] {
        (0..<batch).map { tokens[$0 * steps + s] }
    }

    /// Mamba-1 (continue/) and Mamba-2 (mamba2-continue/, where transformers' own multi-token forward over the
    /// prefix's cache is a second oracle: its chunked scan starts from the cache's state).
    func testStepsAndForwardFromCacheMatchTransformersCachedDecoding() throws {
        try checkContinuation(model: "even", expected: "continue")
        try checkContinuation(model: "mamba2", expected: "mamba2-continue")
        let model = try MambaModel.load(from: fixture("mamba2"))
        let (prefix, batch, _) = try expectedTokens("mamba2-continue/prefix.tokens")
        let cache = MambaCache(config: model.config, batchSize: batch)
        try model.forward(tokens: prefix, batchSize: batch, cache: cache)
        let logits = try model.forward(tokens: try expectedTokens("mamba2-continue/next.tokens").tokens, batchSize: batch,
                                       cache: cache, logits: .allTokens)!
        assertClose(logits, try expectedFloats("mamba2-continue/batched.logits"), relativeToMax: tolerance,
                    "mamba2 forward from a cache against transformers' chunked scan from that cache")
    }

    private func checkContinuation(model folder: String, expected name: String) throws {
        let model = try MambaModel.load(from: fixture(folder))
        let v = model.config.vocabSize
        let (prefix, batch, _) = try expectedTokens("\(name)/prefix.tokens")
        let (next, _, steps) = try expectedTokens("\(name)/next.tokens")
        let expected = try expectedFloats("\(name)/next.logits")
        let start = MambaCache(config: model.config, batchSize: batch)
        try model.forward(tokens: prefix, batchSize: batch, cache: start)

        // One token at a time.
        let stepped = start.copy()
        var steppedLogits = [Float](repeating: 0, count: batch * steps * v)
        for s in 0..<steps {
            let logits = try model.step(tokens: column(next, s, steps: steps, batch: batch), cache: stepped)
            for b in 0..<batch {
                steppedLogits.replaceSubrange((b * steps + s) * v ..< (b * steps + s + 1) * v, with: logits[b * v ..< (b + 1) * v])
            }
        }
        assertClose(steppedLogits, expected, relativeToMax: tolerance, "\(name) stepped logits")
        assertClose(stepped.ssm, try expectedFloats("\(name)/final.ssm"), relativeToMax: tolerance, "\(name) stepped ssm")
        assertClose(stepped.conv, try expectedFloats("\(name)/final.conv"), relativeToMax: tolerance, "\(name) stepped conv")

        // All following tokens in one forward pass from the prefix's cache.
        let continued = start.copy()
        let logits = try model.forward(tokens: next, batchSize: batch, cache: continued, logits: .allTokens)!
        assertClose(logits, expected, relativeToMax: tolerance, "\(name) forward-from-cache logits")
        assertClose(continued.ssm, stepped.ssm, relativeToMax: tolerance, "\(name) forward-from-cache ssm")
        assertClose(continued.conv, stepped.conv, relativeToMax: tolerance, "\(name) forward-from-cache conv")
    }

    /// Stepping token by token from the empty state equals the full forward over the growing sequence:
    /// logits of its last token and both states, at every length (shorter and longer than the conv kernel).
    func testStepsEqualFullForwardOverTheGrowingSequence() throws {
        for (folder, chunks) in [("odd-sharded", "odd-sharded/len13"), ("orig", "orig/len17"), ("mamba2-odd", "mamba2-odd/len13")] {
            let model = try MambaModel.load(from: fixture(folder))
            let (tokens, batch, length) = try expectedTokens("\(chunks).tokens")
            let stepped = MambaCache(config: model.config, batchSize: batch)
            for t in 0..<length {
                let logits = try model.step(tokens: column(tokens, t, steps: length, batch: batch), cache: stepped)
                let prefix = (0..<batch).flatMap { b in tokens[b * length ..< b * length + t + 1] }
                let full = MambaCache(config: model.config, batchSize: batch)
                let fullLogits = try model.forward(tokens: prefix, batchSize: batch, cache: full, logits: .lastToken)!
                assertClose(logits, fullLogits, relativeToMax: tolerance, "\(folder) step \(t) logits")
                assertClose(stepped.ssm, full.ssm, relativeToMax: tolerance, "\(folder) step \(t) ssm")
                assertClose(stepped.conv, full.conv, relativeToMax: tolerance, "\(folder) step \(t) conv")
            }
        }
    }

    /// The auto-encoder's construction: the decoder (other weights) starts from the encoder's cache, reads
    /// eos, then its own greedy choices. Against transformers' cached decoding of the same.
    /// Mamba-1 (decode/), Falcon-Mamba (falcon-decode/) and Mamba-2 (mamba2-decode/).
    func testDecoderStepsFromEncoderCacheMatchTransformers() throws {
        try checkDecoderSteps(encoder: "odd-sharded", decoder: "odd-decoder", expected: "decode")
        try checkDecoderSteps(encoder: "falcon", decoder: "falcon-decoder", expected: "falcon-decode")
        try checkDecoderSteps(encoder: "mamba2-odd", decoder: "mamba2-decoder", expected: "mamba2-decode")
    }

    private func checkDecoderSteps(encoder encoderFolder: String, decoder decoderFolder: String, expected folder: String) throws {
        let encoder = try MambaModel.load(from: fixture(encoderFolder))
        let decoder = try MambaModel.load(from: fixture(decoderFolder))
        let v = decoder.config.vocabSize
        let (prefix, batch, _) = try expectedTokens("\(folder)/prefix.tokens")
        let (fed, _, steps) = try expectedTokens("\(folder)/fed.tokens")
        let expected = try expectedFloats("\(folder)/fed.logits")
        let encoded = MambaCache(config: encoder.config, batchSize: batch)
        try encoder.forward(tokens: prefix, batchSize: batch, cache: encoded)

        let cache = try MambaCache(config: decoder.config, sequences: (0..<batch).map {
            (encoded.ssmState(sequence: $0), encoded.convState(sequence: $0))
        })
        let teacherForced = cache.copy()
        for s in 0..<steps {
            let logits = try decoder.step(tokens: column(fed, s, steps: steps, batch: batch), cache: cache)
            for b in 0..<batch {
                let mine = Array(logits[b * v ..< (b + 1) * v])
                let theirs = row(expected, b, s, steps: steps, vocab: v)
                assertClose(mine, theirs, relativeToMax: tolerance, "\(folder) step \(s) sequence \(b)")
                // Greedy choice: the next fed token is transformers' argmax; ours agrees unless a near tie.
                if s + 1 < steps {
                    let sorted = theirs.sorted(by: >)
                    if sorted[0] - sorted[1] > 10 * tolerance * sorted.map(abs).max()! {
                        XCTAssertEqual(Int32(mine.indices.max { mine[$0] < mine[$1] }!), fed[b * steps + s + 1])
                    }
                }
            }
        }
        assertClose(cache.ssm, try expectedFloats("\(folder)/final.ssm"), relativeToMax: tolerance, "\(folder) final ssm")
        assertClose(cache.conv, try expectedFloats("\(folder)/final.conv"), relativeToMax: tolerance, "\(folder) final conv")

        // Teacher forcing: the whole fed sequence in one forward pass from the encoder's cache.
        let logits = try decoder.forward(tokens: fed, batchSize: batch, cache: teacherForced, logits: .allTokens)!
        assertClose(logits, expected, relativeToMax: tolerance, "\(folder) teacher-forced decoder logits")
    }

    /// Dropping finished sequences from a decoding batch leaves the others' numbers unchanged.
    func testStepOnASubsetOfTheBatch() throws {
        let model = try MambaModel.load(from: fixture("odd-sharded"))
        let (tokens, batch, _) = try expectedTokens("odd-sharded/len5.tokens")
        let cache = MambaCache(config: model.config, batchSize: batch)
        try model.forward(tokens: tokens, batchSize: batch, cache: cache)
        let kept = try cache.subset([2, 0])
        XCTAssertEqual(kept.ssmState(sequence: 0), cache.ssmState(sequence: 2))
        let all = try model.step(tokens: [7, 8, 9], cache: cache)
        let some = try model.step(tokens: [9, 7], cache: kept)
        let v = model.config.vocabSize
        assertClose(some, Array(all[2 * v ..< 3 * v] + all[0 ..< v]), relativeToMax: 1e-6, "subset step logits")
        assertClose(kept.ssm, cache.ssmState(sequence: 2) + cache.ssmState(sequence: 0), relativeToMax: 1e-6, "subset ssm")
        XCTAssertThrowsError(try cache.subset([batch]))
    }

    func testStepRejectsATokenCountThatIsNotTheBatch() throws {
        let model = try MambaModel.load(from: fixture("orig"))
        XCTAssertThrowsError(try model.step(tokens: [1, 2, 3], cache: MambaCache(config: model.config, batchSize: 2))) {
            XCTAssert("\($0)".contains("3 tokens for a cache of 2 sequences"), "\($0)")
        }
    }
}
