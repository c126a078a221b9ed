import XCTest
@testable import LetheModel
@testable import LetheTraining

/// Each backward kernel against its naive reference (double-precision sums) on random inputs with odd sizes
/// (partial 8-lane groups) and strided rows, as the training step calls them. Tolerance: max|fast - ref| <=
/// 1e-5 · max|ref| per output tensor (float32 sums of at most a few hundred terms; fastExp within 2.5e-7).
final class BackwardKernelTests: XCTestCase {
    func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = Xoshiro256(seed: seed)
        return (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale }
    }

    func assertClose(_ got: [Float], _ want: [Float], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(want.map(abs).max() ?? 0, 0, "\(name): reference is all zero", file: file, line: line)
        XCTAssertLessThanOrEqual(relativeError(got, want), 1e-5, name, file: file, line: line)
    }

    func testEmbeddingBackward() {
        let (v, h, m) = (11, 70, 37)
        var rng = Xoshiro256(seed: 1)
        let tokens = (0..<m).map { _ in Int32(rng.nextIndex(below: v)) }  // repeats: accumulation
        let dOut = random(m * h, seed: 2)
        var fast = random(v * h, seed: 3), reference = fast
        embeddingBackward(dWeight: &fast, dOut: dOut, tokens: tokens, count: m, hidden: h)
        embeddingBackwardReference(dWeight: &reference, dOut: dOut, tokens: tokens, count: m, hidden: h)
        assertClose(fast, reference, "dWeight")
    }

    func testRMSNormBackward() {
        let (m, h) = (45, 21)
        let input = random(m * h, seed: 1, scale: 3), weight = random(h, seed: 2), dOut = random(m * h, seed: 3)
        var normed = [Float](repeating: 0, count: m * h), rstd = [Float](repeating: 0, count: m)
        rmsNormForward(out: &normed, rstd: &rstd, input: input, weight: weight, rows: m, width: h, epsilon: 1e-5)
        var dInput = random(m * h, seed: 4), dInputRef = dInput  // accumulates into the residual gradient
        var dWeight = random(h, seed: 5), dWeightRef = dWeight
        rmsNormBackward(dInput: &dInput, dWeight: &dWeight, dOut: dOut, input: input, weight: weight, rstd: rstd,
                        rows: m, width: h)
        rmsNormBackwardReference(dInput: &dInputRef, dWeight: &dWeightRef, dOut: dOut, input: input, weight: weight,
                                 rows: m, width: h, epsilon: 1e-5)
        assertClose(dInput, dInputRef, "dInput")
        assertClose(dWeight, dWeightRef, "dWeight")
    }

    /// Falcon-Mamba's weightless norm of one part of strided rows: dInput accumulates into that part only.
    func testWeightlessRMSNormBackwardOnStridedRows() {
        let (m, stride, offset, h) = (40, 19, 3, 6), epsilon: Float = 0.01
        let input = random(m * stride, seed: 6, scale: 2), dOut = random(m * stride, seed: 7)
        var normed = [Float](repeating: 0, count: m * stride), rstd = [Float](repeating: 0, count: m)
        rmsNormForward(out: &normed, outStride: stride, rstd: &rstd, input: Array(input[offset...]), inputStride: stride,
                       weight: nil, rows: m, width: h, epsilon: epsilon)
        let start = random(m * stride, seed: 8)
        var dInput = start, dInputRef = start
        let (dOutPart, inputPart) = (Array(dOut[offset...]), Array(input[offset...]))
        dInput.withUnsafeMutableBufferPointer { d in
            rmsNormBackward(dInput: d.baseAddress! + offset, dWeight: nil, dOut: dOutPart, dOutStride: stride,
                            input: inputPart, inputStride: stride, weight: nil, rstd: rstd, rows: m, width: h)
        }
        dInputRef.withUnsafeMutableBufferPointer { d in
            rmsNormBackwardReference(dInput: d.baseAddress! + offset, dWeight: nil, dOut: dOutPart, dOutStride: stride,
                                     input: inputPart, inputStride: stride, weight: nil, rows: m, width: h, epsilon: epsilon)
        }
        assertClose(dInput, dInputRef, "dInput")
        XCTAssertEqual(dInput.enumerated().filter { ($0.offset % stride) < offset || ($0.offset % stride) >= offset + h }.map(\.element),
                       start.enumerated().filter { ($0.offset % stride) < offset || ($0.offset % stride) >= offset + h }.map(\.element),
                       "columns outside the part untouched")
    }

    /// Mamba-2's scan backward against its Double reference: groups of heads sharing B and C, strided rows, a
    /// non-zero initial state (whose gradient is checked too), dt clamped and not, state sizes with and without a
    /// partial vector, heads recomputed in blocks of 6 channels (a group of the C kernels' 4 and 2 alone; 20 channels end
    /// in a block of 2); on every implementation this CPU runs, on one worker
    /// and two (the same bits on both).
    func testSSDScanBackward() {
        let (savedThreads, savedPath) = (LetheThreads.count, vectorPath)
        defer { LetheThreads.set(savedThreads); vectorPath = savedPath }
        let names = ["dX and dBC", "dDt", "dDtBias", "dALog", "dD", "dState"]
        for (heads, headDim, groups, n, limit) in [(6, 3, 2, 5, (Float(0.05), Float(0.6))), (4, 4, 1, 9, (Float(0), Float.infinity)),
                                                   (2, 20, 1, 16, (Float(0), Float.infinity))] {
            let reference = ssdBackward(heads, headDim, groups, n, limit, reference: true)
            for path in VectorPath.allCases where path.isAvailable {
                vectorPath = path
                var byThreads: [[[Float]]] = []
                for threads in [1, 2] {
                    LetheThreads.set(threads)
                    byThreads.append(ssdBackward(heads, headDim, groups, n, limit, reference: false))
                    for (i, name) in names.enumerated() {
                        assertClose(byThreads.last![i], reference[i], "\(path) \(groups) groups n \(n) threads \(threads) \(name)")
                    }
                }
                XCTAssert(byThreads[0] == byThreads[1], "\(path): the same bits on one worker and two")
            }
        }
    }

    /// Mamba-2's scan and its backward against transformers' own chunked scan and its autograd
    /// (make_training_fixtures.py ssd-scan): outputs, final states, and the gradient of every input, the initial
    /// state's included, within 1e-4 of each tensor's largest magnitude (the chunked form sums in another order).
    func testSSDScanMatchesTransformersChunkedScan() throws {
        let tensors = try readSafetensors(trainingFixtures.appendingPathComponent("ssd_scan.safetensors"))
        let cases = try loadJSON("ssd_scan.json")["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            let name = c["name"] as! String
            func t(_ key: String) -> [Float] { tensors["\(name).\(key)"]!.values }
            let (b, l, heads, p, groups, n) = (c["batch"] as! Int, c["length"] as! Int, c["heads"] as! Int,
                                               c["head_dim"] as! Int, c["groups"] as! Int, c["state_size"] as! Int)
            let (dtMin, dtMax) = (Float(c["dt_min"] as! Double), (c["dt_max"] as? Double).map(Float.init) ?? .infinity)
            let (rows, di, gn) = (b * l, heads * p, groups * n)
            // Lethe's layout: each row's B then C.
            let (bIn, cIn) = (t("B"), t("C"))
            var bc: [Float] = []
            for r in 0..<rows {
                bc += bIn[r * gn ..< (r + 1) * gn]
                bc += cIn[r * gn ..< (r + 1) * gn]
            }
            var y = [Float](repeating: 0, count: rows * di), state = t("state")
            ssdScanForward(y: &y, x: t("x"), xStride: di, dt: t("dt"), dtStride: heads, dtBias: t("dt_bias"), aLog: t("A_log"),
                           bc: bc, bcStride: 2 * gn, d: t("D"), state: &state, stateStride: di * n, batch: b, length: l,
                           heads: heads, headDim: p, groups: groups, stateSize: n, dtMin: dtMin, dtMax: dtMax)
            BackwardKernelTests.assertMatches(y, t("y"), "\(name) y")
            BackwardKernelTests.assertMatches(state, t("final"), "\(name) final state")
            var dX = [Float](repeating: 0, count: rows * di), dBC = [Float](repeating: 0, count: rows * 2 * gn)
            var dDt = [Float](repeating: 0, count: rows * heads), dState = [Float](repeating: 0, count: b * di * n)
            var (dDtBias, dALog, dD) = ([Float](repeating: 0, count: heads), [Float](repeating: 0, count: heads), [Float](repeating: 0, count: heads))
            ssdScanBackward(dX: &dX, dxStride: di, dBC: &dBC, dbcStride: 2 * gn, dDt: &dDt, dDtStride: heads, dDtBias: &dDtBias,
                            dALog: &dALog, dD: &dD, dState: &dState, dStateStride: di * n, dY: t("dy"), x: t("x"), xStride: di,
                            dt: t("dt"), dtStride: heads, dtBias: t("dt_bias"), aLog: t("A_log"), bc: bc, bcStride: 2 * gn,
                            d: t("D"), state: t("state"), stateStride: di * n, batch: b, length: l, heads: heads, headDim: p,
                            groups: groups, stateSize: n, dtMin: dtMin, dtMax: dtMax)
            var (dB, dC): ([Float], [Float]) = ([], [])
            for r in 0..<rows {
                dB += dBC[2 * r * gn ..< (2 * r + 1) * gn]
                dC += dBC[(2 * r + 1) * gn ..< (2 * r + 2) * gn]
            }
            for (mine, key) in [(dX, "x"), (dDt, "dt"), (dDtBias, "dt_bias"), (dALog, "A_log"), (dD, "D"), (dB, "B"), (dC, "C"),
                                (dState, "state")] {
                BackwardKernelTests.assertMatches(mine, t("grad.\(key)"), "\(name) d\(key)")
            }
        }
    }

    static func assertMatches(_ got: [Float], _ want: [Float], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, name, file: file, line: line)
        XCTAssertLessThanOrEqual(relativeError(got, want), 1e-4, name, file: file, line: line)
    }

    /// The outputs of one call of ssdScanBackward (or its reference) on fixed random inputs: dX | dBC, dDt,
    /// dDtBias, dALog, dD, dState.
    private func ssdBackward(_ heads: Int, _ headDim: Int, _ groups: Int, _ n: Int, _ limit: (Float, Float),
                             reference: Bool) -> [[Float]] {
        let (batch, length, di) = (2, 7, heads * headDim)
        let (channels, columns) = (di + 2 * groups * n, di + 2 * groups * n + 2)
        let conv = random(batch * length * columns, seed: 11, scale: 1.5)
        var dt = random(batch * length * heads, seed: 12, scale: 3)
        dt[1] = 22  // softplus's linear branch
        let dtBias = random(heads, seed: 13), aLog = random(heads, seed: 14), d = random(heads, seed: 15)
        let state = random(batch * di * n, seed: 16), dY = random(batch * length * di, seed: 17)
        var dX = [Float](repeating: 0, count: batch * length * channels), dDt = [Float](repeating: 0, count: batch * length * heads)
        var dDtBias = random(heads, seed: 18), dALog = random(heads, seed: 19), dD = random(heads, seed: 20)
        var dState = [Float](repeating: 0, count: batch * di * n)
        dX.withUnsafeMutableBufferPointer { dx in
            if reference {
                ssdScanBackwardReference(dX: dx.baseAddress!, dxStride: channels, dBC: dx.baseAddress! + di, dbcStride: channels,
                                         dDt: &dDt, dDtStride: heads, dDtBias: &dDtBias, dALog: &dALog, dD: &dD, dState: &dState,
                                         dStateStride: di * n, dY: dY, x: conv, xStride: columns, dt: dt, dtStride: heads,
                                         dtBias: dtBias, aLog: aLog, bc: Array(conv[di...]), bcStride: columns, d: d, state: state,
                                         stateStride: di * n, batch: batch, length: length, heads: heads, headDim: headDim,
                                         groups: groups, stateSize: n, dtMin: limit.0, dtMax: limit.1)
            } else {
                // Blocks of 6 channels: a group of the C kernels' 4 and 2 alone; 20 channels in several, the last one partial.
                ssdScanBackward(dX: dx.baseAddress!, dxStride: channels, dBC: dx.baseAddress! + di, dbcStride: channels,
                                dDt: &dDt, dDtStride: heads, dDtBias: &dDtBias, dALog: &dALog, dD: &dD, dState: &dState,
                                dStateStride: di * n, dY: dY, x: conv, xStride: columns, dt: dt, dtStride: heads,
                                dtBias: dtBias, aLog: aLog, bc: Array(conv[di...]), bcStride: columns, d: d, state: state,
                                stateStride: di * n, batch: batch, length: length, heads: heads, headDim: headDim,
                                groups: groups, stateSize: n, dtMin: limit.0, dtMax: limit.1, channelBlock: 6)
            }
        }
        return [dX, dDt, dDtBias, dALog, dD, dState]
    }

    func testConv1dBackward() {
        for (length, kernel) in [(9, 4), (2, 3)] {  // shorter than the kernel too
            let (batch, channels) = (3, 13), stride = 2 * channels, m = batch * length
            let input = random(m * stride, seed: 1), weight = random(channels * kernel, seed: 2)
            let state = random(batch * 5 * channels * kernel, seed: 3)  // one layer of a (B, n_layer = 5, DI, K) cache
            let dOut = random(m * channels, seed: 4)
            var dInput = [Float](repeating: .nan, count: m * stride), dInputRef = dInput
            var dWeight = random(channels * kernel, seed: 5), dWeightRef = dWeight
            var dBias = random(channels, seed: 6), dBiasRef = dBias
            // The initial state's gradient into one layer of a (B, 2 layers, C, K) buffer.
            var dState = [Float](repeating: .nan, count: batch * 2 * channels * kernel), dStateRef = dState
            causalConv1dBackward(dInput: &dInput, dInputStride: stride, dWeight: &dWeight, dBias: &dBias,
                                 dState: &dState, dStateStride: 2 * channels * kernel, dOut: dOut,
                                 input: input, inputStride: stride, weight: weight, state: state,
                                 stateStride: 5 * channels * kernel, batch: batch, length: length,
                                 channels: channels, kernel: kernel)
            causalConv1dBackwardReference(dInput: &dInputRef, dInputStride: stride, dWeight: &dWeightRef,
                                          dBias: &dBiasRef, dState: &dStateRef, dStateStride: 2 * channels * kernel,
                                          dOut: dOut, input: input, inputStride: stride,
                                          weight: weight, state: state, stateStride: 5 * channels * kernel,
                                          batch: batch, length: length, channels: channels, kernel: kernel)
            let layer = { (a: [Float]) in (0..<batch * channels * kernel).map { a[($0 / (channels * kernel)) * 2 * channels * kernel + $0 % (channels * kernel)] } }
            assertClose(layer(dState), layer(dStateRef), "dState L=\(length)")
            XCTAssert(dState.enumerated().allSatisfy { ($0.offset / (channels * kernel)) % 2 == 0 || $0.element.isNaN }, "wrote past the layer")
            let firstHalf = { (a: [Float]) in (0..<m * channels).map { a[($0 / channels) * stride + $0 % channels] } }
            assertClose(firstHalf(dInput), firstHalf(dInputRef), "dInput L=\(length)")
            XCTAssert((0..<m * stride).allSatisfy { $0 % stride < channels || dInput[$0].isNaN }, "wrote past x")
            assertClose(dWeight, dWeightRef, "dWeight L=\(length)")
            assertClose(dBias, dBiasRef, "dBias L=\(length)")
        }
    }

    func testSiLUSoftplusAndGateBackward() {
        let (m, channels) = (7, 19)
        let x = random(m * channels, seed: 1, scale: 6), dOut = random(m * channels, seed: 2)
        var fast = [Float](repeating: 0, count: m * channels), reference = fast
        siluBackward(dInput: &fast, dOut: dOut, input: x, count: m * channels)
        siluBackwardReference(dInput: &reference, dOut: dOut, input: x, count: m * channels)
        assertClose(fast, reference, "silu")
        var softplusInput = random(m * channels, seed: 5, scale: 8)
        softplusInput[3] = 25  // above the threshold
        softplusBackward(dInput: &fast, dOut: dOut, input: softplusInput, count: m * channels)
        softplusBackwardReference(dInput: &reference, dOut: dOut, input: softplusInput, count: m * channels)
        assertClose(fast, reference, "softplus")

        let zStride = 2 * channels, xz = random(m * zStride, seed: 3, scale: 6), y = random(m * channels, seed: 4)
        var dY = fast, dYRef = fast
        var dxz = [Float](repeating: .nan, count: m * zStride), dxzRef = dxz
        xz.withUnsafeBufferPointer { xz in
            let z = xz.baseAddress! + channels
            dxz.withUnsafeMutableBufferPointer {
                gateBackward(dY: &dY, dZ: $0.baseAddress! + channels, dzStride: zStride, dOut: dOut, y: y, z: z,
                             zStride: zStride, rows: m, channels: channels)
            }
            dxzRef.withUnsafeMutableBufferPointer {
                gateBackwardReference(dY: &dYRef, dZ: $0.baseAddress! + channels, dzStride: zStride, dOut: dOut,
                                      y: y, z: z, zStride: zStride, rows: m, channels: channels)
            }
        }
        assertClose(dY, dYRef, "gate dY")
        let zHalf = { (a: [Float]) in (0..<m * channels).map { a[($0 / channels) * zStride + channels + $0 % channels] } }
        assertClose(zHalf(dxz), zHalf(dxzRef), "gate dZ")
    }

    func testLinearBackward() {
        // Both ways of splitting dWeight (more outputs than inputs, and fewer) and dInput (rows, and columns in
        // blocks of 64 when there are more input features than rows: 200, a wider last block), strided input and
        // dOut, on 1 to 3 workers.
        let saved = LetheThreads.count
        defer { LetheThreads.set(saved) }
        for workers in [1, 2, 3] {
            LetheThreads.set(workers)
            for (inFeatures, outFeatures) in [(13, 40), (40, 11), (200, 40)] {
                let rows = 150, inputStride = inFeatures + 3, dOutStride = outFeatures + 2
                let input = random(rows * inputStride, seed: 1), weight = random(outFeatures * inFeatures, seed: 2)
                let dOut = random(rows * dOutStride, seed: 3)
                for accumulate in [false, true] {
                    var dInput = random(rows * inputStride, seed: 4), dInputRef = dInput
                    var dWeight = random(outFeatures * inFeatures, seed: 5), dWeightRef = dWeight
                    linearBackward(dInput: &dInput, dInputStride: inputStride, accumulateInput: accumulate,
                                   dWeight: &dWeight, dOut: dOut, dOutStride: dOutStride, input: input,
                                   inputStride: inputStride, weight: weight, rows: rows, inFeatures: inFeatures,
                                   outFeatures: outFeatures)
                    linearBackwardReference(dInput: &dInputRef, dInputStride: inputStride, accumulateInput: accumulate,
                                            dWeight: &dWeightRef, dOut: dOut, dOutStride: dOutStride, input: input,
                                            inputStride: inputStride, weight: weight, rows: rows,
                                            inFeatures: inFeatures, outFeatures: outFeatures)
                    assertClose(dInput, dInputRef, "dInput \(inFeatures)->\(outFeatures) accumulate \(accumulate), \(workers) workers")
                    assertClose(dWeight, dWeightRef, "dWeight \(inFeatures)->\(outFeatures), \(workers) workers")
                }
            }
        }
    }

    func testCrossEntropy() {
        let (rows, vocab) = (6, 203)
        var logits = random(rows * vocab, seed: 1, scale: 8)
        logits[2 * vocab + 5] = 60  // a confident row: exp would overflow without the max shift
        var reference = logits
        let targets: [Int32] = [3, -1, 5, 202, 0, -1]
        var losses = [Float](repeating: .nan, count: rows), lossesRef = losses
        crossEntropyForwardBackward(logits: &logits, losses: &losses, targets: targets, rows: rows, vocab: vocab,
                                    scale: 0.25)
        crossEntropyForwardBackwardReference(logits: &reference, losses: &lossesRef, targets: targets, rows: rows,
                                             vocab: vocab, scale: 0.25)
        assertClose(losses, lossesRef, "losses")
        assertClose(logits, reference, "dLogits")
        XCTAssertEqual(losses[1], 0)
        XCTAssert(logits[vocab ..< 2 * vocab].allSatisfy { $0 == 0 }, "a row without target has no gradient")
    }

    /// The blocked lm_head + cross-entropy against the plain reference kernels composed (Double linear forward,
    /// cross-entropy, linear backward) with blocks that do not divide the vocabulary, rows taken in several blocks,
    /// rows without a target, one and two threads, every vector path the CPU runs, and dHidden and dWeight asked for
    /// together or alone.
    func testBlockedLMHeadCrossEntropyMatchesTheReferenceKernels() {
        let (rows, h, vocab, scale): (Int, Int, Int, Float) = (23, 19, 1_037, 1 / 19)
        let hidden = random(rows * h, seed: 11, scale: 2), weight = random(vocab * h, seed: 12, scale: 1)
        let targets: [Int32] = (0..<rows).map { $0 % 6 == 5 ? -1 : Int32(($0 * 389) % vocab) }
        var logits = [Float](repeating: 0, count: rows * vocab), lossesRef = [Float](repeating: 0, count: rows)
        linearForwardReference(out: &logits, outStride: vocab, input: hidden, inputStride: h, weight: weight,
                               rows: rows, inFeatures: h, outFeatures: vocab)
        crossEntropyForwardBackwardReference(logits: &logits, losses: &lossesRef, targets: targets, rows: rows,
                                             vocab: vocab, scale: scale)
        var dHiddenRef = [Float](repeating: 0, count: rows * h), dWeightRef = random(vocab * h, seed: 13)
        let dWeightStart = dWeightRef
        linearBackwardReference(dInput: &dHiddenRef, dInputStride: h, dWeight: &dWeightRef, dOut: logits,
                                dOutStride: vocab, input: hidden, inputStride: h, weight: weight, rows: rows,
                                inFeatures: h, outFeatures: vocab)
        let (savedThreads, savedPath) = (LetheThreads.count, vectorPath)
        defer { LetheThreads.set(savedThreads); vectorPath = savedPath }
        for path in VectorPath.allCases where path.isAvailable {
            vectorPath = path
            for threads in [1, 2] {
                LetheThreads.set(threads)
                for (vocabBlock, rowBlock) in [(64, 1024), (100, 7), (4_096, 23)] {
                    let label = "\(path) kernels, threads \(threads), blocks \(vocabBlock) x \(rowBlock)"
                    var losses = [Float](repeating: .nan, count: rows), dHidden = [Float](repeating: .nan, count: rows * h)
                    var dWeight = dWeightStart
                    blockedLMHeadCrossEntropy(hidden: hidden, weight: weight, targets: targets, losses: &losses,
                                              dHidden: &dHidden, dWeight: &dWeight, rows: rows, hiddenSize: h, vocab: vocab,
                                              scale: scale, vocabBlock: vocabBlock, rowBlock: rowBlock)
                    assertClose(losses, lossesRef, "losses, " + label)
                    assertClose(dHidden, dHiddenRef, "dHidden, " + label)
                    assertClose(dWeight, dWeightRef, "dWeight, " + label)
                    XCTAssertEqual(losses[5], 0, "a row without a target has no loss")
                    XCTAssert(dHidden[5 * h ..< 6 * h].allSatisfy { $0 == 0 }, "nor a gradient")

                    var lossesOnly = [Float](repeating: .nan, count: rows), dWeightOnly = dWeightStart
                    blockedLMHeadCrossEntropy(hidden: hidden, weight: weight, targets: targets, losses: &lossesOnly,
                                              dHidden: nil, dWeight: nil, rows: rows, hiddenSize: h, vocab: vocab,
                                              scale: scale, vocabBlock: vocabBlock, rowBlock: rowBlock)
                    XCTAssertEqual(lossesOnly, losses, "the loss alone is the same, " + label)
                    blockedLMHeadCrossEntropy(hidden: hidden, weight: weight, targets: targets, losses: &lossesOnly,
                                              dHidden: nil, dWeight: &dWeightOnly, rows: rows, hiddenSize: h, vocab: vocab,
                                              scale: scale, vocabBlock: vocabBlock, rowBlock: rowBlock)
                    XCTAssertEqual(dWeightOnly, dWeight, "dWeight alone is the same, " + label)

                    // Logits kept for the backward instead of recomputed: all of them (each block in its slot), some
                    // (each part its first blocks), or room for less than one block of the full row blocks (none
                    // kept there); the same bits as recomputing them.
                    let all = blockedLMHeadKeptLogitsFloats(rows: rows, vocab: vocab, vocabBlock: vocabBlock, rowBlock: rowBlock)
                    for room in [all, all / 3, min(rows, rowBlock) * vocabBlock - 1] {
                        var keptLosses = [Float](repeating: .nan, count: rows), keptDHidden = [Float](repeating: .nan, count: rows * h)
                        var keptDWeight = dWeightStart, kept = [Float](repeating: .nan, count: room)
                        kept.withUnsafeMutableBufferPointer { kept in
                            blockedLMHeadCrossEntropy(hidden: hidden, weight: weight, targets: targets, losses: &keptLosses,
                                                      dHidden: &keptDHidden, dWeight: &keptDWeight, rows: rows, hiddenSize: h,
                                                      vocab: vocab, scale: scale, keptLogits: kept, vocabBlock: vocabBlock,
                                                      rowBlock: rowBlock)
                        }
                        let keptLabel = "room for \(room) of \(all) logits kept, " + label
                        XCTAssertEqual(keptLosses, losses, "losses, " + keptLabel)
                        XCTAssertEqual(keptDHidden, dHidden, "dHidden, " + keptLabel)
                        XCTAssertEqual(keptDWeight, dWeight, "dWeight, " + keptLabel)
                        if room == all {
                            // The last row block's logits are what the room holds last: its last block's slot is written.
                            let lastRows = rows - (rows - 1) / rowBlock * rowBlock, blockCount = (vocab + vocabBlock - 1) / vocabBlock
                            XCTAssertFalse(kept[(blockCount - 1) * lastRows * vocabBlock].isNaN, "every block kept, " + keptLabel)
                        }
                    }
                }
            }
        }
    }

    /// The blocked argmax against the argmax of the reference logits (rows whose two best logits are within 1e-4
    /// of each other, where float32 rounding may decide, are counted and must be few); ties and NaNs as
    /// torch.argmax: all-equal logits give id 0, and the first NaN wins whichever block or thread it is in.
    func testBlockedLMHeadArgmax() {
        let (rows, h, vocab) = (37, 16, 2_051)
        let hidden = random(rows * h, seed: 21, scale: 2)
        var weight = random(vocab * h, seed: 22)
        var logits = [Float](repeating: 0, count: rows * vocab)
        linearForwardReference(out: &logits, outStride: vocab, input: hidden, inputStride: h, weight: weight,
                               rows: rows, inFeatures: h, outFeatures: vocab)
        let saved = LetheThreads.count
        defer { LetheThreads.set(saved) }
        for threads in [1, 2] {
            LetheThreads.set(threads)
            for vocabBlock in [8, 300, 4_096] {
                var choices = [Int32](repeating: -1, count: rows), close = 0
                blockedLMHeadArgmax(hidden: hidden, weight: weight, rows: rows, hiddenSize: h, vocab: vocab,
                                    into: &choices, vocabBlock: vocabBlock)
                for r in 0..<rows {
                    let row = Array(logits[r * vocab ..< (r + 1) * vocab]), sorted = row.sorted(by: >)
                    if sorted[0] - sorted[1] < 1e-4 { close += 1; continue }
                    XCTAssertEqual(Int(choices[r]), row.firstIndex(of: sorted[0]), "row \(r), block \(vocabBlock)")
                }
                XCTAssertLessThan(close, 3)
            }
        }
        let zeros = [Float](repeating: 0, count: 3 * h)
        for i in 0..<h { weight[1_500 * h + i] = .nan; weight[700 * h + i] = .nan }
        for threads in [1, 2] {
            LetheThreads.set(threads)
            var ties = [Int32](repeating: -1, count: 3)
            blockedLMHeadArgmax(hidden: zeros, weight: random(vocab * h, seed: 23), rows: 3, hiddenSize: h,
                                vocab: vocab, into: &ties, vocabBlock: 300)
            XCTAssertEqual(ties, [0, 0, 0], "equal logits: the lowest id")
            var nans = [Int32](repeating: -1, count: rows)
            blockedLMHeadArgmax(hidden: hidden, weight: weight, rows: rows, hiddenSize: h, vocab: vocab,
                                into: &nans, vocabBlock: 300)
            XCTAssertEqual(Set(nans), [700], "the first NaN")
        }
    }
}
