import Foundation

/// The encoder's final cache of equal-length chunks: what lethe-encode stores and what lethe-train's on-the-fly
/// source computes for each batch (one home, so both give the same bits).
///
/// A batch runs as forward passes of at most `tokensPerPass` tokens (a segment of every chunk per pass), each
/// continuing from the cache the previous one left, so memory stays bounded whatever the chunks' length.
/// Activations are reused while the pass shape stays the same.
public final class ChunkEncoder {
    public let model: MambaModel
    public let tokensPerPass: Int
    private var activations: MambaActivations?

    public init(model: MambaModel, tokensPerPass: Int = 8192) {
        precondition(tokensPerPass > 0, "tokensPerPass must be positive")
        self.model = model
        self.tokensPerPass = tokensPerPass
    }

    /// The final cache of `chunks` (all of `length` tokens), sequence b holding chunk b's state.
    public func finalCache(_ chunks: [[Int32]], length: Int) throws -> MambaCache {
        let b = chunks.count
        guard b > 0, length > 0, chunks.allSatisfy({ $0.count == length }) else {
            throw ModelError("encode: a batch needs one or more chunks, all of \(length) tokens")
        }
        let cache = MambaCache(config: model.config, batchSize: b)
        let segment = max(1, min(length, tokensPerPass / b))
        var start = 0
        while start < length {
            let count = min(segment, length - start)
            var ids: [Int32] = []
            ids.reserveCapacity(b * count)
            for chunk in chunks { ids += chunk[start ..< start + count] }
            try model.forward(tokens: ids, batchSize: b, cache: cache, activations: activations(batch: b, length: count))
            start += count
        }
        return cache
    }

    private func activations(batch: Int, length: Int) -> MambaActivations {
        if let a = activations, a.batchSize == batch, a.length == length { return a }
        activations = nil  // free the old buffers before allocating the new ones
        let a = MambaActivations(config: model.config, batchSize: batch, length: length)
        activations = a
        return a
    }
}
