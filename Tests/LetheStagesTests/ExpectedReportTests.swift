import Foundation
import XCTest
import LetheAnalysis
import LethePipeline
import LetheShards
import LetheTestSupport

/// A report built from a small fixed set of reconstructions (Tests/Fixtures/report/reconstructions.json) by the
/// real lethe-annotate and lethe-report, compared byte for byte with the committed expected/ files; and those
/// expected files checked against oracle.json, where make_report_fixtures.py computed every annotation and
/// table independently (nltk, rouge-score, SciPy, numpy, tokenizers).
///
/// After a change meant to alter the report: `LETHE_BLESS=1 swift test ... --filter ExpectedReportTests`
/// rewrites expected/ (the test then fails once, to say so); review `git diff` before committing.
final class ExpectedReportTests: XCTestCase {
    static let expected = ReportFixture.directory.appendingPathComponent("expected")
    /// report.md names the Lethe release; the expected copy says VERSION there.
    static let versionMark = "lethe-report \(LetheVersion.current) "

    /// Builds the fixture's stage folders, runs annotate and report, and returns every file the report
    /// registered plus `annotations.txt` (each annotated sample's KEY.json and KEY.words.json).
    static func produce(in sandbox: Sandbox) throws -> [String: [UInt8]] {
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        let annotate = try sandbox.run("lethe-annotate", fixture.reconstructFolders.flatMap { ["--input", $0] } + [
            "--counts", "stages/count", "--tokenizer", "data/tokenizer.json", "--output", "stages/annotate"])
        XCTAssertEqual(annotate.status, 0, annotate.error)
        let report = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs", "--title", "Lethe fixture report"])
        XCTAssertEqual(report.status, 0, report.error)

        var files: [String: [UInt8]] = [:]
        let manifest = try XCTUnwrap(try StageFolder(url: sandbox.path("outputs")).manifest())
        for file in manifest.files {
            var bytes = [UInt8](try Data(contentsOf: sandbox.path("outputs/" + file.name)))
            if file.name == "report.md" || file.name == "report.html" {
                let text = String(decoding: bytes, as: UTF8.self)
                XCTAssertTrue(text.contains(Self.versionMark), "\(file.name) does not name the release")
                bytes = Array(text.replacingOccurrences(of: Self.versionMark, with: "lethe-report VERSION ").utf8)
            }
            files[file.name] = bytes
        }
        var annotations: [UInt8] = []
        for sample in try sandbox.samples("stages/annotate") {
            annotations += Array("# \(sample.key)\n".utf8) + sample.data("json")! + [10] + sample.data("words.json")! + [10]
        }
        files["annotations.txt"] = annotations
        return files
    }

    /// Run from another folder, on the annotations' absolute path, the report still finds the models the stages
    /// recorded relative to the pipeline's folder (it looked them up from the working directory only, and left
    /// the models' descriptions out).
    func testReportRunElsewhereFindsTheRecordedModels() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        _ = try Self.produce(in: sandbox)
        let elsewhere = sandbox.path("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let report = try runProduct("lethe-report", ["--input", sandbox.path("stages/annotate").path, "--output", "outputs",
                                                     "--title", "Lethe fixture report"], in: elsewhere)
        XCTAssertEqual(report.status, 0, report.error)
        func modelLines(_ folder: URL) throws -> [String] {
            try String(contentsOf: folder.appendingPathComponent("report.md"), encoding: .utf8).split(separator: "\n")
                .filter { $0.contains("(frozen):") || $0.contains("**Decoder") }.map(String.init)
        }
        let here = try modelLines(sandbox.path("outputs"))
        XCTAssertTrue(here.contains { $0.contains("Mamba, 4 layers") }, "\(here)")
        XCTAssertEqual(try modelLines(elsewhere.appendingPathComponent("outputs")), here)
    }

    func testReportMatchesExpectedFiles() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let files = try Self.produce(in: sandbox)
        XCTAssertEqual(Set(files.keys), ["report.md", "report.html", "annotations.txt", "rouge.csv", "omission_pos.csv", "omission_ner.csv",
                                         "omission_class.csv", "omission_dataset.csv", "significance_pos.csv", "significance_ner.csv",
                                         "significance_class.csv", "significance_dataset.csv", "omission_position.csv",
                                         "frequency.csv", "paired.csv", "surprisal.csv", "omission_by_surprisal.svg",
                                         "rouge_f1_by_length.svg", "omission_pos.svg", "omission_ner.svg",
                                         "omission_class.svg", "omission_dataset.svg", "omission_by_position.svg",
                                         "omission_by_frequency.svg"])
        if ProcessInfo.processInfo.environment["LETHE_BLESS"] == "1" {
            try? FileManager.default.removeItem(at: Self.expected)
            try FileManager.default.createDirectory(at: Self.expected, withIntermediateDirectories: true)
            for (name, bytes) in files { try Data(bytes).write(to: Self.expected.appendingPathComponent(name)) }
            XCTFail("LETHE_BLESS=1: rewrote \(files.count) files in \(Self.expected.path); review git diff, then rerun without it")
            return
        }
        let committed = try FileManager.default.contentsOfDirectory(atPath: Self.expected.path)
        XCTAssertEqual(Set(committed), Set(files.keys), "expected/ and the produced files differ in names")
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            let expected = [UInt8](try Data(contentsOf: Self.expected.appendingPathComponent(name)))
            if bytes != expected { XCTFail("\(name): " + firstDifference(bytes, expected)) }
        }
    }

    /// The line where two texts first differ, both versions shown.
    func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String {
        let a = String(decoding: actual, as: UTF8.self).components(separatedBy: "\n")
        let e = String(decoding: expected, as: UTF8.self).components(separatedBy: "\n")
        for i in 0..<max(a.count, e.count) where (i < a.count ? a[i] : nil) != (i < e.count ? e[i] : nil) {
            return "line \(i + 1) differs:\n  got      \(i < a.count ? a[i] : "(end)")\n  expected \(i < e.count ? e[i] : "(end)")"
        }
        return "differs"
    }

    // MARK: - The expected files against the oracle

    var oracle: JSONValue { get throws { try JSONValue.read(contentsOf: ReportFixture.directory.appendingPathComponent("oracle.json")) } }

    enum Kind { case text, integer, number, flag }

    /// Every row and cell of an expected CSV against the oracle's rows: text, integers and flags equal;
    /// numbers within 1e-9 relative (the CSV keeps 10 significant digits), 1e-12 absolute near zero; an
    /// empty cell is nan.
    func assertTable(_ name: String, _ rows: [JSONValue], _ columns: [(csv: String, oracle: String, kind: Kind)],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let table = try parseCSV(String(decoding: try Data(contentsOf: Self.expected.appendingPathComponent(name)), as: UTF8.self))
        XCTAssertEqual(table.first, columns.map(\.csv), "\(name): header", file: file, line: line)
        XCTAssertEqual(table.count - 1, rows.count, "\(name): row count", file: file, line: line)
        XCTAssertGreaterThan(rows.count, 0, "\(name): the oracle has no rows", file: file, line: line)
        for (r, (cells, row)) in zip(table.dropFirst(), rows).enumerated() {
            for (c, column) in columns.enumerated() {
                let label = "\(name) row \(r + 1) \(column.csv)"
                let value = row[column.oracle]
                switch column.kind {
                case .text: XCTAssertEqual(cells[c], value?.stringValue, label, file: file, line: line)
                case .integer: XCTAssertEqual(Int(cells[c]), value?.intValue, label, file: file, line: line)
                case .flag: XCTAssertEqual(cells[c], value?.boolValue.map { $0 ? "true" : "false" }, label, file: file, line: line)
                case .number:
                    let actual = cells[c].isEmpty ? Double.nan : try XCTUnwrap(Double(cells[c]), label)
                    let expected = value?.stringValue == "nan" ? Double.nan : try XCTUnwrap(value?.doubleValue, label)
                    if expected.isNaN { XCTAssertTrue(actual.isNaN, "\(label): got \(actual), expected nan", file: file, line: line); continue }
                    XCTAssertLessThanOrEqual(abs(actual - expected), max(1e-9 * abs(expected), 1e-12),
                                             "\(label): got \(actual), expected \(expected)", file: file, line: line)
                }
            }
        }
    }

    func testExpectedTablesAgreeWithOracle() throws {
        let tables = try XCTUnwrap(try oracle["tables"])
        try assertTable("rouge.csv", tables["rouge"]!.arrayValue!, [
            ("dataset", "dataset", .text), ("length", "length", .integer), ("min_length", "min_length", .integer),
            ("max_length", "max_length", .integer), ("n", "n", .integer), ("unscored", "unscored", .integer),
            ("precision", "precision", .number),
            ("recall", "recall", .number), ("f1", "f1", .number), ("f1_low", "f1_low", .number), ("f1_high", "f1_high", .number)])
        let rate: [(String, String, Kind)] = [("n", "n", .integer), ("omitted", "omitted", .integer), ("rate", "rate", .number),
                                              ("low", "low", .number), ("high", "high", .number)]
        for name in ReportTables.categoryTables {
            try assertTable("omission_\(name).csv", tables["omission"]![name]!.arrayValue!, [("category", "category", .text)] + rate)
            try assertTable("significance_\(name).csv", tables["significance"]![name]!.arrayValue!, [
                ("category_1", "category_1", .text), ("category_2", "category_2", .text), ("t", "t", .number), ("p", "p", .number),
                ("p_bonferroni", "p_bonferroni", .number), ("significant", "significant", .flag)])
        }
        try assertTable("omission_position.csv", tables["position"]!.arrayValue!, [
            ("dataset", "dataset", .text), ("bin", "bin", .integer), ("from", "from", .number), ("to", "to", .number)] + rate)
        try assertTable("frequency.csv", tables["frequency"]!.arrayValue!, [
            ("level", "level", .text), ("bin", "bin", .integer), ("count_low", "count_low", .integer),
            ("count_high", "count_high", .integer)] + rate + [("spearman_rho", "rho", .number), ("spearman_p", "p", .number)])
        try assertTable("surprisal.csv", tables["surprisal"]!.arrayValue!, [
            ("level", "level", .text), ("bin", "bin", .integer), ("from", "from", .number), ("to", "to", .number)] + rate
            + [("spearman_rho", "rho", .number), ("spearman_p", "p", .number)])
        // AAVE and SAE, the same six sentences in two dialects, compared pair by pair (ttest_rel, wilcoxon).
        let paired = tables["paired"]!.arrayValue!
        XCTAssertEqual(paired.map { $0["measure"]?.stringValue }, ["f1", "omission_rate"])
        try assertTable("paired.csv", paired, ["dataset_1", "dataset_2", "measure"].map { ($0, $0, Kind.text) }
            + [("pairs", "pairs", .integer)]
            + ["mean_1", "mean_2", "difference", "difference_low", "difference_high", "effect_size_dz", "t", "p_t", "wilcoxon_w"]
                .map { ($0, $0, Kind.number) }
            + [("wilcoxon_pairs", "wilcoxon_pairs", .integer), ("p_wilcoxon", "p_wilcoxon", .number)])
    }

    /// Each annotated chunk (expected/annotations.txt, the KEY.words.json lethe-annotate wrote) against the
    /// oracle's: words, retained flags, classes, POS/NER, frequencies and token fates equal; ROUGE and mean
    /// frequencies within 1e-12 relative.
    func testExpectedAnnotationsAgreeWithOracle() throws {
        let lines = try String(contentsOf: Self.expected.appendingPathComponent("annotations.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let chunks = try XCTUnwrap(try oracle["chunks"]?.arrayValue)
        XCTAssertEqual(lines.count, chunks.count * 3 + 1)
        let fates: [String: TokenFate] = ["kept": .kept, "substituted": .substituted, "dropped": .dropped]
        func close(_ a: Double?, _ b: Double?, _ label: String) {
            guard let a, let b else { return XCTAssertEqual(a == nil, b == nil, label) }
            XCTAssertLessThanOrEqual(abs(a - b), 1e-12 * max(abs(b), 1), "\(label): got \(a), expected \(b)")
        }
        for (k, expected) in chunks.enumerated() {
            let key = expected["key"]!.stringValue!
            XCTAssertEqual(String(lines[3 * k]), "# \(key)")
            let meta = try JSONValue.parse(String(lines[3 * k + 1]))
            XCTAssertEqual(meta["stop"], expected["stop"], key)
            let chunk = try ChunkAnnotation(jsonData: Data(lines[3 * k + 2].utf8), source: key)
            XCTAssertEqual(chunk.dataset, expected["dataset"]!.stringValue, key)
            XCTAssertEqual(chunk.length, expected["length"]!.intValue, key)
            close(chunk.rouge1.precision, expected["precision"]!.doubleValue, "\(key) precision")
            close(chunk.rouge1.recall, expected["recall"]!.doubleValue, "\(key) recall")
            close(chunk.rouge1.f1, expected["f1"]!.doubleValue, "\(key) f1")
            XCTAssertEqual(chunk.tokenFates, expected["token_fates"]!.arrayValue!.map { fates[$0.stringValue!]! }, key)
            XCTAssertEqual(chunk.insertedTokens, expected["inserted"]!.intValue, key)
            XCTAssertEqual(chunk.tokenFrequencies, expected["token_frequencies"]!.arrayValue!.map { Int64($0.intValue!) }, key)
            XCTAssertEqual(chunk.tokenSurprisals, expected["token_surprisals"]!.arrayValue!.map(\.doubleValue), key)
            let words = expected["words"]!.arrayValue!
            XCTAssertEqual(chunk.words.map(\.word), words.map { $0["word"]!.stringValue! }, key)
            for (w, e) in zip(chunk.words, words) {
                let label = "\(key) word \(w.position) \(w.word)"
                XCTAssertEqual(w.position, e["position"]!.intValue, label)
                XCTAssertEqual(w.retained, e["retained"]!.boolValue, label)
                XCTAssertEqual(w.pos?.rawValue, e["pos"]!.stringValue, label)
                XCTAssertEqual(w.ner?.rawValue, e["ner"]!.stringValue, label)
                XCTAssertEqual(w.wordClass.rawValue, e["class"]!.stringValue, label)
                XCTAssertEqual(w.rarestTokenFrequency, e["rarest"]!.intValue.map(Int64.init), label)
                close(w.meanTokenFrequency, e["mean"]!.doubleValue, "\(label) mean")
                XCTAssertEqual(w.wordFrequency, e["word_count"]!.intValue.map(Int64.init), label)
                XCTAssertEqual(w.surprisal, e["surprisal"]!.doubleValue, "\(label) surprisal (sums of multiples of 1/8: exact)")
            }
        }
    }
}

/// RFC 4180: comma-separated cells, double quotes around cells holding commas, quotes or line breaks.
func parseCSV(_ text: String) throws -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], cell = "", quoted = false
    var characters = Array(text).makeIterator()
    while let c = characters.next() {
        if quoted {
            if c == "\"" {
                if let next = characters.next() {
                    if next == "\"" { cell.append("\"") } else {
                        quoted = false
                        if next == "," { row.append(cell); cell = "" } else if next == "\n" { row.append(cell); rows.append(row); row = []; cell = "" } else { cell.append(next) }
                    }
                } else { quoted = false }
            } else { cell.append(c) }
        } else if c == "\"" && cell.isEmpty {
            quoted = true
        } else if c == "," {
            row.append(cell); cell = ""
        } else if c == "\n" {
            row.append(cell); rows.append(row); row = []; cell = ""
        } else {
            cell.append(c)
        }
    }
    if !cell.isEmpty || !row.isEmpty { row.append(cell); rows.append(row) }
    return rows
}
