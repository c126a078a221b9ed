import Foundation
import XCTest
@testable import LetheModel

/// Config reading, every loader path (safetensors F32/F16/BF16, sharded, original pytorch_model.bin), the
/// safetensors writer, and the errors a bad checkpoint gets.
final class CheckpointTests: XCTestCase {
    private func assertThrows(_ expression: @autoclosure () throws -> Any, containing fragments: String...,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssert(error is ModelError, "\(type(of: error)): \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssert("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
            }
        }
    }

    // MARK: Configs

    /// The published mamba-130m configs, both layouts: the same model, 129,135,360 parameters.
    func testRealMamba130mConfigs() throws {
        let expected = MambaConfig(hiddenSize: 768, intermediateSize: 1536, stateSize: 16, numLayers: 24, convKernel: 4,
                                   timeStepRank: 48, vocabSize: 50280, layerNormEpsilon: 1e-5, tieWordEmbeddings: true)
        for name in ["mamba-130m-hf.json", "mamba-130m.json"] {
            let config = try MambaConfig.read(contentsOf: fixture("configs/\(name)"))
            XCTAssertEqual(config, expected, name)
            let layout = ParameterLayout(config: config)
            XCTAssertEqual(layout.count, 129_135_360, name)
            XCTAssertEqual(layout.entries.count, 1 + 24 * 10 + 1, "no lm_head entry when tied")
            XCTAssertEqual(layout.lmHead, layout.embeddings)
            XCTAssertEqual(layout.entry(named: "backbone.layers.23.mixer.x_proj.weight")?.shape, [80, 1536])
            XCTAssertEqual(layout.entry(named: "backbone.layers.0.mixer.conv1d.weight")?.shape, [1536, 1, 4])
        }
    }

    /// Falcon-Mamba's config: Mamba-1's keys plus mixer_rms_eps (transformers' default 1e-6 when absent); what Lethe
    /// writes reads back the same.
    func testFalconMambaConfig() throws {
        let base = #""model_type": "falcon_mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10"#
        let cases: [(String, Float)] = [("{\(base)}", 1e-6), (#"{\#(base), "mixer_rms_eps": 0.001}"#, 0.001)]
        for (json, epsilon) in cases {
            let dir = try writeConfig(json)
            defer { try? FileManager.default.removeItem(at: dir) }
            let config = try MambaConfig.read(contentsOf: dir.appendingPathComponent("config.json"))
            XCTAssertEqual(config.mixerRMSEpsilon, epsilon)
            XCTAssertEqual(config.hfArchitecture, "FalconMambaForCausalLM")
            try config.hfConfigJSON().write(to: dir.appendingPathComponent("config.json"))
            XCTAssertEqual(try MambaConfig.read(contentsOf: dir.appendingPathComponent("config.json")), config)
            let written = try JSONSerialization.jsonObject(with: config.hfConfigJSON()) as! [String: Any]
            XCTAssertEqual(written["model_type"] as? String, "falcon_mamba")
        }
        let dir = try writeConfig(#"{\#(base), "mixer_rms_eps": -1}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        assertThrows(try MambaConfig.read(contentsOf: dir.appendingPathComponent("config.json")), containing: "'mixer_rms_eps'")
        XCTAssertNil(try MambaConfig.read(contentsOf: fixture("configs/mamba-130m-hf.json")).mixerRMSEpsilon, "Mamba-1 has no mixer norm")
        // eos_token_id as a list: the first frames the chunks.
        let listed = try writeConfig(#"{\#(base), "eos_token_id": [7, 9]}"#)
        defer { try? FileManager.default.removeItem(at: listed) }
        XCTAssertEqual(try MambaConfig.read(contentsOf: listed.appendingPathComponent("config.json")).eosTokenID, 7)
    }

    /// An original state-spaces Mamba-2 config of mamba2-130m's sizes (mamba_ssm's Mamba2 defaults: d_state 128,
    /// headdim 64, ngroups 1) and its parameter count, summed by hand: embedding 50,288 × 768 (50,277 padded to a
    /// multiple of 16); per layer norm 768, in_proj (1,536 + 1,792 + 24) × 768, conv1d 1,792 × 4 + 1,792,
    /// dt_bias, A_log and D 3 × 24, gated norm 1,536, out_proj 768 × 1,536; norm_f 768.
    func testOriginalMamba2Config() throws {
        let dir = try writeConfig(#"{"d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {"layer": "Mamba2"}, "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 16, "tie_embeddings": true}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try MambaConfig.read(contentsOf: dir.appendingPathComponent("config.json"))
        XCTAssertEqual(config.mamba2, MambaConfig.Mamba2Heads(heads: 24, headDim: 64, groups: 1))
        XCTAssertEqual(config.stateSize, 128)
        XCTAssertEqual(config.vocabSize, 50288)
        XCTAssertEqual(config.hfModelType, "mamba2")
        let perLayer = 768 + (1536 + 1792 + 24) * 768 + 1792 * 4 + 1792 + 3 * 24 + 1536 + 768 * 1536
        XCTAssertEqual(ParameterLayout(config: config).count, 50288 * 768 + 24 * perLayer + 768)
        XCTAssertEqual(config.ssmStateShape, [24, 24, 64, 128])
        XCTAssertEqual(config.convStateShape, [24, 1792, 4])
    }

    private func writeConfig(_ json: String) throws -> URL {
        let dir = try temporaryDirectory()
        try json.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        return dir
    }

    func testUnsupportedConfigsNameTheKey() throws {
        let cases: [(String, [String])] = [
            (#"{"model_type": "jamba", "hidden_size": 768}"#, ["model_type 'jamba'", "expected 'mamba', 'falcon_mamba' or 'mamba2'"]),
            (#"{"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "num_heads": 8, "head_dim": 16, "n_groups": 3}"#,
             ["num_heads 8 is not a multiple of n_groups 3"]),
            (#"{"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "num_heads": 4, "head_dim": 8}"#,
             ["num_heads 4 × head_dim 8 must equal expand × hidden_size = 128"]),
            (#"{"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "num_heads": 8, "head_dim": 16, "n_groups": 1, "time_step_limit": [0.5, 0.1]}"#,
             ["'time_step_limit' must be [min, max]"]),
            (#"{"d_model": 64, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"layer": "Mamba2", "norm_before_gate": true}}"#,
             ["'norm_before_gate'"]),
            (#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "use_bias": true}"#,
             ["'use_bias'"]),
            (#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "intermediate_size": 100}"#,
             ["'intermediate_size' 100"]),
            (#"{"model_type": "mamba", "hidden_size": 64, "vocab_size": 10}"#, ["missing key 'num_hidden_layers'"]),
            (#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "eos_token_id": 10}"#,
             ["'eos_token_id' 10 is outside the vocabulary 0..<10"]),
            (#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "eos_token_id": ["end"]}"#,
             ["'eos_token_id' must be an integer or a list of integers"]),
            (#"{"model_type": "falcon_mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, "mixer_rms_eps": "small"}"#,
             ["'mixer_rms_eps' must be a number"]),
            (#"{"model_type": "mamba", "hidden_size": "wide", "num_hidden_layers": 2, "vocab_size": 10}"#,
             ["'hidden_size' must be an integer"]),
            (#"{"d_model": 64, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"layer": "Mamba3"}}"#, ["ssm_cfg.layer 'Mamba3'"]),
            (#"{"d_model": 64, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [1]}"#, ["'attn_layer_idx'"]),
            (#"{"d_model": 64, "n_layer": 2, "vocab_size": 10, "rms_norm": false}"#, ["'rms_norm'"]),
            (#"{"vocab_size": 10}"#, ["neither a Hugging Face"]),
        ]
        for (json, fragments) in cases {
            let dir = try writeConfig(json)
            defer { try? FileManager.default.removeItem(at: dir) }
            XCTAssertThrowsError(try MambaModel.load(from: dir)) { error in
                for fragment in fragments {
                    XCTAssert("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'")
                }
                XCTAssert("\(error)".contains("config.json"), "names the file: \(error)")
            }
        }
    }

    // MARK: Loader paths

    /// F16 and BF16 files hold the F32 weights rounded (by torch); widening them back is exact.
    func testHalfPrecisionFilesWidenExactly() throws {
        let full = try MambaModel.load(from: fixture("even"))
        let half = try MambaModel.load(from: fixture("even-f16"))
        let brain = try MambaModel.load(from: fixture("even-bf16"))
        let n = full.layout.count
        for i in 0..<n {
            let value = full.parameters.pointer[i]
            guard half.parameters.pointer[i] == Float(Float16(value)),
                  brain.parameters.pointer[i] == Float(bitPattern: UInt32(SafeTensors.bfloat16Bits(value)) << 16)
            else { return XCTFail("parameter \(i): \(value) vs F16 \(half.parameters.pointer[i]), BF16 \(brain.parameters.pointer[i])") }
        }
    }

    func testShardedUntiedAndOriginalCheckpointsLoad() throws {
        let odd = try MambaModel.load(from: fixture("odd-sharded"))
        XCTAssertFalse(odd.layout.lmHeadIsTied)
        XCTAssertEqual(odd.layout.entries.last?.name, "lm_head.weight")
        XCTAssertNotEqual(odd.layout.lmHead, odd.layout.embeddings)

        let orig = try MambaModel.load(from: fixture("orig"))
        XCTAssertEqual(orig.config.vocabSize, 56, "vocab 50 padded to a multiple of 8")
        XCTAssertEqual(orig.config.convKernel, 2)
        XCTAssertEqual(orig.config.timeStepRank, 5)
    }

    func testBrokenOriginalCheckpoints() {
        assertThrows(try MambaModel.load(from: fixture("broken/orig-missing-tensor")),
                     containing: "pytorch_model.bin", "missing tensor 'backbone.layers.1.mixer.x_proj.weight'")
        assertThrows(try MambaModel.load(from: fixture("broken/orig-legacy-format")),
                     containing: "pytorch_model.bin", "legacy")
    }

    // MARK: Writer

    func testSavedCheckpointsLoadBackExactly() throws {
        for folder in ["odd-sharded", "even", "falcon", "mamba2", "mamba2-odd"] {
            let model = try MambaModel.load(from: fixture(folder))
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            try model.save(to: dir)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors.tmp").path))
            let back = try MambaModel.load(from: dir)
            XCTAssertEqual(back.config, model.config)
            XCTAssertEqual(back.parameters.buffer.elementsEqual(model.parameters.buffer), true, folder)
            let names = try SafeTensors.tensors(in: MappedFile(path: dir.appendingPathComponent("model.safetensors").path)).map(\.name)
            XCTAssertEqual(names.contains("lm_head.weight"), !model.config.tieWordEmbeddings, folder)

            for dtype in [StoredDType.float16, .bfloat16] {
                try model.save(to: dir, dtype: dtype)
                let rounded = try MambaModel.load(from: dir)
                for i in 0..<model.layout.count {
                    let v = model.parameters.pointer[i]
                    let expected = dtype == .float16 ? Float(Float16(v)) : Float(bitPattern: UInt32(SafeTensors.bfloat16Bits(v)) << 16)
                    guard rounded.parameters.pointer[i] == expected else {
                        return XCTFail("\(folder) \(dtype): parameter \(i) \(rounded.parameters.pointer[i]) != \(expected)")
                    }
                }
            }
        }
    }

    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(SafeTensors.bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(SafeTensors.bfloat16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80, "tie goes to even")
        XCTAssertEqual(SafeTensors.bfloat16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82, "tie goes to even")
        XCTAssertEqual(SafeTensors.bfloat16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(SafeTensors.bfloat16Bits(.nan) & 0x7FC0, 0x7FC0)
    }

    // MARK: Bad safetensors folders

    /// A copy of the odd model's folder (config + single F32 file) with its tensors edited by `edit`.
    private struct NamedTensor {
        var name: String
        var shape: [Int]
        var values: [Float]
    }

    private func brokenFolder(_ edit: (inout [NamedTensor]) -> Void) throws -> URL {
        let model = try MambaModel.load(from: fixture("odd-sharded"))
        var tensors = model.layout.entries.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(model.parameters.tensor($0))) }
        edit(&tensors)
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(at: fixture("odd-sharded/config.json"), to: dir.appendingPathComponent("config.json"))
        let storage = tensors.map { t -> UnsafeMutableBufferPointer<Float> in
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: t.values.count)
            _ = p.initialize(from: t.values)
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        let views = zip(tensors, storage).map { SafeTensors.Tensor(name: $0.name, shape: $0.shape, values: UnsafeBufferPointer($1)) }
        try SafeTensors.write(views, to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func testMissingMisshapenAndUnexpectedTensors() throws {
        let missing = try brokenFolder { $0.removeAll { $0.name == "backbone.layers.1.mixer.D" } }
        defer { try? FileManager.default.removeItem(at: missing) }
        assertThrows(try MambaModel.load(from: missing), containing: "model.safetensors", "missing tensor 'backbone.layers.1.mixer.D'")

        let misshapen = try brokenFolder { tensors in
            let i = tensors.firstIndex { $0.name == "backbone.layers.0.mixer.A_log" }!
            tensors[i].shape = [5, 74]
        }
        defer { try? FileManager.default.removeItem(at: misshapen) }
        assertThrows(try MambaModel.load(from: misshapen),
                     containing: "tensor 'backbone.layers.0.mixer.A_log' has shape [5, 74], the config needs [74, 5]")

        let extra = try brokenFolder { $0.append(NamedTensor(name: "backbone.layers.0.mixer.in_proj.bias", shape: [148], values: [Float](repeating: 0, count: 148))) }
        defer { try? FileManager.default.removeItem(at: extra) }
        assertThrows(try MambaModel.load(from: extra), containing: "unexpected tensor 'backbone.layers.0.mixer.in_proj.bias'")
    }

    func testUnsupportedDTypeAndCorruptFiles() throws {
        let dir = try brokenFolder { _ in }
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: file)

        // Relabel one tensor's dtype in the header (same length, so offsets stay valid).
        var bytes = [UInt8](original)
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        let header = String(decoding: bytes[8 ..< 8 + headerLength], as: UTF8.self)
        let key = header.range(of: #""backbone.norm_f.weight":{"data_offsets":"#)!
        let dtype = header[key.upperBound...].range(of: #""dtype":"F32""#)!
        let at = 8 + header.utf8.distance(from: header.startIndex, to: dtype.lowerBound)
        bytes.replaceSubrange(at ..< at + 13, with: Array(#""dtype":"I32""#.utf8))
        try Data(bytes).write(to: file)
        assertThrows(try MambaModel.load(from: dir), containing: "tensor 'backbone.norm_f.weight' has unsupported dtype I32")

        try Data(original.prefix(6)).write(to: file)
        assertThrows(try MambaModel.load(from: dir), containing: "model.safetensors", "too short")
        var wrongLength = [UInt8](original)
        wrongLength.replaceSubrange(0 ..< 8, with: [0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0])
        try Data(wrongLength).write(to: file)
        assertThrows(try MambaModel.load(from: dir), containing: "header length")
        try Data(original.prefix(original.count - 4)).write(to: file)
        assertThrows(try MambaModel.load(from: dir), containing: "fall outside")

        try FileManager.default.removeItem(at: file)
        assertThrows(try MambaModel.load(from: dir), containing: "no model.safetensors")
    }

    func testCacheRejectsStatesOfTheWrongSize() throws {
        let config = try MambaConfig.read(contentsOf: fixture("odd-sharded/config.json"))
        let cache = MambaCache(config: config, batchSize: 1)
        XCTAssertEqual(cache.ssmShape, [2, 74, 5])
        XCTAssertEqual(cache.convShape, [2, 74, 3])
        assertThrows(try cache.setSequence(0, ssm: [1, 2], conv: cache.convState(sequence: 0)), containing: "ssm state has 2 floats")
        assertThrows(try cache.setSequence(1, ssm: cache.ssmState(sequence: 0), conv: cache.convState(sequence: 0)),
                     containing: "sequence 1 outside 0..<1")
    }
}
