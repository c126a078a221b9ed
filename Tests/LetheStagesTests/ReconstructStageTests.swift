import Foundation
import XCTest
import LetheModel
import LethePipeline
import LetheShards
import LetheTestSupport

/// lethe-encode then lethe-reconstruct as processes, on Tests/Fixtures/reconstruct: an encoder, a decoder
/// trained briefly as its auto-encoder, and the greedy reconstructions transformers made from the same states.
final class ReconstructStageTests: XCTestCase {
    struct Chunk {
        let tokens: [Int32]
        let generated: [Int32]  // every argmax, a stopping eos included
        let recon: [Int32]
        let stop: String
        let text: String  // tokens and recon decoded by `tokenizers` with the default tokenizer
        let reconText: String
    }

    func fixtureChunks(_ name: String) throws -> [Chunk] {
        let url = reconstructFixtures.appendingPathComponent("\(name)/chunks.json")
        let json = try JSONValue.read(contentsOf: url)
        return try XCTUnwrap(json["chunks"]?.arrayValue).map { c in
            func ids(_ key: String) -> [Int32] { (c[key]?.arrayValue ?? []).map { Int32($0.intValue!) } }
            return Chunk(tokens: ids("tokens"), generated: ids("generated"), recon: ids("recon"), stop: c["stop"]!.stringValue!,
                         text: c["text"]!.stringValue!, reconText: c["recon_text"]!.stringValue!)
        }
    }

    func model(_ name: String, _ which: String) -> String { reconstructFixtures.appendingPathComponent("\(name)/\(which)").path }

    /// Tokenizes nothing: writes the fixture's chunks as token shards (three shards), then encodes them.
    func encode(_ name: String, in sandbox: Sandbox) throws -> [Chunk] {
        let chunks = try fixtureChunks(name)
        let samples = chunks.enumerated().map { tokenSample("c\($0.offset)", $0.element.tokens, text: $0.element.text, dataset: name) }
        let third = (samples.count + 2) / 3
        try writeTokenFolder(sandbox, "stages/tokens-\(name)", shards: stride(from: 0, to: samples.count, by: third).map {
            Array(samples[$0 ..< min($0 + third, samples.count)])
        })
        let result = try sandbox.run("lethe-encode", ["--input", "stages/tokens-\(name)", "--model", model(name, "encoder"),
                                                      "--output", "stages/encode-\(name)", "--batch-size", "4"])
        XCTAssertEqual(result.status, 0, result.error)
        // The encoder states are transformers' (the fixture's oracle), within 1e-4 of each tensor's largest magnitude.
        let ssm = try rows(of: reconstructFixtures.appendingPathComponent("\(name)/encoder_ssm.npy"))
        for (i, sample) in try sandbox.samples("stages/encode-\(name)").enumerated() {
            assertClose(try sample.npy("ssm").floats(), ssm[i], relativeToMax: 1e-4, "\(name) chunk \(i) encoder ssm")
        }
        return chunks
    }

    /// Ids, stop reasons and texts equal transformers' greedy decoding of the same chunks; metadata and tokens
    /// are carried forward, the states are not; batch size and threads do not change a byte.
    func testReconstructionsMatchTransformers() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        for name in ["small", "odd", "falcon", "mamba2"] {
            let chunks = try encode(name, in: sandbox)
            let arguments = ["--input", "stages/encode-\(name)", "--model", model(name, "decoder")]
            var result = try sandbox.run("lethe-reconstruct", arguments + ["--output", "stages/recon-\(name)", "--batch-size", "5"])
            XCTAssertEqual(result.status, 0, result.error)
            let inputs = try sandbox.samples("stages/encode-\(name)"), outputs = try sandbox.samples("stages/recon-\(name)")
            XCTAssertEqual(outputs.map(\.key), inputs.map(\.key))
            for (i, (chunk, (input, output))) in zip(chunks, zip(inputs, outputs)).enumerated() {
                XCTAssertEqual(output.members.map(\.ext), ["json", "tokens.npy", "recon.npy"], "no states, the reconstruction kind's member order")
                XCTAssertEqual(output.data("tokens.npy"), input.data("tokens.npy"))
                let recon = try output.npy("recon")
                XCTAssertEqual(recon.dtype, .int32)
                XCTAssertEqual(try recon.int32s(), chunk.recon, "\(name) chunk \(i)")
                let before = try input.json().objectValue!, after = try output.json().objectValue!
                for (key, value) in before { XCTAssertEqual(after[key], value, "\(name) chunk \(i): \(key) carried forward") }
                XCTAssertEqual(Set(after.keys).subtracting(before.keys), ["reference", "reconstruction", "stop", "decoder"])
                XCTAssertEqual(after["stop"]?.stringValue, chunk.stop, "\(name) chunk \(i)")
                XCTAssertEqual(after["reference"]?.stringValue, chunk.text)
                XCTAssertEqual(after["reconstruction"]?.stringValue, chunk.reconText, "\(name) chunk \(i)")
                XCTAssertEqual(after["decoder"]?["model"], "decoder")
            }
            let extra = try XCTUnwrap(try StageFolder(url: sandbox.path("stages/recon-\(name)")).manifest()?.extra)
            XCTAssertEqual(extra["chunks"]?.intValue, chunks.count)
            XCTAssertEqual(extra["stopped_at_eos"]?.intValue, chunks.filter { $0.stop == "eos" }.count)
            XCTAssertEqual(extra["generated_tokens"]?.intValue, chunks.reduce(0) { $0 + $1.recon.count })
            XCTAssertEqual(extra["exact_reconstructions"]?.intValue, chunks.filter { $0.recon == $0.tokens }.count)
            XCTAssertEqual(extra["decoder"]?["config"]?["vocab_size"], ["small": 32, "odd": 29, "falcon": 31, "mamba2": 37][name].map { .int($0) })
            XCTAssertEqual(extra["decoder"]?["config"]?["model_type"]?.stringValue, ["falcon": "falcon_mamba", "mamba2": "mamba2"][name] ?? "mamba")

            result = try sandbox.run("lethe-reconstruct", arguments + ["--output", "stages/recon-\(name)-b1", "--batch-size", "1",
                                                                       "--threads", "1"])
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertEqual(try shardBytes(sandbox, "stages/recon-\(name)-b1"), try shardBytes(sandbox, "stages/recon-\(name)"))
        }
    }

    /// --max-new-tokens bounds every chunk's generated tokens, a stopping eos included. The decoder here sits where
    /// lethe-train writes its last checkpoint, and is named after it.
    func testMaxNewTokens() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let chunks = try encode("small", in: sandbox)
        try FileManager.default.createDirectory(at: sandbox.path("stages/train"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: model("small", "decoder"), toPath: sandbox.path("stages/train/final").path)
        let result = try sandbox.run("lethe-reconstruct", ["--input", "stages/encode-small", "--model", "stages/train/final",
                                                           "--output", "stages/recon", "--max-new-tokens", "2"])
        XCTAssertEqual(result.status, 0, result.error)
        let outputs = try sandbox.samples("stages/recon")
        XCTAssertEqual(try outputs[0].json()["decoder"]?["model"], "train/final")
        var stops: Set<String> = []
        for (chunk, output) in zip(chunks, outputs) {
            let prefix = Array(chunk.generated.prefix(2))
            let stop = prefix.last == 0 ? "eos" : "length"
            XCTAssertEqual(try output.npy("recon").int32s(), stop == "eos" ? Array(prefix.dropLast()) : prefix)
            XCTAssertEqual(try output.json()["stop"]?.stringValue, stop)
            stops.insert(stop)
        }
        XCTAssertEqual(stops, ["eos", "length"])
    }

    /// A decoder of other state shapes, input without states, a bad option: one line, nothing written.
    func testBadInputFailsWithOneLine() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        _ = try encode("small", in: sandbox)
        try assertFails(sandbox, "lethe-reconstruct", ["--input", "stages/encode-small", "--model", model("odd", "decoder")],
                        output: "stages/r1", saying: ["the decoder's states are ssm [3, 42, 5] and conv [3, 42, 3]",
                                                      "stages/encode-small holds states of ssm [2, 64, 8] and conv [2, 64, 4]"])
        // Per sample, when the encode stage's manifest says nothing about the states.
        var manifest = try XCTUnwrap(try StageFolder(url: sandbox.path("stages/encode-small")).manifest())
        manifest.extra = .object([:])
        try StageFolder(url: sandbox.path("stages/encode-small")).write(manifest)
        try assertFails(sandbox, "lethe-reconstruct", ["--input", "stages/encode-small", "--model", model("odd", "decoder")],
                        output: "stages/r2", saying: ["shard-000000.tar.zst: sample c0: ssm.npy has shape [2, 64, 8], the decoder's is [3, 42, 5]"])
        try assertFails(sandbox, "lethe-reconstruct", ["--input", "stages/tokens-small", "--model", model("small", "decoder")],
                        output: "stages/r3", saying: ["stages/tokens-small: not an encode output", "its samples have no KEY.ssm.npy"])
        try assertFails(sandbox, "lethe-reconstruct", ["--input", "stages/encode-small", "--model", model("small", "decoder"),
                                                       "--tokenizer", "nothing.json"],
                        output: "stages/r4", saying: ["nothing.json"])
    }
}
