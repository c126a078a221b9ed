import CLetheKernels
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
/// Parallel over (sequence, head); the heads of a group read the same B and C. Runs the AVX-512 or AVX2+FMA C kernel
/// (Sources/CLetheKernels/ssd_scan_body.h, vectors over the state index) as `vectorPath` says, else the Swift one.
public func ssdScanForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, xStride: Int,
                           dt: UnsafePointer<Float>, dtStride: Int, dtBias: UnsafePointer<Float>,
                           aLog: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int, d: UnsafePointer<Float>,
                           state: UnsafeMutablePointer<Float>, stateStride: Int, batch: Int, length: Int,
                           heads: Int, headDim: Int, groups: Int, stateSize: Int, dtMin: Float, dtMax: Float) {
    let (p, n, headsPerGroup) = (headDim, stateSize, heads / groups)
    if let kernel = vectorPath.cKernel(avx512: lethe_ssd_scan_avx512, avx2: lethe_ssd_scan_avx2) {
        return LetheThreads.parallelFor(batch * heads, chunksPerWorker: 4) {
            kernel(y, x, xStride, dt, dtStride, dtBias, aLog, bc, bcStride, d, state, stateStride, length, heads, headDim,
                   groups, stateSize, dtMin, dtMax, $0.lowerBound, $0.upperBound)
        }
    }
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

/// Δ from the biased dt: `torch.clamp(F.softplus(dt), *time_step_limit)`.
@inline(__always)
func ssdTimeStep(_ biased: Float, min low: Float, max high: Float) -> Float {
    Swift.min(Swift.max(ssdSoftplus(biased), low), high)
}

/// `F.softplus` with PyTorch's threshold 20, on one value.
@inline(__always)
func ssdSoftplus(_ x: Float) -> Float { x > 20 ? x : log1p(exp(x)) }

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

/// Backward of `ssdScanForward`. With ds the gradient of s_t (running backwards from zero after the last step):
///   ds += dy_t ⊗ C_t;  dC_t += Σ_p dy_t[p] s_t[p, ·];  dD += Σ_p dy_t[p] x_t[p];  dx_t += D dy_t
///   dΔ_t = Σ_{p,n} ds (x_t ⊗ B_t) + A e^{Δ_t A} Σ_{p,n} ds s_{t-1};  dA += Δ_t e^{Δ_t A} Σ_{p,n} ds s_{t-1}
///   dx_t += Δ_t ds B_t;  dB_t += Δ_t dsᵀ x_t;  then ds ← e^{Δ_t A} ds (the gradient of s_{t-1})
/// and dΔ back through the clamp (zero where it clamped, as torch.clamp) and softplus (× sigmoid; 1 above 20)
/// to the raw dt and dt_bias; dA_log = dA · A.
///
/// Written: dX (rows `dxStride`, the x columns), dBC (B then C columns, rows `dbcStride`), dDt (the raw dt,
/// rows `dDtStride`), and when given dState (B) × (H, P, N): the gradient of the initial state. Accumulated:
/// dDtBias, dALog, dD (H). Each (sequence, group) recomputes its heads' states with the forward's operations,
/// keeping them, then runs backwards in time; units of one group write its B and C columns alone, and the
/// per-head sums are added in head order (the same bits on any number of workers). The C kernels (`vectorPath`)
/// take one unit per (sequence, head), so that a model with one group keeps every core busy; each head's share of
/// dB and dC is summed per group in head order, and its states are recomputed `channelBlock` channels at a time,
/// so that every step's stay in cache.
public func ssdScanBackward(dX: UnsafeMutablePointer<Float>, dxStride: Int, dBC: UnsafeMutablePointer<Float>,
                            dbcStride: Int, dDt: UnsafeMutablePointer<Float>, dDtStride: Int,
                            dDtBias: UnsafeMutablePointer<Float>, dALog: UnsafeMutablePointer<Float>,
                            dD: UnsafeMutablePointer<Float>, dState: UnsafeMutablePointer<Float>?, dStateStride: Int,
                            dY: UnsafePointer<Float>, x: UnsafePointer<Float>, xStride: Int,
                            dt: UnsafePointer<Float>, dtStride: Int, dtBias: UnsafePointer<Float>,
                            aLog: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int, d: UnsafePointer<Float>,
                            state: UnsafePointer<Float>, stateStride: Int, batch: Int, length: Int,
                            heads: Int, headDim: Int, groups: Int, stateSize: Int, dtMin: Float, dtMax: Float,
                            channelBlock: Int? = nil) {
    let (p, n, headsPerGroup, units) = (headDim, stateSize, heads / groups, batch * groups)
    // Per (sequence, head): dDtBias, dA, dD, added in that order at the end.
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: batch * heads * 3)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: batch * heads * 3)
    defer {
        for b in 0..<batch {
            for h in 0..<heads {
                let share = partial + (b * heads + h) * 3
                dDtBias[h] += share[0]
                dALog[h] += share[1] * -exp(aLog[h])  // dA_log = dA · A
                dD[h] += share[2]
            }
        }
    }
    // The C kernels' channels per block (`channelBlock`, else those whose states over every step fill about
    // 512 KB, a core's share of cache, rounded down to whole groups of the channels the kernel takes together, and
    // at least one group: sharing the loads of a group beats staying in cache, measured at d_state 128 for 258 and
    // 1,026 steps, README).
    let block = max(1, min(p, channelBlock ?? {
        let (fitting, group) = ((1 << 17) / ((length + 1) * max(1, n)), Int(LETHE_SSD_CHANNELS))
        return fitting >= group ? fitting / group * group : group
    }()))
    if let kernel = vectorPath.cKernel(avx512: lethe_ssd_scan_backward_avx512, avx2: lethe_ssd_scan_backward_avx2) {
        // Units of (sequence, head), each with its share of its group's dB and dC (L rows of dB | dC), summed
        // per group in head order: as many units as heads, whatever the groups.
        let rowFloats = 2 * n, share = length * rowFloats
        let partialBC = UnsafeMutablePointer<Float>.allocate(capacity: max(1, batch * heads * share))
        defer { partialBC.deallocate() }
        LetheThreads.parallelFor(batch * heads) {
            kernel(dX, dxStride, partialBC, dDt, dDtStride, partial, dState, dStateStride, dY, x, xStride, dt, dtStride,
                   dtBias, aLog, bc, bcStride, d, state, stateStride, length, heads, headDim, groups, stateSize, dtMin,
                   dtMax, block, $0.lowerBound, $0.upperBound)
        }
        LetheThreads.parallelFor(units) { range in
            for unit in range {
                let (b, g) = (unit / groups, unit % groups)
                for t in 0..<length {
                    let dbt = dBC + (b * length + t) * dbcStride + g * n, dct = dBC + (b * length + t) * dbcStride + (groups + g) * n
                    dbt.update(repeating: 0, count: n)
                    dct.update(repeating: 0, count: n)
                    for local in 0..<headsPerGroup {
                        let row = partialBC + (b * heads + g * headsPerGroup + local) * share + t * rowFloats
                        for j in 0..<n {
                            dbt[j] += row[j]
                            dct[j] += row[n + j]
                        }
                    }
                }
            }
        }
        return
    }
    LetheThreads.parallelFor(units) { range in
        // Every state s_0 ... s_L of one head, and its Δ and decays.
        let states = UnsafeMutablePointer<Float>.allocate(capacity: (length + 1) * p * n + 2 * length + p * n)
        defer { states.deallocate() }
        let deltas = states + (length + 1) * p * n, decays = deltas + length, ds = decays + length
        for unit in range {
            let (b, g) = (unit / groups, unit % groups)
            let bOffset = g * n, cOffset = (groups + g) * n
            for row in b * length ..< (b + 1) * length {
                (dBC + row * dbcStride + bOffset).update(repeating: 0, count: n)
                (dBC + row * dbcStride + cOffset).update(repeating: 0, count: n)
            }
            for local in 0..<headsPerGroup {
                let h = g * headsPerGroup + local, a = -exp(aLog[h])
                states.update(from: state + b * stateStride + h * p * n, count: p * n)
                // The forward again, keeping s_t for every t.
                for t in 0..<length {
                    let row = b * length + t
                    deltas[t] = ssdTimeStep(dt[row * dtStride + h] + dtBias[h], min: dtMin, max: dtMax)
                    decays[t] = exp(deltas[t] * a)
                    let (previous, next) = (states + t * p * n, states + (t + 1) * p * n)
                    let bt = bc + row * bcStride + bOffset, xt = x + row * xStride + h * p
                    for channel in 0..<p {
                        let xv = xt[channel], delta = deltas[t], decay = decays[t]
                        forEachGroupOf8(n) { i, lanes in
                            let updated = loadLanes(previous + channel * n + i, lanes) * decay
                                + (delta * loadLanes(bt + i, lanes)) * xv
                            storeLanes(updated, next + channel * n + i, lanes)
                        }
                    }
                }
                ds.update(repeating: 0, count: p * n)
                var (dBias, dA, dSkip) = (Float(0), Float(0), Float(0))
                for t in stride(from: length - 1, through: 0, by: -1) {
                    let row = b * length + t
                    let bt = bc + row * bcStride + bOffset, ct = bc + row * bcStride + cOffset
                    let dbt = dBC + row * dbcStride + bOffset, dct = dBC + row * dbcStride + cOffset
                    let xt = x + row * xStride + h * p, dyt = dY + row * heads * p + h * p, dxt = dX + row * dxStride + h * p
                    let (previous, current) = (states + t * p * n, states + (t + 1) * p * n)
                    let (delta, decay) = (deltas[t], decays[t])
                    var dDelta = Float8(), dDecay = Float8()
                    for channel in 0..<p {
                        let (dy, xv) = (dyt[channel], xt[channel])
                        dSkip += dy * xv
                        var dxAcc = Float8()
                        forEachGroupOf8(n) { i, lanes in
                            let dsv = loadLanes(ds + channel * n + i, lanes) + dy * loadLanes(ct + i, lanes)
                            storeLanes(loadLanes(dct + i, lanes) + dy * loadLanes(current + channel * n + i, lanes), dct + i, lanes)
                            let bv = loadLanes(bt + i, lanes)
                            dDelta += dsv * bv * xv
                            dDecay += dsv * loadLanes(previous + channel * n + i, lanes)
                            dxAcc += dsv * bv
                            storeLanes(loadLanes(dbt + i, lanes) + dsv * (delta * xv), dbt + i, lanes)
                            storeLanes(dsv * decay, ds + channel * n + i, lanes)
                        }
                        dxt[channel] = dy * d[h] + delta * dxAcc.sum()
                    }
                    let decaySum = dDecay.sum()
                    dA += delta * decay * decaySum
                    // Δ = clamp(softplus(z)): the clamp passes the gradient where min <= Δ <= max (torch.clamp).
                    let biased = dt[row * dtStride + h] + dtBias[h]
                    let softplus = ssdSoftplus(biased)
                    let passes = softplus >= dtMin && softplus <= dtMax
                    let dBiased = passes ? (dDelta.sum() + a * decay * decaySum) * (biased > 20 ? 1 : 1 / (1 + exp(-biased))) : 0
                    dDt[row * dDtStride + h] = dBiased
                    dBias += dBiased
                }
                if let dState { (dState + b * dStateStride + h * p * n).update(from: ds, count: p * n) }
                let share = partial + (b * heads + h) * 3
                (share[0], share[1], share[2]) = (dBias, dA, dSkip)
            }
        }
    }
}

/// Naive reference of `ssdScanBackward`: the same equations in Double, one (sequence, head) at a time, the states
/// kept from a forward pass of its own.
public func ssdScanBackwardReference(dX: UnsafeMutablePointer<Float>, dxStride: Int, dBC: UnsafeMutablePointer<Float>,
                                     dbcStride: Int, dDt: UnsafeMutablePointer<Float>, dDtStride: Int,
                                     dDtBias: UnsafeMutablePointer<Float>, dALog: UnsafeMutablePointer<Float>,
                                     dD: UnsafeMutablePointer<Float>, dState: UnsafeMutablePointer<Float>?, dStateStride: Int,
                                     dY: UnsafePointer<Float>, x: UnsafePointer<Float>, xStride: Int,
                                     dt: UnsafePointer<Float>, dtStride: Int, dtBias: UnsafePointer<Float>,
                                     aLog: UnsafePointer<Float>, bc: UnsafePointer<Float>, bcStride: Int,
                                     d: UnsafePointer<Float>, state: UnsafePointer<Float>, stateStride: Int,
                                     batch: Int, length: Int, heads: Int, headDim: Int, groups: Int, stateSize: Int,
                                     dtMin: Float, dtMax: Float) {
    let (p, n) = (headDim, stateSize)
    var dB = [Double](repeating: 0, count: batch * length * groups * n), dC = dB
    for b in 0..<batch {
        for h in 0..<heads {
            let g = h / (heads / groups), a = -exp(Double(aLog[h]))
            func B(_ row: Int, _ j: Int) -> Double { Double(bc[row * bcStride + g * n + j]) }
            func C(_ row: Int, _ j: Int) -> Double { Double(bc[row * bcStride + (groups + g) * n + j]) }
            func X(_ row: Int, _ c: Int) -> Double { Double(x[row * xStride + h * p + c]) }
            var s = [(0..<p * n).map { Double(state[b * stateStride + h * p * n + $0]) }]
            var deltas: [Double] = [], passes: [Bool] = [], slopes: [Double] = []
            for t in 0..<length {
                let row = b * length + t, biased = Double(dt[row * dtStride + h]) + Double(dtBias[h])
                let softplus = biased > 20 ? biased : log1p(exp(biased))
                deltas.append(min(max(softplus, Double(dtMin)), Double(dtMax)))
                passes.append(softplus >= Double(dtMin) && softplus <= Double(dtMax))
                slopes.append(biased > 20 ? 1 : 1 / (1 + exp(-biased)))
                let decay = exp(deltas[t] * a)
                s.append((0..<p * n).map { i in s[t][i] * decay + deltas[t] * B(row, i % n) * X(row, i / n) })
            }
            var ds = [Double](repeating: 0, count: p * n)
            var (dBias, dA, dSkip) = (0.0, 0.0, 0.0)
            for t in stride(from: length - 1, through: 0, by: -1) {
                let row = b * length + t, decay = exp(deltas[t] * a)
                var (dDelta, dDecay) = (0.0, 0.0)
                for c in 0..<p {
                    let dy = Double(dY[row * heads * p + h * p + c])
                    dSkip += dy * X(row, c)
                    var dx = dy * Double(d[h])
                    for j in 0..<n {
                        ds[c * n + j] += dy * C(row, j)
                        dC[(row * groups + g) * n + j] += dy * s[t + 1][c * n + j]
                        dDelta += ds[c * n + j] * B(row, j) * X(row, c)
                        dDecay += ds[c * n + j] * s[t][c * n + j]
                        dx += deltas[t] * ds[c * n + j] * B(row, j)
                        dB[(row * groups + g) * n + j] += deltas[t] * ds[c * n + j] * X(row, c)
                        ds[c * n + j] *= decay
                    }
                    dX[row * dxStride + h * p + c] = Float(dx)
                }
                dA += deltas[t] * decay * dDecay
                let dBiased = passes[t] ? (dDelta + a * decay * dDecay) * slopes[t] : 0
                dDt[row * dDtStride + h] = Float(dBiased)
                dBias += dBiased
            }
            if let dState { for i in 0..<p * n { dState[b * dStateStride + h * p * n + i] = Float(ds[i]) } }
            dDtBias[h] += Float(dBias)
            dALog[h] += Float(dA * a)
            dD[h] += Float(dSkip)
        }
    }
    for row in 0..<batch * length {
        for j in 0..<groups * n {
            dBC[row * dbcStride + j] = Float(dB[row * groups * n + j])
            dBC[row * dbcStride + groups * n + j] = Float(dC[row * groups * n + j])
        }
    }
}
