// The statistics of the report, each matching the SciPy (1.17) function named beside it. Degenerate inputs
// give what SciPy gives (nan); the report prints nan as an empty cell and says why in its text.

import Foundation
import LetheShards

// MARK: - Special functions

/// Stirling's correction: lgamma(x) - ((x - 0.5) log x - x + log sqrt(2π)), for x >= 10 (R's lgammacor).
func stirlingCorrection(_ x: Double) -> Double {
    // Bernoulli terms B_2k / (2k (2k-1) x^(2k-1)); at x = 10 the last is below 1e-17 of the first.
    let coefficients: [Double] = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400]
    let inverseSquare = 1 / (x * x)
    var sum = 0.0
    for c in coefficients.reversed() { sum = sum * inverseSquare + c }
    return sum / x
}

private let logSqrtTwoPi = 0.918938533204672741780329736406 // log(sqrt(2π))

/// log B(a, b), accurate when a or b is large (the form of R's lbeta).
func logBeta(_ a: Double, _ b: Double) -> Double {
    let p = min(a, b), q = max(a, b)
    if p >= 10 {
        let correction = stirlingCorrection(p) + stirlingCorrection(q) - stirlingCorrection(p + q)
        return -0.5 * log(q) + logSqrtTwoPi + correction + (p - 0.5) * log(p / (p + q)) + q * log1p(-p / (p + q))
    }
    if q >= 10 {
        let correction = stirlingCorrection(q) - stirlingCorrection(p + q)
        return lgamma(p) + correction + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q))
    }
    return lgamma(p) + lgamma(q) - lgamma(p + q)
}

/// log(x^a y^b / B(a, b)) with y = 1 - x given separately (it is often known more exactly than 1 - x).
/// For large a and b the powers are taken relative to the mode so nothing large cancels.
private func logBetaPowerTerms(_ a: Double, _ b: Double, _ x: Double, _ y: Double) -> Double {
    if a >= 10 && b >= 10 {
        let correction = stirlingCorrection(a) + stirlingCorrection(b) - stirlingCorrection(a + b)
        // log(x (a+b) / a) and log(y (a+b) / b): through log1p of the offset from the mode when near it,
        // where that offset (x b - y a) has no cancellation; directly when far from it.
        let shift = x * b - y * a
        let termA = abs(shift) < 0.5 * a ? a * log1p(shift / a) : a * (log(x) + log1p(b / a))
        let termB = abs(shift) < 0.5 * b ? b * log1p(-shift / b) : b * (log(y) + log1p(a / b))
        return termA + termB + 0.5 * log(a * b / (a + b)) - logSqrtTwoPi - correction
    }
    return a * log(x) + b * log(y) - logBeta(a, b)
}

/// Continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified Lentz); converges fast for
/// x < (a + 1) / (a + b + 2).
private func betaContinuedFraction(_ a: Double, _ b: Double, _ x: Double) -> Double {
    let tiny = 1e-300, epsilon = 1e-16
    let qab = a + b, qap = a + 1, qam = a - 1
    var c = 1.0
    var d = 1 - qab * x / qap
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...100_000 {
        let m = Double(m), m2 = 2 * m
        var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d; if abs(d) < tiny { d = tiny }
        c = 1 + aa / c; if abs(c) < tiny { c = tiny }
        d = 1 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d; if abs(d) < tiny { d = tiny }
        c = 1 + aa / c; if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        h *= delta
        if abs(delta - 1) < epsilon { break }
    }
    return h
}

/// The regularized incomplete beta function I_x(a, b) (scipy.special.betainc), with y = 1 - x.
func regularizedIncompleteBeta(_ a: Double, _ b: Double, x: Double, y: Double) -> Double {
    guard a > 0, b > 0, x >= 0, y >= 0, !a.isNaN, !b.isNaN else { return .nan }
    if x == 0 { return 0 }
    if y == 0 { return 1 }
    if x > (a + 1) / (a + b + 2) {
        return 1 - regularizedIncompleteBeta(b, a, x: y, y: x)
    }
    return exp(logBetaPowerTerms(a, b, x, y)) * betaContinuedFraction(a, b, x) / a
}

public func regularizedIncompleteBeta(_ a: Double, _ b: Double, _ x: Double) -> Double {
    regularizedIncompleteBeta(a, b, x: x, y: 1 - x)
}

/// P(T <= t) for Student's t with `df` degrees of freedom (scipy.special.stdtr).
public func studentTCDF(_ t: Double, degreesOfFreedom df: Double) -> Double {
    if t.isNaN || df.isNaN || df <= 0 { return .nan }
    if t.isInfinite { return t > 0 ? 1 : 0 }
    let tail = 0.5 * studentTTwoSidedTail(abs(t), df)
    return t < 0 ? tail : 1 - tail
}

/// P(|T| >= t) for t >= 0: I_{df/(df+t²)}(df/2, 1/2), with x and 1 - x both formed without cancellation.
private func studentTTwoSidedTail(_ t: Double, _ df: Double) -> Double {
    if t.isInfinite { return 0 }
    let t2 = t * t
    let x = df / (df + t2), y = t2 / (df + t2)
    return regularizedIncompleteBeta(df / 2, 0.5, x: x, y: y)
}

/// The standard normal quantile (scipy.special.ndtri), Wichura's AS 241 (PPND16, relative error ~1e-16).
public func normalQuantile(_ p: Double) -> Double {
    if p.isNaN || p < 0 || p > 1 { return .nan }
    if p == 0 { return -.infinity }
    if p == 1 { return .infinity }
    let q = p - 0.5
    if abs(q) <= 0.425 {
        let r = 0.180625 - q * q
        let num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
            + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
            + 133.14166789178437745) * r + 3.387132872796366608)
        let den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
            + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
            + 42.313330701600911252) * r + 1)
        return q * num / den
    }
    var r = q < 0 ? p : 1 - p
    r = (-log(r)).squareRoot()
    var value: Double
    if r <= 5 {
        r -= 1.6
        value = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
            + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r
            + 4.6303378461565452959) * r + 1.42343711074968357734)
            / (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
            + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r
            + 2.05319162663775882187) * r + 1)
    } else {
        r -= 5
        value = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
            + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r
            + 5.4637849111641143699) * r + 6.6579046435011037772)
            / (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
            + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
            + 0.59983220655588793769) * r + 1)
    }
    return q < 0 ? -value : value
}

// MARK: - Tests and intervals

/// Mean, and variance with ddof = 1, as scipy computes them: the mean of squared deviations times n/(n-1).
func meanAndVariance(_ values: [Double]) -> (mean: Double, variance: Double) {
    let n = Double(values.count)
    let mean = values.reduce(0, +) / n
    let moment2 = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
    return (mean, moment2 * (n / (n - 1)))
}

public struct TTestResult: Equatable, Sendable {
    public var statistic: Double
    public var pValue: Double
    public var degreesOfFreedom: Double
}

/// Two-sample Student's t-test with pooled variance, two-sided (scipy.stats.ttest_ind(a, b, equal_var=True)).
/// Empty samples, one observation in each, or two constant equal samples give nan; two constant different
/// samples give t = ±inf and p = 0, as in SciPy.
public func twoSampleTTest(_ a: [Double], _ b: [Double]) -> TTestResult {
    let n1 = Double(a.count), n2 = Double(b.count)
    let df = n1 + n2 - 2
    guard !a.isEmpty, !b.isEmpty else { return TTestResult(statistic: .nan, pValue: .nan, degreesOfFreedom: df) }
    let (m1, variance1) = meanAndVariance(a)
    let (m2, variance2) = meanAndVariance(b)
    // One observation: its (n - 1) cancels, so it adds nothing to the pooled variance (SciPy does the same).
    let v1 = a.count == 1 ? 0 : variance1, v2 = b.count == 1 ? 0 : variance2
    let pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
    let denominator = (pooled * (1 / n1 + 1 / n2)).squareRoot()
    let t = (m1 - m2) / denominator
    let p = t.isNaN || df.isNaN || df <= 0 ? Double.nan : studentTTwoSidedTail(abs(t), df)
    return TTestResult(statistic: t, pValue: p, degreesOfFreedom: df)
}

/// Paired Student's t-test, two-sided (scipy.stats.ttest_rel(a, b)): the one-sample test of a - b against 0,
/// n - 1 degrees of freedom. Fewer than two pairs give nan.
public func pairedTTest(_ a: [Double], _ b: [Double]) -> TTestResult {
    precondition(a.count == b.count, "paired samples have the same length")
    let df = Double(a.count - 1)
    guard a.count >= 2 else { return TTestResult(statistic: .nan, pValue: .nan, degreesOfFreedom: df) }
    let (mean, variance) = meanAndVariance(zip(a, b).map { $0 - $1 })
    let t = mean / (variance / Double(a.count)).squareRoot()
    return TTestResult(statistic: t, pValue: t.isNaN ? .nan : studentTTwoSidedTail(abs(t), df), degreesOfFreedom: df)
}

public struct WilcoxonResult: Equatable, Sendable {
    /// The smaller of the signed-rank sums of the positive and the negative differences.
    public var statistic: Double
    public var pValue: Double
    /// Pairs with a non-zero difference: the ones ranked.
    public var nonZeroPairs: Int
}

/// Wilcoxon's signed-rank test, two-sided, by its normal approximation (scipy.stats.wilcoxon(a, b,
/// zero_method="wilcox", method="asymptotic"), no continuity correction): zero differences are dropped, the rest
/// ranked by absolute value (ties averaged); the statistic is the smaller rank sum, its variance n(n+1)(2n+1)/24
/// less (t³ - t)/48 for each group of t tied ranks. No non-zero difference gives W = 0 and p nan, as SciPy does.
public func wilcoxonSignedRank(_ a: [Double], _ b: [Double]) -> WilcoxonResult {
    precondition(a.count == b.count, "paired samples have the same length")
    let differences = zip(a, b).map { $0 - $1 }.filter { $0 != 0 }
    let n = Double(differences.count)
    guard !differences.isEmpty else { return WilcoxonResult(statistic: 0, pValue: .nan, nonZeroPairs: 0) }
    let ranks = averageRanks(differences.map(abs))
    let positive = zip(differences, ranks).reduce(0) { $0 + ($1.0 > 0 ? $1.1 : 0) }
    let negative = zip(differences, ranks).reduce(0) { $0 + ($1.0 < 0 ? $1.1 : 0) }
    let statistic = min(positive, negative)
    var variance = n * (n + 1) * (2 * n + 1) / 24
    for tied in Dictionary(grouping: differences.map(abs), by: { $0 }).values where tied.count > 1 {
        let t = Double(tied.count)
        variance -= (t * t * t - t) / 48
    }
    let z = (statistic - n * (n + 1) / 4) / variance.squareRoot()
    return WilcoxonResult(statistic: statistic, pValue: z.isNaN ? .nan : erfc(abs(z) / 2.0.squareRoot()), nonZeroPairs: differences.count)
}

/// Bonferroni adjustment (statsmodels multipletests(method='bonferroni')): p * m capped at 1; nan stays nan.
public func bonferroni(_ pValues: [Double]) -> [Double] {
    let m = Double(pValues.count)
    return pValues.map { $0.isNaN ? .nan : min($0 * m, 1) }
}

/// Ranks from 1, ties given their average rank (scipy.stats.rankdata(method='average')).
/// Values must not be nan.
public func averageRanks(_ values: [Double]) -> [Double] {
    var order = values.enumerated().map { (value: $0.element, index: $0.offset) }
    order.sort { $0.value < $1.value }
    var ranks = [Double](repeating: 0, count: values.count)
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && order[j + 1].value == order[i].value { j += 1 }
        let rank = Double(i + j + 2) / 2
        for k in i...j { ranks[order[k].index] = rank }
        i = j + 1
    }
    return ranks
}

/// Pearson's r in numpy.corrcoef's order of operations (covariances scaled by 1/(n-1), then divided by
/// each standard deviation in turn), clipped to [-1, 1].
func pearson(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for i in x.indices {
        let dx = x[i] - mx, dy = y[i] - my
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy
    }
    let scale = 1 / (n - 1)
    let r = sxy * scale / (sxx * scale).squareRoot() / (syy * scale).squareRoot()
    return r.isNaN ? r : min(max(r, -1), 1)
}

public struct CorrelationResult: Equatable, Sendable {
    public var rho: Double
    public var pValue: Double
}

/// Spearman's rank correlation with its two-sided p-value from the t distribution with n - 2 degrees of
/// freedom (scipy.stats.spearmanr). A constant input, a nan, or fewer than 2 points gives nan.
public func spearman(_ x: [Double], _ y: [Double]) -> CorrelationResult {
    precondition(x.count == y.count, "spearman: x and y differ in length")
    guard x.count >= 2, !x.contains(where: \.isNaN), !y.contains(where: \.isNaN) else {
        return CorrelationResult(rho: .nan, pValue: .nan)
    }
    let rho = pearson(averageRanks(x), averageRanks(y))
    let df = Double(x.count - 2)
    guard !rho.isNaN, df > 0 else { return CorrelationResult(rho: rho, pValue: .nan) }
    let t = rho * max(df / ((rho + 1) * (1 - rho)), 0).squareRoot()
    return CorrelationResult(rho: rho, pValue: studentTTwoSidedTail(abs(t), df))
}

/// The Wilson score interval for k successes in n trials (scipy.stats.binomtest(k, n).proportion_ci(
/// confidence_level, method='wilson')). n = 0 gives nan.
public func wilsonInterval(successes k: Int, trials n: Int, confidence: Double = 0.95) -> (low: Double, high: Double) {
    guard n > 0 else { return (.nan, .nan) }
    let nn = Double(n), p = Double(k) / nn, q = 1 - p
    let z = normalQuantile(0.5 + 0.5 * confidence)
    let denominator = 2 * (nn + z * z)
    let center = (2 * nn * p + z * z) / denominator
    let delta = z / denominator * (4 * nn * p * q + z * z).squareRoot()
    return (k == 0 ? 0 : center - delta, k == n ? 1 : center + delta)
}

/// The q-th percentile (0...100) of `values` with numpy.percentile's default 'linear' rule, including its
/// interpolation form (b - (b - a)(1 - t) when t >= 0.5).
public func percentile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return percentile(sorted: sorted, q)
}

func percentile(sorted: [Double], _ q: Double) -> Double {
    let virtualIndex = Double(sorted.count - 1) * (q / 100)
    let below = min(max(Int(virtualIndex.rounded(.down)), 0), sorted.count - 1)
    let above = min(below + 1, sorted.count - 1)
    let t = virtualIndex - Double(below)
    let a = sorted[below], b = sorted[above], difference = b - a
    return t >= 0.5 ? b - difference * (1 - t) : a + difference * t
}

// MARK: - Bootstrap

extension SplitMix64 {
    /// A uniform index in 0..<n by rejection (no modulo bias).
    mutating func index(below n: Int) -> Int {
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let r = next()
            if r < limit { return Int(r % bound) }
        }
    }
}

public struct BootstrapInterval: Equatable, Sendable {
    public var mean: Double
    public var low: Double
    public var high: Double
}

/// The means of `resamples` resamples with replacement, each of values.count draws.
public func bootstrapMeans(_ values: [Double], resamples: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<resamples).map { _ in
        var sum = 0.0
        for _ in values.indices { sum += values[rng.index(below: values.count)] }
        return sum / Double(values.count)
    }
}

/// The mean of `values` with a percentile bootstrap interval: the (1-confidence)/2 and (1+confidence)/2
/// percentiles (numpy 'linear') of the resampled means. Empty input gives nan; one value gives [v, v].
public func bootstrapMeanInterval(_ values: [Double], confidence: Double = 0.95, resamples: Int = 1000,
                                  seed: UInt64 = 0x4C65_7468_65) -> BootstrapInterval {
    guard !values.isEmpty else { return BootstrapInterval(mean: .nan, low: .nan, high: .nan) }
    let mean = values.reduce(0, +) / Double(values.count)
    let means = bootstrapMeans(values, resamples: resamples, seed: seed).sorted()
    let tail = (1 - confidence) / 2 * 100
    return BootstrapInterval(mean: mean, low: percentile(sorted: means, tail), high: percentile(sorted: means, 100 - tail))
}
