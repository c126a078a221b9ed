import Foundation
import LetheShards

/// Writes a stage's output samples in input order when the work finishes them out of order (batches by length,
/// decoding that ends early): a sample whose turn has not come waits, in memory or, for large samples such as
/// encoder states, in a `SpillFile` next to the output shard, and is written as soon as every sample before it is.
public final class InOrderWriter {
    public enum Waiting {
        /// Early samples wait in memory (small samples).
        case inMemory
        /// Early samples wait on disk (large samples; memory stays bounded whatever the shard).
        case spilled
    }

    public let output: ShardWriter
    private let waiting: Waiting
    private var early: [Int: ShardSample] = [:]
    private var spill: SpillFile?
    /// Samples written so far: the input position of the next one to write.
    public private(set) var written = 0

    public init(output: ShardWriter, waiting: Waiting) {
        self.output = output
        self.waiting = waiting
    }

    /// The sample at input position `index`: written now if its turn has come (with the waiting ones it
    /// unblocks), else kept until it has.
    public func put(_ sample: ShardSample, at index: Int) throws {
        guard index == written else {
            switch waiting {
            case .inMemory: early[index] = sample
            case .spilled:
                if spill == nil { spill = try SpillFile(nextTo: output.url) }
                try spill!.put(sample, at: index)
            }
            return
        }
        try output.append(sample)
        written += 1
        while let next = try takeWaiting(written) {
            try output.append(next)
            written += 1
        }
    }

    /// Whether no sample waits.
    public var isDrained: Bool { early.isEmpty && (spill?.isEmpty ?? true) }

    private func takeWaiting(_ index: Int) throws -> ShardSample? {
        switch waiting {
        case .inMemory: return early.removeValue(forKey: index)
        case .spilled: return try spill?.take(index)
        }
    }
}
