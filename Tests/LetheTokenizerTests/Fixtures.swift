import Foundation
import XCTest
@testable import LetheTokenizer

/// Paths inside the repository, found from this file's location.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let neoxTokenizer = root.appendingPathComponent("data/tokenizer/gpt-neox-20b-tokenizer.json")
}

/// One line of a fixture written by Tests/Fixtures/tokenizer/make_tokenizer_fixtures.py (oracle: `tokenizers`).
struct FixtureCase {
    let line: Int
    let text: String
    let ids: [Int32]
    let decoded: String
    /// Whether `tokenizers`' decode equals Python's unicodedata.normalize("NFC", text).
    let decodedIsNFC: Bool
    /// The ByteLevel pre-tokenizer's pieces of the NFC text (byte-level spelling), where the fixture has them.
    let pieces: [String]?

    private struct Line: Decodable {
        var text: String?
        var ids: [Int32]
        var decoded: String?
        var nfc: Bool?
        var pieces: [String]?
    }

    /// Parsed with JSONDecoder: JSONSerialization on Linux drops a U+FEFF that follows an escape sequence.
    static func load(_ name: String) throws -> [FixtureCase] {
        let data = try Data(contentsOf: Repository.fixtures.appendingPathComponent(name))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).enumerated().map { index, line in
            let row = try decoder.decode(Line.self, from: Data(line))
            let text = row.text ?? ""
            return FixtureCase(line: index + 1, text: text, ids: row.ids, decoded: row.decoded ?? text,
                               decodedIsNFC: row.nfc ?? true, pieces: row.pieces)
        }
    }
}

/// Shared tokenizers: loading the 2.4 MB NeoX file once keeps the suite fast.
enum Shared {
    static let neox: Tokenizer = try! Tokenizer(contentsOf: Repository.neoxTokenizer)
}

/// Compares Unicode scalars: Swift's String == is canonical equivalence, which would hide NFC mistakes.
func XCTAssertSameScalars(_ a: String, _ b: String, _ message: @autoclosure () -> String = "",
                          file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Array(a.unicodeScalars), Array(b.unicodeScalars), message(), file: file, line: line)
}

extension ByteLevel {
    /// The byte-level spelling of raw bytes ("Ġthe" for " the"), as `tokenizers` shows pre-tokenizer pieces.
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var result = String.UnicodeScalarView()
        for byte in bytes { result.append(scalarOfByte[Int(byte)]) }
        return String(result)
    }
}
