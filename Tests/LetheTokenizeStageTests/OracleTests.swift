import Foundation
import LetheShards
import LetheTokenizer
import XCTest

/// The built stage against Tests/Fixtures/tokenize/expected.jsonl: the same command lines computed in Python with
/// the `tokenizers` package, Python's json and csv modules, its own CoNLL reader and the chunking rules written
/// anew (make_tokenize_fixtures.py). Every sample must match exactly: key, shard, token ids, and KEY.json as a value
/// (text, dataset, source, doc, line, length, documents, token_offset, first_word, metadata, words with labels
/// and spans); and the manifest's counts.
final class OracleTests: StageTestCase {
    static let neox = try! Tokenizer(contentsOf: Repository.tokenizer)

    struct Configuration {
        var name: String
        var arguments: [String]
        var samples: [JSONValue]
        var extra: JSONValue
    }

    static let configurations: [Configuration] = {
        let data = try! Data(contentsOf: Repository.fixtures.appendingPathComponent("expected.jsonl"))
        return data.split(separator: UInt8(ascii: "\n")).map { line in
            let value = try! JSONValue.parse([UInt8](line))
            return Configuration(name: value["name"]!.stringValue!, arguments: value["args"]!.arrayValue!.map { $0.stringValue! },
                                 samples: value["samples"]!.arrayValue!, extra: value["extra"]!)
        }
    }()

    func check(_ name: String) throws {
        let configuration = try XCTUnwrap(Self.configurations.first { $0.name == name }, "no configuration \(name) in the fixture")
        try tokenize(configuration.arguments, output: name)
        let written = try samples(name)
        XCTAssertEqual(written.count, configuration.samples.count, name)
        for ((shard, sample), expected) in zip(written, configuration.samples) {
            let key = expected["key"]!.stringValue!
            XCTAssertEqual(sample.key, key, name)
            XCTAssertEqual(shard, expected["shard"]!.intValue!, "\(name) \(key)")
            XCTAssertEqual(sample.members.map(\.ext), ["json", "tokens.npy"], "\(name) \(key)")
            let tokens = try sample.npy("tokens")
            XCTAssertEqual(tokens.dtype, .int32)
            XCTAssertEqual(try tokens.int32s(), expected["tokens"]!.arrayValue!.map { Int32($0.intValue!) }, "\(name) \(key)")
            XCTAssertEqual(try sample.json(), expected["json"]!, "\(name) \(key)")
        }
        var extra = try manifest(name).extra
        XCTAssertEqual(extra["tokenizer"]?["sha256"]?.stringValue, try SHA256Hex.ofFile(atPath: Repository.tokenizer.path))
        extra["tokenizer"] = nil
        XCTAssertEqual(extra, configuration.extra, name)
    }

    func testFixedOverAJSONLSelection() throws { try check("gsm8k-fixed") }

    func testMixedOverCSV() throws { try check("sae-mixed") }

    func testWordsOverCoNLL() throws {
        try check("conll-words")
        // Beyond the oracle: each word's span decodes to the word (after a space, except a chunk's first word).
        for (_, sample) in try samples("conll-words") {
            let tokens = try sample.npy("tokens").int32s()
            for (k, word) in try sample.json()["words"]!.arrayValue!.enumerated() {
                let span = word["span"]!.arrayValue!.map { $0.intValue! }
                let spelled = Self.neox.decode(tokens[span[0]..<span[1]])
                XCTAssertEqual(Array(spelled.unicodeScalars), Array(((k == 0 ? "" : " ") + word["text"]!.stringValue!).unicodeScalars))
            }
        }
    }

    func testNoneOverCoNLLSentences() throws { try check("conll-sentences-none") }

    func testFixedAcrossTwoFilesWithDatasetField() throws { try check("python-two-files") }
}
