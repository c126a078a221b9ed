/// The recurrent state of B sequences: what Lethe measures. For every layer, the ssm state h (DI, N) and the
/// conv state (DI, K): the last K inputs of the conv, transformers' convention (zero-padded on the left when
/// fewer than K tokens were read). Mamba-2's are (H, P, N), the same DI·N floats by head, and (DI + 2·G·N, K).
///
/// Layout, sequence-major so that one sequence's cache is contiguous:
///   ssm  (B, n_layer, DI, N)      conv (B, n_layer, DI, K)      (MambaConfig's ssmStateShape, convStateShape)
/// A fresh cache is all zeros, which is exactly the state before a sequence's first token.
public final class MambaCache {
    public let config: MambaConfig
    public internal(set) var batchSize: Int
    public internal(set) var ssm: [Float]
    public internal(set) var conv: [Float]

    /// Floats of one sequence's ssm state, (n_layer, DI, N), and conv state, (n_layer, DI, K).
    public var ssmCountPerSequence: Int { config.numLayers * config.ssmCountPerLayer }
    public var convCountPerSequence: Int { config.numLayers * config.convCountPerLayer }
    /// Shapes of one sequence's states, as stored in shards: [n_layer, DI, N] and [n_layer, DI, K].
    public var ssmShape: [Int] { config.ssmStateShape }
    public var convShape: [Int] { config.convStateShape }

    /// The empty state of `batchSize` sequences.
    public init(config: MambaConfig, batchSize: Int) {
        self.config = config
        self.batchSize = batchSize
        ssm = []
        conv = []
        ssm = [Float](repeating: 0, count: batchSize * ssmCountPerSequence)
        conv = [Float](repeating: 0, count: batchSize * convCountPerSequence)
    }

    /// The states of `sequences.count` sequences, one (ssm, conv) pair each in the per-sequence shapes.
    public convenience init(config: MambaConfig, sequences: [(ssm: [Float], conv: [Float])]) throws {
        self.init(config: config, batchSize: sequences.count)
        for (b, s) in sequences.enumerated() { try setSequence(b, ssm: s.ssm, conv: s.conv) }
    }

    /// Whether a model of `other` reads and writes states of this cache's shapes (an encoder's cache can
    /// start a decoder of the same sizes, whatever their vocabularies).
    public func hasStateShape(of other: MambaConfig) -> Bool {
        other.ssmStateShape == ssmShape && other.convStateShape == convShape
    }

    /// A copy with its own storage.
    public func copy() -> MambaCache {
        let other = MambaCache(config: config, batchSize: batchSize)
        other.ssm = ssm
        other.conv = conv
        return other
    }

    /// The states of some of the sequences, in the order given (e.g. the decoder dropping the chunks that
    /// reached eos from its batch).
    public func subset(_ sequences: [Int]) throws -> MambaCache {
        let other = MambaCache(config: config, batchSize: sequences.count)
        for (i, b) in sequences.enumerated() {
            guard b >= 0, b < batchSize else { throw ModelError("cache: sequence \(b) outside 0..<\(batchSize)") }
            try other.setSequence(i, ssm: ssmState(sequence: b), conv: convState(sequence: b))
        }
        return other
    }

    /// Adds a sequence with these states (per-sequence shapes) after the others.
    public func append(ssm newSSM: [Float], conv newConv: [Float]) throws {
        try checkShapes(ssm: newSSM, conv: newConv)
        ssm += newSSM
        conv += newConv
        batchSize += 1
    }

    /// Copies sequence `source`'s states over sequence `target`'s, in place (a decoding batch filling the
    /// place of a finished sequence with the last one before dropping it).
    public func moveSequence(_ source: Int, to target: Int) throws {
        for b in [source, target] where !(0..<batchSize).contains(b) {
            throw ModelError("cache: sequence \(b) outside 0..<\(batchSize)")
        }
        guard source != target else { return }
        let (s, c) = (ssmCountPerSequence, convCountPerSequence)
        ssm.withUnsafeMutableBufferPointer { p in (p.baseAddress! + target * s).update(from: p.baseAddress! + source * s, count: s) }
        conv.withUnsafeMutableBufferPointer { p in (p.baseAddress! + target * c).update(from: p.baseAddress! + source * c, count: c) }
    }

    /// Drops the last `count` sequences, in place.
    public func removeLast(_ count: Int) throws {
        guard (0...batchSize).contains(count) else {
            throw ModelError("cache: cannot drop \(count) of \(batchSize) sequences")
        }
        batchSize -= count
        ssm.removeLast(count * ssmCountPerSequence)
        conv.removeLast(count * convCountPerSequence)
    }

    /// Sequence `b`'s ssm state, (n_layer, DI, N).
    public func ssmState(sequence b: Int) -> [Float] {
        Array(ssm[b * ssmCountPerSequence ..< (b + 1) * ssmCountPerSequence])
    }

    /// Sequence `b`'s conv state, (n_layer, DI, K).
    public func convState(sequence b: Int) -> [Float] {
        Array(conv[b * convCountPerSequence ..< (b + 1) * convCountPerSequence])
    }

    /// Replaces sequence `b`'s states (e.g. the decoder starting from a chunk's encoder state).
    public func setSequence(_ b: Int, ssm newSSM: [Float], conv newConv: [Float]) throws {
        guard b >= 0, b < batchSize else { throw ModelError("cache: sequence \(b) outside 0..<\(batchSize)") }
        try checkShapes(ssm: newSSM, conv: newConv)
        ssm.replaceSubrange(b * ssmCountPerSequence ..< (b + 1) * ssmCountPerSequence, with: newSSM)
        conv.replaceSubrange(b * convCountPerSequence ..< (b + 1) * convCountPerSequence, with: newConv)
    }

    private func checkShapes(ssm newSSM: [Float], conv newConv: [Float]) throws {
        guard newSSM.count == ssmCountPerSequence else {
            throw ModelError("cache: ssm state has \(newSSM.count) floats, expected \(ssmShape) = \(ssmCountPerSequence)")
        }
        guard newConv.count == convCountPerSequence else {
            throw ModelError("cache: conv state has \(newConv.count) floats, expected \(convShape) = \(convCountPerSequence)")
        }
    }
}
