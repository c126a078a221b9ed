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
    let blocks = (channels + 7) / 8
    LetheThreads.parallelFor(batch * blocks, chunksPerWorker: 4) { units in
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 2 * kernel) { scratch in
            let window = scratch.baseAddress!, w = window + kernel
            for unit in units {
                let b = unit / blocks, c0 = (unit % blocks) * 8, lanes = min(8, channels - c0)
                let s = state + b * stateStride + c0 * kernel
                for k in 0..<kernel {
                    window[k] = gatherLanes(s + k, stride: kernel, lanes)
                    w[k] = gatherLanes(weight + c0 * kernel + k, stride: kernel, lanes)
                }
                let bb = loadLanes(bias + c0, lanes)
                for t in 0..<length {
                    let m = b * length + t
                    for k in 0..<kernel - 1 { window[k] = window[k + 1] }
                    window[kernel - 1] = loadLanes(input + m * inputStride + c0, lanes)
                    var acc = bb
                    for k in 0..<kernel { acc += w[k] * window[k] }
                    storeLanes(acc, out + m * channels + c0, lanes)
                }
                for k in 0..<kernel { scatterLanes(window[k], s + k, stride: kernel, lanes) }
            }
        }
    }
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
