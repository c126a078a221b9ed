import ArgumentParser
import Foundation
import LetheCorpus
import LetheTokenizer

/// `lethe-bench AREA ...`: one subcommand per area, each printing one JSON object per line with its figures.
/// Benchmarks/run.py runs these beside the Python baselines and prints the ratios (`make bench`).
@main
struct LetheBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-bench",
        abstract: "Lethe's benchmarks; each prints JSON lines. Run `make bench` to compare them with Python.",
        subcommands: [TokenizerBench.self, CorpusBench.self])
}

struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Single-thread encode speed (MB of UTF-8 per second) on a JSON array of texts.")

    @Option(help: "A JSON file holding an array of strings (Benchmarks/run.py writes one from data/).")
    var texts: String

    @Option(help: "The tokenizer.json to load.")
    var tokenizer = "data/tokenizer/gpt-neox-20b-tokenizer.json"

    @Option(help: "Timed passes over all texts after one warm-up pass; the fastest is reported.")
    var passes = 5

    func run() throws {
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: self.texts)))
        let loadStart = DispatchTime.now()
        let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: self.tokenizer))
        let loadSeconds = seconds(since: loadStart)
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }

        var tokens = 0
        let coldStart = DispatchTime.now()
        for text in texts { tokens += tokenizer.encode(text).count }
        let coldSeconds = seconds(since: coldStart)
        var best = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now()
            var count = 0
            for text in texts { count += tokenizer.encode(text).count }
            best = min(best, seconds(since: start))
            precondition(count == tokens, "encoding is not deterministic")
        }
        // All cores, as the tokenize stage runs: texts handed out to worker threads.
        let threads = ProcessInfo.processInfo.activeProcessorCount
        var bestParallel = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now()
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for index in stride(from: worker, to: texts.count, by: threads) { _ = tokenizer.encode(texts[index]) }
            }
            bestParallel = min(bestParallel, seconds(since: start))
        }
        let megabytes = Double(bytes) / 1e6
        print(json(["area": "tokenizer", "name": "encode 1 thread (warm)", "implementation": "lethe",
                    "mb_per_s": megabytes / best, "seconds": best, "bytes": bytes, "texts": texts.count, "tokens": tokens]))
        print(json(["area": "tokenizer", "name": "encode 1 thread (first pass)", "implementation": "lethe",
                    "mb_per_s": megabytes / coldSeconds, "seconds": coldSeconds, "bytes": bytes, "texts": texts.count,
                    "tokens": tokens]))
        print(json(["area": "tokenizer", "name": "encode all cores (warm)", "implementation": "lethe \(threads) threads",
                    "mb_per_s": megabytes / bestParallel, "seconds": bestParallel, "bytes": bytes, "texts": texts.count,
                    "tokens": tokens]))
        print(json(["area": "tokenizer", "name": "load tokenizer.json", "implementation": "lethe",
                    "seconds": loadSeconds]))
    }
}

struct CorpusBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Document reading speed (MB of file per second): JSONL parsed line by line, text field decoded.")

    @Option(help: "The .jsonl (or .jsonl.zst) file to read.")
    var input: String

    @Option(help: "Timed passes over the file; the fastest is reported.")
    var passes = 3

    func run() throws {
        let size = try FileManager.default.attributesOfItem(atPath: input)[.size] as! Int
        var best = Double.infinity
        var documents = 0, characters = 0
        for _ in 0..<passes {
            let start = DispatchTime.now()
            let reader = try DocumentReader(path: input)
            documents = 0
            characters = 0
            while let document = try reader.next() {
                documents += 1
                characters += document.text.utf8.count
            }
            best = min(best, seconds(since: start))
        }
        print(json(["area": "corpus", "name": "read \(URL(fileURLWithPath: input).lastPathComponent)",
                    "implementation": "lethe", "mb_per_s": Double(size) / 1e6 / best, "seconds": best,
                    "documents": documents, "text_bytes": characters]))
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

func json(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}
