import Foundation
import LetheShards
import XCTest
@testable import LetheModel

/// ChunkEncoder cuts long batches into passes of at most `tokensPerPass` tokens; the final states and the
/// surprisal must not depend on where the cuts fall (the last token of a pass predicts the first of the next).
final class ChunkEncoderTests: XCTestCase {
    /// The fixture's two 40-token chunks of the `even` model, in passes of 80 tokens (one pass) and of 6 tokens
    /// (3 tokens of each chunk per pass): states within 1e-6 of the largest magnitude, surprisal within 1e-5 nats;
    /// the first token NaN, every other finite.
    func testPassesCutAnywhereGiveTheSameStatesAndSurprisal() throws {
        let model = try MambaModel.load(from: fixture("even"))
        let (tokens, batch, length) = try expectedTokens("even/len40.tokens")
        let chunks = (0..<batch).map { Array(tokens[$0 * length ..< ($0 + 1) * length]) }
        let whole = try ChunkEncoder(model: model, tokensPerPass: 80).encode(chunks, length: length, surprisal: true)
        let cut = try ChunkEncoder(model: model, tokensPerPass: 6).encode(chunks, length: length, surprisal: true)
        let scale = whole.cache.ssm.map(abs).max()!
        for (a, b) in zip(whole.cache.ssm, cut.cache.ssm) { XCTAssertLessThanOrEqual(abs(a - b), 1e-6 * scale) }
        let surprisal = try XCTUnwrap(whole.surprisal), cutSurprisal = try XCTUnwrap(cut.surprisal)
        for (s, chunk) in surprisal.enumerated() {
            XCTAssertTrue(chunk[0].isNaN && cutSurprisal[s][0].isNaN)
            for t in 1 ..< length {
                XCTAssertTrue(chunk[t].isFinite && chunk[t] >= 0, "chunk \(s) token \(t): \(chunk[t])")
                XCTAssertEqual(chunk[t], cutSurprisal[s][t], accuracy: 1e-5, "chunk \(s) token \(t)")
            }
        }
        XCTAssertNil(try ChunkEncoder(model: model).encode(chunks, length: length, surprisal: false).surprisal)
    }

    /// The encoder multiplies on packed weights (packedLinearForward): its states are the forward pass's on
    /// OpenBLAS to within 1e-6 of the largest magnitude, and the same bits on AVX2 as on AVX-512 (each product's
    /// outputs round alike on both, as do the scan and the conv), for a Mamba-1 and a Mamba-2 fixture.
    func testPackedProductsGiveTheForwardPassStatesOnEveryVectorPath() throws {
        let saved = vectorPath
        defer { vectorPath = saved }
        for name in ["even", "mamba2"] {
            let model = try MambaModel.load(from: fixture(name))
            let (tokens, batch, length) = try expectedTokens("\(name)/len40.tokens")
            let chunks = (0..<batch).map { Array(tokens[$0 * length ..< ($0 + 1) * length]) }
            let reference = MambaCache(config: model.config, batchSize: batch)
            try model.forward(tokens: tokens, batchSize: batch, cache: reference)
            var bits: [VectorPath: [UInt32]] = [:]
            for path in [VectorPath.avx2, .avx512] where path.isAvailable {
                vectorPath = path
                let cache = try ChunkEncoder(model: model).finalCache(chunks, length: length)
                for (states, expected) in [(cache.ssm, reference.ssm), (cache.conv, reference.conv)] {
                    let scale = expected.map(abs).max()!
                    for (a, b) in zip(states, expected) { XCTAssertLessThanOrEqual(abs(a - b), 1e-6 * scale, "\(name) \(path)") }
                }
                bits[path] = (cache.ssm + cache.conv).map(\.bitPattern)
            }
            if let avx2 = bits[.avx2], let avx512 = bits[.avx512] { XCTAssertEqual(avx2, avx512, "\(name): AVX2 and AVX-512") }
        }
    }
}
