import Foundation
import XCTest
@testable import LetheModel
import LetheTestSupport

/// Every fast kernel against its naive reference (Double sums, libm), on odd sizes that leave partial
/// 8-lane groups, with one and two workers. Tolerances are relative to the largest magnitude of the
/// reference output.
final class KernelTests: XCTestCase {
    private var random = TestRandom(42)

    private func withWorkers(_ counts: [Int] = [1, 2], _ body: () throws -> Void) rethrows {
        let saved = LetheThreads.count
        defer { LetheThreads.set(saved) }
        for n in counts {
            LetheThreads.set(n)
            try body()
        }
    }

    func testEmbeddingCopiesRows() {
        let (v, h) = (11, 13)
        let weight = random.floats(v * h), tokens = random.ints(9, below: v)
        var fast = [Float](repeating: 0, count: 9 * h), slow = fast
        embeddingForward(out: &fast, tokens: tokens, weight: weight, count: 9, hidden: h)
        embeddingForwardReference(out: &slow, tokens: tokens, weight: weight, count: 9, hidden: h)
        XCTAssertEqual(fast, slow)
    }

    /// Against the reference, and the same bits on 1, 2 and 3 workers (rows shared out among them).
    func testRMSNorm() {
        for width in [5, 37, 768] {
            let rows = 7
            let x = random.floats(rows * width, -3, 3), w = random.floats(width, 0.5, 1.5)
            var slow = [Float](repeating: 0, count: rows * width), slowR = [Float](repeating: 0, count: rows)
            rmsNormForwardReference(out: &slow, rstd: &slowR, input: x, weight: w, rows: rows, width: width, epsilon: 1e-5)
            var results: [[Float]] = []
            withWorkers([1, 2, 3]) {
                var fast = [Float](repeating: 0, count: rows * width), fastR = [Float](repeating: 0, count: rows)
                rmsNormForward(out: &fast, rstd: &fastR, input: x, weight: w, rows: rows, width: width, epsilon: 1e-5)
                assertClose(fast, slow, relativeToMax: 1e-6, "rmsnorm width \(width), \(LetheThreads.count) workers")
                assertClose(fastR, slowR, relativeToMax: 1e-6, "rstd width \(width), \(LetheThreads.count) workers")
                results.append(fast + fastR)
            }
            XCTAssertEqual(results[1].map(\.bitPattern), results[0].map(\.bitPattern), "rmsnorm width \(width): 2 workers")
            XCTAssertEqual(results[2].map(\.bitPattern), results[0].map(\.bitPattern), "rmsnorm width \(width): 3 workers")
        }
    }

    /// Falcon-Mamba's use: no weight, one part of strided rows (dt, B or C of x_proj's output), other columns untouched.
    func testWeightlessRMSNormOnStridedRows() {
        let (rows, stride, offset, width) = (7, 23, 5, 11), epsilon: Float = 0.01
        let x = random.floats(rows * stride, -3, 3), start = random.floats(rows * stride)
        var fast = start, slow = start, withUnitWeight = start
        var fastR = [Float](repeating: 0, count: rows), slowR = fastR
        fast.withUnsafeMutableBufferPointer { out in
            rmsNormForward(out: out.baseAddress! + offset, outStride: stride, rstd: &fastR, input: x, inputStride: stride,
                           weight: nil, rows: rows, width: width, epsilon: epsilon)
        }
        slow.withUnsafeMutableBufferPointer { out in
            rmsNormForwardReference(out: out.baseAddress! + offset, outStride: stride, rstd: &slowR, input: x,
                                    inputStride: stride, weight: nil, rows: rows, width: width, epsilon: epsilon)
        }
        withUnitWeight.withUnsafeMutableBufferPointer { out in
            rmsNormForward(out: out.baseAddress! + offset, outStride: stride, rstd: nil, input: x, inputStride: stride,
                           weight: [Float](repeating: 1, count: width), rows: rows, width: width, epsilon: epsilon)
        }
        assertClose(fast, slow, relativeToMax: 1e-6, "weightless rmsnorm")
        assertClose(fastR, slowR, relativeToMax: 1e-6, "weightless rstd")
        XCTAssertEqual(fast, withUnitWeight, "weightless is a weight of ones")
        for m in 0..<rows {
            for j in 0..<stride where j < offset || j >= offset + width {
                XCTAssertEqual(fast[m * stride + j], start[m * stride + j], "column \(j) outside the part")
            }
        }
    }

    /// Both ways of splitting the sgemm (row blocks for many rows, output-column blocks for few), by shape and by
    /// workers (1 to 3: a column block per worker, and a last block wider than the others; rows where columns could
    /// be split too), strided input and output, with and without accumulation.
    func testLinear() {
        withWorkers([1, 2, 3]) {
            for (rows, k, n) in [(3, 37, 11), (5, 16, 200), (300, 48, 50), (40, 24, 230), (300, 24, 130)] {
                let (inStride, outStride) = (k + 3, n + 2)
                let x = random.floats(rows * inStride), w = random.floats(n * k)
                let start = random.floats(rows * outStride)
                for accumulate in [false, true] {
                    var slow = start
                    linearForwardReference(out: &slow, outStride: outStride, input: x, inputStride: inStride, weight: w,
                                           rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate)
                    for split in [ProductSplit.byShape, .byWorkers] {
                        var fast = start
                        linearForward(out: &fast, outStride: outStride, input: x, inputStride: inStride, weight: w,
                                      rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate, split: split)
                        assertClose(fast, slow, relativeToMax: 1e-5,
                                    "linear \(rows)x\(k)x\(n) accumulate \(accumulate) \(split), \(LetheThreads.count) workers")
                    }
                }
            }
        }
    }

    /// Lengths shorter and longer than the kernel, a non-zero initial state, channels that leave a partial
    /// block. The final state is a copy of inputs: exact.
    /// packedLinearForward against its naive references: the Double sums (within 1e-5 of the largest output) and
    /// one Float fused multiply-add after another over k from 0, which must give its bits exactly, whatever the
    /// workers, the rows taken together, the output features asked for, or the vector width (AVX2, AVX-512). Sizes
    /// leave partial panels, tiles and passes over the inputs (more than 128 of them); row counts above 256 span
    /// several blocks; strides leave gaps.
    func testPackedLinear() throws {
        let saved = vectorPath
        defer { vectorPath = saved }
        let paths = [VectorPath.avx2, .avx512].filter(\.isAvailable)
        try XCTSkipIf(paths.isEmpty, "this CPU runs neither the AVX2 nor the AVX-512 kernels")
        for (rows, k, n) in [(1, 5, 3), (7, 48, 80), (64, 300, 100), (300, 37, 65), (129, 130, 32)] {
            let (inStride, outStride) = (k + 3, n + 2)
            let x = random.floats(rows * inStride), w = random.floats(n * k), start = random.floats(rows * outStride)
            let packed = PackedWeight(w, outFeatures: n, inFeatures: k)
            for accumulate in [false, true] {
                var double = start, chained = start
                linearForwardReference(out: &double, outStride: outStride, input: x, inputStride: inStride, weight: w,
                                       rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate)
                for m in 0..<rows {
                    for j in 0..<n {
                        var sum: Float = 0
                        for i in 0..<k { sum = sum.addingProduct(x[m * inStride + i], w[j * k + i]) }
                        chained[m * outStride + j] = accumulate ? chained[m * outStride + j] + sum : sum
                    }
                }
                let what = "packed linear \(rows)x\(k)x\(n) accumulate \(accumulate)"
                assertClose(chained, double, relativeToMax: 1e-5, what)
                for path in paths {
                    vectorPath = path
                    withWorkers([1, 2, 3]) {
                        var out = start
                        packedLinearForward(out: &out, outStride: outStride, input: x, inputStride: inStride, weight: packed,
                                            rows: rows, accumulate: accumulate)
                        XCTAssertEqual(out.map(\.bitPattern), chained.map(\.bitPattern), "\(what), \(path), \(LetheThreads.count) workers")
                        // Output features from the second panel on, one row at a time, on the calling thread: the same
                        // bits, the other columns untouched.
                        guard n > 32 else { return }
                        var part = start
                        x.withUnsafeBufferPointer { x in
                            part.withUnsafeMutableBufferPointer { part in
                                for m in 0..<rows {
                                    packedLinearForward(out: part.baseAddress! + m * outStride + 32, outStride: outStride,
                                                        input: x.baseAddress! + m * inStride, inputStride: inStride,
                                                        weight: packed, rows: 1, columns: 32..<n, accumulate: accumulate,
                                                        splitAmongWorkers: false)
                                }
                            }
                        }
                        var expected = start
                        for m in 0..<rows { expected[m * outStride + 32 ..< m * outStride + n] = chained[m * outStride + 32 ..< m * outStride + n] }
                        XCTAssertEqual(part.map(\.bitPattern), expected.map(\.bitPattern), "\(what), \(path), columns 32..<\(n)")
                    }
                }
            }
        }
    }

    /// The blocked cross-entropy's losses (here without a gradient: the encoder's surprisal) are the same bits on 1,
    /// 2 or 3 workers, on the weight as given and on its packed copy (blocks of 32 words, a multiple of the panels),
    /// and within 1e-5 of log-sum-exp in Double over the reference logits.
    func testBlockedCrossEntropyWithoutGradientDoesNotDependOnTheWorkers() {
        let (m, h, vocab) = (64, 16, 1000)
        let hidden = random.floats(m * h, -2, 2), weight = random.floats(vocab * h, -2, 2)
        let targets: [Int32] = (0..<m).map { $0 == 3 ? -1 : Int32($0 * 37 % vocab) }
        let packed = PackedWeight(weight, outFeatures: vocab, inFeatures: h)
        var logits = [Float](repeating: 0, count: m * vocab)
        linearForwardReference(out: &logits, outStride: vocab, input: hidden, inputStride: h, weight: weight,
                               rows: m, inFeatures: h, outFeatures: vocab)
        let expected: [Float] = (0..<m).map { r in
            guard targets[r] >= 0 else { return 0 }
            let row = logits[r * vocab ..< (r + 1) * vocab].map(Double.init), top = row.max()!
            return Float(log(row.map { exp($0 - top) }.reduce(0, +)) + top - row[Int(targets[r])])
        }
        for weights in [nil, packed] {
            var results: [[UInt32]] = []
            withWorkers([1, 2, 3]) {
                var losses = [Float](repeating: 0, count: m)
                blockedLMHeadCrossEntropy(hidden: hidden, weight: weight, packed: weights, targets: targets, losses: &losses,
                                          dHidden: nil, dWeight: nil, rows: m, hiddenSize: h, vocab: vocab, scale: 1,
                                          vocabBlock: 32)
                assertClose(losses, expected, relativeToMax: 1e-5, "losses, packed \(weights != nil)")
                results.append(losses.map(\.bitPattern))
            }
            XCTAssertEqual(results[1], results[0], "2 workers, packed \(weights != nil)")
            XCTAssertEqual(results[2], results[0], "3 workers, packed \(weights != nil)")
        }
    }

    func testCausalConv1d() {
        withWorkers {
            for (channels, kernel) in [(13, 3), (16, 4), (5, 2)] {
                for length in [1, 2, 5, 20] {
                    let batch = 3, stride = 2 * channels
                    let x = random.floats(batch * length * stride), w = random.floats(channels * kernel)
                    let bias = random.floats(channels), initial = random.floats(batch * channels * kernel)
                    var fast = [Float](repeating: 0, count: batch * length * channels), slow = fast
                    var fastState = initial, slowState = initial
                    causalConv1dForward(out: &fast, input: x, inputStride: stride, weight: w, bias: bias, state: &fastState,
                                        stateStride: channels * kernel, batch: batch, length: length, channels: channels,
                                        kernel: kernel)
                    causalConv1dForwardReference(out: &slow, input: x, inputStride: stride, weight: w, bias: bias,
                                                 state: &slowState, stateStride: channels * kernel, batch: batch,
                                                 length: length, channels: channels, kernel: kernel)
                    assertClose(fast, slow, relativeToMax: 1e-6, "conv \(channels)/\(kernel) length \(length)")
                    XCTAssertEqual(fastState, slowState, "conv state \(channels)/\(kernel) length \(length)")
                }
            }
        }
    }

    /// The conv with its SiLU in one pass, on every implementation this CPU runs: the same bits as the two Swift
    /// kernels one after the other (conv output, activation and final state), with and without the conv output
    /// kept; channels that leave partial AVX2 and AVX-512 vectors, several work units per sequence with a partial
    /// last one (200 channels), K = 4 (the unrolled case) and 3, inputs that reach the exp's clamp. (Length 1 is
    /// the recurrent step, the Swift kernels on every path.)
    func testCausalConv1dSiLUIsTheConvThenTheSiLU() {
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in VectorPath.allCases.filter(\.isAvailable) {
            vectorPath = path
            withWorkers {
                for (channels, kernel) in [(37, 4), (16, 4), (21, 3), (200, 4), (1_792, 4)] {
                    for length in [1, 2, 9] {
                        let batch = 3, stride = 2 * channels + 5
                        var x = random.floats(batch * length * stride, -4, 4)
                        x[0] = 60; x[stride + 1] = -60
                        let w = random.floats(channels * kernel), bias = random.floats(channels)
                        let initial = random.floats(batch * channels * kernel)
                        let count = batch * length * channels
                        var conv = [Float](repeating: 0, count: count), act = conv, state = initial
                        causalConv1dForward(out: &conv, input: x, inputStride: stride, weight: w, bias: bias, state: &state,
                                            stateStride: channels * kernel, batch: batch, length: length,
                                            channels: channels, kernel: kernel)
                        siluForward(out: &act, input: conv, count: count)
                        let what = "\(path) \(channels)/\(kernel) length \(length) workers \(LetheThreads.count)"
                        for keepsConv in [true, false] {
                            var fusedConv = [Float](repeating: .nan, count: count), fusedAct = fusedConv
                            var fusedState = initial
                            fusedConv.withUnsafeMutableBufferPointer { convOut in
                                causalConv1dSiLUForward(out: keepsConv ? convOut.baseAddress! : nil, activated: &fusedAct,
                                                        input: x, inputStride: stride, weight: w, bias: bias,
                                                        state: &fusedState, stateStride: channels * kernel, batch: batch,
                                                        length: length, channels: channels, kernel: kernel)
                            }
                            XCTAssertEqual(fusedAct.map(\.bitPattern), act.map(\.bitPattern), "activation \(what)")
                            XCTAssertEqual(fusedState.map(\.bitPattern), state.map(\.bitPattern), "state \(what)")
                            if keepsConv { XCTAssertEqual(fusedConv.map(\.bitPattern), conv.map(\.bitPattern), "conv \(what)") }
                        }
                    }
                }
            }
        }
    }

    /// Elementwise kernels: relative error per element (plus 1e-30 absolute for values that are ~0).
    private func assertElementwise(_ fast: [Float], _ slow: [Float], _ bound: Float, _ what: String) {
        for (i, (f, s)) in zip(fast, slow).enumerated() where !(abs(f - s) <= bound * abs(s) + 1e-30) {
            XCTFail("\(what): element \(i) \(f) vs \(s)")
            return
        }
    }

    func testSiLUSoftplusAndGate() {
        withWorkers {
            let count = 1001
            let x = random.floats(count, -30, 30) + [-100, -88.5, -20, 0, 19.9, 20, 20.1, 90]
            var fast = [Float](repeating: 0, count: x.count), slow = fast
            siluForward(out: &fast, input: x, count: x.count)
            siluForwardReference(out: &slow, input: x, count: x.count)
            assertElementwise(fast, slow, 1e-6, "silu")
            softplusForward(out: &fast, input: x, count: x.count)
            softplusForwardReference(out: &slow, input: x, count: x.count)
            assertElementwise(fast, slow, 1e-6, "softplus")

            let (rows, channels) = (7, 13)
            let y = random.floats(rows * channels), z = random.floats(rows * 2 * channels, -12, 12)
            var g = [Float](repeating: 0, count: rows * channels), gSlow = g
            gateForward(out: &g, y: y, z: z, zStride: 2 * channels, rows: rows, channels: channels)
            gateForwardReference(out: &gSlow, y: y, z: z, zStride: 2 * channels, rows: rows, channels: channels)
            assertElementwise(g, gSlow, 1e-6, "gate")
        }
    }

    /// The scan on every implementation this CPU runs (Swift SIMD, and AVX2 and AVX-512 when available) against the
    /// Double reference: outputs and final states within 1e-5 of their largest magnitude. Δ covers
    /// softplus's threshold, A up to -e^2.5, and the initial state is non-zero.
    func testSelectiveScanEveryImplementation() {
        let paths = VectorPath.allCases.filter(\.isAvailable)
        XCTAssert(paths.contains(.swiftSIMD))
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in paths {
            vectorPath = path
            withWorkers {
                for (channels, n) in [(13, 5), (24, 16)] {
                    for length in [1, 7, 33] {
                        let batch = 2, r = 3
                        let bcStride = r + 2 * n
                        let u = random.floats(batch * length * channels, -2, 2)
                        var dt = random.floats(batch * length * channels, -6, 3)
                        dt[0] = 25  // softplus's linear branch
                        let dtBias = random.floats(channels, -1, 1), bc = random.floats(batch * length * bcStride, -1, 1)
                        let aLog = random.floats(channels * n, -2, 2.5), d = random.floats(channels, 0, 2)
                        let initial = random.floats(batch * channels * n, -1, 1)
                        var fast = [Float](repeating: 0, count: batch * length * channels), slow = fast
                        var fastState = initial, slowState = initial
                        selectiveScanForward(y: &fast, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride, aLog: aLog,
                                             d: d, state: &fastState, stateStride: channels * n, batch: batch,
                                             length: length, channels: channels, stateSize: n)
                        selectiveScanForwardReference(y: &slow, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride,
                                                      aLog: aLog, d: d, state: &slowState, stateStride: channels * n,
                                                      batch: batch, length: length, channels: channels, stateSize: n)
                        let what = "scan \(path) \(channels)x\(n) length \(length) workers \(LetheThreads.count)"
                        assertClose(fast, slow, relativeToMax: 2e-6, "\(what) y")
                        assertClose(fastState, slowState, relativeToMax: 2e-6, "\(what) state")
                    }
                }
            }
        }
    }

    /// The scan with its gate, on every implementation this CPU runs, lengths 1 (the recurrent step) and longer (one
    /// tile of the C kernels' passes, and three with a partial one): y, the gate and the final state have the bits of
    /// the scan followed by `gateForward`; without `keepsScanOutput` the gate and the state are the same bits and
    /// the C kernels leave y unwritten.
    func testSelectiveScanWithItsGateIsTheScanThenTheGate() {
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in VectorPath.allCases.filter(\.isAvailable) {
            vectorPath = path
            withWorkers {
                for (channels, n) in [(37, 5), (32, 16)] {
                    for length in [1, 9, 40] {
                        let batch = 2, r = 3, bcStride = r + 2 * n, zStride = 2 * channels + 3, rows = batch * length
                        let u = random.floats(rows * channels, -2, 2), dt = random.floats(rows * channels, -6, 3)
                        var z = random.floats(rows * zStride, -8, 8)
                        z[0] = 95; z[1] = -95  // the exp's clamp
                        let dtBias = random.floats(channels, -1, 1), bc = random.floats(rows * bcStride, -1, 1)
                        let aLog = random.floats(channels * n, -2, 2.5), d = random.floats(channels, 0, 2)
                        let initial = random.floats(batch * channels * n, -1, 1)
                        func scan(gated: Bool, keepsScanOutput: Bool = true) -> (y: [Float], gate: [Float], state: [Float]) {
                            var y = [Float](repeating: .nan, count: rows * channels), out = y, state = initial
                            out.withUnsafeMutableBufferPointer { out in
                                z.withUnsafeBufferPointer { z in
                                    let gate = gated ? ScanGate(z: z.baseAddress!, zStride: zStride, out: out.baseAddress!,
                                                                keepsScanOutput: keepsScanOutput) : nil
                                    selectiveScanForward(y: &y, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride,
                                                         aLog: aLog, d: d, state: &state, stateStride: channels * n,
                                                         batch: batch, length: length, channels: channels, stateSize: n,
                                                         gate: gate)
                                }
                            }
                            if !gated { gateForward(out: &out, y: y, z: z, zStride: zStride, rows: rows, channels: channels) }
                            return (y, out, state)
                        }
                        let (fused, apart) = (scan(gated: true), scan(gated: false))
                        let what = "\(path) \(channels)x\(n) length \(length) workers \(LetheThreads.count)"
                        XCTAssertEqual(fused.y.map(\.bitPattern), apart.y.map(\.bitPattern), "y \(what)")
                        XCTAssertEqual(fused.gate.map(\.bitPattern), apart.gate.map(\.bitPattern), "gate \(what)")
                        XCTAssertEqual(fused.state.map(\.bitPattern), apart.state.map(\.bitPattern), "state \(what)")
                        let gateOnly = scan(gated: true, keepsScanOutput: false)
                        XCTAssertEqual(gateOnly.gate.map(\.bitPattern), apart.gate.map(\.bitPattern), "gate only, \(what)")
                        XCTAssertEqual(gateOnly.state.map(\.bitPattern), apart.state.map(\.bitPattern), "state, gate only, \(what)")
                        if path != .swiftSIMD && length > 1 { XCTAssert(gateOnly.y.allSatisfy(\.isNaN), "y written, \(what)") }
                    }
                }
            }
        }
    }

    /// The AVX-512 scan rounds and scales its 2^t with AVX-512's own instructions (vrndscaleps, vscalefps), the AVX2
    /// scan with the shifter's additions and exponent bits; both run the recurrence in tiles of tokens, unrolled for
    /// 16 states. Their outputs, gates and final states are the same bits, for Δ·A from 0 down past the exponent's
    /// floor (2^-126 and below, where the floats become subnormal, then 0; with B and D at 0, so that nothing
    /// absorbs those decays), 5 and 16 states, a partial last vector and lengths across tiles. Skipped on a CPU
    /// without AVX-512.
    func testSelectiveScanHasTheSameBitsOnAVX2AndAVX512() throws {
        try XCTSkipUnless(VectorPath.avx512.isAvailable, "this CPU has no AVX-512")
        let saved = vectorPath
        defer { vectorPath = saved }
        for (channels, n) in [(37, 5), (48, 16)] {
            for (length, decayOnly) in [(2, true), (16, false), (41, false), (41, true)] {
                let batch = 3, r = 2, bcStride = r + 2 * n, zStride = 2 * channels, rows = batch * length
                let u = random.floats(rows * channels, -2, 2), dt = random.floats(rows * channels, -8, 40)
                let z = random.floats(rows * zStride, -9, 9), dtBias = random.floats(channels, -1, 1)
                var bc = random.floats(rows * bcStride, -1, 1), d = random.floats(channels, 0, 2)
                if decayOnly {
                    // B = 0 and D = 0: the state is the initial one times the decays 2^t, subnormal ones included,
                    // with no larger term to absorb them.
                    for m in 0..<rows { for j in 0..<n { bc[m * bcStride + r + j] = 0 } }
                    d = [Float](repeating: 0, count: channels)
                }
                let aLog = random.floats(channels * n, -3, 1.6), initial = random.floats(batch * channels * n, -1, 1)
                func scan(_ path: VectorPath) -> [[UInt32]] {
                    vectorPath = path
                    var y = [Float](repeating: 0, count: rows * channels), out = y, state = initial
                    out.withUnsafeMutableBufferPointer { out in
                        z.withUnsafeBufferPointer { z in
                            selectiveScanForward(y: &y, u: u, dt: dt, dtBias: dtBias, bc: bc, bcStride: bcStride, aLog: aLog,
                                                 d: d, state: &state, stateStride: channels * n, batch: batch,
                                                 length: length, channels: channels, stateSize: n,
                                                 gate: ScanGate(z: z.baseAddress!, zStride: zStride, out: out.baseAddress!))
                        }
                    }
                    return [y, out, state].map { $0.map(\.bitPattern) }
                }
                let (avx2, avx512) = (scan(.avx2), scan(.avx512))
                for (part, name) in ["y", "gate", "state"].enumerated() {
                    XCTAssertEqual(avx512[part], avx2[part], "\(name), \(channels)x\(n) length \(length) decay only \(decayOnly)")
                }
            }
        }
    }

    /// Mamba-2's scan against its Double reference: heads sharing a group's B and C (2 groups of 3 heads, and 1 of
    /// 4), strided inputs as in_proj and the conv lay them out, a non-zero initial state, Δ across softplus's
    /// threshold and clamped by a time_step_limit or not; outputs and final states within 2e-6 of their largest
    /// magnitude, on one worker and two, on every implementation this CPU runs (Swift SIMD, AVX2, AVX-512); state
    /// sizes with and without a partial vector.
    func testSSDScan() {
        let saved = vectorPath
        defer { vectorPath = saved }
        for path in VectorPath.allCases.filter(\.isAvailable) {
            vectorPath = path
            withWorkers {
                for (heads, headDim, groups, n, limit) in [(6, 5, 2, 7, (Float(0.02), Float(0.9))), (4, 8, 1, 16, (Float(0), Float.infinity)),
                                                           (2, 3, 1, 21, (Float(0), Float.infinity))] {
                    for length in [1, 9] {
                        checkSSDScan(path: path, heads: heads, headDim: headDim, groups: groups, n: n, limit: limit, length: length)
                    }
                }
            }
        }
    }

    /// Each channel of a Mamba-2 head gets the bits it would get alone: a head of 5 channels (the C kernels take 4
    /// together, then 1) against 5 heads of one channel each with the same dt, A, D, B and C, whose x, y and states
    /// lie in memory as the one head's do; equal to the bit, with and without a partial vector of states, on every
    /// implementation this CPU runs.
    func testSSDScanChannelsTakenTogetherKeepTheirBits() {
        let saved = vectorPath
        defer { vectorPath = saved }
        let (batch, length, channels) = (2, 7, 5)
        for n in [16, 21] {
            let x = random.floats(batch * length * channels, -2, 2), bc = random.floats(batch * length * 2 * n, -2, 2)
            let dt = random.floats(batch * length, -4, 2), initial = random.floats(batch * channels * n, -1, 1)
            let (dtBias, aLog, d) = (random.floats(1, -1, 1), random.floats(1, -2, 2), random.floats(1, 0, 2))
            for path in VectorPath.allCases.filter(\.isAvailable) {
                vectorPath = path
                func scan(heads: Int) -> ([Float], [Float]) {
                    var y = [Float](repeating: 0, count: batch * length * channels), state = initial
                    let headDim = channels / heads
                    ssdScanForward(y: &y, x: x, xStride: channels, dt: dt.flatMap { Array(repeating: $0, count: heads) },
                                   dtStride: heads, dtBias: Array(repeating: dtBias[0], count: heads),
                                   aLog: Array(repeating: aLog[0], count: heads), bc: bc, bcStride: 2 * n,
                                   d: Array(repeating: d[0], count: heads), state: &state, stateStride: channels * n,
                                   batch: batch, length: length, heads: heads, headDim: headDim, groups: 1, stateSize: n,
                                   dtMin: 0, dtMax: .infinity)
                    return (y, state)
                }
                let (together, alone) = (scan(heads: 1), scan(heads: channels))
                XCTAssertEqual(together.0, alone.0, "\(path) n \(n): y")
                XCTAssertEqual(together.1, alone.1, "\(path) n \(n): states")
            }
        }
    }

    private func checkSSDScan(path: VectorPath, heads: Int, headDim: Int, groups: Int, n: Int, limit: (Float, Float), length: Int) {
        let batch = 2, di = heads * headDim, channels = di + 2 * groups * n, columns = channels + 3
        let conv = random.floats(batch * length * columns, -2, 2)  // x | B | C, then unused columns
        var dt = random.floats(batch * length * (heads + 2), -6, 3)
        dt[0] = 25  // softplus's linear branch
        let dtBias = random.floats(heads, -1, 1), aLog = random.floats(heads, -2, 2.5), d = random.floats(heads, 0, 2)
        let initial = random.floats(batch * di * n, -1, 1)
        var fast = [Float](repeating: 0, count: batch * length * di), slow = fast
        var fastState = initial, slowState = initial
        ssdScanForward(y: &fast, x: conv, xStride: columns, dt: dt, dtStride: heads + 2, dtBias: dtBias,
                       aLog: aLog, bc: Array(conv[di...]), bcStride: columns, d: d, state: &fastState,
                       stateStride: di * n, batch: batch, length: length, heads: heads, headDim: headDim,
                       groups: groups, stateSize: n, dtMin: limit.0, dtMax: limit.1)
        ssdScanForwardReference(y: &slow, x: conv, xStride: columns, dt: dt, dtStride: heads + 2, dtBias: dtBias,
                                aLog: aLog, bc: Array(conv[di...]), bcStride: columns, d: d, state: &slowState,
                                stateStride: di * n, batch: batch, length: length, heads: heads, headDim: headDim,
                                groups: groups, stateSize: n, dtMin: limit.0, dtMax: limit.1)
        let what = "ssd scan \(path) \(heads) heads of \(headDim), \(groups) groups, n \(n), length \(length), workers \(LetheThreads.count)"
        assertClose(fast, slow, relativeToMax: 2e-6, "\(what) y")
        assertClose(fastState, slowState, relativeToMax: 2e-6, "\(what) state")
    }
}
