// lethe-bench: timings of Lethe's hot paths, one subcommand per area, one JSON line per measurement.
// Benchmarks/run.py runs these beside the Python baselines in Benchmarks/baselines/ and prints the ratios.

import ArgumentParser
import Foundation
import LetheAnalysis
import LetheModel
import LetheShards
import LetheText

@main
struct LetheBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-bench",
        abstract: "Time Lethe's hot paths; prints one JSON line per measurement.",
        subcommands: [Analysis.self, ShardsBench.self, TokenizerBench.self, CorpusBench.self, TokenizeStageBench.self,
                      CountBench.self, AnnotateBench.self, Encode.self, Kernels.self, Reconstruct.self, Train.self])
}

/// `--kernels`: which vector kernels the model benchmarks run, to compare them side by side.
struct KernelChoice: ParsableArguments {
    @Option(help: "The vector kernels to run: \(VectorPath.allCases.map(\.rawValue).joined(separator: ", ")) (default: the widest this CPU runs), to compare them side by side.")
    var kernels: VectorPath?

    /// Makes them the kernels every model kernel runs; refuses ones this CPU does not have.
    func apply() throws {
        guard let kernels else { return }
        guard kernels.isAvailable else { throw ValidationError("this CPU does not run the \(kernels.rawValue) kernels") }
        vectorPath = kernels
    }
}

extension VectorPath: ExpressibleByArgument {}

/// Wall-clock seconds since `start`.
func elapsed(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// Runs `body` with `perf record`'s events on, when Benchmarks/profile.py runs this process: it starts perf with its
/// events off and names perf's control FIFO and its acknowledgement FIFO in LETHE_PERF_CONTROL and LETHE_PERF_ACK,
/// so that a profile holds the timed work only, not the loading, the random initialisation, the first touches of
/// new memory or the warm-up. Without them, just runs `body`.
func profiled<T>(_ body: () throws -> T) rethrows -> T {
    perfControl("enable")
    defer { perfControl("disable") }
    return try body()
}

/// Sends perf one control command and waits for its acknowledgement. The control FIFO is opened without waiting:
/// when no perf holds it (it ended, or the variables are stale) the open fails and nothing is sent.
private func perfControl(_ command: String) {
    let environment = ProcessInfo.processInfo.environment
    guard let control = environment["LETHE_PERF_CONTROL"], let ack = environment["LETHE_PERF_ACK"] else { return }
    let commands = open(control, O_WRONLY | O_NONBLOCK)
    guard commands >= 0 else { return }
    defer { close(commands) }
    let line = Array((command + "\n").utf8)
    guard write(commands, line, line.count) == line.count, let answers = FileHandle(forReadingAtPath: ack) else { return }
    _ = answers.readData(ofLength: 4)  // "ack\n"
    try? answers.close()
}

/// Prints one JSON line with sorted keys.
func printJSON(_ object: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
}

/// Runs `body` `repeats` times and returns the fastest wall-clock time in seconds.
func fastest(_ repeats: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

/// One measurement; `check` (e.g. a count of what was processed) must equal the Python baseline's.
func report(_ area: String, _ name: String, items: Int, seconds: Double, check: String? = nil) {
    var line: [String: Any] = ["area": area, "name": name, "items": items, "seconds": seconds,
                               "items_per_second": Double(items) / seconds]
    if let check { line["check"] = check }
    let data = try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

struct Analysis: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Word tokenizer (nltk.word_tokenize), ROUGE-1, t-tests and Spearman on the GSM8K test set.")

    @Option(help: "The GSM8K test file (JSON lines with question and answer).")
    var gsm8k = "data/gsm8k/test.jsonl"

    @Option(help: "Repetitions; the fastest is reported.")
    var repeats = 3

    func run() throws {
        let lines = try String(contentsOfFile: gsm8k, encoding: .utf8).split(separator: "\n")
        let texts: [String] = try lines.flatMap { line -> [String] in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                  let q = object["question"], let a = object["answer"] else {
                throw ValidationError("\(gsm8k): a line without question and answer")
            }
            return [q, a]
        }
        let tokenizer = WordTokenizer()
        var words = 0
        let tokenizeSeconds = fastest(repeats) { words = texts.reduce(0) { $0 + tokenizer.tokenize($1).count } }
        report("analysis", "word_tokenize", items: texts.count, seconds: tokenizeSeconds)

        let pairs = stride(from: 0, to: texts.count - 1, by: 2).map { (texts[$0], texts[$0 + 1]) }
        var total = 0.0
        let rougeSeconds = fastest(repeats) { total = pairs.reduce(0) { $0 + Rouge.rouge1(reference: $1.0, prediction: $1.1).f1 } }
        report("analysis", "rouge1", items: pairs.count, seconds: rougeSeconds)

        // Binary retained flags of 200,000 words in two categories, and ranks over all of them.
        var rng = SplitMix64(seed: 1)
        let a = (0..<100_000).map { _ in Double(rng.next() % 10 < 3 ? 1 : 0) }
        let b = (0..<100_000).map { _ in Double(rng.next() % 10 < 4 ? 1 : 0) }
        let frequencies = (0..<200_000).map { _ in Double(rng.next() % 1_000_000) }
        var p = 0.0
        let ttestSeconds = fastest(repeats) { p = twoSampleTTest(a, b).pValue }
        report("analysis", "ttest_ind_200k", items: 1, seconds: ttestSeconds)
        let spearmanSeconds = fastest(repeats) { p += spearman(frequencies, a + b).pValue }
        report("analysis", "spearman_200k", items: 1, seconds: spearmanSeconds)
        FileHandle.standardError.write(Data("checksums: words \(words) f1 \(total) p \(p)\n".utf8))
    }
}
