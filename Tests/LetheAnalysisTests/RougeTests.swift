import XCTest
@testable import LetheAnalysis
import LetheTokenizer

/// Oracle: rouge-score 0.1.2, RougeScorer(['rouge1']) with defaults (rouge.json). Tolerance 1e-12 absolute
/// (the scores are ratios of small integers; any difference would be a different count).
final class RougeTests: XCTestCase {
    func testRouge1MatchesRougeScore() throws {
        let cases = try XCTUnwrap(Fixture.json("rouge.json")["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 150)
        for c in cases {
            let score = Rouge.rouge1(reference: c["reference"] as! String, prediction: c["prediction"] as! String)
            let label = "\((c["reference"] as! String).prefix(40).debugDescription)"
            XCTAssertEqual(score.precision, Fixture.double(c["precision"]), accuracy: 1e-12, label)
            XCTAssertEqual(score.recall, Fixture.double(c["recall"]), accuracy: 1e-12, label)
            XCTAssertEqual(score.f1, Fixture.double(c["f1"]), accuracy: 1e-12, label)
        }
    }

    /// lethe-train's validation score from token ids (Rouge.tokenF1 with the GPT-NeoX tokenizer's decoding) against
    /// the tokenizers package's decoding scored by rouge-score: 128 chunks of shipped code and prose, 8 of them
    /// without a word, which both leave out (null in the fixture, nil here).
    func testTokenF1MatchesTokenizersAndRougeScore() throws {
        let cases = try XCTUnwrap(Fixture.json("rouge.json")["token_cases"] as? [[String: Any]])
        let tokenizerFile = Fixture.directory.appendingPathComponent("../../../data/tokenizer/gpt-neox-20b-tokenizer.json")
        let tokenizer = try Tokenizer(contentsOf: tokenizerFile.standardizedFileURL)
        let score = Rouge.tokenF1(decode: { tokenizer.decode($0) })
        XCTAssertEqual(cases.filter { $0["f1"] is NSNull }.count, 8)
        for (i, c) in cases.enumerated() {
            let reference = (c["reference_ids"] as! [NSNumber]).map(\.int32Value)
            let reconstruction = (c["reconstruction_ids"] as! [NSNumber]).map(\.int32Value)
            let actual = score(reference, reconstruction)
            if c["f1"] is NSNull {
                XCTAssertNil(actual, "case \(i): \(tokenizer.decode(reference).debugDescription) has no word")
            } else {
                XCTAssertEqual(try XCTUnwrap(actual, "case \(i)"), Fixture.double(c["f1"]), accuracy: 1e-12, "case \(i)")
            }
        }
    }

    func testTokenizerHandCases() {
        XCTAssertEqual(Rouge.tokens("The CAT's 3.14 café"), ["the", "cat", "s", "3", "14", "caf"])
        XCTAssertEqual(Rouge.tokens("\u{212A}elvin \u{130}"), ["kelvin", "i"])
        XCTAssertEqual(Rouge.tokens(""), [])
        XCTAssertEqual(Rouge.rouge1(reference: "", prediction: ""), RougeScore(precision: 0, recall: 0, f1: 0))
        XCTAssertFalse(Rouge.canScore(reference: "):\n        \"\"\""))
        XCTAssertTrue(Rouge.canScore(reference: "    def"))
    }
}
