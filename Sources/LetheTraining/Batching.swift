/// Length-bucketed batches over a corpus of chunks of mixed lengths: every batch holds chunks of one length,
/// so no padding ever enters a recurrent state or the loss.
///
/// Chunks are numbered in corpus order (shard order, then sample order within a shard).
/// - In order (`--no-shuffle`): the corpus is read once in order, each chunk joins the open batch of its length,
///   and a batch is emitted the moment it is full; at the end, the partly filled batches follow in the order of
///   their first chunk. This is what a streaming reader produces, and it depends on nothing but the corpus.
/// - Shuffled: the same, over the corpus in a seeded random order (Fisher-Yates with `Xoshiro256`); then the
///   batches themselves are shuffled, so short and long chunks interleave. Epoch e uses the generator seeded
///   from (seed, e), so any epoch's plan can be rebuilt from the seed alone (resuming needs no generator state).
public struct LengthBatches: Equatable, Sendable {
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Chunk lengths in corpus order.
    public let lengths: [Int]

    public init(lengths: [Int], batchSize: Int, shuffle: Bool, seed: UInt64) {
        precondition(batchSize > 0, "batch size must be positive")
        self.lengths = lengths
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        var counts: [Int: Int] = [:]
        for length in lengths { counts[length, default: 0] += 1 }
        batchesPerEpoch = counts.values.reduce(0) { $0 + ($1 + batchSize - 1) / batchSize }
    }

    /// Batches per epoch: full batches of each length plus one partial batch per length that does not divide.
    /// Counted once here: the training loop reads it at every step.
    public let batchesPerEpoch: Int

    /// The batches of epoch `epoch` (0-based), each a list of chunk indices of one length.
    public func epoch(_ epoch: Int) -> [[Int]] {
        var order = Array(lengths.indices)
        var rng = Xoshiro256(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        if shuffle { rng.shuffle(&order) }
        var batches: [[Int]] = []
        var open: [Int: Int] = [:]  // length -> index in `pending`
        var pending: [[Int]] = []
        for chunk in order {
            let length = lengths[chunk]
            if let slot = open[length] {
                pending[slot].append(chunk)
                if pending[slot].count == batchSize {
                    batches.append(pending[slot])
                    pending[slot] = []
                    open[length] = nil
                }
            } else if batchSize == 1 {
                batches.append([chunk])
            } else {
                open[length] = pending.count
                pending.append([chunk])
            }
        }
        batches += pending.filter { !$0.isEmpty }
        if shuffle { rng.shuffle(&batches) }
        return batches
    }
}
