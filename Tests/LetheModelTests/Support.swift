import Foundation
import LetheShards
import XCTest
@testable import LetheModel

/// Tests/Fixtures/model: checkpoints and expected outputs made by make_model_fixtures.py (transformers).
let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/model")

func fixture(_ path: String) -> URL { modelFixtures.appendingPathComponent(path) }

func expectedArray(_ path: String) throws -> NPYArray {
    try NPYArray.read(contentsOf: fixture("expected/\(path).npy"))
}

func expectedFloats(_ path: String) throws -> [Float] { try expectedArray(path).floats() }

func expectedTokens(_ path: String) throws -> (tokens: [Int32], batch: Int, length: Int) {
    let a = try expectedArray(path)
    return (try a.int32s(), a.shape[0], a.shape[1])
}

/// Deterministic pseudo-random floats in [lo, hi) (SplitMix64), for kernel tests.
struct TestRandom {
    var generator: SplitMix64
    init(_ seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func float(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24) }
    mutating func floats(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] { (0..<count).map { _ in float(lo, hi) } }
    mutating func ints(_ count: Int, below: Int) -> [Int32] { (0..<count).map { _ in Int32(next() % UInt64(below)) } }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-model-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
