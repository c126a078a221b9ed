import ArgumentParser
import Crypto
import Foundation
import LetheCorpus
import LetheCount
import LetheShards
import LetheTokenizer

/// Counting speed of the count stage's `CorpusCounter` against Benchmarks/baselines/count.py (the `tokenizers`
/// package's encode_batch on the same number of threads + numpy bincount) on the same two Pile-style files:
/// a .jsonl (GSM8K test, CoNLL-2003 train) and a .jsonl.zst (Python docs and standard library), 5.3 MB of text in
/// four subsets. "check" is the sha256 of the int64 counts, overall then per subset by name: both must agree.
struct CountBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count",
        abstract: "Token counting MB/s (text bytes) on all cores, overall and per subset, with and without words.")

    @Option(help: "Folder of the benchmark corpus (made from data/ when missing).")
    var corpus = ".build/bench-count"

    @Option(help: "Threads (the baseline uses the same: RAYON_NUM_THREADS).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Timed passes; the fastest is reported.")
    var passes = 3

    @Flag(name: .customLong("prepare-only"), help: "Only make the corpus (the baseline calls this when it is missing).")
    var prepareOnly = false

    func run() throws {
        let files = try BenchCorpus.make(in: corpus)
        if prepareOnly { return }
        let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: "data/tokenizer/gpt-neox-20b-tokenizer.json"))
        let field = try SubsetField("meta.pile_set_name")

        for words in [false, true] {
            let counter = CorpusCounter(tokenizer: tokenizer,
                                        settings: CountSettings(threads: threads, subsetField: field, countWords: words))
            var merge = CountMerge(vocabularySize: tokenizer.vocabularySize, countWords: words)
            var best = Double.infinity
            for _ in 0..<(words ? 1 : passes) {
                merge = CountMerge(vocabularySize: tokenizer.vocabularySize, countWords: words)
                let start = DispatchTime.now()
                for file in files { try merge.add(try counter.count(file: file)) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
            var digest = SHA256()
            for table in [merge.overall] + merge.sortedSubsets {
                table.counts.withUnsafeBytes { digest.update(bufferPointer: $0) }
            }
            let check = digest.finalize().map { String(format: "%02x", $0) }.joined()
            let line: [String: Any] = [
                "area": "count", "name": words ? "count + words" : "count tokens", "seconds": best,
                "mb_per_s": Double(merge.overall.bytes) / 1e6 / best, "check": check, "bytes": merge.overall.bytes,
                "documents": merge.overall.documents, "tokens": merge.overall.tokens, "threads": threads,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

/// The benchmark corpus, made from the repository's data/ (deterministic, so Swift and Python read the same bytes).
enum BenchCorpus {
    static func make(in folder: String) throws -> [String] {
        let plain = folder + "/pile-a.jsonl", compressed = folder + "/pile-b.jsonl.zst"
        if FileManager.default.fileExists(atPath: plain) && FileManager.default.fileExists(atPath: compressed) {
            return [plain, compressed]
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        var first: [UInt8] = []
        struct Problem: Decodable { var question: String; var answer: String }
        for line in try Data(contentsOf: URL(fileURLWithPath: "data/gsm8k/test.jsonl")).split(separator: UInt8(ascii: "\n")) {
            let problem = try JSONDecoder().decode(Problem.self, from: Data(line))
            first += pileLine(problem.question + "\n" + problem.answer, subset: "GSM8K")
        }
        let conll = try DocumentReader(path: "data/conll2003/eng.train")
        while let document = try conll.next() { first += pileLine(document.text, subset: "CoNLL-2003") }

        var second: [UInt8] = []
        for (path, subset) in [("data/prose/python-docs.jsonl", "Python docs"), ("data/code/python-stdlib.jsonl", "Python stdlib")] {
            let reader = try DocumentReader(path: path)
            while let document = try reader.next() { second += pileLine(document.text, subset: subset) }
        }
        try DurableFile.write(first, to: URL(fileURLWithPath: plain))
        let zstd = Process()
        zstd.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zstd.arguments = ["zstd", "-q", "-f", "-3", "-o", compressed + ".tmp", "-"]
        let input = Pipe()
        zstd.standardInput = input
        try zstd.run()
        input.fileHandleForWriting.write(Data(second))
        try input.fileHandleForWriting.close()
        zstd.waitUntilExit()
        guard zstd.terminationStatus == 0 else { throw ValidationError("zstd failed making \(compressed)") }
        try DurableFile.rename(from: compressed + ".tmp", to: compressed)
        return [plain, compressed]
    }

    private static func pileLine(_ text: String, subset: String) -> [UInt8] {
        let row: JSONValue = ["text": .string(text), "meta": ["pile_set_name": .string(subset)]]
        return row.bytes() + [UInt8(ascii: "\n")]
    }
}
