import Foundation

/// Which logits a forward pass returns.
public enum LogitsRequest: Sendable {
    /// None: only the final cache (the encode stage).
    case none
    /// The last token's of each sequence: (B, V).
    case lastToken
    /// Every token's: (B, L, V).
    case allTokens
    /// None returned, but the final norm's output of every token is left in the activations, for a caller that
    /// applies the lm_head its own way (greedy decoding's blocked argmax).
    case finalHidden
}

extension MambaModel {
    /// The float32 forward pass of transformers' `MambaForCausalLM` (or `FalconMambaForCausalLM`) over `batchSize` sequences of equal
    /// length, `tokens` sequence-major (B, L).
    ///
    /// `cache` holds, on entry, the state the sequences continue from (a fresh `MambaCache` is the empty
    /// state: the start of a sequence) and on return their final state. Returns the requested logits
    /// (nil for `.none`). `activations` (shape B, L) keeps the intermediate tensors (those only a backward pass
    /// reads when it keeps every layer's: see LayerActivations); nil allocates scratch. `packed`: packed copies of
    /// this model's weights (a frozen model's), multiplied by `packedLinearForward` instead of OpenBLAS.
    @discardableResult
    public func forward(tokens: [Int32], batchSize: Int, cache: MambaCache, logits request: LogitsRequest = .none,
                        activations: MambaActivations? = nil, packed: PackedMambaWeights? = nil) throws -> [Float]? {
        let c = config
        guard batchSize > 0, !tokens.isEmpty, tokens.count % batchSize == 0 else {
            throw ModelError("forward: \(tokens.count) tokens do not make \(batchSize) sequences of equal length")
        }
        let length = tokens.count / batchSize
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw ModelError("forward: token id \(bad) outside the vocabulary 0..<\(c.vocabSize)")
        }
        guard cache.hasStateShape(of: c), cache.batchSize == batchSize else {
            throw ModelError("forward: the cache holds \(cache.batchSize) sequences of states \(cache.ssmShape) / \(cache.convShape); this batch needs \(batchSize) of \(c.ssmStateShape) / \(c.convStateShape)")
        }
        let acts = activations ?? MambaActivations(config: c, batchSize: batchSize, length: length)
        guard acts.config == c, tokens.count <= acts.tokenCapacity else {
            throw ModelError("forward: activations hold \(acts.tokenCapacity) tokens, the batch is (\(batchSize), \(length))")
        }
        acts.batchSize = batchSize
        acts.length = length
        let (m, h) = (tokens.count, c.hiddenSize)
        let w = weights

        tokens.withUnsafeBufferPointer { ids in
            embeddingForward(out: acts.hidden(enteringLayer: 0).pointer, tokens: ids.baseAddress!,
                             weight: w.embeddings, count: m, hidden: h)
        }
        cache.ssm.withUnsafeMutableBufferPointer { ssm in
            cache.conv.withUnsafeMutableBufferPointer { conv in
                for l in 0..<c.numLayers {
                    // Encoding wants only the cache: the last layer needs neither its gate nor its output.
                    let cacheOnly = request == .none && acts.retention == .none && l == c.numLayers - 1
                    layerForward(l, input: acts.hidden(enteringLayer: l).pointer,
                                 output: acts.hidden(enteringLayer: l + 1).pointer, activations: acts.layer(l),
                                 convState: conv.baseAddress! + l * c.convCountPerLayer, convStateStride: cache.convCountPerSequence,
                                 ssmState: ssm.baseAddress! + l * c.ssmCountPerLayer, ssmStateStride: cache.ssmCountPerSequence,
                                 batchSize: batchSize, length: length, extent: cacheOnly ? .state : .output,
                                 keepsBackwardTensors: acts.keepsEveryLayer, split: acts.productSplit, packed: packed?.layers[l])
                }
            }
        }
        if request == .none && acts.retention == .none { return nil }
        rmsNormForward(out: acts.normF.pointer, rstd: acts.normFRstd.pointer,
                       input: acts.hidden(enteringLayer: c.numLayers).pointer, weight: w.normF,
                       rows: m, width: h, epsilon: c.layerNormEpsilon)
        switch request {
        case .none, .finalHidden:
            return nil
        case .allTokens:
            return lmHead(acts.normF.pointer, inputStride: h, rows: m, packed: packed?.lmHead)
        case .lastToken:
            // Row b·L + L-1 of each sequence: start at the first sequence's last row, stride L rows.
            return lmHead(acts.normF.pointer + (length - 1) * h, inputStride: length * h, rows: batchSize, packed: packed?.lmHead)
        }
    }

    /// How much of a block `layerForward` computes.
    public enum LayerExtent: Sendable {
        /// What the final cache needs: in_proj, the conv and the scan without its gate (encoding's last layer).
        /// OpenBLAS computes in_proj whole, z included, though the state reads only x (Mamba-2: xBC and dt): a
        /// product of fewer columns can round differently (its kernels for small products, and its Haswell kernels
        /// at any size), and the state must be the same bytes as a full forward pass's. On packed weights with the
        /// C kernels (`packedProductsRoundAlike`), whose outputs round alike however many columns are computed,
        /// Mamba-1's in_proj computes x only.
        case state
        /// Every tensor a backward pass reads, up to the gate; no out_proj (training recomputing a block).
        case gated
        /// The whole block: output = input + out_proj(gated).
        case output
    }

    /// One Mamba block of `forward`: output = input + out_proj(mixer(norm(input))), keeping the block's
    /// intermediate tensors in `a` (what the backward pass reads, and what training recomputes per layer when it
    /// does not keep every layer's). `output` may be `input` (updated in place). `convState` and `ssmState` point
    /// at this layer's states of the first sequence, the next sequences `…Stride` floats apart: read as the
    /// initial state, overwritten with the final one. `extent` stops earlier (see LayerExtent); `output` is
    /// written only for `.output`. `keepsBackwardTensors` false: the tensors that only a backward pass reads
    /// (the conv's output before its SiLU, Mamba-1's scan output before the gate) may be left unwritten. `split`:
    /// how the matrix products are cut among the workers (see ProductSplit). `packed`: the layer's packed weights
    /// (see `forward`).
    public func layerForward(_ l: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             activations a: LayerActivations, convState: UnsafeMutablePointer<Float>,
                             convStateStride: Int, ssmState: UnsafeMutablePointer<Float>, ssmStateStride: Int,
                             batchSize: Int, length: Int, extent: LayerExtent = .output, keepsBackwardTensors: Bool = true,
                             split: ProductSplit = .byShape, packed: PackedMambaWeights.Layer? = nil) {
        if config.isMamba2 {
            return mamba2LayerForward(l, input: input, output: output, activations: a, convState: convState,
                                      convStateStride: convStateStride, ssmState: ssmState, ssmStateStride: ssmStateStride,
                                      batchSize: batchSize, length: length, extent: extent,
                                      keepsBackwardTensors: keepsBackwardTensors, split: split, packed: packed)
        }
        let c = config, lw = weights.layers[l], m = batchSize * length
        let (h, di, n, k, r) = (c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel, c.timeStepRank)
        rmsNormForward(out: a.normed.pointer, rstd: a.rstd.pointer, input: input, weight: lw.norm,
                       rows: m, width: h, epsilon: c.layerNormEpsilon)
        product(out: a.xz.pointer, outStride: 2 * di, input: a.normed.pointer, inputStride: h, weight: lw.inProj,
                packed: packed?.inProj, rows: m, inFeatures: h, outFeatures: 2 * di,
                columns: extent == .state && packed != nil && packedProductsRoundAlike ? 0..<di : nil, split: split)
        // The conv's output before the SiLU is for the backward pass only.
        let convOut = extent == .state || !keepsBackwardTensors ? nil : a.convOut.pointer
        causalConv1dSiLUForward(out: convOut, activated: a.u.pointer, input: a.xz.pointer, inputStride: 2 * di,
                                weight: lw.convWeight, bias: lw.convBias, state: convState, stateStride: convStateStride,
                                batch: batchSize, length: length, channels: di, kernel: k)
        product(out: a.xProj.pointer, outStride: c.xProjSize, input: a.u.pointer, inputStride: di, weight: lw.xProj,
                packed: packed?.xProj, rows: m, inFeatures: di, outFeatures: c.xProjSize, split: split)
        if let epsilon = c.mixerRMSEpsilon {
            // FalconMambaMixer.forward: `time_step = self.dt_layernorm(time_step)`, then b_layernorm(B), c_layernorm(C)
            for (part, (offset, width)) in c.xProjParts.enumerated() {
                rmsNormForward(out: a.ssmParameters.pointer + offset, outStride: c.xProjSize,
                               rstd: a.mixerRstd.pointer + part * m, input: a.xProj.pointer + offset,
                               inputStride: c.xProjSize, weight: nil, rows: m, width: width, epsilon: epsilon)
            }
        }
        product(out: a.dt.pointer, outStride: di, input: a.ssmParameters.pointer, inputStride: c.xProjSize,
                weight: lw.dtProjWeight, packed: packed?.dtProj, rows: m, inFeatures: r, outFeatures: di, split: split)
        // The state needs no gate.
        let gate = extent == .state ? nil : ScanGate(z: a.xz.pointer + di, zStride: 2 * di, out: a.gated.pointer,
                                                     keepsScanOutput: keepsBackwardTensors)
        selectiveScanForward(y: a.y.pointer, u: a.u.pointer, dt: a.dt.pointer, dtBias: lw.dtProjBias,
                             bc: a.ssmParameters.pointer + r, bcStride: c.xProjSize, aLog: lw.aLog, d: lw.d,
                             state: ssmState, stateStride: ssmStateStride,
                             batch: batchSize, length: length, channels: di, stateSize: n, gate: gate)
        if extent != .output { return }
        if UnsafePointer(output) != input { output.update(from: input, count: m * h) }
        product(out: output, outStride: h, input: a.gated.pointer, inputStride: di, weight: lw.outProj,
                packed: packed?.outProj, rows: m, inFeatures: di, outFeatures: h, accumulate: true, split: split)
    }

    /// `linearForward` on `weight`, or `packedLinearForward` on its packed copy when there is one; `columns`
    /// (packed only): the output features computed.
    private func product(out: UnsafeMutablePointer<Float>, outStride: Int, input: UnsafePointer<Float>, inputStride: Int,
                         weight: UnsafePointer<Float>, packed: PackedWeight?, rows: Int, inFeatures: Int, outFeatures: Int,
                         columns: Range<Int>? = nil, accumulate: Bool = false, split: ProductSplit) {
        if let packed {
            packedLinearForward(out: out, outStride: outStride, input: input, inputStride: inputStride, weight: packed,
                                rows: rows, columns: columns, accumulate: accumulate)
        } else {
            linearForward(out: out, outStride: outStride, input: input, inputStride: inputStride, weight: weight,
                          rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, accumulate: accumulate, split: split)
        }
    }

    /// `layerForward` of a Mamba-2 block (transformers' Mamba2Mixer.forward, torch path):
    ///   `gate, hidden_states_B_C, dt = self.in_proj(hidden_states).split([DI, C, H], dim=-1)`
    ///   `hidden_states_B_C = self.act(self.conv1d(hidden_states_B_C))`, then split into x, B, C
    ///   `scan_output = mamba2_scan_forward(...)` (ssdScanForward);  `scan_output = self.norm(scan_output, gate)`
    ///   (Mamba2RMSNormGated: y · silu(z), RMS-normalised per group of DI/G channels, times its weight)
    ///   `out_proj(scan_output)`, added to the residual
    private func mamba2LayerForward(_ l: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                    activations a: LayerActivations, convState: UnsafeMutablePointer<Float>,
                                    convStateStride: Int, ssmState: UnsafeMutablePointer<Float>, ssmStateStride: Int,
                                    batchSize: Int, length: Int, extent: LayerExtent, keepsBackwardTensors: Bool,
                                    split: ProductSplit, packed: PackedMambaWeights.Layer?) {
        let c = config, heads = c.mamba2!, lw = weights.layers[l], m = batchSize * length
        let (h, di, n, channels, columns) = (c.hiddenSize, c.intermediateSize, c.stateSize, c.convChannels, c.inProjSize)
        rmsNormForward(out: a.normed.pointer, rstd: a.rstd.pointer, input: input, weight: lw.norm,
                       rows: m, width: h, epsilon: c.layerNormEpsilon)
        product(out: a.xz.pointer, outStride: columns, input: a.normed.pointer, inputStride: h, weight: lw.inProj,
                packed: packed?.inProj, rows: m, inFeatures: h, outFeatures: columns, split: split)
        let convOut = extent == .state || !keepsBackwardTensors ? nil : a.convOut.pointer  // for the backward pass only
        causalConv1dSiLUForward(out: convOut, activated: a.u.pointer, input: a.xz.pointer + di, inputStride: columns,
                                weight: lw.convWeight, bias: lw.convBias, state: convState, stateStride: convStateStride,
                                batch: batchSize, length: length, channels: channels, kernel: c.convKernel)
        ssdScanForward(y: a.y.pointer, x: a.u.pointer, xStride: channels, dt: a.xz.pointer + di + channels,
                       dtStride: columns, dtBias: lw.dtProjBias, aLog: lw.aLog, bc: a.u.pointer + di, bcStride: channels,
                       d: lw.d, state: ssmState, stateStride: ssmStateStride, batch: batchSize, length: length,
                       heads: heads.heads, headDim: heads.headDim, groups: heads.groups, stateSize: n,
                       dtMin: heads.timeStepMin, dtMax: heads.timeStepMax)
        if extent == .state { return }
        gateForward(out: a.gated.pointer, y: a.y.pointer, z: a.xz.pointer, zStride: columns, rows: m, channels: di)
        let groupWidth = di / heads.groups
        for g in 0..<heads.groups {
            rmsNormForward(out: a.gatedNormed.pointer + g * groupWidth, outStride: di, rstd: a.gatedRstd.pointer + g * m,
                           input: a.gated.pointer + g * groupWidth, inputStride: di, weight: lw.gatedNorm + g * groupWidth,
                           rows: m, width: groupWidth, epsilon: c.layerNormEpsilon)
        }
        if extent == .gated { return }
        if UnsafePointer(output) != input { output.update(from: input, count: m * h) }
        product(out: output, outStride: h, input: a.gatedNormed.pointer, inputStride: di, weight: lw.outProj,
                packed: packed?.outProj, rows: m, inFeatures: di, outFeatures: h, accumulate: true, split: split)
    }

    /// Block `l` again over the pass `acts` last held, from `initial`'s states (left untouched), keeping its tensors
    /// in `acts.layer(l)`: what a backward pass that does not keep every block's tensors recomputes (`extent`
    /// `.gated`: up to the gate; the block's output is already in the residual stream).
    public func recomputeLayer(_ l: Int, activations acts: MambaActivations, initial: MambaCache, extent: LayerExtent) {
        let (convCount, ssmCount) = (config.convCountPerLayer, config.ssmCountPerLayer)
        // This layer's states of every sequence, one layer's floats apart (the block overwrites them).
        var conv = [Float](repeating: 0, count: acts.batchSize * convCount), ssm = [Float](repeating: 0, count: acts.batchSize * ssmCount)
        for b in 0..<acts.batchSize {
            let convStart = b * initial.convCountPerSequence + l * convCount, ssmStart = b * initial.ssmCountPerSequence + l * ssmCount
            conv.replaceSubrange(b * convCount ..< (b + 1) * convCount, with: initial.conv[convStart ..< convStart + convCount])
            ssm.replaceSubrange(b * ssmCount ..< (b + 1) * ssmCount, with: initial.ssm[ssmStart ..< ssmStart + ssmCount])
        }
        conv.withUnsafeMutableBufferPointer { conv in
            ssm.withUnsafeMutableBufferPointer { ssm in
                layerForward(l, input: acts.hidden(enteringLayer: l).pointer, output: acts.hidden(enteringLayer: l + 1).pointer,
                             activations: acts.layer(l), convState: conv.baseAddress!, convStateStride: convCount,
                             ssmState: ssm.baseAddress!, ssmStateStride: ssmCount, batchSize: acts.batchSize,
                             length: acts.length, extent: extent, split: acts.productSplit)
            }
        }
    }

    /// One token for each of the cache's sequences: updates `cache` (the conv state shifts by one, one scan
    /// step per layer) and returns the logits (B, V). The same computation as `forward` with L = 1.
    public func step(tokens: [Int32], cache: MambaCache, activations: MambaActivations? = nil) throws -> [Float] {
        guard tokens.count == cache.batchSize else {
            throw ModelError("step: \(tokens.count) tokens for a cache of \(cache.batchSize) sequences")
        }
        return try forward(tokens: tokens, batchSize: cache.batchSize, cache: cache, logits: .allTokens,
                           activations: activations)!
    }

    /// One greedy step for each of the cache's sequences: updates `cache` as `step` does and returns the argmax of
    /// each sequence's logits (`torch.argmax`'s ties and NaNs), found block by block without the (B, V) logits.
    /// `packed`: see `forward` (its lm_head, when it has one, for the logits).
    public func greedyStep(tokens: [Int32], cache: MambaCache, activations: MambaActivations? = nil,
                           packed: PackedMambaWeights? = nil) throws -> [Int32] {
        guard tokens.count == cache.batchSize else {
            throw ModelError("step: \(tokens.count) tokens for a cache of \(cache.batchSize) sequences")
        }
        let acts = activations ?? MambaActivations(config: config, batchSize: cache.batchSize, length: 1)
        try forward(tokens: tokens, batchSize: cache.batchSize, cache: cache, logits: .finalHidden, activations: acts,
                    packed: packed)
        var choices = [Int32](repeating: 0, count: tokens.count)
        blockedLMHeadArgmax(hidden: acts.normF.pointer, weight: weights.lmHead, packed: packed?.lmHead, rows: tokens.count,
                            hiddenSize: config.hiddenSize, vocab: config.vocabSize, into: &choices)
        return choices
    }

    /// lm_head (the embeddings when tied): (rows, V) logits.
    private func lmHead(_ input: UnsafePointer<Float>, inputStride: Int, rows: Int, packed: PackedWeight?) -> [Float] {
        let v = config.vocabSize
        return [Float](unsafeUninitializedCapacity: rows * v) { out, initialized in
            product(out: out.baseAddress!, outStride: v, input: input, inputStride: inputStride, weight: weights.lmHead,
                    packed: packed, rows: rows, inFeatures: config.hiddenSize, outFeatures: v, split: .byShape)
            initialized = rows * v
        }
    }
}
