import CLetheKernels

// The conv and the scan for ONE token per sequence (L = 1): what every step of greedy decoding runs.
// `causalConv1dForward` and `selectiveScanForward` hand length-1 batches to these. Their own work units (a block
// of channels of one sequence) spend far more on gathering the block's state across channels, and on exp(A_log),
// than on a single token; here each channel's state is read where it lies (contiguous), and exp(A_log) is taken
// once per block of channels for the whole batch. Shapes and layouts as in Conv1d.swift and SelectiveScan.swift
// with L = 1 (row m = sequence b).

/// PyTorch (causal_conv1d_update):
///   `conv_state.copy_(torch.cat([conv_state, x], dim=-1)[:, :, -K:])`     (the state shifts by one)
///   `out = torch.sum(conv_state * weight, dim=-1) + bias`
/// The sum runs in the order of `causalConv1dForward` (bias, then k = 0 ..< K), so the two agree to the bit.
func causalConv1dStep(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                      stateStride: Int, batch: Int, channels: Int, kernel: Int) {
    LetheThreads.parallelFor(batch, chunksPerWorker: 2) { sequences in
        for b in sequences {
            for d in 0..<channels {
                let s = state + b * stateStride + d * kernel, w = weight + d * kernel
                let x = input[b * inputStride + d]
                var acc = bias[d]
                for k in 0..<kernel - 1 {
                    s[k] = s[k + 1]
                    acc += w[k] * s[k]
                }
                s[kernel - 1] = x
                acc += w[kernel - 1] * x
                out[b * channels + d] = acc
            }
        }
    }
}

/// PyTorch (mamba_selective_state_update, transformers' one-token path):
///   `dt = F.softplus(dt + dt_bias)`;  `dA = torch.exp(dt[..., None] * A)`   (A = -exp(A_log))
///   `ssm_state = ssm_state * dA + (dt[..., None] * B[:, None, :]) * x[..., None]`
///   `out = (ssm_state @ C[..., None]).squeeze(-1) + x * D`
/// Parallel over blocks of 8 channels; each block takes exp(A_log) once, then steps every sequence, the state
/// of a channel (N values, contiguous) in vectors of 8. The same fast exp, exp2 and softplus as the scan. Runs
/// the AVX-512 or AVX2+FMA C kernel (Sources/CLetheKernels/selective_scan_step_body.h: blocks of 16 or 8 channels,
/// the states in vectors of as many) when the CPU has it, else the Swift SIMD kernel below: `vectorPath`.
func selectiveScanStep(y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, dt: UnsafePointer<Float>,
                       dtBias: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                       aLog: UnsafePointer<Float>, d: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                       stateStride: Int, batch: Int, channels: Int, stateSize n: Int) {
    if let kernel = vectorPath.cKernel(avx512: lethe_selective_scan_step_avx512, avx2: lethe_selective_scan_step_avx2) {
        let lanes = vectorPath.lanes
        LetheThreads.parallelFor((channels + lanes - 1) / lanes, chunksPerWorker: 4) {
            kernel(y, u, dt, dtBias, bc, bcStride, aLog, d, state, stateStride, batch, channels, n, $0.lowerBound,
                   $0.upperBound)
        }
        return
    }
    let blocks = (channels + 7) / 8, groups = (n + 7) / 8
    LetheThreads.parallelFor(blocks, chunksPerWorker: 4) { units in
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 8 * groups) { scratch in
            let a = scratch.baseAddress!  // a[i·groups + g]: A·log2(e) of channel c0 + i, states 8g ..< 8g + 8
            for unit in units {
                let c0 = unit * 8, lanes = min(8, channels - c0)
                for i in 0..<lanes {
                    for g in 0..<groups {
                        a[i * groups + g] = -fastExp(loadLanes(aLog + (c0 + i) * n + 8 * g, min(8, n - 8 * g))) * 1.442_695_04
                    }
                }
                let bias = loadLanes(dtBias + c0, lanes), skip = loadLanes(d + c0, lanes)
                for b in 0..<batch {
                    let delta = softplus(loadLanes(dt + b * channels + c0, lanes) + bias)
                    let x = loadLanes(u + b * channels + c0, lanes)
                    let deltaX = delta * x
                    let bRow = bc + b * bcStride, cRow = bRow + n
                    var out = skip * x
                    for i in 0..<lanes {
                        let h = state + b * stateStride + (c0 + i) * n
                        var sum = Float8()
                        for g in 0..<groups {
                            let j = 8 * g, width = min(8, n - j)
                            let hj = fastExp2NonPositive(delta[i] * a[i * groups + g]) * loadLanes(h + j, width)
                                + deltaX[i] * loadLanes(bRow + j, width)
                            storeLanes(hj, h + j, width)
                            sum += hj * loadLanes(cRow + j, width)  // lanes past n: 0 · 0
                        }
                        out[i] += sum.sum()
                    }
                    storeLanes(out, y + b * channels + c0, lanes)
                }
            }
        }
    }
}
