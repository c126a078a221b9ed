import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

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

/// The bytes of every shard of a complete stage folder, in order.
func shardBytes(_ sandbox: Sandbox, _ stage: String) throws -> [Data] {
    let manifest = try XCTUnwrap(try StageFolder(url: sandbox.path(stage)).manifest(), "\(stage) has no manifest")
    return try manifest.shards.map { try Data(contentsOf: sandbox.path(stage).appendingPathComponent($0.name)) }
}
