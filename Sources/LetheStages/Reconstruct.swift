import Foundation
import LetheCLI
import LetheModel
import LetheSamples
import LetheShards
import LetheTokenizer

/// The reconstruct stage (lethe-reconstruct): every chunk decoded greedily by the decoder at `model` from its
/// encoder states, one output shard per input shard. `tokenizer`: the tokenizer.json's path (nil: the shipped one).
public func runReconstructStage(_ run: StageRun, inputs: [String], model: String, tokenizer: String?, batchSize: Int,
                                maxNewTokens: Int?, threads: Int) throws {
    try runMapStage(run, inputs: inputs, open: { try StageInput.requiring($0, kind: .states) }) { inputs in
        let text = try Tokenizer(contentsOf: try DefaultTokenizer.resolve(tokenizer))
        LetheThreads.set(threads)
        let (decoder, identity) = try loadModel(model)
        for input in inputs { try checkStateShapes(of: input, decoder: decoder.config, model: model) }
        let greedy = try GreedyDecoder(model: decoder, batchSize: batchSize)
        let summarize = { (extras: [JSONValue]) -> JSONValue in
            var facts = ReconstructFacts(json: mergeExtras(extras))
            facts.decoder = identity
            return facts.json
        }
        return MapWork(summarize: summarize) { reader, writer in
            let reconstructor = ShardReconstructor(decoder: greedy, tokenizer: text, maxNewTokens: maxNewTokens,
                                                   identity: identity, output: writer)
            try reconstructor.run(reader)
            return reconstructor.facts.json
        }
    }
}

/// Refuses, before any work, a decoder whose state shapes differ from those the encode stage recorded.
private func checkStateShapes(of input: StageInput, decoder: MambaConfig, model: String) throws {
    guard let shapes = EncodeFacts(json: input.manifest.extra).stateShapes else { return }  // checked per sample then
    if shapes.ssm != decoder.ssmStateShape || shapes.conv != decoder.convStateShape {
        throw StageError("\(model): the decoder's states are ssm \(decoder.ssmStateShape) and conv \(decoder.convStateShape) (per layer, as transformers' cache holds them), but \(input.path) holds states of ssm \(shapes.ssm) and conv \(shapes.conv): the decoder must have the encoder's architecture and sizes")
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
    private let output: InOrderWriter

    /// A sample read and handed to the decoder, without its states.
    private var decoding: [Int: ChunkSample] = [:]
    private(set) var facts = ReconstructFacts()

    init(decoder: GreedyDecoder, tokenizer: Tokenizer, maxNewTokens: Int?, identity: JSONValue, output: ShardWriter) {
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.maxNewTokens = maxNewTokens
        self.identity = identity
        self.output = InOrderWriter(output: output, waiting: .inMemory)
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
    private func prepare(_ sample: ShardSample) throws -> (ChunkSample, DecodingRequest) {
        var chunk = try ChunkSample(sample, as: .states)
        let config = decoder.model.config
        try chunk.states!.check(ssmShape: config.ssmStateShape, convShape: config.convStateShape, origin: chunk.origin,
                                whose: "the decoder's")
        let request = DecodingRequest(ssm: chunk.states!.ssm.floats(), conv: chunk.states!.conv.floats(),
                                      maxNewTokens: maxNewTokens ?? chunk.tokens.count + 8)
        chunk.states = nil
        return (chunk, request)
    }

    private func finish(_ number: Int, _ result: DecodedSequence) throws {
        var chunk = decoding.removeValue(forKey: number)!
        chunk.metadata.reference = chunk.metadata.text ?? tokenizer.decode(chunk.tokens)
        chunk.metadata.reconstruction = tokenizer.decode(result.tokens)
        chunk.metadata.stop = result.stop.rawValue
        chunk.metadata.decoder = identity
        chunk.reconstruction = result.tokens
        facts.chunks += 1
        switch result.stop {
        case .eos: facts.stoppedAtEOS += 1
        case .length: facts.stoppedAtLength += 1
        }
        facts.generatedTokens += result.tokens.count
        if result.tokens == chunk.tokens { facts.exactReconstructions += 1 }
        try output.put(chunk.shardSample(), at: number)
    }
}
