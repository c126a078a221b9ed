import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

/// The shipped pipeline.json end to end, on a few documents: every stage of the default run (tokenize, encode
/// with the embedded lethe-small, reconstruct with the shipped auto-encoder lethe-ae-small, count, annotate,
/// report) wired exactly as the shipped file wires them; only the amounts are cut down so it takes seconds. And
/// the recipe of lethe-ae-small (pipelines/pretrain-ae-small.json) the same way: training on the fly with
/// validation.
final class DefaultPipelineTests: XCTestCase {
    /// The shipped pipeline with its amounts cut: a few documents per tokenize stage, a few training steps,
    /// two tokens decoded per chunk, one small file counted.
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
                if stage["params"]?["validate-chunks"] != nil { stage["params"]?["validate-chunks"] = .int(2) }
            case "lethe-reconstruct":
                // A decoder trained for 3 steps runs to the length limit on every chunk: keep decoding short.
                stage["params"]?["max-new-tokens"] = .int(2)
            case "lethe-count":
                stage["files"]?["input"] = ["data/gsm8k/test.jsonl"]
            default:
                break
            }
            pipeline["stages"]?[name] = stage
        }
        return pipeline
    }

    /// A sandbox where the repository's data/ and models/ are at hand, and the miniature of the shipped pipeline
    /// file `relativePath` written at `target`; returns the shipped pipeline.
    func miniatureSandbox(_ sandbox: Sandbox, of relativePath: String, at target: String) throws -> JSONValue {
        let shipped = try JSONValue.read(contentsOf: repositoryRoot.appendingPathComponent(relativePath))
        for folder in ["data", "models"] {
            try FileManager.default.createSymbolicLink(at: sandbox.path(folder), withDestinationURL: repositoryRoot.appendingPathComponent(folder))
        }
        try FileManager.default.createDirectory(at: sandbox.path(target).deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(miniature(of: shipped).serialized(pretty: true).utf8).write(to: sandbox.path(target))
        return shipped
    }

    func testShippedPipelineRunsEndToEnd() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let shipped = try miniatureSandbox(sandbox, of: "pipeline.json", at: "pipeline.json")

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
        let lines = report.split(separator: "\n")
        let data = try XCTUnwrap(lines.first { $0.hasPrefix("- **Data:** ") })
        XCTAssertTrue(data.contains("chunking words") && !data.contains("chunking mixed"), String(data))
        // The shipped decoder's training curve, from the log shipped beside it.
        XCTAssertTrue(report.contains("## The decoder's training"), report)
        XCTAssertTrue(report.contains("models/lethe-ae-small/train_log.jsonl"), report)
        for file in ["training_curve.csv", "training_loss.svg", "training_f1.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.path("outputs/\(file)").path), file)
        }

        // The reconstructions come from the shipped decoder, the states from lethe-small.
        let reconstruction = try XCTUnwrap(sandbox.samples("stages/reconstruct").first?.json())
        XCTAssertEqual(reconstruction["decoder"]?["model"]?.stringValue, "lethe-ae-small")
        XCTAssertEqual(reconstruction["encoder"]?["model"]?.stringValue, "lethe-small")

        result = try lethe(["run"], in: sandbox)
        XCTAssertEqual(result.output, "Nothing to do: all \(stageNames.count) stages are up to date.\n", result.error)
    }

    /// The recipe of the shipped decoder: its stages run as wired (tokenize, then lethe-train on the fly through
    /// the frozen lethe-small with validation), and the training log has validation lines with F1 by length.
    func testAutoEncoderRecipeRunsEndToEnd() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let shipped = try miniatureSandbox(sandbox, of: "pipelines/pretrain-ae-small.json", at: "pipelines/recipe.json")

        let result = try lethe(["run", "pipelines/recipe.json"], in: sandbox)
        XCTAssertEqual(result.status, 0, result.error + result.output)
        for name in try XCTUnwrap(shipped["stages"]?.objectValue?.keys) {
            XCTAssertTrue(result.output.contains("== \(name): done"), "stage \(name) did not run:\n\(result.output)")
        }
        let log = try String(contentsOf: sandbox.path("stages/ae-train/train_log.jsonl"), encoding: .utf8)
        let validation = try JSONValue.parse(String(try XCTUnwrap(log.split(separator: "\n").last)))
        XCTAssertEqual(validation["step"]?.intValue, 3)
        XCTAssertNotNil(validation["val_f1_by_length"]?["4"]?.doubleValue, String(log))
        let manifest = try JSONValue.read(contentsOf: sandbox.path("stages/ae-train/manifest.json"))
        XCTAssertEqual(manifest["extra"]?["states"]?.stringValue, "encoder")
    }

    private func lethe(_ arguments: [String], in sandbox: Sandbox) throws -> CommandResult {
        try runProduct("lethe", arguments, in: sandbox.url, hashCache: "off")
    }
}
