import Foundation

/// The sizes of a Mamba-1 language model (transformers' `MambaConfig` names in comments), or of a Falcon-Mamba
/// (`FalconMambaConfig`: the same block with a weightless RMSNorm of dt, B and C after x_proj).
///
/// Lethe supports exactly what transformers' `MambaForCausalLM` and `FalconMambaForCausalLM` compute with their
/// defaults: RMSNorm, SiLU, no bias in in_proj/out_proj, a bias in the conv. Anything else is rejected when the
/// config is read.
public struct MambaConfig: Equatable, Sendable {
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

    public init(hiddenSize: Int, intermediateSize: Int? = nil, stateSize: Int = 16, numLayers: Int,
                convKernel: Int = 4, timeStepRank: Int? = nil, vocabSize: Int, layerNormEpsilon: Float = 1e-5,
                tieWordEmbeddings: Bool = true, mixerRMSEpsilon: Float? = nil, eosTokenID: Int32 = 0) {
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
    }

    /// Columns of x_proj's output: dt (R), B (N), C (N).
    public var xProjSize: Int { timeStepRank + 2 * stateSize }
    /// x_proj's output as its three parts (first column, width): dt, B, C; Falcon-Mamba normalises each.
    public var xProjParts: [(offset: Int, width: Int)] {
        [(0, timeStepRank), (timeStepRank, stateSize), (timeStepRank + stateSize, stateSize)]
    }

    /// One sequence's recurrent state as shards store it: ssm [n_layer, DI, N] and conv [n_layer, DI, K].
    public var ssmStateShape: [Int] { [numLayers, intermediateSize, stateSize] }
    public var convStateShape: [Int] { [numLayers, intermediateSize, convKernel] }

    public var isFalconMamba: Bool { mixerRMSEpsilon != nil }

    /// transformers' `model_type` and the `architectures` entry of the config.json Lethe writes.
    public var hfModelType: String { isFalconMamba ? "falcon_mamba" : "mamba" }
    public var hfArchitecture: String { isFalconMamba ? "FalconMambaForCausalLM" : "MambaForCausalLM" }

    // MARK: Reading config.json

    /// Reads `config.json` of a Hugging Face folder (`model_type` "mamba" or "falcon_mamba") or of an original state-spaces
    /// folder (`d_model`, `n_layer`, `ssm_cfg`, `pad_vocab_size_multiple`).
    public static func read(contentsOf url: URL) throws -> MambaConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw ModelError("\(url.path): not a JSON object")
        }
        let keys = ConfigKeys(json: json, file: url.path)
        if json["model_type"] != nil { return try hfConfig(keys) }
        if json["d_model"] != nil { return try originalConfig(keys) }
        throw ModelError("\(url.path): neither a Hugging Face Mamba config (no 'model_type') nor an original state-spaces config (no 'd_model')")
    }

    static func hfConfig(_ keys: ConfigKeys) throws -> MambaConfig {
        let modelType = try keys.string("model_type")
        guard modelType == "mamba" || modelType == "falcon_mamba" else {
            let hint = modelType == "mamba2" ? " (Mamba-2 is not supported: Lethe implements Mamba-1 and Falcon-Mamba)" : ""
            throw ModelError("\(keys.file): unsupported architecture model_type '\(modelType)'\(hint); expected 'mamba' or 'falcon_mamba'")
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
        return try MambaConfig(
            hiddenSize: hidden, intermediateSize: expand * hidden,
            stateSize: keys.int("state_size", default: 16), numLayers: keys.int("num_hidden_layers"),
            convKernel: keys.int("conv_kernel", default: 4), timeStepRank: keys.rank("time_step_rank", hidden: hidden),
            vocabSize: keys.int("vocab_size"), layerNormEpsilon: Float(keys.double("layer_norm_epsilon", default: 1e-5)),
            tieWordEmbeddings: keys.bool("tie_word_embeddings", default: true),
            mixerRMSEpsilon: modelType == "falcon_mamba" ? Float(keys.double("mixer_rms_eps", default: 1e-6)) : nil,
            eosTokenID: Int32(clamping: keys.int("eos_token_id", default: 0))
        ).validated(keys.file)
    }

    /// mamba_ssm's `MambaConfig` (models/config_mamba.py) and `Mamba` (modules/mamba_simple.py) defaults.
    static func originalConfig(_ keys: ConfigKeys) throws -> MambaConfig {
        let ssm = try keys.object("ssm_cfg")
        if let layer = try ssm.optionalString("layer"), layer != "Mamba1" {
            throw ModelError("\(keys.file): unsupported architecture ssm_cfg.layer '\(layer)'; Lethe implements Mamba-1")
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
        return try MambaConfig(
            hiddenSize: hidden, intermediateSize: expand * hidden, stateSize: ssm.int("d_state", default: 16),
            numLayers: keys.int("n_layer"), convKernel: ssm.int("d_conv", default: 4),
            timeStepRank: ssm.rank("dt_rank", hidden: hidden), vocabSize: vocab, layerNormEpsilon: 1e-5,
            tieWordEmbeddings: keys.bool("tie_embeddings", default: true)
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
        return self
    }

    // MARK: Writing config.json

    /// A `config.json` that transformers' `MambaForCausalLM.from_pretrained` (`FalconMambaForCausalLM`) loads.
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
