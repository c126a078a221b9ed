import Foundation

// SiLU, elementwise over `count` floats.

/// PyTorch: `F.silu(x)` = x · sigmoid(x) = x / (1 + e^-x)   (the activation after the conv: ACT2FN["silu"])
public func siluForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    LetheThreads.parallelFor((count + 7) / 8) { groups in
        for g in groups {
            let i = g * 8, lanes = min(8, count - i)
            storeLanes(silu(loadLanes(input + i, lanes)), out + i, lanes)
        }
    }
}

@inline(__always)
func silu(_ x: Float8) -> Float8 { x / (1 + fastExp(-x)) }

/// Naive reference of `siluForward`.
public func siluForwardReference(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let x = Double(input[i])
        out[i] = Float(x / (1 + exp(-x)))
    }
}

/// Backward of `siluForward`: dInput = dOut · s · (1 + x · (1 - s)), s = sigmoid(x)   (silu_backward).
public func siluBackward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                         input: UnsafePointer<Float>, count: Int) {
    LetheThreads.parallelFor((count + 7) / 8) { groups in
        for g in groups {
            let i = g * 8, lanes = min(8, count - i)
            let x = loadLanes(input + i, lanes)
            storeLanes(loadLanes(dOut + i, lanes) * siluDerivative(x), dInput + i, lanes)
        }
    }
}

/// d/dx x·sigmoid(x) = s (1 + x (1 - s)).
@inline(__always)
func siluDerivative(_ x: Float8) -> Float8 {
    let s = 1 / (1 + fastExp(-x))
    return s * (1 + x * (1 - s))
}

/// Naive reference of `siluBackward`.
public func siluBackwardReference(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                  input: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let x = Double(input[i]), s = 1 / (1 + exp(-x))
        dInput[i] = Float(Double(dOut[i]) * s * (1 + x * (1 - s)))
    }
}
