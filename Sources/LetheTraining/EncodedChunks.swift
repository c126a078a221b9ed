import Foundation
import LetheSamples
import LetheShards

/// Training chunks read from shards, in shard order then sample order: the encode stage's output (LetheSamples's
/// `states` kind: tokens, ssm [n_layer, DI, N] and conv [n_layer, DI, K] states), or, for the LM objective, any
/// stage's shards of chunks (the `tokens` kind).
///
/// Tokens stay in memory. Encoder states, when wanted, are converted to float32 and written once to `stateFile`,
/// which is then memory-mapped: batches take chunks in any order (shuffled) without every state in memory
/// (mamba-130m's state is 2.9 MB per chunk).
public final class EncodedChunks: ChunkSource {
    public let lengths: [Int]
    private let tokens: [[Int32]]
    private let states: Data?
    private let ssmCount: Int
    private let convCount: Int

    /// Reads `shards`; token ids must be below `vocabularySize`, and with `stateShapes` each sample's ssm and conv
    /// states must have exactly those shapes. `progress` is called with the number of chunks read so far, after
    /// each shard.
    public init(shards: [URL], vocabularySize: Int, stateShapes: (ssm: [Int], conv: [Int])?, stateFile: URL,
                progress: (Int) -> Void = { _ in }) throws {
        ssmCount = stateShapes.map { $0.ssm.reduce(1, *) } ?? 0
        convCount = stateShapes.map { $0.conv.reduce(1, *) } ?? 0
        var tokens: [[Int32]] = []
        var writer: FileHandle?
        if stateShapes != nil {
            try? FileManager.default.removeItem(at: stateFile)
            guard FileManager.default.createFile(atPath: stateFile.path, contents: nil),
                  let handle = try? FileHandle(forWritingTo: stateFile) else {
                throw TrainingError("\(stateFile.path): cannot create the state cache")
            }
            writer = handle
        }
        for shard in shards {
            let reader = try ShardReader(url: shard)
            while let sample = try reader.next() {
                let chunk = try ChunkSample(sample, as: stateShapes == nil ? .tokens : .states, vocabularySize: vocabularySize,
                                            requiringMetadata: false)
                tokens.append(chunk.tokens)
                guard let stateShapes, let writer, let states = chunk.states else { continue }
                try states.check(ssmShape: stateShapes.ssm, convShape: stateShapes.conv, origin: chunk.origin, whose: "the decoder's")
                for state in [states.ssm, states.conv] {
                    try state.floats().withUnsafeBytes { try writer.write(contentsOf: Data($0)) }
                }
            }
            progress(tokens.count)
        }
        try writer?.close()
        self.tokens = tokens
        lengths = tokens.map(\.count)
        states = stateShapes == nil ? nil : try Data(contentsOf: stateFile, options: .alwaysMapped)
    }

    public func batch(_ indices: [Int], withStates: Bool) throws -> TrainingBatch {
        var batch = TrainingBatch(tokens: indices.flatMap { tokens[$0] }, batchSize: indices.count)
        guard withStates else { return batch }
        guard let states else { throw TrainingError("these chunks were read without their encoder states") }
        let perChunk = ssmCount + convCount
        batch.encoderStates = states.withUnsafeBytes { raw in
            let floats = raw.bindMemory(to: Float.self)
            return indices.map { i in
                let start = i * perChunk
                return (ssm: Array(floats[start ..< start + ssmCount]),
                        conv: Array(floats[start + ssmCount ..< start + perChunk]))
            }
        }
        return batch
    }
}
