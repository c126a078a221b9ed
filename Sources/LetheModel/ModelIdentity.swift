import Foundation
import LetheShards

extension MambaConfig {
    /// The model's architecture and sizes under config.json's names, with the per-chunk state shapes: what stage
    /// metadata records about the encoder or decoder that produced it.
    public var summary: JSONValue {
        var summary: JSONValue = [
            "model_type": .string(hfModelType), "hidden_size": .int(hiddenSize), "intermediate_size": .int(intermediateSize), "state_size": .int(stateSize),
            "num_hidden_layers": .int(numLayers), "conv_kernel": .int(convKernel), "time_step_rank": .int(timeStepRank),
            "vocab_size": .int(vocabSize), "ssm_shape": .array(ssmStateShape.map { .int($0) }),
            "conv_shape": .array(convStateShape.map { .int($0) }),
        ]
        if let epsilon = mixerRMSEpsilon { summary["mixer_rms_eps"] = .double(epsilon.shortestDouble) }
        return summary
    }
}

/// How stage metadata names a model: its folder's name (never an absolute path: outputs move between
/// machines), with the parent's for a checkpoint of lethe-train (`train/final`, `train/step-500`; a train folder
/// itself names its final/), and its sizes.
/// The folder's content is part of the stage's fingerprint, not of the samples.
public func modelIdentity(folder: URL, config: MambaConfig) -> JSONValue {
    let url = MambaModel.checkpointFolder(folder).standardizedFileURL
    var name = url.lastPathComponent
    if RunFolder.isCheckpoint(name) { name = url.deletingLastPathComponent().lastPathComponent + "/" + name }
    return ["model": .string(name), "config": config.summary]
}
