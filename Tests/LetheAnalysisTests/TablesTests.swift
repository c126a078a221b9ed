import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import LetheAnalysis

/// Oracle: tables.json, where make_analysis_fixtures.py computed every table of a fixed annotated set with
/// SciPy (binomtest Wilson intervals, ttest_ind, spearmanr) and plain Python grouping. Counts must be equal;
/// statistics within 1e-10 relative (1e-12 for means and rates).
final class TablesTests: XCTestCase {
    var fixture: [String: Any]!
    var chunks: [ChunkAnnotation]!

    override func setUpWithError() throws {
        fixture = try Fixture.json("tables.json")
        chunks = (fixture["chunks"] as! [[String: Any]]).map { c in
            let words = (c["words"] as! [[String: Any]]).map { w in
                WordAnnotation(word: "w", position: w["position"] as! Int, retained: w["retained"] as! Bool,
                               pos: (w["pos"] as? String).flatMap(POSClass.init(rawValue:)),
                               ner: (w["ner"] as? String).flatMap(NERClass.init(rawValue:)),
                               wordClass: WordClass(rawValue: w["class"] as! String)!,
                               rarestTokenFrequency: (w["rarest"] as? NSNumber).map { $0.int64Value }, meanTokenFrequency: nil)
            }
            return ChunkAnnotation(
                dataset: c["dataset"] as! String, length: c["length"] as! Int, reference: c["reference"] as! String, reconstruction: "",
                rouge1: RougeScore(precision: c["precision"] as! Double, recall: c["recall"] as! Double, f1: c["f1"] as! Double),
                words: words, tokenFates: (c["token_fates"] as! [String]).map { ["kept": .kept, "substituted": .substituted, "dropped": .dropped][$0]! },
                insertedTokens: 0, tokenFrequencies: (c["token_frequencies"] as! [NSNumber]).map { $0.int64Value })
        }
    }

    func assertOmission(_ row: OmissionRow, _ e: [String: Any], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(row.n, e["n"] as? Int, label, file: file, line: line)
        XCTAssertEqual(row.omitted, e["omitted"] as? Int, label, file: file, line: line)
        assertClose(row.rate, Fixture.double(e["rate"]), relative: 1e-12, label, file: file, line: line)
        assertClose(row.low, Fixture.double(e["low"]), relative: 1e-10, absoluteFloor: 1e-15, label, file: file, line: line)
        assertClose(row.high, Fixture.double(e["high"]), relative: 1e-10, label, file: file, line: line)
    }

    func testOmissionAndSignificanceTables() {
        let report = ReportTables(chunks: chunks)
        let omission = fixture["omission"] as! [String: [[String: Any]]]
        let significance = fixture["significance"] as! [String: [[String: Any]]]
        for name in ReportTables.categoryTables {
            let rows = report.omission[name]!, expected = omission[name]!
            XCTAssertEqual(rows.map(\.category), expected.map { $0["category"] as! String }, name)
            for (row, e) in zip(rows, expected) { assertOmission(row, e, "\(name) \(row.category)") }
            let pairs = report.significance[name]!, expectedPairs = significance[name]!
            XCTAssertEqual(pairs.count, expectedPairs.count, name)
            for (row, e) in zip(pairs, expectedPairs) {
                let label = "\(name) \(row.category1)-\(row.category2)"
                XCTAssertEqual([row.category1, row.category2], [e["category_1"] as! String, e["category_2"] as! String], label)
                assertClose(row.t, Fixture.double(e["t"]), relative: 1e-10, label)
                assertClose(row.p, Fixture.double(e["p"]), relative: 1e-10, label)
                assertClose(row.pBonferroni, Fixture.double(e["p_bonferroni"]), relative: 1e-10, label)
                XCTAssertEqual(row.significant, e["significant"] as! Bool, label)
            }
        }
        XCTAssertFalse(report.omission["pos"]!.contains { $0.category == "X" || $0.category == "INTJ" })
    }

    func testPositionFrequencyAndRougeTables() {
        let report = ReportTables(chunks: chunks)
        let position = fixture["position"] as! [[String: Any]]
        XCTAssertEqual(report.position.count, position.count)
        for (row, e) in zip(report.position, position) {
            XCTAssertEqual(row.dataset, e["dataset"] as! String)
            XCTAssertEqual(row.bin, e["bin"] as! Int)
            assertOmission(row.omission, e, "position \(row.dataset) \(row.bin)")
        }
        let frequency = fixture["frequency"] as! [[String: Any]]
        XCTAssertEqual(report.frequency.count, frequency.count)
        for (row, e) in zip(report.frequency, frequency) {
            let label = "frequency \(row.level) \(row.bin)"
            XCTAssertEqual(row.level, e["level"] as! String, label)
            XCTAssertEqual(row.bin, e["bin"] as! Int, label)
            assertOmission(row.omission, e, label)
            assertClose(row.rho, Fixture.double(e["rho"]), relative: 1e-10, label)
            assertClose(row.p, Fixture.double(e["p"]), relative: 1e-10, label)
        }
        let rouge = fixture["rouge"] as! [[String: Any]]
        XCTAssertEqual(report.rouge.count, rouge.count)
        for (row, e) in zip(report.rouge, rouge) {
            XCTAssertEqual(row.dataset, e["dataset"] as! String)
            XCTAssertEqual(row.length, e["length"] as! Int)
            XCTAssertEqual(row.minLength, e["min_length"] as! Int)
            XCTAssertEqual(row.maxLength, e["max_length"] as! Int)
            XCTAssertEqual(row.n, e["n"] as! Int)
            XCTAssertEqual(row.unscored, e["unscored"] as! Int)
            assertClose(row.precision, Fixture.double(e["precision"]), relative: 1e-12)
            assertClose(row.recall, Fixture.double(e["recall"]), relative: 1e-12)
            assertClose(row.f1, Fixture.double(e["f1"]), relative: 1e-12)
            XCTAssertLessThanOrEqual(row.f1Low, row.f1)
            XCTAssertGreaterThanOrEqual(row.f1High, row.f1)
        }
    }

    func testFilesAreDeterministicAndWellFormed() throws {
        let a = ReportTables(chunks: chunks, seed: 3).files(), b = ReportTables(chunks: chunks, seed: 3).files()
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        XCTAssertEqual(a.map(\.contents), b.map(\.contents))
        let names = Set(a.map(\.name))
        for expected in ["rouge.csv", "omission_pos.csv", "omission_ner.csv", "omission_class.csv", "omission_dataset.csv",
                         "significance_pos.csv", "omission_position.csv", "frequency.csv", "rouge_f1_by_length.svg",
                         "omission_by_position.svg", "omission_by_frequency.svg", "omission_pos.svg"] {
            XCTAssertTrue(names.contains(expected), expected)
        }
        let rouge = a.first { $0.name == "rouge.csv" }!.contents
        XCTAssertTrue(rouge.hasPrefix("dataset,length,min_length,max_length,n,unscored,precision,recall,f1,f1_low,f1_high\n"))
        for file in a where file.name.hasSuffix(".svg") {
            XCTAssertTrue(XMLParser(data: Data(file.contents.utf8)).parse(), "\(file.name) is not well-formed XML")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try ReportTables(chunks: chunks, seed: 3).write(to: directory)
        XCTAssertEqual(try String(contentsOf: directory.appendingPathComponent("rouge.csv"), encoding: .utf8), rouge)
    }

    /// The paper's lengths keep their own bucket; others go up to the next one; beyond 256 the doubling goes on.
    func testLengthBuckets() {
        XCTAssertEqual([1, 3, 4, 5, 8, 9, 64, 65, 256, 257, 300, 512, 513].map(ChunkLengthBucket.of),
                       [4, 4, 4, 8, 8, 16, 64, 128, 256, 512, 512, 512, 1024])
    }

    /// Pairing rules: only datasets whose every chunk names a distinct document take part; they pair on the
    /// documents they share (two at least); a measure needs two pairs with a value; pairs follow dataset 1's order.
    func testPairedTableRules() {
        func chunk(_ dataset: String, f1: Double, omitted: Int, of words: Int) -> ChunkAnnotation {
            ChunkAnnotation(dataset: dataset, length: 4, reference: "a reference", reconstruction: "",
                            rouge1: RougeScore(precision: f1, recall: f1, f1: f1),
                            words: (0..<words).map { WordAnnotation(word: "w", position: $0, retained: $0 >= omitted, wordClass: .word) },
                            tokenFates: [], insertedTokens: 0)
        }
        let chunks = [chunk("a", f1: 0.9, omitted: 1, of: 4), chunk("a", f1: 0.5, omitted: 0, of: 0), chunk("a", f1: 0.7, omitted: 2, of: 4),
                      chunk("b", f1: 0.7, omitted: 2, of: 4), chunk("b", f1: 0.6, omitted: 1, of: 2), chunk("b", f1: 0.8, omitted: 0, of: 4),
                      chunk("c", f1: 0.1, omitted: 0, of: 1), chunk("c", f1: 0.2, omitted: 0, of: 1),
                      chunk("d", f1: 0.3, omitted: 0, of: 1), chunk("d", f1: 0.4, omitted: 0, of: 1)]
        // b lists d2 first (order follows a); c repeats a document; d names one document and misses another.
        let documents: [String?] = ["d1", "d2", "d3", "d2", "d3", "d1", "d1", "d1", "d1", nil]
        let rows = pairedTable(chunks, documents: documents)
        XCTAssertEqual(rows.map { "\($0.dataset1)-\($0.dataset2) \($0.measure) \($0.pairs)" }, ["a-b f1 3", "a-b omission_rate 2"])
        XCTAssertEqual(rows[0].mean1, (0.9 + 0.5 + 0.7) / 3, accuracy: 1e-15)
        XCTAssertEqual(rows[0].mean2, (0.8 + 0.7 + 0.6) / 3, accuracy: 1e-15)
        // Omission pairs: d1 (0.25 vs 0) and d3 (0.5 vs 0.5); d2 has no words in a.
        XCTAssertEqual(rows[1].difference, (0.25 + 0) / 2, accuracy: 1e-15)
        XCTAssertEqual(rows[1].wilcoxon.nonZeroPairs, 1)
    }

    func testCSVFormatting() {
        let table = Table(columns: ["name", "x", "n", "ok"], rows: [
            [.text("a,b \"c\""), .number(0.1), .integer(3), .flag(true)],
            [.text("plain"), .number(.nan), .integer(-1), .flag(false)],
            [.text("tiny"), .number(1.23456789012345e-120), .integer(0), .flag(false)],
            [.text("inf"), .number(-.infinity), .integer(0), .flag(false)],
        ])
        XCTAssertEqual(table.csv, """
            name,x,n,ok
            "a,b ""c\"\"",0.1,3,true
            plain,,-1,false
            tiny,1.23456789e-120,0,false
            inf,-inf,0,false

            """)
    }
}
