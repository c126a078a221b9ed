import Foundation
import LetheSamples
import LetheShards
import XCTest
@testable import LetheCorpus
import LetheTokenizer

enum SharedTokenizer {
    static let neox: Tokenizer = try! Tokenizer(contentsOf: CorpusRepository.neoxTokenizer)
}

/// Chunking of the first 24 CoNLL-2003 testa documents in blocks of 8, against Tests/Fixtures/corpus/chunks.jsonl
/// (computed with `tokenizers` and an independent Python implementation of each rule, SplitMix64 included).
final class ChunkingTests: XCTestCase {
    private struct Row: Decodable {
        var chunking: String
        var block: Int
        var doc: Int?
        var documents: Int?
        var token_offset: Int?
        var first_word: Int?
        var tokens: [Int32]?
        var text: String?
        var words: [[WordOrSpan]]?
        var dropped: Int?
        var skipped: Int?
    }

    private enum WordOrSpan: Decodable, Equatable {
        case text(String), index(Int)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let index = try? container.decode(Int.self) { self = .index(index) } else { self = .text(try container.decode(String.self)) }
        }
    }

    private func blocks() throws -> [[Document]] {
        let reader = try DocumentReader(path: CorpusRepository.conllTesta)
        return try (0..<3).map { _ in try reader.next(upTo: 8) }
    }

    private func expectedRows(_ chunking: String) throws -> [Row] {
        let data = try Data(contentsOf: CorpusRepository.fixtures.appendingPathComponent("chunks.jsonl"))
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Row.self, from: Data($0)) }
            .filter { $0.chunking == chunking }
    }

    private func check(_ chunking: Chunking, fixture name: String) throws {
        let chunker = try BlockChunker(chunking: chunking, tokenizer: SharedTokenizer.neox)
        let rows = try expectedRows(name)
        for (blockIndex, block) in try blocks().enumerated() {
            let (samples, counts) = try chunker.samples(from: block, blockIndex: blockIndex)
            let expected = rows.filter { $0.block == blockIndex && $0.tokens != nil }
            XCTAssertEqual(samples.count, expected.count, "\(name) block \(blockIndex)")
            for (sample, row) in zip(samples, expected) {
                XCTAssertEqual(sample.tokens, row.tokens)
                assertSameScalars(sample.text, row.text!)
                assertSameScalars(sample.text, SharedTokenizer.neox.decode(sample.tokens), "text is what the tokens decode to")
                XCTAssertEqual(sample.document, row.doc)
                XCTAssertEqual(sample.source, CorpusRepository.conllTesta)
                if let documents = row.documents { XCTAssertEqual(sample.documentCount, documents) }
                if let offset = row.token_offset { XCTAssertEqual(sample.tokenOffset, offset) }
                XCTAssertEqual(sample.firstWord, row.first_word)
                if let words = row.words {
                    XCTAssertEqual(sample.words?.map { [WordOrSpan.text($0.text), .index($0.span!.lowerBound), .index($0.span!.upperBound)] },
                                   words)
                    // Labels travel with the words.
                    let documentWords = block[sample.document - 8 * blockIndex].words!
                    for (k, word) in sample.words!.enumerated() {
                        XCTAssertEqual(word.labels, documentWords[sample.firstWord! + k].labels)
                    }
                }
            }
            let totals = rows.first { $0.block == blockIndex && $0.tokens == nil }!
            if let dropped = totals.dropped { XCTAssertEqual(counts.droppedTokens, dropped) }
            if let skipped = totals.skipped { XCTAssertEqual(counts.skippedWords, skipped) }
        }
    }

    func testFixedAgainstPython() throws { try check(.fixed(lengths: [16]), fixture: "fixed16") }

    /// Several sizes: chunks cycle through them, cut from the same token stream, the remainder dropped.
    func testFixedCyclesThroughSeveralSizes() throws {
        let documents = (0..<5).map { Document(text: "Document \($0) has a few words in it, and then some more.", source: "t", index: $0, line: $0 + 1) }
        let stream = documents.flatMap { SharedTokenizer.neox.encode($0.text) }
        let (samples, counts) = try BlockChunker(chunking: .fixed(lengths: [3, 1, 5]), tokenizer: SharedTokenizer.neox)
            .samples(from: documents, blockIndex: 0)
        let lengths = samples.map(\.tokens.count)
        XCTAssertEqual(lengths, (0..<lengths.count).map { [3, 1, 5][$0 % 3] })
        XCTAssertEqual(samples.flatMap(\.tokens), Array(stream.prefix(lengths.reduce(0, +))))
        XCTAssertEqual(counts.droppedTokens, stream.count - lengths.reduce(0, +))
        XCTAssertLessThan(counts.droppedTokens, [3, 1, 5][lengths.count % 3], "only a remainder shorter than the next size is dropped")
    }

    func testMixedAgainstPython() throws { try check(.mixed(minLength: 4, maxLength: 32, seed: 7), fixture: "mixed4-32seed7") }

    func testWordsAgainstPython() throws { try check(.words(maxTokens: 16), fixture: "words16") }

    /// `none` keeps the document's text and, for CoNLL, spans every word onto whole tokens of the document.
    func testNoneKeepsDocumentsAndSpansWords() throws {
        let neox = SharedTokenizer.neox
        let chunker = try BlockChunker(chunking: .none, tokenizer: neox)
        let block = try blocks()[0]
        let (samples, counts) = try chunker.samples(from: block, blockIndex: 0)
        XCTAssertEqual(samples.count, block.count)
        XCTAssertEqual(counts, ChunkCounts())
        for (sample, document) in zip(samples, block) {
            XCTAssertEqual(sample.text, document.text)
            XCTAssertEqual(sample.tokens, neox.encode(document.text))
            for (k, word) in sample.words!.enumerated() {
                let spelled = neox.decode(Array(sample.tokens[word.span!]))
                assertSameScalars(spelled, (k == 0 ? "" : " ") + word.text)
            }
            XCTAssertEqual(sample.words!.last!.span!.upperBound, sample.tokens.count)
        }
    }

    func testWordsSkipsWordsLongerThanTheChunk() throws {
        let neox = SharedTokenizer.neox
        let document = Document(text: "a Pneumonoultramicroscopicsilicovolcanoconiosis b c", source: "t", index: 0, line: 1)
        let chunker = try BlockChunker(chunking: .words(maxTokens: 2), tokenizer: neox)
        let (samples, counts) = try chunker.samples(from: [document], blockIndex: 0)
        XCTAssertEqual(counts.skippedWords, 1)
        XCTAssertEqual(samples.map(\.text), ["a", "b c"])
        XCTAssertEqual(samples.map(\.firstWord), [0, 2])
        XCTAssertEqual(samples[1].words!.map { [$0.span!.lowerBound, $0.span!.upperBound] }, [[0, 1], [1, 2]])
    }

    /// Words are put in NFC, and the chunk's tokens are those of the joined NFC text.
    func testWordsNormalizesAndSplitsPlainText() throws {
        let document = Document(text: "cafe\u{301}  au\tlait\n", source: "t", index: 0, line: 1)
        let chunker = try BlockChunker(chunking: .words(maxTokens: 64), tokenizer: SharedTokenizer.neox)
        let (samples, _) = try chunker.samples(from: [document], blockIndex: 0)
        XCTAssertEqual(samples.count, 1)
        assertSameScalars(samples[0].text, "caf\u{E9} au lait")
        XCTAssertEqual(samples[0].tokens, SharedTokenizer.neox.encode("caf\u{E9} au lait"))
        XCTAssertEqual(samples[0].words!.map(\.text).count, 3)
    }

    func testMixedIsDeterministicPerBlockAndWithinBounds() throws {
        let chunker = try BlockChunker(chunking: .mixed(minLength: 5, maxLength: 9, seed: 42), tokenizer: SharedTokenizer.neox)
        let block = try blocks()[1]
        let first = try chunker.samples(from: block, blockIndex: 3)
        XCTAssertEqual(try chunker.samples(from: block, blockIndex: 3).samples, first.samples)
        XCTAssertNotEqual(try chunker.samples(from: block, blockIndex: 4).samples.map(\.tokens.count),
                          first.samples.map(\.tokens.count))
        XCTAssertTrue(first.samples.allSatisfy { (5...9).contains($0.tokens.count) })
        XCTAssertEqual(Set(first.samples.map(\.tokens.count)), Set(5...9))
    }

    func testInvalidSizesAreRefused() {
        XCTAssertThrowsError(try BlockChunker(chunking: .fixed(lengths: [0]), tokenizer: SharedTokenizer.neox))
        XCTAssertThrowsError(try BlockChunker(chunking: .mixed(minLength: 9, maxLength: 4, seed: 1), tokenizer: SharedTokenizer.neox))
    }

    func testEmptyDocumentsAreCounted() throws {
        let documents = [Document(text: "", source: "t", index: 0, line: 1), Document(text: "one two", source: "t", index: 1, line: 2)]
        for chunking in [Chunking.none, .fixed(lengths: [1]), .words(maxTokens: 4)] {
            let (samples, counts) = try BlockChunker(chunking: chunking, tokenizer: SharedTokenizer.neox)
                .samples(from: documents, blockIndex: 0)
            XCTAssertEqual(counts.emptyDocuments, 1, "\(chunking)")
            XCTAssertEqual(samples.first?.document, 1, "\(chunking)")
        }
    }

    func testSampleMetadata() throws {
        let document = Document(text: "EU rejects \"it\"", source: "data/x.conll", index: 4, line: 9,
                                metadata: ["meta": ["pile_set_name": "Pile-CC"]],
                                words: [Word(text: "EU", labels: ["ner": "I-ORG", "pos": "NNP"], sentence: 0),
                                        Word(text: "rejects", labels: ["ner": "O", "pos": "VBZ"], sentence: 0),
                                        Word(text: "\"it\"", labels: ["ner": "O", "pos": "PRP"], sentence: 1)])
        let (samples, _) = try BlockChunker(chunking: .words(maxTokens: 64), tokenizer: SharedTokenizer.neox)
            .samples(from: [document], blockIndex: 0)
        let json = samples[0].metadata(dataset: "conll\ttest").json
        let spans = samples[0].words!.map { JSONValue.array([.int($0.span!.lowerBound), .int($0.span!.upperBound)]) }
        XCTAssertEqual(json, [
            "text": "EU rejects \"it\"", "dataset": "conll\ttest", "source": "data/x.conll", "doc": 4, "line": 9,
            "length": .int(samples[0].tokens.count), "documents": 1, "token_offset": 0, "first_word": 0,
            "metadata": ["meta": ["pile_set_name": "Pile-CC"]],
            "words": [
                ["text": "EU", "labels": ["ner": "I-ORG", "pos": "NNP"], "sentence": 0, "span": spans[0]],
                ["text": "rejects", "labels": ["ner": "O", "pos": "VBZ"], "sentence": 0, "span": spans[1]],
                ["text": "\"it\"", "labels": ["ner": "O", "pos": "PRP"], "sentence": 1, "span": spans[2]],
            ],
        ])
        XCTAssertEqual(spans.last?[1], .int(samples[0].tokens.count))
        XCTAssertTrue(json.serialized().hasPrefix(#"{"dataset":"conll\ttest","doc":4,"documents":1,"first_word":0,"#))
    }
}
