import CBLAS
import CLetheKernels

// Linear layers of a frozen model (encoding, greedy decoding) on weights copied once into the layout the product
// reads, instead of OpenBLAS, which copies ("packs") the weight again in every call: at the 64 rows of a decoding
// step that copy costs a third of the product, and OpenBLAS's sgemm reached 200–207 of the 233 GFLOPS that the
// development machine's two cores multiply-add at (Benchmarks/fma_peak.c) where this kernel reaches 220–228
// (README, Performance). A model being trained keeps `linearForward`: its weights change every step.

/// A weight (N, K) as PyTorch stores it, copied into panels of `LETHE_PANEL_WIDTH` (32) output features: panel p
/// holds, k by k, the 32 floats W[32p + j][k] (zeros past N), so that a product streams through one panel's rows
/// while the input rows' accumulators stay in registers. Costs the weight's size in memory, on CPUs that run the C
/// kernels (AVX2 or AVX-512); elsewhere nothing is copied and the products are OpenBLAS's on the weight as given.
public final class PackedWeight: @unchecked Sendable {
    public let outFeatures, inFeatures: Int
    /// The weight as given, for the Swift SIMD path (no C kernels: OpenBLAS multiplies it).
    let weight: UnsafePointer<Float>
    let panels: FloatBuffer

    static let panelWidth = Int(LETHE_PANEL_WIDTH)

    /// Packs `weight` (outFeatures, inFeatures), which must stay valid and unchanged while this lives.
    public init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) {
        self.weight = weight
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        let width = Self.panelWidth, count = (outFeatures + width - 1) / width
        // On the CPU's capability, not on the path chosen now: tests switch paths while a weight is packed.
        let packs = VectorPath.avx2.isAvailable
        panels = FloatBuffer(count: packs ? count * inFeatures * width : 0)
        guard packs else { return }
        let panels = self.panels.pointer
        LetheThreads.parallelFor(count) { range in
            for p in range {
                let panel = panels + p * inFeatures * width
                for j in 0..<min(width, outFeatures - p * width) {
                    let row = weight + (p * width + j) * inFeatures
                    for k in 0..<inFeatures { panel[k * width + j] = row[k] }
                }
            }
        }
    }
}

/// Whether `packedLinearForward` runs the C kernels, whose outputs round alike whatever the rows and columns
/// computed with them: on CPUs with AVX2 or AVX-512. Elsewhere (and on the Swift SIMD path that tests and
/// benchmarks can choose) it runs OpenBLAS, which rounds by the shape of the call.
public var packedProductsRoundAlike: Bool { vectorPath != .swiftSIMD }  // vectorPath is one this CPU runs

/// PyTorch: `F.linear(input, weight)` i.e. `out = input @ weight.T` (with `accumulate`, `out += input @ weight.T`)
/// on a packed weight, for the output features `columns` (all by default; a range must start at a multiple of 32):
/// out (rows, columns.count) with row stride `outStride`, its first column feature `columns.lowerBound`.
///
/// Each output is one chain of fused multiply-adds over the K inputs in order, then written or added: its bits do
/// not depend on the number of workers, on how rows and columns are grouped, nor on AVX2 against AVX-512. Blocks
/// of 256 rows (their inputs stay in the core's cache while the panels stream past) are shared out among the
/// workers; with fewer blocks than workers, the panels are. `splitAmongWorkers` false: all on the calling thread
/// (a caller already inside a parallel loop).
public func packedLinearForward(out: UnsafeMutablePointer<Float>, outStride: Int, input: UnsafePointer<Float>,
                                inputStride: Int, weight: PackedWeight, rows: Int, columns: Range<Int>? = nil,
                                accumulate: Bool = false, splitAmongWorkers: Bool = true) {
    let columns = columns ?? 0..<weight.outFeatures
    let width = PackedWeight.panelWidth
    precondition(columns.lowerBound % width == 0 && columns.upperBound <= weight.outFeatures,
                 "packedLinearForward: columns \(columns) of \(weight.outFeatures) must start at a multiple of \(width)")
    guard rows > 0, !columns.isEmpty else { return }
    guard packedProductsRoundAlike, let kernel = vectorPath.cKernel(avx512: lethe_packed_linear_avx512, avx2: lethe_packed_linear_avx2) else {
        // The Swift SIMD path: OpenBLAS on the weight as given (its own bits).
        let w = weight.weight + columns.lowerBound * weight.inFeatures
        if splitAmongWorkers {
            linearForward(out: out, outStride: outStride, input: input, inputStride: inputStride, weight: w, rows: rows,
                          inFeatures: weight.inFeatures, outFeatures: columns.count, accumulate: accumulate)
        } else {
            LetheThreads.prepareBLAS()
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns.count), Int32(weight.inFeatures),
                        1, input, Int32(inputStride), w, Int32(weight.inFeatures), accumulate ? 1 : 0, out, Int32(outStride))
        }
        return
    }
    let firstPanel = columns.lowerBound / width, panelCount = (columns.count + width - 1) / width
    let rowBlock = Int(LETHE_PACKED_MAX_ROWS), rowBlocks = (rows + rowBlock - 1) / rowBlock
    func block(_ b: Int, panels: Range<Int>) {
        let r = b * rowBlock, count = min(rowBlock, rows - r)
        kernel(out + r * outStride + (panels.lowerBound - firstPanel) * width, outStride, input + r * inputStride,
               inputStride, weight.panels.pointer, weight.inFeatures, count, panels.lowerBound, panels.upperBound,
               columns.upperBound, accumulate ? 1 : 0)
    }
    let allPanels = firstPanel ..< firstPanel + panelCount
    if !splitAmongWorkers {
        for b in 0..<rowBlocks { block(b, panels: allPanels) }
    } else if rowBlocks >= LetheThreads.count {
        LetheThreads.parallelFor(rowBlocks) { range in for b in range { block(b, panels: allPanels) } }
    } else {
        LetheThreads.parallelFor(panelCount) { range in
            for b in 0..<rowBlocks { block(b, panels: firstPanel + range.lowerBound ..< firstPanel + range.upperBound) }
        }
    }
}

/// The matrix-product weights of a model that will not change while they are used (the frozen encoder, a decoder
/// while it decodes), packed for `packedLinearForward`: every layer's in_proj, x_proj, dt_proj and out_proj
/// (Mamba-2: in_proj and out_proj), and with `lmHead` the lm_head. Copies of the weights as they are now: a model
/// trained afterwards needs new ones.
public final class PackedMambaWeights: @unchecked Sendable {
    public struct Layer: Sendable {
        public let inProj, outProj: PackedWeight
        /// Mamba-1 only.
        public let xProj, dtProj: PackedWeight?
    }

    public let layers: [Layer]
    public let lmHead: PackedWeight?

    public init(_ model: MambaModel, lmHead: Bool) {
        let c = model.config
        layers = model.weights.layers.map { w in
            Layer(inProj: PackedWeight(w.inProj, outFeatures: c.inProjSize, inFeatures: c.hiddenSize),
                  outProj: PackedWeight(w.outProj, outFeatures: c.hiddenSize, inFeatures: c.intermediateSize),
                  xProj: c.isMamba2 ? nil : PackedWeight(w.xProj, outFeatures: c.xProjSize, inFeatures: c.intermediateSize),
                  dtProj: c.isMamba2 ? nil : PackedWeight(w.dtProjWeight, outFeatures: c.intermediateSize, inFeatures: c.timeStepRank))
        }
        self.lmHead = lmHead ? PackedWeight(model.weights.lmHead, outFeatures: c.vocabSize, inFeatures: c.hiddenSize) : nil
    }
}
