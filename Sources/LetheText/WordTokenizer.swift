// `nltk.word_tokenize(text)`: Punkt sentence split, then NLTKWordTokenizer on each sentence.

/// Splits text into words exactly as `nltk.word_tokenize` (NLTK 3.10.4, English Punkt model).
public struct WordTokenizer: Sendable {
    public let sentenceSplitter: PunktSentenceTokenizer
    public let treebank = TreebankWordTokenizer()

    public init(sentenceSplitter: PunktSentenceTokenizer = PunktSentenceTokenizer()) {
        self.sentenceSplitter = sentenceSplitter
    }

    public func tokenize(_ text: String) -> [String] {
        sentenceSplitter.sentences(text).flatMap { treebank.tokenize($0) }
    }
}
