import Foundation
import LetheShards
import XCTest
@testable import LetheModel
import LetheTestSupport

/// Tests/Fixtures/reconstruct (make_reconstruct_fixtures.py): an encoder, a decoder trained briefly as its
/// auto-encoder, and the greedy reconstructions of transformers' cached decoding (checked there against the
/// train stage's construction over the growing sequence).
struct ReconstructFixture {
    struct Chunk {
        let tokens: [Int32]
        let generated: [Int32]
        let recon: [Int32]
        let stop: DecodingStop
        let maxNewTokens: Int
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/reconstruct")
    static let names = ["small", "odd", "falcon", "mamba2"]

    let folder: URL
    let chunks: [Chunk]
    let firstSteps: Int

    init(_ name: String) throws {
        folder = Self.root.appendingPathComponent(name)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("chunks.json"))) as? [String: Any])
        firstSteps = try XCTUnwrap(json["first_steps"] as? Int)
        chunks = try XCTUnwrap(json["chunks"] as? [[String: Any]]).map { c in
            func ids(_ key: String) throws -> [Int32] { try XCTUnwrap(c[key] as? [Int]).map(Int32.init) }
            return Chunk(tokens: try ids("tokens"), generated: try ids("generated"), recon: try ids("recon"),
                         stop: try XCTUnwrap(DecodingStop(rawValue: try XCTUnwrap(c["stop"] as? String))),
                         maxNewTokens: try XCTUnwrap(c["max_new_tokens"] as? Int))
        }
    }

    func model(_ which: String) throws -> MambaModel { try MambaModel.load(from: folder.appendingPathComponent(which)) }

    /// transformers' final cache of every chunk: (ssm, conv) per chunk in the per-sequence shapes.
    func encoderStates() throws -> [(ssm: [Float], conv: [Float])] {
        let ssm = try NPYArray.read(contentsOf: folder.appendingPathComponent("encoder_ssm.npy"))
        let conv = try NPYArray.read(contentsOf: folder.appendingPathComponent("encoder_conv.npy"))
        let (s, c) = (ssm.count / ssm.shape[0], conv.count / conv.shape[0])
        let (ssmValues, convValues) = (ssm.floats(), conv.floats())
        return chunks.indices.map { (Array(ssmValues[$0 * s ..< ($0 + 1) * s]), Array(convValues[$0 * c ..< ($0 + 1) * c])) }
    }
}

final class GreedyDecodingTests: XCTestCase {
    let tolerance: Float = 1e-4

    /// Ids and stop reasons equal transformers' greedy decoding from the same encoder states, token for token;
    /// the logits of the first steps match within 1e-4 of the step's largest |logit|.
    func testMatchesTransformersGreedyDecoding() throws {
        var stops: Set<DecodingStop> = []
        for name in ReconstructFixture.names {
            let fixture = try ReconstructFixture(name)
            let decoder = try fixture.model("decoder")
            let states = try fixture.encoderStates()
            stops.formUnion(fixture.chunks.map(\.stop))
            let requests = zip(states, fixture.chunks).map { DecodingRequest(ssm: $0.ssm, conv: $0.conv, maxNewTokens: $1.maxNewTokens) }
            let results = try GreedyDecoder(model: decoder, batchSize: 4).decode(requests)
            for (i, (result, chunk)) in zip(results, fixture.chunks).enumerated() {
                XCTAssertEqual(result, DecodedSequence(tokens: chunk.recon, stop: chunk.stop), "\(name) chunk \(i)")
            }

            // Teacher-forced steps along the fixture's path: the logits of its first steps.
            let v = decoder.config.vocabSize
            let logits = try NPYArray.read(contentsOf: fixture.folder.appendingPathComponent("first_logits.npy")).floats()
            for (i, chunk) in fixture.chunks.enumerated() {
                let cache = try MambaCache(config: decoder.config, sequences: [states[i]])
                let inputs = [decoder.config.eosTokenID] + chunk.generated
                for s in 0..<min(fixture.firstSteps, chunk.generated.count) {
                    let mine = try decoder.step(tokens: [inputs[s]], cache: cache)
                    let start = (i * fixture.firstSteps + s) * v
                    assertClose(mine, Array(logits[start ..< start + v]), relativeToMax: tolerance, "\(name) chunk \(i) step \(s) logits")
                }
            }
        }
        XCTAssertEqual(stops, [.eos, .length], "the fixtures exercise both stop reasons")
    }

    /// The recurrent steps are the train stage's decoder read over the growing sequence: at every step, the
    /// argmax of a full forward over [eos] + generated from the encoder's cache is the next token. The same with
    /// the decoder's eos_token_id made 3: decoding starts from and stops at the config's eos, not at id 0.
    func testEqualsTheDecoderOverTheGrowingSequence() throws {
        for name in ReconstructFixture.names {
            let fixture = try ReconstructFixture(name)
            let encoder = try fixture.model("encoder"), decoder = try fixture.model("decoder")
            var requests: [DecodingRequest] = []
            var caches: [MambaCache] = []
            for chunk in fixture.chunks {
                let cache = MambaCache(config: encoder.config, batchSize: 1)
                try encoder.forward(tokens: chunk.tokens, batchSize: 1, cache: cache)
                caches.append(cache)
                requests.append(DecodingRequest(ssm: cache.ssm, conv: cache.conv, maxNewTokens: chunk.maxNewTokens))
            }
            var otherEOS = decoder.config
            otherEOS.eosTokenID = 3
            let renamed = MambaModel(config: otherEOS)
            renamed.parameters.pointer.update(from: decoder.parameters.pointer, count: decoder.parameters.count)
            for model in [decoder, renamed] {
                let eos = model.config.eosTokenID
                let results = try GreedyDecoder(model: model, batchSize: 5).decode(requests)
                for (i, cache) in caches.enumerated() {
                    var generated: [Int32] = []
                    var stop = DecodingStop.length
                    while generated.count < requests[i].maxNewTokens {
                        let logits = try model.forward(tokens: [eos] + generated, batchSize: 1, cache: cache.copy(),
                                                       logits: .lastToken)!
                        let next = Int32(logits.indices.max { logits[$0] < logits[$1] }!)  // the first of equal maxima
                        if next == eos { stop = .eos; break }
                        generated.append(next)
                    }
                    XCTAssertEqual(results[i], DecodedSequence(tokens: generated, stop: stop), "\(name) chunk \(i) eos \(eos)")
                    if eos == 0 {
                        XCTAssertEqual(results[i].tokens, fixture.chunks[i].recon, "\(name) chunk \(i): Swift's encoder state gives transformers' ids")
                    }
                }
                if eos != 0 {
                    XCTAssertNotEqual(results.map(\.tokens), fixture.chunks.map(\.recon), "\(name): another first input, other reconstructions")
                }
            }
        }
    }

    /// A chunk's reconstruction does not depend on its batch-mates, the batch size, or when it joins the batch.
    func testResultsDoNotDependOnTheBatch() throws {
        let fixture = try ReconstructFixture("small")
        let decoder = try fixture.model("decoder")
        let states = try fixture.encoderStates()
        let requests = zip(states, fixture.chunks).map { DecodingRequest(ssm: $0.ssm, conv: $0.conv, maxNewTokens: $1.maxNewTokens) }
        let alone = try requests.map { try GreedyDecoder(model: decoder, batchSize: 1).decode([$0])[0] }
        for batchSize in [1, 2, 7, 64] {
            XCTAssertEqual(try GreedyDecoder(model: decoder, batchSize: batchSize).decode(requests), alone, "batch size \(batchSize)")
        }
        // Reversed order: other batch-mates, other slots.
        XCTAssertEqual(try GreedyDecoder(model: decoder, batchSize: 3).decode(requests.reversed()), alone.reversed())
    }

    /// `maxNewTokens` counts every generated token, a stopping eos included; `run` reports each request once.
    func testMaxNewTokensAndRunOrder() throws {
        let fixture = try ReconstructFixture("small")
        let decoder = try fixture.model("decoder")
        let states = try fixture.encoderStates()
        for limit in [1, 2, 3] {
            let requests = states.map { DecodingRequest(ssm: $0.ssm, conv: $0.conv, maxNewTokens: limit) }
            let results = try GreedyDecoder(model: decoder, batchSize: 4).decode(requests)
            for (result, chunk) in zip(results, fixture.chunks) {
                let prefix = Array(chunk.generated.prefix(limit))
                let expected = prefix.last == decoder.config.eosTokenID
                    ? DecodedSequence(tokens: prefix.dropLast(), stop: .eos) : DecodedSequence(tokens: prefix, stop: .length)
                XCTAssertEqual(result, expected, "max \(limit)")
            }
        }
        // A budget of 0 generates nothing; finished requests come out as they finish, each once.
        var requests = states.prefix(5).map { DecodingRequest(ssm: $0.ssm, conv: $0.conv, maxNewTokens: 6) }
        requests[2].maxNewTokens = 0
        var order: [Int] = []
        var results: [Int: DecodedSequence] = [:]
        var iterator = requests.makeIterator()
        try GreedyDecoder(model: decoder, batchSize: 2).run(next: { iterator.next() }) { number, result in
            order.append(number)
            results[number] = result
        }
        XCTAssertEqual(order.sorted(), Array(0..<5))
        XCTAssertEqual(results[2], DecodedSequence(tokens: [], stop: .length))
    }

    func testRejectsStatesOfAnotherShape() throws {
        let fixture = try ReconstructFixture("small")
        let decoder = try ReconstructFixture("odd").model("decoder")
        let state = try fixture.encoderStates()[0]
        XCTAssertThrowsError(try GreedyDecoder(model: decoder, batchSize: 2).decode([DecodingRequest(ssm: state.ssm, conv: state.conv, maxNewTokens: 3)])) {
            XCTAssert("\($0)".contains("ssm state has"), "\($0)")
        }
        XCTAssertThrowsError(try GreedyDecoder(model: decoder, batchSize: 0))
    }

    /// torch.argmax: the first of equal maxima; a NaN is the maximum.
    func testArgmaxFollowsTorch() {
        func argmaxOf(_ values: [Float]) -> Int { values.withUnsafeBufferPointer { argmax($0.baseAddress!, count: $0.count) } }
        XCTAssertEqual(argmaxOf([1, 3, 3, 2]), 1)
        XCTAssertEqual(argmaxOf([-.infinity, -.infinity]), 0)
        XCTAssertEqual(argmaxOf([1, .nan, 5, .nan]), 1)
        XCTAssertEqual(argmaxOf([.infinity, 2, .infinity]), 0)
        XCTAssertEqual(argmaxOf([-2, -1, -3]), 1)
    }

    func testCacheAppendMoveAndRemove() throws {
        let config = MambaConfig(hiddenSize: 4, stateSize: 2, numLayers: 1, convKernel: 2, vocabSize: 8)
        let cache = MambaCache(config: config, batchSize: 0)
        let (s, c) = (cache.ssmCountPerSequence, cache.convCountPerSequence)
        for b in 0..<3 {
            try cache.append(ssm: [Float](repeating: Float(b), count: s), conv: [Float](repeating: Float(10 + b), count: c))
        }
        XCTAssertEqual(cache.batchSize, 3)
        try cache.moveSequence(2, to: 0)
        XCTAssertEqual(cache.ssmState(sequence: 0), [Float](repeating: 2, count: s))
        XCTAssertEqual(cache.convState(sequence: 0), [Float](repeating: 12, count: c))
        XCTAssertEqual(cache.ssmState(sequence: 1), [Float](repeating: 1, count: s))
        try cache.removeLast(1)
        XCTAssertEqual(cache.batchSize, 2)
        XCTAssertEqual(cache.ssm.count, 2 * s)
        XCTAssertEqual(cache.conv.count, 2 * c)
        XCTAssertThrowsError(try cache.moveSequence(2, to: 0))
        XCTAssertThrowsError(try cache.removeLast(3))
        XCTAssertThrowsError(try cache.append(ssm: [1], conv: [Float](repeating: 0, count: c)))
    }
}
