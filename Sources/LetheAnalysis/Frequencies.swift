// Pretraining frequencies as the count stage writes them, and the text of each token of a chunk (to find a
// word's tokens).

/// How often each word occurs in the pretraining corpus: the count stage's `words.tsv`, one `word<TAB>count`
/// line per word (words as `WordTokenizer` splits them). A word that is not listed occurs 0 times.
public struct WordCounts: Sendable {
    private var counts: [String: Int64]

    public init(_ counts: [String: Int64]) { self.counts = counts }

    /// Parses words.tsv; `source` names the file in errors (`words.tsv:12: ...`). Lines end in "\n" (a final
    /// "\r" is dropped); the last line may lack its "\n". The count stage keeps spellings apart byte for byte
    /// (as Python's Counter does), but chunks reach annotate NFC-normalised by the tokenizer, so canonically
    /// equivalent spellings ("café" precomposed and decomposed) are one word here and their counts add up.
    public init(tsv bytes: [UInt8], source: String) throws {
        var counts: [String: Int64] = [:]
        var spellings = Set<[UInt8]>()
        let body = bytes.last == UInt8(ascii: "\n") ? bytes.dropLast() : bytes[...]
        let lines = body.isEmpty ? [] : body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let place = "\(source):\(index + 1)"
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            guard let tab = line.lastIndex(of: UInt8(ascii: "\t")) else {
                throw AnalysisError("\(place): expected word<TAB>count")
            }
            guard let word = String(validating: line[..<tab], as: UTF8.self), !word.isEmpty else {
                throw AnalysisError("\(place): the word is empty or not UTF-8")
            }
            guard let count = Int64(String(decoding: line[(tab + 1)...], as: UTF8.self)), count >= 0 else {
                throw AnalysisError("\(place): the count is not a non-negative integer")
            }
            guard spellings.insert(Array(line[..<tab])).inserted else {
                throw AnalysisError("\(place): the word \"\(word)\" is listed twice")
            }
            counts[word, default: 0] += count
        }
        self.counts = counts
    }

    /// The count of `word` (exact, case-sensitive match), 0 when it is not listed.
    public func count(of word: String) -> Int64 { counts[word] ?? 0 }

    public var wordCount: Int { counts.count }
}

/// The text of each token, given the raw bytes each token stands for (a byte-level BPE token may hold part of
/// a character). The concatenated bytes are decoded as `String(decoding:as: UTF8.self)` decodes them (each
/// invalid sequence becomes U+FFFD), and every character goes to the token holding its first byte; so the
/// texts concatenate to the decoded chunk, and a token that only continues a character has the empty text.
public func tokenTexts(fromTokenBytes tokenBytes: [[UInt8]]) -> [String] {
    var bytes: [UInt8] = []
    var tokenOfByte: [Int] = []
    for (token, piece) in tokenBytes.enumerated() {
        bytes += piece
        tokenOfByte += repeatElement(token, count: piece.count)
    }
    var texts = [String.UnicodeScalarView](repeating: String.UnicodeScalarView(), count: tokenBytes.count)
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            texts[tokenOfByte[offset]].append(Unicode.UTF8.decode(encoded))
            offset += encoded.count
        case .error(let length):
            texts[tokenOfByte[offset]].append("\u{FFFD}")
            offset += length
        case .emptyInput:
            return texts.map(String.init)
        }
    }
}
