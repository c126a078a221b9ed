/// Why a greedy reconstruction ended.
public enum DecodingStop: String, Sendable, Equatable {
    /// The decoder chose eos.
    case eos
    /// It produced `maxNewTokens` tokens without choosing eos.
    case length
}

/// A greedy reconstruction: the generated ids without the leading eos input and without the stopping eos.
public struct DecodedSequence: Equatable, Sendable {
    public var tokens: [Int32]
    public var stop: DecodingStop

    public init(tokens: [Int32], stop: DecodingStop) {
        self.tokens = tokens
        self.stop = stop
    }
}

/// One chunk to reconstruct: the state the decoder starts from (the encoder's final cache of the chunk, in the
/// per-sequence shapes ssm [n_layer, DI, N] and conv [n_layer, DI, K]) and how many tokens it may generate.
public struct DecodingRequest {
    public var ssm: [Float]
    public var conv: [Float]
    /// The most tokens generated, a stopping eos included (the default of the stages: the chunk's length + 8).
    public var maxNewTokens: Int

    public init(ssm: [Float], conv: [Float], maxNewTokens: Int) {
        self.ssm = ssm
        self.conv = conv
        self.maxNewTokens = maxNewTokens
    }
}

/// Batched greedy decoding of the auto-encoder's decoder, each sequence started from its chunk's encoder cache
/// (the reference's `decoder_utils.reconstruct`, github.com/dataminr-ai/ouroboros):
///
///     input_ids = eos;  repeat: logits = decoder(input_ids, cache_params=encoder_cache); input_ids = logits.argmax(-1)
///
/// The first input is the decoder's eos (its config's eosTokenID); each next token is the argmax of the last
/// logits (ties to the lowest id and a NaN counting as the largest, as `torch.argmax`); a sequence stops at its first eos or after its
/// `maxNewTokens`. Each step is `MambaModel.step` (the conv state shifts by one, one scan step per layer), which
/// is the train stage's decoder (conv fed the encoder's conv state as its previous inputs, scan started from the
/// encoder's ssm state) read over the growing sequence [eos] + generated, one position at a time.
///
/// Continuous batching: up to `batchSize` sequences advance together; a finished sequence leaves the batch at
/// once and the next request takes its place, so the batch stays full until the requests run out. Sequences
/// never share state: a sequence's tokens do not depend on its batch-mates (on the C kernels not even in the last
/// bit; on OpenBLAS, without AVX2, up to the rounding of products over a different number of rows).
///
///     let decoder = GreedyDecoder(model: model, batchSize: 64)
///     let results = try decoder.decode(requests)       // [DecodedSequence], in request order
public final class GreedyDecoder {
    public let model: MambaModel
    public let batchSize: Int
    /// The decoder's weights packed once for its steps' products: the model must not change while this lives.
    private let packed: PackedMambaWeights

    public init(model: MambaModel, batchSize: Int) throws {
        guard batchSize >= 1 else { throw ModelError("greedy decoding: batch size \(batchSize) must be at least 1") }
        self.model = model
        self.batchSize = batchSize
        packed = PackedMambaWeights(model, lmHead: true)
    }

    /// Decodes every request, in request order.
    public func decode(_ requests: [DecodingRequest]) throws -> [DecodedSequence] {
        var results = [DecodedSequence?](repeating: nil, count: requests.count)
        var iterator = requests.makeIterator()
        try run(next: { iterator.next() }, finished: { results[$0] = $1 })
        return results.map { $0! }
    }

    /// Decodes the requests `next` hands out (nil when there are no more), pulling a new one whenever the batch
    /// has room, and calls `finished` with each request's number (0, 1, ... in the order `next` gave them) and
    /// result as soon as it is done. Sequences finish out of request order; within one step, in batch order.
    /// Memory: the batch's caches, one step's activations and logits.
    public func run(next: () throws -> DecodingRequest?,
                    finished: (_ request: Int, _ result: DecodedSequence) throws -> Void) throws {
        let config = model.config
        let cache = MambaCache(config: config, batchSize: 0)
        cache.ssm.reserveCapacity(batchSize * cache.ssmCountPerSequence)
        cache.conv.reserveCapacity(batchSize * cache.convCountPerSequence)
        var slots: [Slot] = []  // slots[i] is the sequence whose states are sequence i of `cache`
        var requested = 0
        var inputLeft = true
        var activations: MambaActivations?

        while true {
            // Fill the batch.
            while inputLeft, slots.count < batchSize {
                guard let request = try next() else { inputLeft = false; break }
                let number = requested
                requested += 1
                guard request.maxNewTokens > 0 else {
                    try finished(number, DecodedSequence(tokens: [], stop: .length))
                    continue
                }
                try cache.append(ssm: request.ssm, conv: request.conv)
                slots.append(Slot(request: number, maxNewTokens: request.maxNewTokens, input: config.eosTokenID))
            }
            if slots.isEmpty { return }

            // One step of every sequence in the batch.
            if activations?.batchSize != slots.count {
                activations = MambaActivations(config: config, batchSize: slots.count, length: 1)
            }
            let choices = try model.greedyStep(tokens: slots.map(\.input), cache: cache, activations: activations, packed: packed)
            var done: [Int] = []
            for (i, choice) in choices.enumerated() {
                if choice == config.eosTokenID {
                    slots[i].stop = .eos
                } else {
                    slots[i].generated.append(choice)
                    slots[i].input = choice
                    if slots[i].generated.count == slots[i].maxNewTokens { slots[i].stop = .length }
                }
                if slots[i].stop != nil { done.append(i) }
            }
            for i in done {
                try finished(slots[i].request, DecodedSequence(tokens: slots[i].generated, stop: slots[i].stop!))
            }
            // Remove the finished sequences: the last sequence moves into each hole (highest hole first, so
            // that a moved sequence is never one still to be removed).
            for i in done.reversed() {
                let last = slots.count - 1
                if i != last {
                    slots[i] = slots[last]
                    try cache.moveSequence(last, to: i)
                }
                slots.removeLast()
                try cache.removeLast(1)
            }
        }
    }

    private struct Slot {
        let request: Int
        let maxNewTokens: Int
        var input: Int32  // the decoder's eos, then each choice
        var generated: [Int32] = []
        var stop: DecodingStop?
    }
}

/// `torch.argmax` of one row: the index of the largest value, the lowest index among equal ones; a NaN counts
/// as larger than any number (the first NaN wins).
public func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for i in 0..<count {
        let x = values[i]
        if x.isNaN { return i }
        if x > values[best] { best = i }
    }
    return best
}
