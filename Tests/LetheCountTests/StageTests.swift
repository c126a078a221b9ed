import Foundation
import LetheShards
import XCTest
@testable import LetheCount
import LetheTestSupport

/// The lethe-count executable: final outputs against the fixture oracles, a split over workers, resume after
/// SIGKILL, and bad input.
final class StageTests: XCTestCase {
    /// Runs the stage over the fixture inputs into `output`, with words; 8 threads count two files at once.
    func countFixtures(in sandbox: Sandbox, output: String = "count", threads: Int = 8, extra: [String] = []) throws -> CommandResult {
        try runCount(["--input", Repository.inputs.path, "--tokenizer", Repository.tokenizerPath, "--words",
                      "--output", output, "--threads", "\(threads)", "--progress", "off"] + extra, in: sandbox.url)
    }

    func testOutputsAreTheTokenizersPackageAndNLTKCounts() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let result = try countFixtures(in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        let folder = sandbox.path("count").path
        let expected = Expected.shared

        let all = expected.total()
        try assertCounts(folder + "/counts.npy", all.counts, "counts.npy")

        let index = try JSONValue.read(contentsOf: URL(fileURLWithPath: folder + "/subsets.json"))
        XCTAssertEqual(index["field"], "meta.pile_set_name")
        let subsets = index["subsets"]!.arrayValue!
        XCTAssertEqual(subsets.map { $0["name"]!.stringValue! }, ["DM Mathematics", "Gutenberg (PG-19)", "Pile-CC"])
        XCTAssertEqual(subsets.map { $0["file"]!.stringValue! },
                       ["subsets/DM_Mathematics.npy", "subsets/Gutenberg_PG-19.npy", "subsets/Pile-CC.npy"])
        for entry in subsets {
            let want = expected.total(subset: entry["name"]!.stringValue!)
            XCTAssertEqual(entry["documents"]?.intValue, want.documents)
            XCTAssertEqual(entry["tokens"]?.intValue, want.tokens)
            XCTAssertEqual(entry["bytes"]?.intValue, want.bytes)
            try assertCounts(folder + "/" + entry["file"]!.stringValue!, want.counts, entry["name"]!.stringValue!)
        }
        let without = expected.total(subset: .some(nil))
        XCTAssertEqual(index["without_subset"], ["documents": .int(without.documents), "tokens": .int(without.tokens),
                                                  "bytes": .int(without.bytes)])

        let words = try Data(contentsOf: URL(fileURLWithPath: folder + "/words.tsv"))
        XCTAssertEqual(Array(words), WordCountTable.tsv(expected.wordsByCount.map { (word: $0.0, count: $0.1) }))

        let manifest = try JSONValue.read(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
        let extra = manifest["extra"]!
        XCTAssertEqual(extra["documents"]?.intValue, all.documents)
        XCTAssertEqual(extra["tokens"]?.intValue, all.tokens)
        XCTAssertEqual(extra["bytes"]?.intValue, all.bytes)
        XCTAssertEqual(extra["files"]?.intValue, 4)
        XCTAssertEqual(extra["vocabulary_size"]?.intValue, 50277)
        XCTAssertEqual(extra["subsets"], index["subsets"])
        XCTAssertEqual(extra["words"]?["total"]?.intValue, expected.wordsByCount.reduce(0) { $0 + $1.1 })
        XCTAssertEqual(extra["words"]?["distinct"]?.intValue, expected.wordsByCount.count)
        XCTAssertEqual(extra["skipped_lines"]?.intValue, 0)
        XCTAssertEqual(Set(manifest["files"]!.arrayValue!.map { $0["name"]!.stringValue! }),
                       ["counts.npy", "subsets.json", "words.tsv", "subsets/DM_Mathematics.npy",
                        "subsets/Gutenberg_PG-19.npy", "subsets/Pile-CC.npy"])

        let again = try countFixtures(in: sandbox, extra: ["--progress", "lines"])
        XCTAssertEqual(again.status, 0, again.error)
        XCTAssertTrue(again.error.contains("up to date"), again.error)
    }

    /// An int64 .npy of one count per token id, equal to `expected`; differences are listed by id.
    func assertCounts(_ path: String, _ expected: [Int64], _ label: String, line: UInt = #line) throws {
        let array = try NPYArray.read(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(array.dtype, .int64, label, line: line)
        XCTAssertEqual(array.shape, [expected.count], label, line: line)
        let counts = try array.int64s()
        let differing = counts.indices.filter { counts[$0] != expected[$0] }.map { "id \($0): \(counts[$0]) != \(expected[$0])" }
        XCTAssertEqual(differing, [], "\(label): counts that differ", line: line)
    }

    func testThreeWorkersGiveTheSameOutputAsOne() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let single = try countFixtures(in: sandbox, output: "single", threads: 2)
        XCTAssertEqual(single.status, 0, single.error)
        // Three workers at once, as cluster tasks would run; whichever finishes last merges.
        let workers = try (0..<3).map { index in
            try startCount(["--input", Repository.inputs.path, "--tokenizer", Repository.tokenizerPath, "--words",
                            "--output", "split", "--threads", "1", "--progress", "off",
                            "--shard-index", "\(index)", "--num-shards", "3"], in: sandbox.url, log: "worker\(index).txt")
        }
        for worker in workers {
            worker.waitUntilExit()
            XCTAssertEqual(worker.terminationStatus, 0)
        }
        let digests = try outputDigests(sandbox.path("split").path)
        XCTAssertEqual(digests.count, 4 + 6)  // 4 unit shards; counts, 3 subsets, subsets.json, words.tsv
        XCTAssertEqual(digests, try outputDigests(sandbox.path("single").path))
        let manifest = try JSONValue.read(contentsOf: URL(fileURLWithPath: sandbox.path("split/manifest.json").path))
        let reference = try JSONValue.read(contentsOf: URL(fileURLWithPath: sandbox.path("single/manifest.json").path))
        XCTAssertEqual(manifest["extra"], reference["extra"])
    }

    /// Eight files of about 3 MB each; the run is killed once the first is counted and resumed.
    func testKilledRunResumesAtTheFirstUnfinishedFileWithIdenticalCounts() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let gsm8k = try Data(contentsOf: Repository.root.appendingPathComponent("data/gsm8k/test.jsonl"))
        let problems = gsm8k.split(separator: UInt8(ascii: "\n"))
        for file in 0..<8 {
            var lines: [UInt8] = []
            for (index, line) in problems.enumerated() {
                let object = try JSONValue.parse(Array(line))
                let text = object["question"]!.stringValue! + "\n" + object["answer"]!.stringValue! + " \(file)"
                let row: JSONValue = ["text": .string(text), "meta": ["pile_set_name": .string("S\((index + file) % 4)")]]
                lines += row.bytes() + [UInt8(ascii: "\n")]
            }
            try sandbox.write("corpus/part\(file).jsonl", Array([[UInt8]](repeating: lines, count: 4).joined()))
        }
        let arguments = ["--input", "corpus", "--tokenizer", Repository.tokenizerPath, "--threads", "2", "--progress", "off"]
        let whole = try runCount(arguments + ["--output", "whole"], in: sandbox.url)
        XCTAssertEqual(whole.status, 0, whole.error)

        let victim = try startCount(arguments + ["--output", "resumed"], in: sandbox.url)
        let firstRecord = sandbox.path("resumed/shard-000000.json").path
        while victim.isRunning && !FileManager.default.fileExists(atPath: firstRecord) { usleep(1_000) }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal, "the run ended before it could be killed")
        let done = (0..<8).filter { FileManager.default.fileExists(atPath: sandbox.path("resumed/shard-00000\($0).json").path) }
        XCTAssertGreaterThanOrEqual(done.count, 1)
        XCTAssertLessThan(done.count, 8)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("resumed/manifest.json").path))
        let kept = try done.map { try FileManager.default.attributesOfItem(atPath: sandbox.path("resumed/shard-00000\($0).tar.zst").path)[.systemFileNumber] as! Int }

        let resumed = try runCount(arguments + ["--output", "resumed", "--progress", "lines"], in: sandbox.url)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.error.contains("\(8 - done.count) of 8 units to do (\(done.count) already done"), resumed.error)
        let after = try done.map { try FileManager.default.attributesOfItem(atPath: sandbox.path("resumed/shard-00000\($0).tar.zst").path)[.systemFileNumber] as! Int }
        XCTAssertEqual(after, kept, "finished files were counted again")
        XCTAssertEqual(try outputDigests(sandbox.path("resumed").path), try outputDigests(sandbox.path("whole").path))
    }

    // MARK: Bad input

    func testBadLineStopsWithFileAndLineOrIsSkippedAndCounted() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("in/a.jsonl", Array("{\"text\": \"fine\"}\n{\"text\": \"fine too\"}\n{\"text\": 3}\n{\"text\": \"last\"}\n".utf8))
        let failed = try runCount(["--input", "in", "--tokenizer", Repository.tokenizerPath, "--output", "out"], in: sandbox.url)
        XCTAssertEqual(failed.status, 1)
        XCTAssertEqual(failed.error.split(separator: "\n").filter { $0.hasPrefix("lethe-count:") },
                       ["lethe-count: in/a.jsonl:3: field \"text\" is not a string"], failed.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("out/manifest.json").path))

        let skipped = try runCount(["--input", "in", "--tokenizer", Repository.tokenizerPath, "--output", "skipping", "--skip-bad"],
                                   in: sandbox.url)
        XCTAssertEqual(skipped.status, 0, skipped.error)
        let extra = try JSONValue.read(contentsOf: URL(fileURLWithPath: sandbox.path("skipping/manifest.json").path))["extra"]!
        XCTAssertEqual(extra["skipped_lines"], 1)
        XCTAssertEqual(extra["skipped_examples"], ["in/a.jsonl:3: field \"text\" is not a string"])
        XCTAssertEqual(extra["documents"], 3)
    }

    func testTruncatedZstdStopsWithFileAndLineOrIsSkippedAndCounted() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let whole = try Data(contentsOf: URL(fileURLWithPath: Repository.input("gsm8k-pile.jsonl.zst")))
        try sandbox.write("in/cut.jsonl.zst", Array(whole.prefix(whole.count * 3 / 4)))
        let failed = try runCount(["--input", "in/cut.jsonl.zst", "--tokenizer", Repository.tokenizerPath, "--output", "out"],
                                  in: sandbox.url)
        XCTAssertEqual(failed.status, 1)
        let messages = failed.error.split(separator: "\n").filter { $0.hasPrefix("lethe-count:") }
        XCTAssertEqual(messages.count, 1, failed.error)
        XCTAssertTrue(messages.first?.hasPrefix("lethe-count: in/cut.jsonl.zst:151: zstd") == true, failed.error)
        XCTAssertTrue(messages.first?.contains("truncated") == true, failed.error)

        let skipped = try runCount(["--input", "in/cut.jsonl.zst", "--tokenizer", Repository.tokenizerPath, "--output", "skipping",
                                    "--skip-bad"], in: sandbox.url)
        XCTAssertEqual(skipped.status, 0, skipped.error)
        let extra = try JSONValue.read(contentsOf: URL(fileURLWithPath: sandbox.path("skipping/manifest.json").path))["extra"]!
        XCTAssertEqual(extra["skipped_lines"], 1)
        XCTAssertEqual(extra["documents"], 150)
    }

    func testMissingInputAndMissingTokenizerAreOneLine() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let missing = try runCount(["--input", "nowhere.jsonl", "--tokenizer", Repository.tokenizerPath, "--output", "out"],
                                   in: sandbox.url)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.error.hasSuffix("nowhere.jsonl: no such file or folder (input --input)\n"), missing.error)
        try sandbox.write("a.txt", Array("some text\n".utf8))
        let noTokenizer = try runCount(["--input", "a.txt", "--tokenizer", "nowhere/tokenizer.json", "--output", "out"], in: sandbox.url)
        XCTAssertEqual(noTokenizer.status, 1)
        let lines = noTokenizer.error.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, noTokenizer.error)
        XCTAssertTrue(lines.last?.hasPrefix("lethe-count: ") == true && lines.last?.contains("nowhere/tokenizer.json") == true, noTokenizer.error)
    }
}
