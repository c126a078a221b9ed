import Foundation

// Softplus with PyTorch's default threshold, elementwise. The scan applies it to dt inside its loop
// (`softplus(_:)` below); `softplusForward` exists for tests and callers outside the scan.

/// PyTorch: `F.softplus(x)` = log(1 + e^x), or x itself where x > 20 (beta 1, threshold 20).
/// Computed as max(x, 0) + log1p(e^-|x|), which is exact in float where e^x would overflow or lose digits.
@inline(__always)
func softplus(_ x: Float8) -> Float8 {
    let smooth = x.replacing(with: 0, where: x .< 0) + fastLog1p(fastExp(x.replacing(with: -x, where: x .> 0)))  // e^-|x|
    return smooth.replacing(with: x, where: x .> 20)
}

public func softplusForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    forEachGroupOf8(count) { i, lanes in storeLanes(softplus(loadLanes(input + i, lanes)), out + i, lanes) }
}

/// Naive reference of `softplusForward`: PyTorch's formula in Double.
public func softplusForwardReference(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let x = Double(input[i])
        out[i] = x > 20 ? Float(x) : Float(log1p(exp(x)))
    }
}

/// softplus_backward: dInput = dOut · e^x / (e^x + 1) = dOut · sigmoid(x), and dOut where x > 20 (sigmoid
/// rounds to 1 there in float, so one formula serves both branches). The scan fuses this into its backward.
public func softplusBackward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                             input: UnsafePointer<Float>, count: Int) {
    forEachGroupOf8(count) { i, lanes in
        storeLanes(loadLanes(dOut + i, lanes) * softplusDerivative(loadLanes(input + i, lanes)), dInput + i, lanes)
    }
}

@inline(__always)
func softplusDerivative(_ x: Float8) -> Float8 { 1 / (1 + fastExp(-x)) }

/// Naive reference of `softplusBackward`.
public func softplusBackwardReference(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                      input: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let x = Double(input[i])
        dInput[i] = Float(Double(dOut[i]) * (x > 20 ? 1 : exp(x) / (exp(x) + 1)))
    }
}
