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
