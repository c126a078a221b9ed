import Foundation
import LetheSamples
import LetheShards
import LetheTokenizer

/// How documents become samples (one sample = one chunk the encoder reads).
public enum Chunking: Sendable, Equatable {
    /// One sample per document with all its tokens; its text is the document's text.
    case none
    /// Concatenate the documents' tokens (no separator) and cut chunks of exactly `lengths[0]` tokens, then
    /// `lengths[1]`, ... cycling through the list (one length is the reference's rule; several give evaluation
    /// sets with as many chunks of each length from the same text); the remainder is dropped.
    case fixed(lengths: [Int])
    /// As `fixed`, each chunk's length drawn uniformly from minLength...maxLength by SplitMix64 seeded with
    /// (seed, block index); the remainder shorter than the next drawn length is dropped.
    case mixed(minLength: Int, maxLength: Int, seed: UInt64)
    /// Whole words packed greedily into chunks of at most `maxTokens` tokens, never splitting a word and never
    /// crossing a document; each word keeps its labels and its token span. See `BlockChunker` for the rules.
    case words(maxTokens: Int)
}

/// One chunk: its tokens and what the shard's KEY.json says about it.
public struct Sample: Sendable, Equatable {
    public var tokens: [Int32]
    /// Exactly what `tokens` decode to (for `none`: the document's text as read).
    public var text: String
    public var source: String
    /// The document its first token comes from (0-based, within `source`).
    public var document: Int
    /// The 1-based line of `source` where that document starts.
    public var line: Int
    /// How many consecutive documents it spans, from `document` on (more than 1 only for `fixed` and `mixed`).
    public var documentCount: Int
    /// `fixed`/`mixed`: where its first token lies in that document's tokens; 0 otherwise.
    public var tokenOffset: Int
    /// `words`: the index of its first word in the document's words; nil otherwise.
    public var firstWord: Int?
    /// The first document's metadata (JSONL's other fields, CSV's other columns).
    public var metadata: JSONValue?
    public var words: [ChunkWord]?
}

/// What chunking left out of a block, for the manifest.
public struct ChunkCounts: Sendable, Equatable {
    /// Tokens of the remainder that `fixed`/`mixed` dropped.
    public var droppedTokens = 0
    /// `words`: single words longer than the chunk size, skipped.
    public var skippedWords = 0
    /// Documents with no tokens (no sample is made of them).
    public var emptyDocuments = 0

    public init() {}

    public static func + (a: ChunkCounts, b: ChunkCounts) -> ChunkCounts {
        var sum = ChunkCounts()
        sum.droppedTokens = a.droppedTokens + b.droppedTokens
        sum.skippedWords = a.skippedWords + b.skippedWords
        sum.emptyDocuments = a.emptyDocuments + b.emptyDocuments
        return sum
    }
}

/// A word that does not cover whole tokens of its chunk: the tokenizer merged across the space between words.
/// Cannot happen with the GPT-2 split pattern (it always breaks before the space that starts a word), so this
/// is an invariant check on other tokenizers, reported rather than producing wrong spans.
public struct ChunkingError: Error, CustomStringConvertible, Equatable {
    public let source: String
    public let document: Int
    public let problem: String
    public var description: String { "\(source): document \(document): \(problem)" }
}

/// Turns a block of documents into samples. Pure and deterministic: the same documents, block index and settings
/// give the same samples, whatever the number of threads. Chunks never cross a block (the tokenize stage's unit of
/// work is a block of D documents), so `fixed`/`mixed` drop one remainder per block.
///
/// `words` rules: a document's words are its CoNLL words, else its text split at whitespace (no labels). Each word
/// is put in NFC. A chunk's text is its words joined by single spaces and its tokens are the tokenization of that
/// text (not of the words one by one: " word" and "word" tokenize differently). Word k's span covers its leading
/// space; every word is checked to start and end on token boundaries. A word that alone (without its leading
/// space, as a chunk's first word) takes more than `maxTokens` tokens is skipped and counted; the chunk before it
/// ends there and the next chunk starts after it.
///
/// In the tokenize stage (Sources/lethe-tokenize) `DocumentBlocks` reads the blocks, each worker thread chunks one:
///
///     while let block = try blocks.next() { ... }                                     // the reading thread
///     let (samples, counts) = try chunker.samples(from: block.documents, blockIndex: block.index)   // a worker
///     ChunkSample(key: key, metadata: sample.metadata(dataset: label), tokens: sample.tokens).shardSample()
public struct BlockChunker: Sendable {
    public let chunking: Chunking
    public let tokenizer: Tokenizer

    /// Checks the sizes (every length >= 1, minLength <= maxLength).
    public init(chunking: Chunking, tokenizer: Tokenizer) throws {
        switch chunking {
        case .none: break
        case .fixed(let lengths):
            guard !lengths.isEmpty, lengths.allSatisfy({ $0 >= 1 }) else {
                throw ChunkSizeError(description: "chunk sizes must be at least 1, got \(lengths)")
            }
        case .words(let length):
            guard length >= 1 else { throw ChunkSizeError(description: "chunk size must be at least 1, got \(length)") }
        case .mixed(let minLength, let maxLength, _):
            guard minLength >= 1, minLength <= maxLength else {
                throw ChunkSizeError(description: "need 1 <= min length <= max length, got \(minLength) and \(maxLength)")
            }
        }
        self.chunking = chunking
        self.tokenizer = tokenizer
    }

    /// The samples of one block of consecutive documents (`blockIndex` seeds `mixed`).
    public func samples(from documents: [Document], blockIndex: Int) throws -> (samples: [Sample], counts: ChunkCounts) {
        var counts = ChunkCounts()
        switch chunking {
        case .none:
            var samples: [Sample] = []
            for document in documents {
                let tokens = tokenizer.encode(document.text)
                if tokens.isEmpty { counts.emptyDocuments += 1; continue }
                var words: [ChunkWord]? = nil
                if let labelled = document.words {
                    words = try spans(of: labelled.map(normalizedWord), tokens: tokens, document: document)
                }
                samples.append(Sample(tokens: tokens, text: document.text, source: document.source,
                                      document: document.index, line: document.line, documentCount: 1, tokenOffset: 0,
                                      firstWord: nil, metadata: document.metadata, words: words))
            }
            return (samples, counts)
        case .fixed(let lengths):
            var next = 0
            return (cut(documents, counts: &counts, nextLength: {
                defer { next = (next + 1) % lengths.count }
                return lengths[next]
            }), counts)
        case .mixed(let minLength, let maxLength, let seed):
            var generator = SplitMix64(seed: seed, stream: UInt64(blockIndex))
            let span = UInt64(maxLength - minLength + 1)
            return (cut(documents, counts: &counts, nextLength: { minLength + Int(generator.next(below: span)) }), counts)
        case .words(let maxTokens):
            var samples: [Sample] = []
            for document in documents {
                samples += try packWords(document, maxTokens: maxTokens, counts: &counts)
            }
            return (samples, counts)
        }
    }

    // MARK: fixed and mixed

    private func cut(_ documents: [Document], counts: inout ChunkCounts, nextLength: () -> Int) -> [Sample] {
        var stream: [Int32] = []
        var documentStarts: [Int] = []  // where each document's tokens begin in `stream`
        for document in documents {
            documentStarts.append(stream.count)
            let tokens = tokenizer.encode(document.text)
            if tokens.isEmpty { counts.emptyDocuments += 1 }
            stream += tokens
        }
        var samples: [Sample] = []
        var start = 0
        var firstDocument = 0
        while true {
            let length = nextLength()
            guard start + length <= stream.count else { break }
            // The document holding token `start`: the last one beginning at or before it (empty ones skipped).
            while firstDocument + 1 < documents.count && documentStarts[firstDocument + 1] <= start { firstDocument += 1 }
            var lastDocument = firstDocument
            while lastDocument + 1 < documents.count && documentStarts[lastDocument + 1] < start + length { lastDocument += 1 }
            let tokens = Array(stream[start..<(start + length)])
            let first = documents[firstDocument]
            samples.append(Sample(tokens: tokens, text: tokenizer.decode(tokens), source: first.source,
                                  document: first.index, line: first.line, documentCount: lastDocument - firstDocument + 1,
                                  tokenOffset: start - documentStarts[firstDocument], firstWord: nil,
                                  metadata: first.metadata, words: nil))
            start += length
        }
        counts.droppedTokens += stream.count - start
        return samples
    }

    // MARK: words

    private func normalizedWord(_ word: Word) -> Word {
        var word = word
        word.text = NFC.normalize(word.text)
        return word
    }

    private func wordsOf(_ document: Document) -> [Word] {
        if let words = document.words { return words.map(normalizedWord) }
        return document.text.unicodeScalars.split(whereSeparator: \.properties.isWhitespace)
            .map { Word(text: NFC.normalize(String(String.UnicodeScalarView($0)))) }
    }

    private func packWords(_ document: Document, maxTokens: Int, counts: inout ChunkCounts) throws -> [Sample] {
        let words = wordsOf(document)
        if words.isEmpty { counts.emptyDocuments += 1; return [] }
        // Token counts of each word as it appears after another one (" word"), for packing.
        let spacedCounts = words.map { tokenizer.encode(" " + $0.text).count }
        var samples: [Sample] = []
        var first = 0
        while first < words.count {
            let firstCount = tokenizer.encode(words[first].text).count
            if firstCount > maxTokens {
                counts.skippedWords += 1
                first += 1
                continue
            }
            var end = first + 1
            var total = firstCount
            while end < words.count && total + spacedCounts[end] <= maxTokens {
                total += spacedCounts[end]
                end += 1
            }
            // The chunk's own tokenization decides; shrink it in the (never seen) case it is longer than the sum.
            var chunkWords = Array(words[first..<end])
            var text = chunkWords.map(\.text).joined(separator: " ")
            var tokens = tokenizer.encode(text)
            while tokens.count > maxTokens && chunkWords.count > 1 {
                chunkWords.removeLast()
                end -= 1
                text = chunkWords.map(\.text).joined(separator: " ")
                tokens = tokenizer.encode(text)
            }
            let spans = try spans(of: chunkWords, tokens: tokens, document: document)
            samples.append(Sample(tokens: tokens, text: tokenizer.decode(tokens), source: document.source,
                                  document: document.index, line: document.line, documentCount: 1, tokenOffset: 0, firstWord: first,
                                  metadata: document.metadata, words: spans))
            first = end
        }
        return samples
    }

    /// The token span of each word of `words` joined by single spaces, whose tokenization is `tokens`; throws if
    /// a word does not begin and end on token boundaries or the tokens do not spell the joined words.
    private func spans(of words: [Word], tokens: [Int32], document: Document) throws -> [ChunkWord] {
        func fail(_ problem: String) -> ChunkingError {
            ChunkingError(source: document.source, document: document.index, problem: problem)
        }
        let joined = Array(words.map(\.text).joined(separator: " ").utf8)
        guard tokenizer.decodeBytes(tokens) == joined else {
            throw fail("the tokens do not spell the words joined by spaces (the text is not NFC, or holds added tokens"
                       + " that change it)")
        }
        var result: [ChunkWord] = []
        result.reserveCapacity(words.count)
        var token = 0
        var tokenByteStart = 0  // byte offset where `token` begins
        var wordByteEnd = 0
        for (k, word) in words.enumerated() {
            let wordByteStart = wordByteEnd
            wordByteEnd = wordByteStart + (k > 0 ? 1 : 0) + word.text.utf8.count
            guard tokenByteStart == wordByteStart else {
                throw fail("word \(k) \"\(word.text)\" does not start on a token boundary")
            }
            let tokenStart = token
            while tokenByteStart < wordByteEnd {
                tokenByteStart += tokenizer.byteCount(of: tokens[token])
                token += 1
            }
            guard tokenByteStart == wordByteEnd else {
                throw fail("word \(k) \"\(word.text)\" does not end on a token boundary")
            }
            result.append(ChunkWord(text: word.text, labels: word.labels, sentence: word.sentence, span: tokenStart..<token))
        }
        return result
    }
}

public struct ChunkSizeError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// The chunk lengths of `mixed` depend on nothing but the seed and the block index (SplitMix64, as the corpus
/// fixtures' Python oracle draws them).
extension SplitMix64 {
    /// An independent stream per block: the seed's first output mixed with the block index.
    init(seed: UInt64, stream: UInt64) {
        var base = SplitMix64(seed: seed)
        self.init(seed: base.next() ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

    /// Uniform in 0..<bound (bound > 0), by rejection so that no value is favoured.
    mutating func next(below bound: UInt64) -> UInt64 {
        let threshold = (0 &- bound) % bound
        while true {
            let value = next()
            if value >= threshold { return value % bound }
        }
    }
}
