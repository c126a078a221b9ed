import XCTest
@testable import LetheAnalysis
@testable import LetheText

/// Oracle: NLTK 3.10.4 (tokenizer.json, made by make_analysis_fixtures.py). Tokens must be identical.
final class WordTokenizerTests: XCTestCase {
    func testTreebankMatchesNLTKWordTokenizerOnRealSentences() throws {
        let cases = try XCTUnwrap(Fixture.json("tokenizer.json")["treebank"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.filter { ($0["source"] as? String) != "edge" }.count, 1000)
        let tokenizer = TreebankWordTokenizer()
        var failures = 0
        for c in cases {
            let text = c["text"] as! String, expected = c["tokens"] as! [String]
            let got = tokenizer.tokenize(text)
            if got != expected {
                failures += 1
                if failures <= 10 { XCTFail("\(c["source"]!): \(text.debugDescription)\n got      \(got)\n expected \(expected)") }
            }
        }
        XCTAssertEqual(failures, 0, "of \(cases.count) sentences")
    }

    func testWordTokenizeMatchesNLTKOnMultiSentenceTexts() throws {
        let cases = try XCTUnwrap(Fixture.json("tokenizer.json")["word_tokenize"] as? [[String: Any]])
        let tokenizer = WordTokenizer()
        var failures = 0
        for c in cases {
            let text = c["text"] as! String
            let sentences = tokenizer.sentenceSplitter.sentences(text)
            let tokens = tokenizer.tokenize(text)
            if sentences != c["sentences"] as! [String] || tokens != c["tokens"] as! [String] {
                failures += 1
                if failures <= 10 {
                    XCTFail("\(c["source"]!): \(text.debugDescription)\n sentences \(sentences)\n expected  \(c["sentences"]!)\n tokens \(tokens)\n expected \(c["tokens"]!)")
                }
            }
        }
        XCTAssertEqual(failures, 0, "of \(cases.count) texts")
    }

    /// Letters whose Lowercase property changed between Python 3.11's Unicode 14 and Swift's newer tables
    /// (U+0295 became Lo; the modifier letters gained Other_Lowercase). Nothing else may differ.
    static let lowercaseChangedAfterUnicode14: Set<Int> = [0x295, 0x10FC, 0xA7F2, 0xA7F3, 0xA7F4, 0xAB69]

    /// Every code point Python 3.11 (Unicode 14) assigns: the predicates agree with `re`, `regex` and str methods.
    func testCharacterClassesMatchPython() throws {
        let classes = try XCTUnwrap(Fixture.json("tokenizer.json")["char_classes"] as? [String: Any])
        func set(_ key: String) -> [Bool] {
            var bits = [Bool](repeating: false, count: 0x30000)
            for r in classes[key] as! [[Int]] { for v in r[0]...r[1] { bits[v] = true } }
            return bits
        }
        let assigned = set("assigned")
        let predicates: [(String, (Unicode.Scalar) -> Bool)] = [
            ("re_word", { $0.isPythonReWord }), ("regex_word", { $0.isRegexWord }),
            ("re_space", { $0.isPythonSpace }), ("regex_space", { $0.isRegexSpace }),
            ("regex_digit", { $0.isRegexDigit }), ("str_isspace", { $0.isPythonSpace }),
            ("str_isupper", { $0.isPythonUpper }), ("str_islower", { $0.isPythonLower }),
        ]
        for (key, predicate) in predicates {
            let expected = set(key)
            var mismatches: [String] = []
            for v in 0..<0x30000 where assigned[v] {
                guard let s = Unicode.Scalar(v) else { continue }
                if predicate(s) != expected[v] && !(key == "str_islower" && Self.lowercaseChangedAfterUnicode14.contains(v)) {
                    mismatches.append(String(v, radix: 16))
                }
            }
            XCTAssertTrue(mismatches.isEmpty, "\(key): \(mismatches.count) code points differ, e.g. \(mismatches.prefix(20))")
        }
    }
}
