import Foundation

// The scan of Mamba-2 (state space duality, SSD), as its recurrence:
//   b: sequence (B), t: time step (L), h: head (H), p: channel of the head (P), n: state index (N), g: group (G)
//   x (B·L, H·P)      the scan input: columns 0..<DI of SiLU(conv1d(xBC)), row stride `xStride`
//   dt (B·L, H)       in_proj's dt columns, before dt_bias and softplus, row stride `dtStride`
//   B, C (B·L, G·N)   the next columns of SiLU(conv1d(xBC)), row stride `bcStride`; head h reads group h / (H/G)
//   A (H)             -exp(A_log): one scalar decay per head;  D (H) the skip
//   s (B) × (H, P, N) the ssm state, `stateStride` floats apart: read as s_0, written back as s_L
//   y (B·L, H·P)      the output, before the gated norm
// Recurrence, per (b, h):  Δ_t = clamp(softplus(dt_t + dt_bias), min, max)
//   s_t[p, n] = exp(Δ_t·A) · s_{t-1}[p, n] + Δ_t · B_t[n] · x_t[p];   y_t[p] = Σ_n s_t[p, n] · C_t[n] + D · x_t[p]

/// PyTorch (transformers' mamba2_selective_state_update, one token at a time; its chunked mamba2_chunk_scan
/// computes the same sums regrouped by chunks):
///   `dt = F.softplus(dt + dt_bias)`, clamped to time_step_limit;  `dA = torch.exp(dt * A)`
///   `ssm_states = state * dA + (dt * B)[..., None, :] * hidden_states[..., None]`
///   `out = ssm_states @ C` (bmm over n);  `out = out + hidden_states * D`
/// Parallel over (sequence, head); the heads of a group read the same B and C.
public func ssdScanForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, xStride: Int,
                           dt: UnsafePointer<Float>, dtStride: Int, dtBias: UnsafePointer<Float>,
                           aLog: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int, d: UnsafePointer<Float>,
                           state: UnsafeMutablePointer<Float>, stateStride: Int, batch: Int, length: Int,
                           heads: Int, headDim: Int, groups: Int, stateSize: Int, dtMin: Float, dtMax: Float) {
    let (p, n, headsPerGroup) = (headDim, stateSize, heads / groups)
    LetheThreads.parallelFor(batch * heads, chunksPerWorker: 4) { units in
        for unit in units {
            let (b, h) = (unit / heads, unit % heads)
            let a = -exp(aLog[h]), s = state + b * stateStride + h * p * n
            let bOffset = (h / headsPerGroup) * n, cOffset = groups * n + bOffset
            for t in 0..<length {
                let row = b * length + t
                let delta = ssdTimeStep(dt[row * dtStride + h] + dtBias[h], min: dtMin, max: dtMax)
                let decay = exp(delta * a)
                let bt = bc + row * bcStride + bOffset, ct = bc + row * bcStride + cOffset
                let xt = x + row * xStride + h * p, yt = y + row * heads * p + h * p
                for channel in 0..<p {
                    let sp = s + channel * n, xv = xt[channel]
                    var acc = Float8()
                    forEachGroupOf8(n) { i, lanes in
                        let updated = loadLanes(sp + i, lanes) * decay + (delta * loadLanes(bt + i, lanes)) * xv
                        storeLanes(updated, sp + i, lanes)
                        acc += updated * loadLanes(ct + i, lanes)
                    }
                    yt[channel] = acc.sum() + xv * d[h]
                }
            }
        }
    }
}

/// Δ from the biased dt: `torch.clamp(F.softplus(dt), *time_step_limit)` (softplus with PyTorch's threshold 20).
@inline(__always)
func ssdTimeStep(_ biased: Float, min low: Float, max high: Float) -> Float {
    let softplus = biased > 20 ? biased : log1p(exp(biased))
    return Swift.min(Swift.max(softplus, low), high)
}

/// Naive reference of `ssdScanForward` (sums in Double, one (sequence, head, channel, state) at a time).
public func ssdScanForwardReference(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, xStride: Int,
                                    dt: UnsafePointer<Float>, dtStride: Int, dtBias: UnsafePointer<Float>,
                                    aLog: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                                    d: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, stateStride: Int,
                                    batch: Int, length: Int, heads: Int, headDim: Int, groups: Int, stateSize: Int,
                                    dtMin: Float, dtMax: Float) {
    let (p, n) = (headDim, stateSize)
    for b in 0..<batch {
        for h in 0..<heads {
            let g = h / (heads / groups)
            var s = (0..<p * n).map { Double(state[b * stateStride + h * p * n + $0]) }
            for t in 0..<length {
                let row = b * length + t
                let biased = Double(dt[row * dtStride + h]) + Double(dtBias[h])
                let delta = min(max(biased > 20 ? biased : log1p(exp(biased)), Double(dtMin)), Double(dtMax))
                let decay = exp(-exp(Double(aLog[h])) * delta)
                for channel in 0..<p {
                    let xv = Double(x[row * xStride + h * p + channel])
                    var out = 0.0
                    for j in 0..<n {
                        let bv = Double(bc[row * bcStride + g * n + j]), cv = Double(bc[row * bcStride + (groups + g) * n + j])
                        s[channel * n + j] = s[channel * n + j] * decay + delta * bv * xv
                        out += s[channel * n + j] * cv
                    }
                    y[row * heads * p + h * p + channel] = Float(out + Double(d[h]) * xv)
                }
            }
            for i in 0..<p * n { state[b * stateStride + h * p * n + i] = Float(s[i]) }
        }
    }
}
