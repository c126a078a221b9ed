import Foundation
import LetheModel

/// What the decoder learns.
public enum TrainingObjective: String, Codable, Sendable, CaseIterable {
    /// The reference's auto-encoder (ouroboros' MambaDecoderMixer with encoder_cache_params): the decoder reads
    /// [eos] + x + [eos] starting from the encoder's final cache of x, in every layer (the conv sees the encoder's
    /// conv state as the inputs before the first token, the scan starts from its ssm state), and predicts each
    /// next token: B × (L + 1) predictions.
    case autoencoder
    /// Plain next-token prediction from the empty state: x predicts x shifted by one, B × (L - 1) predictions.
    case lm
}

/// B chunks of one length L (sequence-major tokens) and, for the auto-encoder, each chunk's encoder state
/// (per chunk: ssm (n_layer, DI, N) and conv (n_layer, DI, K), the shard layout).
public struct TrainingBatch {
    public var tokens: [Int32]
    public var batchSize: Int
    public var encoderStates: [(ssm: [Float], conv: [Float])]?

    public init(tokens: [Int32], batchSize: Int, encoderStates: [(ssm: [Float], conv: [Float])]? = nil) {
        self.tokens = tokens
        self.batchSize = batchSize
        self.encoderStates = encoderStates
    }

    public var length: Int { batchSize == 0 ? 0 : tokens.count / batchSize }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The decoder's loss and its gradient with respect to every parameter, by hand-written backpropagation (llm.c's
/// scheme): a forward pass block by block (`MambaModel.layerForward`) keeping what the backward pass reads, then
/// the backward kernels layer by layer in reverse, accumulating into `gradients`, a buffer with the parameters'
/// layout. Activation memory is bounded: when every layer's intermediate tensors would exceed
/// `activationBudget`, only each layer's input is kept and the backward pass recomputes one layer at a time
/// (one extra forward pass, the same numbers). What the budget leaves keeps the output layer's logits, block by
/// block of the vocabulary, for its backward to read instead of recomputing (the same numbers too).
public final class Backprop {
    public let model: MambaModel
    public let objective: TrainingObjective
    /// d(loss)/d(parameter), in the parameter layout (the tied lm_head's share is in the embeddings), as the last
    /// `lossAndGradients` left them; after `Trainer.train` zeros (its AdamW update clears them as it reads them).
    public let gradients: ParameterBuffer
    /// Bytes that every layer's intermediate tensors may take before the backward pass recomputes them instead;
    /// the output layer's logits take what they leave.
    public var activationBudget = 4 << 30
    /// Whether `lossAndGradients` also gives d(loss)/d(the initial states), in `stateGradients`.
    public var computesStateGradients = false
    /// d(mean loss)/d(the initial ssm and conv states: the encoder's, for the auto-encoder) of the last
    /// `lossAndGradients` with `computesStateGradients`, laid out as MambaCache (B, n_layer, ...).
    public private(set) var stateGradients: (ssm: [Float], conv: [Float])?

    /// `gradients` holds zeros only: a new buffer, or an update that cleared them as it read them (Trainer), so
    /// `lossAndGradients` need not zero them (a pass over the whole buffer, 4% of a mamba-130m step at 4 × 64).
    var gradientsAreZero = true

    private var activations: MambaActivations?
    /// The output layer's logits kept between its forward and its backward (`blockedLMHeadCrossEntropy`).
    private var keptLogits: FloatBuffer?

    public init(model: MambaModel, objective: TrainingObjective) {
        self.model = model
        self.objective = objective
        gradients = ParameterBuffer(layout: model.layout)
    }

    /// The decoder's input (B, T) and the target of each position (-1: none), from a batch of chunks.
    func decoderSequences(_ batch: TrainingBatch) throws -> (input: [Int32], targets: [Int32], length: Int) {
        let (b, l) = (batch.batchSize, batch.length)
        guard b > 0, l > 0, batch.tokens.count == b * l else {
            throw TrainingError("batch: \(batch.tokens.count) tokens do not make \(b) chunks of equal length")
        }
        let vocabulary = Int32(model.config.vocabSize)
        if let bad = batch.tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw TrainingError("batch: token id \(bad) outside the model's vocabulary 0..<\(vocabulary)")
        }
        let prefix: [Int32] = objective == .autoencoder ? [model.config.eosTokenID] : []
        let suffix = prefix
        guard l + 2 * prefix.count >= 2 else { throw TrainingError("batch: chunks of 1 token have nothing to predict") }
        var input: [Int32] = [], targets: [Int32] = []
        for s in 0..<b {
            let sequence = prefix + batch.tokens[s * l ..< (s + 1) * l] + suffix
            input += sequence
            targets += sequence.dropFirst() + [-1]
        }
        return (input, targets, l + 2 * prefix.count)
    }

    /// The state the decoder starts from: the encoder's (auto-encoder) or the empty state.
    func initialCache(_ batch: TrainingBatch) throws -> MambaCache {
        switch objective {
        case .lm:
            return MambaCache(config: model.config, batchSize: batch.batchSize)
        case .autoencoder:
            guard let states = batch.encoderStates else {
                throw TrainingError("batch: the auto-encoder objective needs each chunk's encoder state")
            }
            guard states.count == batch.batchSize else {
                throw TrainingError("batch: \(states.count) encoder states for \(batch.batchSize) chunks")
            }
            return try MambaCache(config: model.config, sequences: states)
        }
    }

    /// Buffers for a batch of this many tokens. They grow to the largest batch seen and are reused for smaller
    /// ones (batches of mixed lengths would otherwise reallocate and clear gigabytes at every step).
    private func activations(tokens: Int) -> MambaActivations {
        let c = model.config
        let capacity = max(tokens, activations?.tokenCapacity ?? 0)
        let layerBytes = MambaActivations.bytesPerLayer(c, tokens: capacity)
        let retention: MambaActivations.Retention = layerBytes * c.numLayers <= activationBudget ? .everything : .residualStream
        // The output layer's logits take all they need or what the budget leaves after the layers' tensors (every
        // layer's, or one layer's when they are recomputed) and the residual stream.
        let taken = layerBytes * (retention == .everything ? c.numLayers : 1) + 4 * capacity * c.hiddenSize * (c.numLayers + 2)
        let logitFloats = min(blockedLMHeadKeptLogitsFloats(rows: capacity, vocab: c.vocabSize), max(0, activationBudget - taken) / 4)
        if (keptLogits?.count ?? 0) != logitFloats {
            keptLogits = nil
            keptLogits = logitFloats > 0 ? FloatBuffer(count: logitFloats) : nil
        }
        if let a = activations, a.tokenCapacity == capacity, a.retention == retention { return a }
        activations = nil  // free the old buffers before allocating the new ones
        let a = MambaActivations(config: c, tokenCapacity: capacity, retention: retention)
        activations = a
        return a
    }

    /// Embedding, the blocks from the initial states `initial` (left untouched), norm_f: the model's forward pass,
    /// keeping what the backward pass reads.
    private func forward(_ input: [Int32], batchSize: Int, _ acts: MambaActivations, initial: MambaCache) throws {
        try model.forward(tokens: input, batchSize: batchSize, cache: initial.copy(), logits: .finalHidden, activations: acts)
    }

    /// The mean loss of the batch (forward only): (sum over predictions, number of predictions).
    public func loss(_ batch: TrainingBatch) throws -> (total: Double, predictions: Int) {
        let (input, targets, _) = try decoderSequences(batch)
        let acts = activations(tokens: input.count)
        try forward(input, batchSize: batch.batchSize, acts, initial: try initialCache(batch))
        return lmHeadLoss(acts, targets: targets, backward: nil)
    }

    /// Zeroes `gradients`, then fills them with d(mean loss)/d(parameters); returns the mean loss.
    @discardableResult
    public func lossAndGradients(_ batch: TrainingBatch) throws -> Double {
        let (input, targets, length) = try decoderSequences(batch)
        let initial = try initialCache(batch)
        let acts = activations(tokens: input.count)
        try forward(input, batchSize: batch.batchSize, acts, initial: initial)
        if !gradientsAreZero { gradients.buffer.update(repeating: 0) }
        gradientsAreZero = false

        let c = model.config
        let (m, h) = (input.count, c.hiddenSize)
        let (w, g) = (model.weights, gradients.weights)
        let scratch = BackwardScratch(config: c, tokens: m)
        let (total, predictions) = lmHeadLoss(acts, targets: targets, backward: scratch.dNormed.pointer)
        let dHidden = scratch.dHidden.pointer
        dHidden.update(repeating: 0, count: m * h)
        // norm_f
        rmsNormBackward(dInput: dHidden, dWeight: g.normF, dOut: scratch.dNormed.pointer,
                        input: acts.hidden[c.numLayers].pointer, weight: w.normF,
                        rstd: acts.normFRstd.pointer, rows: m, width: h)
        var (dSSM, dConv) = computesStateGradients
            ? ([Float](repeating: 0, count: initial.ssm.count), [Float](repeating: 0, count: initial.conv.count)) : ([], [])
        initial.ssm.withUnsafeBufferPointer { ssm in
            initial.conv.withUnsafeBufferPointer { conv in
                dSSM.withUnsafeMutableBufferPointer { dSSM in
                    dConv.withUnsafeMutableBufferPointer { dConv in
                        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
                            if !acts.keepsEveryLayer {
                                // Recompute this block's tensors up to the gate; its output is already in hidden[l + 1].
                                model.recomputeLayer(l, activations: acts, initial: initial, extent: .gated)
                            }
                            let (ssmAt, convAt) = (l * c.ssmCountPerLayer, l * c.convCountPerLayer)
                            let states = LayerStates(ssm: ssm.baseAddress! + ssmAt, ssmStride: initial.ssmCountPerSequence,
                                                     conv: conv.baseAddress! + convAt, convStride: initial.convCountPerSequence,
                                                     // (an empty array's buffer may have a base address all the same)
                                                     dSSM: computesStateGradients ? dSSM.baseAddress! + ssmAt : nil,
                                                     dConv: computesStateGradients ? dConv.baseAddress! + convAt : nil)
                            let layerBackward = c.isMamba2 ? mamba2LayerBackward : mambaLayerBackward
                            layerBackward(l, acts, scratch, states, batch.batchSize, length)
                            // The block's input norm: hidden_states = residual + mixer(norm(residual)).
                            rmsNormBackward(dInput: dHidden, dWeight: g.layers[l].norm, dOut: scratch.dNormed.pointer,
                                            input: acts.hidden[l].pointer, weight: w.layers[l].norm,
                                            rstd: acts.layer(l).rstd.pointer, rows: m, width: h)
                        }
                    }
                }
            }
        }
        stateGradients = computesStateGradients ? (dSSM, dConv) : nil
        input.withUnsafeBufferPointer { ids in
            embeddingBackward(dWeight: g.embeddings, dOut: dHidden, tokens: ids.baseAddress!, count: m, hidden: h)
        }
        return total / Double(predictions)
    }

    /// One layer's initial states (the first sequence's; the next ones a stride apart), read by its backward pass,
    /// and where their gradients go (the same layout), if they are wanted.
    struct LayerStates {
        let ssm: UnsafePointer<Float>, ssmStride: Int
        let conv: UnsafePointer<Float>, convStride: Int
        let dSSM: UnsafeMutablePointer<Float>?, dConv: UnsafeMutablePointer<Float>?
    }

    /// A Mamba-1 (or Falcon-Mamba) mixer backward, from dHidden (the block output's gradient) to dNormed (its input
    /// norm's output's), adding every mixer parameter's gradient.
    private func mambaLayerBackward(_ l: Int, _ acts: MambaActivations, _ s: BackwardScratch, _ states: LayerStates,
                                    _ batchSize: Int, _ length: Int) {
        let c = model.config
        let (m, h, di, n, k, r, xps) = (acts.tokens, c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel,
                                         c.timeStepRank, c.xProjSize)
        let (a, lw, lg) = (acts.layer(l), model.weights.layers[l], gradients.weights.layers[l])
        // hidden_states = residual + out_proj(gated): the residual passes dHidden through unchanged.
        linearBackward(dInput: s.dGated.pointer, dInputStride: di, dWeight: lg.outProj, dOut: s.dHidden.pointer,
                       dOutStride: h, input: a.gated.pointer, inputStride: di, weight: lw.outProj,
                       rows: m, inFeatures: di, outFeatures: h)
        gateBackward(dY: s.dY.pointer, dZ: s.dXZ.pointer + di, dzStride: 2 * di, dOut: s.dGated.pointer,
                     y: a.y.pointer, z: a.xz.pointer + di, zStride: 2 * di, rows: m, channels: di)
        selectiveScanBackward(
            dU: s.dU.pointer, dDt: s.dDt.pointer, dBC: s.dSSMParameters.pointer + r, dbcStride: xps,
            dDtBias: lg.dtProjBias, dALog: lg.aLog, dD: lg.d, dState: states.dSSM, dStateStride: states.ssmStride,
            dY: s.dY.pointer, u: a.u.pointer, dt: a.dt.pointer, dtBias: lw.dtProjBias,
            bc: a.ssmParameters.pointer + r, bcStride: xps, aLog: lw.aLog, d: lw.d,
            state: states.ssm, stateStride: states.ssmStride, batch: batchSize, length: length, channels: di, stateSize: n)
        // dt = dt_proj.weight @ time_step (its bias is inside the scan)
        linearBackward(dInput: s.dSSMParameters.pointer, dInputStride: xps, dWeight: lg.dtProjWeight,
                       dOut: s.dDt.pointer, dOutStride: di, input: a.ssmParameters.pointer, inputStride: xps,
                       weight: lw.dtProjWeight, rows: m, inFeatures: r, outFeatures: di)
        if c.isFalconMamba {
            // Falcon-Mamba's weightless norms of dt, B and C, back to x_proj's output
            s.dXProj.pointer.update(repeating: 0, count: m * xps)
            for (part, (offset, width)) in c.xProjParts.enumerated() {
                rmsNormBackward(dInput: s.dXProj.pointer + offset, dWeight: nil,
                                dOut: s.dSSMParameters.pointer + offset, dOutStride: xps,
                                input: a.xProj.pointer + offset, inputStride: xps, weight: nil,
                                rstd: a.mixerRstd.pointer + part * m, rows: m, width: width)
            }
        }
        // x_proj(u): u also feeds the scan, so its gradient adds to the scan's
        linearBackward(dInput: s.dU.pointer, dInputStride: di, accumulateInput: true, dWeight: lg.xProj,
                       dOut: s.dXProj.pointer, dOutStride: xps, input: a.u.pointer, inputStride: di,
                       weight: lw.xProj, rows: m, inFeatures: di, outFeatures: xps)
        siluBackward(dInput: s.dConvOut.pointer, dOut: s.dU.pointer, input: a.convOut.pointer, count: m * di)
        causalConv1dBackward(
            dInput: s.dXZ.pointer, dInputStride: 2 * di, dWeight: lg.convWeight, dBias: lg.convBias,
            dState: states.dConv, dStateStride: states.convStride, dOut: s.dConvOut.pointer, input: a.xz.pointer,
            inputStride: 2 * di, weight: lw.convWeight,
            state: states.conv, stateStride: states.convStride, batch: batchSize, length: length, channels: di, kernel: k)
        linearBackward(dInput: s.dNormed.pointer, dInputStride: h, dWeight: lg.inProj,
                       dOut: s.dXZ.pointer, dOutStride: 2 * di, input: a.normed.pointer, inputStride: h,
                       weight: lw.inProj, rows: m, inFeatures: h, outFeatures: 2 * di)
    }

    /// A Mamba-2 mixer backward (Mamba2Mixer.forward in reverse), from dHidden to dNormed, adding every mixer
    /// parameter's gradient.
    private func mamba2LayerBackward(_ l: Int, _ acts: MambaActivations, _ s: BackwardScratch, _ states: LayerStates,
                                     _ batchSize: Int, _ length: Int) {
        let c = model.config, heads = c.mamba2!
        let (m, h, di, n, channels, columns) = (acts.tokens, c.hiddenSize, c.intermediateSize, c.stateSize,
                                                c.convChannels, c.inProjSize)
        let (a, lw, lg) = (acts.layer(l), model.weights.layers[l], gradients.weights.layers[l])
        linearBackward(dInput: s.dGatedNormed.pointer, dInputStride: di, dWeight: lg.outProj, dOut: s.dHidden.pointer,
                       dOutStride: h, input: a.gatedNormed.pointer, inputStride: di, weight: lw.outProj,
                       rows: m, inFeatures: di, outFeatures: h)
        // Mamba2RMSNormGated: the norm per group of DI/G channels, then y · silu(z)
        let groupWidth = di / heads.groups
        s.dGated.pointer.update(repeating: 0, count: m * di)
        for g in 0..<heads.groups {
            rmsNormBackward(dInput: s.dGated.pointer + g * groupWidth, dWeight: lg.gatedNorm + g * groupWidth,
                            dOut: s.dGatedNormed.pointer + g * groupWidth, dOutStride: di,
                            input: a.gated.pointer + g * groupWidth, inputStride: di, weight: lw.gatedNorm + g * groupWidth,
                            rstd: a.gatedRstd.pointer + g * m, rows: m, width: groupWidth)
        }
        gateBackward(dY: s.dY.pointer, dZ: s.dXZ.pointer, dzStride: columns, dOut: s.dGated.pointer,
                     y: a.y.pointer, z: a.xz.pointer, zStride: columns, rows: m, channels: di)
        ssdScanBackward(dX: s.dU.pointer, dxStride: channels, dBC: s.dU.pointer + di, dbcStride: channels,
                        dDt: s.dXZ.pointer + di + channels, dDtStride: columns, dDtBias: lg.dtProjBias, dALog: lg.aLog,
                        dD: lg.d, dState: states.dSSM, dStateStride: states.ssmStride, dY: s.dY.pointer, x: a.u.pointer,
                        xStride: channels,
                        dt: a.xz.pointer + di + channels, dtStride: columns, dtBias: lw.dtProjBias, aLog: lw.aLog,
                        bc: a.u.pointer + di, bcStride: channels, d: lw.d, state: states.ssm, stateStride: states.ssmStride,
                        batch: batchSize, length: length, heads: heads.heads, headDim: heads.headDim,
                        groups: heads.groups, stateSize: n, dtMin: heads.timeStepMin, dtMax: heads.timeStepMax)
        siluBackward(dInput: s.dConvOut.pointer, dOut: s.dU.pointer, input: a.convOut.pointer, count: m * channels)
        causalConv1dBackward(
            dInput: s.dXZ.pointer + di, dInputStride: columns, dWeight: lg.convWeight, dBias: lg.convBias,
            dState: states.dConv, dStateStride: states.convStride, dOut: s.dConvOut.pointer, input: a.xz.pointer + di,
            inputStride: columns, weight: lw.convWeight,
            state: states.conv, stateStride: states.convStride, batch: batchSize, length: length, channels: channels,
            kernel: c.convKernel)
        linearBackward(dInput: s.dNormed.pointer, dInputStride: h, dWeight: lg.inProj,
                       dOut: s.dXZ.pointer, dOutStride: columns, input: a.normed.pointer, inputStride: h,
                       weight: lw.inProj, rows: m, inFeatures: h, outFeatures: columns)
    }

    /// lm_head and the mean cross-entropy over the positions with a target, a block of the vocabulary at a time
    /// (no (rows, V) logits). With `backward`, also writes d(mean loss)/d(norm_f output) there and adds the
    /// lm_head's gradient.
    private func lmHeadLoss(_ acts: MambaActivations, targets: [Int32],
                            backward dNormF: UnsafeMutablePointer<Float>?) -> (total: Double, predictions: Int) {
        let predictions = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        var losses = [Float](repeating: 0, count: targets.count)
        // loss = CrossEntropyLoss()(shift_logits, shift_labels): the mean over predictions
        blockedLMHeadCrossEntropy(hidden: acts.normF.pointer, weight: model.weights.lmHead, targets: targets,
                                  losses: &losses, dHidden: dNormF,
                                  dWeight: dNormF == nil ? nil : gradients.weights.lmHead, rows: targets.count,
                                  hiddenSize: model.config.hiddenSize, vocab: model.config.vocabSize,
                                  scale: 1 / Float(predictions),
                                  keptLogits: keptLogits.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) })
        return (losses.reduce(0.0) { $0 + Double($1) }, predictions)
    }
}

/// Gradients of one layer's activations, reused by every layer of a backward pass (Mamba-2's sizes in brackets).
final class BackwardScratch {
    let dHidden, dNormed, dGated, dY, dXZ, dU, dDt, dXProj, dSSMParameters, dConvOut, dGatedNormed: FloatBuffer

    init(config c: MambaConfig, tokens m: Int) {
        let (h, di, mamba2) = (c.hiddenSize, c.intermediateSize, c.isMamba2)
        dHidden = FloatBuffer(count: m * h)   // (M, H) the residual stream's gradient
        dNormed = FloatBuffer(count: m * h)   // (M, H) the norm's output (norm_f's too)
        dGated = FloatBuffer(count: m * di)   // (M, DI) out_proj's input [the gated norm's input]
        dY = FloatBuffer(count: m * di)       // (M, DI) the scan's output
        dXZ = FloatBuffer(count: m * c.inProjSize)  // (M, 2·DI) in_proj's output: x | z [z | xBC | dt]
        dU = FloatBuffer(count: m * c.convChannels)  // (M, DI) the scan's input [x | B | C]
        dDt = FloatBuffer(count: mamba2 ? 0 : m * di)  // (M, DI) dt_proj's output [none]
        dXProj = FloatBuffer(count: mamba2 ? 0 : m * c.xProjSize)  // (M, R + 2N) x_proj's output [none]
        // (M, R + 2N) what dt_proj and the scan read: dXProj itself unless Falcon-Mamba normalises dt, B and C
        dSSMParameters = c.isFalconMamba ? FloatBuffer(count: m * c.xProjSize) : dXProj
        dConvOut = FloatBuffer(count: m * c.convChannels) // (M, DI) the conv's output, before SiLU [(M, C)]
        dGatedNormed = FloatBuffer(count: mamba2 ? m * di : 0)  // [(M, DI) out_proj's input]
    }
}
