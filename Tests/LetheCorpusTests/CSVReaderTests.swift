import Foundation
import LetheShards
import XCTest
@testable import LetheCorpus

final class CSVReaderTests: TemporaryDirectoryTestCase {
    static let cases = CorpusRepository.root.appendingPathComponent("Tests/Fixtures/tokenize/csv-cases.csv").path

    func documents(_ path: String, options: ReadOptions = ReadOptions()) throws -> (documents: [Document], reader: DocumentReader) {
        let reader = try DocumentReader(path: path, options: options)
        var documents: [Document] = []
        while let document = try reader.next() { documents.append(document) }
        return (documents, reader)
    }

    /// RFC 4180 corner cases read as Python's csv.DictReader reads them (Tests/Fixtures/tokenize/csv-expected.json):
    /// byte order mark, CRLF and LF line ends, commas, doubled quotes and line breaks inside quotes, empty fields,
    /// blank lines between records, a last record without a line end.
    func testAgreesWithPythonCSV() throws {
        let expectedData = try Data(contentsOf: CorpusRepository.root.appendingPathComponent("Tests/Fixtures/tokenize/csv-expected.json"))
        let expected = try JSONDecoder().decode([[String: String]].self, from: expectedData)
        let (documents, reader) = try documents(Self.cases)
        XCTAssertEqual(reader.format, .csv)
        XCTAssertEqual(documents.count, expected.count)
        for (index, (document, row)) in zip(documents, expected).enumerated() {
            assertSameScalars(document.text, row["text"]!, "record \(index)")
            XCTAssertEqual(document.metadata, ["label": .string(row["label"]!), "note": .string(row["note"]!)], "record \(index)")
            XCTAssertEqual(document.index, index)
        }
        // The line where each record starts (the header is line 1; blank lines 8 and 9 are skipped).
        XCTAssertEqual(documents.map(\.line), [2, 3, 4, 5, 10, 11, 12])
    }

    func testProblemsNameFileAndLine() throws {
        let cases: [(String, String)] = [
            ("a,b\n1,2\n3,\"x\"y\n", "3: text after the closing quote of a field (expected ',' or the end of the line)"),
            ("a,b\n1,x\"y\n", "2: a quote inside an unquoted field (quote the whole field and double the quote)"),
            ("a,b\n1\n", "2: expected 2 fields (a, b), found 1"),
            ("a,b\n1,\"open\n\nstill open\n", "2: a quoted field of the record starting here is never closed"),
            ("a,\"b\n", "1: header: a quoted field of the record starting here is never closed"),
            ("a,a\n1,2\n", "1: header: column \"a\" appears twice"),
            ("x,y\n1,2\n", "1: no column \"a\" (the columns are \"x\", \"y\")"),
        ]
        for (index, (text, problem)) in cases.enumerated() {
            let path = try write("case\(index).csv", text)
            XCTAssertThrowsError(try documents(path, options: ReadOptions(textField: "a"))) { error in
                XCTAssertEqual("\(error)", "\(path):\(problem)")
            }
        }
        let invalid = try write("invalid.csv", Array("a,b\n1,2\n".utf8) + [0xFF, 0x2C, 0x31, 0x0A])
        XCTAssertThrowsError(try documents(invalid, options: ReadOptions(textField: "a"))) { error in
            XCTAssertEqual("\(error)", "\(invalid):3: invalid UTF-8")
        }
        // An empty file has no documents; a header alone neither.
        XCTAssertEqual(try documents(try write("empty.csv", "")).documents, [])
        XCTAssertEqual(try documents(try write("header.csv", "text\r\n")).documents, [])
    }

    /// With skipBadLines a bad record is counted and reading goes on with the next line.
    func testSkipBadRecords() throws {
        let path = try write("skip.csv", "text,n\none,1\nbad\"quote,2\ntwo,2\nthree\nfour,4\n")
        let (documents, reader) = try documents(path, options: ReadOptions(skipBadLines: true))
        XCTAssertEqual(documents.map(\.text), ["one", "two", "four"])
        XCTAssertEqual(documents.map(\.line), [2, 4, 6])
        XCTAssertEqual(reader.skippedLines, 2)
        XCTAssertEqual(reader.skippedExamples.map(\.line), [3, 5])
    }
}
