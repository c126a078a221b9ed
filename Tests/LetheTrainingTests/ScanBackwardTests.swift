import XCTest
@testable import LetheModel
@testable import LetheTraining

/// The selective scan's backward from an initial state: the double-precision reference against finite
/// differences, and the fast float kernel against the reference.
final class ScanBackwardTests: XCTestCase {
    func randomReference(_ shape: ScanShape, seed: UInt64) -> SelectiveScanReference {
        var rng = Xoshiro256(seed: seed)
        func uniform(_ n: Int, _ lo: Double, _ hi: Double) -> [Double] {
            (0 ..< n).map { _ in lo + (hi - lo) * Double(rng.nextUnitFloat()) }
        }
        let (rows, D, N) = (shape.rows, shape.channels, shape.stateSize)
        var deltaRaw = uniform(rows * D, -4, 1)
        deltaRaw[1] = 21.5  // above softplus's threshold: the identity branch
        return SelectiveScanReference(
            shape: shape, u: uniform(rows * D, -2, 2), deltaRaw: deltaRaw, deltaBias: uniform(D, -1, 1),
            aLog: uniform(D * N, -1, 1.5), b: uniform(rows * N, -1, 1), c: uniform(rows * N, -1, 1),
            d: uniform(D, 0, 2), z: uniform(rows * D, -3, 3), initialState: uniform(shape.batch * D * N, -2, 2))
    }

    /// Every input element of the reference, perturbed by +-1e-5: central differences of sum(w * y) against the
    /// analytic gradient, max|fd - analytic| <= 1e-7 * max|analytic| per tensor.
    func testReferenceBackwardMatchesFiniteDifferences() {
        let shape = ScanShape(batch: 2, length: 5, channels: 3, stateSize: 4)
        let reference = randomReference(shape, seed: 1)
        var rng = Xoshiro256(seed: 2)
        let weights = (0 ..< shape.rows * shape.channels).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
        let analytic = reference.backward(dOut: weights)
        let tensors: [(String, WritableKeyPath<SelectiveScanReference, [Double]>, [Double])] = [
            ("u", \.u, analytic.u), ("deltaRaw", \.deltaRaw, analytic.deltaRaw),
            ("deltaBias", \.deltaBias, analytic.deltaBias), ("aLog", \.aLog, analytic.aLog),
            ("b", \.b, analytic.b), ("c", \.c, analytic.c), ("d", \.d, analytic.d), ("z", \.z, analytic.z),
            ("initialState", \.initialState, analytic.initialState),
        ]
        func loss(_ r: SelectiveScanReference) -> Double {
            zip(r.forward().output, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let step = 1e-5
        for (name, path, gradient) in tensors {
            var numeric = [Double]()
            for i in 0 ..< reference[keyPath: path].count {
                var plus = reference, minus = reference
                plus[keyPath: path][i] += step
                minus[keyPath: path][i] -= step
                numeric.append((loss(plus) - loss(minus)) / (2 * step))
            }
            XCTAssertGreaterThan(gradient.map(abs).max()!, 1e-3, "\(name): gradient should not vanish")
            XCTAssertLessThanOrEqual(relativeError(numeric, gradient), 1e-7, name)
        }
    }

    /// The fast kernel on strided B/C/z (as the projections lay them out), with 70 channels (two full channel
    /// blocks and a partial one), with and without an initial state: every gradient within
    /// max|g - g_ref| <= 2e-6 * max|g_ref| of the double reference.
    func testFastBackwardMatchesReference() {
        for withInitialState in [true, false] {
            let shape = ScanShape(batch: 3, length: 7, channels: 70, stateSize: 5)
            var reference = randomReference(shape, seed: 3)
            if !withInitialState { reference.initialState = [Double](repeating: 0, count: reference.initialState.count) }
            var rng = Xoshiro256(seed: 4)
            let (rows, D, N) = (shape.rows, shape.channels, shape.stateSize)
            let dOut = (0 ..< rows * D).map { _ in Float(rng.nextUnitFloat() * 2 - 1) }
            let expected = reference.backward(dOut: dOut.map(Double.init))

            // x_proj output rows [dt (3) | B | C] and in_proj output rows [x | z], as the model lays them out.
            let bcStride = 3 + 2 * N, zStride = 2 * D
            var xProj = [Float](repeating: .nan, count: rows * bcStride)
            var xz = [Float](repeating: .nan, count: rows * zStride)
            for r in 0 ..< rows {
                for n in 0 ..< N {
                    xProj[r * bcStride + 3 + n] = Float(reference.b[r * N + n])
                    xProj[r * bcStride + 3 + N + n] = Float(reference.c[r * N + n])
                }
                for ch in 0 ..< D { xz[r * zStride + D + ch] = Float(reference.z[r * D + ch]) }
            }
            let f = { (a: [Double]) in a.map(Float.init) }
            let (u, deltaRaw, deltaBias, aLog, d) = (f(reference.u), f(reference.deltaRaw), f(reference.deltaBias),
                                                     f(reference.aLog), f(reference.d))
            let initial = f(reference.initialState)
            var du = [Float](repeating: .nan, count: rows * D), dDeltaRaw = du
            var dXProj = [Float](repeating: .nan, count: rows * bcStride), dxz = [Float](repeating: .nan, count: rows * zStride)
            var dInitial = [Float](repeating: .nan, count: initial.count)
            // Parameter gradients accumulate: start them at 1 and subtract it afterwards.
            var dDeltaBias = [Float](repeating: 1, count: D), dD = dDeltaBias
            var dALog = [Float](repeating: 1, count: D * N)
            xProj.withUnsafeBufferPointer { xProj in
            xz.withUnsafeBufferPointer { xz in
            initial.withUnsafeBufferPointer { initial in
            dXProj.withUnsafeMutableBufferPointer { dXProj in
            dxz.withUnsafeMutableBufferPointer { dxz in
                let inputs = ScanInputs(
                    u: u, deltaRaw: deltaRaw, deltaBias: deltaBias, aLog: aLog,
                    b: xProj.baseAddress! + 3, c: xProj.baseAddress! + 3 + N, bcStride: bcStride, d: d,
                    z: xz.baseAddress! + D, zStride: zStride,
                    initialState: withInitialState ? initial.baseAddress! : nil)
                let grads = ScanGradients(
                    du: &du, dDeltaRaw: &dDeltaRaw, dB: dXProj.baseAddress! + 3, dC: dXProj.baseAddress! + 3 + N,
                    dbcStride: bcStride, dz: dxz.baseAddress! + D, dzStride: zStride, dInitialState: &dInitial,
                    dDeltaBias: &dDeltaBias, dALog: &dALog, dD: &dD)
                selectiveScanBackward(shape: shape, inputs: inputs, dOut: dOut, gradients: grads)
            }}}}}
            let dB = (0 ..< rows * N).map { dXProj[($0 / N) * bcStride + 3 + $0 % N] }
            let dC = (0 ..< rows * N).map { dXProj[($0 / N) * bcStride + 3 + N + $0 % N] }
            let dz = (0 ..< rows * D).map { dxz[($0 / D) * zStride + D + $0 % D] }
            XCTAssert(dXProj.enumerated().allSatisfy { $0.offset % bcStride >= 3 || $0.element.isNaN },
                      "the kernel wrote outside B and C")
            let minusOne = { (a: [Float]) in a.map { $0 - 1 } }
            let checks: [(String, [Float], [Double])] = [
                ("u", du, expected.u), ("deltaRaw", dDeltaRaw, expected.deltaRaw),
                ("deltaBias", minusOne(dDeltaBias), expected.deltaBias), ("aLog", minusOne(dALog), expected.aLog),
                ("b", dB, expected.b), ("c", dC, expected.c), ("d", minusOne(dD), expected.d), ("z", dz, expected.z),
                ("initialState", dInitial, expected.initialState),
            ]
            for (name, got, want) in checks {
                XCTAssertLessThanOrEqual(relativeError(got.map(Double.init), want), 2e-6,
                                         "\(name), initial state: \(withInitialState)")
            }
        }
    }
}
