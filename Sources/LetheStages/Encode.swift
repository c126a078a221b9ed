import Foundation
import LetheCLI
import LetheModel
import LetheSamples
import LetheShards

/// The dtype of the states written to KEY.ssm.npy and KEY.conv.npy.
public enum StateDType: String, CaseIterable, Sendable {
    case float32, float16
}

/// The encode stage's bounds on memory.
public enum EncodeLimits {
    /// Tokens of one forward pass at most (activation memory: about 50 KB per token for mamba-130m).
    public static let tokensPerPass = 8192
    /// Tokens of chunks waiting for a full batch, at most.
    public static let heldTokenLimit = 2_000_000
}

/// The encode stage (lethe-encode): every input shard's chunks to their final states under the frozen model at
/// `model`, one output shard per input shard.
public func runEncodeStage(_ run: StageRun, inputs: [String], model: String, batchSize: Int, stateDType: StateDType,
                           surprisal: Bool = false, threads: Int) throws {
    try runMapStage(run, inputs: inputs, open: { try StageInput.requiring($0, kind: .tokens) }) { _ in
        LetheThreads.set(threads)
        let (encoder, identity) = try loadModel(model)
        let summarize = { (extras: [JSONValue]) -> JSONValue in
            var facts = EncodeFacts(json: mergeExtras(extras))
            facts.encoder = identity
            facts.stateDType = stateDType.rawValue
            return facts.json
        }
        return MapWork(summarize: summarize) { reader, writer in
            let shardEncoder = ShardEncoder(model: encoder, batchSize: batchSize, tokensPerPass: EncodeLimits.tokensPerPass,
                                            heldTokenLimit: EncodeLimits.heldTokenLimit, stateDType: stateDType,
                                            surprisal: surprisal, identity: identity, output: writer)
            while let sample = try reader.next() { try shardEncoder.add(sample) }
            try shardEncoder.finish()
            return EncodeFacts(chunks: writer.sampleCount, tokens: shardEncoder.tokens, batches: shardEncoder.batches).json
        }
    }
}

/// Encodes the samples of one input shard into one output shard, in input order.
///
/// Chunks are grouped by length and a group is encoded as one batch (never padded: every chunk of a batch has
/// the same length) when it holds `batchSize` chunks. Chunks read but not yet encoded are held in memory up to
/// `heldTokenLimit` tokens; beyond that, the group of the earliest waiting chunk is encoded even if not full.
/// At the end of the shard the remaining groups are encoded, earliest chunk first. A batch's samples go to the
/// output as soon as every sample before them is written; those done early wait on disk (InOrderWriter). So memory is
/// bounded (one batch of states, one forward pass of at most `tokensPerPass` tokens: longer batches run in
/// segments, the cache carrying over) whatever the number and the lengths of the chunks.
final class ShardEncoder {
    let encoder: ChunkEncoder
    var model: MambaModel { encoder.model }
    let batchSize: Int
    let heldTokenLimit: Int
    let stateDType: StateDType
    /// Whether each chunk's KEY.surprisal.npy is written too.
    let surprisal: Bool
    /// KEY.json's "encoder".
    let identity: JSONValue
    private let output: InOrderWriter

    private struct Chunk {
        let index: Int
        let sample: ChunkSample
    }

    /// Chunks read but not encoded, by length.
    private var groups: [Int: [Chunk]] = [:]
    private var heldTokens = 0
    private var read = 0
    private(set) var tokens = 0
    private(set) var batches = 0

    init(model: MambaModel, batchSize: Int, tokensPerPass: Int, heldTokenLimit: Int, stateDType: StateDType,
         surprisal: Bool, identity: JSONValue, output: ShardWriter) {
        self.surprisal = surprisal
        encoder = ChunkEncoder(model: model, tokensPerPass: tokensPerPass)
        self.batchSize = batchSize
        self.heldTokenLimit = heldTokenLimit
        self.stateDType = stateDType
        self.identity = identity
        self.output = InOrderWriter(output: output, waiting: .spilled)
    }

    /// Takes the next input sample.
    func add(_ sample: ShardSample) throws {
        let chunk = try ChunkSample(sample, as: .tokens, vocabularySize: model.config.vocabSize)
        let length = chunk.tokens.count
        groups[length, default: []].append(Chunk(index: read, sample: chunk))
        read += 1
        heldTokens += length
        if groups[length]!.count == batchSize { try encodeGroup(length) }
        while heldTokens > heldTokenLimit, let earliest = earliestGroup() { try encodeGroup(earliest) }
    }

    /// Encodes what is left; every sample read has then been written.
    func finish() throws {
        while let earliest = earliestGroup() { try encodeGroup(earliest) }
        precondition(output.written == read && output.isDrained, "every encoded sample is written")
    }

    /// The length of the group holding the earliest chunk not yet encoded.
    private func earliestGroup() -> Int? {
        groups.min { $0.value[0].index < $1.value[0].index }?.key
    }

    private func encodeGroup(_ length: Int) throws {
        let chunks = groups.removeValue(forKey: length)!
        heldTokens -= chunks.count * length
        let (cache, surprisals) = try encoder.encode(chunks.map(\.sample.tokens), length: length, surprisal: surprisal)
        for (b, chunk) in chunks.enumerated() {
            var out = chunk.sample
            out.surprisal = surprisals?[b]
            out.metadata.encoder = identity
            out.metadata.stateDType = stateDType.rawValue
            out.states = EncoderStates(
                ssm: try stateArray(cache.ssmState(sequence: b), shape: cache.ssmShape, name: "ssm", origin: out.origin),
                conv: try stateArray(cache.convState(sequence: b), shape: cache.convShape, name: "conv", origin: out.origin))
            try output.put(out.shardSample(), at: chunk.index)
        }
        tokens += chunks.count * length
        batches += 1
    }

    /// The state as stored; float16 refuses values beyond its range rather than storing infinities.
    private func stateArray(_ values: [Float], shape: [Int], name: String, origin: String) throws -> NPYArray {
        switch stateDType {
        case .float32:
            return NPYArray(float32: values, shape: shape)
        case .float16:
            if let big = values.first(where: { abs($0) > Float(Float16.greatestFiniteMagnitude) }) {
                throw StageError("\(origin): the \(name) state holds \(big), beyond float16's range; use --state-dtype float32")
            }
            return NPYArray(float16: values, shape: shape)
        }
    }
}
