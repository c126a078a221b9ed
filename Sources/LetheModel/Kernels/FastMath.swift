// Vectorised elementary functions for the kernels: 8 float lanes at a time (SIMD8<Float>), written with
// plain arithmetic and bit operations so that they compile to vector instructions on any x86-64 or arm64.

typealias Float8 = SIMD8<Float>

/// e^x for 8 lanes (Cephes expf): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n put in
/// the exponent bits. Maximum relative error on [-87.3, 88]: 7.9e-8 measured, 1.2e-7 asserted by FastMathTests.
/// Inputs are clamped to [-87.3, 88]: below, the result is ~1.2e-38 instead of a smaller number (an
/// absolute error under 1.2e-38); above, 1.65e38 instead of a larger one or infinity.
@inline(__always)
func fastExp(_ input: Float8) -> Float8 {
    // (`replacing(with:where:)` compiles to min/max instructions; SIMD's `clamped` and `pointwiseMin` do
    // not inline and cost a call per use.)
    var x = input.replacing(with: -87.3, where: input .< -87.3)
    x = x.replacing(with: 88, where: x .> 88)
    // n = round(x / ln2): adding 1.5·2^23 rounds to an integer held in the low mantissa bits.
    let shifter: Float = 12_582_912
    let shifted = x * 1.442_695_04 + shifter
    let n = shifted - shifter
    // r = x - n·ln2 with ln2 split in a part exact in float (0.693359375) and the rest.
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = Float8(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let er = p * (r * r) + r + 1
    // 2^n: the integer n sits in the low bits of `shifted`; move it (biased by 127) into the exponent field.
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: shifter.bitPattern)
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Float8.self)
    return er * scale
}

/// 2^t for 8 lanes with t ≤ 0, the scan's hot spot (exp(Δ·A) = 2^(Δ·A·log2 e) with A·log2 e computed once):
/// t = n + r with n = round(t), |r| ≤ 1/2 exact, 2^r by a degree-5 polynomial fitted for minimal relative
/// error (fit: 9.1e-8), 2^n put in the exponent bits. Maximum relative error on [-126, 0]: 1.9e-7 measured,
/// 2.5e-7 asserted by FastMathTests. t < -126 gives 0 (an absolute error under 1.2e-38).
@inline(__always)
func fastExp2NonPositive(_ input: Float8) -> Float8 {
    let t = input.replacing(with: -127, where: input .< -127)
    let shifter: Float = 12_582_912  // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
    let shifted = t + shifter
    let r = t - (shifted - shifter)
    var p = Float8(repeating: 1.326_47e-3)
    p = p * r + 9.671_51e-3
    p = p * r + 5.550_734e-2
    p = p * r + 2.402_224_2e-1
    p = p * r + 6.931_469_8e-1
    p = p * r + 1
    // (n + 127) << 23 is 2^n's bit pattern; n = -127 gives 0.
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- (Int32(bitPattern: shifter.bitPattern) - 127)) &<< 23
    return p * unsafeBitCast(bits, to: Float8.self)
}

/// log(1 + y) for 8 lanes with y in [0, 1] (Cephes logf around w = 1 + y, plus the term that restores what
/// rounding 1 + y lost, so small y keep full relative accuracy). Maximum relative error on [0, 1]: 1.2e-7
/// measured, 2e-7 asserted by FastMathTests.
@inline(__always)
func fastLog1p(_ y: Float8) -> Float8 {
    let w = 1 + y
    let lost = (y - (w - 1)) / w  // log(1 + y) = log(w) + log(1 + lost/w·w) ≈ log(w) + lost/w
    // w = 2^e · (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)]: e = 1 when w > sqrt(2), else 0.
    let high = w .> 1.414_213_56
    let e = Float8(repeating: 0).replacing(with: 1, where: high)
    let f = (w - 1).replacing(with: w * 0.5 - 1, where: high)
    let z = f * f
    var p = Float8(repeating: 7.037_683_6e-2)
    p = p * f - 1.151_461_03e-1
    p = p * f + 1.167_699_87e-1
    p = p * f - 1.242_014_08e-1
    p = p * f + 1.424_932_28e-1
    p = p * f - 1.666_805_77e-1
    p = p * f + 2.000_071_48e-1
    p = p * f - 2.499_999_4e-1
    p = p * f + 3.333_333_12e-1
    var result = p * f * z
    result += e * -2.121_944_4e-4
    result += z * -0.5
    result += f
    result += e * 0.693_359_375
    return result + lost
}

/// Loads `lanes` (1...8) floats starting at `p`; missing lanes are 0.
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> Float8 {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: Float8.self) }
    var v = Float8()
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

/// Stores the first `lanes` (1...8) lanes of `v` at `p`.
@inline(__always)
func storeLanes(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float8.self); return }
    for i in 0..<lanes { p[i] = v[i] }
}

/// Loads lanes p[0], p[stride], ..., p[(lanes-1)·stride]; missing lanes are 0.
@inline(__always)
func gatherLanes(_ p: UnsafePointer<Float>, stride: Int, _ lanes: Int) -> Float8 {
    var v = Float8()
    for i in 0..<lanes { v[i] = p[i * stride] }
    return v
}

/// Stores the first `lanes` lanes of `v` at p[0], p[stride], ...
@inline(__always)
func scatterLanes(_ v: Float8, _ p: UnsafeMutablePointer<Float>, stride: Int, _ lanes: Int) {
    for i in 0..<lanes { p[i * stride] = v[i] }
}

/// Applies `body` to `count` floats 8 at a time (the last group partial): the shape of every elementwise kernel.
@inline(__always)
func forEachGroupOf8(_ count: Int, _ body: (_ index: Int, _ lanes: Int) -> Void) {
    var i = 0
    while i < count {
        body(i, min(8, count - i))
        i += 8
    }
}
