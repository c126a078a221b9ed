// NLTK's NLTKWordTokenizer (nltk/tokenize/destructive.py, NLTK 3.10.4), the improved Penn Treebank
// tokenizer that `nltk.word_tokenize` applies to each sentence. NLTK rewrites the text with a fixed list of
// regular-expression substitutions and splits the result on whitespace; each pass below is one of those
// substitutions, written as a scan over Unicode scalars (Python indexes strings by code point) with the
// pattern it implements above it. Like `re.sub`, every pass reads the text as it was before the pass and
// takes matches left to right without overlap. Tested token for token against NLTK on real sentences.

/// Splits one sentence into Treebank words exactly as `nltk.tokenize.NLTKWordTokenizer().tokenize`.
public struct TreebankWordTokenizer: Sendable {
    public init() {}

    public func tokenize(_ sentence: String) -> [String] {
        pythonSplit(rewrite(Array(sentence.unicodeScalars)))
    }

    /// The text after all substitutions, before the final whitespace split.
    func rewrite(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var t = input
        // STARTING_QUOTES
        t = padQuoteMarksAndBacktickRuns(t)              // ([«“‘„]|[`]+)  ->  " \1 "
        if t.first == "\"" { t.replaceSubrange(0..<1, with: ["`", "`"]) } // ^\"  ->  ``
        t = replaceLiteral(t, "``", with: " `` ")       // (``)  ->  " \1 "
        t = openingDoubleQuotes(t)                       // ([ \(\[{<])(\"|\'{2})  ->  "\1 `` "
        t = splitLeadingApostrophes(t)                   // (?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)  ->  "\1 "
        // PUNCTUATION
        t = finalPeriod(t, closers: Self.closersWithSpace, spaceAfterPeriod: true) // ([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$  ->  "\1 \2 \3 "
        t = colonsAndCommasBeforeNonDigits(t)            // ([:,])([^\d])  ->  " \1 \2"
        t = colonOrCommaAtEnd(t)                         // ([:,])$  ->  " \1 "
        t = padRuns(t, of: ".", minimum: 2)              // \.{2,}  ->  " \g<0> "
        t = pad(t) { $0 == ";" || $0 == "@" || $0 == "#" || $0 == "$" || $0 == "%" || $0 == "&" } // [;@#$%&]
        t = pad(t) { (0x2012...0x2015).contains($0.value) } // [\u2012-\u2015]
        t = finalPeriod(t, closers: Self.asciiClosers, spaceAfterPeriod: false) // ([^\.])(\.)([\]\)}>"\']*)\s*$  ->  "\1 \2\3 "
        t = pad(t) { $0 == "?" || $0 == "!" }            // [?!]
        t = apostropheBeforeSpace(t)                     // ([^'])' (space)  ->  "\1 ' "
        t = pad(t) { $0 == "*" }                         // [*]
        // PARENS_BRACKETS, DOUBLE_DASHES
        t = pad(t) { $0 == "[" || $0 == "]" || $0 == "(" || $0 == ")" || $0 == "{" || $0 == "}" || $0 == "<" || $0 == ">" }
        t = replaceLiteral(t, "--", with: " -- ")
        t = [" "] + t + [" "]
        // ENDING_QUOTES
        t = pad(t) { $0 == "»" || $0 == "”" || $0 == "’" }
        t = replaceLiteral(t, "''", with: " '' ")
        t = replaceLiteral(t, "\"", with: " '' ")
        t = collapseWhitespace(t)                        // \s+  ->  " "
        t = splitClitics(t, Self.shortClitics)           // ([^' ])('[sS]|'[mM]|'[dD]|') (space)  ->  "\1 \2 "
        t = splitClitics(t, Self.longClitics)            // ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) (space)  ->  "\1 \2 "
        // CONTRACTIONS2 and CONTRACTIONS3 (compiled with the standard `re`: its \w and case folding)
        for contraction in Self.contractions { t = splitContraction(t, contraction) }
        return t
    }

    // MARK: - Tables

    static let asciiClosers: Set<Unicode.Scalar> = ["]", ")", "}", ">", "\"", "'"]
    static let closersWithSpace: Set<Unicode.Scalar> = asciiClosers.union(["»", "”", "’", " "])
    /// The clitic alternatives, in pattern order (the last short one is the bare apostrophe).
    static let shortClitics: [[Unicode.Scalar]] = ["'s", "'S", "'m", "'M", "'d", "'D", "'"].map { Array($0.unicodeScalars) }
    static let longClitics: [[Unicode.Scalar]] = ["'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"].map { Array($0.unicodeScalars) }
    /// Apostrophe-initial words that keep their apostrophe attached: (?:re|ve|ll|m|t|s|d|n)\b.
    static let attachedAfterApostrophe: [[Unicode.Scalar]] = ["re", "ve", "ll", "m", "t", "s", "d", "n"].map { Array($0.unicodeScalars) }

    /// MacIntyre's contractions: `(?i)\b(first)(second)\b` -> " \1 \2 ", except `wanna` (followed by \s) and
    /// the two `(?i) ('t)(is|was)\b` forms, which must be preceded by a space.
    struct Contraction {
        var first: [Unicode.Scalar]
        var second: [Unicode.Scalar]
        var afterSpace = false
        var beforeSpace = false
    }
    static let contractions: [Contraction] = [
        ("can", "not"), ("d", "'ye"), ("gim", "me"), ("gon", "na"), ("got", "ta"), ("lem", "me"), ("more", "'n"),
    ].map { Contraction(first: Array($0.0.unicodeScalars), second: Array($0.1.unicodeScalars)) }
        + [Contraction(first: Array("wan".unicodeScalars), second: Array("na".unicodeScalars), beforeSpace: true),
           Contraction(first: Array("'t".unicodeScalars), second: Array("is".unicodeScalars), afterSpace: true),
           Contraction(first: Array("'t".unicodeScalars), second: Array("was".unicodeScalars), afterSpace: true)]

    // MARK: - Passes

    private func pad(_ t: [Unicode.Scalar], where matches: (Unicode.Scalar) -> Bool) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        for c in t {
            if matches(c) { out.append(" "); out.append(c); out.append(" ") } else { out.append(c) }
        }
        return out
    }

    /// Pads maximal runs of `scalar` at least `minimum` long (`scalar{minimum,}` -> " \g<0> ").
    private func padRuns(_ t: [Unicode.Scalar], of scalar: Unicode.Scalar, minimum: Int) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            var j = i
            while j < t.count && t[j] == scalar { j += 1 }
            if j - i >= minimum {
                out.append(" "); out.append(contentsOf: t[i..<j]); out.append(" ")
                i = j
            } else if j > i {
                out.append(contentsOf: t[i..<j]); i = j
            } else {
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    private func padQuoteMarksAndBacktickRuns(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        padRuns(pad(t) { $0 == "«" || $0 == "“" || $0 == "‘" || $0 == "„" }, of: "`", minimum: 1)
    }

    private func replaceLiteral(_ t: [Unicode.Scalar], _ literal: String, with replacement: String) -> [Unicode.Scalar] {
        let lit = Array(literal.unicodeScalars), rep = Array(replacement.unicodeScalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            if t[i] == lit[0] && i + lit.count <= t.count && t[i..<(i + lit.count)].elementsEqual(lit) {
                out.append(contentsOf: rep); i += lit.count
            } else {
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    private func openingDoubleQuotes(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            let opener = t[i] == " " || t[i] == "(" || t[i] == "[" || t[i] == "{" || t[i] == "<"
            if opener && i + 1 < t.count {
                var quoteLength = 0
                if t[i + 1] == "\"" { quoteLength = 1 } else if t[i + 1] == "'" && i + 2 < t.count && t[i + 2] == "'" { quoteLength = 2 }
                if quoteLength > 0 {
                    out.append(t[i]); out.append(contentsOf: " `` ".unicodeScalars)
                    i += 1 + quoteLength
                    continue
                }
            }
            out.append(t[i]); i += 1
        }
        return out
    }

    private func splitLeadingApostrophes(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        for i in t.indices {
            out.append(t[i])
            guard t[i] == "'", i == 0 || !t[i - 1].isRegexWord, i + 1 < t.count, t[i + 1].isRegexWord else { continue }
            let attached = Self.attachedAfterApostrophe.contains { word in
                let end = i + 1 + word.count
                guard end <= t.count else { return false }
                for k in 0..<word.count where !t[i + 1 + k].matchesIgnoringCase(word[k], stdlibRe: false) { return false }
                return end == t.count || !t[end].isRegexWord
            }
            if !attached { out.append(" ") }
        }
        return out
    }

    /// `([^\.])(\.)([closers]*)\s*$`: the leftmost non-period, period, run of closers, and nothing but
    /// whitespace to the end. The run is maximal either way (possessive in the first pattern; in the second
    /// no closer is whitespace, so backtracking cannot help). Everything after the period lies in the text's
    /// final stretch of closers and whitespace, so only that stretch is searched.
    private func finalPeriod(_ t: [Unicode.Scalar], closers: Set<Unicode.Scalar>, spaceAfterPeriod: Bool) -> [Unicode.Scalar] {
        let n = t.count
        var tail = n
        while tail > 0 && (closers.contains(t[tail - 1]) || t[tail - 1].isRegexSpace) { tail -= 1 }
        for i in max(0, tail - 2)..<max(0, n - 1) where t[i] != "." && t[i + 1] == "." {
            var runEnd = i + 2
            while runEnd < n && closers.contains(t[runEnd]) { runEnd += 1 }
            guard t[runEnd...].allSatisfy({ $0.isRegexSpace }) else { continue }
            var out = Array(t[0...i])
            out.append(" "); out.append(".")
            if spaceAfterPeriod { out.append(" ") }
            out.append(contentsOf: t[(i + 2)..<runEnd])
            out.append(" ")
            return out
        }
        return t
    }

    private func colonsAndCommasBeforeNonDigits(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            if (t[i] == ":" || t[i] == ",") && i + 1 < t.count && !t[i + 1].isRegexDigit {
                out.append(" "); out.append(t[i]); out.append(" "); out.append(t[i + 1])
                i += 2
            } else {
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    /// `([:,])$`, where `$` also matches before a final newline.
    private func colonOrCommaAtEnd(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let n = t.count
        for i in [n - 2, n - 1] where i >= 0 && (t[i] == ":" || t[i] == ",") && (i == n - 1 || t[n - 1] == "\n") {
            return Array(t[..<i]) + [" ", t[i], " "] + Array(t[(i + 1)...])
        }
        return t
    }

    private func apostropheBeforeSpace(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            if t[i] != "'" && i + 2 < t.count && t[i + 1] == "'" && t[i + 2] == " " {
                out.append(t[i]); out.append(contentsOf: " ' ".unicodeScalars)
                i += 3
            } else {
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    private func collapseWhitespace(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count)
        var inSpace = false
        for c in t {
            if c.isRegexSpace {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(c); inSpace = false
            }
        }
        return out
    }

    /// `([^' ])(alternatives) ` -> "\1 \2 ": the first alternative (in order) followed by a space wins.
    private func splitClitics(_ t: [Unicode.Scalar], _ alternatives: [[Unicode.Scalar]]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        scan: while i < t.count {
            if t[i] != "'" && t[i] != " " {
                for alt in alternatives {
                    let end = i + 1 + alt.count
                    if end < t.count && t[end] == " " && t[(i + 1)..<end].elementsEqual(alt) {
                        out.append(t[i]); out.append(" "); out.append(contentsOf: alt); out.append(" ")
                        i = end + 1
                        continue scan
                    }
                }
            }
            out.append(t[i]); i += 1
        }
        return out
    }

    private func splitContraction(_ t: [Unicode.Scalar], _ c: Contraction) -> [Unicode.Scalar] {
        let word = c.first + c.second
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count + 16)
        var i = 0
        scan: while i < t.count {
            let start = c.afterSpace ? i + 1 : i
            let end = start + word.count
            var matched = end <= t.count && t[start].matchesIgnoringCase(word[0], stdlibRe: true)
            if matched {
                for k in 1..<word.count where !t[start + k].matchesIgnoringCase(word[k], stdlibRe: true) {
                    matched = false
                    break
                }
            }
            if matched { matched = c.afterSpace ? t[i] == " " : (i == 0 || !t[i - 1].isPythonReWord) }
            if matched {
                matched = c.beforeSpace ? (end < t.count && t[end].isPythonSpace) : (end == t.count || !t[end].isPythonReWord)
            }
            if matched {
                out.append(" "); out.append(contentsOf: t[start..<(start + c.first.count)])
                out.append(" "); out.append(contentsOf: t[(start + c.first.count)..<end]); out.append(" ")
                i = end
                continue scan
            }
            out.append(t[i]); i += 1
        }
        return out
    }
}
