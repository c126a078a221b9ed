/// A string as a dictionary key, compared and hashed by its UTF-8 bytes. Swift's `String` equality is canonical
/// equivalence ("café" precomposed == "cafe\u{301}"), but counts must keep apart what Python's `Counter` keeps
/// apart: two spellings are two words (or two subsets).
public struct ExactString: Hashable, Sendable {
    public let text: String

    public init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        self.text = text
    }

    public static func == (a: ExactString, b: ExactString) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    public func hash(into hasher: inout Hasher) {
        // Contiguous since init, so the closure always runs.
        _ = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Byte order of the UTF-8 text, which is code point order (Python's order of `str`).
    public static func precedes(_ a: ExactString, _ b: ExactString) -> Bool {
        a.text.utf8.lexicographicallyPrecedes(b.text.utf8)
    }
}

/// How often each word occurs.
public struct WordCountTable: Equatable, Sendable {
    public private(set) var counts: [ExactString: Int] = [:]

    public init() {}

    public init(_ counts: [ExactString: Int]) { self.counts = counts }

    public var distinct: Int { counts.count }
    public var total: Int { counts.values.reduce(0, +) }

    public mutating func add(_ word: String, count: Int = 1) { counts[ExactString(word), default: 0] += count }

    public mutating func add(_ other: WordCountTable) {
        for (word, count) in other.counts { counts[word, default: 0] += count }
    }

    /// Most frequent first; equal counts in code point order of the word.
    public func sortedByCount() -> [(word: String, count: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : ExactString.precedes($0.key, $1.key) }
            .map { ($0.key.text, $0.value) }
    }

    /// In code point order of the word.
    public func sortedByWord() -> [(word: String, count: Int)] {
        counts.sorted { ExactString.precedes($0.key, $1.key) }.map { ($0.key.text, $0.value) }
    }

    /// `word<TAB>count` lines. Words never hold a tab or a newline: the word tokenizer splits at whitespace.
    public static func tsv(_ rows: [(word: String, count: Int)]) -> [UInt8] {
        var out: [UInt8] = []
        for (word, count) in rows {
            out += word.utf8
            out.append(UInt8(ascii: "\t"))
            out += String(count).utf8
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Reads `tsv(_:)`'s lines back; `origin` names the data in errors.
    public static func parseTSV(_ bytes: [UInt8], origin: String) throws -> WordCountTable {
        var words = WordCountTable()
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let tab = line.lastIndex(of: UInt8(ascii: "\t")),
                  let word = String(validating: line[..<tab], as: UTF8.self),
                  let count = Int(String(decoding: line[(tab + 1)...], as: UTF8.self)), count >= 0 else {
                throw CountError("\(origin): line \(lineNumber) is not \"word<TAB>count\"")
            }
            words.counts[ExactString(word), default: 0] += count
        }
        return words
    }
}

/// Counts of one group of documents: the documents of one subset, or those that name none.
public struct GroupCounts: Equatable, Sendable {
    /// The subset's name; nil for documents without one.
    public var subset: String?
    public var documents = 0
    public var tokens = 0
    /// UTF-8 bytes of the documents' text.
    public var bytes = 0
    /// How often each token id occurs: `counts[id]`, one entry per id of the vocabulary.
    public var counts: [Int64]

    public init(subset: String?, vocabularySize: Int) {
        self.subset = subset
        counts = [Int64](repeating: 0, count: vocabularySize)
    }

    /// Adds another group's counts (of the same vocabulary) to these.
    public mutating func add(_ other: GroupCounts) {
        documents += other.documents
        tokens += other.tokens
        bytes += other.bytes
        counts.withUnsafeMutableBufferPointer { mine in
            other.counts.withUnsafeBufferPointer { theirs in
                for id in 0..<mine.count { mine[id] += theirs[id] }
            }
        }
    }
}

/// Groups in output order: documents without a subset first, then subsets in code point order of the name.
func groupPrecedes(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): return false
    case (nil, _): return true
    case (_, nil): return false
    case let (a?, b?): return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}

public struct CountError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
