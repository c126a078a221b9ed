// The categories a reference word is counted under: gold POS and NER (CoNLL-2003), rule-based classes for
// any text, position in the chunk, and pretraining frequency.

import LetheText

/// The reference's 14 coarse part-of-speech classes (ouroboros eval_analysis/connl/pos_analysis.py, pos_to_cat).
public enum POSClass: String, CaseIterable, Codable, Sendable {
    case noun = "NOUN", verb = "VERB", adj = "ADJ", adv = "ADV", adp = "ADP", det = "DET", pron = "PRON"
    case prt = "PRT", conj = "CONJ", num = "NUM", sym = "SYM", punct = "PUNCT", x = "X", intj = "INTJ"

    /// The class of a Penn Treebank tag as CoNLL-2003 writes it; nil for anything else (e.g. -X- of -DOCSTART-).
    public init?(pennTag: String) {
        switch pennTag {
        case "NN", "NNS", "NNP", "NNPS", "NN|SYM": self = .noun
        case "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD": self = .verb
        case "JJ", "JJR", "JJS": self = .adj
        case "RB", "RBR", "RBS", "WRB", "EX": self = .adv
        case "IN", "TO": self = .adp
        case "DT", "PDT", "WDT": self = .det
        case "PRP", "PRP$", "WP", "WP$": self = .pron
        case "POS", "RP": self = .prt
        case "CC": self = .conj
        case "CD", "LS": self = .num
        case "#", "$", "SYM": self = .sym
        case "\"", "''", "``", "(", ")", ",", ".", ":": self = .punct
        case "FW": self = .x
        case "UH": self = .intj
        default: return nil
        }
    }

    /// The reference drops these two rare classes from its POS table and its t-tests.
    public static let excludedByReference: Set<POSClass> = [.x, .intj]
}

/// Named-entity type with B- and I- merged (CoNLL-2003 IOB1 tags), or `.none` outside entities.
public enum NERClass: String, CaseIterable, Codable, Sendable {
    case person = "PER", organization = "ORG", location = "LOC", misc = "MISC", none = "O"

    public init?(tag: String) {
        if tag == "O" { self = .none; return }
        guard tag.hasPrefix("B-") || tag.hasPrefix("I-"), let type = NERClass(rawValue: String(tag.dropFirst(2))),
              type != .none else { return nil }
        self = type
    }
}

/// Rule-based class of a word in any text. Each word gets exactly one: the first rule that holds, in the
/// order of the cases.
public enum WordClass: String, CaseIterable, Codable, Sendable {
    /// Contains "://", or starts with "www." (any case), or looks like an e-mail address (x@y.z).
    case url
    /// Optional sign, digits with optional `,`/`.` groups, optional `%`: "3", "-2.5", "1,000", "50%", ".5".
    case number
    /// An operator or expression: a word of only math symbols (Unicode Sm, or + = ^ × ÷); a word of only
    /// "-", "/", "*" and "%" ("-", "--", "//") in a math context; or a mix of digits, single letters, `.`, `,`, parentheses and operators
    /// with at least one operator and one digit or letter, and no two letters in a row ("2=18", "x+1").
    case math
    /// A single letter in a math context: next to a number or an operator ("-", "/", "*", "%" and words of them
    /// count as operators only in math text or next to a number). "a", "A" and "I" count only
    /// when next to an operator (next to a number they are usually the article or pronoun: "a 5 kg bag").
    case variable
    /// Identifier- or code-like: letters or digits together with one of _ { } [ ] ; = < > \ | ` ~, or
    /// camelCase (a lowercase first letter followed later by an uppercase one).
    case code
    /// Only punctuation and symbols (Unicode P* and S*), and not math.
    case punctuation
    /// First character an uppercase letter (sentence-initial words included).
    case capitalized
    /// Everything else: ordinary lowercase words.
    case word

    static let operatorCharacters: Set<Unicode.Scalar> = ["+", "=", "^", "×", "÷", "-", "/", "*", "%", "<", ">", "−"]
    /// Dashes, slashes, stars and percent signs: in prose ("--" in news, "/" in "and/or") they are punctuation, so a
    /// word made only of them is an operator only in a math context.
    static let ambiguousOperatorCharacters: Set<Unicode.Scalar> = ["-", "/", "*", "%"]

    /// Classifies `words[index]`. `mathChunk`: the chunk is math text (e.g. GSM8K), so ambiguous operators
    /// count as math.
    public static func classify(_ words: [String], at index: Int, mathChunk: Bool = false) -> WordClass {
        let word = words[index]
        let s = Array(word.unicodeScalars)
        guard !s.isEmpty else { return .word }
        if isURL(word) { return .url }
        if isNumber(s) { return .number }
        func neighbours(_ test: (String) -> Bool) -> Bool {
            (index > 0 && test(words[index - 1])) || (index + 1 < words.count && test(words[index + 1]))
        }
        func numberAt(_ j: Int) -> Bool { words.indices.contains(j) && isNumber(Array(words[j].unicodeScalars)) }
        func operatorAt(_ j: Int) -> Bool {
            guard words.indices.contains(j) else { return false }
            let u = Array(words[j].unicodeScalars)
            if isExpression(u) { return true }
            return isOperatorWord(u) && (!isAmbiguousOperator(u) || mathChunk || numberAt(j - 1) || numberAt(j + 1))
        }
        let nearOperator = operatorAt(index - 1) || operatorAt(index + 1)
        let nearNumber = numberAt(index - 1) || numberAt(index + 1)
        let mathContext = mathChunk || nearOperator || nearNumber
        if isOperatorWord(s) && (!isAmbiguousOperator(s) || mathContext) { return .math }
        if isExpression(s) { return .math }
        if s.count == 1 && s[0].properties.isAlphabetic && s[0].isASCII {
            let articleOrPronoun = word == "a" || word == "A" || word == "I"
            if nearOperator || (nearNumber && !articleOrPronoun) { return .variable }
        }
        if isCode(s) { return .code }
        if s.allSatisfy(isPunctuationOrSymbol) { return .punctuation }
        if s[0].isPythonUpper { return .capitalized }
        return .word
    }

    static func isURL(_ word: String) -> Bool {
        let lower = word.lowercased()
        if lower.contains("://") || lower.hasPrefix("www.") { return true }
        let parts = lower.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    static func isNumber(_ s: [Unicode.Scalar]) -> Bool {
        var i = 0, end = s.count
        if end > 0 && s[end - 1] == "%" { end -= 1 }
        if i < end && (s[i] == "-" || s[i] == "+") { i += 1 }
        guard i < end else { return false }
        var sawDigit = false, previousWasSeparator = true
        while i < end {
            if isDigit(s[i]) {
                sawDigit = true; previousWasSeparator = false
            } else if s[i] == "." || s[i] == "," {
                // a separator needs a digit after it, and, except a leading ".", before it
                if previousWasSeparator && (sawDigit || s[i] == ",") { return false }
                previousWasSeparator = true
            } else {
                return false
            }
            i += 1
        }
        return sawDigit && !previousWasSeparator
    }

    static func isOperator(_ c: Unicode.Scalar) -> Bool {
        operatorCharacters.contains(c) || c.properties.generalCategory == .mathSymbol
    }

    static func isOperatorWord(_ s: [Unicode.Scalar]) -> Bool { !s.isEmpty && s.allSatisfy(isOperator) }

    static func isAmbiguousOperator(_ s: [Unicode.Scalar]) -> Bool { !s.isEmpty && s.allSatisfy(ambiguousOperatorCharacters.contains) }

    static func isExpression(_ s: [Unicode.Scalar]) -> Bool {
        var operators = 0, operands = 0
        for (k, c) in s.enumerated() {
            if isOperator(c) { operators += 1 }
            else if isDigit(c) { operands += 1 }
            else if c.isASCII && c.properties.isAlphabetic {
                if k > 0 && s[k - 1].isASCII && s[k - 1].properties.isAlphabetic { return false }
                operands += 1
            } else if !(c == "." || c == "," || c == "(" || c == ")") { return false }
        }
        return operators > 0 && operands > 0
    }

    static func isCode(_ s: [Unicode.Scalar]) -> Bool {
        guard s.count >= 2 else { return false }
        let codeMarks: Set<Unicode.Scalar> = ["_", "{", "}", "[", "]", ";", "=", "<", ">", "\\", "|", "`", "~"]
        let hasAlphanumeric = s.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        if hasAlphanumeric && s.contains(where: codeMarks.contains) { return true }
        guard s[0].isPythonLower else { return false }
        return s.dropFirst().contains { $0.isPythonUpper }
    }

    static func isPunctuationOrSymbol(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }
}

/// Equal-width bins of relative position: word `index` of `count` falls in bin floor((index + 0.5) / count * bins),
/// so each bin covers a 1/bins slice of the chunk whatever its length.
public func positionBin(index: Int, count: Int, bins: Int) -> Int {
    precondition(count > 0 && bins > 0 && (0..<count).contains(index), "positionBin: index \(index) outside 0..<\(count)")
    return min(Int((Double(index) + 0.5) / Double(count) * Double(bins)), bins - 1)
}

/// Log-spaced frequency bins: [base^k, base^(k+1)) is bin k, and a count of 0 is bin -1. Integer arithmetic,
/// so 1000 is in [1000, 10000) exactly.
public func logBin(_ count: Int64, base: Int64 = 10) -> Int {
    precondition(count >= 0 && base >= 2, "logBin: count \(count), base \(base)")
    if count == 0 { return -1 }
    var k = 0, edge: Int64 = base
    while edge <= count {
        k += 1
        let (next, overflow) = edge.multipliedReportingOverflow(by: base)
        if overflow { break }
        edge = next
    }
    return k
}

/// The [low, high) counts of log bin `k` (high saturates at Int64.max).
public func logBinBounds(_ k: Int, base: Int64 = 10) -> (low: Int64, high: Int64) {
    if k < 0 { return (0, 1) }
    var low: Int64 = 1
    for _ in 0..<k { low = low.multipliedReportingOverflow(by: base).overflow ? .max : low * base }
    let (high, overflow) = low.multipliedReportingOverflow(by: base)
    return (low, overflow ? .max : high)
}
