import Foundation

/// A Mamba-1 language model in float32: its config, the parameter layout and the one parameter buffer.
/// Load one with `MambaModel.load(from:)` (Hugging Face or original state-spaces folder), save with
/// `save(to:dtype:)`; run it with `forward` (a batch of equal-length chunks) and `step` (one token each).
public final class MambaModel: @unchecked Sendable {
    public let config: MambaConfig
    public let layout: ParameterLayout
    public let parameters: ParameterBuffer
    /// Typed pointers into `parameters`.
    public let weights: MambaWeights

    /// A model whose parameters are all zero, to be filled through `parameters`.
    public convenience init(config: MambaConfig) {
        self.init(parameters: ParameterBuffer(layout: ParameterLayout(config: config)))
    }

    public init(parameters: ParameterBuffer) {
        self.parameters = parameters
        layout = parameters.layout
        config = layout.config
        weights = parameters.weights
    }
}
