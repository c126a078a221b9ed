import Foundation
import XCTest
@testable import LetheTokenizer

/// Every id of every fixture case must equal the `tokenizers` package's (exact integer comparison); decoding
/// must give `tokenizers`' decoded text scalar for scalar.
final class TokenizerFixtureTests: XCTestCase {
    /// `nfc`: whether the tokenizer normalizes (then decode(encode(x)) must be NFC(x), else x itself).
    private func check(_ tokenizer: Tokenizer, fixture name: String, nfc: Bool = true, file: StaticString = #filePath,
                       line: UInt = #line) throws {
        let cases = try FixtureCase.load(name)
        XCTAssertFalse(cases.isEmpty, "\(name) is empty", file: file, line: line)
        var mismatches = 0
        for fixture in cases {
            let ids = tokenizer.encode(fixture.text)
            if ids != fixture.ids {
                mismatches += 1
                if mismatches <= 5 {
                    XCTFail("\(name):\(fixture.line) \(fixture.text.debugDescription.prefix(200)): got \(ids.prefix(40)), "
                            + "expected \(fixture.ids.prefix(40))", file: file, line: line)
                }
            }
            XCTAssertSameScalars(tokenizer.decode(fixture.ids), fixture.decoded, "\(name):\(fixture.line) decode",
                                 file: file, line: line)
            if fixture.decodedIsNFC {
                // decode(encode(x)) == NFC(x), with Lethe's NFC checked against the package's on the way.
                XCTAssertSameScalars(nfc ? NFC.normalize(fixture.text) : fixture.text, fixture.decoded,
                                     "\(name):\(fixture.line) NFC differs from the package's", file: file, line: line)
            }
        }
        XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) of \(cases.count) cases differ", file: file, line: line)
    }

    func testRealLinesFromTheCorpora() throws { try check(Shared.neox, fixture: "neox-real.jsonl") }

    func testHandWrittenEdgeCases() throws { try check(Shared.neox, fixture: "neox-edge.jsonl") }

    func testPseudoRandomStrings() throws { try check(Shared.neox, fixture: "neox-fuzz.jsonl") }

    func testAddedTokenFlagsWithoutNormalizer() throws {
        let tiny = try Tokenizer(contentsOf: Repository.fixtures.appendingPathComponent("tiny-tokenizer.json"))
        try check(tiny, fixture: "tiny-cases.jsonl", nfc: false)
    }

    func testPrefixSpaceNFCAndStringMerges() throws {
        let tiny = try Tokenizer(contentsOf: Repository.fixtures.appendingPathComponent("tiny-prefix-tokenizer.json"))
        try check(tiny, fixture: "tiny-prefix-cases.jsonl")
    }

    func testDecodeOfArbitraryIDs() throws {
        for fixture in try FixtureCase.load("neox-decode.jsonl") {
            XCTAssertSameScalars(Shared.neox.decode(fixture.ids), fixture.decoded, "neox-decode.jsonl:\(fixture.line)")
        }
    }

    /// The hand-written scanner against the GPT-2 regex as `tokenizers` runs it (its ByteLevel pre-tokenizer).
    func testPreTokenizerPiecesMatchTheRegex() throws {
        let splitter = GPT2Splitter()
        for name in ["neox-edge.jsonl", "neox-fuzz.jsonl"] {
            for fixture in try FixtureCase.load(name) {
                guard let expected = fixture.pieces else { continue }
                var normalized = NFC.normalize(fixture.text)
                var pieces: [String] = []
                normalized.withUTF8 { bytes in
                    var start = 0
                    while start < bytes.count {
                        let end = splitter.pieceEnd(bytes, from: start)
                        pieces.append(ByteLevel.encode(UnsafeBufferPointer(rebasing: bytes[start..<end])))
                        start = end
                    }
                }
                XCTAssertEqual(pieces.map { Array($0.unicodeScalars) }, expected.map { Array($0.unicodeScalars) },
                               "\(name):\(fixture.line)")
            }
        }
    }
}

/// Exhaustive checks over all 1,112,064 Unicode scalars against `tokenizers`.
final class UnicodeTableTests: XCTestCase {
    /// The GPT-2 pattern's class (\p{L}, \p{N}, \s, other) of every scalar, as the package's regex engine sees it.
    func testEveryScalarClassMatchesTheRegexEngine() throws {
        let ranges = try String(contentsOf: Repository.fixtures.appendingPathComponent("neox-scalar-classes.txt"),
                                encoding: .utf8)
        let expectedClass: [Substring: CharacterClass] = ["L": .letter, "N": .number, "S": .whitespace, "O": .other]
        var covered = 0
        var mismatches: [String] = []
        for line in ranges.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let first = UInt32(fields[0], radix: 16)!, last = UInt32(fields[1], radix: 16)!
            let expected = expectedClass[fields[2]]!
            for value in first...last {
                guard let scalar = Unicode.Scalar(value) else { continue }  // the surrogate gap
                covered += 1
                if CharacterClass(scalar) != expected && mismatches.count < 20 {
                    mismatches.append(String(value, radix: 16))
                }
            }
        }
        XCTAssertEqual(covered, 1_112_064)
        XCTAssertEqual(mismatches, [], "scalars classified differently from tokenizers")
    }

    /// `\w` (single_word) and `\s` (lstrip, rstrip) of every scalar, as the package's added-token matching sees them.
    func testEveryScalarWordAndSpaceMatchThePackage() throws {
        let ranges = try String(contentsOf: Repository.fixtures.appendingPathComponent("tiny-word-scalars.txt"),
                                encoding: .utf8)
        var word = Set<UInt32>(), space = Set<UInt32>()
        for line in ranges.split(separator: "\n") {
            let fields = line.split(separator: " ")
            for value in UInt32(fields[0], radix: 16)!...UInt32(fields[1], radix: 16)! {
                if fields[2] == "W" { word.insert(value) } else { space.insert(value) }
            }
        }
        var mismatches: [String] = []
        for value in UInt32(0)..<0x110000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if isWordScalar(scalar) != word.contains(value)
                || (!word.contains(value) && scalar.properties.isWhitespace != space.contains(value)) {
                if mismatches.count < 20 { mismatches.append(String(value, radix: 16)) }
            }
        }
        XCTAssertEqual(mismatches, [])
        XCTAssertEqual(space.count, 25)
    }

    /// NFC of every scalar the package's NFC changes, of every canonical pair, and of a spread of scalars it
    /// leaves alone.
    func testNFCMatchesThePackage() throws {
        struct Row: Decodable { var scalar: UInt32?; var pair: String?; var nfc: String }
        let data = try Data(contentsOf: Repository.fixtures.appendingPathComponent("neox-nfc-scalars.jsonl"))
        var changed = Set<UInt32>()
        var pairs = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let row = try JSONDecoder().decode(Row.self, from: Data(line))
            if let scalar = row.scalar {
                changed.insert(scalar)
                XCTAssertSameScalars(NFC.normalize(String(Unicode.Scalar(scalar)!)), row.nfc, String(scalar, radix: 16))
            } else {
                pairs += 1
                XCTAssertSameScalars(NFC.normalize(row.pair!), row.nfc, row.pair!.debugDescription)
            }
        }
        XCTAssertEqual(changed.count, 1120)
        XCTAssertGreaterThan(pairs, 1026)
        for value in stride(from: UInt32(0x300), to: 0x110000, by: 13) where !changed.contains(value) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = String(scalar)
            XCTAssertSameScalars(NFC.normalize(text), text, String(value, radix: 16))
        }
    }

    /// Hangul: every LV syllable followed by every trailing jamo composes to its LVT syllable (UAX #15's
    /// arithmetic is the oracle); an LVT syllable does not take a second one.
    func testHangulSyllableAndTrailingJamoCompose() {
        for lv in stride(from: UInt32(0xAC00), through: 0xD7A3, by: 28) {
            for t in UInt32(0x11A8)...0x11C2 {
                let text = String(Unicode.Scalar(lv)!) + String(Unicode.Scalar(t)!)
                XCTAssertEqual(NFC.normalize(text).unicodeScalars.map(\.value), [lv + t - 0x11A7])
            }
        }
        XCTAssertEqual(NFC.normalize("\u{AC01}\u{11A8}").unicodeScalars.map(\.value), [0xAC01, 0x11A8])
    }
}

final class NFCTests: XCTestCase {
    /// Random sequences of bases and marks (reordering, composition, marks newer than the package's tables).
    func testRandomMarkSequencesMatchThePackage() throws {
        struct Row: Decodable { var pair: String; var nfc: String }
        let data = try Data(contentsOf: Repository.fixtures.appendingPathComponent("neox-nfc-marks.jsonl"))
        let rows = try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Row.self, from: Data($0)) }
        XCTAssertEqual(rows.count, 3000)
        for row in rows {
            XCTAssertSameScalars(NFC.normalize(row.pair), row.nfc,
                                 row.pair.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
    }

    /// The package composes nothing added since Unicode 12: U+11935 U+11930 stays, an existing U+11938 stays too.
    func testDivesAkuruIsNotComposedButKept() {
        XCTAssertEqual(NFC.normalize("\u{11935}\u{11930}").unicodeScalars.map(\.value), [0x11935, 0x11930])
        XCTAssertEqual(NFC.normalize("a\u{11938}\u{11935}\u{11930}e\u{301}").unicodeScalars.map(\.value),
                       [0x61, 0x11938, 0x11935, 0x11930, 0xE9])
        XCTAssertEqual(NFC.normalize("\u{11938}").unicodeScalars.map(\.value), [0x11938])
    }
}
