// RMSNorm over the last dimension. Shapes: input, out (M, H); weight (H); rstd (M).

/// PyTorch (MambaRMSNorm.forward):
///   `variance = hidden_states.pow(2).mean(-1, keepdim=True)`
///   `hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)`
///   `return self.weight * hidden_states`
/// `rstd[m]` receives 1/sqrt(mean(x²) + eps) of each row (kept for the backward pass); pass nil to skip.
public func rmsNormForward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?,
                           input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           rows: Int, width: Int, epsilon: Float) {
    for m in 0..<rows {
        let x = input + m * width, y = out + m * width
        var sum = Float8()
        forEachGroupOf8(width) { i, lanes in
            let v = loadLanes(x + i, lanes)
            sum += v * v
        }
        let r = 1 / (sum.sum() / Float(width) + epsilon).squareRoot()
        rstd?[m] = r
        forEachGroupOf8(width) { i, lanes in
            storeLanes(loadLanes(weight + i, lanes) * (loadLanes(x + i, lanes) * r), y + i, lanes)
        }
    }
}

/// Naive reference of `rmsNormForward` (sums in Double).
public func rmsNormForwardReference(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?,
                                    input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    rows: Int, width: Int, epsilon: Float) {
    for m in 0..<rows {
        var sum = 0.0
        for j in 0..<width { sum += Double(input[m * width + j]) * Double(input[m * width + j]) }
        let r = 1 / (sum / Double(width) + Double(epsilon)).squareRoot()
        rstd?[m] = Float(r)
        for j in 0..<width { out[m * width + j] = Float(Double(weight[j]) * Double(input[m * width + j]) * r) }
    }
}

/// Backward of `rmsNormForward` with y = w · x · r, r = rstd = 1/sqrt(mean(x²) + eps):
///   dw += Σ_rows dy · x · r
///   dx += r · (w · dy) - x · r³ · mean(w · dy · x)
/// (dx accumulates: it is the residual stream's gradient). `rstd` is what the forward pass stored.
/// dWeight sums over rows: fixed blocks of 32 rows each make a partial sum, added in block order.
public func rmsNormBackward(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                            dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            rstd: UnsafePointer<Float>, rows: Int, width: Int) {
    let rowBlock = 32
    let blocks = (rows + rowBlock - 1) / rowBlock
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: blocks * width)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: blocks * width)
    LetheThreads.parallelFor(blocks) { range in
        for block in range {
            let dw = partial + block * width
            for m in block * rowBlock ..< min(rows, (block + 1) * rowBlock) {
                let x = input + m * width, dy = dOut + m * width, dx = dInput + m * width
                let r = rstd[m]
                var dot = Float8()
                forEachGroupOf8(width) { i, lanes in
                    let xv = loadLanes(x + i, lanes), dyv = loadLanes(dy + i, lanes)
                    dot += loadLanes(weight + i, lanes) * dyv * xv
                    storeLanes(loadLanes(dw + i, lanes) + dyv * xv * r, dw + i, lanes)
                }
                let c = dot.sum() / Float(width) * r * r * r
                forEachGroupOf8(width) { i, lanes in
                    let g = loadLanes(weight + i, lanes) * loadLanes(dy + i, lanes) * r
                        - loadLanes(x + i, lanes) * c
                    storeLanes(loadLanes(dx + i, lanes) + g, dx + i, lanes)
                }
            }
        }
    }
    for block in 0..<blocks {
        for j in 0..<width { dWeight[j] += partial[block * width + j] }
    }
}

/// Naive reference of `rmsNormBackward` (sums in Double, recomputes rstd).
public func rmsNormBackwardReference(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                     dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, rows: Int, width: Int, epsilon: Float) {
    for m in 0..<rows {
        var sum = 0.0, dot = 0.0
        for j in 0..<width {
            let x = Double(input[m * width + j])
            sum += x * x
            dot += Double(weight[j]) * Double(dOut[m * width + j]) * x
        }
        let r = 1 / (sum / Double(width) + Double(epsilon)).squareRoot()
        for j in 0..<width {
            let x = Double(input[m * width + j]), dy = Double(dOut[m * width + j])
            dWeight[j] += Float(dy * x * r)
            dInput[m * width + j] += Float(r * Double(weight[j]) * dy - x * r * r * r * dot / Double(width))
        }
    }
}
