import ArgumentParser
import Foundation
import LetheAnalysis
import LetheShards
import LetheText

/// What lethe-annotate does per chunk (both texts split as nltk.word_tokenize, retention, word classes, the
/// edit-distance alignment of token ids, ROUGE-1) on the report fixture's reconstructions, against the same
/// steps in Python (Benchmarks/baselines/annotate.py). Both report the number of retained words as "check".
struct AnnotateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Annotate the report fixture's chunks (chunks per second).")

    @Option(help: "reconstructions.json made by Tests/Fixtures/report/make_report_fixtures.py.")
    var fixture = "Tests/Fixtures/report/reconstructions.json"

    @Option(help: "How many times the fixture's chunks are annotated per pass.")
    var copies = 20

    @Option(help: "Passes; the fastest is reported.")
    var repeats = 3

    func run() throws {
        let value = try JSONValue.read(contentsOf: URL(fileURLWithPath: fixture))
        var chunks: [ChunkInput] = []
        for input in value["inputs"]?.arrayValue ?? [] {
            for shard in input["shards"]?.arrayValue ?? [] {
                for sample in shard.arrayValue ?? [] { chunks.append(try Self.chunk(sample)) }
            }
        }
        let all = Array(repeating: chunks, count: copies).flatMap { $0 }
        let tokenizer = WordTokenizer()
        var retained = 0
        let seconds = fastest(repeats) {
            retained = all.reduce(0) { $0 + annotateChunk($1, tokenizer: tokenizer).words.filter(\.retained).count }
        }
        report("annotate", "annotate_chunk", items: all.count, seconds: seconds, check: String(retained))
    }

    static func chunk(_ sample: JSONValue) throws -> ChunkInput {
        let meta = sample["json"] ?? .null
        guard let reference = meta["reference"]?.stringValue, let reconstruction = meta["reconstruction"]?.stringValue,
              let tokens = sample["tokens"]?.arrayValue, let recon = sample["recon"]?.arrayValue else {
            throw ValidationError("reconstructions.json: a sample without reference, reconstruction, tokens or recon")
        }
        let dataset = meta["metadata"]?["meta"]?["pile_set_name"]?.stringValue ?? meta["dataset"]?.stringValue ?? ""
        let gold = meta["words"]?.arrayValue?.map {
            GoldWord(word: $0["text"]?.stringValue ?? "", posTag: $0["labels"]?["pos"]?.stringValue, nerTag: $0["labels"]?["ner"]?.stringValue)
        }
        return ChunkInput(dataset: dataset, referenceTokenIDs: tokens.map { Int32($0.intValue ?? 0) },
                          reconstructionTokenIDs: recon.map { Int32($0.intValue ?? 0) }, referenceText: reference,
                          reconstructionText: reconstruction, goldWords: gold,
                          isMath: dataset.lowercased().contains("math") || dataset.lowercased() == "gsm8k")
    }
}
