import Foundation
import LetheModel

/// Training chunks whose encoder states are computed when a batch is drawn, as the reference code does: the
/// frozen encoder's forward pass (`ChunkEncoder`, the one lethe-encode runs) over the batch's tokens. Nothing
/// is stored, so the training set is bounded by the token shards, not by the disk that states would take
/// (n_layer x d_inner x (d_state + d_conv) floats per chunk, whatever its length).
///
/// With the same chunks batched the same way, the states are the ones lethe-encode (float32) stores, bit for
/// bit, and so are the losses trained from them.
public final class EncoderChunks: ChunkSource {
    /// The chunks' tokens (read without states).
    public let tokens: ChunkSource
    public let encoder: ChunkEncoder

    public var lengths: [Int] { tokens.lengths }

    public init(tokens: ChunkSource, encoder: ChunkEncoder) {
        self.tokens = tokens
        self.encoder = encoder
    }

    public func batch(_ indices: [Int], withStates: Bool) throws -> TrainingBatch {
        var batch = try tokens.batch(indices, withStates: false)
        guard withStates else { return batch }
        let length = batch.length
        let chunks = (0..<batch.batchSize).map { Array(batch.tokens[$0 * length ..< ($0 + 1) * length]) }
        let cache = try encoder.finalCache(chunks, length: length)
        batch.encoderStates = (0..<batch.batchSize).map { (ssm: cache.ssmState(sequence: $0), conv: cache.convState(sequence: $0)) }
        return batch
    }
}
