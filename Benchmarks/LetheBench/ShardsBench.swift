import ArgumentParser
import Crypto
import Foundation
import LetheShards

/// Shard write and read throughput on encoder-like samples: int32 tokens, a float16 state with random
/// mantissas (compresses about as badly as real states) and JSON metadata. The bytes are the same as
/// Benchmarks/baselines/shards.py makes; both report their sha256 as "check".
struct ShardsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Write and read one shard of encoder-like samples (MB of .npy/.json payload per second).")

    @Option(help: "Folder for the shard (default: a temporary folder, removed afterwards).")
    var folder: String?

    @Option(help: "Samples in the shard.")
    var samples = 400

    @Option(help: "Passes; the fastest is reported.")
    var passes = 3

    func run() throws {
        let directory = folder.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if folder == nil { try? FileManager.default.removeItem(at: directory) } }
        let url = directory.appendingPathComponent(ShardName.file(0))
        let made = (0..<samples).map(benchmarkSample)
        let payload = made.reduce(0) { $0 + $1.members.reduce(0) { $0 + $1.data.count } }
        var hasher = SHA256()
        for sample in made { for member in sample.members { hasher.update(data: member.data) } }
        let payloadSHA = hasher.finalize().hexString

        var bestWrite = Double.infinity, bestRead = Double.infinity
        var record: ShardRecord?
        for _ in 0..<passes {
            var start = DispatchTime.now()
            let writer = try ShardWriter(url: url)
            for sample in made { try writer.append(sample) }
            record = try writer.finish()
            bestWrite = min(bestWrite, seconds(since: start))

            // Timed: decode every member as a stage would (.npy arrays, JSON metadata).
            start = DispatchTime.now()
            var count = 0
            let reader = try ShardReader(url: url)
            while let sample = try reader.next() {
                _ = try sample.npy("tokens")
                _ = try sample.npy("state")
                _ = try sample.json()
                count += 1
            }
            bestRead = min(bestRead, seconds(since: start))
            guard count == samples else { throw ShardError("read \(count) samples, wrote \(samples)") }
        }
        // Untimed: the bytes read back are the bytes written.
        var readHasher = SHA256()
        try ShardReader.forEach(url) { sample in for member in sample.members { readHasher.update(data: member.data) } }
        guard readHasher.finalize().hexString == payloadSHA else { throw ShardError("read back differs") }
        let megabytes = Double(payload) / 1e6
        for (name, time) in [("write shard", bestWrite), ("read shard", bestRead)] {
            printJSON(["area": "shards", "name": name, "seconds": time, "mb_per_s": megabytes / time, "check": payloadSHA,
                       "payload_bytes": payload, "shard_bytes": record!.bytes, "samples": samples])
        }
    }
}

/// Sample i: tokens (i*7 + t) % 50277 for t < 64, a float16 [4, 1536, 16] state whose bits are
/// 0x3C00 | (h >> 22) with h = (i*2654435761 + j*40503) mod 2^32 (values in [1, 2)), and its metadata.
private func benchmarkSample(_ i: Int) -> ShardSample {
    var sample = ShardSample(key: String(format: "sample%06d", i))
    sample.setJSON(["dataset": "bench", "document": .int(i), "length": 64])
    sample.set("tokens", npy: NPYArray(int32: (0..<64).map { Int32((i * 7 + $0) % 50277) }, shape: [64]))
    let count = 4 * 1536 * 16
    var bits = [UInt8](repeating: 0, count: 2 * count)
    for j in 0..<count {
        let h = UInt32(truncatingIfNeeded: i &* 2_654_435_761 &+ j &* 40503)
        let half = UInt16(0x3C00) | UInt16(h >> 22)
        bits[2 * j] = UInt8(half & 0xFF)
        bits[2 * j + 1] = UInt8(half >> 8)
    }
    sample.set("state", npy: try! NPYArray(dtype: .float16, shape: [4, 1536, 16], bytes: bits))
    return sample
}
