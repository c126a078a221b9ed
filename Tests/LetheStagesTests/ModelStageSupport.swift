import Foundation
import XCTest
import LethePipeline
import LetheShards

/// Checkpoints and expected outputs of LetheModel's fixtures (made with transformers).
let modelFixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/model")
let reconstructFixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/reconstruct")

/// A sample as lethe-tokenize writes it: KEY.tokens.npy (int32) and KEY.json.
func tokenSample(_ key: String, _ tokens: [Int32], text: String = "text", dataset: String = "test") -> ShardSample {
    var sample = ShardSample(key: key)
    sample.set("tokens", npy: NPYArray(int32: tokens, shape: [tokens.count]))
    sample.setJSON(["text": .string(text), "dataset": .string(dataset), "length": .int(tokens.count)])
    return sample
}

/// Writes a complete token stage folder (as lethe-tokenize would) at `relative` in the sandbox.
func writeTokenFolder(_ sandbox: Sandbox, _ relative: String, shards: [[ShardSample]]) throws {
    try writeStageFolder(at: sandbox.path(relative), name: URL(fileURLWithPath: relative).lastPathComponent,
                         executable: "lethe-tokenize", shards: shards)
}

/// An array of a .npy fixture, split along its first axis.
func rows(of url: URL) throws -> [[Float]] {
    let array = try NPYArray.read(contentsOf: url)
    let values = array.floats(), size = array.count / array.shape[0]
    return (0..<array.shape[0]).map { Array(values[$0 * size ..< ($0 + 1) * size]) }
}

/// Asserts max |actual - expected| ≤ tolerance · max |expected|.
func assertClose(_ actual: [Float], _ expected: [Float], relativeToMax tolerance: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
    let scale = expected.map(abs).max() ?? 0
    let bad = zip(actual, expected).enumerated().first { !(abs($1.0 - $1.1) <= tolerance * scale) }  // NaN fails too
    XCTAssertNil(bad, "\(what): element \(bad?.offset ?? 0) is \(bad?.element.0 ?? 0), expected \(bad?.element.1 ?? 0) within \(tolerance) · \(scale)",
                 file: file, line: line)
}

/// The bytes of every shard of a complete stage folder, in order.
func shardBytes(_ sandbox: Sandbox, _ stage: String) throws -> [Data] {
    let manifest = try XCTUnwrap(try StageFolder(url: sandbox.path(stage)).manifest(), "\(stage) has no manifest")
    return try manifest.shards.map { try Data(contentsOf: sandbox.path(stage).appendingPathComponent($0.name)) }
}
