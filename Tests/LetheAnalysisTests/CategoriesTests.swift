import XCTest
@testable import LetheAnalysis

/// Hand cases: the reference's POS map (ouroboros pos_analysis.py), NER merging, and each word-class rule.
final class CategoriesTests: XCTestCase {
    func testPOSMapCoversEveryCoNLLTag() {
        // The reference's 47 CoNLL-2003 tags (pos_key) and the class pos_to_cat gives each.
        let expected: [String: String] = [
            "\"": "PUNCT", "''": "PUNCT", "#": "SYM", "$": "SYM", "(": "PUNCT", ")": "PUNCT", ",": "PUNCT", ".": "PUNCT",
            ":": "PUNCT", "``": "PUNCT", "CC": "CONJ", "CD": "NUM", "DT": "DET", "EX": "ADV", "FW": "X", "IN": "ADP",
            "JJ": "ADJ", "JJR": "ADJ", "JJS": "ADJ", "LS": "NUM", "MD": "VERB", "NN": "NOUN", "NNP": "NOUN", "NNPS": "NOUN",
            "NNS": "NOUN", "NN|SYM": "NOUN", "PDT": "DET", "POS": "PRT", "PRP": "PRON", "PRP$": "PRON", "RB": "ADV",
            "RBR": "ADV", "RBS": "ADV", "RP": "PRT", "SYM": "SYM", "TO": "ADP", "UH": "INTJ", "VB": "VERB", "VBD": "VERB",
            "VBG": "VERB", "VBN": "VERB", "VBP": "VERB", "VBZ": "VERB", "WDT": "DET", "WP": "PRON", "WP$": "PRON", "WRB": "ADV",
        ]
        XCTAssertEqual(expected.count, 47)
        for (tag, cls) in expected { XCTAssertEqual(POSClass(pennTag: tag)?.rawValue, cls, tag) }
        XCTAssertEqual(Set(expected.values).count, 14)
        XCTAssertNil(POSClass(pennTag: "-X-"))
    }

    func testPOSMapOnTheShippedCoNLLData() throws {
        let url = Fixture.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("data/conll2003/eng.testa")
        let text = try String(contentsOf: url, encoding: .utf8)
        var unmapped: Set<String> = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 4, f[0] != "-DOCSTART-" else { continue }
            if POSClass(pennTag: f[1]) == nil { unmapped.insert(f[1]) }
            if NERClass(tag: f[3]) == nil { unmapped.insert(f[3]) }
        }
        XCTAssertEqual(unmapped, [])
    }

    func testNERMerge() {
        XCTAssertEqual(NERClass(tag: "B-PER"), .person)
        XCTAssertEqual(NERClass(tag: "I-ORG"), .organization)
        XCTAssertEqual(NERClass(tag: "I-LOC"), .location)
        XCTAssertEqual(NERClass(tag: "B-MISC"), .misc)
        XCTAssertEqual(NERClass(tag: "O"), NERClass.none)
        XCTAssertNil(NERClass(tag: "B-O"))
        XCTAssertNil(NERClass(tag: "PER"))
    }

    func testWordClasses() {
        func classes(_ text: String, math: Bool = false) -> [String] {
            let words = text.split(separator: " ").map(String.init)
            return words.indices.map { WordClass.classify(words, at: $0, mathChunk: math).rawValue }
        }
        XCTAssertEqual(classes("see https://x.org or www.a.com mail a@b.co"), ["word", "url", "word", "url", "word", "url"])
        XCTAssertEqual(classes("3 -2.5 1,000 50% .5 1. 1..2 ,5"), ["number", "number", "number", "number", "number", "word", "word", "word"])
        XCTAssertEqual(classes("2=18 x+1 + × ≤ foo=bar"), ["math", "math", "math", "math", "math", "code"])
        XCTAssertEqual(classes("pages 3 - 5 and well - known"), ["word", "number", "math", "number", "word", "word", "punctuation", "word"])
        XCTAssertEqual(classes("well - known", math: true), ["word", "math", "word"])
        // News dashes and slashes are prose: not math, and no variables beside them; next to a number, operators.
        XCTAssertEqual(classes("Clinton -- A U.S. and/or I / O"), ["capitalized", "punctuation", "capitalized", "capitalized", "word", "capitalized", "punctuation", "capitalized"])
        XCTAssertEqual(classes("3 -- x ** y"), ["number", "math", "variable", "punctuation", "word"])
        XCTAssertEqual(classes("x ** y // z", math: true), ["variable", "math", "variable", "math", "variable"])
        XCTAssertEqual(classes("x = 3 and a 5 kg bag , a + b"), ["variable", "math", "number", "word", "word", "number", "word", "word", "punctuation", "variable", "math", "variable"])
        XCTAssertEqual(classes("get_value getValue iPhone McDonald x[0] {"), ["code", "code", "code", "capitalized", "code", "punctuation"])
        XCTAssertEqual(classes("Hello , `` '' ... $ the"), ["capitalized", "punctuation", "punctuation", "punctuation", "punctuation", "punctuation", "word"])
    }

    func testPositionAndFrequencyBins() {
        XCTAssertEqual((0..<10).map { positionBin(index: $0, count: 10, bins: 10) }, Array(0..<10))
        XCTAssertEqual((0..<3).map { positionBin(index: $0, count: 3, bins: 10) }, [1, 5, 8])
        XCTAssertEqual(positionBin(index: 0, count: 1, bins: 4), 2)
        XCTAssertEqual([0, 1, 9, 10, 99, 100, 999, 1000, Int64.max].map { logBin($0) }, [-1, 0, 0, 1, 1, 2, 2, 3, 18])
        XCTAssertEqual(logBin(8, base: 2), 3)
        XCTAssertTrue(logBinBounds(3) == (1000, 10000))
        XCTAssertTrue(logBinBounds(-1) == (0, 1))
        XCTAssertTrue(logBinBounds(18) == (1_000_000_000_000_000_000, Int64.max))
    }
}
