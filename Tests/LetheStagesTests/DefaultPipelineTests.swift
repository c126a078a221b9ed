import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

/// The shipped pipeline.json end to end, on a few documents: every stage of the default run (tokenize, encode
/// with the embedded lethe-small, train the auto-encoder, reconstruct, count, annotate, report) wired exactly
/// as the shipped file wires them; only the amounts are cut down so it takes seconds.
final class DefaultPipelineTests: XCTestCase {
    /// The shipped pipeline with its amounts cut: a few documents per tokenize stage, a few training steps,
    /// one small file counted.
    func miniature(of shipped: JSONValue) throws -> JSONValue {
        var pipeline = shipped
        guard case .object(let stages)? = shipped["stages"] else { throw XCTSkip("pipeline.json has no stages") }
        for (name, stage) in stages {
            var stage = stage
            switch stage["run"]?.stringValue {
            case "lethe-tokenize":
                let isTable = stage["files"]?["input"]?.arrayValue?.first?.stringValue?.hasSuffix(".csv") == true
                stage["params"]?["max-documents"] = .int(isTable ? 40 : 2)
            case "lethe-train":
                stage["params"]?["epochs"] = nil
                stage["params"]?["steps"] = .int(3)
                stage["params"]?["batch-size"] = .int(4)
            case "lethe-count":
                stage["files"]?["input"] = ["data/gsm8k/test.jsonl"]
            default:
                break
            }
            pipeline["stages"]?[name] = stage
        }
        return pipeline
    }

    func testShippedPipelineRunsEndToEnd() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let shipped = try JSONValue.read(contentsOf: repositoryRoot.appendingPathComponent("pipeline.json"))
        for folder in ["data", "models"] {
            try FileManager.default.createSymbolicLink(at: sandbox.path(folder), withDestinationURL: repositoryRoot.appendingPathComponent(folder))
        }
        try Data(miniature(of: shipped).serialized(pretty: true).utf8).write(to: sandbox.path("pipeline.json"))

        var result = try lethe(["run"], in: sandbox)
        XCTAssertEqual(result.status, 0, result.error + result.output)
        let stageNames = try XCTUnwrap(shipped["stages"]?.objectValue?.keys)
        for name in stageNames {
            XCTAssertTrue(result.output.contains("== \(name): done"), "stage \(name) did not run:\n\(result.output)")
        }

        // The report: every dataset of the default run is in it, with the tables and plots it promises.
        let report = try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
        let rouge = try String(contentsOf: sandbox.path("outputs/rouge.csv"), encoding: .utf8)
        for dataset in ["prose", "code", "math", "conll", "aave", "sae"] {
            XCTAssertTrue(rouge.contains("\n\(dataset),"), "rouge.csv lacks \(dataset):\n\(rouge)")
        }
        for table in ["omission_pos.csv", "omission_ner.csv", "omission_class.csv", "omission_dataset.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.path("outputs/\(table)").path), table)
            XCTAssertTrue(report.contains(table), "report.md does not point to \(table)")
        }
        let plots = try FileManager.default.contentsOfDirectory(atPath: sandbox.path("outputs").path).filter { $0.hasSuffix(".svg") }
        XCTAssertFalse(plots.isEmpty, "no plots in outputs/")
        XCTAssertTrue(report.contains("lethe-small"), "report.md does not name the encoder")
        // What was evaluated and what trained the decoder are told apart (the train-* stages reach the
        // annotations only through the decoder).
        let lines = report.split(separator: "\n")
        let data = try XCTUnwrap(lines.first { $0.hasPrefix("- **Data:** ") })
        let training = try XCTUnwrap(lines.first { $0.hasPrefix("- **Decoder training data:** ") })
        XCTAssertTrue(data.contains("chunking words") && !data.contains("chunking mixed"), String(data))
        XCTAssertTrue(training.contains("chunking mixed") && !training.contains("chunking fixed"), String(training))

        // The reconstructions come from the trained decoder (train/final), the states from lethe-small.
        let reconstruction = try XCTUnwrap(sandbox.samples("stages/reconstruct").first?.json())
        XCTAssertEqual(reconstruction["decoder"]?["model"]?.stringValue, "train/final")
        XCTAssertEqual(reconstruction["encoder"]?["model"]?.stringValue, "lethe-small")

        result = try lethe(["run"], in: sandbox)
        XCTAssertEqual(result.output, "Nothing to do: all \(stageNames.count) stages are up to date.\n", result.error)
    }

    private func lethe(_ arguments: [String], in sandbox: Sandbox) throws -> CommandResult {
        try runProduct("lethe", arguments, in: sandbox.url, hashCache: "off")
    }
}
