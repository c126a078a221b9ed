import Foundation
import LetheShards
import XCTest
@testable import LetheCorpus

enum CorpusRepository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/corpus")
    static let conllTesta = root.appendingPathComponent("data/conll2003/eng.testa").path
    static let neoxTokenizer = root.appendingPathComponent("data/tokenizer/gpt-neox-20b-tokenizer.json")
}

func assertSameScalars(_ a: String, _ b: String, _ message: String = "", file: StaticString = #filePath,
                       line: UInt = #line) {
    XCTAssertEqual(Array(a.unicodeScalars), Array(b.unicodeScalars), message, file: file, line: line)
}

/// A temporary directory per test, removed afterwards.
class TemporaryDirectoryTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }
}

final class DocumentReaderTests: TemporaryDirectoryTestCase {
    private struct Expected: Decodable {
        var line: Int
        var text: String
        var meta: [String: JSONValue]?
    }

    /// Every document's text equals Python's json.loads (scalar for scalar); metadata equals the other fields.
    func testJSONLAndZstdAgreeWithPythonJSON() throws {
        let expectedData = try Data(contentsOf: CorpusRepository.fixtures.appendingPathComponent("docs-expected.jsonl"))
        let expected = try expectedData.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(Expected.self, from: Data($0))
        }
        for name in ["docs.jsonl", "docs.jsonl.zst"] {
            let path = CorpusRepository.fixtures.appendingPathComponent(name).path
            let reader = try DocumentReader(path: path)
            XCTAssertEqual(reader.format, name.hasSuffix(".zst") ? .jsonlZst : .jsonl)
            var documents: [Document] = []
            while let document = try reader.next() { documents.append(document) }
            XCTAssertEqual(documents.count, expected.count, name)
            for (index, (document, row)) in zip(documents, expected).enumerated() {
                assertSameScalars(document.text, row.text, "\(name) document \(index)")
                XCTAssertEqual(document.line, row.line, name)
                XCTAssertEqual(document.index, index)
                XCTAssertEqual(document.source, path)
                XCTAssertEqual(document.metadata, row.meta.map(JSONValue.object), "\(name) document \(index)")
            }
            XCTAssertEqual(documents[0].metadata, ["meta": ["pile_set_name": "Pile-CC"]])
            XCTAssertEqual(documents.last?.metadata, ["n": 1])
            XCTAssertNil(try reader.next(), "stays at the end")
        }
    }

    func testTruncatedZstdNamesFileAndLine() throws {
        let whole = try [UInt8](Data(contentsOf: CorpusRepository.fixtures.appendingPathComponent("docs.jsonl.zst")))
        let path = try write("cut.jsonl.zst", Array(whole.prefix(whole.count - 6)))
        let reader = try DocumentReader(path: path)
        XCTAssertThrowsError(try { while try reader.next() != nil {} }()) { error in
            let error = error as! CorpusError
            XCTAssertEqual(error.file, path)
            XCTAssertNotNil(error.line)
            XCTAssertTrue(error.description.hasPrefix("\(path):\(error.line!): "), error.description)
            XCTAssertTrue(error.problem.contains("truncated"), error.problem)
        }

        let skipping = try DocumentReader(path: path, options: ReadOptions(skipBadLines: true))
        var count = 0
        while try skipping.next() != nil { count += 1 }
        XCTAssertEqual(skipping.skippedLines, 1)
        XCTAssertLessThan(count, 8, "the documents of the lost frame are not returned")
        XCTAssertTrue(skipping.skippedExamples[0].problem.contains("truncated"))
    }

    func testCorruptAndEmptyZstd() throws {
        var bytes = try [UInt8](Data(contentsOf: CorpusRepository.fixtures.appendingPathComponent("docs.jsonl.zst")))
        bytes[0] ^= 0xFF  // not a zstd magic number
        let corrupt = try DocumentReader(path: try write("bad.jsonl.zst", bytes))
        XCTAssertThrowsError(try corrupt.next()) { XCTAssertTrue("\($0)".contains("zstd"), "\($0)") }
        let empty = try DocumentReader(path: try write("empty.jsonl.zst", [UInt8]()))
        XCTAssertThrowsError(try empty.next()) { XCTAssertTrue("\($0)".contains("empty file"), "\($0)") }
    }

    func testBadJSONLLinesStopOrAreCounted() throws {
        let lines: [[UInt8]] = [
            Array(#"{"text": "good one"}"#.utf8),
            Array(#"{"text": "bad "#.utf8) + [0xC3, 0x28] + Array(#" utf8"}"#.utf8),
            Array("not json".utf8),
            Array(#"{"title": "no text field"}"#.utf8),
            Array(#"{"text": 12}"#.utf8),
            Array(#"{"text": "trailing"} x"#.utf8),
            Array(#"{"text": "lone \ud800 surrogate"}"#.utf8),
            Array(#"["text"]"#.utf8),
            Array(#"{"text": "good two", "n": 01}"#.utf8),
            Array(#"{"text": "good three", "n": [1, {"a": -0.5e+3}]}"#.utf8),
        ]
        let path = try write("bad.jsonl", Array(lines.joined(separator: [UInt8(ascii: "\n")])))
        let expectedProblems = [(2, "invalid UTF-8"), (3, "not a JSON object"), (4, "no \"text\" field"), (5, "not a string"),
                                (6, "text after the object"), (7, "unpaired surrogate"), (8, "not a JSON object"),
                                (9, "expected ',' or '}'")]
        let strict = try DocumentReader(path: path)
        XCTAssertEqual(try strict.next()?.text, "good one")
        XCTAssertThrowsError(try strict.next()) { error in
            XCTAssertEqual("\(error)", "\(path):2: invalid UTF-8")
        }

        let skipping = try DocumentReader(path: path, options: ReadOptions(skipBadLines: true))
        var texts: [String] = []
        while let document = try skipping.next() { texts.append(document.text) }
        XCTAssertEqual(texts, ["good one", "good three"])
        XCTAssertEqual(skipping.skippedLines, 8)
        for (example, (line, words)) in zip(skipping.skippedExamples, expectedProblems) {
            XCTAssertEqual(example.line, line)
            XCTAssertTrue(example.problem.contains(words), "line \(line): \(example.problem)")
        }
    }

    func testByteOrderMarkOpeningAFileIsDropped() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let jsonl = try write("bom.jsonl", bom + Array("{\"text\": \"\u{FEFF}kept\"}\n".utf8))
        XCTAssertEqual(try DocumentReader(path: jsonl).next()?.text.unicodeScalars.first, "\u{FEFF}")
        let conll = try write("bom.conll", bom + Array("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\n".utf8))
        XCTAssertEqual(try DocumentReader(path: conll).next()?.text, "EU")
        let text = try write("bom.txt", bom + Array("Hello".utf8))
        assertSameScalars(try DocumentReader(path: text).next()!.text, "Hello")
    }

    /// Metadata becomes a JSONValue; a key repeated within an object is a bad line (JSONValue refuses it).
    func testMetadataWithARepeatedKeyIsABadLine() throws {
        let path = try write("repeated.jsonl", #"{"text": "a", "meta": {"n": 1, "n": 2}}"# + "\n" + #"{"text": "b", "n": 1.50}"# + "\n")
        XCTAssertThrowsError(try DocumentReader(path: path).next()) {
            XCTAssertEqual("\($0)", "\(path):1: metadata: duplicate key \"n\"")
        }
        let reader = try DocumentReader(path: path, options: ReadOptions(skipBadLines: true))
        XCTAssertEqual(try reader.next()?.metadata, ["n": 1.5])
        XCTAssertEqual(reader.skippedLines, 1)
    }

    func testOtherTextField() throws {
        let path = try write("custom.jsonl", #"{"body": "hello", "text": 3}"# + "\n")
        let reader = try DocumentReader(path: path, options: ReadOptions(textField: "body"))
        let document = try reader.next()
        XCTAssertEqual(document?.text, "hello")
        XCTAssertEqual(document?.metadata, ["text": 3])
    }

    func testPlainTextUnits() throws {
        let text = "\n\nFirst paragraph,\r\nsecond line.\n  \t\nSecond paragraph.\n\n\n\nThird\n"
        let path = try write("book.txt", text)
        func read(_ unit: TextUnit) throws -> [(String, Int)] {
            let reader = try DocumentReader(path: path, options: ReadOptions(textUnit: unit))
            var result: [(String, Int)] = []
            while let document = try reader.next() { result.append((document.text, document.line)) }
            return result
        }
        let paragraphs = try read(.paragraph)
        XCTAssertEqual(paragraphs.map(\.0), ["First paragraph,\nsecond line.", "Second paragraph.", "Third"])
        XCTAssertEqual(paragraphs.map(\.1), [3, 6, 10])
        XCTAssertEqual(try read(.line).map(\.0), ["First paragraph,", "second line.", "Second paragraph.", "Third"])
        XCTAssertEqual(try read(.file).map(\.0), ["First paragraph,\nsecond line.\n  \t\nSecond paragraph.\n\n\n\nThird"])

        let bad = try write("bad.txt", [0x61, 0x0A, 0xFF, 0x0A, 0x62])
        XCTAssertThrowsError(try DocumentReader(path: bad).next()) { XCTAssertEqual("\($0)", "\(bad):2: invalid UTF-8") }
    }

    /// data/conll2003/eng.testa against its reading in Python (counts, a hash of every document's text, tags).
    func testCoNLLAgainstPython() throws {
        struct Summary: Decodable {
            struct FirstWord: Decodable { var text, pos, chunk, ner: String; var sentence: Int }
            var documents, sentences, words: Int
            var fnv1a64: UInt64
            var first_words: [FirstWord]
            var last_text: String
        }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf:
            CorpusRepository.fixtures.appendingPathComponent("conll-testa.json")))
        let reader = try DocumentReader(path: CorpusRepository.conllTesta)
        XCTAssertEqual(reader.format, .conll)
        var documents: [Document] = []
        while let document = try reader.next() { documents.append(document) }
        XCTAssertEqual(documents.count, summary.documents)
        XCTAssertEqual(documents.reduce(0) { $0 + $1.words!.count }, summary.words)
        XCTAssertEqual(documents.reduce(0) { $0 + Set($1.words!.map { $0.sentence! }).count }, summary.sentences)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in documents.map(\.text).joined(separator: "\n").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        XCTAssertEqual(hash, summary.fnv1a64)
        let first = documents[0].words!
        XCTAssertEqual(first.count, summary.first_words.count)
        for (word, expected) in zip(first, summary.first_words) {
            XCTAssertEqual(word.text, expected.text)
            XCTAssertEqual(word.labels, ["pos": expected.pos, "chunk": expected.chunk, "ner": expected.ner])
            XCTAssertEqual(word.sentence, expected.sentence)
        }
        XCTAssertEqual(documents.last?.text, summary.last_text)
        XCTAssertEqual(documents[0].line, 3)

        let sentences = try DocumentReader(path: CorpusRepository.conllTesta, options: ReadOptions(conllUnit: .sentence))
        var sentenceCount = 0
        while let sentence = try sentences.next() {
            sentenceCount += 1
            XCTAssertEqual(Set(sentence.words!.map(\.sentence)), [0])
        }
        XCTAssertEqual(sentenceCount, summary.sentences)
    }

    func testCoNLLBadLine() throws {
        let path = try write("x.conll", "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ\n\n")
        XCTAssertThrowsError(try DocumentReader(path: path).next()) {
            XCTAssertEqual("\($0)", "\(path):4: expected 4 columns (word POS chunk NER), found 2")
        }
        let skipping = try DocumentReader(path: path, options: ReadOptions(skipBadLines: true))
        XCTAssertEqual(try skipping.next()?.text, "EU")
        XCTAssertEqual(skipping.skippedLines, 1)
    }

    func testFormatDetection() throws {
        XCTAssertEqual(CorpusFormat.detect(fileName: "/x/pile/00.jsonl.zst"), .jsonlZst)
        XCTAssertEqual(CorpusFormat.detect(fileName: "a.JSONL"), .jsonl)
        XCTAssertEqual(CorpusFormat.detect(fileName: "book.txt"), .txt)
        XCTAssertEqual(CorpusFormat.detect(fileName: "data/conll2003/eng.testb"), .conll)
        XCTAssertEqual(CorpusFormat.detect(fileName: "x.conll"), .conll)
        XCTAssertNil(CorpusFormat.detect(fileName: "notes.md"))
        let unknown = try write("notes.md", "x")
        XCTAssertThrowsError(try DocumentReader(path: unknown)) { XCTAssertTrue("\($0)".contains("cannot tell the format")) }
        XCTAssertEqual(try DocumentReader(path: unknown, format: .txt).next()?.text, "x")
        XCTAssertThrowsError(try DocumentReader(path: directory.appendingPathComponent("missing.txt").path)) {
            XCTAssertTrue("\($0)".contains("cannot open"), "\($0)")
        }
    }

    /// Constant memory: a line longer than the 1 MB read buffer is still read whole.
    func testLineLongerThanTheBuffer() throws {
        let long = String(repeating: "abcdefgh", count: 300_000)
        let path = try write("long.jsonl", "{\"text\":\"\(long)\"}\n{\"text\":\"next\"}")
        let reader = try DocumentReader(path: path)
        XCTAssertEqual(try reader.next()?.text.utf8.count, long.utf8.count)
        XCTAssertEqual(try reader.next()?.text, "next")
        XCTAssertNil(try reader.next())
    }
}
