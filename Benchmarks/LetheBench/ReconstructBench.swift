import ArgumentParser
import Dispatch
import Foundation
import LetheModel

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstructed tokens/s: greedy decoding from each chunk's encoder cache, as `lethe-reconstruct` does.",
        discussion: """
        The checkpoint (Benchmarks/baselines/encode.py creates it: mamba-130m architecture, random weights) is both \
        the encoder and the decoder. The chunks are the same as the baseline's (a fixed formula); they are encoded \
        first (not timed), then every chunk is decoded from its cache: first input eos, argmax, until eos or \
        length + 8 tokens. Tokens counted: every decoder step (a stopping eos included). Its matrix-product limit: \
        each step's products (the layers' and the output layer's, forward) against the sgemm peak of the same run.
        """)

    @Option(help: "Checkpoint folder (Hugging Face layout).")
    var model = ".build/bench-cache/mamba-130m-random"
    @Option(help: "Number of chunks.") var chunks = 64
    @Option(help: "Tokens per chunk.") var length = 64
    @Option(help: "Chunks decoded together.") var batchSize = 64
    @Option(help: "Worker threads.") var threads = 2
    @Option(help: "Timed repetitions; the best is reported.") var repeats = 2
    @OptionGroup var limit: SgemmLimitChoice

    func run() throws {
        BLASCore.useTheCPUsKernels()
        LetheThreads.set(threads)
        let peakBefore = limit.peakBefore(threads: threads)
        let mamba = try MambaModel.load(from: URL(fileURLWithPath: model))
        let c = mamba.config
        // The baseline's chunks: token t of chunk i.
        let tokens = (0..<chunks).flatMap { i in (0..<length).map { t in Int32((i * 131 + t * 7919) % (c.vocabSize - 1) + 1) } }
        let cache = MambaCache(config: c, batchSize: chunks)
        try mamba.forward(tokens: tokens, batchSize: chunks, cache: cache)
        let requests = (0..<chunks).map {
            DecodingRequest(ssm: cache.ssmState(sequence: $0), conv: cache.convState(sequence: $0), maxNewTokens: length + 8)
        }
        let decoder = try GreedyDecoder(model: mamba, batchSize: batchSize)
        var results: [DecodedSequence] = []
        var times: [Double] = []
        try profiled {
            for _ in 0..<repeats {
                let start = DispatchTime.now()
                results = try decoder.decode(requests)
                times.append(elapsed(since: start))
            }
        }
        let steps = results.reduce(0) { $0 + $1.tokens.count + ($1.stop == .eos ? 1 : 0) }
        let best = times.min()!
        printJSON([
            "area": "reconstruct", "impl": "lethe", "blas_core": BLASCore.current, "chunks": chunks, "length": length, "batch_size": batchSize,
            "threads": threads, "seconds": best, "all_seconds": times, "tokens": steps, "tokens_per_s": Double(steps) / best,
            "check": "\(steps) tokens",
            "stopped_at_eos": results.filter { $0.stop == .eos }.count, "max_rss_mb": maxRSSMegabytes(),
        ].merging(matmulShare(flops: (layerMatmulFlops(c) + outputLayerFlops(c)) * Double(steps), seconds: best,
                              threads: threads, peakBefore: peakBefore)) { $1 })
    }
}
