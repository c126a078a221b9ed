// RMSNorm over the last dimension. Shapes: input, out (M, H) with rows `inputStride` / `outStride` floats apart
// (H when nil); weight (H), or nil for the weightless norm; rstd (M).

/// PyTorch (MambaRMSNorm.forward):
///   `variance = hidden_states.pow(2).mean(-1, keepdim=True)`
///   `hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)`
///   `return self.weight * hidden_states`
/// With no weight, FalconMambaWeightlessRMSNorm._norm (Falcon-Mamba's norm of dt, B and C):
///   `x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)`
/// `rstd[m]` receives 1/sqrt(mean(x²) + eps) of each row (kept for the backward pass); pass nil to skip.
public func rmsNormForward(out: UnsafeMutablePointer<Float>, outStride: Int? = nil, rstd: UnsafeMutablePointer<Float>?,
                           input: UnsafePointer<Float>, inputStride: Int? = nil, weight: UnsafePointer<Float>?,
                           rows: Int, width: Int, epsilon: Float) {
    let (inStride, outStride) = (inputStride ?? width, outStride ?? width)
    // Rows are independent: shared among the workers, the same bits on any number of them.
    LetheThreads.parallelFor(rows) { range in
        for m in range {
            let x = input + m * inStride, y = out + m * outStride
            var sum = Float8()
            forEachGroupOf8(width) { i, lanes in
                let v = loadLanes(x + i, lanes)
                sum += v * v
            }
            let r = 1 / (sum.sum() / Float(width) + epsilon).squareRoot()
            rstd?[m] = r
            if let weight {
                forEachGroupOf8(width) { i, lanes in
                    storeLanes(loadLanes(weight + i, lanes) * (loadLanes(x + i, lanes) * r), y + i, lanes)
                }
            } else {
                forEachGroupOf8(width) { i, lanes in storeLanes(loadLanes(x + i, lanes) * r, y + i, lanes) }
            }
        }
    }
}

/// Naive reference of `rmsNormForward` (sums in Double).
public func rmsNormForwardReference(out: UnsafeMutablePointer<Float>, outStride: Int? = nil,
                                    rstd: UnsafeMutablePointer<Float>?, input: UnsafePointer<Float>,
                                    inputStride: Int? = nil, weight: UnsafePointer<Float>?,
                                    rows: Int, width: Int, epsilon: Float) {
    let (inStride, outStride) = (inputStride ?? width, outStride ?? width)
    for m in 0..<rows {
        var sum = 0.0
        for j in 0..<width { sum += Double(input[m * inStride + j]) * Double(input[m * inStride + j]) }
        let r = 1 / (sum / Double(width) + Double(epsilon)).squareRoot()
        rstd?[m] = Float(r)
        for j in 0..<width {
            out[m * outStride + j] = Float(Double(weight?[j] ?? 1) * Double(input[m * inStride + j]) * r)
        }
    }
}

/// Backward of `rmsNormForward` with y = w · x · r, r = rstd = 1/sqrt(mean(x²) + eps) (w = 1 when weightless):
///   dw += Σ_rows dy · x · r
///   dx += r · (w · dy) - x · r³ · mean(w · dy · x)
/// (dx accumulates: it is the residual stream's gradient). `rstd` is what the forward pass stored; `dWeight` and
/// `weight` are both nil for the weightless norm. Strides as in the forward (`dInput` shares `input`'s).
/// dWeight sums over rows: fixed blocks of 32 rows each make a partial sum, added in block order.
public func rmsNormBackward(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                            dOut: UnsafePointer<Float>, dOutStride: Int? = nil, input: UnsafePointer<Float>,
                            inputStride: Int? = nil, weight: UnsafePointer<Float>?,
                            rstd: UnsafePointer<Float>, rows: Int, width: Int) {
    precondition((dWeight == nil) == (weight == nil), "rmsNormBackward: a weight's gradient needs the weight")
    let (inStride, dOutStride) = (inputStride ?? width, dOutStride ?? width)
    let rowBlock = 32
    let blocks = (rows + rowBlock - 1) / rowBlock
    let partialCount = weight == nil ? 0 : blocks * width
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, partialCount))
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: partialCount)
    LetheThreads.parallelFor(blocks) { range in
        for block in range {
            for m in block * rowBlock ..< min(rows, (block + 1) * rowBlock) {
                let x = input + m * inStride, dy = dOut + m * dOutStride, dx = dInput + m * inStride
                let r = rstd[m]
                var dot = Float8()
                if let weight {
                    let dw = partial + block * width
                    forEachGroupOf8(width) { i, lanes in
                        let xv = loadLanes(x + i, lanes), dyv = loadLanes(dy + i, lanes)
                        dot += loadLanes(weight + i, lanes) * dyv * xv
                        storeLanes(loadLanes(dw + i, lanes) + dyv * xv * r, dw + i, lanes)
                    }
                } else {
                    forEachGroupOf8(width) { i, lanes in dot += loadLanes(dy + i, lanes) * loadLanes(x + i, lanes) }
                }
                let c = dot.sum() / Float(width) * r * r * r
                forEachGroupOf8(width) { i, lanes in
                    let wdy = weight.map { loadLanes($0 + i, lanes) * loadLanes(dy + i, lanes) } ?? loadLanes(dy + i, lanes)
                    storeLanes(loadLanes(dx + i, lanes) + (wdy * r - loadLanes(x + i, lanes) * c), dx + i, lanes)
                }
            }
        }
    }
    guard let dWeight else { return }
    for block in 0..<blocks {
        for j in 0..<width { dWeight[j] += partial[block * width + j] }
    }
}

/// Naive reference of `rmsNormBackward` (sums in Double, recomputes rstd).
public func rmsNormBackwardReference(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                                     dOut: UnsafePointer<Float>, dOutStride: Int? = nil, input: UnsafePointer<Float>,
                                     inputStride: Int? = nil, weight: UnsafePointer<Float>?,
                                     rows: Int, width: Int, epsilon: Float) {
    let (inStride, dOutStride) = (inputStride ?? width, dOutStride ?? width)
    for m in 0..<rows {
        var sum = 0.0, dot = 0.0
        for j in 0..<width {
            let x = Double(input[m * inStride + j])
            sum += x * x
            dot += Double(weight?[j] ?? 1) * Double(dOut[m * dOutStride + j]) * x
        }
        let r = 1 / (sum / Double(width) + Double(epsilon)).squareRoot()
        for j in 0..<width {
            let x = Double(input[m * inStride + j]), dy = Double(dOut[m * dOutStride + j])
            dWeight?[j] += Float(dy * x * r)
            dInput[m * inStride + j] += Float(r * Double(weight?[j] ?? 1) * dy - x * r * r * r * dot / Double(width))
        }
    }
}
