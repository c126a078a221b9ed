import CLetheKernels

// Depthwise causal conv1d over time, per sequence and channel, with the conv state (transformers' cache
// convention: the last K inputs). Shapes: input (B·L, DI) with row stride `inputStride` (the x half of
// in_proj's output); out (B·L, DI); weight (DI, 1, K); bias (DI); state (B) × (DI, K) with `stateStride`
// floats between sequences.

/// PyTorch (MambaMixer.forward, causal_conv1d_fn / causal_conv1d_update, cache.update_conv_state):
///   `full = torch.cat([conv_state, x], dim=-1)`            conv_state: zeros for a fresh sequence
///   `out = F.conv1d(full, weight, bias, groups=DI)[..., -L:]`
///   `conv_state.copy_(full[..., -K:])`
/// i.e. out[t, d] = bias[d] + Σ_k weight[d, k] · full[d, t + 1 + k], and on return `state` holds the last K
/// inputs (zero-padded on the left, or padded from the initial state, when L < K). `state` is read before
/// it is written, so one cache can be both the initial and the final state.
public func causalConv1dForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int,
                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                state: UnsafeMutablePointer<Float>, stateStride: Int,
                                batch: Int, length: Int, channels: Int, kernel: Int) {
    if length == 1 {  // the recurrent step (RecurrentStep.swift)
        return causalConv1dStep(out: out, input: input, inputStride: inputStride, weight: weight, bias: bias,
                                state: state, stateStride: stateStride, batch: batch, channels: channels, kernel: kernel)
    }
    let blocks = (channels + 7) / 8
    LetheThreads.parallelFor(batch * blocks, chunksPerWorker: 4) { units in
        // The last `kernel` inputs as a ring kept twice over (slots j and j + kernel hold the same input), so that
        // the window, oldest first, is always the contiguous slots newest + 1 ... newest + kernel: no shifting.
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 3 * kernel) { scratch in
            let ring = scratch.baseAddress!, w = ring + 2 * kernel
            for unit in units {
                let b = unit / blocks, c0 = (unit % blocks) * 8, lanes = min(8, channels - c0)
                let s = state + b * stateStride + c0 * kernel
                for k in 0..<kernel {
                    ring[k] = gatherLanes(s + k, stride: kernel, lanes)
                    ring[k + kernel] = ring[k]
                    w[k] = gatherLanes(weight + c0 * kernel + k, stride: kernel, lanes)
                }
                let bb = loadLanes(bias + c0, lanes)
                var newest = kernel - 1
                for t in 0..<length {
                    let m = b * length + t
                    newest = newest + 1 == kernel ? 0 : newest + 1
                    ring[newest] = loadLanes(input + m * inputStride + c0, lanes)
                    ring[newest + kernel] = ring[newest]
                    let window = ring + newest + 1
                    var acc = bb
                    for k in 0..<kernel { acc += w[k] * window[k] }
                    storeLanes(acc, out + m * channels + c0, lanes)
                }
                for k in 0..<kernel { scatterLanes(ring[newest + 1 + k], s + k, stride: kernel, lanes) }
            }
        }
    }
}

/// `causalConv1dForward` into `out` (when given: the backward pass reads it), then `siluForward` of it into
/// `activated`, as the block runs them:
///   PyTorch (MambaMixer.slow_forward): `hidden_states = self.act(self.conv1d(hidden_states)[..., :seq_len])`
/// With the AVX-512 or AVX2 C kernels (`vectorPath`) in one pass over the tokens, the SiLU taken while the conv's
/// output is in registers, with the Swift kernels' operations: the same bits either way. The C kernels' work units
/// span LETHE_CONV_UNIT_VECTORS vectors of channels, so that each token's row is read in runs the prefetchers follow.
public func causalConv1dSiLUForward(out: UnsafeMutablePointer<Float>?, activated: UnsafeMutablePointer<Float>,
                                    input: UnsafePointer<Float>, inputStride: Int, weight: UnsafePointer<Float>,
                                    bias: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, stateStride: Int,
                                    batch: Int, length: Int, channels: Int, kernel: Int) {
    if length > 1, let fused = vectorPath.cKernel(avx512: lethe_causal_conv1d_silu_avx512,
                                                  avx2: lethe_causal_conv1d_silu_avx2) {
        let unitChannels = Int(LETHE_CONV_UNIT_VECTORS) * vectorPath.lanes
        LetheThreads.parallelFor(batch * ((channels + unitChannels - 1) / unitChannels), chunksPerWorker: 4) {
            fused(out, activated, input, inputStride, weight, bias, state, stateStride, length, channels, kernel,
                  $0.lowerBound, $0.upperBound)
        }
        return
    }
    let convOut = out ?? activated  // without `out`, the SiLU runs in place
    causalConv1dForward(out: convOut, input: input, inputStride: inputStride, weight: weight, bias: bias, state: state,
                        stateStride: stateStride, batch: batch, length: length, channels: channels, kernel: kernel)
    siluForward(out: activated, input: convOut, count: batch * length * channels)
}

/// Naive reference of `causalConv1dForward`: builds `full` per sequence and channel, as PyTorch does.
public func causalConv1dForwardReference(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                         inputStride: Int, weight: UnsafePointer<Float>,
                                         bias: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                                         stateStride: Int, batch: Int, length: Int, channels: Int, kernel: Int) {
    for b in 0..<batch {
        for d in 0..<channels {
            let s = state + b * stateStride + d * kernel
            let full = (0..<kernel).map { s[$0] } + (0..<length).map { input[(b * length + $0) * inputStride + d] }
            for t in 0..<length {
                var acc = Double(bias[d])
                for k in 0..<kernel { acc += Double(weight[d * kernel + k]) * Double(full[t + 1 + k]) }
                out[(b * length + t) * channels + d] = Float(acc)
            }
            for k in 0..<kernel { s[k] = full[length + k] }
        }
    }
}

/// Backward of `causalConv1dForward` given dOut (M, DI), the gradient of the conv's output (before the SiLU).
/// With full = cat(state, x) and out[t] = bias + Σ_k w[k] · full[t + 1 + k]:
///   dBias[d] += Σ_t dOut[t, d];   dWeight[d, k] += Σ_t dOut[t, d] · full[t + 1 + k, d]
///   dInput[s, d] = Σ_k dOut[s + K - 1 - k, d] · w[d, k]   (written; row stride `dInputStride`)
/// `state` is the initial conv state the forward pass read (the encoder's, or zeros). With `dState`, its gradient
/// is written there, (B) × (C, K) `dStateStride` floats apart: dState[k] = Σ dOut[t] · w[k'] over t + 1 + k' = k
/// (entry 0, which no output reads, gets 0). Parallel over channel blocks of 8, so dWeight and dBias sum in a
/// fixed order.
public func causalConv1dBackward(dInput: UnsafeMutablePointer<Float>, dInputStride: Int,
                                 dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                 dState: UnsafeMutablePointer<Float>? = nil, dStateStride: Int = 0,
                                 dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, inputStride: Int,
                                 weight: UnsafePointer<Float>, state: UnsafePointer<Float>, stateStride: Int,
                                 batch: Int, length: Int, channels: Int, kernel: Int) {
    let blocks = (channels + 7) / 8
    LetheThreads.parallelFor(blocks) { range in
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 3 * kernel) { scratch in
            let window = scratch.baseAddress!, w = window + kernel, dw = w + kernel
            for block in range {
                let c0 = block * 8, lanes = min(8, channels - c0)
                for k in 0..<kernel {
                    w[k] = gatherLanes(weight + c0 * kernel + k, stride: kernel, lanes)
                    dw[k] = Float8()
                }
                var db = Float8()
                for b in 0..<batch {
                    // Forward order: window[k] = full[t + 1 + k].
                    let s = state + b * stateStride + c0 * kernel
                    for k in 0..<kernel { window[k] = gatherLanes(s + k, stride: kernel, lanes) }
                    for t in 0..<length {
                        let m = b * length + t
                        for k in 0..<kernel - 1 { window[k] = window[k + 1] }
                        window[kernel - 1] = loadLanes(input + m * inputStride + c0, lanes)
                        let g = loadLanes(dOut + m * channels + c0, lanes)
                        db += g
                        for k in 0..<kernel { dw[k] += g * window[k] }
                    }
                    // dInput[s] gathers the outputs t = s + K - 1 - k that saw it.
                    for s in 0..<length {
                        var acc = Float8()
                        for k in 0..<kernel {
                            let t = s + kernel - 1 - k
                            if t < length { acc += w[k] * loadLanes(dOut + (b * length + t) * channels + c0, lanes) }
                        }
                        storeLanes(acc, dInput + (b * length + s) * dInputStride + c0, lanes)
                    }
                    if let dState {
                        // State entry s (of K) is full[s]: read by the outputs t = s - 1 - k.
                        for s in 0..<kernel {
                            var acc = Float8()
                            for k in 0..<kernel {
                                let t = s - 1 - k
                                if t >= 0, t < length { acc += w[k] * loadLanes(dOut + (b * length + t) * channels + c0, lanes) }
                            }
                            scatterLanes(acc, dState + b * dStateStride + c0 * kernel + s, stride: kernel, lanes)
                        }
                    }
                }
                storeLanes(loadLanes(dBias + c0, lanes) + db, dBias + c0, lanes)
                for k in 0..<kernel {
                    let current = gatherLanes(dWeight + c0 * kernel + k, stride: kernel, lanes)
                    scatterLanes(current + dw[k], dWeight + c0 * kernel + k, stride: kernel, lanes)
                }
            }
        }
    }
}

/// Naive reference of `causalConv1dBackward` (sums in Double).
public func causalConv1dBackwardReference(dInput: UnsafeMutablePointer<Float>, dInputStride: Int,
                                          dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                          dState: UnsafeMutablePointer<Float>? = nil, dStateStride: Int = 0,
                                          dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                          inputStride: Int, weight: UnsafePointer<Float>,
                                          state: UnsafePointer<Float>, stateStride: Int,
                                          batch: Int, length: Int, channels: Int, kernel: Int) {
    for d in 0..<channels {
        var db = 0.0
        var dw = [Double](repeating: 0, count: kernel)
        for b in 0..<batch {
            let full = (0..<kernel).map { Double(state[b * stateStride + d * kernel + $0]) }
                + (0..<length).map { Double(input[(b * length + $0) * inputStride + d]) }
            var dFull = [Double](repeating: 0, count: kernel + length)
            for t in 0..<length {
                let g = Double(dOut[(b * length + t) * channels + d])
                db += g
                for k in 0..<kernel {
                    dw[k] += g * full[t + 1 + k]
                    dFull[t + 1 + k] += g * Double(weight[d * kernel + k])
                }
            }
            for s in 0..<length { dInput[(b * length + s) * dInputStride + d] = Float(dFull[kernel + s]) }
            for s in 0..<kernel { dState?[b * dStateStride + d * kernel + s] = Float(dFull[s]) }
        }
        dBias[d] += Float(db)
        for k in 0..<kernel { dWeight[d * kernel + k] += Float(dw[k]) }
    }
}
