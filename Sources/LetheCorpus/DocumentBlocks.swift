/// A corpus file to read and its format (nil: told by the file's name).
public struct CorpusInput: Sendable, Equatable {
    public var path: String
    public var format: CorpusFormat?

    public init(path: String, format: CorpusFormat? = nil) {
        self.path = path
        self.format = format
    }
}

/// Several corpus files read one after another as one sequence of documents, of which a selection is kept (the
/// first `skip` documents dropped, then at most `limit` kept) and handed out in blocks of `blockSize` consecutive
/// documents. Block j is the tokenize stage's unit j and becomes shard j, whatever the number of workers; a
/// held-out split takes documents 0..<N of a file in one stage (`limit` N) and N... in another (`skip` N).
///
/// Streams: files are opened one at a time when reached, and only the block being filled is held. Reading stops
/// as soon as the selection is complete (lines after it are never read, nor checked). Bad lines are handled by
/// each file's `DocumentReader` (`ReadOptions.skipBadLines`); the counts here add them up over the files.
public final class DocumentBlocks {
    public struct Block {
        /// 0-based; the blocks of one selection are numbered without gaps.
        public let index: Int
        /// `blockSize` documents, fewer only in the last block.
        public let documents: [Document]
    }

    public let inputs: [CorpusInput]
    public let options: ReadOptions
    public let skip: Int
    public let limit: Int?
    public let blockSize: Int

    /// Documents read so far, those dropped by `skip` included.
    public private(set) var documentsRead = 0
    /// Documents dropped by `skip` so far.
    public var skippedDocuments: Int { min(documentsRead, skip) }
    /// Bytes read from the files so far (compressed bytes for .jsonl.zst), for progress displays.
    public var bytesRead: Int { bytesOfFinishedFiles + (reader?.bytesRead ?? 0) }
    /// Lines skipped as bad so far (only with `skipBadLines`), over all files.
    public var skippedLines: Int { skippedLinesOfFinishedFiles + (reader?.skippedLines ?? 0) }
    /// The first few of those, with the reason.
    public var skippedExamples: [CorpusError] {
        Array((skippedExamplesOfFinishedFiles + (reader?.skippedExamples ?? [])).prefix(DocumentBlocks.maxExamples))
    }

    private static let maxExamples = 10
    private var nextInput = 0
    private var reader: DocumentReader?
    private var bytesOfFinishedFiles = 0
    private var skippedLinesOfFinishedFiles = 0
    private var skippedExamplesOfFinishedFiles: [CorpusError] = []
    private var blocksMade = 0

    /// Checks that every input's format is known (before any file is read); files are opened when reached.
    public init(inputs: [CorpusInput], options: ReadOptions = ReadOptions(), skip: Int = 0, limit: Int? = nil,
                blockSize: Int) throws {
        precondition(blockSize >= 1 && skip >= 0 && (limit ?? 0) >= 0, "block size >= 1, skip >= 0, limit >= 0")
        self.inputs = try inputs.map { CorpusInput(path: $0.path, format: try CorpusFormat.of(file: $0.path, given: $0.format)) }
        self.options = options
        self.skip = skip
        self.limit = limit
        self.blockSize = blockSize
    }

    /// The next block, or nil when the selection is exhausted.
    public func next() throws -> Block? {
        var documents: [Document] = []
        documents.reserveCapacity(blockSize)
        while documents.count < blockSize, let document = try nextSelected() { documents.append(document) }
        guard !documents.isEmpty else { return nil }
        defer { blocksMade += 1 }
        return Block(index: blocksMade, documents: documents)
    }

    private var selectionComplete: Bool {
        guard let limit else { return false }
        return documentsRead - skip >= limit
    }

    private func nextSelected() throws -> Document? {
        while !selectionComplete, let document = try nextDocument() {
            documentsRead += 1
            if documentsRead > skip { return document }
        }
        return nil
    }

    private func nextDocument() throws -> Document? {
        while true {
            if reader == nil {
                guard nextInput < inputs.count else { return nil }
                let input = inputs[nextInput]
                nextInput += 1
                reader = try DocumentReader(path: input.path, format: input.format, options: options)
            }
            if let document = try reader!.next() { return document }
            bytesOfFinishedFiles += reader!.bytesRead
            skippedLinesOfFinishedFiles += reader!.skippedLines
            skippedExamplesOfFinishedFiles += reader!.skippedExamples.prefix(DocumentBlocks.maxExamples - skippedExamplesOfFinishedFiles.count)
            reader = nil
        }
    }
}
