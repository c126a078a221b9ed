// NLTK's Punkt sentence splitter at inference time (nltk/tokenize/punkt.py, NLTK 3.10.4:
// PunktSentenceTokenizer.span_tokenize with realign_boundaries=True), with the English model NLTK ships as
// punkt_tab (Resources/punkt-english.tsv.zst, read by PunktModelFile). Training is not reproduced: Lethe only applies the trained model.
// Positions are code-point offsets, as in Python.

/// The trained tables of a Punkt model (PunktParameters in NLTK).
public struct PunktParameters: Sendable {
    public var abbreviations: Set<String> = []
    public var collocations: Set<[String]> = []
    public var sentenceStarters: Set<String> = []
    public var orthographicContext: [String: Int] = [:]

    public init() {}

    /// Reads the model's line format (`a`, `s`, `c`, `o` entries, tab separated; see PunktModelFile).
    init(modelText: String) {
        for line in modelText.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch fields[0] {
            case "a": abbreviations.insert(fields[1])
            case "s": sentenceStarters.insert(fields[1])
            case "c": collocations.insert([fields[1], fields[2]])
            case "o": orthographicContext[fields[1]] = Int(fields[2])!
            default: break
            }
        }
    }

    /// NLTK's `punkt_tab/english` model.
    public static let english = PunktParameters(modelText: PunktModelFile.englishText())
}

/// Orthographic context flags (punkt.py `_ORTHO_*`).
private enum Ortho {
    static let begUC = 1 << 1, midUC = 1 << 2, unkUC = 1 << 3
    static let begLC = 1 << 4, midLC = 1 << 5, unkLC = 1 << 6
    static let uc = begUC | midUC | unkUC
    static let lc = begLC | midLC | unkLC
}

public struct PunktSentenceTokenizer: Sendable {
    public let parameters: PunktParameters

    public init(parameters: PunktParameters = .english) {
        self.parameters = parameters
    }

    /// The sentences of `text`, as `PunktSentenceTokenizer.tokenize(text)`.
    public func sentences(_ text: String) -> [String] {
        let t = Array(text.unicodeScalars)
        return spans(t).map { String(String.UnicodeScalarView(t[$0])) }
    }

    /// Sentence spans in code points, as `span_tokenize(text)`.
    func spans(_ t: [Unicode.Scalar]) -> [Range<Int>] {
        realignBoundaries(t, slicesFromText(t))
    }

    // MARK: - Candidate boundaries

    /// A match of `period_context_re`: `[.?!](?=(?P<after_tok>NonWord|\s+(?P<next_tok>\S+)))`.
    struct EndContext {
        var position: Int          // the [.?!] character; the match ends at position + 1
        var afterEnd: Int          // end of after_tok
        var nextTokenStart: Int?   // start of next_tok, when the lookahead took the whitespace branch
    }

    /// `_re_non_word_chars`: characters that cannot appear within words.
    static func isNonWord(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case ")", "\"", ";", "}", "]", "*", ":", "@", "'", "(", "{", "[", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}",
             "\u{AB}", "\u{BB}", "?", "!":
            return true
        default:
            return false
        }
    }

    func endContexts(_ t: [Unicode.Scalar]) -> [EndContext] {
        var found: [EndContext] = []
        for p in t.indices where t[p] == "." || t[p] == "?" || t[p] == "!" {
            let q = p + 1
            guard q < t.count else { continue }
            if Self.isNonWord(t[q]) {
                found.append(EndContext(position: p, afterEnd: q + 1, nextTokenStart: nil))
            } else if t[q].isRegexSpace {
                var s = q
                while s < t.count && t[s].isRegexSpace { s += 1 }
                guard s < t.count else { continue }
                var e = s
                while e < t.count && !t[e].isRegexSpace { e += 1 }
                found.append(EndContext(position: p, afterEnd: e, nextTokenStart: s))
            }
        }
        return found
    }

    /// `_match_potential_end_contexts`: each candidate with the text from the start of the word before it
    /// to the end of the token after it; a candidate whose word overlaps the next candidate's is dropped.
    func potentialEndContexts(_ t: [Unicode.Scalar]) -> [(EndContext, [Unicode.Scalar])] {
        var result: [(EndContext, [Unicode.Scalar])] = []
        var previousSlice = 0..<0
        var previous: EndContext? = nil
        func context(_ m: EndContext, _ word: Range<Int>) -> [Unicode.Scalar] {
            Array(t[word]) + Array(t[m.position..<m.afterEnd])
        }
        for m in endContexts(t) {
            // _get_last_whitespace_index: the last ASCII whitespace of the text between, or 0 if none
            // (also 0 when it is the first character, as in NLTK).
            var lastSpace = 0
            var i = m.position - 1
            while i >= previousSlice.upperBound {
                if Self.isASCIIWhitespace(t[i]) { lastSpace = i - previousSlice.upperBound; break }
                i -= 1
            }
            let wordStart = lastSpace != 0 ? lastSpace + previousSlice.upperBound + 1 : previousSlice.lowerBound
            let word = wordStart..<m.position
            if let prev = previous, previousSlice.upperBound <= word.lowerBound {
                result.append((prev, context(prev, previousSlice)))
            }
            previous = m
            previousSlice = word
        }
        if let prev = previous { result.append((prev, context(prev, previousSlice))) }
        return result
    }

    /// Python's `string.whitespace`.
    static func isASCIIWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
    }

    func slicesFromText(_ t: [Unicode.Scalar]) -> [Range<Int>] {
        var slices: [Range<Int>] = []
        var lastBreak = 0
        for (m, context) in potentialEndContexts(t) where containsSentenceBreak(context) {
            slices.append(lastBreak..<(m.position + 1))
            lastBreak = m.nextTokenStart ?? (m.position + 1)
        }
        var end = t.count
        while end > 0 && t[end - 1].isPythonSpace { end -= 1 } // text.rstrip()
        slices.append(lastBreak..<max(end, lastBreak))
        return slices
    }

    /// `_realign_boundaries`: closing quotes and brackets after a break move to the sentence before it.
    func realignBoundaries(_ t: [Unicode.Scalar], _ slices: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var realign = 0
        for (k, slice) in slices.enumerated() {
            let sentence1 = (slice.lowerBound + realign)..<max(slice.upperBound, slice.lowerBound + realign)
            guard k + 1 < slices.count else {
                if !sentence1.isEmpty { result.append(sentence1) }
                continue
            }
            let sentence2 = slices[k + 1]
            if let (matchLength, strippedLength) = boundaryRealignment(t, sentence2) {
                result.append(sentence1.lowerBound..<(sentence2.lowerBound + strippedLength))
                realign = matchLength
            } else {
                realign = 0
                if !sentence1.isEmpty { result.append(sentence1) }
            }
        }
        return result
    }

    /// `re_boundary_realignment.match(text[sentence2])`: `["\')\]}‘’“”«»]+?(?:\s+|(?=--)|$)` (MULTILINE).
    /// Returns the match length and the length of the match with trailing whitespace stripped.
    func boundaryRealignment(_ t: [Unicode.Scalar], _ range: Range<Int>) -> (Int, Int)? {
        func isCloser(_ c: Unicode.Scalar) -> Bool {
            switch c {
            case "\"", "'", ")", "]", "}", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}", "\u{AB}", "\u{BB}": return true
            default: return false
            }
        }
        let start = range.lowerBound, end = range.upperBound
        var q = start
        while q < end && isCloser(t[q]) {
            q += 1
            if q < end && t[q].isRegexSpace {
                var e = q
                while e < end && t[e].isRegexSpace { e += 1 }
                return (e - start, q - start)
            }
            if q == end || (q + 1 < end && t[q] == "-" && t[q + 1] == "-") { return (q - start, q - start) }
        }
        return nil
    }

    // MARK: - Tokens and annotation

    struct Token {
        var text: [Unicode.Scalar]
        var type: String
        var periodFinal: Bool
        var sentenceBreak = false
        var abbreviation = false
        var ellipsis = false

        init(_ text: [Unicode.Scalar]) {
            self.text = text
            self.periodFinal = text.last == "."
            let lower = pythonLowercased(text)
            self.type = Token.isNumeric(lower) ? "##number##" : String(String.UnicodeScalarView(lower))
        }

        /// `^-?[\.,]?\d[\d,\.-]*\.?$`
        static func isNumeric(_ s: [Unicode.Scalar]) -> Bool {
            var i = 0
            if i < s.count && s[i] == "-" { i += 1 }
            if i < s.count && (s[i] == "." || s[i] == ",") { i += 1 }
            guard i < s.count && s[i].isRegexDigit else { return false }
            i += 1
            while i < s.count && (s[i].isRegexDigit || s[i] == "," || s[i] == "." || s[i] == "-") { i += 1 }
            return i == s.count
        }

        var typeNoPeriod: String {
            type.unicodeScalars.count > 1 && type.unicodeScalars.last == "." ? String(type.unicodeScalars.dropLast()) : type
        }
        var typeNoSentencePeriod: String { sentenceBreak ? typeNoPeriod : type }
        var firstUpper: Bool { text[0].isPythonUpper }
        var firstLower: Bool { text[0].isPythonLower }
        /// `\.\.+$`
        var isEllipsis: Bool { text.count >= 2 && text.allSatisfy { $0 == "." } }
        /// `[^\W\d]\.$`
        var isInitial: Bool { text.count == 2 && text[1] == "." && text[0].isRegexWord && !text[0].isRegexDigit }
        var isNumber: Bool { type.hasPrefix("##number##") }
    }

    /// `text_contains_sentbreak`: whether a token other than the last is annotated as a sentence break.
    func containsSentenceBreak(_ context: [Unicode.Scalar]) -> Bool {
        let tokens = annotate(words(context))
        return tokens.dropLast().contains { $0.sentenceBreak }
    }

    /// `_tokenize_words`: Punkt's own word split, line by line.
    func words(_ text: [Unicode.Scalar]) -> [Token] {
        var tokens: [Token] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = Array(line)
            var p = 0
            while p < l.count {
                if let e = wordEnd(l, at: p) {
                    tokens.append(Token(Array(l[p..<e])))
                    p = e
                } else {
                    p += 1
                }
            }
        }
        return tokens
    }

    /// `_re_multi_char_punct` at `p`: `\-{2,}|\.{2,}|(?:\.\s){2,}\.`; returns the match end.
    static func multiCharEnd(_ s: [Unicode.Scalar], at p: Int) -> Int? {
        guard p < s.count else { return nil }
        for c in ["-", "."] as [Unicode.Scalar] where s[p] == c {
            var e = p
            while e < s.count && s[e] == c { e += 1 }
            if e - p >= 2 { return e }
        }
        var pairs = 0
        while p + 2 * pairs + 1 < s.count && s[p + 2 * pairs] == "." && s[p + 2 * pairs + 1].isRegexSpace { pairs += 1 }
        if pairs >= 2 {
            if p + 2 * pairs < s.count && s[p + 2 * pairs] == "." { return p + 2 * pairs + 1 }
            if pairs >= 3 { return p + 2 * pairs - 1 }
        }
        return nil
    }

    /// One match of the Punkt word regex at `p`: multi-character punctuation, or a word (lazily up to the
    /// first position where a word may end), or any single non-space character; nil on whitespace.
    func wordEnd(_ s: [Unicode.Scalar], at p: Int) -> Int? {
        if let e = Self.multiCharEnd(s, at: p) { return e }
        guard !s[p].isRegexSpace else { return nil }
        let cannotStartWord = "(\"`{[:;&#*@)}]-,".unicodeScalars.contains(s[p])
        if cannotStartWord { return p + 1 }
        func atEnd(_ i: Int) -> Bool { i == s.count || (i == s.count - 1 && s[i] == "\n") }
        var e = p + 1
        while true {
            if atEnd(e) || s[e].isRegexSpace || Self.isNonWord(s[e]) || Self.multiCharEnd(s, at: e) != nil { return e }
            if s[e] == "," {
                let f = e + 1
                if atEnd(f) || s[f].isRegexSpace || Self.isNonWord(s[f]) || Self.multiCharEnd(s, at: f) != nil { return e }
            }
            e += 1
        }
    }

    func annotate(_ tokens: [Token]) -> [Token] {
        var tokens = tokens
        for i in tokens.indices { firstPass(&tokens[i]) }
        for i in tokens.indices.dropLast() { secondPass(&tokens[i], next: tokens[i + 1]) }
        return tokens
    }

    private func firstPass(_ token: inout Token) {
        let t = token.text
        if t.count == 1 && (t[0] == "." || t[0] == "?" || t[0] == "!") {
            token.sentenceBreak = true
        } else if token.isEllipsis {
            token.ellipsis = true
        } else if token.periodFinal && !(t.count >= 2 && t[t.count - 2] == ".") {
            let stem = String(String.UnicodeScalarView(pythonLowercased(Array(t.dropLast()))))
            let afterHyphen = stem.split(separator: "-", omittingEmptySubsequences: false).last.map(String.init) ?? stem
            if parameters.abbreviations.contains(stem) || parameters.abbreviations.contains(afterHyphen) {
                token.abbreviation = true
            } else {
                token.sentenceBreak = true
            }
        }
    }

    private func secondPass(_ token: inout Token, next: Token) {
        guard token.periodFinal else { return }
        let type = token.typeNoPeriod
        let nextType = next.typeNoSentencePeriod
        let isInitial = token.isInitial
        // 4.1.2 collocation heuristic
        if parameters.collocations.contains([type, nextType]) {
            token.sentenceBreak = false
            token.abbreviation = true
            return
        }
        // 4.2 an abbreviation or ellipsis may also end a sentence
        if (token.abbreviation || token.ellipsis) && !isInitial {
            if orthographicHeuristic(next) == true {
                token.sentenceBreak = true
                return
            }
            if next.firstUpper && parameters.sentenceStarters.contains(nextType) {
                token.sentenceBreak = true
                return
            }
        }
        // 4.3 initials and ordinals
        if isInitial || type == "##number##" {
            let starter = orthographicHeuristic(next)
            if starter == false {
                token.sentenceBreak = false
                token.abbreviation = true
                return
            }
            if starter == nil && isInitial && next.firstUpper
                && (parameters.orthographicContext[nextType] ?? 0) & Ortho.lc == 0 {
                token.sentenceBreak = false
                token.abbreviation = true
            }
        }
    }

    /// Whether `token` starts a sentence: true, false, or nil for unknown.
    private func orthographicHeuristic(_ token: Token) -> Bool? {
        if token.text.count == 1 && ";:,.!?".unicodeScalars.contains(token.text[0]) { return false }
        let context = parameters.orthographicContext[token.typeNoSentencePeriod] ?? 0
        if token.firstUpper && context & Ortho.lc != 0 && context & Ortho.midUC == 0 { return true }
        if token.firstLower && (context & Ortho.uc != 0 || context & Ortho.begLC == 0) { return false }
        return nil
    }
}
