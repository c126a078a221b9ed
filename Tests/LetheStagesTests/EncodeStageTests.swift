import Foundation
import XCTest
import LetheModel
import LethePipeline
import LetheShards
import LetheTestSupport

/// lethe-encode as a process, on the `even` model of Tests/Fixtures/model (hidden 48, 3 layers, d_state 16,
/// conv 4, vocab 192) and the final caches transformers computed for its chunks.
final class EncodeStageTests: XCTestCase {
    struct Chunk {
        let key: String
        let tokens: [Int32]
        let ssm: [Float]  // transformers' final cache
        let conv: [Float]
        let logits: [Float]  // transformers' logits, (L, V)
    }

    let model = modelFixtures.appendingPathComponent("even").path

    /// The fixture's chunks (two each of lengths 40, 1, 9, 3, 4) in an order where no neighbours share a length.
    func chunks() throws -> [Chunk] {
        let expected = modelFixtures.appendingPathComponent("expected/even")
        var byLength: [Int: [Chunk]] = [:]
        let lengths = [40, 1, 9, 3, 4]
        for length in lengths {
            let file = { (name: String) in expected.appendingPathComponent("len\(length).\(name).npy") }
            let tokens = try NPYArray.read(contentsOf: file("tokens")).int32s()
            let ssm = try rows(of: file("ssm")), conv = try rows(of: file("conv")), logits = try rows(of: file("logits"))
            byLength[length] = ssm.indices.map {
                Chunk(key: "len\(length)-\($0)", tokens: Array(tokens[$0 * length ..< ($0 + 1) * length]), ssm: ssm[$0], conv: conv[$0],
                      logits: logits[$0])
            }
        }
        return (0..<2).flatMap { b in lengths.map { byLength[$0]![b] } }
    }

    func samples(_ chunks: [Chunk]) -> [ShardSample] { chunks.map { tokenSample($0.key, $0.tokens) } }

    /// --surprisal: each token's -log p under the encoder, from transformers' logits of the fixture in float64
    /// (log_softmax of the previous position's logits at the token; NaN for the first token): within 2e-4 of the
    /// chunk's largest logit magnitude (the logits themselves agree to 1e-4 of it). The states are the same
    /// bytes as without the flag; batches of 2 and passes cut mid-chunk (tokens per pass) carry the prediction
    /// across the cut.
    func testSurprisalMatchesTransformersLogits() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let chunks = try chunks()
        try writeTokenFolder(sandbox, "stages/tokens", shards: [samples(chunks)])
        for (output, flags) in [("stages/plain", [String]()), ("stages/surprisal", ["--surprisal"])] {
            let result = try sandbox.run("lethe-encode", ["--input", "stages/tokens", "--model", model, "--output", output,
                                                          "--batch-size", "2"] + flags)
            XCTAssertEqual(result.status, 0, result.error)
        }
        let plain = try sandbox.samples("stages/plain"), outputs = try sandbox.samples("stages/surprisal")
        let vocabulary = 192
        for (chunk, (without, output)) in zip(chunks, zip(plain, outputs)) {
            XCTAssertEqual(output.members.map(\.ext), ["json", "tokens.npy", "surprisal.npy", "ssm.npy", "conv.npy"])
            XCTAssertEqual(output.data("ssm.npy"), without.data("ssm.npy"), "\(chunk.key): the same states")
            let surprisal = try output.npy("surprisal")
            XCTAssertEqual(surprisal.dtype, .float32)
            XCTAssertEqual(surprisal.shape, [chunk.tokens.count])
            let values = surprisal.floats()
            XCTAssertTrue(values[0].isNaN, "\(chunk.key): nothing predicts the first token")
            let scale = Double(chunk.logits.map(abs).max()!)
            for t in 1 ..< chunk.tokens.count {
                let row = chunk.logits[(t - 1) * vocabulary ..< t * vocabulary].map(Double.init)
                let top = row.max()!
                let expected = top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(chunk.tokens[t])]
                XCTAssertLessThanOrEqual(abs(Double(values[t]) - expected), 2e-4 * scale, "\(chunk.key) token \(t)")
            }
        }
    }

    /// Mixed lengths in one shard, batches of 2: the samples come out in input order, carry their members and
    /// metadata, and hold transformers' final cache (1e-4 of the tensor's largest magnitude), which is also
    /// LetheModel's forward pass over the chunk alone (1e-6).
    func testStatesMatchTransformersAndComeOutInInputOrder() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let chunks = try chunks()
        try writeTokenFolder(sandbox, "stages/tokens", shards: [samples(chunks)])
        let result = try sandbox.run("lethe-encode", ["--input", "stages/tokens", "--model", model, "--output", "stages/encode",
                                                      "--batch-size", "2"])
        XCTAssertEqual(result.status, 0, result.error)

        let inputs = try sandbox.samples("stages/tokens"), outputs = try sandbox.samples("stages/encode")
        XCTAssertEqual(outputs.map(\.key), chunks.map(\.key))
        let encoder = try MambaModel.load(from: URL(fileURLWithPath: model))
        for (chunk, (input, output)) in zip(chunks, zip(inputs, outputs)) {
            XCTAssertEqual(output.members.map(\.ext), ["json", "tokens.npy", "ssm.npy", "conv.npy"], "the states kind's member order")
            XCTAssertEqual(output.data("tokens.npy"), input.data("tokens.npy"))
            let before = try input.json().objectValue!, after = try output.json().objectValue!
            for (key, value) in before { XCTAssertEqual(after[key], value, "\(chunk.key): \(key) carried forward") }
            XCTAssertEqual(Set(after.keys).subtracting(before.keys), ["encoder", "state_dtype"])
            XCTAssertEqual(after["encoder"]?["model"], "even", "the folder's name, not its path")
            XCTAssertEqual(after["encoder"]?["config"]?["hidden_size"], 48)
            XCTAssertEqual(after["encoder"]?["config"]?["ssm_shape"], [3, 96, 16])
            XCTAssertEqual(after["state_dtype"], "float32")

            let ssm = try output.npy("ssm"), conv = try output.npy("conv")
            XCTAssertEqual(ssm.dtype, .float32)
            XCTAssertEqual(ssm.shape, [3, 96, 16])
            XCTAssertEqual(conv.shape, [3, 96, 4])
            assertClose(ssm.floats(), chunk.ssm, relativeToMax: 1e-4, "\(chunk.key) ssm vs transformers")
            assertClose(conv.floats(), chunk.conv, relativeToMax: 1e-4, "\(chunk.key) conv vs transformers")
            let alone = MambaCache(config: encoder.config, batchSize: 1)
            try encoder.forward(tokens: chunk.tokens, batchSize: 1, cache: alone)
            assertClose(ssm.floats(), alone.ssm, relativeToMax: 1e-6, "\(chunk.key) ssm vs the chunk alone")
            assertClose(conv.floats(), alone.conv, relativeToMax: 1e-6, "\(chunk.key) conv vs the chunk alone")
        }
        let extra = try XCTUnwrap(try StageFolder(url: sandbox.path("stages/encode")).manifest()?.extra)
        XCTAssertEqual(extra["chunks"], 10)
        XCTAssertEqual(extra["tokens"]?.intValue, chunks.reduce(0) { $0 + $1.tokens.count })
        XCTAssertEqual(extra["batches"], 5)
        XCTAssertEqual(extra["encoder"]?["config"]?["hidden_size"], 48, "the identity is not summed over shards")
    }

    /// Debian's OpenBLAS falls back to its Prescott kernels (a quarter of the speed) on a CPU it does not know, as
    /// on the development machine; lethe-encode then starts itself again with OPENBLAS_CORETYPE naming the kernels
    /// the CPU runs (BLASCore), and the states are the same to float32 rounding. A user's OPENBLAS_CORETYPE is kept.
    /// OPENBLAS_VERBOSE=2 makes OpenBLAS print "Core: NAME" on standard error each time it loads.
    func testMatrixProductsRunTheCPUsKernels() throws {
        guard let best = BLASCore.bestForThisCPU else { throw XCTSkip("this CPU runs neither AVX2 nor AVX-512 kernels") }
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let chunks = try chunks()
        try writeTokenFolder(sandbox, "stages/tokens", shards: [samples(chunks)])
        func encode(_ output: String, coreType: String?) throws -> [String] {
            let result = try sandbox.run("lethe-encode", ["--input", "stages/tokens", "--model", model, "--output", output],
                                         environment: ["OPENBLAS_VERBOSE": "2", "OPENBLAS_CORETYPE": coreType])
            XCTAssertEqual(result.status, 0, result.error)
            return result.error.split(separator: "\n").filter { $0.hasPrefix("Core: ") }.map { String($0.dropFirst(6)) }
        }
        let chosen = try encode("stages/chosen", coreType: nil)
        XCTAssertNotEqual(chosen.last?.lowercased(), "prescott", "OpenBLAS ran its fallback kernels: \(chosen)")
        if chosen.first?.lowercased() == "prescott" { XCTAssertEqual(chosen, ["Prescott", best]) }
        XCTAssertEqual(try encode("stages/prescott", coreType: "Prescott"), ["Prescott"], "the user's choice is kept")

        for (fast, slow) in zip(try sandbox.samples("stages/chosen"), try sandbox.samples("stages/prescott")) {
            assertClose(try fast.npy("ssm").floats(), try slow.npy("ssm").floats(), relativeToMax: 1e-5, fast.key)
            assertClose(try fast.npy("conv").floats(), try slow.npy("conv").floats(), relativeToMax: 1e-5, fast.key)
        }
    }

    /// --threads and worker splits give the same bytes, surprisal included; --state-dtype float16 stores the float32
    /// states rounded.
    func testThreadsWorkersAndFloat16() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let all = samples(try chunks())
        try writeTokenFolder(sandbox, "stages/tokens", shards: [Array(all[..<6]), Array(all[6...])])
        let arguments = ["--input", "stages/tokens", "--model", model, "--batch-size", "3", "--surprisal"]
        for (output, extra) in [("stages/two", ["--threads", "2"]), ("stages/one", ["--threads", "1"]),
                                ("stages/half", ["--state-dtype", "float16"])] {
            let result = try sandbox.run("lethe-encode", arguments + extra + ["--output", output])
            XCTAssertEqual(result.status, 0, result.error)
        }
        for index in 0..<2 {
            let result = try sandbox.run("lethe-encode", arguments + ["--output", "stages/split", "--num-shards", "2", "--shard-index", "\(index)"])
            XCTAssertEqual(result.status, 0, result.error)
        }
        let reference = try shardBytes(sandbox, "stages/two")
        XCTAssertEqual(reference.count, 2)
        XCTAssertEqual(try shardBytes(sandbox, "stages/one"), reference, "--threads 1 and 2 write the same bytes")
        XCTAssertEqual(try shardBytes(sandbox, "stages/split"), reference, "two workers write the same bytes")

        for (full, half) in zip(try sandbox.samples("stages/two"), try sandbox.samples("stages/half")) {
            for name in ["ssm", "conv"] {
                let f = try full.npy(name), h = try half.npy(name)
                XCTAssertEqual(h.dtype, .float16)
                XCTAssertEqual(h.shape, f.shape)
                XCTAssertEqual(h.floats(), f.floats().map { Float(Float16($0)) }, "\(full.key) \(name)")
            }
            XCTAssertEqual(try half.json()["state_dtype"], "float16")
        }
    }

    /// A run killed part-way keeps its finished shards; the next run does only the rest, and the result is the
    /// same, byte for byte, as an uninterrupted run.
    func testResumeAfterKill() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        // Four shards of 400 chunks of 40 tokens: long enough to be killed after the first shard.
        let base = try chunks()[0].tokens
        let shards = (0..<4).map { s in
            (0..<400).map { i in tokenSample("s\(s)-\(i)", base.map { Int32((Int($0) + s * 7 + i) % 192) }) }
        }
        try writeTokenFolder(sandbox, "stages/tokens", shards: shards)
        let arguments = ["--input", "stages/tokens", "--model", model, "--threads", "1", "--progress", "off"]

        let process = try startProduct("lethe-encode", arguments + ["--output", "stages/resumed"], in: sandbox.url,
                                       hashCache: "off").process
        let firstRecord = sandbox.path("stages/resumed/shard-000000.json").path
        while process.isRunning && !FileManager.default.fileExists(atPath: firstRecord) { usleep(2000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.path("stages/resumed/manifest.json").path),
                       "the run finished before it could be killed")

        let resumed = try sandbox.run("lethe-encode", arguments.dropLast(2) + ["--output", "stages/resumed", "--progress", "lines"])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.error.contains("already done") && !resumed.error.contains("(0 already done"), resumed.error)
        let uninterrupted = try sandbox.run("lethe-encode", arguments + ["--output", "stages/full"])
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)
        XCTAssertEqual(try shardBytes(sandbox, "stages/resumed"), try shardBytes(sandbox, "stages/full"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: sandbox.path("stages/resumed").path).filter { $0.contains(".tmp") }
        XCTAssertEqual(leftovers, [], "no temporary file is left behind")
    }

    /// Bad input stops the stage with one line naming the shard and sample; shards finished before stay.
    func testBadInputFailsWithOneLine() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let good = samples(try chunks())
        func folder(_ name: String, _ bad: ShardSample) throws -> [String] {
            try writeTokenFolder(sandbox, "stages/\(name)", shards: [good, [good[0], bad]])
            return ["--input", "stages/\(name)", "--model", model]
        }
        try assertFails(sandbox, "lethe-encode", try folder("big", tokenSample("big", [1, 192, 3])), output: "stages/o1",
                        saying: ["stages/big/shard-000001.tar.zst: sample big: token id 192 is outside the model's vocabulary 0..<192"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.path("stages/o1/shard-000000.json").path),
                      "the good shard before the bad one is kept")
        try assertFails(sandbox, "lethe-encode", try folder("negative", tokenSample("neg", [-1])), output: "stages/o2",
                        saying: ["sample neg: token id -1"])
        try assertFails(sandbox, "lethe-encode", try folder("empty", tokenSample("empty", [])), output: "stages/o3",
                        saying: ["sample empty: tokens.npy has shape [0]; expected a non-empty 1-D array"])
        var floats = ShardSample(key: "floats")
        floats.set("tokens", npy: NPYArray(float32: [1, 2], shape: [2]))
        floats.setJSON(["text": "x"])
        try assertFails(sandbox, "lethe-encode", try folder("floats", floats), output: "stages/o4",
                        saying: ["sample floats: tokens.npy", "float32"])
        var noTokens = ShardSample(key: "notokens")
        noTokens.setJSON(["text": "x"])
        try assertFails(sandbox, "lethe-encode", try folder("missing", noTokens), output: "stages/o5",
                        saying: ["sample notokens: no KEY.tokens.npy: not a tokenize output"])

        let args = ["--input", "stages/big"]
        try assertFails(sandbox, "lethe-encode", ["--input", "stages/nothing", "--model", model], output: "stages/o6",
                        saying: ["stages/nothing", "no such file or folder"])
        try assertFails(sandbox, "lethe-encode", args + ["--model", modelFixtures.appendingPathComponent("broken/orig-missing-tensor").path],
                        output: "stages/o7", saying: ["missing tensor 'backbone.layers.1.mixer.x_proj.weight'"])
        try assertFails(sandbox, "lethe-encode", args + ["--model", sandbox.path("no-model").path], output: "stages/o8",
                        saying: ["no-model", "no such file or folder"])
        try assertFails(sandbox, "lethe-encode", args + ["--model", model + "/config.json"], output: "stages/o9",
                        saying: ["config.json: a file, not a model folder"])

        // States beyond float16's range are refused, not stored as infinities.
        let huge = try MambaModel.load(from: URL(fileURLWithPath: model))
        huge.weights.layers[0].convBias.update(repeating: 1e6, count: huge.config.intermediateSize)
        try huge.save(to: sandbox.path("huge"))
        try writeTokenFolder(sandbox, "stages/fine", shards: [good])
        try assertFails(sandbox, "lethe-encode", ["--input", "stages/fine", "--model", sandbox.path("huge").path,
                                                  "--state-dtype", "float16"], output: "stages/o9",
                        saying: ["sample len40-0: the ssm state holds", "beyond float16's range; use --state-dtype float32"])
    }
}
