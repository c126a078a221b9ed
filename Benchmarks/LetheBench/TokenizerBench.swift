import ArgumentParser
import Foundation
import LetheCorpus
import LetheTokenizer

/// Encode speed of the GPT-NeoX tokenizer on the same texts as Benchmarks/baselines/tokenizer.py (the
/// `tokenizers` package): GSM8K test questions + answers and CoNLL-2003 train documents (words joined by single
/// spaces). "check" is an FNV-1a hash of every id in order, so the two must produce the same ids.
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode MB/s on one thread (first pass and warm), on all cores, and tokenizer.json load time.")

    @Option(help: "The tokenizer.json to load.")
    var tokenizer = "data/tokenizer/gpt-neox-20b-tokenizer.json"

    @Option(help: "Timed passes over all texts after the first; the fastest is reported.")
    var passes = 5

    func run() throws {
        let texts = try benchmarkTexts()
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        let megabytes = Double(bytes) / 1e6

        var start = DispatchTime.now()
        let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: self.tokenizer))
        let load = elapsed(since: start)

        // The first pass meets every word for the first time (the word cache is empty).
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var tokens = 0
        start = DispatchTime.now()
        let encoded = texts.map { tokenizer.encode($0) }
        let firstPass = elapsed(since: start)
        for ids in encoded {
            tokens += ids.count
            for id in ids { hash = (hash ^ UInt64(UInt32(bitPattern: id))) &* 0x100_0000_01B3 }
        }
        let check = String(hash, radix: 16)

        var warm = Double.infinity
        for _ in 0..<passes {
            start = DispatchTime.now()
            var count = 0
            for text in texts { count += tokenizer.encode(text).count }
            warm = min(warm, elapsed(since: start))
            guard count == tokens else { throw ValidationError("encoding is not deterministic") }
        }

        // All cores, as the tokenize stage runs: texts dealt out to one worker per core.
        let threads = ProcessInfo.processInfo.activeProcessorCount
        var parallel = Double.infinity
        for _ in 0..<passes {
            start = DispatchTime.now()
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for index in stride(from: worker, to: texts.count, by: threads) { _ = tokenizer.encode(texts[index]) }
            }
            parallel = min(parallel, elapsed(since: start))
        }

        for (name, seconds) in [("encode 1 thread", warm), ("encode first pass", firstPass),
                                ("encode all cores", parallel)] {
            printJSON(["area": "tokenizer", "name": name, "seconds": seconds, "mb_per_s": megabytes / seconds,
                       "check": check, "bytes": bytes, "tokens": tokens, "texts": texts.count, "threads": threads])
        }
        printJSON(["area": "tokenizer", "name": "load tokenizer.json", "seconds": load])
    }

    private func benchmarkTexts() throws -> [String] {
        struct Problem: Decodable { var question: String; var answer: String }
        let lines = try Data(contentsOf: URL(fileURLWithPath: "data/gsm8k/test.jsonl")).split(separator: UInt8(ascii: "\n"))
        var texts = try lines.map { line -> String in
            let problem = try JSONDecoder().decode(Problem.self, from: Data(line))
            return problem.question + "\n" + problem.answer
        }
        let conll = try DocumentReader(path: "data/conll2003/eng.train")
        while let document = try conll.next() { texts.append(document.text) }
        return texts
    }
}

/// Reading speed of JSONL documents, as Benchmarks/baselines/corpus.py reads them with Python's json module.
struct CorpusBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "JSONL reading MB/s: the GSM8K test file read 10 times, \"question\" as the text field.")

    @Option(help: "Timed passes; the fastest is reported.")
    var passes = 3

    func run() throws {
        let path = "data/gsm8k/test.jsonl"
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        var best = Double.infinity
        var documents = 0, textBytes = 0
        for _ in 0..<passes {
            documents = 0
            textBytes = 0
            let start = DispatchTime.now()
            for _ in 0..<10 {
                let reader = try DocumentReader(path: path, options: ReadOptions(textField: "question"))
                while let document = try reader.next() {
                    documents += 1
                    textBytes += document.text.utf8.count
                }
            }
            best = min(best, elapsed(since: start))
        }
        printJSON(["area": "corpus", "name": "read jsonl", "seconds": best, "mb_per_s": Double(10 * size) / 1e6 / best,
                   "check": "\(documents) documents, \(textBytes) text bytes"])
    }
}

func elapsed(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

func printJSON(_ object: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
}
