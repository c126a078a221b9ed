// The annotate stage's data model: everything the report needs about one chunk and each of its reference
// words, built from plain values so `lethe-annotate` is only glue (read shards, call `annotateChunk`, write).

import Foundation
import LetheShards
import LetheText

/// A gold word of an annotated corpus (CoNLL-2003: word, Penn POS tag, IOB1 NER tag).
public struct GoldWord: Codable, Equatable, Sendable {
    public var word: String
    public var posTag: String?
    public var nerTag: String?
    /// The chunk's tokens that spell the word (its leading space included), when the corpus recorded them
    /// (the tokenize stage's word-packed chunks do); otherwise the word is located in the token texts.
    public var tokenSpan: Range<Int>?
    public init(word: String, posTag: String? = nil, nerTag: String? = nil, tokenSpan: Range<Int>? = nil) {
        self.word = word; self.posTag = posTag; self.nerTag = nerTag; self.tokenSpan = tokenSpan
    }
}

/// One reference word and its categories (one element of `KEY.words.json`).
public struct WordAnnotation: Codable, Equatable, Sendable {
    public var word: String
    /// 0-based index among the chunk's reference words.
    public var position: Int
    public var retained: Bool
    public var pos: POSClass?
    public var ner: NERClass?
    public var wordClass: WordClass
    /// Pretraining counts of the word's tokens: the rarest, and the mean (nil without counts or when the
    /// word could not be located among the tokens).
    public var rarestTokenFrequency: Int64?
    public var meanTokenFrequency: Double?
    /// Pretraining count of the word itself (the count stage's words.tsv; 0 when the word is not listed), nil
    /// without word counts.
    public var wordFrequency: Int64? = nil
    /// The encoder's surprisal of the word: the sum of its tokens' (nats), nil without token surprisals, when
    /// the word could not be located among the tokens or holds the chunk's first token (which has none).
    public var surprisal: Double? = nil
}

/// One chunk: its metadata, the texts, the ROUGE-1 scores and every reference word's annotation.
public struct ChunkAnnotation: Codable, Equatable, Sendable {
    /// Dataset or sequence type from the chunk's metadata (Pile subset, math, code, conll, sae, aave, ...).
    public var dataset: String
    /// Chunk length in tokens.
    public var length: Int
    public var reference: String
    public var reconstruction: String
    public var rouge1: RougeScore
    public var words: [WordAnnotation]
    /// Per reference token: kept, substituted or dropped by the edit-distance alignment.
    public var tokenFates: [TokenFate]
    public var insertedTokens: Int
    /// Pretraining count of each reference token, when counts were given.
    public var tokenFrequencies: [Int64]?
    /// The encoder's surprisal of each reference token (nats), when lethe-encode stored it; nil for the first.
    public var tokenSurprisals: [Double?]? = nil
}


/// Everything `annotateChunk` needs about a chunk.
public struct ChunkInput: Sendable {
    public var dataset: String
    public var referenceTokenIDs: [Int32]
    public var reconstructionTokenIDs: [Int32]
    public var referenceText: String
    public var reconstructionText: String
    /// The decoded text of each reference token; concatenated they should give `referenceText` (used to
    /// find each word's tokens for the word-level frequency).
    public var referenceTokenTexts: [String]?
    /// Gold words when the corpus has them; otherwise the reference is split with `WordTokenizer`.
    public var goldWords: [GoldWord]?
    /// Pretraining count of each reference token.
    public var tokenFrequencies: [Int64]?
    /// Pretraining count of each word, when the corpus was counted by words.
    public var wordCounts: WordCounts?
    /// The encoder's surprisal of each reference token (nats; NaN where there is none: the first token).
    public var tokenSurprisals: [Double]?
    /// Whether the text is math (ambiguous operators like "-" then count as math).
    public var isMath: Bool

    public init(dataset: String, referenceTokenIDs: [Int32], reconstructionTokenIDs: [Int32], referenceText: String,
                reconstructionText: String, referenceTokenTexts: [String]? = nil, goldWords: [GoldWord]? = nil,
                tokenFrequencies: [Int64]? = nil, wordCounts: WordCounts? = nil, tokenSurprisals: [Double]? = nil,
                isMath: Bool = false) {
        self.dataset = dataset; self.referenceTokenIDs = referenceTokenIDs
        self.reconstructionTokenIDs = reconstructionTokenIDs; self.referenceText = referenceText
        self.reconstructionText = reconstructionText; self.referenceTokenTexts = referenceTokenTexts
        self.goldWords = goldWords; self.tokenFrequencies = tokenFrequencies; self.wordCounts = wordCounts
        self.tokenSurprisals = tokenSurprisals; self.isMath = isMath
    }
    /// Whether a dataset's text is math (GSM8K, a "math" dataset, the Pile's DM Mathematics): its ambiguous
    /// operators like "-" then count as math.
    public static func isMath(dataset: String) -> Bool {
        let name = dataset.lowercased()
        return name.contains("math") || name == "gsm8k"
    }
}

/// Annotates one chunk: reference words (gold, or `WordTokenizer` on the reference text), retention by the
/// reference's rule against `WordTokenizer` on the reconstruction, categories, token alignment, ROUGE-1 and
/// frequencies. A word's tokens are its gold token span when every gold word has one, else it is located in
/// `referenceTokenTexts`.
public func annotateChunk(_ input: ChunkInput, tokenizer: WordTokenizer = WordTokenizer()) -> ChunkAnnotation {
    let gold = input.goldWords ?? tokenizer.tokenize(input.referenceText).map { GoldWord(word: $0) }
    let words = gold.map(\.word)
    let retained = retainedWords(reference: words, reconstruction: tokenizer.tokenize(input.reconstructionText))
    var tokensOfWord: [[Int]]? = nil
    if input.tokenFrequencies != nil || input.tokenSurprisals != nil {
        if !gold.isEmpty, gold.allSatisfy({ $0.tokenSpan != nil }) {
            tokensOfWord = gold.map { Array($0.tokenSpan!) }
        } else if let pieces = input.referenceTokenTexts {
            tokensOfWord = tokenIndicesOfWords(words, tokenTexts: pieces)
        }
    }
    let annotations = words.indices.map { i -> WordAnnotation in
        var rarest: Int64? = nil, mean: Double? = nil
        if let frequencies = input.tokenFrequencies, let indices = tokensOfWord?[i], !indices.isEmpty,
           indices.allSatisfy({ $0 < frequencies.count }) {
            let counts = indices.map { frequencies[$0] }
            rarest = counts.min()
            mean = counts.reduce(0.0) { $0 + Double($1) } / Double(counts.count)
        }
        var surprisal: Double? = nil
        if let surprisals = input.tokenSurprisals, let indices = tokensOfWord?[i], !indices.isEmpty,
           indices.allSatisfy({ $0 < surprisals.count && !surprisals[$0].isNaN }) {
            surprisal = indices.reduce(0) { $0 + surprisals[$1] }
        }
        return WordAnnotation(
            word: words[i], position: i, retained: retained[i],
            pos: gold[i].posTag.flatMap(POSClass.init(pennTag:)), ner: gold[i].nerTag.flatMap(NERClass.init(tag:)),
            wordClass: WordClass.classify(words, at: i, mathChunk: input.isMath),
            rarestTokenFrequency: rarest, meanTokenFrequency: mean, wordFrequency: input.wordCounts?.count(of: words[i]),
            surprisal: surprisal)
    }
    let alignment = alignTokens(reference: input.referenceTokenIDs, reconstruction: input.reconstructionTokenIDs)
    return ChunkAnnotation(
        dataset: input.dataset, length: input.referenceTokenIDs.count, reference: input.referenceText,
        reconstruction: input.reconstructionText,
        rouge1: Rouge.rouge1(reference: input.referenceText, prediction: input.reconstructionText),
        words: annotations, tokenFates: alignment.fates, insertedTokens: alignment.inserted,
        tokenFrequencies: input.tokenFrequencies,
        tokenSurprisals: input.tokenSurprisals.map { $0.map { $0.isNaN ? nil : $0 } })
}

/// For each word, the indices of the tokens whose text overlaps it (located by `locateWords` in the concatenated
/// token texts). A word that cannot be found gets no tokens.
public func tokenIndicesOfWords(_ words: [String], tokenTexts: [String]) -> [[Int]] {
    var text: [Unicode.Scalar] = []
    var tokenOfScalar: [Int] = []
    for (k, piece) in tokenTexts.enumerated() {
        for c in piece.unicodeScalars { text.append(c); tokenOfScalar.append(k) }
    }
    return locateWords(words, in: text).map { range in
        var indices: [Int] = []
        for p in range ?? 0..<0 where indices.last != tokenOfScalar[p] { indices.append(tokenOfScalar[p]) }
        return indices
    }
}

/// Where each word stands in `text`, in Unicode scalars. Words are located left to right, each where the text
/// continues after skipping whitespace; NLTK's `` and '' also match the straight double quote (and `` the '')
/// they replaced. A word that is not there is nil (and the search resumes where it stood).
public func locateWords(_ words: [String], in text: [Unicode.Scalar]) -> [Range<Int>?] {
    var cursor = 0
    return words.map { word in
        var start = cursor
        while start < text.count && text[start].isPythonSpace { start += 1 }
        let candidates: [[Unicode.Scalar]] = word == "``" ? [["`", "`"], ["\""], ["'", "'"]]
            : word == "''" ? [["'", "'"], ["\""]] : [Array(word.unicodeScalars)]
        for candidate in candidates where start + candidate.count <= text.count
            && text[start..<(start + candidate.count)].elementsEqual(candidate) {
            cursor = start + candidate.count
            return start..<cursor
        }
        return nil
    }
}

/// A bad input or output of the analysis stages, naming the file and what is wrong.
public struct AnalysisError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ChunkAnnotation {
    /// Reads one chunk's annotation (`KEY.words.json`); a malformed file throws an error naming `source` and
    /// the field at fault.
    public init(jsonData: Data, source: String) throws {
        do {
            self = try JSONDecoder().decode(ChunkAnnotation.self, from: jsonData)
        } catch let DecodingError.keyNotFound(key, context) {
            throw AnalysisError("\(source): missing field \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            throw AnalysisError("\(source): bad value at \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw AnalysisError("\(source): not a chunk annotation: \(error)")
        }
    }

    /// The JSON form, keys sorted so the same annotation always gives the same bytes.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    private static func path(_ keys: [CodingKey]) -> String {
        if keys.isEmpty { return "top level" }
        return keys.reduce("") { path, key in
            key.intValue.map { path + "[\($0)]" } ?? (path.isEmpty ? key.stringValue : path + "." + key.stringValue)
        }
    }
}
