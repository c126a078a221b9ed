import Foundation
import XCTest
import LetheAnalysis
import LethePipeline
import LetheShards
import LetheTestSupport

/// lethe-annotate and lethe-report as processes: what they carry forward, worker splits, reruns, and bad input
/// (one line naming the folder or sample, a non-zero exit, no manifest written).
final class AnnotateReportStageTests: XCTestCase {
    func testAnnotateCarriesSamplesForwardAndAnyWorkerSplitGivesTheSameShards() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        let arguments = fixture.reconstructFolders.flatMap { ["--input", $0] } + ["--counts", "stages/count", "--tokenizer", "data/tokenizer.json"]
        var result = try sandbox.run("lethe-annotate", arguments + ["--output", "stages/annotate"])
        XCTAssertEqual(result.status, 0, result.error)

        let inputs = try fixture.reconstructFolders.flatMap { try sandbox.samples($0) }
        let outputs = try sandbox.samples("stages/annotate")
        XCTAssertEqual(outputs.map(\.key), inputs.map(\.key))
        XCTAssertEqual(try StageFolder(url: sandbox.path("stages/annotate")).manifest()?.shards.count, 3, "one output shard per input shard")
        for (input, output) in zip(inputs, outputs) {
            XCTAssertEqual(output.members.map(\.ext), ["json", "tokens.npy", "surprisal.npy", "recon.npy", "words.json"],
                           "the states are not carried forward, the surprisal is")
            XCTAssertEqual(output.data("tokens.npy"), input.data("tokens.npy"))
            XCTAssertEqual(output.data("surprisal.npy"), input.data("surprisal.npy"))
            XCTAssertEqual(output.data("recon.npy"), input.data("recon.npy"))
            let before = try input.json().objectValue!, after = try output.json().objectValue!
            for (key, value) in before { XCTAssertEqual(after[key], value, "\(input.key): \(key) carried forward") }
            let chunk = try ChunkAnnotation(jsonData: Data(output.data("words.json")!), source: output.key)
            XCTAssertEqual(Set(after.keys).subtracting(before.keys), ["rouge1", "reference_words", "retained_words", "token_fates"])
            XCTAssertEqual(after["rouge1"]?["f1"]?.doubleValue, chunk.rouge1.f1)
            XCTAssertEqual(after["reference_words"]?.intValue, chunk.words.count)
            XCTAssertEqual(after["retained_words"]?.intValue, chunk.words.filter(\.retained).count)
            XCTAssertEqual(after["token_fates"]?["dropped"]?.intValue, chunk.tokenFates.filter { $0 == .dropped }.count)
            XCTAssertEqual(after["token_fates"]?["inserted"]?.intValue, chunk.insertedTokens)
        }
        let extra = try XCTUnwrap(try StageFolder(url: sandbox.path("stages/annotate")).manifest()?.extra)
        XCTAssertEqual(extra["chunks"]?.intValue, inputs.count)

        // Two workers, one after the other, write the same shards; the second writes the manifest.
        for index in 0..<2 {
            result = try sandbox.run("lethe-annotate", arguments + ["--output", "stages/split", "--num-shards", "2", "--shard-index", "\(index)"])
            XCTAssertEqual(result.status, 0, result.error)
        }
        let single = try StageFolder(url: sandbox.path("stages/annotate")).manifest()!.shards
        XCTAssertEqual(try StageFolder(url: sandbox.path("stages/split")).manifest()?.shards, single)

        // Rerun: nothing to do, nothing rewritten.
        result = try sandbox.run("lethe-annotate", arguments + ["--output", "stages/annotate", "--progress", "lines"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.error.contains("up to date"), result.error)
        XCTAssertEqual(try StageFolder(url: sandbox.path("stages/annotate")).manifest()?.shards, single)
    }

    /// Words without tags (`words` chunking on plain text, split at spaces) are not gold words: the reference is
    /// split as nltk.word_tokenize splits it, like the reconstruction, so "world." is two words, both retained.
    func testUntaggedWordsAreSplitAsTheReconstructionIs() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        func sample(_ key: String, labels: JSONValue?) -> ShardSample {
            var sample = ShardSample(key: key)
            sample.set("tokens", npy: NPYArray(int32: [1, 2, 3, 4], shape: [4]))
            sample.set("recon", npy: NPYArray(int32: [1, 2, 3, 4], shape: [4]))
            let plain: [JSONValue] = [["text": "Hello,", "span": [0, 2]], ["text": "world.", "span": [2, 4]]]
            let words = plain.map { word -> JSONValue in
                var word = word
                if let labels { word["labels"] = labels }
                return word
            }
            sample.setJSON(["reference": "Hello, world.", "reconstruction": "Hello, world.", "dataset": "prose", "length": 4,
                            "words": .array(words)])
            return sample
        }
        try writeStageFolder(at: sandbox.path("stages/reconstruct"), name: "reconstruct", executable: "lethe-reconstruct",
                             shards: [[sample("b000000-s000000", labels: nil), sample("b000000-s000001", labels: ["pos": "NN", "ner": "O"])]])
        let result = try sandbox.run("lethe-annotate", ["--input", "stages/reconstruct", "--output", "stages/annotate"])
        XCTAssertEqual(result.status, 0, result.error)
        let chunks = try sandbox.samples("stages/annotate").map { try ChunkAnnotation(jsonData: Data($0.data("words.json")!), source: $0.key) }
        XCTAssertEqual(chunks[0].words.map(\.word), ["Hello", ",", "world", "."])
        XCTAssertEqual(chunks[0].words.map(\.retained), [true, true, true, true])
        XCTAssertEqual(chunks[1].words.map(\.word), ["Hello,", "world."], "tagged words are the gold words")
    }

    func testBadInputFailsWithOneLine() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        let good = fixture.reconstructFolders[0]

        try assertFails(sandbox, "lethe-annotate", ["--input", "stages/nothing"], output: "stages/a1", saying: ["stages/nothing", "no such"])
        try assertFails(sandbox, "lethe-report", ["--input", "stages/nothing"], output: "outputs", saying: ["stages/nothing", "no such"])

        // Output of another stage: refused before any work.
        var tokens = ShardSample(key: "doc0")
        tokens.setJSON(["text": "Hello world", "dataset": "prose"])
        tokens.set("tokens", npy: NPYArray(int32: [12092, 1533], shape: [2]))
        try writeStageFolder(at: sandbox.path("stages/tokenize"), name: "tokenize", executable: "lethe-tokenize", shards: [[tokens]])
        try assertFails(sandbox, "lethe-annotate", ["--input", "stages/tokenize"], output: "stages/a2",
                        saying: ["stages/tokenize: not a reconstruct output", "lethe-tokenize", "recon.npy"])
        try assertFails(sandbox, "lethe-report", ["--input", good], output: "outputs",
                        saying: ["\(good): not an annotate output", "lethe-reconstruct", "words.json"])
        try assertFails(sandbox, "lethe-annotate", ["--input", "stages/count"], output: "stages/a3",
                        saying: ["stages/count: not a reconstruct output", "lethe-count", "has no samples"])

        // A count folder without counts.npy.
        try writeStageFolder(at: sandbox.path("stages/nocounts"), name: "nocounts", executable: "lethe-count", files: ["other.txt": [1]])
        try assertFails(sandbox, "lethe-annotate", ["--input", good, "--counts", "stages/nocounts", "--tokenizer", "data/tokenizer.json"],
                        output: "stages/a4", saying: ["stages/nocounts: the stage output has no file counts.npy"])

        // A sample without its reconstruction text, after good ones: the stage stops, naming shard and key.
        var broken = try ReportFixture.sample(fixture.fixture["inputs"]![0]!["shards"]![0]![0]!)
        var meta = try broken.json()
        meta["reconstruction"] = nil
        broken.setJSON(meta)
        broken.key = "broken7"
        let goodSamples = try sandbox.samples(good)
        try writeStageFolder(at: sandbox.path("stages/badrecon"), name: "badrecon", executable: "lethe-reconstruct",
                             shards: [Array(goodSamples.prefix(3)) + [broken]])
        try assertFails(sandbox, "lethe-annotate", ["--input", "stages/badrecon"], output: "stages/a5",
                        saying: ["shard-000000.tar.zst: sample broken7", "\"reconstruction\""])

        // --counts without --tokenizer is a usage error.
        let usage = try sandbox.run("lethe-annotate", ["--input", good, "--counts", "stages/count", "--output", "stages/a6"])
        XCTAssertNotEqual(usage.status, 0)
        XCTAssertTrue(usage.error.contains("--counts needs --tokenizer"), usage.error)
    }

    /// No chunks at all: empty tables and a report that says so, not a crash.
    func testEmptyReconstructionsGiveAnEmptyReport() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try writeStageFolder(at: sandbox.path("stages/reconstruct"), name: "reconstruct", executable: "lethe-reconstruct")
        var result = try sandbox.run("lethe-annotate", ["--input", "stages/reconstruct", "--output", "stages/annotate"])
        XCTAssertEqual(result.status, 0, result.error)
        result = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs"])
        XCTAssertEqual(result.status, 0, result.error)
        let report = try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains("0 chunks and 0 reference words"), report)
        XCTAssertTrue(report.contains("No annotated chunks.") && report.contains("No chunks."), report)
        XCTAssertTrue(report.contains("No surprisal was stored: run lethe-encode with --surprisal"), report)
        XCTAssertEqual(try String(contentsOf: sandbox.path("outputs/rouge.csv"), encoding: .utf8),
                       "dataset,length,min_length,max_length,n,unscored,precision,recall,f1,f1_low,f1_high\n")
    }

    /// The report's stage chain: found through the manifests, in order, each after what it read; a model's
    /// config.json described.
    func testReportNamesTheRunFromUpstreamManifests() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let fixture = try ReportFixture()
        try fixture.build(in: sandbox)
        var result = try sandbox.run("lethe-annotate", ["--input", fixture.reconstructFolders[1], "--output", "stages/annotate"])
        XCTAssertEqual(result.status, 0, result.error)
        result = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs", "--seed", "3"])
        XCTAssertEqual(result.status, 0, result.error)
        let report = try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
        let stageRows = report.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.contains(" | lethe-") }.map { $0.split(separator: "|")[0] }
        XCTAssertEqual(stageRows.map { $0.trimmingCharacters(in: .whitespaces) },
                       ["tokenize-aave", "tokenize-code", "tokenize-conll", "tokenize-math", "tokenize-pile", "tokenize-prose", "tokenize-sae", "encode", "train",
                        "reconstruct-b", "annotate"])
        XCTAssertTrue(report.contains("**Encoder (frozen):** `models/lethe-small`, Mamba, 4 layers, d_model 128, d_state 16, vocabulary 50280"), report)
        XCTAssertTrue(report.contains("**Decoder:** `stages/train/final`, Mamba, 4 layers"), report)
        XCTAssertTrue(report.contains("**Pretraining counts:** none"), report)
        XCTAssertTrue(report.contains("No pretraining counts were given"), report)
        XCTAssertTrue(report.contains("seed 3"), report)
        XCTAssertTrue(report.contains("whatever the reconstruction, an exact copy included: code 2."), report)
        // Without counts the frequency table has its header only.
        XCTAssertEqual(try String(contentsOf: sandbox.path("outputs/frequency.csv"), encoding: .utf8),
                       "level,bin,count_low,count_high,n,omitted,rate,low,high,spearman_rho,spearman_p\n")
        // A rebuilt upstream stage is flagged.
        try writeStageFolder(at: sandbox.path("stages/encode"), name: "encode", executable: "lethe-encode", samples: 1)
        result = try sandbox.run("lethe-report", ["--input", "stages/annotate", "--output", "outputs", "--seed", "4", "--force"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(try String(contentsOf: sandbox.path("outputs/report.md"), encoding: .utf8)
            .contains("| encode (its manifest changed after it was read downstream) |"))
    }
}
