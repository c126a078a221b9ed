import LetheShards

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64: a generator defined here rather than by the
/// platform, so a seed gives the same shuffles on every machine and Swift version, and its state is four words
/// that a checkpoint can save.
public struct Xoshiro256: RandomNumberGenerator, Codable, Equatable, Sendable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var splitMix = SplitMix64(seed: seed)  // the seeding its authors recommend
        state = [splitMix.next(), splitMix.next(), splitMix.next(), splitMix.next()]
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotateLeft(state[3], 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform index in 0..<bound (Lemire's multiply-shift with rejection: unbiased, and defined here, unlike
    /// the standard library's `Int.random(in:using:)`, whose algorithm may change).
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= (0 &- b) % b { return Int(product.high) }
        }
    }

    /// Fisher-Yates, with `nextIndex`.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, nextIndex(below: i + 1))
        }
    }
}

@inline(__always) private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
}
