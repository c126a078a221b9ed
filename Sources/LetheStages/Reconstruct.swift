import Foundation
import LetheCLI
import LetheModel
import LetheShards
import LetheTokenizer

/// The reconstruct stage (lethe-reconstruct): every chunk decoded greedily by the decoder at `model` from its
/// encoder states, one output shard per input shard. `tokenizer`: the tokenizer.json's path (nil: the shipped one).
public func runReconstructStage(_ run: StageRun, inputs: [String], model: String, tokenizer: String?, batchSize: Int,
                                maxNewTokens: Int?, threads: Int) throws {
    try runMapStage(run, inputs: inputs) { inputs in
        let text = try Tokenizer(contentsOf: try DefaultTokenizer.resolve(tokenizer))
        LetheThreads.set(threads)
        let (decoder, identity) = try loadModel(model)
        for input in inputs { try checkStateShapes(of: input, decoder: decoder.config, model: model) }
        let greedy = try GreedyDecoder(model: decoder, batchSize: batchSize)
        return MapWork(summarize: summedExtras(adding: ["decoder": identity])) { reader, writer in
            let reconstructor = ShardReconstructor(decoder: greedy, tokenizer: text, maxNewTokens: maxNewTokens,
                                                   identity: identity, shard: reader.url, output: writer)
            try reconstructor.run(reader)
            return reconstructor.totals
        }
    }
}

/// Refuses, before any work, a decoder whose state shapes differ from those the encode stage recorded.
private func checkStateShapes(of input: StageInput, decoder: MambaConfig, model: String) throws {
    guard let config = input.manifest.extra["encoder"]?["config"] else { return }  // checked per sample then
    let ssm = config["ssm_shape"]?.arrayValue?.compactMap(\.intValue)
    let conv = config["conv_shape"]?.arrayValue?.compactMap(\.intValue)
    if ssm != decoder.ssmStateShape || conv != decoder.convStateShape {
        throw StageError("\(model): the decoder's states are ssm \(decoder.ssmStateShape) and conv \(decoder.convStateShape) [n_layer, d_inner, d_state / conv_kernel], but \(input.path) holds states of ssm \(ssm.map { "\($0)" } ?? "?") and conv \(conv.map { "\($0)" } ?? "?"): the decoder must have the encoder's n_layer, d_inner, d_state and conv_kernel")
    }
}

/// Reconstructs the samples of one encode shard into one output shard, in input order.
///
/// Samples are read as the decoder's batch has room (their states go straight into its cache); a sample
/// whose reconstruction finishes before those ahead of it waits in memory, without its states, until they
/// are written. So memory holds one batch of caches and, at most, the small samples finished during the
/// longest reconstruction in flight.
final class ShardReconstructor {
    let decoder: GreedyDecoder
    let tokenizer: Tokenizer
    /// nil: each chunk's length + 8.
    let maxNewTokens: Int?
    /// KEY.json's "decoder".
    let identity: JSONValue
    let shard: URL
    private let output: InOrderWriter

    /// A sample read and handed to the decoder: what is carried forward (no states).
    private struct Carried {
        var sample: ShardSample
        var meta: JSONValue
        let tokens: [Int32]
    }

    private var decoding: [Int: Carried] = [:]
    private var stops: [DecodingStop: Int] = [:]
    private var generatedTokens = 0
    private var exact = 0

    init(decoder: GreedyDecoder, tokenizer: Tokenizer, maxNewTokens: Int?, identity: JSONValue, shard: URL,
         output: ShardWriter) {
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.maxNewTokens = maxNewTokens
        self.identity = identity
        self.shard = shard
        self.output = InOrderWriter(output: output, waiting: .inMemory)
    }

    /// Facts for the manifest's "extra" (summed over shards).
    var totals: JSONValue {
        ["chunks": .int(output.written), "stopped_at_eos": .int(stops[.eos] ?? 0), "stopped_at_length": .int(stops[.length] ?? 0),
         "generated_tokens": .int(generatedTokens), "exact_reconstructions": .int(exact)]
    }

    func run(_ reader: ShardReader) throws {
        var read = 0
        try decoder.run(next: {
            guard let sample = try reader.next() else { return nil }
            let (carried, request) = try self.prepare(sample)
            self.decoding[read] = carried
            read += 1
            return request
        }, finished: { number, result in
            try self.finish(number, result)
        })
        precondition(output.written == read && output.isDrained && decoding.isEmpty, "every sample read is written")
    }

    /// Checks a sample and splits it into what is carried forward and what the decoder starts from.
    private func prepare(_ sample: ShardSample) throws -> (Carried, DecodingRequest) {
        let origin = "\(shard.path): sample \(sample.key)"
        let config = decoder.model.config
        let tokens: [Int32]
        do { tokens = try sample.tokenIDs(allowEmpty: true) } catch { throw StageError("\(origin): \(error)") }
        var states: [[Float]] = []
        for (name, shape, size) in [("ssm", config.ssmStateShape, "d_state"), ("conv", config.convStateShape, "conv_kernel")] {
            guard sample.data(name + ".npy") != nil else {
                throw StageError("\(origin): no KEY.\(name).npy: not an encode output (it has: \(sample.members.map(\.ext).joined(separator: ", ")))")
            }
            let state = try sample.npy(name)
            guard state.dtype == .float32 || state.dtype == .float16 else {
                throw StageError("\(origin): \(name).npy is \(state.dtype.name); expected float32 or float16")
            }
            guard state.shape == shape else {
                throw StageError("\(origin): \(name).npy has shape \(state.shape), the decoder's is \(shape) [n_layer, d_inner, \(size)]: the decoder must have the encoder's state shapes")
            }
            states.append(state.floats())
        }
        let meta = try sample.json()
        guard meta.objectValue != nil else { throw StageError("\(origin): KEY.json is not an object") }
        var carried = ShardSample(key: sample.key, members: sample.members.filter { $0.ext != "ssm.npy" && $0.ext != "conv.npy" })
        carried.source = sample.source
        return (Carried(sample: carried, meta: meta, tokens: tokens),
                DecodingRequest(ssm: states[0], conv: states[1], maxNewTokens: maxNewTokens ?? tokens.count + 8))
    }

    private func finish(_ number: Int, _ result: DecodedSequence) throws {
        var carried = decoding.removeValue(forKey: number)!
        carried.meta["reference"] = .string(carried.meta["text"]?.stringValue ?? tokenizer.decode(carried.tokens))
        carried.meta["reconstruction"] = .string(tokenizer.decode(result.tokens))
        carried.meta["stop"] = .string(result.stop.rawValue)
        carried.meta["decoder"] = identity
        var out = carried.sample
        out.setJSON(carried.meta)
        out.set("recon", npy: NPYArray(int32: result.tokens, shape: [result.tokens.count]))
        stops[result.stop, default: 0] += 1
        generatedTokens += result.tokens.count
        if result.tokens == carried.tokens { exact += 1 }

        try output.put(out, at: number)
    }
}
