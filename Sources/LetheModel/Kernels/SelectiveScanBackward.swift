import Foundation

// The selective scan's backward from an initial state, as transformers' MambaMixer (slow path) and ouroboros'
// MambaDecoderMixer compute the forward:
//
//   delta      = softplus(deltaRaw + deltaBias)                        [b, l, d]
//   A          = -exp(A_log)                                           [d, n]
//   h_t        = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t      [b, d, n], h_{-1} = initial state
//   y_t        = (h_t . C_t + D * u_t) * silu(z_t)                     [b, l, d]
//
// Backward of h_t = a_t * h_{t-1} + x_t (a reverse-time scan): g_t = dL/dh_t = dy_t C_t + a_{t+1} g_{t+1};
// da_t = g_t * h_{t-1} (h_{-1} = the initial state: this is where the decoder's gradient reaches the encoder's
// state) and dx_t = g_t; the initial state's gradient is a_0 * g_0.
//
// Layout: tokens-major, row r = b * length + t, as the projections produce them. B and C are column blocks of the
// x_proj output and z the second half of the in_proj output, so they come with their own row stride.

/// Sizes of one selective scan: `batch` sequences of `length` tokens; `channels` = d_inner, `stateSize` = d_state.
public struct ScanShape: Sendable, Equatable {
    public var batch: Int
    public var length: Int
    public var channels: Int
    public var stateSize: Int

    public init(batch: Int, length: Int, channels: Int, stateSize: Int) {
        self.batch = batch
        self.length = length
        self.channels = channels
        self.stateSize = stateSize
    }

    public var rows: Int { batch * length }
}

/// The scan's inputs (see the glossary above). `initialState` nil means zeros.
public struct ScanInputs {
    public var u: UnsafePointer<Float>            // [rows, channels]
    public var deltaRaw: UnsafePointer<Float>     // [rows, channels], before the bias and softplus
    public var deltaBias: UnsafePointer<Float>    // [channels]
    public var aLog: UnsafePointer<Float>         // [channels, stateSize]
    public var b: UnsafePointer<Float>            // [rows, stateSize], row stride bcStride
    public var c: UnsafePointer<Float>            // [rows, stateSize], row stride bcStride
    public var bcStride: Int
    public var d: UnsafePointer<Float>            // [channels]
    public var z: UnsafePointer<Float>            // [rows, channels], row stride zStride
    public var zStride: Int
    public var initialState: UnsafePointer<Float>?  // [batch, channels, stateSize]

    public init(u: UnsafePointer<Float>, deltaRaw: UnsafePointer<Float>, deltaBias: UnsafePointer<Float>,
                aLog: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>, bcStride: Int,
                d: UnsafePointer<Float>, z: UnsafePointer<Float>, zStride: Int,
                initialState: UnsafePointer<Float>?) {
        self.u = u
        self.deltaRaw = deltaRaw
        self.deltaBias = deltaBias
        self.aLog = aLog
        self.b = b
        self.c = c
        self.bcStride = bcStride
        self.d = d
        self.z = z
        self.zStride = zStride
        self.initialState = initialState
    }
}

/// Where the scan's backward puts its gradients. Activation gradients are written (overwritten);
/// parameter gradients (`dDeltaBias`, `dALog`, `dD`) are accumulated, as llm.c's backward passes do.
public struct ScanGradients {
    public var du: UnsafeMutablePointer<Float>          // [rows, channels]
    public var dDeltaRaw: UnsafeMutablePointer<Float>   // [rows, channels]
    public var dB: UnsafeMutablePointer<Float>          // [rows, stateSize], row stride dbcStride
    public var dC: UnsafeMutablePointer<Float>          // [rows, stateSize], row stride dbcStride
    public var dbcStride: Int
    public var dz: UnsafeMutablePointer<Float>          // [rows, channels], row stride dzStride
    public var dzStride: Int
    public var dInitialState: UnsafeMutablePointer<Float>?  // [batch, channels, stateSize]
    public var dDeltaBias: UnsafeMutablePointer<Float>  // [channels], accumulated
    public var dALog: UnsafeMutablePointer<Float>       // [channels, stateSize], accumulated
    public var dD: UnsafeMutablePointer<Float>          // [channels], accumulated

    public init(du: UnsafeMutablePointer<Float>, dDeltaRaw: UnsafeMutablePointer<Float>,
                dB: UnsafeMutablePointer<Float>, dC: UnsafeMutablePointer<Float>, dbcStride: Int,
                dz: UnsafeMutablePointer<Float>, dzStride: Int, dInitialState: UnsafeMutablePointer<Float>?,
                dDeltaBias: UnsafeMutablePointer<Float>, dALog: UnsafeMutablePointer<Float>,
                dD: UnsafeMutablePointer<Float>) {
        self.du = du
        self.dDeltaRaw = dDeltaRaw
        self.dB = dB
        self.dC = dC
        self.dbcStride = dbcStride
        self.dz = dz
        self.dzStride = dzStride
        self.dInitialState = dInitialState
        self.dDeltaBias = dDeltaBias
        self.dALog = dALog
        self.dD = dD
    }
}

/// Channels per task of the parallel backward. Fixed (not derived from the thread count), so the reductions over
/// channels happen in the same order on every machine: bit-identical gradients whatever the threads.
let scanBackwardChannelBlock = 32

/// The selective scan's backward given dL/dy (`dOut`, [rows, channels]). Recomputes the forward states per
/// channel block (nothing of the scan is kept from the forward pass), then scans backwards in time.
/// Parallel over channel blocks; each block loops over the batch.
public func selectiveScanBackward(shape: ScanShape, inputs x: ScanInputs, dOut: UnsafePointer<Float>,
                                  gradients g: ScanGradients) {
    let (L, D, N) = (shape.length, shape.channels, shape.stateSize)
    let blocks = (D + scanBackwardChannelBlock - 1) / scanBackwardChannelBlock
    // dB and dC sum over channels: each block writes its share, summed afterwards in block order.
    let partialStride = shape.rows * N
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blocks * partialStride)
    defer { partials.deallocate() }

    DispatchQueue.concurrentPerform(iterations: blocks) { block in
        let d0 = block * scanBackwardChannelBlock
        let width = min(scanBackwardChannelBlock, D - d0)
        let partialB = partials + block * partialStride
        let partialC = partials + (blocks + block) * partialStride
        // Per (t, channel): the state h_t [n], exp(delta_t * A) [n], delta_t and h_t . C_t + D u_t.
        let states = UnsafeMutablePointer<Float>.allocate(capacity: L * width * N)
        let decays = UnsafeMutablePointer<Float>.allocate(capacity: L * width * N)
        let deltas = UnsafeMutablePointer<Float>.allocate(capacity: L * width)
        let preGate = UnsafeMutablePointer<Float>.allocate(capacity: L * width)
        // The running state (forward) or its gradient (backward), A, and this block's dA_log.
        let carry = UnsafeMutablePointer<Float>.allocate(capacity: width * N)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: width * N)
        let dALog = UnsafeMutablePointer<Float>.allocate(capacity: width * N)
        defer { for p in [states, decays, deltas, preGate, carry, a, dALog] { p.deallocate() } }
        // A = -torch.exp(self.A_log)
        for i in 0 ..< width * N { a[i] = -Foundation.exp(x.aLog[d0 * N + i]); dALog[i] = 0 }

        for b in 0 ..< shape.batch {
            let initial = x.initialState.map { $0 + (b * D + d0) * N }
            // Forward, keeping every state of this block.
            for i in 0 ..< width * N { carry[i] = initial?[i] ?? 0 }
            for t in 0 ..< L {
                let row = b * L + t
                let bt = x.b + row * x.bcStride, ct = x.c + row * x.bcStride
                for j in 0 ..< width {
                    let d = d0 + j
                    // discrete_time_step = softplus(dt_proj(time_step))
                    let delta = softplus(x.deltaRaw[row * D + d] + x.deltaBias[d])
                    let u = x.u[row * D + d]
                    let h = states + (t * width + j) * N, decay = decays + (t * width + j) * N
                    var y: Float = 0
                    for n in 0 ..< N {
                        // discrete_A = exp(A * delta); ssm_state = discrete_A * ssm_state + delta * B * u
                        decay[n] = Foundation.exp(a[j * N + n] * delta)
                        h[n] = decay[n] * carry[j * N + n] + delta * bt[n] * u
                        carry[j * N + n] = h[n]
                        // scan_output = ssm_state @ C
                        y += h[n] * ct[n]
                    }
                    deltas[t * width + j] = delta
                    // scan_output + hidden_states * D
                    preGate[t * width + j] = y + x.d[d] * u
                }
            }
            // Backward in time; carry holds dL/dh_t, zero after the last token.
            for i in 0 ..< width * N { carry[i] = 0 }
            for t in stride(from: L - 1, through: 0, by: -1) {
                let row = b * L + t
                let bt = x.b + row * x.bcStride, ct = x.c + row * x.bcStride
                let dBt = partialB + row * N, dCt = partialC + row * N
                for n in 0 ..< N { dBt[n] = 0; dCt[n] = 0 }
                for j in 0 ..< width {
                    let d = d0 + j
                    // scan_output * silu(gate): d/dz silu(z) = s (1 + z (1 - s)), s = sigmoid(z)
                    let z = x.z[row * x.zStride + d]
                    let s = 1 / (1 + Foundation.exp(-z))
                    let dOutValue = dOut[row * D + d]
                    let dy = dOutValue * z * s
                    g.dz[row * g.dzStride + d] = dOutValue * preGate[t * width + j] * s * (1 + z * (1 - s))
                    let u = x.u[row * D + d], delta = deltas[t * width + j]
                    g.dD[d] += dy * u
                    var du = dy * x.d[d]
                    var dDelta: Float = 0
                    let h = states + (t * width + j) * N, decay = decays + (t * width + j) * N
                    let previous: UnsafePointer<Float>? = t > 0
                        ? UnsafePointer(states + ((t - 1) * width + j) * N) : initial.map { $0 + j * N }
                    for n in 0 ..< N {
                        // y = h . C: dh += dy C, dC += dy h
                        let dh = carry[j * N + n] + dy * ct[n]
                        dCt[n] += dy * h[n]
                        // h = discrete_A * h_prev + delta * B * u, discrete_A = exp(delta * A)
                        let dExponent = dh * (previous?[n] ?? 0) * decay[n]
                        dDelta += dExponent * a[j * N + n] + dh * bt[n] * u
                        // dA = dExponent * delta and, through A = -exp(A_log), dA_log = dA * A
                        dALog[j * N + n] += dExponent * delta * a[j * N + n]
                        dBt[n] += dh * delta * u
                        du += dh * delta * bt[n]
                        carry[j * N + n] = dh * decay[n]
                    }
                    g.du[row * D + d] = du
                    let dRaw = dDelta * softplusDerivative(x.deltaRaw[row * D + d] + x.deltaBias[d])
                    g.dDeltaRaw[row * D + d] = dRaw
                    g.dDeltaBias[d] += dRaw
                }
            }
            if let dInitial = g.dInitialState {
                for i in 0 ..< width * N { dInitial[(b * D + d0) * N + i] = carry[i] }
            }
        }
        for i in 0 ..< width * N { g.dALog[d0 * N + i] += dALog[i] }
    }

    // dB, dC: the channel blocks' shares, summed in block order (parallel over rows).
    let rowBlocks = reductionRanges(count: shape.rows, size: 64)
    DispatchQueue.concurrentPerform(iterations: rowBlocks.count) { r in
        for row in rowBlocks[r] {
            for n in 0 ..< N {
                var sumB: Float = 0, sumC: Float = 0
                for block in 0 ..< blocks {
                    sumB += partials[block * partialStride + row * N + n]
                    sumC += partials[(blocks + block) * partialStride + row * N + n]
                }
                g.dB[row * g.dbcStride + n] = sumB
                g.dC[row * g.dbcStride + n] = sumC
            }
        }
    }
}

/// F.softplus(x) (beta 1, threshold 20): log1p(exp(x)), or x above the threshold.
@inline(__always) func softplus(_ x: Float) -> Float {
    x > 20 ? x : Foundation.log1p(Foundation.exp(x))
}

/// softplus_backward: exp(x) / (exp(x) + 1), or 1 above the threshold.
@inline(__always) func softplusDerivative(_ x: Float) -> Float {
    if x > 20 { return 1 }
    let e = Foundation.exp(x)
    return e / (e + 1)
}

/// Fixed-size slices of 0..<count for data-parallel loops (the same on every machine and thread count).
func reductionRanges(count: Int, size: Int) -> [Range<Int>] {
    stride(from: 0, to: count, by: size).map { $0 ..< min($0 + size, count) }
}

/// Naive reference of the scan and its backward in double precision, every state kept: written for clarity,
/// tested by finite differences, and the oracle the fast backward is tested against. B, C and z are contiguous.
public struct SelectiveScanReference {
    public var shape: ScanShape
    public var u, deltaRaw, deltaBias, aLog, b, c, d, z, initialState: [Double]

    public init(shape: ScanShape, u: [Double], deltaRaw: [Double], deltaBias: [Double], aLog: [Double],
                b: [Double], c: [Double], d: [Double], z: [Double], initialState: [Double]) {
        self.shape = shape
        self.u = u
        self.deltaRaw = deltaRaw
        self.deltaBias = deltaBias
        self.aLog = aLog
        self.b = b
        self.c = c
        self.d = d
        self.z = z
        self.initialState = initialState
    }

    public struct Gradients {
        public var u, deltaRaw, deltaBias, aLog, b, c, d, z, initialState: [Double]
    }

    private func delta(_ row: Int, _ ch: Int) -> Double {
        let x = deltaRaw[row * shape.channels + ch] + deltaBias[ch]
        return x > 20 ? x : Foundation.log1p(Foundation.exp(x))
    }

    private func silu(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }

    /// The states h[b, t, d, n] (t = -1 is the initial state, stored at index 0) and the gated output [rows, d].
    public func forward() -> (states: [Double], output: [Double]) {
        let (B, L, D, N) = (shape.batch, shape.length, shape.channels, shape.stateSize)
        var states = [Double](repeating: 0, count: B * (L + 1) * D * N)
        var output = [Double](repeating: 0, count: B * L * D)
        for bi in 0 ..< B {
            for ch in 0 ..< D {
                for n in 0 ..< N { states[((bi * (L + 1)) * D + ch) * N + n] = initialState[(bi * D + ch) * N + n] }
                for t in 0 ..< L {
                    let row = bi * L + t
                    let dt = delta(row, ch)
                    var y = 0.0
                    for n in 0 ..< N {
                        let previous = states[((bi * (L + 1) + t) * D + ch) * N + n]
                        let h = Foundation.exp(-Foundation.exp(aLog[ch * N + n]) * dt) * previous
                            + dt * b[row * N + n] * u[row * D + ch]
                        states[((bi * (L + 1) + t + 1) * D + ch) * N + n] = h
                        y += h * c[row * N + n]
                    }
                    output[row * D + ch] = (y + d[ch] * u[row * D + ch]) * silu(z[row * D + ch])
                }
            }
        }
        return (states, output)
    }

    public func backward(dOut: [Double]) -> Gradients {
        let (B, L, D, N) = (shape.batch, shape.length, shape.channels, shape.stateSize)
        let states = forward().states
        func zeros(_ n: Int) -> [Double] { [Double](repeating: 0, count: n) }
        var grad = Gradients(u: zeros(B * L * D), deltaRaw: zeros(B * L * D), deltaBias: zeros(D),
                             aLog: zeros(D * N), b: zeros(B * L * N), c: zeros(B * L * N), d: zeros(D),
                             z: zeros(B * L * D), initialState: zeros(B * D * N))
        for bi in 0 ..< B {
            for ch in 0 ..< D {
                let A = (0 ..< N).map { -Foundation.exp(aLog[ch * N + $0]) }
                var dh = zeros(N)
                for t in stride(from: L - 1, through: 0, by: -1) {
                    let row = bi * L + t, i = row * D + ch
                    let dt = delta(row, ch)
                    var y = d[ch] * u[i]
                    for n in 0 ..< N { y += states[((bi * (L + 1) + t + 1) * D + ch) * N + n] * c[row * N + n] }
                    let s = 1 / (1 + Foundation.exp(-z[i]))
                    let dy = dOut[i] * z[i] * s
                    grad.z[i] = dOut[i] * y * s * (1 + z[i] * (1 - s))
                    grad.d[ch] += dy * u[i]
                    grad.u[i] += dy * d[ch]
                    var dDelta = 0.0
                    for n in 0 ..< N {
                        let h = states[((bi * (L + 1) + t + 1) * D + ch) * N + n]
                        let previous = states[((bi * (L + 1) + t) * D + ch) * N + n]
                        let decay = Foundation.exp(A[n] * dt)
                        dh[n] += dy * c[row * N + n]
                        grad.c[row * N + n] += dy * h
                        dDelta += dh[n] * previous * decay * A[n] + dh[n] * b[row * N + n] * u[i]
                        grad.aLog[ch * N + n] += dh[n] * previous * decay * dt * A[n]
                        grad.b[row * N + n] += dh[n] * dt * u[i]
                        grad.u[i] += dh[n] * dt * b[row * N + n]
                        dh[n] *= decay
                    }
                    let x = deltaRaw[i] + deltaBias[ch]
                    let dRaw = dDelta * (x > 20 ? 1 : 1 / (1 + Foundation.exp(-x)))
                    grad.deltaRaw[i] = dRaw
                    grad.deltaBias[ch] += dRaw
                }
                for n in 0 ..< N { grad.initialState[(bi * D + ch) * N + n] = dh[n] }
            }
        }
        return grad
    }
}
