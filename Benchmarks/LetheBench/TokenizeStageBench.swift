import ArgumentParser
import Foundation
import LetheShards

/// The lethe-tokenize stage end to end, as a pipeline runs it (a process: load the tokenizer, read JSONL, tokenize,
/// cut fixed chunks, write durable tar.zst shards with KEY.tokens.npy + KEY.json), against the same stage written
/// plainly in Python (Benchmarks/baselines/tokenize_stage.py). Input: the shipped Python documentation and standard
/// library modules, three times over (9.3 MB, 435 documents); 64-token chunks, 50 documents per shard.
/// "check" counts the samples and hashes every token id in shard order (FNV-1a), so both must write the same ids.
struct TokenizeStageBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize_stage",
        abstract: "lethe-tokenize end to end (a process), on one thread and on all cores.")

    static let inputs = Array(repeating: ["data/prose/python-docs.jsonl", "data/code/python-stdlib.jsonl"], count: 3).flatMap { $0 }

    @Option(help: "Timed runs of each measurement; the fastest is reported.")
    var passes = 3

    func run() throws {
        let stage = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("lethe-tokenize")
        let bytes = try Self.inputs.reduce(0) { $0 + (try FileManager.default.attributesOfItem(atPath: $1)[.size] as! Int) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for (name, threads) in [("stage 1 thread", 1), ("stage all cores", cores)] {
            var best = Double.infinity
            var check = ""
            for _ in 0..<passes {
                let output = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-tokenize-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: output) }
                let process = Process()
                process.executableURL = stage
                process.arguments = Self.inputs.flatMap { ["--input", $0] } + [
                    "--output", output.path, "--chunking", "fixed", "--chunk-size", "64", "--documents-per-shard", "50",
                    "--threads", "\(threads)", "--progress", "off",
                ]
                process.environment = ProcessInfo.processInfo.environment.merging(["LETHE_HASH_CACHE": "off"]) { $1 }
                let start = DispatchTime.now()
                try process.run()
                process.waitUntilExit()
                best = min(best, elapsed(since: start))
                guard process.terminationStatus == 0 else { throw ValidationError("lethe-tokenize failed") }
                check = try Self.check(output)
            }
            printJSON(["area": "tokenize", "name": name, "seconds": best, "mb_per_s": Double(bytes) / 1e6 / best,
                       "check": check, "threads": threads])
        }
    }

    /// "N samples, fnv1a HASH" over the shards in order.
    static func check(_ folder: URL) throws -> String {
        let shards = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tar.zst") }.sorted()
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var samples = 0
        for shard in shards {
            try ShardReader.forEach(folder.appendingPathComponent(shard)) { sample in
                samples += 1
                for id in try sample.npy("tokens").int32s() { hash = (hash ^ UInt64(UInt32(bitPattern: id))) &* 0x100_0000_01B3 }
            }
        }
        return "\(samples) samples, fnv1a \(String(hash, radix: 16))"
    }
}
