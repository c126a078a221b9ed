import LetheShards

/// What counting one corpus file gives: token counts per group of documents (each subset, and the documents that
/// name none), word counts, and the lines skipped as bad. It is one unit of the count stage, kept as a shard so
/// that a run resumes after the last finished file and workers can split the files.
///
/// Shard layout (WebDataset samples, in this order):
///
///     file.json               {"source", "vocabulary_size", "skipped_lines", "skipped_examples", "words": bool}
///     group0000.counts.npy    int64 [vocabulary_size]: occurrences of each token id in the group's documents
///     group0000.json          {"subset": name or null, "documents", "tokens", "bytes"}
///     group0001...            one per group, documents without a subset first, then subsets by name
///     words.tsv               "word<TAB>count" lines in code point order of the word (with word counting)
///     words.json              {"distinct", "total"}
public struct FileCounts: Equatable, Sendable {
    /// The file, as given to the counter.
    public var source: String
    public var vocabularySize: Int
    /// Groups with at least one document, in output order (see `groupPrecedes`).
    public var groups: [GroupCounts]
    /// Word counts, when counted.
    public var words: WordCountTable?
    public var skippedLines = 0
    /// The first few skipped lines with the reason ("file:line: problem").
    public var skippedExamples: [String] = []

    public init(source: String, vocabularySize: Int, groups: [GroupCounts], words: WordCountTable?,
                skippedLines: Int = 0, skippedExamples: [String] = []) {
        self.source = source
        self.vocabularySize = vocabularySize
        self.groups = groups
        self.words = words
        self.skippedLines = skippedLines
        self.skippedExamples = skippedExamples
    }

    public var documents: Int { groups.reduce(0) { $0 + $1.documents } }
    public var tokens: Int { groups.reduce(0) { $0 + $1.tokens } }
    public var bytes: Int { groups.reduce(0) { $0 + $1.bytes } }

    // MARK: Shard form

    public func shardSamples() -> [ShardSample] {
        var samples: [ShardSample] = []
        var file = ShardSample(key: "file")
        file.setJSON([
            "source": .string(source), "vocabulary_size": .int(vocabularySize), "skipped_lines": .int(skippedLines),
            "skipped_examples": .array(skippedExamples.map(JSONValue.string)), "words": .bool(words != nil),
        ])
        samples.append(file)
        for (index, group) in groups.enumerated() {
            var sample = ShardSample(key: FileCounts.groupKey(index))
            sample.set("counts", npy: NPYArray(int64: group.counts, shape: [group.counts.count]))
            sample.setJSON(["subset": group.subset.map(JSONValue.string) ?? .null, "documents": .int(group.documents),
                            "tokens": .int(group.tokens), "bytes": .int(group.bytes)])
            samples.append(sample)
        }
        if let words {
            var sample = ShardSample(key: "words")
            sample.set("tsv", data: WordCountTable.tsv(words.sortedByWord()))
            sample.setJSON(["distinct": .int(words.distinct), "total": .int(words.total)])
            samples.append(sample)
        }
        return samples
    }

    /// Reads the samples of a unit shard back; `origin` (the shard's path) is named in errors.
    public init(shardSamples samples: [ShardSample], origin: String) throws {
        func bad(_ problem: String) -> CountError { CountError("\(origin): \(problem); not a count stage shard") }
        guard let file = samples.first, file.key == "file" else { throw bad("the first sample is not \"file\"") }
        let info = try file.json()
        guard let source = info["source"]?.stringValue, let vocabularySize = info["vocabulary_size"]?.intValue,
              vocabularySize > 0, let skippedLines = info["skipped_lines"]?.intValue,
              let examples = info["skipped_examples"]?.arrayValue, let hasWords = info["words"]?.boolValue else {
            throw bad("file.json lacks source, vocabulary_size, skipped_lines, skipped_examples or words")
        }
        var groups: [GroupCounts] = []
        var words: WordCountTable?
        for sample in samples.dropFirst() {
            if sample.key == "words" {
                guard hasWords, words == nil, let tsv = sample.data("tsv") else { throw bad("unexpected sample \"words\"") }
                words = try WordCountTable.parseTSV(tsv, origin: "\(origin): words.tsv")
                continue
            }
            guard sample.key == FileCounts.groupKey(groups.count), words == nil else {
                throw bad("unexpected sample \"\(sample.key)\"")
            }
            let meta = try sample.json()
            let counts = try sample.npy("counts")
            guard counts.dtype == .int64, counts.shape == [vocabularySize] else {
                throw bad("\(sample.key).counts.npy is \(counts.dtype.name) \(counts.shape), expected int64 [\(vocabularySize)]")
            }
            guard let subset = meta["subset"], subset == .null || subset.stringValue != nil,
                  let documents = meta["documents"]?.intValue, let tokens = meta["tokens"]?.intValue,
                  let bytes = meta["bytes"]?.intValue else {
                throw bad("\(sample.key).json lacks subset, documents, tokens or bytes")
            }
            var group = GroupCounts(subset: subset.stringValue, vocabularySize: 0)
            group.documents = documents
            group.tokens = tokens
            group.bytes = bytes
            group.counts = try counts.int64s()
            groups.append(group)
        }
        if hasWords && words == nil { throw bad("file.json promises words but there is no \"words\" sample") }
        self.init(source: source, vocabularySize: vocabularySize, groups: groups, words: words,
                  skippedLines: skippedLines, skippedExamples: examples.compactMap(\.stringValue))
    }

    static func groupKey(_ index: Int) -> String {
        let digits = String(index)
        return "group" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
