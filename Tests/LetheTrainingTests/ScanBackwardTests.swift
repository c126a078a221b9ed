import XCTest
@testable import LetheModel
@testable import LetheTraining

/// The selective scan's backward from an initial state: the double-precision reference against finite
/// differences, and the fast float kernel against the reference.
final class ScanBackwardTests: XCTestCase {
    func randomReference(batch: Int, length: Int, channels: Int, stateSize: Int, seed: UInt64) -> SelectiveScanReference {
        var rng = Xoshiro256(seed: seed)
        func uniform(_ n: Int, _ lo: Double, _ hi: Double) -> [Double] {
            (0..<n).map { _ in lo + (hi - lo) * Double(rng.nextUnitFloat()) }
        }
        let rows = batch * length
        var dt = uniform(rows * channels, -4, 1)
        dt[1] = 21.5  // above softplus's threshold: the identity branch
        return SelectiveScanReference(
            batch: batch, length: length, channels: channels, stateSize: stateSize,
            u: uniform(rows * channels, -2, 2), dt: dt, dtBias: uniform(channels, -1, 1),
            aLog: uniform(channels * stateSize, -1, 1.5), b: uniform(rows * stateSize, -1, 1),
            c: uniform(rows * stateSize, -1, 1), d: uniform(channels, 0, 2),
            initialState: uniform(batch * channels * stateSize, -2, 2))
    }

    /// Every input element of the reference perturbed by ±1e-5: central differences of sum(w · y) against the
    /// analytic gradient, max|fd - analytic| <= 1e-7 · max|analytic| per tensor.
    func testReferenceBackwardMatchesFiniteDifferences() {
        let reference = randomReference(batch: 2, length: 5, channels: 3, stateSize: 4, seed: 1)
        var rng = Xoshiro256(seed: 2)
        let weights = (0..<reference.u.count).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
        let analytic = reference.backward(dY: weights)
        let tensors: [(String, WritableKeyPath<SelectiveScanReference, [Double]>, [Double])] = [
            ("u", \.u, analytic.u), ("dt", \.dt, analytic.dt), ("dtBias", \.dtBias, analytic.dtBias),
            ("aLog", \.aLog, analytic.aLog), ("b", \.b, analytic.b), ("c", \.c, analytic.c), ("d", \.d, analytic.d),
            ("initialState", \.initialState, analytic.initialState),
        ]
        func loss(_ r: SelectiveScanReference) -> Double {
            zip(r.forward().y, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let step = 1e-5
        for (name, path, gradient) in tensors {
            var numeric = [Double]()
            for i in 0..<reference[keyPath: path].count {
                var plus = reference, minus = reference
                plus[keyPath: path][i] += step
                minus[keyPath: path][i] -= step
                numeric.append((loss(plus) - loss(minus)) / (2 * step))
            }
            XCTAssertGreaterThan(gradient.map(abs).max()!, 1e-3, "\(name): the gradient should not vanish")
            XCTAssertLessThanOrEqual(relativeError(numeric, gradient), 1e-7, name)
        }
    }

    /// The fast kernel (Swift SIMD, and AVX2+FMA and AVX-512 where this CPU has them) on B/C inside x_proj-shaped
    /// rows, 70 channels (two full units of 32 and a partial one, ending in a partial group of lanes), with and
    /// without an initial state: every gradient within max|g - g_ref| <= 1e-5 · max|g_ref| of the double
    /// reference (float32 sums over 7 steps, fastExp and fastExp2 within 2.5e-7).
    func testFastBackwardMatchesReference() {
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in VectorPath.allCases where path.isAvailable {
            vectorPath = path
            checkFastBackward(path)
        }
    }

    func checkFastBackward(_ path: VectorPath) {
        let (batch, length, channels, n, rank) = (3, 7, 70, 5, 3)
        for withInitialState in [true, false] {
            var reference = randomReference(batch: batch, length: length, channels: channels, stateSize: n, seed: 3)
            if !withInitialState { reference.initialState = reference.initialState.map { _ in 0 } }
            var rng = Xoshiro256(seed: 4)
            let rows = batch * length, bcStride = rank + 2 * n
            let dY = (0..<rows * channels).map { _ in rng.nextUnitFloat() * 2 - 1 }
            let expected = reference.backward(dY: dY.map(Double.init))
            // x_proj output rows: dt_low (rank) | B | C
            var xProj = [Float](repeating: .nan, count: rows * bcStride)
            for m in 0..<rows {
                for j in 0..<n {
                    xProj[m * bcStride + rank + j] = Float(reference.b[m * n + j])
                    xProj[m * bcStride + rank + n + j] = Float(reference.c[m * n + j])
                }
            }
            let f = { (a: [Double]) in a.map(Float.init) }
            let (u, dt, dtBias, aLog, d, initial) = (f(reference.u), f(reference.dt), f(reference.dtBias),
                                                     f(reference.aLog), f(reference.d), f(reference.initialState))
            var dU = [Float](repeating: .nan, count: rows * channels), dDt = dU
            var dXProj = [Float](repeating: .nan, count: rows * bcStride)
            var dState = [Float](repeating: .nan, count: initial.count)
            // Parameter gradients accumulate: start them at 1 and subtract it afterwards.
            var dDtBias = [Float](repeating: 1, count: channels), dD = dDtBias
            var dALog = [Float](repeating: 1, count: channels * n)
            xProj.withUnsafeBufferPointer { xProj in
                dXProj.withUnsafeMutableBufferPointer { dXProj in
                    selectiveScanBackward(
                        dU: &dU, dDt: &dDt, dBC: dXProj.baseAddress! + rank, dbcStride: bcStride,
                        dDtBias: &dDtBias, dALog: &dALog, dD: &dD, dState: &dState, dStateStride: channels * n,
                        dY: dY, u: u, dt: dt, dtBias: dtBias, bc: xProj.baseAddress! + rank, bcStride: bcStride,
                        aLog: aLog, d: d, state: initial, stateStride: channels * n,
                        batch: batch, length: length, channels: channels, stateSize: n)
                }
            }
            let dB = (0..<rows * n).map { dXProj[($0 / n) * bcStride + rank + $0 % n] }
            let dC = (0..<rows * n).map { dXProj[($0 / n) * bcStride + rank + n + $0 % n] }
            XCTAssert(dXProj.enumerated().allSatisfy { $0.offset % bcStride >= rank || $0.element.isNaN },
                      "the kernel wrote outside B and C")
            let minusOne = { (a: [Float]) in a.map { $0 - 1 } }
            let checks: [(String, [Float], [Double])] = [
                ("u", dU, expected.u), ("dt", dDt, expected.dt), ("dtBias", minusOne(dDtBias), expected.dtBias),
                ("aLog", minusOne(dALog), expected.aLog), ("b", dB, expected.b), ("c", dC, expected.c),
                ("d", minusOne(dD), expected.d), ("initialState", dState, expected.initialState),
            ]
            for (name, got, want) in checks {
                XCTAssertLessThanOrEqual(relativeError(got.map(Double.init), want), 1e-5,
                                         "\(path) \(name), initial state: \(withInitialState)")
            }
        }
    }
}
