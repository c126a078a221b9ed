import CLetheKernels
import Foundation
import LetheModel

/// The L2 norm of a whole gradient buffer. Each fixed block of 64 Ki floats is summed in double precision, then
/// the blocks in order: the result depends on neither the thread count nor the machine. (torch sums per tensor
/// in float32, then takes the norm of the norms; the two agree to float32 rounding.) On CPUs with AVX2 a C kernel
/// adds in the same order four blocks at a time (the same bits; the loop below waits on each sum it adds to).
public func globalGradientNorm(_ gradients: UnsafePointer<Float>, count: Int) -> Double {
    let blocks = reductionBlocks(count: count)
    var partial = [Double](repeating: 0, count: blocks.count)
    partial.withUnsafeMutableBufferPointer { sums in
        let sums = sums.baseAddress!
        LetheThreads.parallelFor(blocks.count) { range in
            if vectorPath != .swiftSIMD {
                lethe_block_sums_of_squares_avx2(gradients, count, reductionBlockSize, range.lowerBound, range.upperBound, sums)
                return
            }
            for block in range {
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = blocks[block].lowerBound
                let end = blocks[block].upperBound
                while i + 4 <= end {
                    let a = Double(gradients[i]), b = Double(gradients[i + 1])
                    let c = Double(gradients[i + 2]), d = Double(gradients[i + 3])
                    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
                    i += 4
                }
                while i < end { s0 += Double(gradients[i]) * Double(gradients[i]); i += 1 }
                sums[block] = (s0 + s1) + (s2 + s3)
            }
        }
    }
    return partial.reduce(0, +).squareRoot()
}

/// torch.nn.utils.clip_grad_norm_(parameters, max_norm): scales the gradients by
/// min(1, max_norm / (total_norm + 1e-6)) and returns total_norm (the norm before clipping).
@discardableResult
public func clipGradientsByGlobalNorm(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
    let norm = globalGradientNorm(gradients, count: count)
    let coefficient = clipCoefficient(norm: norm, maxNorm: maxNorm)
    if coefficient < 1 {
        let blocks = reductionBlocks(count: count)
        LetheThreads.parallelFor(blocks.count) { range in
            for block in range {
                for i in blocks[block] { gradients[i] *= coefficient }
            }
        }
    }
    return norm
}

/// clip_coef = max_norm / (total_norm + 1e-6); clip_coef_clamped = torch.clamp(clip_coef, max=1.0), in float32
/// as torch computes it. The gradients are multiplied by it (AdamW.update does so as it reads them).
public func clipCoefficient(norm: Double, maxNorm: Double) -> Float {
    min(1, Float(maxNorm) / (Float(norm) + 1e-6))
}

/// Floats per slice of `reductionBlocks` (64 Ki).
let reductionBlockSize = 1 << 16

/// Fixed-size slices of a buffer for data-parallel loops: the same slicing on every machine and thread count,
/// so reductions are bit-reproducible.
func reductionBlocks(count: Int, size: Int = reductionBlockSize) -> [Range<Int>] {
    stride(from: 0, to: count, by: size).map { $0 ..< min($0 + size, count) }
}
