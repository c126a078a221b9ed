// Token embedding. Shapes: tokens (M), weight (V, H), out (M, H) with M = B·L tokens, sequence-major.

/// PyTorch: `inputs_embeds = self.embeddings(input_ids)`   (nn.Embedding, MambaModel.forward)
/// Token ids must be in 0..<V (the forward pass checks them first).
public func embeddingForward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                             weight: UnsafePointer<Float>, count: Int, hidden: Int) {
    for m in 0..<count {
        (out + m * hidden).update(from: weight + Int(tokens[m]) * hidden, count: hidden)
    }
}

/// Naive reference of `embeddingForward`.
public func embeddingForwardReference(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                                      weight: UnsafePointer<Float>, count: Int, hidden: Int) {
    for m in 0..<count {
        for j in 0..<hidden { out[m * hidden + j] = weight[Int(tokens[m]) * hidden + j] }
    }
}

/// Backward of `embeddingForward`: dWeight[tokens[m]] += dOut[m]. PyTorch: nn.Embedding's backward
/// (embedding_dense_backward). Parallel over blocks of the hidden dimension, rows in order within each block,
/// so repeated tokens accumulate in the same order on every run.
public func embeddingBackward(dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                              tokens: UnsafePointer<Int32>, count: Int, hidden: Int) {
    let columnBlocks = (hidden + 63) / 64
    LetheThreads.parallelFor(columnBlocks) { blocks in
        for block in blocks {
            let j0 = block * 64, j1 = min(hidden, j0 + 64)
            for m in 0..<count {
                let row = dWeight + Int(tokens[m]) * hidden, g = dOut + m * hidden
                for j in j0..<j1 { row[j] += g[j] }
            }
        }
    }
}

/// Naive reference of `embeddingBackward`.
public func embeddingBackwardReference(dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                       tokens: UnsafePointer<Int32>, count: Int, hidden: Int) {
    for m in 0..<count {
        for j in 0..<hidden { dWeight[Int(tokens[m]) * hidden + j] += dOut[m * hidden + j] }
    }
}
