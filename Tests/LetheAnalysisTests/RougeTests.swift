import XCTest
@testable import LetheAnalysis

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

    func testTokenizerHandCases() {
        XCTAssertEqual(Rouge.tokens("The CAT's 3.14 café"), ["the", "cat", "s", "3", "14", "caf"])
        XCTAssertEqual(Rouge.tokens("\u{212A}elvin \u{130}"), ["kelvin", "i"])
        XCTAssertEqual(Rouge.tokens(""), [])
        XCTAssertEqual(Rouge.rouge1(reference: "", prediction: ""), RougeScore(precision: 0, recall: 0, f1: 0))
    }
}
