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
}
