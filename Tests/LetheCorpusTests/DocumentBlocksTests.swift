import Foundation
import XCTest
@testable import LetheCorpus

final class DocumentBlocksTests: TemporaryDirectoryTestCase {
    func files() throws -> [String] {
        [
            try write("a.jsonl", (0..<5).map { #"{"text": "a\#($0)"}"# }.joined(separator: "\n") + "\n"),
            try write("b.txt", "b0\n\nb1\n\n\nb2\n"),
            try write("c.csv", "text\nc0\nc1\nc2\nc3\n"),
        ]
    }

    func allBlocks(_ blocks: DocumentBlocks) throws -> [DocumentBlocks.Block] {
        var result: [DocumentBlocks.Block] = []
        while let block = try blocks.next() { result.append(block) }
        return result
    }

    /// One sequence over the files in order; `skip` and `limit` select from it; blocks of `blockSize` cross files.
    func testSelectionAcrossFilesInBlocks() throws {
        let paths = try files()
        let blocks = try DocumentBlocks(inputs: paths.map { CorpusInput(path: $0) }, skip: 3, limit: 7, blockSize: 3)
        let read = try allBlocks(blocks)
        XCTAssertEqual(read.map(\.index), [0, 1, 2])
        XCTAssertEqual(read.map { $0.documents.map(\.text) }, [["a3", "a4", "b0"], ["b1", "b2", "c0"], ["c1"]])
        XCTAssertEqual(read[1].documents.map(\.index), [1, 2, 0], "documents are numbered within their file")
        XCTAssertEqual(read[1].documents.map(\.source), [paths[1], paths[1], paths[2]])
        XCTAssertEqual(blocks.documentsRead, 10)
        XCTAssertEqual(blocks.skippedDocuments, 3)
        XCTAssertNil(try blocks.next())

        let everything = try DocumentBlocks(inputs: paths.map { CorpusInput(path: $0) }, blockSize: 5)
        XCTAssertEqual(try allBlocks(everything).map(\.documents.count), [5, 5, 2])
        let sizes = try paths.map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as! Int }
        XCTAssertEqual(everything.bytesRead, sizes.reduce(0, +))

        let beyond = try DocumentBlocks(inputs: paths.map { CorpusInput(path: $0) }, skip: 100, blockSize: 5)
        XCTAssertNil(try beyond.next())
        XCTAssertEqual(beyond.skippedDocuments, 12)
    }

    /// Reading stops once the selection is complete: a bad line or a missing file after it is never reached.
    func testReadingStopsAtTheEndOfTheSelection() throws {
        let good = try write("late.jsonl", #"{"text": "x"}"# + "\n" + #"{"text": "y"}"# + "\nnot json\n")
        let missing = directory.appendingPathComponent("missing.jsonl").path
        let blocks = try DocumentBlocks(inputs: [CorpusInput(path: good), CorpusInput(path: missing)], limit: 2, blockSize: 8)
        XCTAssertEqual(try allBlocks(blocks).map { $0.documents.map(\.text) }, [["x", "y"]])
        let unlimited = try DocumentBlocks(inputs: [CorpusInput(path: good)], blockSize: 8)
        XCTAssertThrowsError(try unlimited.next()) { XCTAssertEqual("\($0)", "\(good):3: not a JSON object") }
    }

    func testSkippedLinesAddUpOverFiles() throws {
        let first = try write("one.jsonl", "bad\n" + #"{"text": "1"}"# + "\nworse\n")
        let second = try write("two.conll", "EU NNP I-NP I-ORG\nshort line\n")
        let blocks = try DocumentBlocks(inputs: [CorpusInput(path: first), CorpusInput(path: second)],
                                        options: ReadOptions(skipBadLines: true), blockSize: 8)
        XCTAssertEqual(try allBlocks(blocks).map { $0.documents.map(\.text) }, [["1", "EU"]])
        XCTAssertEqual(blocks.skippedLines, 3)
        XCTAssertEqual(blocks.skippedExamples.map(\.description), [
            "\(first):1: not a JSON object", "\(first):3: not a JSON object",
            "\(second):2: expected 4 columns (word POS chunk NER), found 2",
        ])
    }

    func testUnknownFormatIsRefusedBeforeReading() throws {
        let known = try write("fine.jsonl", #"{"text": "x"}"# + "\n")
        XCTAssertThrowsError(try DocumentBlocks(inputs: [CorpusInput(path: known), CorpusInput(path: "notes.md")], blockSize: 1)) {
            XCTAssertEqual("\($0)", "notes.md: cannot tell the format from the file name; name it (one of jsonl, jsonl.zst, txt, conll, csv)")
        }
        let blocks = try DocumentBlocks(inputs: [CorpusInput(path: known, format: .txt)], blockSize: 1)
        XCTAssertEqual(try blocks.next()?.documents.first?.text, #"{"text": "x"}"#)
    }
}
