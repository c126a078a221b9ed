import Foundation
import XCTest
@testable import LetheModel

/// The vectorised elementary functions against libm in Double over dense sweeps of their domains. The
/// bounds asserted here are the maximum relative errors stated in FastMath.swift.
final class FastMathTests: XCTestCase {
    /// Largest |f(x) - reference(x)| / |reference(x)| over `inputs`, 8 lanes at a time.
    private func maxRelativeError(_ inputs: [Float], _ f: (Float8) -> Float8, _ reference: (Double) -> Double) -> Double {
        var worst = 0.0
        var i = 0
        while i + 8 <= inputs.count {
            var v = Float8()
            for l in 0..<8 { v[l] = inputs[i + l] }
            let out = f(v)
            for l in 0..<8 {
                let exact = reference(Double(inputs[i + l]))
                worst = max(worst, abs(Double(out[l]) - exact) / abs(exact))
            }
            i += 8
        }
        return worst
    }

    private func sweep(_ lo: Float, _ hi: Float, _ count: Int) -> [Float] {
        (0..<count).map { lo + (hi - lo) * Float($0) / Float(count - 1) }
    }

    func testFastExpRelativeError() {
        let error = maxRelativeError(sweep(-87.3, 88, 400_000) + sweep(-1, 1, 100_000), fastExp) { exp($0) }
        XCTAssertLessThan(error, 1.2e-7, "fastExp max relative error \(error)")
    }

    func testFastExp2RelativeError() {
        let error = maxRelativeError(sweep(-126, 0, 400_000) + sweep(-1, 0, 100_000), fastExp2NonPositive) { exp2($0) }
        XCTAssertLessThan(error, 2.5e-7, "fastExp2NonPositive max relative error \(error)")
        XCTAssertEqual(fastExp2NonPositive(Float8(repeating: -200))[0], 0)
        XCTAssertEqual(fastExp2NonPositive(Float8(repeating: 0))[0], 1)
    }

    func testFastLog1pRelativeError() {
        let tiny = (1...40).map { Float(pow(10, -Double($0))) }  // 1e-1 ... 1e-40 (subnormal at the end)
        var inputs = sweep(0, 1, 400_000).dropFirst() + tiny
        while inputs.count % 8 != 0 { inputs.append(0.5) }
        let error = maxRelativeError(Array(inputs), fastLog1p) { log1p($0) }
        XCTAssertLessThan(error, 2e-7, "fastLog1p max relative error \(error)")
    }
}
