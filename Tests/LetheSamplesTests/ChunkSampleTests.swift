import Foundation
import LetheSamples
import LetheShards
import XCTest

/// The repository's root, where README.md is.
private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

final class ChunkSampleTests: XCTestCase {
    private func tokensSample() -> ChunkSample {
        let metadata = ChunkMetadata(text: " a b", dataset: "prose", source: "in.jsonl", document: 3, line: 4, length: 2, documents: 1,
                                     tokenOffset: 0, firstWord: 0, metadata: ["id": 7],
                                     words: [ChunkWord(text: "a", labels: ["pos": "DT"], sentence: 0, span: 0..<1),
                                             ChunkWord(text: "b", labels: [:], sentence: nil, span: nil)])
        return ChunkSample(key: "b000000-s000000", metadata: metadata, tokens: [5, 9])
    }

    /// Every kind is written with its members in ChunkKind's order and reads back equal, through a real shard.
    func testEachKindRoundTripsThroughAShardInItsMemberOrder() throws {
        var chunk = tokensSample()
        chunk.otherMembers = [.init(ext: "note.txt", data: Array("mine".utf8))]
        var samples: [ChunkKind: ChunkSample] = [.tokens: chunk]
        chunk.surprisal = [.nan, 1.5]
        chunk.metadata.encoder = ["model": "m", "config": ["ssm_shape": [2, 3, 4]]]
        chunk.metadata.stateDType = "float16"
        chunk.states = EncoderStates(ssm: NPYArray(float16: (0..<24).map(Float.init), shape: [2, 3, 4]),
                                     conv: NPYArray(float16: (0..<12).map(Float.init), shape: [2, 3, 2]))
        samples[.states] = chunk
        chunk.states = nil
        chunk.metadata.reference = " a b"
        chunk.metadata.reconstruction = " a"
        chunk.metadata.stop = "eos"
        chunk.reconstruction = [5]
        samples[.reconstruction] = chunk
        chunk.metadata.setScores(rouge1: 1, recall: 0.5, f1: 2.0 / 3, referenceWords: 2, retainedWords: 1,
                                 tokenFates: ["kept": 1, "dropped": 1])
        chunk.words = Array("{\"words\":[]}".utf8)
        samples[.annotation] = chunk

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-samples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for kind in ChunkKind.allCases {
            let written = samples[kind]!
            XCTAssertEqual(written.kind, kind)
            let url = folder.appendingPathComponent("\(kind).tar.zst")
            let writer = try ShardWriter(url: url)
            try writer.append(written.shardSample())
            _ = try writer.finish()
            let read = try XCTUnwrap(try ShardReader(url: url).next())
            var expected = kind.members.map(\.ext) + (kind.carriesOtherMembers ? ["note.txt"] : [])
            if kind != .tokens { expected.insert("surprisal.npy", at: 2) }
            XCTAssertEqual(read.members.map(\.ext), expected, "\(kind)")
            let back = try ChunkSample(read, as: kind, vocabularySize: 10)
            XCTAssertEqual(back.kind, kind)
            XCTAssertEqual(back.metadata, written.metadata)
            XCTAssertEqual(back.tokens, written.tokens)
            XCTAssertEqual(back.states, written.states)
            XCTAssertEqual(back.surprisal?.map(\.bitPattern), written.surprisal?.map(\.bitPattern))
            XCTAssertEqual(back.reconstruction, written.reconstruction)
            XCTAssertEqual(back.words, written.words)
            XCTAssertEqual(back.otherMembers.map(\.ext), kind.carriesOtherMembers ? ["note.txt"] : [])
            XCTAssertEqual(back.origin, "\(url.path): sample b000000-s000000")
        }
        // A later kind read as an earlier one leaves the later members out.
        let statesAsTokens = try ChunkSample(samples[.states]!.shardSample(), as: .tokens)
        XCTAssertNil(statesAsTokens.states)
        XCTAssertEqual(statesAsTokens.shardSample().members.map(\.ext), ["json", "tokens.npy", "note.txt"])
        XCTAssertNil(statesAsTokens.surprisal)
    }

    func testMetadataFieldsAreTyped() throws {
        let chunk = tokensSample()
        XCTAssertEqual(chunk.metadata.text, " a b")
        XCTAssertEqual(chunk.metadata.dataset, "prose")
        XCTAssertEqual(try chunk.metadata.words(tokenCount: 2),
                       [ChunkWord(text: "a", labels: ["pos": "DT"], sentence: 0, span: 0..<1),
                        ChunkWord(text: "b", labels: [:], sentence: nil, span: nil)])
        XCTAssertEqual(chunk.metadata.json["words"]?[0], ["text": "a", "labels": ["pos": "DT"], "sentence": 0, "span": [0, 1]])
        XCTAssertThrowsError(try chunk.metadata.words(tokenCount: 0)) { error in
            XCTAssertEqual("\(error)", "words[0].span must be [start, end] within the chunk's 0 tokens")
        }
        // The Pile's subset names the dataset a chunk is reported under.
        var pile = try ChunkMetadata(json: ["dataset": "pile", "metadata": ["meta": ["pile_set_name": "ArXiv"]]])
        XCTAssertEqual(pile.reportedDataset, "ArXiv")
        pile = try ChunkMetadata(json: ["dataset": ""])
        XCTAssertNil(pile.reportedDataset)
        XCTAssertThrowsError(try ChunkMetadata(json: [1, 2]))
    }

    /// A sample that is not of the kind asked for is refused with one line naming the shard, the sample and what
    /// is wrong.
    func testWrongSamplesAreRefusedNamingWhatIsWrong() throws {
        var good = tokensSample()
        good.source = "s.tar.zst"
        var sample = good.shardSample()
        func refusal(_ sample: ShardSample, as kind: ChunkKind, vocabularySize: Int? = nil) -> String {
            do { _ = try ChunkSample(sample, as: kind, vocabularySize: vocabularySize); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(sample, as: .states),
                       "s.tar.zst: sample b000000-s000000: no KEY.ssm.npy: not an encode output (it has: json, tokens.npy)")
        XCTAssertEqual(refusal(sample, as: .tokens, vocabularySize: 9),
                       "s.tar.zst: sample b000000-s000000: token id 9 is outside the model's vocabulary 0..<9 (tokenized with another tokenizer?)")
        sample.set("tokens", npy: NPYArray(int32: [], shape: [0]))
        XCTAssertEqual(refusal(sample, as: .tokens),
                       "s.tar.zst: sample b000000-s000000: tokens.npy has shape [0]; expected a non-empty 1-D array of token ids")
        XCTAssertEqual(refusal(sample, as: .reconstruction).contains("no KEY.recon.npy: not a reconstruct output"), true)
        sample.set("tokens", npy: NPYArray(float32: [1], shape: [1]))
        XCTAssertTrue(refusal(sample, as: .tokens).hasPrefix("s.tar.zst: sample b000000-s000000: tokens.npy: "))
        sample = good.shardSample()
        sample.set("ssm", npy: NPYArray(int32: [1], shape: [1, 1, 1]))
        sample.set("conv", npy: NPYArray(float32: [1], shape: [1, 1]))
        XCTAssertEqual(refusal(sample, as: .states),
                       "s.tar.zst: sample b000000-s000000: ssm.npy is int32; expected float32 or float16")
        sample.set("ssm", npy: NPYArray(float32: [1], shape: [1, 1, 1]))
        XCTAssertEqual(refusal(sample, as: .states),
                       "s.tar.zst: sample b000000-s000000: conv.npy has shape [1, 1]; expected [n_layer, d_inner, conv_kernel]")
        sample.set("ssm", npy: NPYArray(float32: [1], shape: [1, 1, 1]))
        sample.set("conv", npy: NPYArray(float32: [1], shape: [1, 1, 1]))
        sample.set("surprisal", npy: NPYArray(float32: [1], shape: [1]))
        XCTAssertEqual(refusal(sample, as: .states), "s.tar.zst: sample b000000-s000000: surprisal.npy has 1 values for 2 tokens")
        sample.set("json", data: Array("[1]".utf8))
        XCTAssertEqual(refusal(sample, as: .tokens), "s.tar.zst: sample b000000-s000000: KEY.json is not an object")

        let states = EncoderStates(ssm: NPYArray(float32: [1], shape: [1, 1, 1]), conv: NPYArray(float32: [1], shape: [1, 1, 1]))
        XCTAssertThrowsError(try states.check(ssmShape: [1, 1, 2], convShape: [1, 1, 1], origin: "here", whose: "the decoder's")) { error in
            XCTAssertEqual("\(error)", "here: ssm.npy has shape [1, 1, 1], the decoder's is [1, 1, 2] [n_layer, d_inner, d_state]: the decoder must have the encoder's state shapes")
        }
    }

    /// The facts round-trip through JSON, and a manifest of older code (fields missing) reads as zeros.
    func testStageFactsRoundTrip() throws {
        var tokenize = TokenizeFacts()
        tokenize.documents = 3; tokenize.tokens = 40; tokenize.samplesPerDataset = ["a": 2]
        XCTAssertNil(tokenize.json["tokenizer"], "a block's facts have no run-level fields")
        tokenize.run = .init(documentsSkipped: 1, skippedLines: 1, skippedLineExamples: ["f:1: bad"], tokenizerPath: "t.json",
                             tokenizerSHA256: "ab")
        XCTAssertEqual(TokenizeFacts(json: tokenize.json), tokenize)
        var encode = EncodeFacts(chunks: 2, tokens: 8, batches: 1)
        encode.encoder = ["model": "m", "config": ["ssm_shape": [1, 2, 3], "conv_shape": [1, 2, 4]]]
        XCTAssertEqual(EncodeFacts(json: encode.json), encode)
        XCTAssertEqual(encode.stateShapes?.ssm, [1, 2, 3])
        XCTAssertEqual(encode.stateShapes?.conv, [1, 2, 4])
        XCTAssertNil(EncodeFacts(json: [:]).stateShapes)
        var reconstruct = ReconstructFacts()
        reconstruct.chunks = 2; reconstruct.stoppedAtEOS = 1; reconstruct.stoppedAtLength = 1
        XCTAssertEqual(ReconstructFacts(json: reconstruct.json), reconstruct)
        var annotate = AnnotateFacts()
        annotate.keptTokens = 5
        XCTAssertEqual(AnnotateFacts(json: annotate.json), annotate)
        XCTAssertEqual(AnnotateFacts(json: [:]), AnnotateFacts())
    }

    /// README's "Shard files" table is the user's copy of these descriptions: each kind's row names the members
    /// its stage adds with their dtypes, the KEY.json fields its stage adds and the facts of its manifest.
    func testTheREADMEShardTableMatchesTheDescriptions() throws {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        var tokenize = TokenizeFacts()
        tokenize.run = .init(documentsSkipped: 0, skippedLines: 0, skippedLineExamples: [""], tokenizerPath: "", tokenizerSHA256: "")
        var encode = EncodeFacts(chunks: 0, tokens: 0, batches: 0)
        encode.encoder = .null
        encode.stateDType = ""
        var reconstruct = ReconstructFacts()
        reconstruct.decoder = .null
        let facts: [ChunkKind: JSONValue] = [.tokens: tokenize.json, .states: encode.json, .reconstruction: reconstruct.json,
                                             .annotation: AnnotateFacts().json]
        for (index, kind) in ChunkKind.allCases.enumerated() {
            let earlier = index == 0 ? [] : ChunkKind.allCases[index - 1].members
            let row = try XCTUnwrap(readme.split(separator: "\n").first { $0.hasPrefix("| \(kind.producer) |") }, "\(kind.producer)")
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(cells.count, 4, String(row))
            for member in kind.members where member.ext != "json" && !earlier.contains(member) {
                XCTAssertTrue(cells[1].contains("`KEY.\(member.ext)`"), "\(kind.producer): member \(member.ext)")
                for dtype in member.dtypes { XCTAssertTrue(cells[1].contains(dtype.name), "\(kind.producer): \(member.ext) \(dtype.name)") }
            }
            for field in kind.metadataFields { XCTAssertTrue(cells[2].contains("`\(field)`"), "\(kind.producer): KEY.json field \(field)") }
            for field in facts[kind]!.objectValue!.keys {
                XCTAssertTrue(cells[3].contains("`\(field)`"), "\(kind.producer): extra field \(field)")
            }
        }
    }
}
