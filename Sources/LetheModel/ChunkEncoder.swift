import Foundation

/// The encoder's final cache of equal-length chunks: what lethe-encode stores and what lethe-train's on-the-fly
/// source computes for each batch (one home, so both give the same bits).
///
/// A batch runs as forward passes of at most `tokensPerPass` tokens (a segment of every chunk per pass), each
/// continuing from the cache the previous one left, so memory stays bounded whatever the chunks' length.
/// Activations are reused while the pass shape stays the same. The encoder is frozen: its matrix products run on
/// weights packed once (`PackedMambaWeights`), so the model must not change while this encoder lives.
public final class ChunkEncoder {
    public let model: MambaModel
    public let tokensPerPass: Int
    private let packed: PackedMambaWeights
    /// The lm_head packed on the first call that asks for surprisal.
    private var packedLMHead: PackedWeight?
    private var activations: MambaActivations?

    public convenience init(model: MambaModel, tokensPerPass: Int = 8192) {
        self.init(model: model, tokensPerPass: tokensPerPass, packed: PackedMambaWeights(model, lmHead: false))
    }

    private init(model: MambaModel, tokensPerPass: Int, packed: PackedMambaWeights) {
        precondition(tokensPerPass > 0, "tokensPerPass must be positive")
        self.model = model
        self.tokensPerPass = tokensPerPass
        self.packed = packed
    }

    /// Another encoder of the same model sharing its packed weights (one copy in memory; its own activations).
    public func sibling() -> ChunkEncoder { ChunkEncoder(model: model, tokensPerPass: tokensPerPass, packed: packed) }

    /// The final cache of `chunks` (all of `length` tokens), sequence b holding chunk b's state.
    public func finalCache(_ chunks: [[Int32]], length: Int) throws -> MambaCache {
        try encode(chunks, length: length, surprisal: false).cache
    }

    /// The final cache of `chunks` (all of `length` tokens) and, with `surprisal`, each token's surprisal under
    /// the model: -log p(token t | tokens before it) in nats, from the same forward pass; NaN for token 0, which
    /// the encoder reads with nothing before it.
    ///
    /// PyTorch: `F.cross_entropy(model(ids).logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")`, here
    /// with the blocked lm_head (`blockedLMHeadCrossEntropy`, no gradient, on the packed lm_head) on each pass's
    /// final hidden states; the last token of a pass predicts the first of the next.
    public func encode(_ chunks: [[Int32]], length: Int, surprisal: Bool) throws -> (cache: MambaCache, surprisal: [[Float]]?) {
        let b = chunks.count
        guard b > 0, length > 0, chunks.allSatisfy({ $0.count == length }) else {
            throw ModelError("encode: a batch needs one or more chunks, all of \(length) tokens")
        }
        let cache = MambaCache(config: model.config, batchSize: b)
        var surprisals = surprisal ? [[Float]](repeating: [Float](repeating: .nan, count: length), count: b) : nil
        let segment = max(1, min(length, tokensPerPass / b))
        var start = 0
        while start < length {
            let count = min(segment, length - start)
            var ids: [Int32] = []
            ids.reserveCapacity(b * count)
            for chunk in chunks { ids += chunk[start ..< start + count] }
            let acts = activations(batch: b, length: count)
            try model.forward(tokens: ids, batchSize: b, cache: cache, logits: surprisal ? .finalHidden : .none, activations: acts,
                              packed: packed)
            if surprisal {
                // Row (s, i) predicts token start + i + 1 of chunk s; the chunk's last token predicts nothing (-1).
                var targets = [Int32](repeating: -1, count: b * count)
                for s in 0..<b {
                    for i in 0..<count where start + i + 1 < length { targets[s * count + i] = chunks[s][start + i + 1] }
                }
                var losses = [Float](repeating: 0, count: b * count)
                if packedLMHead == nil {
                    packedLMHead = PackedWeight(model.weights.lmHead, outFeatures: model.config.vocabSize, inFeatures: model.config.hiddenSize)
                }
                blockedLMHeadCrossEntropy(hidden: acts.normF.pointer, weight: model.weights.lmHead, packed: packedLMHead, targets: targets,
                                          losses: &losses, dHidden: nil, dWeight: nil, rows: b * count,
                                          hiddenSize: model.config.hiddenSize, vocab: model.config.vocabSize, scale: 1)
                for s in 0..<b {
                    for i in 0..<count where start + i + 1 < length { surprisals![s][start + i + 1] = losses[s * count + i] }
                }
            }
            start += count
        }
        return (cache, surprisals)
    }

    private func activations(batch: Int, length: Int) -> MambaActivations {
        if let a = activations, a.batchSize == batch, a.length == length { return a }
        activations = nil  // free the old buffers before allocating the new ones
        let a = MambaActivations(config: model.config, batchSize: batch, length: length)
        activations = a
        return a
    }
}
