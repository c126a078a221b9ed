import ArgumentParser
import CBLAS
import Dispatch
import Foundation
import LetheModel

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokens/s encoding chunks to their final Mamba cache (no logits), as `lethe-encode` does.",
        discussion: """
        The checkpoint is the one Benchmarks/baselines/encode.py creates (mamba-130m architecture, random \
        weights by transformers). Also measures the machine's sgemm peak, the load time and the peak memory.
        """)

    @Option(help: "Checkpoint folder (Hugging Face layout).")
    var model = ".build/bench-cache/mamba-130m-random"
    @Option(help: "Number of chunks.") var chunks = 64
    @Option(help: "Tokens per chunk.") var length = 64
    @Option(help: "Chunks per batch (a forward pass of up to 8,192 tokens: longer batches run in segments, as lethe-encode's).") var batchSize = 64
    @Option(help: "Worker threads.") var threads = 2
    @Option(help: "Timed repetitions; the best is reported.") var repeats = 2
    @OptionGroup var kernels: KernelChoice
    @OptionGroup var limit: SgemmLimitChoice

    func run() throws {
        BLASCore.useTheCPUsKernels()
        LetheThreads.set(threads)
        try kernels.apply()
        let before = limit.peakBefore(threads: threads)

        let loadStart = DispatchTime.now()
        let mamba = try MambaModel.load(from: URL(fileURLWithPath: model))
        let loadSeconds = elapsed(since: loadStart)
        let c = mamba.config

        var random = SystemRandomNumberGenerator()
        let tokens = (0..<chunks * length).map { _ in Int32.random(in: 0..<Int32(c.vocabSize), using: &random) }
        // The encode stage's own path: ChunkEncoder (its activations reused from batch to batch).
        let encoder = ChunkEncoder(model: mamba)
        let sequences = (0..<chunks).map { Array(tokens[$0 * length ..< ($0 + 1) * length]) }
        func encodeAll() throws {
            var start = 0
            while start < chunks {
                let b = min(batchSize, chunks - start)
                _ = try encoder.finalCache(Array(sequences[start ..< start + b]), length: length)
                start += b
            }
        }
        try encodeAll()  // warm-up: page in the weights and activations
        var times: [Double] = []
        try profiled {
            for _ in 0..<repeats {
                let t = DispatchTime.now()
                try encodeAll()
                times.append(elapsed(since: t))
            }
        }
        let best = times.min()!
        // Matrix-product work per token: the layers' products without what the cache does not need, the last
        // layer's out_proj (skipped) and the z half of its in_proj (computed, for its bits: LayerExtent.state).
        let (h, di) = (Double(c.hiddenSize), Double(c.intermediateSize))
        let flopsPerToken = layerMatmulFlops(c) - 2 * di * h - 2 * h * di
        printJSON([
            "area": "encode", "impl": "lethe", "blas_core": BLASCore.current, "kernels": vectorPath.rawValue, "chunks": chunks, "length": length, "batch_size": batchSize,
            "threads": threads, "parameters": mamba.layout.count, "seconds": best, "all_seconds": times,
            "tokens_per_s": Double(chunks * length) / best, "load_seconds": loadSeconds, "max_rss_mb": maxRSSMegabytes(),
        ].merging(matmulShare(flops: flopsPerToken * Double(chunks * length), seconds: best, threads: threads,
                              peakBefore: before)) { $1 })
    }
}

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Milliseconds of each forward kernel for one mamba-130m layer over a batch, as encoding runs them (a profile of encode).")

    @Option(help: "Tokens in the batch (B·L).") var tokens = 4096
    @Option(help: "Sequence length L.") var length = 64
    @Option(help: "Worker threads.") var threads = 2

    func run() throws {
        BLASCore.useTheCPUsKernels()
        LetheThreads.set(threads)
        let (m, h, di, n, k, r) = (tokens, 768, 1536, 16, 4, 48)
        let b = m / length
        var random = SystemRandomNumberGenerator()
        func buffer(_ count: Int, _ scale: Float = 1) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = Float.random(in: -scale...scale, using: &random) }
            return p
        }
        let x = buffer(m * h), normed = buffer(m * h), xz = buffer(m * 2 * di), gated = buffer(m * di)
        let u = buffer(m * di), xProj = buffer(m * (r + 2 * n)), dt = buffer(m * di), y = buffer(m * di)
        let inProj = buffer(2 * di * h, 0.05), convW = buffer(di * k), bias = buffer(di), xProjW = buffer((r + 2 * n) * di, 0.05)
        let dtW = buffer(di * r, 0.1), aLog = buffer(di * n), d = buffer(di), outProj = buffer(h * di, 0.05), w = buffer(h)
        let convState = buffer(b * di * k), ssmState = buffer(b * di * n)
        // Wall time, and the process's CPU time (user + system), which other load on the machine inflates less.
        func time(_ name: String, _ body: () -> Void) {
            body()
            var best = Double.infinity, bestCPU = Double.infinity
            for _ in 0..<3 {
                let t = DispatchTime.now(), cpu = cpuSeconds()
                body()
                best = min(best, elapsed(since: t))
                bestCPU = min(bestCPU, cpuSeconds() - cpu)
            }
            print("{\"area\": \"kernels\", \"kernel\": \"\(name)\", \"ms\": \(best * 1000), \"cpu_ms\": \(bestCPU * 1000)}")
        }
        time("rmsnorm") { rmsNormForward(out: normed, rstd: nil, input: x, weight: w, rows: m, width: h, epsilon: 1e-5) }
        time("in_proj") {
            linearForward(out: xz, outStride: 2 * di, input: normed, inputStride: h, weight: inProj, rows: m,
                          inFeatures: h, outFeatures: 2 * di)
        }
        // The conv with its SiLU, and the scan with its gate, as encoding runs them: no backward to keep tensors for.
        time("conv1d+silu") {
            causalConv1dSiLUForward(out: nil, activated: u, input: xz, inputStride: 2 * di, weight: convW, bias: bias,
                                    state: convState, stateStride: di * k, batch: b, length: length, channels: di, kernel: k)
        }
        time("x_proj") {
            linearForward(out: xProj, outStride: r + 2 * n, input: u, inputStride: di, weight: xProjW, rows: m,
                          inFeatures: di, outFeatures: r + 2 * n)
        }
        time("dt_proj") {
            linearForward(out: dt, outStride: di, input: xProj, inputStride: r + 2 * n, weight: dtW, rows: m,
                          inFeatures: r, outFeatures: di)
        }
        let fastest = vectorPath
        for path in [fastest] + VectorPath.allCases.filter({ $0.isAvailable && $0 != fastest }) {
            vectorPath = path
            time("scan+gate-\(path.rawValue)") {
                selectiveScanForward(y: y, u: u, dt: dt, dtBias: bias, bc: xProj + r, bcStride: r + 2 * n, aLog: aLog, d: d,
                                     state: ssmState, stateStride: di * n, batch: b, length: length, channels: di, stateSize: n,
                                     gate: ScanGate(z: xz + di, zStride: 2 * di, out: gated, keepsScanOutput: false))
            }
        }
        vectorPath = fastest
        time("out_proj") {
            linearForward(out: x, outStride: h, input: gated, inputStride: di, weight: outProj, rows: m, inFeatures: di,
                          outFeatures: h, accumulate: true)
        }
    }
}

/// CPU time of this process so far, user + system.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

/// Peak resident memory of this process (getrusage's ru_maxrss, kilobytes on Linux).
func maxRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
