import Foundation

/// A Mamba-1, Falcon-Mamba or Mamba-2 language model in float32 (MambaConfig says which): its config, the parameter
/// layout and the one parameter buffer.
/// Load one with `MambaModel.load(from:)` (Hugging Face or original state-spaces folder), save with
/// `save(to:dtype:)`; run it with `forward` (a batch of equal-length chunks) and `step` (one token each).
///
///     LetheThreads.set(2)                                        // --threads
///     let model = try MambaModel.load(from: folder)
///     let cache = MambaCache(config: model.config, batchSize: b) // empty state = start of sequence
///     try model.forward(tokens: chunks, batchSize: b, cache: cache)        // encode: cache only
///     let ssm = cache.ssmState(sequence: 0)                      // [n_layer, DI, N]
///     let conv = cache.convState(sequence: 0)                    // [n_layer, DI, K]
///     let logits = try decoder.step(tokens: eos, cache: cache)   // (B, V), cache advanced in place
///     let recon = try GreedyDecoder(model: decoder, batchSize: 64).decode(requests)  // greedy, from encoder states
///
/// Training: a gradient buffer is `ParameterBuffer(layout: model.layout)` and `.weights` gives the same
/// typed pointers into it; `MambaActivations(..., keepEveryLayer: true)` keeps what a backward pass reads.
/// `forward` overwrites the cache with the final state: copy the initial one first if it is needed.
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
