import CLetheKernels
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
/// Parallel over (sequence, block of 8 or 16 channels: the vector's lanes); Δ's softplus, the exp and the update
/// are fused so that the (B, DI, L, N) tensors PyTorch materialises never exist. Runs the AVX-512 or AVX2+FMA C kernel
/// (Sources/CLetheKernels) when the CPU has it, else the Swift SIMD kernel below: `vectorPath`.
///
/// With `gate`, also `gateForward(out: gate.out, y: y, z: gate.z, ...)`: the C kernels of L > 1 take the gate while
/// the scan's output is in the cache (a tile of tokens at a time), with gateForward's operations (the same bits
/// either way); the one-token step and the Swift path run gateForward after the scan. `gate.keepsScanOutput` false:
/// y's contents are unspecified.
public func selectiveScanForward(y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, dt: UnsafePointer<Float>,
                                 dtBias: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                                 aLog: UnsafePointer<Float>, d: UnsafePointer<Float>,
                                 state: UnsafeMutablePointer<Float>, stateStride: Int,
                                 batch: Int, length: Int, channels: Int, stateSize: Int, gate: ScanGate? = nil) {
    if length > 1, let kernel = vectorPath.cKernel(avx512: lethe_selective_scan_avx512,
                                                   avx2: lethe_selective_scan_avx2) {
        let lanes = vectorPath.lanes
        LetheThreads.parallelFor(batch * ((channels + lanes - 1) / lanes), chunksPerWorker: 4) {
            kernel(gate?.keepsScanOutput == false ? nil : y, gate?.out, gate?.z, gate?.zStride ?? 0, u, dt, dtBias, bc,
                   bcStride, aLog, d, state, stateStride, length, channels, stateSize, $0.lowerBound, $0.upperBound)
        }
        return
    }
    if length == 1 {  // the recurrent step (RecurrentStep.swift)
        selectiveScanStep(y: y, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride, aLog: aLog, d: d,
                          state: state, stateStride: stateStride, batch: batch, channels: channels, stateSize: stateSize)
    } else {
        selectiveScanForwardSIMD(y: y, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride, aLog: aLog, d: d,
                                 state: state, stateStride: stateStride, batch: batch, length: length,
                                 channels: channels, stateSize: stateSize)
    }
    if let gate {
        gateForward(out: gate.out, y: y, z: gate.z, zStride: gate.zStride, rows: batch * length, channels: channels)
    }
}

/// Where `selectiveScanForward` writes the gate y · SiLU(z) beside y: z (B·L, DI) with row stride `zStride` (the z
/// half of in_proj's output), out (B·L, DI).
public struct ScanGate {
    public let z: UnsafePointer<Float>
    public let zStride: Int
    public let out: UnsafeMutablePointer<Float>
    /// False when nothing reads y after the gate (a forward pass without backward): the C kernels then leave y
    /// unwritten, a fifth of the rows the scan moves.
    public let keepsScanOutput: Bool

    public init(z: UnsafePointer<Float>, zStride: Int, out: UnsafeMutablePointer<Float>, keepsScanOutput: Bool = true) {
        (self.z, self.zStride, self.out, self.keepsScanOutput) = (z, zStride, out, keepsScanOutput)
    }
}

/// The scan of `selectiveScanForward` in Swift SIMD, 8 channels per work unit: the portable path.
private func selectiveScanForwardSIMD(y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, dt: UnsafePointer<Float>,
                                      dtBias: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                                      aLog: UnsafePointer<Float>, d: UnsafePointer<Float>,
                                      state: UnsafeMutablePointer<Float>, stateStride: Int,
                                      batch: Int, length: Int, channels: Int, stateSize: Int) {
    let n = stateSize
    let blocks = (channels + 7) / 8
    LetheThreads.parallelFor(batch * blocks, chunksPerWorker: 4) { units in
        withUnsafeTemporaryAllocation(of: Float8.self, capacity: 2 * n) { scratch in
            let a = scratch.baseAddress!, h = a + n
            for unit in units {
                let b = unit / blocks, c0 = (unit % blocks) * 8, lanes = min(8, channels - c0)
                let s = state + b * stateStride + c0 * n
                for j in 0..<n {
                    // A·log2(e), so that exp(Δ·A) = 2^(Δ·A·log2 e) in the loop below.
                    a[j] = -fastExp(gatherLanes(aLog + c0 * n + j, stride: n, lanes)) * 1.442_695_04
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
                        let hj = fastExp2NonPositive(delta * a[j]) * h[j] + deltaX * bRow[j]
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

// MARK: Backward

// Backward of h_t = a_t · h_{t-1} + x_t (a_t = exp(Δ_t·A), x_t = Δ_t·B_t·u_t) and y_t = Σ_n h_t·C_t + D·u_t,
// a reverse-time scan of g_t = dL/dh_t:
//   g_t   = dy_t · C_t + a_{t+1} · g_{t+1}            (g after the last token: 0)
//   dC_t  = Σ_d dy_t · h_t          dB_t = Σ_d g_t · Δ_t · u_t
//   du_t  = dy_t · D + Σ_n g_t · Δ_t · B_t
//   dΔ_t  = Σ_n g_t · (h_{t-1} · a_t · A + B_t · u_t)  then through softplus: d(dt) = dΔ_t · sigmoid(dt + bias)
//   dA    = Σ_t g_t · h_{t-1} · a_t · Δ_t, and dA_log = dA · A (A = -exp(A_log))
//   dh_0  = a_0 · g_0: the gradient reaching the initial state, h_{-1} (the encoder's state for the decoder).
// The official CUDA scan has neither an initial state nor its gradient; this one is tested by finite
// differences (SelectiveScanReference).

/// Channels per work unit of `selectiveScanBackward`. Fixed, not derived from the thread count, so every sum over
/// channels (dB, dC) is added in the same order on every machine: bit-identical gradients whatever the threads.
let scanBackwardUnitChannels = 32

/// Backward of `selectiveScanForward` given dY (B·L, DI), the gradient of its output y (before the gate).
/// `state` is the initial state the forward pass started from (it overwrote its own copy with the final state).
///
/// Written: dU (B·L, DI), dDt (B·L, DI) the gradient of `dt` (= of dt + bias), dBC: dB and dC at columns 0..<N and
/// N..<2N of rows `dbcStride` apart (the B/C columns of x_proj's output gradient), and, when given, dState
/// (B) × (DI, N). Accumulated: dDtBias (DI), dALog (DI, N), dD (DI).
///
/// Nothing of the scan is kept from the forward pass: each group of 8 channels (16 with AVX-512) recomputes its
/// states for one sequence with the forward's operations, keeping them and exp(Δ·A), then runs backwards in time.
/// Parallel over units of 32 channels; dB and dC, sums over channels, gather in one vector per (t, n) for the whole
/// unit, are reduced across lanes once per unit and sequence, and the units' shares are added in unit order.
/// Runs the AVX-512 or AVX2+FMA C kernel (Sources/CLetheKernels/selective_scan_backward_body.h) as
/// `vectorPath` says, else the Swift SIMD one below.
public func selectiveScanBackward(dU: UnsafeMutablePointer<Float>, dDt: UnsafeMutablePointer<Float>,
                                  dBC: UnsafeMutablePointer<Float>, dbcStride: Int,
                                  dDtBias: UnsafeMutablePointer<Float>, dALog: UnsafeMutablePointer<Float>,
                                  dD: UnsafeMutablePointer<Float>,
                                  dState: UnsafeMutablePointer<Float>?, dStateStride: Int,
                                  dY: UnsafePointer<Float>,
                                  u: UnsafePointer<Float>, dt: UnsafePointer<Float>, dtBias: UnsafePointer<Float>,
                                  bc: UnsafePointer<Float>, bcStride: Int,
                                  aLog: UnsafePointer<Float>, d: UnsafePointer<Float>,
                                  state: UnsafePointer<Float>, stateStride: Int,
                                  batch: Int, length: Int, channels: Int, stateSize: Int) {
    let n = stateSize, rows = batch * length
    let units = (channels + scanBackwardUnitChannels - 1) / scanBackwardUnitChannels
    let partialStride = rows * 2 * n  // per unit: (rows, 2N) its share of dB | dC
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: units * partialStride)
    defer { partials.deallocate() }

    if let kernel = vectorPath.cKernel(avx512: lethe_selective_scan_backward_avx512,
                                       avx2: lethe_selective_scan_backward_avx2) {
        LetheThreads.parallelFor(units) { range in
            kernel(dU, dDt, partials, dDtBias, dALog, dD, dState, dStateStride, dY, u, dt, dtBias, bc, bcStride, aLog,
                   d, state, stateStride, batch, length, channels, n, scanBackwardUnitChannels, range.lowerBound,
                   range.upperBound)
        }
    } else {
        LetheThreads.parallelFor(units) { range in
            scanBackwardUnits(range, dU: dU, dDt: dDt, partials: partials, dDtBias: dDtBias, dALog: dALog, dD: dD,
                              dState: dState, dStateStride: dStateStride, dY: dY, u: u, dt: dt, dtBias: dtBias,
                              bc: bc, bcStride: bcStride, aLog: aLog, d: d, state: state, stateStride: stateStride,
                              batch: batch, length: length, channels: channels, stateSize: n)
        }
    }
    // dB, dC: the units' shares, added in unit order.
    LetheThreads.parallelFor(rows) { rowRange in
        for m in rowRange {
            for j in 0..<2 * n {
                var sum: Float = 0
                for unit in 0..<units { sum += partials[unit * partialStride + m * 2 * n + j] }
                dBC[m * dbcStride + j] = sum
            }
        }
    }
}

/// The Swift SIMD path of `selectiveScanBackward` for work units `units` (see there).
private func scanBackwardUnits(_ units: Range<Int>, dU: UnsafeMutablePointer<Float>, dDt: UnsafeMutablePointer<Float>,
                               partials: UnsafeMutablePointer<Float>, dDtBias: UnsafeMutablePointer<Float>,
                               dALog: UnsafeMutablePointer<Float>, dD: UnsafeMutablePointer<Float>,
                               dState: UnsafeMutablePointer<Float>?, dStateStride: Int, dY: UnsafePointer<Float>,
                               u: UnsafePointer<Float>, dt: UnsafePointer<Float>, dtBias: UnsafePointer<Float>,
                               bc: UnsafePointer<Float>, bcStride: Int, aLog: UnsafePointer<Float>,
                               d: UnsafePointer<Float>, state: UnsafePointer<Float>, stateStride: Int,
                               batch: Int, length: Int, channels: Int, stateSize n: Int) {
    let groupsPerUnit = scanBackwardUnitChannels / 8, rows = batch * length
    // Per group: h_t and exp(Δ_t·A) (length, n), Δ_t (length); per unit: dB | dC lanes (length, 2n); per group of
    // the unit: A, A·log2(e), dA (n each), d(bias), dD; and g = dL/dh (n).
    let scratch = UnsafeMutablePointer<Float8>.allocate(capacity: 4 * length * n + length + groupsPerUnit * (3 * n + 2) + n)
    defer { scratch.deallocate() }
    let states = scratch, decays = states + length * n, deltas = decays + length * n, acc = deltas + length
    let a = acc + 2 * length * n, a2 = a + groupsPerUnit * n, dA = a2 + groupsPerUnit * n
    let dBias = dA + groupsPerUnit * n, dSkip = dBias + groupsPerUnit, g = dSkip + groupsPerUnit
    for unit in units {
        let u0 = unit * scanBackwardUnitChannels, u1 = min(channels, u0 + scanBackwardUnitChannels)
        let groups = (u1 - u0 + 7) / 8
        let partial = partials + unit * rows * 2 * n
        for k in 0..<groups {
            let c0 = u0 + 8 * k, lanes = min(8, channels - c0)
            for j in 0..<n {
                // A = -exp(A_log), and A·log2(e) as the forward uses it: exp(Δ·A) = 2^(Δ·A·log2 e)
                a[k * n + j] = -fastExp(gatherLanes(aLog + c0 * n + j, stride: n, lanes))
                a2[k * n + j] = a[k * n + j] * 1.442_695_04
                dA[k * n + j] = Float8()
            }
            dBias[k] = Float8()
            dSkip[k] = Float8()
        }
        for b in 0..<batch {
            acc.update(repeating: Float8(), count: 2 * length * n)
            for k in 0..<groups {
                let c0 = u0 + 8 * k, lanes = min(8, channels - c0)
                let ak = a + k * n, a2k = a2 + k * n
                let initial = state + b * stateStride + c0 * n
                let bias = loadLanes(dtBias + c0, lanes), skip = loadLanes(d + c0, lanes)
                // Forward, as selectiveScanForward computes it, keeping every state.
                for j in 0..<n { g[j] = gatherLanes(initial + j, stride: n, lanes) }
                for t in 0..<length {
                    let m = b * length + t
                    let delta = softplus(loadLanes(dt + m * channels + c0, lanes) + bias)
                    let deltaX = delta * loadLanes(u + m * channels + c0, lanes)
                    let bRow = bc + m * bcStride
                    for j in 0..<n {
                        let decay = fastExp2NonPositive(delta * a2k[j])
                        g[j] = decay * g[j] + deltaX * bRow[j]
                        states[t * n + j] = g[j]
                        decays[t * n + j] = decay
                    }
                    deltas[t] = delta
                }
                // Backwards in time; g becomes dL/dh_t.
                for j in 0..<n { g[j] = Float8() }
                for t in stride(from: length - 1, through: 0, by: -1) {
                    let m = b * length + t
                    let dy = loadLanes(dY + m * channels + c0, lanes), x = loadLanes(u + m * channels + c0, lanes)
                    let delta = deltas[t], deltaX = delta * x
                    let bRow = bc + m * bcStride, cRow = bRow + n
                    // scan_output + hidden_states * D
                    dSkip[k] += dy * x
                    var du = dy * skip
                    var dDelta = Float8()
                    for j in 0..<n {
                        let previous = t > 0 ? states[(t - 1) * n + j] : gatherLanes(initial + j, stride: n, lanes)
                        // y = h . C
                        let gj = g[j] + dy * cRow[j]
                        acc[(t * 2 + 1) * n + j] += dy * states[t * n + j]
                        // h = exp(delta * A) * h_prev + delta * B * u
                        let dExponent = gj * previous * decays[t * n + j]
                        dDelta += dExponent * ak[j]
                        dDelta += gj * (bRow[j] * x)
                        dA[k * n + j] += dExponent * delta
                        acc[t * 2 * n + j] += gj * deltaX
                        du += gj * (delta * bRow[j])
                        g[j] = gj * decays[t * n + j]
                    }
                    storeLanes(du, dU + m * channels + c0, lanes)
                    let dPre = dDelta * softplusDerivative(loadLanes(dt + m * channels + c0, lanes) + bias)
                    storeLanes(dPre, dDt + m * channels + c0, lanes)
                    dBias[k] += dPre
                }
                if let dState {
                    for j in 0..<n { scatterLanes(g[j], dState + b * dStateStride + c0 * n + j, stride: n, lanes) }
                }
            }
            for t in 0..<length {
                for j in 0..<2 * n { partial[(b * length + t) * 2 * n + j] = acc[t * 2 * n + j].sum() }
            }
        }
        for k in 0..<groups {
            let c0 = u0 + 8 * k, lanes = min(8, channels - c0)
            storeLanes(loadLanes(dDtBias + c0, lanes) + dBias[k], dDtBias + c0, lanes)
            storeLanes(loadLanes(dD + c0, lanes) + dSkip[k], dD + c0, lanes)
            for j in 0..<n {
                // dA_log = dA · A
                let current = gatherLanes(dALog + c0 * n + j, stride: n, lanes)
                scatterLanes(current + dA[k * n + j] * a[k * n + j], dALog + c0 * n + j, stride: n, lanes)
            }
        }
    }
}

/// Naive reference of the scan and its backward in double precision, every state kept: written for clarity,
/// checked by finite differences, and the oracle `selectiveScanBackward` is tested against. Shapes as in
/// `selectiveScanForward`, all contiguous: u, dt (B·L, DI); b, c (B·L, N); initialState (B, DI, N).
public struct SelectiveScanReference {
    public var batch, length, channels, stateSize: Int
    public var u, dt, dtBias, aLog, b, c, d, initialState: [Double]

    public init(batch: Int, length: Int, channels: Int, stateSize: Int, u: [Double], dt: [Double],
                dtBias: [Double], aLog: [Double], b: [Double], c: [Double], d: [Double], initialState: [Double]) {
        (self.batch, self.length, self.channels, self.stateSize) = (batch, length, channels, stateSize)
        (self.u, self.dt, self.dtBias, self.aLog, self.b, self.c, self.d) = (u, dt, dtBias, aLog, b, c, d)
        self.initialState = initialState
    }

    public struct Gradients {
        public var u, dt, dtBias, aLog, b, c, d, initialState: [Double]
    }

    private func delta(_ m: Int, _ ch: Int) -> Double {
        let x = dt[m * channels + ch] + dtBias[ch]
        return x > 20 ? x : log1p(exp(x))
    }

    /// The states, h[b][t + 1] after token t (h[b][0] is the initial state), each (DI, N); and y (B·L, DI).
    public func forward() -> (states: [[[Double]]], y: [Double]) {
        let (L, D, N) = (length, channels, stateSize)
        var states = [[[Double]]]()
        var y = [Double](repeating: 0, count: batch * L * D)
        for bi in 0..<batch {
            var h = [Array(initialState[bi * D * N ..< (bi + 1) * D * N])]
            for t in 0..<L {
                let m = bi * L + t
                var next = h[t]
                for ch in 0..<D {
                    let delta = delta(m, ch)
                    var out = d[ch] * u[m * D + ch]
                    for j in 0..<N {
                        next[ch * N + j] = exp(-exp(aLog[ch * N + j]) * delta) * h[t][ch * N + j]
                            + delta * b[m * N + j] * u[m * D + ch]
                        out += next[ch * N + j] * c[m * N + j]
                    }
                    y[m * D + ch] = out
                }
                h.append(next)
            }
            states.append(h)
        }
        return (states, y)
    }

    public func backward(dY: [Double]) -> Gradients {
        let (L, D, N) = (length, channels, stateSize)
        let states = forward().states
        func zeros(_ count: Int) -> [Double] { [Double](repeating: 0, count: count) }
        var grad = Gradients(u: zeros(batch * L * D), dt: zeros(batch * L * D), dtBias: zeros(D), aLog: zeros(D * N),
                             b: zeros(batch * L * N), c: zeros(batch * L * N), d: zeros(D),
                             initialState: zeros(batch * D * N))
        for bi in 0..<batch {
            for ch in 0..<D {
                let A = (0..<N).map { -exp(aLog[ch * N + $0]) }
                var g = zeros(N)
                for t in stride(from: L - 1, through: 0, by: -1) {
                    let m = bi * L + t, i = m * D + ch
                    let delta = delta(m, ch)
                    grad.d[ch] += dY[i] * u[i]
                    grad.u[i] += dY[i] * d[ch]
                    var dDelta = 0.0
                    for j in 0..<N {
                        let h = states[bi][t + 1][ch * N + j], previous = states[bi][t][ch * N + j]
                        let decay = exp(A[j] * delta)
                        g[j] += dY[i] * c[m * N + j]
                        grad.c[m * N + j] += dY[i] * h
                        dDelta += g[j] * previous * decay * A[j] + g[j] * b[m * N + j] * u[i]
                        grad.aLog[ch * N + j] += g[j] * previous * decay * delta * A[j]
                        grad.b[m * N + j] += g[j] * delta * u[i]
                        grad.u[i] += g[j] * delta * b[m * N + j]
                        g[j] *= decay
                    }
                    let x = dt[i] + dtBias[ch]
                    grad.dt[i] = dDelta * (x > 20 ? 1 : 1 / (1 + exp(-x)))
                    grad.dtBias[ch] += grad.dt[i]
                }
                for j in 0..<N { grad.initialState[(bi * D + ch) * N + j] = g[j] }
            }
        }
        return grad
    }
}
