import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

/// Several runs in one report (lethe-report --label): the fixture's two reconstruct folders annotated apart, as
/// two runs A and B, reported alone and compared. The comparison must hold exactly each run's own report: every
/// CSV row of run A is the row A's report has, with `run` first; and the page's run filter gives each run's counts.
final class ComparedReportTests: XCTestCase {
    func testAComparisonHoldsEachRunsOwnReport() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        let runs = ["A": fixture.reconstructFolders[0], "B": fixture.reconstructFolders[1]]
        for (label, folder) in runs.sorted(by: { $0.key < $1.key }) {
            let annotate = try sandbox.run("lethe-annotate", ["--input", folder, "--counts", "stages/count", "--tokenizer", "data/tokenizer.json",
                                                              "--output", "stages/annotate-\(label)"])
            XCTAssertEqual(annotate.status, 0, annotate.error)
            let alone = try sandbox.run("lethe-report", ["--input", "stages/annotate-\(label)", "--output", "outputs-\(label)"])
            XCTAssertEqual(alone.status, 0, alone.error)
        }
        let compared = try sandbox.run("lethe-report", ["--input", "stages/annotate-A", "--label", "A", "--input", "stages/annotate-B",
                                                        "--label", "B", "--output", "outputs"])
        XCTAssertEqual(compared.status, 0, compared.error)

        let manifest = try XCTUnwrap(try StageFolder(url: sandbox.path("outputs")).manifest())
        let names = manifest.files.map(\.name)
        XCTAssertFalse(names.contains("training_curve.csv"), "a comparison has no single decoder's training")
        var csvFiles = 0
        for name in names where name.hasSuffix(".csv") {
            csvFiles += 1
            let table = try parseCSV(String(contentsOf: sandbox.path("outputs/" + name), encoding: .utf8))
            XCTAssertEqual(table.first?.first, "run", name)
            for label in ["A", "B"] {
                let own = try parseCSV(String(contentsOf: sandbox.path("outputs-\(label)/" + name), encoding: .utf8))
                XCTAssertEqual(Array(table[0].dropFirst()), own[0], "\(name): columns")
                XCTAssertEqual(table.dropFirst().filter { $0[0] == label }.map { Array($0.dropFirst()) }, Array(own.dropFirst()),
                               "\(name): run \(label)'s rows")
            }
            XCTAssertTrue(table.dropFirst().allSatisfy { ["A", "B"].contains($0[0]) }, name)
        }
        XCTAssertEqual(csvFiles, 13)

        let markdown = try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| run | annotations | encoder | decoder |\n| --- | --- | --- | --- |\n| A | `stages/annotate-A` |"), markdown)
        XCTAssertTrue(markdown.contains("| run | dataset | length | chunk lengths | chunks |"))
        XCTAssertTrue(markdown.contains("- **A:** ROUGE-1 F1") && markdown.contains("- **B:** ROUGE-1 F1"))
        let rougePlot = try String(contentsOf: sandbox.path("outputs/rouge_f1_by_length.svg"), encoding: .utf8)
        XCTAssertTrue(rougePlot.contains(">A</text>") && rougePlot.contains(">B</text>"), "each run's line in the plot")
        XCTAssertTrue(markdown.contains("from the annotations in `stages/annotate-A`, `stages/annotate-B`: 2 runs compared (A: "), markdown)

        // The page: each run's chunks and words beside the run filter, as its own report counts them.
        let page = try Chromium.load(sandbox.path("outputs/report.html"))
        XCTAssertEqual(page.console, [])
        let options = page.options("f-run")
        for label in ["A", "B"] {
            let words = try parseCSV(String(contentsOf: sandbox.path("outputs-\(label)/omission_dataset.csv"), encoding: .utf8)).dropFirst()
            let chunks = try sandbox.samples("stages/annotate-\(label)").count
            XCTAssertEqual(options[label]?["chunks"], Double(chunks), label)
            XCTAssertEqual(options[label]?["words"], words.reduce(0) { $0 + Double($1[1])! }, label)
        }
        // A run and a dataset chosen: each length's counts and F1 are that run's rows of rouge.csv.
        let rouge = try parseCSV(String(contentsOf: sandbox.path("outputs/rouge.csv"), encoding: .utf8))
        let rows = rouge.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rouge[0], $0)) }.filter { $0["run"] == "A" }
        for dataset in Set(rows.map { $0["dataset"]! }).sorted() {
            let buckets = try Chromium.load(sandbox.path("outputs/report.html"), fragment: "run=A&dataset=\(dataset)").options("f-bucket")
            for row in rows where row["dataset"] == dataset {
                XCTAssertEqual(buckets[row["length"]!]?["scored"], Double(row["n"]!), "A \(dataset) \(row["length"]!)")
                XCTAssertEqual(buckets[row["length"]!]?["f1"] ?? .nan, Double(row["f1"]!)!, accuracy: 5e-10, "A \(dataset) \(row["length"]!)")
            }
        }
    }

    /// An encoder with the architecture of one of the paper's models (here the fixture's config made mamba-130m's
    /// shape) brings the paper's figures into report.md.
    func testAReportOnAPaperModelSetsThePapersFiguresBesideItsOwn() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        try sandbox.write("models/lethe-small/config.json", #"{"model_type": "mamba", "num_hidden_layers": 24, "hidden_size": 768, "state_size": 16, "vocab_size": 50280}"#)
        let annotate = try sandbox.run("lethe-annotate", fixture.reconstructFolders.flatMap { ["--input", $0] } + [
            "--counts", "stages/count", "--tokenizer", "data/tokenizer.json", "--output", "stages/annotate"])
        XCTAssertEqual(annotate.status, 0, annotate.error)
        let report = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs"])
        XCTAssertEqual(report.status, 0, report.error)
        let markdown = try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("## Beside the paper\n\nThe encoder has the architecture of mamba-130m (24 layers, d_model 768)"), markdown)
        XCTAssertTrue(markdown.contains("| Github | paper, mamba-130m | 93.1% | 98.6% | 99.1% | 98.3% | 96.5% | 87.8% | 69.3% |"), markdown)
        XCTAssertTrue(markdown.contains("| Github | this run |"), markdown)
        XCTAssertTrue(markdown.contains("| all (this report's chunks) | this run |"), markdown)

        // Another architecture of the same sizes is not the paper's model (mamba2-130m is 24 × 768 too); the report
        // names the architecture.
        for (type, name) in [("falcon_mamba", "Falcon-Mamba"), ("mamba2", "Mamba-2")] {
            try sandbox.write("models/lethe-small/config.json", #"{"model_type": "\#(type)", "num_hidden_layers": 24, "hidden_size": 768, "state_size": 16, "vocab_size": 50280}"#)
            let other = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs-\(type)"])
            XCTAssertEqual(other.status, 0, other.error)
            let markdown = try String(contentsOf: sandbox.path("outputs-\(type)/report.md"), encoding: .utf8)
            XCTAssertFalse(markdown.contains("Beside the paper"), markdown)
            XCTAssertTrue(markdown.contains("\(name), 24 layers, d_model 768, d_state 16"), markdown)
        }
    }

    func testLabelsMustMatchTheInputs() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let result = try sandbox.run("lethe-report", ["--input", "a", "--input", "b", "--label", "A", "--output", "outputs"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.error.contains("give one --label per --input (1 labels for 2 inputs), or none"), result.error)
    }
}
