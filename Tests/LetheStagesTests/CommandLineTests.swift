import Foundation
import LetheTestSupport
import XCTest

/// Numbers on the command line: a negative value is the option's value, refused by the option's own check in one
/// line (exit 64, before any work), not read as an unknown option (ArgumentParser's "Missing value").
final class CommandLineTests: XCTestCase {
    func testNegativeNumbersMeetTheOptionsOwnChecks() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let encode = ["--output", "out", "--input", "in", "--model", "m"]
        let train = ["--output", "out", "--input", "in", "--init", "m"]
        let tokenize = ["--output", "out", "--input", "in.jsonl"]
        let cases: [(String, [String], String)] = [
            ("lethe-encode", encode + ["--batch-size", "-5"], "--batch-size must be at least 1"),
            ("lethe-encode", encode + ["--threads", "-2"], "--threads must be at least 1"),
            ("lethe-encode", encode + ["--shard-index", "-1", "--num-shards", "2"], "--shard-index must be in 0 ..< 2"),
            ("lethe-reconstruct", encode + ["--max-new-tokens", "-1"], "--max-new-tokens must be at least 1"),
            ("lethe-train", train + ["--steps", "-1"], "--steps must be at least 1"),
            ("lethe-train", train + ["--lr", "-1e-3"], "--lr must be a positive number"),
            ("lethe-train", train + ["--weight-decay", "-0.1"], "--weight-decay must not be negative"),
            ("lethe-train", train + ["--warmup", "-3"], "--warmup must not be negative"),
            ("lethe-train", train + ["--clip", "-1"], "--clip must be positive"),
            ("lethe-train", train + ["--activation-budget-mb", "-1"], "--activation-budget-mb must not be negative"),
            ("lethe-train", train + ["--seed", "-1"], "The value '-1' is invalid for '--seed <seed>'"),
            ("lethe-tokenize", tokenize + ["--chunk-size", "8", "--chunk-size", "-4"], "--chunk-size must be at least 1"),
            ("lethe-tokenize", tokenize + ["--skip-documents", "-4"], "--skip-documents must be 0 or more"),
            ("lethe-count", ["--output", "out", "--num-shards", "-2"], "--num-shards must be at least 1"),
            ("lethe-report", ["--output", "out", "--seed", "-3"], "The value '-3' is invalid for '--seed <n>'"),
            ("lethe", ["run", "--jobs", "-1"], "--jobs must be at least 1"),
            ("lethe", ["run", "--executor", "slurm", "--poll", "-1"], "--poll must be more than 0 seconds"),
            ("lethe", ["inspect", "x", "--samples", "-1"], "--samples must be 0 or more"),
        ]
        for (product, arguments, message) in cases {
            let result = try runProduct(product, arguments, in: sandbox.url)
            XCTAssertEqual(result.status, 64, "\(product) \(arguments): \(result.error)")
            XCTAssertTrue(result.error.hasPrefix("Error: \(message)\n"), "\(product) \(arguments): \(result.error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.url.path), [], "a refused command wrote something")
    }
}
