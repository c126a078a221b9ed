import Foundation

// Cross-entropy of next-token predictions, fused with its backward. Shapes: logits (M, V); targets (M), where
// a negative target marks a row that predicts nothing (the last position of each sequence).

/// PyTorch: `F.cross_entropy(logits, labels, reduction="mean")` (CrossEntropyLoss), forward and backward:
///   loss_m   = logsumexp(logits[m]) - logits[m, target_m]
///   dLogits  = (softmax(logits[m]) - onehot(target_m)) · scale      (scale = 1 / number of predicted rows)
/// Overwrites `logits` with dLogits (zero on rows without a target) and writes loss_m to `losses` (0 there).
public func crossEntropyForwardBackward(logits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>,
                                        targets: UnsafePointer<Int32>, rows: Int, vocab: Int, scale: Float) {
    LetheThreads.parallelFor(rows) { range in
        for m in range {
            let row = logits + m * vocab
            let target = Int(targets[m])
            guard target >= 0 else {
                row.update(repeating: 0, count: vocab)
                losses[m] = 0
                continue
            }
            var peak = Float8(repeating: -.infinity)
            forEachGroupOf8(vocab) { i, lanes in
                let v = loadLanes(row + i, lanes)
                peak = pointwiseMax(peak, lanes == 8 ? v : v.replacing(with: -.infinity, where: laneMask(lanes)))
            }
            let maximum = peak.max()
            let targetLogit = row[target]
            var total = Float8()
            forEachGroupOf8(vocab) { i, lanes in
                let e = fastExp(loadLanes(row + i, lanes) - maximum)
                storeLanes(e, row + i, lanes)
                total += lanes == 8 ? e : e.replacing(with: 0, where: laneMask(lanes))
            }
            let sum = total.sum()
            losses[m] = Foundation.log(sum) + maximum - targetLogit
            let factor = scale / sum
            forEachGroupOf8(vocab) { i, lanes in storeLanes(loadLanes(row + i, lanes) * factor, row + i, lanes) }
            row[target] -= scale
        }
    }
}

/// Lanes at or beyond `lanes` (for partial groups).
@inline(__always)
func laneMask(_ lanes: Int) -> SIMDMask<SIMD8<Int32>> {
    SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(lanes))
}

/// Naive reference of `crossEntropyForwardBackward` (Double).
public func crossEntropyForwardBackwardReference(logits: UnsafeMutablePointer<Float>,
                                                 losses: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                                                 rows: Int, vocab: Int, scale: Float) {
    for m in 0..<rows {
        let row = logits + m * vocab, target = Int(targets[m])
        guard target >= 0 else {
            for j in 0..<vocab { row[j] = 0 }
            losses[m] = 0
            continue
        }
        let maximum = (0..<vocab).map { Double(row[$0]) }.max()!
        let sum = (0..<vocab).reduce(0.0) { $0 + Foundation.exp(Double(row[$1]) - maximum) }
        losses[m] = Float(Foundation.log(sum) + maximum - Double(row[target]))
        for j in 0..<vocab {
            let p = Foundation.exp(Double(row[j]) - maximum) / sum
            row[j] = Float((p - (j == target ? 1 : 0)) * Double(scale))
        }
    }
}
