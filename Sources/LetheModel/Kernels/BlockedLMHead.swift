import CBLAS
import CLetheKernels
import Foundation

// The lm_head (logits = hidden @ weight.T over a vocabulary of V) fused with what consumes its logits, one block
// of the vocabulary at a time, so that no (M, V) array of logits, probabilities or their gradient need exist: at
// V = 50,280 one is 200 KB per row, and writing it, reading it for the maximum, exponentiating, normalising and
// reading it again for the gradient is memory traffic that costs more than the matrix products themselves. A
// block's logits (M, B) stay in cache; the backward recomputes them (one more product of the lm_head's size),
// except the blocks whose logits the caller gives room for (`keptLogits`): pass 1 writes those there and pass 2
// reads them back, which costs far less than the product (at H = 128 a logit is 256 floating-point operations for
// 4 bytes written and read once). The same sgemm calls either way, so the same bits.
// Workers take contiguous ranges of blocks. Each block's per-row statistics (maximum, sum of exponentials) are
// merged in block order, so the losses do not depend on the number of threads; the gradients do (each worker's
// share of dHidden is summed after), as training's matrix products' do.

/// PyTorch: `loss = F.cross_entropy(hidden @ weight.T, labels, reduction="mean")` and its backward, as
/// `linearForward` + `crossEntropyForwardBackward` + `linearBackward` compute it, without the (M, V) logits:
///   pass 1, per vocabulary block:  z = hidden @ weight[block].T; online max and sum of exp(z - max) per row
///   loss_m   = log(sum_m) + max_m - z[m, target_m]                      (0 for rows with a negative target)
///   pass 2, per block (when a gradient is asked for): z again, g = (exp(z - max) / sum - onehot) · scale
///   dHidden  = g @ weight            (M, H)   written
///   dWeight += g.T @ hidden          (V, H)   accumulated (the tied embedding's gradient, when tied)
/// `losses` gets loss_m (unscaled). Blocks of `vocabBlock` logits; rows are taken `rowBlock` at a time.
/// `keptLogits`: room for some blocks' logits, which pass 2 then reads instead of recomputing (all of them when it
/// holds `blockedLMHeadKeptLogitsFloats`, else each worker the same number of its first blocks); the results are
/// the same to the bit with or without it. `packed`: the weight's packed copy (a frozen model's, without a
/// gradient), multiplied by `packedLinearForward`.
public func blockedLMHeadCrossEntropy(hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedWeight? = nil,
                                      targets: UnsafePointer<Int32>, losses: UnsafeMutablePointer<Float>,
                                      dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                      rows: Int, hiddenSize h: Int, vocab: Int, scale: Float,
                                      keptLogits: UnsafeMutableBufferPointer<Float>? = nil,
                                      vocabBlock: Int = 512, rowBlock: Int = 1024) {
    guard rows > 0 else { return }
    LetheThreads.prepareBLAS()
    let blocks = VocabularyBlocks(vocab: vocab, size: vocabBlock)
    let wantsGradient = dHidden != nil || dWeight != nil
    for start in stride(from: 0, to: rows, by: rowBlock) {
        let m = min(rowBlock, rows - start)
        let kept = wantsGradient ? KeptLogits(room: keptLogits, rows: m, blocks: blocks) : nil
        lmHeadCrossEntropyRows(hidden: hidden + start * h, weight: weight, packed: packed, targets: targets + start,
                               losses: losses + start, dHidden: dHidden.map { $0 + start * h }, dWeight: dWeight,
                               rows: m, h: h, scale: scale, blocks: blocks, kept: kept)
    }
}

/// The floats of `keptLogits` that keep every block's logits of `blockedLMHeadCrossEntropy` over `rows` rows
/// (of its largest row block): no logits recomputed.
public func blockedLMHeadKeptLogitsFloats(rows: Int, vocab: Int, vocabBlock: Int = 512, rowBlock: Int = 1024) -> Int {
    let blocks = VocabularyBlocks(vocab: vocab, size: vocabBlock)
    return min(rows, rowBlock) * blocks.size * blocks.count
}

/// The vocabulary cut into blocks of `size` words (rows of the lm_head's weight), shared out among the workers in
/// contiguous ranges: part p takes the blocks count·p/parts ..< count·(p+1)/parts.
private struct VocabularyBlocks {
    let size, vocab, count, parts: Int

    init(vocab: Int, size: Int) {
        self.size = max(8, size)
        self.vocab = vocab
        count = (vocab + self.size - 1) / self.size
        parts = min(LetheThreads.count, count)
    }

    func range(ofPart part: Int) -> Range<Int> { count * part / parts ..< count * (part + 1) / parts }

    /// The block's first word and its number of words.
    func columns(_ block: Int) -> (first: Int, count: Int) { (block * size, min(size, vocab - block * size)) }

    /// z (m, the block's words) = hidden @ weight[block].T; on the packed copy of the weight when there is one
    /// (and the block starts at one of its panels).
    func logits(_ block: Int, hidden: UnsafePointer<Float>, rows m: Int, h: Int, weight: UnsafePointer<Float>,
                packed: PackedWeight? = nil, into z: UnsafeMutablePointer<Float>) {
        let (first, count) = columns(block)
        if let packed, first % PackedWeight.panelWidth == 0 {
            return packedLinearForward(out: z, outStride: count, input: hidden, inputStride: h, weight: packed, rows: m,
                                       columns: first ..< first + count, splitAmongWorkers: false)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(count), Int32(h), 1, hidden, Int32(h),
                    weight + first * h, Int32(h), 0, z, Int32(count))
    }
}

/// Where the blocks whose logits pass 1 keeps for pass 2 go, in slots of one block's (rows, block size) floats:
/// every block in its own slot when the room holds them all, else each part's first `perPart` blocks, part after
/// part.
private struct KeptLogits {
    let room: UnsafeMutablePointer<Float>
    let everyBlock: Bool
    let perPart, slotFloats: Int

    init?(room: UnsafeMutableBufferPointer<Float>?, rows m: Int, blocks: VocabularyBlocks) {
        let slotFloats = m * blocks.size
        guard let room, let base = room.baseAddress, blocks.count > 0 else { return nil }
        let slots = room.count / slotFloats
        everyBlock = slots >= blocks.count
        perPart = everyBlock ? 0 : slots / blocks.parts
        guard everyBlock || perPart > 0 else { return nil }
        self.room = base
        self.slotFloats = slotFloats
    }

    /// The slot of `block`, if its logits are kept.
    func slot(ofBlock block: Int, part: Int, blocks: VocabularyBlocks) -> UnsafeMutablePointer<Float>? {
        if everyBlock { return room + block * slotFloats }
        let index = block - blocks.range(ofPart: part).lowerBound
        return index < perPart ? room + (part * perPart + index) * slotFloats : nil
    }
}

/// One block of rows of `blockedLMHeadCrossEntropy`.
private func lmHeadCrossEntropyRows(hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedWeight?,
                                    targets: UnsafePointer<Int32>, losses: UnsafeMutablePointer<Float>,
                                    dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                    rows m: Int, h: Int, scale: Float, blocks: VocabularyBlocks, kept: KeptLogits?) {
    let parts = blocks.parts
    // Per block: each row's maximum and sum of exp(z - maximum) over the block's words.
    let maxima = FloatBuffer(count: blocks.count * m), sums = FloatBuffer(count: blocks.count * m)
    let targetLogits = FloatBuffer(count: m), factors = FloatBuffer(count: m)
    func logitsOfBlock(_ block: Int, into z: UnsafeMutablePointer<Float>) {
        blocks.logits(block, hidden: hidden, rows: m, h: h, weight: weight, packed: packed, into: z)
    }

    LetheThreads.parallelFor(parts) { range in
        let scratch = FloatBuffer(count: m * blocks.size)
        for part in range {
            for block in blocks.range(ofPart: part) {
                let maximum = maxima.pointer + block * m, sum = sums.pointer + block * m
                maximum.update(repeating: -.infinity, count: m)
                sum.update(repeating: 0, count: m)
                let z = kept?.slot(ofBlock: block, part: part, blocks: blocks) ?? scratch.pointer
                logitsOfBlock(block, into: z)
                let (first, count) = blocks.columns(block)
                for r in 0..<m {
                    let target = Int(targets[r])
                    if target >= first && target < first + count { targetLogits.pointer[r] = z[r * count + target - first] }
                }
                softmaxStatistics(z, rows: m, count: count, maximum: maximum, sum: sum)
            }
        }
    }
    // Merge the blocks in order: the row's maximum and its sum of exp(z - maximum).
    for r in 0..<m {
        var rowMax = -Float.infinity
        for b in 0..<blocks.count { rowMax = max(rowMax, maxima.pointer[b * m + r]) }
        var rowSum: Float = 0
        for b in 0..<blocks.count where maxima.pointer[b * m + r] != -.infinity {
            rowSum += sums.pointer[b * m + r] * Foundation.exp(maxima.pointer[b * m + r] - rowMax)
        }
        maxima.pointer[r] = rowMax
        sums.pointer[r] = rowSum
        losses[r] = targets[r] >= 0 ? Foundation.log(rowSum) + rowMax - targetLogits.pointer[r] : 0
        // The softmax's factor, with the loss's scale; a row without a target gets no gradient.
        factors.pointer[r] = targets[r] >= 0 ? scale / rowSum : 0
    }
    guard dHidden != nil || dWeight != nil else { return }

    // Pass 2: each part's share of dHidden in its own buffer (summed after, in order); dWeight's rows are the
    // part's own vocabulary rows.
    let partialInputs = FloatBuffer(count: dHidden == nil ? 0 : parts * m * h)
    LetheThreads.parallelFor(parts) { range in
        let scratch = FloatBuffer(count: m * blocks.size)
        for part in range {
            let partial = partialInputs.pointer + part * m * h
            if dHidden != nil { partial.update(repeating: 0, count: m * h) }
            for block in blocks.range(ofPart: part) {
                let z: UnsafeMutablePointer<Float>
                if let slot = kept?.slot(ofBlock: block, part: part, blocks: blocks) {
                    z = slot
                } else {
                    z = scratch.pointer
                    logitsOfBlock(block, into: z)
                }
                let (first, count) = blocks.columns(block)
                softmaxGradient(z, rows: m, count: count, maximum: maxima.pointer, factor: factors.pointer)
                for r in 0..<m {
                    let target = Int(targets[r])
                    if target >= first && target < first + count { z[r * count + target - first] -= scale }
                }
                if let dWeight {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(count), Int32(h), Int32(m), 1, z,
                                Int32(count), hidden, Int32(h), 1, dWeight + first * h, Int32(h))
                }
                if dHidden != nil {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(h), Int32(count), 1,
                                z, Int32(count), weight + first * h, Int32(h), 1, partial, Int32(h))
                }
            }
        }
    }
    if let dHidden {
        dHidden.update(from: partialInputs.pointer, count: m * h)
        for p in 1..<max(1, parts) {
            let partial = partialInputs.pointer + p * m * h
            for i in 0..<(m * h) { dHidden[i] += partial[i] }
        }
    }
}

/// Greedy decoding's choice without the (M, V) logits: per row the argmax of hidden @ weight.T (ties to the
/// lowest id and a NaN counting as the largest, as `torch.argmax` and `argmax`), block by block; `packed`: the
/// weight's packed copy, multiplied by `packedLinearForward`.
public func blockedLMHeadArgmax(hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedWeight? = nil, rows m: Int,
                                hiddenSize h: Int, vocab: Int, into choices: UnsafeMutablePointer<Int32>,
                                vocabBlock: Int = 512) {
    guard m > 0 else { return }
    LetheThreads.prepareBLAS()
    let blocks = VocabularyBlocks(vocab: vocab, size: vocabBlock), parts = blocks.parts
    var best = [(value: Float, index: Int)](repeating: (-.infinity, -1), count: parts * m)
    best.withUnsafeMutableBufferPointer { best in
        LetheThreads.parallelFor(parts) { range in
            let z = FloatBuffer(count: m * blocks.size)
            for part in range {
                for b in blocks.range(ofPart: part) {
                    let (first, count) = blocks.columns(b)
                    blocks.logits(b, hidden: hidden, rows: m, h: h, weight: weight, packed: packed, into: z.pointer)
                    for r in 0..<m {
                        let i = argmax(z.pointer + r * count, count: count), value = z.pointer[r * count + i]
                        if best[part * m + r].index < 0 || isBetter(value, than: best[part * m + r].value) {
                            best[part * m + r] = (value, first + i)
                        }
                    }
                }
            }
        }
        // Parts hold increasing ids, so a later part wins only when strictly better.
        for r in 0..<m {
            var choice = best[r]
            for p in 1..<max(1, parts) where isBetter(best[p * m + r].value, than: choice.value) { choice = best[p * m + r] }
            choices[r] = Int32(choice.index)
        }
    }
}

/// `torch.argmax`'s order: a NaN beats everything but an earlier NaN; otherwise strictly larger.
@inline(__always)
private func isBetter(_ value: Float, than current: Float) -> Bool {
    if current.isNaN { return false }
    return value.isNaN || value > current
}

/// For each of `rows` rows of `count` logits in z: the row's running maximum and sum of exp(z - maximum), updated
/// online with them (new = max(maximum, max z); sum = sum · exp(maximum - new) + Σ exp(z - new); a maximum of
/// -infinity is a row not yet seen). The C kernel of `vectorPath` (softmax_rows_body.h) or the Swift SIMD one.
func softmaxStatistics(_ z: UnsafePointer<Float>, rows: Int, count: Int, maximum: UnsafeMutablePointer<Float>,
                       sum: UnsafeMutablePointer<Float>) {
    if let kernel = vectorPath.cKernel(avx512: lethe_softmax_statistics_avx512, avx2: lethe_softmax_statistics_avx2) {
        return kernel(z, rows, count, maximum, sum)
    }
    for r in 0..<rows {
        let row = z + r * count
        var peak = Float8(repeating: -.infinity)
        forEachGroupOf8(count) { i, lanes in
            let v = loadLanes(row + i, lanes)
            peak = pointwiseMax(peak, lanes == 8 ? v : v.replacing(with: -.infinity, where: laneMask(lanes)))
        }
        let newMax = max(maximum[r], peak.max())
        var total = Float8()
        forEachGroupOf8(count) { i, lanes in
            let e = fastExp(loadLanes(row + i, lanes) - newMax)
            total += lanes == 8 ? e : e.replacing(with: 0, where: laneMask(lanes))
        }
        sum[r] = sum[r] * (maximum[r] == -.infinity ? 0 : Foundation.exp(maximum[r] - newMax)) + total.sum()
        maximum[r] = newMax
    }
}

/// z[r, i] = exp(z[r, i] - maximum[r]) · factor[r] for `rows` rows of `count` logits, in place: the C kernel of
/// `vectorPath` or the Swift SIMD one.
func softmaxGradient(_ z: UnsafeMutablePointer<Float>, rows: Int, count: Int, maximum: UnsafePointer<Float>,
                     factor: UnsafePointer<Float>) {
    if let kernel = vectorPath.cKernel(avx512: lethe_softmax_gradient_avx512, avx2: lethe_softmax_gradient_avx2) {
        return kernel(z, rows, count, maximum, factor)
    }
    for r in 0..<rows {
        let row = z + r * count, shift = maximum[r], scale = factor[r]
        forEachGroupOf8(count) { i, lanes in storeLanes(fastExp(loadLanes(row + i, lanes) - shift) * scale, row + i, lanes) }
    }
}
