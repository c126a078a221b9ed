import Foundation
import XCTest
@testable import LetheModel
import LetheTestSupport

/// The one-token kernels (RecurrentStep.swift) against the naive references with L = 1: batches larger than a
/// worker's share, channels that leave a partial block of 8, state sizes that leave a partial vector, one and
/// two workers. Tolerances relative to the largest magnitude of the reference output, as in KernelTests.
final class RecurrentStepTests: XCTestCase {
    private var random = TestRandom(7)

    private func withWorkers(_ body: () -> Void) {
        let saved = LetheThreads.count
        defer { LetheThreads.set(saved) }
        for n in [1, 2] {
            LetheThreads.set(n)
            body()
        }
    }

    func testConvStepShiftsTheStateAndMatchesTheReference() {
        withWorkers {
            for (batch, channels, kernel) in [(5, 13, 3), (9, 24, 4), (2, 7, 2)] {
                let stride = 2 * channels
                let x = random.floats(batch * stride), w = random.floats(channels * kernel), bias = random.floats(channels)
                let initial = random.floats(batch * channels * kernel)
                var fast = [Float](repeating: 0, count: batch * channels), slow = fast
                var fastState = initial, slowState = initial
                causalConv1dStep(out: &fast, input: x, inputStride: stride, weight: w, bias: bias, state: &fastState,
                                 stateStride: channels * kernel, batch: batch, channels: channels, kernel: kernel)
                causalConv1dForwardReference(out: &slow, input: x, inputStride: stride, weight: w, bias: bias,
                                             state: &slowState, stateStride: channels * kernel, batch: batch, length: 1,
                                             channels: channels, kernel: kernel)
                assertClose(fast, slow, relativeToMax: 1e-6, "conv step \(batch)x\(channels)/\(kernel)")
                XCTAssertEqual(fastState, slowState, "conv step state \(batch)x\(channels)/\(kernel)")
            }
        }
    }

    /// On every implementation this CPU runs (the Swift SIMD kernel, the AVX2 and AVX-512 C kernels): state sizes
    /// of one partial vector, whole vectors and whole vectors plus a partial one, for 8 and 16 lanes.
    func testScanStepMatchesTheReference() {
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in VectorPath.allCases.filter(\.isAvailable) {
            vectorPath = path
            checkScanStep(path)
        }
    }

    private func checkScanStep(_ path: VectorPath) {
        withWorkers {
            for (batch, channels, n) in [(5, 13, 13), (9, 24, 16), (3, 9, 5), (2, 8, 1), (4, 37, 21), (3, 17, 32)] {
                let r = 2, bcStride = r + 2 * n + 3
                let u = random.floats(batch * channels, -2, 2)
                var dt = random.floats(batch * channels, -6, 3)
                dt[0] = 25  // softplus's linear branch
                let dtBias = random.floats(channels, -1, 1), bc = random.floats(batch * bcStride, -1, 1)
                let aLog = random.floats(channels * n, -2, 2.5), d = random.floats(channels, 0, 2)
                let initial = random.floats(batch * channels * n, -1, 1)
                var fast = [Float](repeating: 0, count: batch * channels), slow = fast
                var fastState = initial, slowState = initial
                selectiveScanStep(y: &fast, u: u, dt: dt, dtBias: dtBias, bc: Array(bc[r...]), bcStride: bcStride, aLog: aLog,
                                  d: d, state: &fastState, stateStride: channels * n, batch: batch, channels: channels,
                                  stateSize: n)
                selectiveScanForwardReference(y: &slow, u: u, dt: dt, dtBias: dtBias, bc: Array(bc[r...]), bcStride: bcStride,
                                              aLog: aLog, d: d, state: &slowState, stateStride: channels * n, batch: batch,
                                              length: 1, channels: channels, stateSize: n)
                let what = "scan step \(path) \(batch)x\(channels)x\(n) workers \(LetheThreads.count)"
                assertClose(fast, slow, relativeToMax: 2e-6, "\(what) y")
                assertClose(fastState, slowState, relativeToMax: 2e-6, "\(what) state")
            }
        }
    }
}
