import Foundation
import XCTest
@testable import LetheTokenizer

/// Every id of every fixture case must equal the `tokenizers` package's (exact integer comparison); decoding
/// must give `tokenizers`' decoded text scalar for scalar.
final class TokenizerFixtureTests: XCTestCase {
    private func check(_ tokenizer: Tokenizer, fixture name: String, file: StaticString = #filePath,
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
                // decode(encode(x)) == NFC(x), with Foundation's NFC checked against Python's on the way.
                XCTAssertSameScalars(fixture.text.precomposedStringWithCanonicalMapping, fixture.decoded,
                                     "\(name):\(fixture.line) Foundation NFC differs from Python's", file: file, line: line)
            }
        }
        XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) of \(cases.count) cases differ", file: file, line: line)
    }

    func testRealLinesFromTheCorpora() throws { try check(Shared.neox, fixture: "neox-real.jsonl") }

    func testHandWrittenEdgeCases() throws { try check(Shared.neox, fixture: "neox-edge.jsonl") }

    func testPseudoRandomStrings() throws { try check(Shared.neox, fixture: "neox-fuzz.jsonl") }

    func testAddedTokenFlagsWithoutNormalizer() throws {
        let tiny = try Tokenizer(contentsOf: Repository.fixtures.appendingPathComponent("tiny-tokenizer.json"))
        try check(tiny, fixture: "tiny-cases.jsonl")
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
                var normalized = fixture.text.precomposedStringWithCanonicalMapping
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

    /// Foundation's NFC on every scalar the package's NFC changes, and on a spread of those it leaves alone.
    func testNFCOfSingleScalarsMatchesThePackage() throws {
        struct Row: Decodable { var scalar: UInt32; var nfc: String }
        let data = try Data(contentsOf: Repository.fixtures.appendingPathComponent("neox-nfc-scalars.jsonl"))
        var changed = Set<UInt32>()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let row = try JSONDecoder().decode(Row.self, from: Data(line))
            changed.insert(row.scalar)
            XCTAssertSameScalars(String(Unicode.Scalar(row.scalar)!).precomposedStringWithCanonicalMapping, row.nfc,
                                 String(row.scalar, radix: 16))
        }
        XCTAssertEqual(changed.count, 1120)
        for value in stride(from: UInt32(0x300), to: 0x110000, by: 13) where !changed.contains(value) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = String(scalar)
            XCTAssertSameScalars(text.precomposedStringWithCanonicalMapping, text, String(value, radix: 16))
        }
    }
}
