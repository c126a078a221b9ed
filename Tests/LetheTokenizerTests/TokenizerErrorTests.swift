import Foundation
import XCTest
@testable import LetheTokenizer

/// A broken tokenizer.json gives one error naming the file and the key.
final class TokenizerErrorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    /// The tiny fixture tokenizer with one change applied.
    private func variant(_ change: (inout [String: Any]) -> Void) throws -> URL {
        let data = try Data(contentsOf: Repository.fixtures.appendingPathComponent("tiny-tokenizer.json"))
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        change(&json)
        let url = directory.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    private func assertError(_ url: URL, key: String, mentions words: String, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(contentsOf: url), line: line) { error in
            guard let error = error as? TokenizerError else { return XCTFail("not a TokenizerError: \(error)", line: line) }
            XCTAssertEqual(error.key, key, line: line)
            XCTAssertTrue(error.description.hasPrefix(url.path + ": " + (key.isEmpty ? "" : key + ": ")),
                          error.description, line: line)
            XCTAssertTrue(error.description.contains(words), error.description, line: line)
        }
    }

    func testUnsupportedComponentsNameTheirKey() throws {
        assertError(try variant { $0["normalizer"] = ["type": "NFKC"] }, key: "normalizer.type", mentions: "NFKC")
        assertError(try variant { $0["pre_tokenizer"] = ["type": "Whitespace"] }, key: "pre_tokenizer.type",
                    mentions: "Whitespace")
        assertError(try variant { $0["decoder"] = ["type": "WordPiece"] }, key: "decoder.type", mentions: "WordPiece")
        assertError(try variant { $0["truncation"] = ["max_length": 8] }, key: "truncation", mentions: "null")
        assertError(try variant { var model = $0["model"] as! [String: Any]; model["type"] = "Unigram"; $0["model"] = model },
                    key: "model.type", mentions: "Unigram")
        assertError(try variant { var model = $0["model"] as! [String: Any]; model["dropout"] = 0.1; $0["model"] = model },
                    key: "model.dropout", mentions: "deterministic")
    }

    func testInconsistentModelNamesTheEntry() throws {
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            var merges = model["merges"] as! [Any]
            merges[3] = ["Ġ", "nosuchtoken"]
            model["merges"] = merges
            $0["model"] = model
        }, key: "model.merges[3]", mentions: "nosuchtoken")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            var merges = model["merges"] as! [Any]
            merges[5] = "a b c"
            model["merges"] = merges
            $0["model"] = model
        }, key: "model.merges[5]", mentions: "a b c")
        assertError(try variant { var model = $0["model"] as! [String: Any]; model["vocab"] = [1, 2]; $0["model"] = model },
                    key: "model.vocab", mentions: "object")
        assertError(try variant { $0["added_tokens"] = [["id": -3, "content": "x"]] }, key: "added_tokens[0].id",
                    mentions: "id")
        assertError(try variant { $0["added_tokens"] = [["id": 3, "content": "x", "lstrip": "yes"]] },
                    key: "added_tokens[0].lstrip", mentions: "true or false")
    }

    /// Foundation's JSONSerialization on Linux would drop this U+FEFF (it follows an escape); the loader keeps it.
    func testAddedTokenContentIsKeptExactly() throws {
        let content = "\\\u{FEFF}x"
        let url = try variant { $0["added_tokens"] = [["id": 700, "content": content, "normalized": false]] }
        let tokenizer = try Tokenizer(contentsOf: url)
        XCTAssertEqual(tokenizer.token(for: 700).map { Array($0.unicodeScalars) }, Array(content.unicodeScalars))
        XCTAssertEqual(tokenizer.encode("a" + content), [66, 700])
    }

    func testUnreadableOrInvalidFile() throws {
        let missing = directory.appendingPathComponent("missing.json")
        assertError(missing, key: "", mentions: "cannot read")
        let garbage = directory.appendingPathComponent("garbage.json")
        try Data("{\"model\": ".utf8).write(to: garbage)
        assertError(garbage, key: "", mentions: "not valid JSON")
    }
}
