import ArgumentParser
import CBLAS
import Dispatch
import LetheModel

// The matrix-product limit of a measurement: its matrix products' FLOPs against the best sgemm this machine
// runs in the same process, measured before and after the timed work (a shared machine's load comes and goes).

/// The best GFLOPS of a large sgemm (3072 × 768 weight, 4096 rows, as in_proj on a 64 × 64 batch) on
/// `threads` cores, both ways Lethe could run it: OpenBLAS's own threads, and one single-threaded sgemm
/// per worker on a block of rows (what Lethe does).
func sgemmPeak(threads: Int) -> (openblasThreads: Double, split: Double) {
    let (m, n, k) = (4096, 3072, 768)
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: n * k)
    var c = [Float](repeating: 0, count: m * n)
    let flops = 2 * Double(m) * Double(n) * Double(k)
    var best = 0.0
    openblas_set_num_threads(Int32(threads))
    for _ in 0..<3 {
        let t = DispatchTime.now()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b,
                    Int32(k), 0, &c, Int32(n))
        best = max(best, flops / elapsed(since: t) / 1e9)
    }
    let openblasThreads = best
    best = 0
    LetheThreads.restoreSingleThreadedBLAS()
    for _ in 0..<3 {
        let t = DispatchTime.now()
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    linearForward(out: c.baseAddress!, outStride: n, input: a.baseAddress!, inputStride: k,
                                  weight: b.baseAddress!, rows: m, inFeatures: k, outFeatures: n)
                }
            }
        }
        best = max(best, flops / elapsed(since: t) / 1e9)
    }
    return (openblasThreads, best)
}

/// Forward matrix-product FLOPs per token of every layer of `c`: in_proj, x_proj, dt_proj and out_proj.
func layerMatmulFlops(_ c: MambaConfig) -> Double {
    let (h, di, r) = (Double(c.hiddenSize), Double(c.intermediateSize), Double(c.timeStepRank))
    // Mamba-2: in_proj (to z | xBC | dt) and out_proj only
    if c.isMamba2 { return Double(c.numLayers) * 2 * (h * Double(c.inProjSize) + di * h) }
    return Double(c.numLayers) * 2 * (h * 2 * di + di * Double(c.xProjSize) + r * di + di * h)
}

/// Forward FLOPs per token of the output layer (hidden @ lm_head.T over the vocabulary).
func outputLayerFlops(_ c: MambaConfig) -> Double { 2 * Double(c.hiddenSize) * Double(c.vocabSize) }

/// Whether a model benchmark measures the sgemm peak (before and after its timed work) and its share of it.
struct SgemmLimitChoice: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Measure the machine's sgemm peak before and after the timed work and report the share of it (--no-sgemm-limit: the work alone, for a profile).")
    var sgemmLimit = true

    /// The peak before the timed work, or nil when it is not measured.
    func peakBefore(threads: Int) -> (openblasThreads: Double, split: Double)? {
        sgemmLimit ? sgemmPeak(threads: threads) : nil
    }
}

/// The JSON fields of a measurement's share of the matrix-product limit: `flops` of matrix products done in
/// `seconds`, against the sgemm peak measured before (`peakBefore`) and now; none without `peakBefore`.
/// "limit_tokens_per_s" follows from "tokens_per_s" / "fraction_of_sgemm_peak".
func matmulShare(flops: Double, seconds: Double, threads: Int,
                 peakBefore: (openblasThreads: Double, split: Double)?) -> [String: Any] {
    guard let peakBefore else { return [:] }
    let after = sgemmPeak(threads: threads)
    let openblasThreads = max(peakBefore.openblasThreads, after.openblasThreads)
    let split = max(peakBefore.split, after.split)
    let peak = max(openblasThreads, split), gflops = flops / seconds / 1e9
    return ["matmul_gflops": gflops, "sgemm_peak_gflops": peak, "sgemm_openblas_threads_gflops": openblasThreads,
            "sgemm_split_gflops": split, "fraction_of_sgemm_peak": gflops / peak]
}
