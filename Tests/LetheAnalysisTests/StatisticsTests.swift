import XCTest
@testable import LetheAnalysis
import LetheShards

/// Oracle: SciPy 1.17 / NumPy 2.4 (stats.json). Tolerances are relative to the SciPy value.
final class StatisticsTests: XCTestCase {
    var stats: [String: Any]!
    override func setUpWithError() throws { stats = try Fixture.json("stats.json") }

    /// scipy.special.betainc on a grid of a, b in [1e-3, 1e5] and x in [0, 1]: 1e-10 relative.
    func testIncompleteBeta() {
        for row in stats["betainc"] as! [[Any]] {
            let a = Fixture.double(row[0]), b = Fixture.double(row[1]), x = Fixture.double(row[2])
            let expected = Fixture.double(row[3])
            assertClose(regularizedIncompleteBeta(a, b, x), expected, relative: 1e-10, "I_\(x)(\(a), \(b))")
        }
    }

    /// scipy.special.stdtr and the two-sided tail 2 stdtr(df, -|t|): 1e-10 relative.
    func testStudentT() {
        for row in stats["stdtr"] as! [[Any]] {
            let df = Fixture.double(row[0]), t = Fixture.double(row[1])
            assertClose(studentTCDF(t, degreesOfFreedom: df), Fixture.double(row[2]), relative: 1e-10, "stdtr(\(df), \(t))")
            assertClose(2 * studentTCDF(-abs(t), degreesOfFreedom: df), Fixture.double(row[3]), relative: 1e-10, "tail(\(df), \(t))")
        }
    }

    /// scipy.stats.ttest_ind(equal_var=True), including degenerate samples (nan where SciPy gives nan).
    /// 1e-10 relative for t and p, except the 'tiny variance' case, where SciPy itself warns of catastrophic
    /// cancellation and the last digits of the variance depend on summation order: 1e-8 there (we measure 1.4e-10).
    func testTTest() {
        for c in stats["ttest_ind"] as! [[String: Any]] {
            let r = twoSampleTTest(c["a"] as! [Double], c["b"] as! [Double])
            let label = c["label"] as! String
            let tolerance = label == "tiny variance" ? 1e-8 : 1e-10
            assertClose(r.statistic, Fixture.double(c["t"]), relative: tolerance, label)
            assertClose(r.pValue, Fixture.double(c["p"]), relative: tolerance, label)
        }
    }

    /// scipy.stats.ttest_rel and scipy.stats.wilcoxon(zero_method="wilcox", method="asymptotic", correction=False)
    /// on paired samples with ties and zero differences, continuous ones and degenerate ones: 1e-10 relative.
    func testPairedTests() {
        let cases = stats["paired"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            let a = c["a"] as! [Double], b = c["b"] as! [Double], label = c["label"] as! String
            let t = pairedTTest(a, b), w = wilcoxonSignedRank(a, b)
            assertClose(t.statistic, Fixture.double(c["t"]), relative: 1e-10, "\(label): t")
            assertClose(t.pValue, Fixture.double(c["p_t"]), relative: 1e-10, "\(label): p of t")
            assertClose(w.statistic, Fixture.double(c["w"]), relative: 1e-12, "\(label): W")
            assertClose(w.pValue, Fixture.double(c["p_w"]), relative: 1e-10, "\(label): p of W")
            XCTAssertEqual(w.nonZeroPairs, c["nonzero"] as? Int, label)
        }
    }

    func testSpearman() {
        for c in stats["spearmanr"] as! [[String: Any]] {
            let r = spearman(c["x"] as! [Double], c["y"] as! [Double])
            let label = c["label"] as! String
            assertClose(r.rho, Fixture.double(c["rho"]), relative: 1e-12, label)
            assertClose(r.pValue, Fixture.double(c["p"]), relative: 1e-10, label)
        }
    }

    func testWilsonAndNormalQuantile() {
        for row in stats["wilson"] as! [[Any]] {
            let k = Int(Fixture.double(row[0])), n = Int(Fixture.double(row[1]))
            let ci = wilsonInterval(successes: k, trials: n)
            assertClose(ci.low, Fixture.double(row[2]), relative: 1e-13, absoluteFloor: 1e-15, "\(k)/\(n)")
            assertClose(ci.high, Fixture.double(row[3]), relative: 1e-13, absoluteFloor: 1e-15, "\(k)/\(n)")
        }
        for row in stats["norm_ppf"] as! [[Double]] {
            assertClose(normalQuantile(row[0]), row[1], relative: 1e-14, "ppf(\(row[0]))")
        }
    }

    func testBonferroni() {
        XCTAssertEqual(bonferroni([0.01, 0.2, 0.5]), [0.03, 0.6000000000000001, 1])
        XCTAssertTrue(bonferroni([.nan, 0.01])[0].isNaN)
        XCTAssertEqual(bonferroni([]), [])
    }

    func testAverageRanks() {
        XCTAssertEqual(averageRanks([3, 1, 4, 1, 5]), [3, 1.5, 4, 1.5, 5])
        XCTAssertEqual(averageRanks([2, 2, 2]), [2, 2, 2])
        XCTAssertTrue(spearman([1, .nan, 3], [1, 2, 3]).rho.isNaN)
    }

    /// numpy.percentile(method='linear') on given values: 1e-14 relative.
    func testPercentileRule() {
        for c in stats["percentile"] as! [[String: Any]] {
            let values = c["values"] as! [Double]
            for (q, expected) in zip(c["q"] as! [Double], c["expected"] as! [Double]) {
                assertClose(percentile(values, q), expected, relative: 1e-14, absoluteFloor: 1e-15, "q=\(q) n=\(values.count)")
            }
        }
    }

    func testBootstrapIsDeterministicAndCovers() {
        let values = (0..<200).map { Double($0 % 7 == 0 ? 1 : 0) }
        let a = bootstrapMeanInterval(values, seed: 1), b = bootstrapMeanInterval(values, seed: 1)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, bootstrapMeanInterval(values, seed: 2))
        XCTAssertLessThan(a.low, a.mean)
        XCTAssertGreaterThan(a.high, a.mean)
        // Coverage on a known case: Bernoulli(0.3) samples of 100; the 95% interval should contain 0.3 in
        // about 95% of 300 experiments (binomial sd ~1.3%; accept 88%...99%).
        var rng = SplitMix64(seed: 9)
        var covered = 0
        for experiment in 0..<300 {
            let sample = (0..<100).map { _ in Double(rng.next() % 10 < 3 ? 1 : 0) }
            let ci = bootstrapMeanInterval(sample, resamples: 400, seed: UInt64(experiment))
            if ci.low <= 0.3 && 0.3 <= ci.high { covered += 1 }
        }
        XCTAssertGreaterThanOrEqual(covered, 264)
        XCTAssertLessThanOrEqual(covered, 297)
        // Width against the normal approximation 2 * 1.96 * sd / sqrt(n) for the first sample.
        let p = values.reduce(0, +) / 200
        let expectedWidth = 2 * 1.959964 * (p * (1 - p) / 200).squareRoot()
        XCTAssertEqual(a.high - a.low, expectedWidth, accuracy: 0.2 * expectedWidth)
        XCTAssertTrue(bootstrapMeanInterval([]).mean.isNaN)
        XCTAssertEqual(bootstrapMeanInterval([0.25]), BootstrapInterval(mean: 0.25, low: 0.25, high: 0.25))
    }
}
