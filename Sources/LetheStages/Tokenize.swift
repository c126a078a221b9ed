import Foundation
import LetheCLI
import LetheCorpus
import LetheSamples
import LetheShards
import LetheTokenizer

/// What the tokenize stage reads and how it cuts it (lethe-tokenize's options).
public struct TokenizeSettings: Sendable {
    public var inputs: [CorpusInput]
    /// The tokenizer.json's path; nil: the shipped one.
    public var tokenizer: String?
    public var readOptions: ReadOptions
    public var chunking: Chunking
    /// Appended to every document's text (e.g. "\n\n" between GSM8K questions).
    public var separator: String?
    public var dataset: String?
    public var datasetField: String?
    public var skipDocuments: Int
    public var maxDocuments: Int?
    public var documentsPerShard: Int

    public init(inputs: [CorpusInput], tokenizer: String?, readOptions: ReadOptions, chunking: Chunking, separator: String?,
                dataset: String?, datasetField: String?, skipDocuments: Int, maxDocuments: Int?, documentsPerShard: Int) {
        self.inputs = inputs; self.tokenizer = tokenizer; self.readOptions = readOptions; self.chunking = chunking
        self.separator = separator; self.dataset = dataset; self.datasetField = datasetField
        self.skipDocuments = skipDocuments; self.maxDocuments = maxDocuments; self.documentsPerShard = documentsPerShard
    }
}

/// The tokenize stage (lethe-tokenize): corpus files in, token shards out. Reading, selection and blocks are
/// `DocumentBlocks`, chunking is `BlockChunker`, shards, resume and manifest the harness's
/// (`StageRun.runStreamedUnits`): a block of documents is a unit.
public func runTokenizeStage(_ run: StageRun, _ settings: TokenizeSettings, threads: Int, progress progressMode: ProgressMode) throws {
    if run.isUpToDate { return run.sayUpToDate() }
    let s = settings
    let tokenizerURL = try DefaultTokenizer.resolve(s.tokenizer)
    let chunker = try BlockChunker(chunking: s.chunking, tokenizer: try Tokenizer(contentsOf: tokenizerURL))
    let blocks = try DocumentBlocks(inputs: s.inputs, options: s.readOptions, skip: s.skipDocuments,
                                    limit: s.maxDocuments, blockSize: s.documentsPerShard)
    let labels = DatasetLabels(label: s.dataset, field: s.datasetField, inputs: s.inputs.map(\.path))

    // Progress through the input: in documents when the selection ends early, else in bytes of the files.
    let progress: LetheCLI.Progress
    let position: () -> Int
    if let maxDocuments = s.maxDocuments {
        progress = Progress(label: run.name, total: s.skipDocuments + maxDocuments, unit: "documents", mode: progressMode)
        position = { blocks.documentsRead }
    } else {
        let total = s.inputs.reduce(0) { $0 + (DurableFile.size(ofFile: $1.path) ?? 0) }
        progress = Progress(label: run.name, total: total, unit: "bytes of input", mode: progressMode)
        position = { blocks.bytesRead }
    }
    var positionAfterLastBlock = 0

    let tokenizerSHA256 = try SHA256Hex.ofFile(atPath: tokenizerURL.path)
    try run.runStreamedUnits(
        concurrency: threads, progress: progress, size: \Unit.progress,
        summarize: { extras in
            var summary = TokenizeFacts(json: mergeExtras([TokenizeFacts().json] + extras))
            // The tokenizer's path as given (or the shipped one's place in a checkout): never absolute, as outputs
            // move between machines.
            summary.run = .init(documentsSkipped: blocks.skippedDocuments, skippedLines: blocks.skippedLines,
                                skippedLineExamples: blocks.skippedExamples.map(\.description),
                                tokenizerPath: s.tokenizer ?? DefaultTokenizer.relativePath, tokenizerSHA256: tokenizerSHA256)
            return summary.json
        },
        next: {
            guard let block = try blocks.next() else { return nil }
            let now = position()
            defer { positionAfterLastBlock = now }
            return Unit(block: block, progress: now - positionAfterLastBlock)
        },
        work: { _, unit, writer in
            try write(unit.block, separator: s.separator, chunker: chunker, labels: labels, to: writer)
        })
}

/// A unit of work: a block, and how far it moves the progress display.
private struct Unit {
    let block: DocumentBlocks.Block
    let progress: Int
}

/// Chunks a block and writes its samples; returns the block's facts for the manifest's "extra".
private func write(_ block: DocumentBlocks.Block, separator: String?, chunker: BlockChunker, labels: DatasetLabels,
                   to writer: ShardWriter) throws -> JSONValue {
    var documents = block.documents
    if let separator { for i in documents.indices { documents[i].text += separator } }
    let (samples, counts) = try chunker.samples(from: documents, blockIndex: block.index)
    var facts = TokenizeFacts()
    facts.documents = block.documents.count
    facts.emptyDocuments = counts.emptyDocuments
    facts.droppedTokens = counts.droppedTokens
    facts.skippedWords = counts.skippedWords
    for (index, sample) in samples.enumerated() {
        let dataset = labels.label(for: sample)
        let chunk = ChunkSample(key: key(block: block.index, sample: index), metadata: sample.metadata(dataset: dataset),
                                tokens: sample.tokens)
        try writer.append(chunk.shardSample())
        facts.tokens += sample.tokens.count
        facts.samplesPerDataset[dataset, default: 0] += 1
    }
    return facts.json
}

/// "b000012-s000034": sample 34 of block 12. Unique within the stage, and the same on every rerun.
private func key(block: Int, sample: Int) -> String {
    "b" + padded(block) + "-s" + padded(sample)
}

private func padded(_ value: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}
