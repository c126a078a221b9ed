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
    /// (nil for `.none`). `activations` (shape B, L) keeps the intermediate tensors; nil allocates scratch.
    @discardableResult
    public func forward(tokens: [Int32], batchSize: Int, cache: MambaCache, logits request: LogitsRequest = .none,
                        activations: MambaActivations? = nil) throws -> [Float]? {
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
        let m = tokens.count
        let (h, di, n, k) = (c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel)
        let w = weights

        tokens.withUnsafeBufferPointer { ids in
            embeddingForward(out: acts.hidden(enteringLayer: 0).pointer, tokens: ids.baseAddress!,
                             weight: w.embeddings, count: m, hidden: h)
        }
        cache.ssm.withUnsafeMutableBufferPointer { ssm in
            cache.conv.withUnsafeMutableBufferPointer { conv in
                for l in 0..<c.numLayers {
                    // Encoding wants only the cache: the last layer needs neither its gate half z nor its output.
                    let cacheOnly = request == .none && acts.retention == .none && l == c.numLayers - 1
                    layerForward(l, input: acts.hidden(enteringLayer: l).pointer,
                                 output: acts.hidden(enteringLayer: l + 1).pointer, activations: acts.layer(l),
                                 convState: conv.baseAddress! + l * di * k, convStateStride: cache.convCountPerSequence,
                                 ssmState: ssm.baseAddress! + l * di * n, ssmStateStride: cache.ssmCountPerSequence,
                                 batchSize: batchSize, length: length, extent: cacheOnly ? .state : .output)
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
            return lmHead(acts.normF.pointer, inputStride: h, rows: m)
        case .lastToken:
            // Row b·L + L-1 of each sequence: start at the first sequence's last row, stride L rows.
            return lmHead(acts.normF.pointer + (length - 1) * h, inputStride: length * h, rows: batchSize)
        }
    }

    /// How much of a block `layerForward` computes.
    public enum LayerExtent: Sendable {
        /// What the final cache needs: the x half of in_proj, the conv and the scan (encoding's last layer).
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
    /// written only for `.output`.
    public func layerForward(_ l: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             activations a: LayerActivations, convState: UnsafeMutablePointer<Float>,
                             convStateStride: Int, ssmState: UnsafeMutablePointer<Float>, ssmStateStride: Int,
                             batchSize: Int, length: Int, extent: LayerExtent = .output) {
        let c = config, lw = weights.layers[l], m = batchSize * length
        let (h, di, n, k, r) = (c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel, c.timeStepRank)
        rmsNormForward(out: a.normed.pointer, rstd: a.rstd.pointer, input: input, weight: lw.norm,
                       rows: m, width: h, epsilon: c.layerNormEpsilon)
        linearForward(out: a.xz.pointer, outStride: 2 * di, input: a.normed.pointer, inputStride: h,
                      weight: lw.inProj, rows: m, inFeatures: h, outFeatures: extent == .state ? di : 2 * di)
        causalConv1dForward(out: a.convOut.pointer, input: a.xz.pointer, inputStride: 2 * di,
                            weight: lw.convWeight, bias: lw.convBias, state: convState, stateStride: convStateStride,
                            batch: batchSize, length: length, channels: di, kernel: k)
        siluForward(out: a.u.pointer, input: a.convOut.pointer, count: m * di)
        linearForward(out: a.xProj.pointer, outStride: c.xProjSize, input: a.u.pointer, inputStride: di,
                      weight: lw.xProj, rows: m, inFeatures: di, outFeatures: c.xProjSize)
        if let epsilon = c.mixerRMSEpsilon {
            // FalconMambaMixer.forward: `time_step = self.dt_layernorm(time_step)`, then b_layernorm(B), c_layernorm(C)
            for (part, (offset, width)) in c.xProjParts.enumerated() {
                rmsNormForward(out: a.ssmParameters.pointer + offset, outStride: c.xProjSize,
                               rstd: a.mixerRstd.pointer + part * m, input: a.xProj.pointer + offset,
                               inputStride: c.xProjSize, weight: nil, rows: m, width: width, epsilon: epsilon)
            }
        }
        linearForward(out: a.dt.pointer, outStride: di, input: a.ssmParameters.pointer, inputStride: c.xProjSize,
                      weight: lw.dtProjWeight, rows: m, inFeatures: r, outFeatures: di)
        selectiveScanForward(y: a.y.pointer, u: a.u.pointer, dt: a.dt.pointer, dtBias: lw.dtProjBias,
                             bc: a.ssmParameters.pointer + r, bcStride: c.xProjSize, aLog: lw.aLog, d: lw.d,
                             state: ssmState, stateStride: ssmStateStride,
                             batch: batchSize, length: length, channels: di, stateSize: n)
        if extent == .state { return }
        gateForward(out: a.gated.pointer, y: a.y.pointer, z: a.xz.pointer + di, zStride: 2 * di,
                    rows: m, channels: di)
        if extent == .gated { return }
        if UnsafePointer(output) != input { output.update(from: input, count: m * h) }
        linearForward(out: output, outStride: h, input: a.gated.pointer, inputStride: di,
                      weight: lw.outProj, rows: m, inFeatures: di, outFeatures: h, accumulate: true)
    }

    /// Block `l` again over the pass `acts` last held, from `initial`'s states (left untouched), keeping its tensors
    /// in `acts.layer(l)`: what a backward pass that does not keep every block's tensors recomputes (`extent`
    /// `.gated`: up to the gate; the block's output is already in the residual stream).
    public func recomputeLayer(_ l: Int, activations acts: MambaActivations, initial: MambaCache, extent: LayerExtent) {
        let c = config, (di, n, k) = (c.intermediateSize, c.stateSize, c.convKernel)
        // This layer's states of every sequence, di·k and di·n floats apart (the block overwrites them).
        var conv = [Float](repeating: 0, count: acts.batchSize * di * k), ssm = [Float](repeating: 0, count: acts.batchSize * di * n)
        for b in 0..<acts.batchSize {
            let convStart = b * initial.convCountPerSequence + l * di * k, ssmStart = b * initial.ssmCountPerSequence + l * di * n
            conv.replaceSubrange(b * di * k ..< (b + 1) * di * k, with: initial.conv[convStart ..< convStart + di * k])
            ssm.replaceSubrange(b * di * n ..< (b + 1) * di * n, with: initial.ssm[ssmStart ..< ssmStart + di * n])
        }
        conv.withUnsafeMutableBufferPointer { conv in
            ssm.withUnsafeMutableBufferPointer { ssm in
                layerForward(l, input: acts.hidden(enteringLayer: l).pointer, output: acts.hidden(enteringLayer: l + 1).pointer,
                             activations: acts.layer(l), convState: conv.baseAddress!, convStateStride: di * k,
                             ssmState: ssm.baseAddress!, ssmStateStride: di * n, batchSize: acts.batchSize,
                             length: acts.length, extent: extent)
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
    public func greedyStep(tokens: [Int32], cache: MambaCache, activations: MambaActivations? = nil) throws -> [Int32] {
        guard tokens.count == cache.batchSize else {
            throw ModelError("step: \(tokens.count) tokens for a cache of \(cache.batchSize) sequences")
        }
        let acts = activations ?? MambaActivations(config: config, batchSize: cache.batchSize, length: 1)
        try forward(tokens: tokens, batchSize: cache.batchSize, cache: cache, logits: .finalHidden, activations: acts)
        var choices = [Int32](repeating: 0, count: tokens.count)
        blockedLMHeadArgmax(hidden: acts.normF.pointer, weight: weights.lmHead, rows: tokens.count,
                            hiddenSize: config.hiddenSize, vocab: config.vocabSize, into: &choices)
        return choices
    }

    /// lm_head (the embeddings when tied): (rows, V) logits.
    private func lmHead(_ input: UnsafePointer<Float>, inputStride: Int, rows: Int) -> [Float] {
        let v = config.vocabSize
        return [Float](unsafeUninitializedCapacity: rows * v) { out, initialized in
            linearForward(out: out.baseAddress!, outStride: v, input: input, inputStride: inputStride,
                          weight: weights.lmHead, rows: rows, inFeatures: config.hiddenSize, outFeatures: v)
            initialized = rows * v
        }
    }
}
