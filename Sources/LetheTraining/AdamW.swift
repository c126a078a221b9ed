import Foundation
import LetheModel

/// torch.optim.AdamW (amsgrad off) over one flat parameter buffer, its moments in buffers of the same layout.
/// Weight decay applies to the `decayed` ranges; the rest is the no-decay group (biases, norm weights, A_log, D).
public struct AdamW: Equatable, Sendable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Ranges of the parameter buffer that are decayed, sorted and disjoint.
    public let decayed: [Range<Int>]
    /// Updates taken so far (torch's `state["step"]`).
    public internal(set) var step: Int
    /// exp_avg and exp_avg_sq, in the parameter layout.
    public internal(set) var firstMoment: [Float]
    public internal(set) var secondMoment: [Float]

    public init(parameterCount: Int, decayed: [Range<Int>], weightDecay: Double,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decayed = decayed.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        self.step = 0
        self.firstMoment = [Float](repeating: 0, count: parameterCount)
        self.secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    public var parameterCount: Int { firstMoment.count }

    /// One update with learning rate `lr`: torch's _single_tensor_adam with decoupled weight decay, line by line.
    /// The gradients are read multiplied by `gradientScale` (clipping's coefficient: the same float product as
    /// clip_grad_norm_'s in-place `grad.mul_(clip_coef_clamped)`, without a separate pass over them). With
    /// `clearingGradients`, each gradient is set to 0 once read (the next step's `zero_grad`, in the same pass over
    /// memory instead of one more: this pass runs at the memory's bandwidth).
    public mutating func update(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                                gradientScale: Float = 1, learningRate lr: Double, clearingGradients: Bool = false) {
        step += 1
        // bias_correction1 = 1 - beta1 ** step; step_size = lr / bias_correction1
        // bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        // Scalars are computed in double, as Python does, and applied in float, as torch's CPU kernels do.
        let stepSize = Float(lr / (1 - pow(beta1, Double(step))))
        let bias2Sqrt = Float((1 - pow(beta2, Double(step))).squareRoot())
        let decayFactor = Float(1 - lr * weightDecay)
        let weight1 = Float(1 - beta1), beta2f = Float(beta2), weight2 = Float(1 - beta2), eps = Float(epsilon)
        let segments = updateSegments()
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                let m = m.baseAddress!, v = v.baseAddress!
                LetheThreads.parallelFor(segments.count) { range in
                    for s in range {
                        let (slice, decay) = segments[s]
                        let factor: Float = decay ? decayFactor : 1
                        // 8 lanes at a time, the last few in one partial vector: the same operations on every
                        // element (float arithmetic is per lane), so where a slice starts changes nothing.
                        var i = slice.lowerBound
                        while i + 8 <= slice.upperBound {
                            let g = SIMD8<Float>(load: gradients + i) * gradientScale
                            if clearingGradients { SIMD8<Float>().store(to: gradients + i) }
                            let p = SIMD8<Float>(load: parameters + i)
                            let (newP, newM, newV) = adamW(p, g, SIMD8<Float>(load: m + i), SIMD8<Float>(load: v + i),
                                                           decayFactor: factor)
                            newP.store(to: parameters + i)
                            newM.store(to: m + i)
                            newV.store(to: v + i)
                            i += 8
                        }
                        if i < slice.upperBound {  // the last 1-7 elements, in the lanes of one vector
                            let lanes = slice.upperBound - i
                            var p = SIMD8<Float>(), g = p, mi = p, vi = p
                            for k in 0..<lanes {
                                (p[k], g[k], mi[k], vi[k]) = (parameters[i + k], gradients[i + k], m[i + k], v[i + k])
                            }
                            let (newP, newM, newV) = adamW(p, g * gradientScale, mi, vi, decayFactor: factor)
                            if clearingGradients { (gradients + i).update(repeating: 0, count: lanes) }
                            for k in 0..<lanes { (parameters[i + k], m[i + k], v[i + k]) = (newP[k], newM[k], newV[k]) }
                        }
                    }
                }
            }
        }

        /// Eight elements of the update.
        @inline(__always)
        func adamW(_ p: SIMD8<Float>, _ g: SIMD8<Float>, _ m: SIMD8<Float>, _ v: SIMD8<Float>,
                   decayFactor: Float) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            // param.mul_(1 - lr * weight_decay)   (a factor of 1, exact, for the no-decay group)
            let p = p * decayFactor
            // exp_avg.lerp_(grad, 1 - beta1)   (torch's lerp for weight < 0.5: self + weight * (end - self))
            let m = m + weight1 * (g - m)
            // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            let v = v * beta2f + weight2 * (g * g)
            // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            let denom = v.squareRoot() / bias2Sqrt + eps
            // param.addcdiv_(exp_avg, denom, value=-step_size)
            return (p + -stepSize * (m / denom), m, v)
        }
    }

    /// The buffer cut into pieces of at most 64 Ki elements that are wholly decayed or wholly not.
    private func updateSegments() -> [(Range<Int>, Bool)] {
        var pieces: [(Range<Int>, Bool)] = []
        var position = 0
        for r in decayed {
            if position < r.lowerBound { pieces.append((position ..< r.lowerBound, false)) }
            pieces.append((r, true))
            position = r.upperBound
        }
        if position < parameterCount { pieces.append((position ..< parameterCount, false)) }
        return pieces.flatMap { range, decay in
            reductionBlocks(count: range.count).map {
                (range.lowerBound + $0.lowerBound ..< range.lowerBound + $0.upperBound, decay)
            }
        }
    }
}

extension ParameterLayout {
    /// Parameters left out of weight decay, as the reference's no_decay groups and mamba_ssm's _no_weight_decay:
    /// biases, norm weights, A_log and D, and Mamba-2's dt_bias.
    public static func isExemptFromWeightDecay(_ name: String) -> Bool {
        name.hasSuffix(".bias") || name.hasSuffix("norm.weight") || name.hasSuffix("norm_f.weight")
            || name.hasSuffix(".A_log") || name.hasSuffix(".D") || name.hasSuffix(".dt_bias")
    }

    /// The ranges of the parameter buffer that AdamW decays.
    public var decayedRanges: [Range<Int>] {
        entries.filter { !ParameterLayout.isExemptFromWeightDecay($0.name) }.map { $0.offset ..< $0.offset + $0.count }
    }
}

extension SIMD8 where Scalar == Float {
    @inline(__always) init(load p: UnsafePointer<Float>) { self = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) init(load p: UnsafeMutablePointer<Float>) { self.init(load: UnsafePointer(p)) }
    @inline(__always) func store(to p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: SIMD8<Float>.self) }
}
