import XCTest
import LetheModel
@testable import LetheTraining

/// Schedules, AdamW and clipping against transformers' get_scheduler, torch.optim.AdamW and
/// torch.nn.utils.clip_grad_norm_ (Tests/Fixtures/training/optim.json).
final class OptimizerTests: XCTestCase {
    func testSchedulesMatchTransformers() throws {
        let fixture = try loadJSON("optim.json")
        let names = ["constant_with_warmup": LearningRateSchedule.constant, "linear": .linear, "cosine": .cosine]
        for case let entry as [String: Any] in fixture["schedules"] as! [Any] {
            let plan = LearningRatePlan(base: entry["base_lr"] as! Double, schedule: names[entry["schedule"] as! String]!,
                                        warmupSteps: entry["warmup"] as! Int, totalSteps: entry["total"] as! Int)
            for (step, expected) in (entry["lrs"] as! [Double]).enumerated() {
                // Both are computed in double; 1e-12 relative allows for a different cos().
                XCTAssertEqual(plan.rate(atStep: step), expected, accuracy: 1e-12 * max(1, abs(expected)),
                               "\(plan.schedule) warmup \(plan.warmupSteps) total \(plan.totalSteps) step \(step)")
            }
        }
    }

    func testAdamWMatchesTorch() throws {
        let fixture = try loadJSON("optim.json")["adamw"] as! [String: Any]
        let initial = (fixture["init"] as! [Any]).map(floats)
        let decays = fixture["weight_decay"] as! [Double]
        // Two parameter groups in one buffer: the first decayed, the second not.
        var parameters = initial[0] + initial[1]
        var optimizer = AdamW(parameterCount: parameters.count, decayed: [0 ..< initial[0].count],
                              weightDecay: decays[0])
        XCTAssertEqual(decays[1], 0)
        for case let step as [String: Any] in fixture["steps"] as! [Any] {
            let grads = (step["grads"] as! [Any]).map(floats)
            let expected = (step["params"] as! [Any]).map(floats)
            var gradients = grads[0] + grads[1]
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.update(parameters: p.baseAddress!, gradients: &gradients, learningRate: step["lr"] as! Double)
            }
            // The same float operations in the same order as torch: equal up to 2e-7 relative per element.
            for (i, (got, want)) in zip(parameters, expected[0] + expected[1]).enumerated() {
                XCTAssertEqual(got, want, accuracy: 2e-7 * max(1, abs(want)), "step \(optimizer.step) element \(i)")
            }
        }
        XCTAssertEqual(optimizer.step, 5)
    }

    /// Clearing the gradients as the update reads them changes no bit of the update (elements in whole vectors
    /// and in a partial last one, a decayed range and one not) and leaves every gradient 0.
    func testAdamWClearingItsGradientsUpdatesTheSame() {
        let count = 8 * 40 + 5
        let parameters: [Float] = (0..<count).map { Float(sin(Double($0) * 0.7)) }
        let gradients: [Float] = (0..<count).map { Float(cos(Double($0) * 0.3)) * 0.1 + 0.01 }
        var kept = (parameters, gradients, AdamW(parameterCount: count, decayed: [0 ..< 203], weightDecay: 0.1))
        var cleared = kept
        for step in 1...3 {
            kept.0.withUnsafeMutableBufferPointer { p in
                kept.2.update(parameters: p.baseAddress!, gradients: &kept.1, gradientScale: 0.5, learningRate: 1e-3)
            }
            cleared.1 = gradients
            cleared.0.withUnsafeMutableBufferPointer { p in
                cleared.2.update(parameters: p.baseAddress!, gradients: &cleared.1, gradientScale: 0.5, learningRate: 1e-3,
                                 clearingGradients: true)
            }
            XCTAssertEqual(kept.1, gradients, "step \(step): gradients read only")
            XCTAssertEqual(cleared.1, [Float](repeating: 0, count: count), "step \(step): gradients cleared")
            XCTAssertEqual(cleared.0.map(\.bitPattern), kept.0.map(\.bitPattern), "step \(step): parameters")
            XCTAssertEqual(cleared.2, kept.2, "step \(step): moments")
        }
    }

    func testClippingMatchesTorch() throws {
        for case let entry as [String: Any] in try loadJSON("optim.json")["clip"] as! [Any] {
            let grads = (entry["grads"] as! [Any]).map(floats)
            var buffer = grads[0] + grads[1]
            let norm = buffer.withUnsafeMutableBufferPointer {
                clipGradientsByGlobalNorm($0.baseAddress!, count: $0.count, maxNorm: entry["max_norm"] as! Double)
            }
            let expectedNorm = entry["total_norm"] as! Double
            XCTAssertEqual(norm, expectedNorm, accuracy: 1e-6 * expectedNorm)
            let clipped = (entry["clipped"] as! [Any]).map(floats)
            XCTAssertLessThanOrEqual(relativeError(buffer, clipped[0] + clipped[1]), 1e-6)
        }
    }

    func testGlobalNormIsIndependentOfBlocking() {
        // Long enough to span several reduction blocks.
        let values = (0 ..< 300_001).map { Float(sin(Double($0) * 0.37)) }
        let expected = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(globalGradientNorm(values, count: values.count), expected, accuracy: 1e-9 * expected)
    }

    /// The C kernel's norm has the Swift loop's bits: whole groups of four blocks, a remainder of blocks, a short
    /// last block with elements past a multiple of 4, on one worker and two.
    func testGlobalNormHasTheSameBitsOnEveryPath() {
        let (savedPath, savedThreads) = (vectorPath, LetheThreads.count)
        defer { vectorPath = savedPath; LetheThreads.set(savedThreads) }
        for count in [3, 65_536, 65_536 * 4, 65_536 * 9 + 7, 65_536 * 6 + 2] {
            let values: [Float] = (0 ..< count).map { (i: Int) -> Float in
                let wave = Float(sin(Double(i) * 0.37 + 1))
                return wave * Float(1 + i % 13)
            }
            vectorPath = .swiftSIMD
            LetheThreads.set(1)
            let swift = globalGradientNorm(values, count: count)
            for path in VectorPath.allCases.filter(\.isAvailable) {
                for threads in [1, 2] {
                    vectorPath = path
                    LetheThreads.set(threads)
                    XCTAssertEqual(globalGradientNorm(values, count: count).bitPattern, swift.bitPattern,
                                   "\(count) floats, \(path), \(threads) workers")
                }
            }
        }
    }
}
