import XCTest
@testable import LetheShards

/// Strings as JSONValue reads and writes them byte-wise: escapes between multi-byte runs, invalid UTF-8.
final class JSONValueStringTests: XCTestCase {
    func testEscapesBetweenMultiByteRuns() throws {
        let text = "\u{E9}t\u{E9}\n\u{1F600}\t\"\u{5E9}\u{5DC}\\\u{0}end\u{1F}"
        let written = JSONValue.string(text).serialized()
        XCTAssertEqual(written, "\"\u{E9}t\u{E9}\\n\u{1F600}\\t\\\"\u{5E9}\u{5DC}\\\\\\u0000end\\u001f\"")
        XCTAssertEqual(try JSONValue.parse(written), .string(text))
        XCTAssertEqual(try JSONValue.parse(#"["caf\u00e9\n\ud83d\ude00x", "plain \u00fcber"]"#), [.string("caf\u{E9}\n\u{1F600}x"), .string("plain \u{FC}ber")])
    }

    func testInvalidUTF8InAStringIsAnError() {
        for bytes: [UInt8] in [[0x22, 0xC3, 0x28, 0x22], [0x22, 0x5C, 0x6E, 0xFF, 0x22]] {
            XCTAssertThrowsError(try JSONValue.parse(bytes)) { XCTAssertEqual("\($0)", "1:2: invalid UTF-8 in string") }
        }
    }
}
