import Foundation
import LetheShards

/// The sizes of a Mamba-1 language model (transformers' `MambaConfig` names in comments), of a Falcon-Mamba
/// (`FalconMambaConfig`: the same block with a weightless RMSNorm of dt, B and C after x_proj), or of a Mamba-2
/// (`Mamba2Config`: `mamba2` holds its heads and groups).
///
/// Lethe supports exactly what transformers' `MambaForCausalLM`, `FalconMambaForCausalLM` and
/// `Mamba2ForCausalLM` compute with their defaults: RMSNorm, SiLU, no bias in in_proj/out_proj, a bias in the
/// conv. Anything else is rejected when the config is read.
public struct MambaConfig: Equatable, Sendable {
    /// Mamba-2's multi-head geometry (transformers' `Mamba2Config` names): DI = heads · headDim channels in
    /// heads of headDim, each head with one scalar decay A; B and C per group, shared by heads/groups heads.
    public struct Mamba2Heads: Equatable, Sendable {
        public var heads: Int  // num_heads (H)
        public var headDim: Int  // head_dim (P)
        public var groups: Int  // n_groups (G)
        /// chunk_size: the length of transformers' chunked scan; Lethe runs the recurrence itself, so this only
        /// travels with the model (written back to config.json).
        public var chunkSize: Int
        /// time_step_limit: dt is clamped to it after softplus; (0, ∞) clamps nothing.
        public var timeStepMin: Float
        public var timeStepMax: Float

        public init(heads: Int, headDim: Int, groups: Int, chunkSize: Int = 256, timeStepMin: Float = 0,
                    timeStepMax: Float = .infinity) {
            self.heads = heads
            self.headDim = headDim
            self.groups = groups
            self.chunkSize = chunkSize
            self.timeStepMin = timeStepMin
            self.timeStepMax = timeStepMax
        }
    }

    public var hiddenSize: Int  // hidden_size (d_model)
    public var intermediateSize: Int  // expand * hidden_size (d_inner)
    public var stateSize: Int  // state_size (d_state, N)
    public var numLayers: Int  // num_hidden_layers (n_layer)
    public var convKernel: Int  // conv_kernel (d_conv)
    public var timeStepRank: Int  // time_step_rank (dt_rank, R)
    public var vocabSize: Int  // vocab_size: rows of the embedding (already padded for original checkpoints)
    public var layerNormEpsilon: Float  // layer_norm_epsilon
    public var tieWordEmbeddings: Bool  // tie_word_embeddings: lm_head is the embedding matrix
    /// Falcon-Mamba's mixer_rms_eps: dt (its R columns), B and C each pass a weightless RMSNorm between x_proj
    /// and their use. nil: Mamba-1, no such norm.
    public var mixerRMSEpsilon: Float?
    /// eos_token_id: the token that opens and closes the auto-encoder decoder's input ([eos] + chunk + [eos], the
    /// reference's tokenizer.eos_token_id), so greedy reconstruction's first input and the token it stops at.
    /// 0, GPT-NeoX's <|endoftext|>, for the Mamba checkpoints (and original state-spaces configs, which have none).
    public var eosTokenID: Int32
    /// Mamba-2's heads; nil for Mamba-1 and Falcon-Mamba (whose time_step_rank, x_proj and dt_proj Mamba-2 has
    /// not: its in_proj gives dt per head directly).
    public var mamba2: Mamba2Heads?

    public init(hiddenSize: Int, intermediateSize: Int? = nil, stateSize: Int = 16, numLayers: Int,
                convKernel: Int = 4, timeStepRank: Int? = nil, vocabSize: Int, layerNormEpsilon: Float = 1e-5,
                tieWordEmbeddings: Bool = true, mixerRMSEpsilon: Float? = nil, eosTokenID: Int32 = 0,
                mamba2: Mamba2Heads? = nil) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize ?? 2 * hiddenSize
        self.stateSize = stateSize
        self.numLayers = numLayers
        self.convKernel = convKernel
        self.timeStepRank = timeStepRank ?? (hiddenSize + 15) / 16
        self.vocabSize = vocabSize
        self.layerNormEpsilon = layerNormEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
        self.mixerRMSEpsilon = mixerRMSEpsilon
        self.eosTokenID = eosTokenID
        self.mamba2 = mamba2
    }

    /// Columns of x_proj's output: dt (R), B (N), C (N).
    public var xProjSize: Int { timeStepRank + 2 * stateSize }
    /// x_proj's output as its three parts (first column, width): dt, B, C; Falcon-Mamba normalises each.
    public var xProjParts: [(offset: Int, width: Int)] {
        [(0, timeStepRank), (timeStepRank, stateSize), (timeStepRank + stateSize, stateSize)]
    }

    /// Channels of the conv: x (DI), and for Mamba-2 also B and C (G·N each), convolved together.
    public var convChannels: Int { mamba2.map { intermediateSize + 2 * $0.groups * stateSize } ?? intermediateSize }
    /// Columns of in_proj's output: x | z (Mamba-1), or z | xBC | dt (Mamba-2: DI + conv channels + H).
    public var inProjSize: Int { mamba2.map { intermediateSize + convChannels + $0.heads } ?? 2 * intermediateSize }

    /// One sequence's recurrent state as shards store it (transformers' cache per layer, stacked): ssm
    /// [n_layer, DI, N] and conv [n_layer, DI, K] for Mamba-1; ssm [n_layer, H, P, N] and conv
    /// [n_layer, DI + 2·G·N, K] for Mamba-2.
    public var ssmStateShape: [Int] {
        mamba2.map { [numLayers, $0.heads, $0.headDim, stateSize] } ?? [numLayers, intermediateSize, stateSize]
    }
    public var convStateShape: [Int] { [numLayers, convChannels, convKernel] }
    /// Floats of one layer's states (one sequence).
    public var ssmCountPerLayer: Int { intermediateSize * stateSize }
    public var convCountPerLayer: Int { convChannels * convKernel }

    public var isFalconMamba: Bool { mixerRMSEpsilon != nil }
    public var isMamba2: Bool { mamba2 != nil }

    /// transformers' `model_type` and the `architectures` entry of the config.json Lethe writes.
    public var hfModelType: String { isMamba2 ? "mamba2" : isFalconMamba ? "falcon_mamba" : "mamba" }
    public var hfArchitecture: String {
        isMamba2 ? "Mamba2ForCausalLM" : isFalconMamba ? "FalconMambaForCausalLM" : "MambaForCausalLM"
    }

    // MARK: Reading config.json

    /// Reads `config.json` of a Hugging Face folder (`model_type` "mamba", "falcon_mamba" or "mamba2") or of an
    /// original state-spaces folder (`d_model`, `n_layer`, `ssm_cfg`, `pad_vocab_size_multiple`).
    public static func read(contentsOf url: URL) throws -> MambaConfig {
        let json = try jsonObject(contentsOf: url)
        let keys = ConfigKeys(json: json, file: url.path)
        if json["model_type"] != nil { return try hfConfig(keys) }
        if json["d_model"] != nil { return try originalConfig(keys) }
        throw ModelError("\(url.path): neither a Hugging Face Mamba config (no 'model_type') nor an original state-spaces config (no 'd_model')")
    }

    /// A config.json as Foundation objects (as JSONSerialization gives them), read with JSONValue, which takes
    /// Python's Infinity (a Mamba-2's time_step_limit, as Python's json module writes it).
    public static func jsonObject(contentsOf url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        guard let json = (try? JSONValue.parse(Array(data)))?.foundationObject as? [String: Any] else {
            throw ModelError("\(url.path): not a JSON object")
        }
        return json
    }

    static func hfConfig(_ keys: ConfigKeys) throws -> MambaConfig {
        let modelType = try keys.string("model_type")
        guard ["mamba", "falcon_mamba", "mamba2"].contains(modelType) else {
            throw ModelError("\(keys.file): unsupported architecture model_type '\(modelType)'; expected 'mamba', 'falcon_mamba' or 'mamba2'")
        }
        try keys.require("use_bias", equals: false, because: "in_proj/out_proj biases are not supported")
        try keys.require("use_conv_bias", equals: true, because: "a conv1d without bias is not supported")
        try keys.require("hidden_act", equals: "silu", because: "only SiLU is supported")
        let hidden = try keys.int("hidden_size")
        let expand = try keys.int("expand", default: 2)
        // transformers derives intermediate_size from expand * hidden_size; a disagreeing value is a broken config.
        if let stated = try keys.optionalInt("intermediate_size"), stated != expand * hidden {
            throw ModelError("\(keys.file): 'intermediate_size' \(stated) differs from expand * hidden_size = \(expand * hidden)")
        }
        // The defaults of transformers' config classes where a key is absent (Mamba2Config's differ).
        let isMamba2 = modelType == "mamba2"
        let mamba2 = isMamba2 ? try Mamba2Heads(
            heads: keys.int("num_heads", default: 128), headDim: keys.int("head_dim", default: 64),
            groups: keys.int("n_groups", default: 8), chunkSize: keys.int("chunk_size", default: 256),
            timeStepMin: keys.limit("time_step_limit", 0), timeStepMax: keys.limit("time_step_limit", 1)) : nil
        return try MambaConfig(
            hiddenSize: hidden, intermediateSize: expand * hidden,
            stateSize: keys.int("state_size", default: isMamba2 ? 128 : 16), numLayers: keys.int("num_hidden_layers"),
            convKernel: keys.int("conv_kernel", default: 4), timeStepRank: keys.rank("time_step_rank", hidden: hidden),
            vocabSize: keys.int("vocab_size"), layerNormEpsilon: Float(keys.double("layer_norm_epsilon", default: 1e-5)),
            tieWordEmbeddings: keys.bool("tie_word_embeddings", default: !isMamba2),
            mixerRMSEpsilon: modelType == "falcon_mamba" ? Float(keys.double("mixer_rms_eps", default: 1e-6)) : nil,
            eosTokenID: Int32(clamping: keys.firstInt("eos_token_id", default: isMamba2 ? 2 : 0)), mamba2: mamba2
        ).validated(keys.file)
    }

    /// mamba_ssm's `MambaConfig` (models/config_mamba.py) and `Mamba` (modules/mamba_simple.py) defaults.
    /// Mamba-2 (ssm_cfg.layer "Mamba2"): `Mamba2` (modules/mamba2.py) defaults, its RMSNormGated with eps 1e-5.
    static func originalConfig(_ keys: ConfigKeys) throws -> MambaConfig {
        let ssm = try keys.object("ssm_cfg")
        let layer = try ssm.optionalString("layer") ?? "Mamba1"
        guard layer == "Mamba1" || layer == "Mamba2" else {
            throw ModelError("\(keys.file): unsupported architecture ssm_cfg.layer '\(layer)'; Lethe implements Mamba1 and Mamba2")
        }
        let isMamba2 = layer == "Mamba2"
        if isMamba2 {
            try ssm.require("rmsnorm", equals: true, because: "Mamba-2 without its gated RMSNorm is not supported")
            try ssm.require("norm_before_gate", equals: false, because: "only the gate before the norm is supported, as in transformers")
            try ssm.require("D_has_hdim", equals: false, because: "a D per channel is not supported")
            if let dSSM = try ssm.optionalInt("d_ssm"), dSSM != (try ssm.int("expand", default: 2)) * (try keys.int("d_model")) {
                throw ModelError("\(keys.file) ssm_cfg: unsupported 'd_ssm' \(dSSM) (an MLP beside the SSM)")
            }
        }
        try keys.require("rms_norm", equals: true, because: "LayerNorm blocks are not supported")
        if let mlp = try keys.optionalInt("d_intermediate"), mlp != 0 {
            throw ModelError("\(keys.file): unsupported architecture: 'd_intermediate' \(mlp) adds MLP blocks")
        }
        if let attention = keys.json["attn_layer_idx"] as? [Any], !attention.isEmpty {
            throw ModelError("\(keys.file): unsupported architecture: 'attn_layer_idx' adds attention layers")
        }
        try ssm.require("bias", equals: false, because: "in_proj/out_proj biases are not supported")
        try ssm.require("conv_bias", equals: true, because: "a conv1d without bias is not supported")
        let hidden = try keys.int("d_model")
        let expand = try ssm.int("expand", default: 2)
        var vocab = try keys.int("vocab_size")
        let multiple = try keys.int("pad_vocab_size_multiple", default: 8)
        if multiple > 1, vocab % multiple != 0 { vocab += multiple - vocab % multiple }
        let mamba2 = isMamba2 ? try Mamba2Heads(
            heads: expand * hidden / ssm.int("headdim", default: 64), headDim: ssm.int("headdim", default: 64),
            groups: ssm.int("ngroups", default: 1), chunkSize: ssm.int("chunk_size", default: 256),
            timeStepMin: ssm.limit("dt_limit", 0), timeStepMax: ssm.limit("dt_limit", 1)) : nil
        return try MambaConfig(
            hiddenSize: hidden, intermediateSize: expand * hidden, stateSize: ssm.int("d_state", default: isMamba2 ? 128 : 16),
            numLayers: keys.int("n_layer"), convKernel: ssm.int("d_conv", default: 4),
            timeStepRank: ssm.rank("dt_rank", hidden: hidden), vocabSize: vocab, layerNormEpsilon: 1e-5,
            tieWordEmbeddings: keys.bool("tie_embeddings", default: true), mamba2: mamba2
        ).validated(keys.file)
    }

    func validated(_ file: String) throws -> MambaConfig {
        let sizes: [(String, Int)] = [
            ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize), ("state_size", stateSize),
            ("num_hidden_layers", numLayers), ("conv_kernel", convKernel), ("time_step_rank", timeStepRank),
            ("vocab_size", vocabSize),
        ]
        for (key, value) in sizes where value < 1 {
            throw ModelError("\(file): '\(key)' must be positive, found \(value)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw ModelError("\(file): 'layer_norm_epsilon' must be a non-negative number")
        }
        guard eosTokenID >= 0, Int(eosTokenID) < vocabSize else {
            throw ModelError("\(file): 'eos_token_id' \(eosTokenID) is outside the vocabulary 0..<\(vocabSize)")
        }
        if let epsilon = mixerRMSEpsilon, !(epsilon.isFinite && epsilon >= 0) {
            throw ModelError("\(file): 'mixer_rms_eps' must be a non-negative number")
        }
        if let m = mamba2 {
            for (key, value) in [("num_heads", m.heads), ("head_dim", m.headDim), ("n_groups", m.groups), ("chunk_size", m.chunkSize)] where value < 1 {
                throw ModelError("\(file): '\(key)' must be positive, found \(value)")
            }
            guard m.heads * m.headDim == intermediateSize else {
                throw ModelError("\(file): num_heads \(m.heads) × head_dim \(m.headDim) must equal expand × hidden_size = \(intermediateSize)")
            }
            guard m.heads % m.groups == 0 else {
                throw ModelError("\(file): num_heads \(m.heads) is not a multiple of n_groups \(m.groups)")
            }
            guard m.timeStepMin >= 0, m.timeStepMin <= m.timeStepMax else {
                throw ModelError("\(file): 'time_step_limit' must be [min, max] with 0 <= min <= max")
            }
        }
        return self
    }

    // MARK: Writing config.json

    /// A `config.json` that transformers' `MambaForCausalLM.from_pretrained` (`FalconMambaForCausalLM`,
    /// `Mamba2ForCausalLM`) loads. Initialisation settings (time_step_min, …) and bos/pad ids are not kept.
    public func hfConfigJSON(dtype: String = "float32") throws -> Data {
        guard intermediateSize % hiddenSize == 0 else {
            throw ModelError("cannot write config.json: intermediate_size \(intermediateSize) is not a multiple of hidden_size \(hiddenSize)")
        }
        var json: [String: Any] = [
            "architectures": [hfArchitecture], "model_type": hfModelType,
            "hidden_size": hiddenSize, "intermediate_size": intermediateSize, "expand": intermediateSize / hiddenSize,
            "state_size": stateSize, "num_hidden_layers": numLayers, "conv_kernel": convKernel,
            "time_step_rank": timeStepRank, "vocab_size": vocabSize, "layer_norm_epsilon": layerNormEpsilon.shortestDouble,
            "tie_word_embeddings": tieWordEmbeddings, "use_bias": false, "use_conv_bias": true, "hidden_act": "silu",
            "residual_in_fp32": true, "bos_token_id": 0, "eos_token_id": Int(eosTokenID), "pad_token_id": 0, "dtype": dtype,
        ]
        if let epsilon = mixerRMSEpsilon { json["mixer_rms_eps"] = epsilon.shortestDouble }
        if let m = mamba2 {
            // transformers 5 writes a non-finite float as {"__float__": "Infinity"} and reads it back
            func limit(_ value: Float) -> Any { value.isFinite ? value.shortestDouble : ["__float__": value > 0 ? "Infinity" : "-Infinity"] }
            json.merge(["num_heads": m.heads, "head_dim": m.headDim, "n_groups": m.groups, "chunk_size": m.chunkSize,
                        "time_step_limit": [limit(m.timeStepMin), limit(m.timeStepMax)]]) { $1 }
            json["intermediate_size"] = nil  // not a Mamba2Config key
        }
        return try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
    }
}

extension Float {
    /// The double written as this float's shortest decimal (1e-5, not 9.99999974737875e-06): a config.json value.
    var shortestDouble: Double { Double("\(self)") ?? Double(self) }
}

/// Typed access to a config.json object; every error names the file and the key.
struct ConfigKeys {
    let json: [String: Any]
    let file: String

    /// JSONSerialization gives true/false as NSNumber too; on Linux `1 as? Bool` succeeds, so look at the type code.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    private func wrong(_ key: String, _ expected: String) -> ModelError {
        ModelError("\(file): '\(key)' must be \(expected), found \(json[key].map { "\($0)" } ?? "nothing")")
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let value = json[key], !(value is NSNull) else { return nil }
        if let number = value as? NSNumber, !ConfigKeys.isBoolean(number), let exact = Int(exactly: number.doubleValue) {
            return exact
        }
        throw wrong(key, "an integer")
    }

    func int(_ key: String) throws -> Int {
        guard let value = try optionalInt(key) else { throw ModelError("\(file): missing key '\(key)'") }
        return value
    }

    func int(_ key: String, default fallback: Int) throws -> Int { try optionalInt(key) ?? fallback }

    /// An integer, or the first of a list of them (transformers allows `eos_token_id: [2, 32000]`).
    func firstInt(_ key: String, default fallback: Int) throws -> Int {
        if let list = json[key] as? [Any] {
            guard let number = list.first as? NSNumber, !ConfigKeys.isBoolean(number),
                  let first = Int(exactly: number.doubleValue) else { throw wrong(key, "an integer or a list of integers") }
            return first
        }
        return try int(key, default: fallback)
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = json[key], !(value is NSNull) else { return fallback }
        guard let number = value as? NSNumber, !ConfigKeys.isBoolean(number) else { throw wrong(key, "a number") }
        return number.doubleValue
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = json[key], !(value is NSNull) else { return fallback }
        guard let number = value as? NSNumber, ConfigKeys.isBoolean(number) else { throw wrong(key, "true or false") }
        return number.boolValue
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = json[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw wrong(key, "a string") }
        return text
    }

    func string(_ key: String) throws -> String {
        guard let value = try optionalString(key) else { throw ModelError("\(file): missing key '\(key)'") }
        return value
    }

    /// A nested object such as `ssm_cfg` (missing means empty, as in mamba_ssm).
    func object(_ key: String) throws -> ConfigKeys {
        guard let value = json[key], !(value is NSNull) else { return ConfigKeys(json: [:], file: file) }
        guard let nested = value as? [String: Any] else { throw wrong(key, "an object") }
        return ConfigKeys(json: nested, file: "\(file) \(key)")
    }

    /// `time_step_rank` / `dt_rank`: an integer or "auto" (ceil(hidden / 16)).
    func rank(_ key: String, hidden: Int) throws -> Int {
        if let text = json[key] as? String {
            guard text == "auto" else { throw wrong(key, "an integer or \"auto\"") }
            return (hidden + 15) / 16
        }
        return try optionalInt(key) ?? (hidden + 15) / 16
    }

    /// Element `index` of a [min, max] pair such as time_step_limit (missing: 0 and ∞): numbers, or transformers
    /// 5's {"__float__": "Infinity"}.
    func limit(_ key: String, _ index: Int) throws -> Float {
        guard let value = json[key], !(value is NSNull) else { return index == 0 ? 0 : .infinity }
        guard let pair = value as? [Any], pair.count == 2 else { throw wrong(key, "a [min, max] pair") }
        if let number = pair[index] as? NSNumber, !ConfigKeys.isBoolean(number) { return number.floatValue }
        if let boxed = pair[index] as? [String: Any], let text = boxed["__float__"] as? String, let number = Float(text) {
            return number
        }
        throw wrong(key, "a [min, max] pair of numbers")
    }

    /// Rejects a config that asks for a feature Lethe does not implement.
    func require(_ key: String, equals expected: Bool, because reason: String) throws {
        if try bool(key, default: expected) != expected {
            throw ModelError("\(file): unsupported '\(key)': \(!expected) (\(reason))")
        }
    }

    func require(_ key: String, equals expected: String, because reason: String) throws {
        if let value = try optionalString(key), value != expected {
            throw ModelError("\(file): unsupported '\(key)': '\(value)' (\(reason))")
        }
    }
}
