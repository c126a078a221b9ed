import CBLAS

// Linear layer without bias, over all tokens at once. Shapes: input (M, K) with row stride `inputStride`,
// weight (N, K) as PyTorch stores it, out (M, N) with row stride `outStride`.

/// How `linearForward` cuts a product among the workers of `LetheThreads`.
public enum ProductSplit: Sendable {
    /// Blocks from the shape alone, never from the number of workers, so that `--threads` changes no bit of the
    /// output (encoding and decoding where they fall back to OpenBLAS): on OpenBLAS's Haswell kernels a dot
    /// product's rounding depends on the shape of the call computing it (README, Performance).
    case byShape
    /// One block per worker, of rows or of columns, whichever packs less: fewer and larger calls. For training,
    /// whose backward products are split among the workers too (its bytes are the same for the same `--threads`).
    case byWorkers
}

/// PyTorch: `F.linear(input, weight)` i.e. `out = input @ weight.T`   (in_proj, x_proj, dt_proj, out_proj,
/// lm_head). With `accumulate`, `out += input @ weight.T` (the residual add after out_proj).
///
/// cblas_sgemm on blocks of rows or on blocks of output columns, the blocks shared out among the workers of
/// `LetheThreads`; each sgemm runs single-threaded inside OpenBLAS. Every call packs (copies into its own
/// layout) the whole weight when blocks are rows, the whole input when blocks are columns: the split that
/// copies less is taken, rows for a batch of tokens through a layer, columns for one token per sequence (the
/// recurrent step) and for the lm_head; with `.byWorkers`, columns whenever there are more output features than
/// rows (training's small batches).
///
/// `.byShape` (the default): the blocks depend on the shape only, never on the number of workers, so `--threads`
/// does not change a bit of the output. Column blocks are at least 64 wide.
public func linearForward(out: UnsafeMutablePointer<Float>, outStride: Int,
                          input: UnsafePointer<Float>, inputStride: Int, weight: UnsafePointer<Float>,
                          rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false,
                          split: ProductSplit = .byShape) {
    guard rows > 0, outFeatures > 0 else { return }
    LetheThreads.prepareBLAS()
    let beta: Float = accumulate ? 1 : 0
    let rowBlocks: Int, columnBlocks: Int, splitRows: Bool
    switch split {
    case .byShape:
        // 128 to 512 rows per row block, 8 blocks or more when there are enough rows; up to 16 column blocks.
        rowBlocks = max((rows + 511) / 512, min(8, rows / 128))
        columnBlocks = max(1, min(16, outFeatures / 64))
        splitRows = rowBlocks > 1 && (columnBlocks == 1 || rowBlocks * outFeatures + rows < columnBlocks * rows + outFeatures)
    case .byWorkers:
        // Rows: each worker packs the whole weight; columns: the whole input. Blocks of 16 rows or 64 columns at least.
        let workers = LetheThreads.count
        rowBlocks = max(1, min(workers, rows / 16))
        columnBlocks = max(1, min(workers, outFeatures / 64))
        splitRows = columnBlocks == 1 || (rowBlocks > 1 && rows > outFeatures)
    }
    if splitRows {
        LetheThreads.parallelFor(rowBlocks) { range in
            for b in range {
                let r = rows * b / rowBlocks, count = rows * (b + 1) / rowBlocks - r
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(outFeatures),
                            Int32(inFeatures), 1, input + r * inputStride, Int32(inputStride),
                            weight, Int32(inFeatures), beta, out + r * outStride, Int32(outStride))
            }
        }
    } else {
        LetheThreads.parallelFor(columnBlocks) { range in
            for b in range {
                let c = outFeatures * b / columnBlocks, count = outFeatures * (b + 1) / columnBlocks - c
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(count),
                            Int32(inFeatures), 1, input, Int32(inputStride), weight + c * inFeatures,
                            Int32(inFeatures), beta, out + c, Int32(outStride))
            }
        }
    }
}

/// Naive reference of `linearForward` (sums in Double).
public func linearForwardReference(out: UnsafeMutablePointer<Float>, outStride: Int,
                                   input: UnsafePointer<Float>, inputStride: Int, weight: UnsafePointer<Float>,
                                   rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
    for m in 0..<rows {
        for n in 0..<outFeatures {
            var sum = 0.0
            for k in 0..<inFeatures { sum += Double(input[m * inputStride + k]) * Double(weight[n * inFeatures + k]) }
            let o = out + m * outStride + n
            o.pointee = accumulate ? Float(Double(o.pointee) + sum) : Float(sum)
        }
    }
}

/// Backward of `linearForward` (out = input @ weight.T), PyTorch's two matrix products of F.linear's backward:
///   dInput  = dOut @ weight            (M, K)  written, or added with `accumulateInput`; skipped when nil
///   dWeight += dOut.T @ input          (N, K)  accumulated
/// Each product is split over the workers of `LetheThreads` into blocks of rows of its result, every block a
/// single-threaded sgemm over the whole reduction, so no two workers add into the same element.
public func linearBackward(dInput: UnsafeMutablePointer<Float>?, dInputStride: Int, accumulateInput: Bool = false,
                           dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, dOutStride: Int,
                           input: UnsafePointer<Float>, inputStride: Int, weight: UnsafePointer<Float>,
                           rows: Int, inFeatures: Int, outFeatures: Int) {
    guard rows > 0, inFeatures > 0, outFeatures > 0 else { return }
    LetheThreads.prepareBLAS()
    if let dInput {
        let beta: Float = accumulateInput ? 1 : 0
        // Blocks of rows pack the whole weight each, blocks of columns the whole dOut: the one that packs less.
        if rows >= inFeatures || inFeatures < 128 {
            LetheThreads.parallelFor(rows) { r in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(r.count), Int32(inFeatures),
                            Int32(outFeatures), 1, dOut + r.lowerBound * dOutStride, Int32(dOutStride),
                            weight, Int32(inFeatures), beta, dInput + r.lowerBound * dInputStride, Int32(dInputStride))
            }
        } else {
            let blocks = inFeatures / 64  // of 64 columns, the last one taking the columns past a multiple of 64
            LetheThreads.parallelFor(blocks) { range in
                let k = range.lowerBound * 64, end = range.upperBound == blocks ? inFeatures : range.upperBound * 64
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(end - k),
                            Int32(outFeatures), 1, dOut, Int32(dOutStride),
                            weight + k, Int32(inFeatures), beta, dInput + k, Int32(dInputStride))
            }
        }
    }
    // dWeight's rows are output features; when there are few (x_proj), split its columns instead.
    if outFeatures >= inFeatures {
        LetheThreads.parallelFor(outFeatures) { n in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n.count), Int32(inFeatures), Int32(rows),
                        1, dOut + n.lowerBound, Int32(dOutStride), input, Int32(inputStride),
                        1, dWeight + n.lowerBound * inFeatures, Int32(inFeatures))
        }
    } else {
        LetheThreads.parallelFor(inFeatures) { k in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outFeatures), Int32(k.count), Int32(rows),
                        1, dOut, Int32(dOutStride), input + k.lowerBound, Int32(inputStride),
                        1, dWeight + k.lowerBound, Int32(inFeatures))
        }
    }
}

/// Naive reference of `linearBackward` (sums in Double).
public func linearBackwardReference(dInput: UnsafeMutablePointer<Float>?, dInputStride: Int,
                                    accumulateInput: Bool = false, dWeight: UnsafeMutablePointer<Float>,
                                    dOut: UnsafePointer<Float>, dOutStride: Int, input: UnsafePointer<Float>,
                                    inputStride: Int, weight: UnsafePointer<Float>,
                                    rows: Int, inFeatures: Int, outFeatures: Int) {
    if let dInput {
        for m in 0..<rows {
            for k in 0..<inFeatures {
                var sum = 0.0
                for n in 0..<outFeatures { sum += Double(dOut[m * dOutStride + n]) * Double(weight[n * inFeatures + k]) }
                let o = dInput + m * dInputStride + k
                o.pointee = accumulateInput ? Float(Double(o.pointee) + sum) : Float(sum)
            }
        }
    }
    for n in 0..<outFeatures {
        for k in 0..<inFeatures {
            var sum = 0.0
            for m in 0..<rows { sum += Double(dOut[m * dOutStride + n]) * Double(input[m * inputStride + k]) }
            dWeight[n * inFeatures + k] = Float(Double(dWeight[n * inFeatures + k]) + sum)
        }
    }
}
