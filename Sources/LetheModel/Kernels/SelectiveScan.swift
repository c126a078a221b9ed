import Foundation

// The selective scan of Mamba-1 with its input-dependent Δ, B, C (mamba-minimal's glossary):
//   b: sequence (B of them), l: time step (L), d: channel of the inner width (DI), n: state index (N)
//   u (B·L, DI)       the scan input: SiLU(conv1d(x))
//   Δ (B·L, DI)       softplus(dt_proj(x_proj(u)[:, :R]) + dt_bias): `dt` holds the pre-bias dt_proj output
//   B, C (B·L, N)     columns R..<R+N and R+N..<R+2N of x_proj's output `bc` (row stride `bcStride`)
//   A (DI, N)         -exp(A_log);  D (DI) the skip
//   h (B) × (DI, N)   the ssm state, `stateStride` floats apart: read as h_0, written back as h_L
//   y (B·L, DI)       the output, before the gate
// Recurrence, per (b, d, n):  h_t = exp(Δ_t·A) · h_{t-1} + Δ_t · B_t · u_t;   y_t = Σ_n h_t·C_t + D·u_t

/// PyTorch (transformers' mamba_selective_scan, sequential path, plus its initial state that the torch path
/// leaves at zero):
///   `dt = F.softplus(dt + delta_bias[..., None])`
///   `discrete_A = torch.exp(A[None, :, None, :] * dt[:, :, :, None])`
///   `deltaB_u = (dt[:, :, :, None] * B[:, None, :, :]) * hidden_states[:, :, :, None]`
///   `ssm_state = discrete_A[:, :, i] * ssm_state + deltaB_u[:, :, i]`
///   `scan_output = ssm_state @ C[:, i, :].unsqueeze(-1)`;  `scan_output + hidden_states * D[None, :, None]`
/// Parallel over (sequence, block of 8 channels); Δ's softplus, the exp and the update are fused so that
/// the (B, DI, L, N) tensors PyTorch materialises never exist.
public func selectiveScanForward(y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, dt: UnsafePointer<Float>,
                                 dtBias: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                                 aLog: UnsafePointer<Float>, d: UnsafePointer<Float>,
                                 state: UnsafeMutablePointer<Float>, stateStride: Int,
                                 batch: Int, length: Int, channels: Int, stateSize: Int) {
    let blocks = (channels + 7) / 8
    let n = stateSize
    LetheThreads.parallelFor(batch * blocks, chunksPerWorker: 4) { units in
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 2 * n) { scratch in
            let a = scratch.baseAddress!, h = a + n
            for unit in units {
                let b = unit / blocks, c0 = (unit % blocks) * 8, lanes = min(8, channels - c0)
                let s = state + b * stateStride + c0 * n
                for j in 0..<n {
                    a[j] = -fastExp(gatherLanes(aLog + c0 * n + j, stride: n, lanes))
                    h[j] = gatherLanes(s + j, stride: n, lanes)
                }
                let bias = loadLanes(dtBias + c0, lanes), skip = loadLanes(d + c0, lanes)
                for t in 0..<length {
                    let m = b * length + t
                    let delta = softplus(loadLanes(dt + m * channels + c0, lanes) + bias)
                    let x = loadLanes(u + m * channels + c0, lanes)
                    let deltaX = delta * x
                    let bRow = bc + m * bcStride, cRow = bRow + n
                    var out = skip * x
                    for j in 0..<n {
                        let hj = fastExp(delta * a[j]) * h[j] + deltaX * bRow[j]
                        h[j] = hj
                        out += hj * cRow[j]
                    }
                    storeLanes(out, y + m * channels + c0, lanes)
                }
                for j in 0..<n { scatterLanes(h[j], s + j, stride: n, lanes) }
            }
        }
    }
}

/// Naive reference of `selectiveScanForward`: PyTorch's lines one (b, d, n) at a time, in Double with libm.
public func selectiveScanForwardReference(y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>,
                                          dt: UnsafePointer<Float>, dtBias: UnsafePointer<Float>,
                                          bc: UnsafePointer<Float>, bcStride: Int, aLog: UnsafePointer<Float>,
                                          d: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                                          stateStride: Int, batch: Int, length: Int, channels: Int,
                                          stateSize: Int) {
    let n = stateSize
    for b in 0..<batch {
        for c in 0..<channels {
            var h = (0..<n).map { Double(state[b * stateStride + c * n + $0]) }
            for t in 0..<length {
                let m = b * length + t
                let pre = Double(dt[m * channels + c]) + Double(dtBias[c])
                let delta = pre > 20 ? pre : log1p(exp(pre))
                let x = Double(u[m * channels + c])
                var out = Double(d[c]) * x
                for j in 0..<n {
                    let a = -exp(Double(aLog[c * n + j]))
                    h[j] = exp(delta * a) * h[j] + delta * Double(bc[m * bcStride + j]) * x
                    out += h[j] * Double(bc[m * bcStride + n + j])
                }
                y[m * channels + c] = Float(out)
            }
            for j in 0..<n { state[b * stateStride + c * n + j] = Float(h[j]) }
        }
    }
}
