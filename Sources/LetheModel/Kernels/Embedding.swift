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
