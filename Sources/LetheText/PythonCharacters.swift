// The character classes of Python's regular expressions, reproduced over Unicode scalar properties so
// the word tokenizers agree with NLTK without a regex engine. NLTK compiles most of its patterns with
// the third-party `regex` module and a few with the standard `re`; the two disagree on `\w` and `\s`,
// so both are here. Tested code point by code point against Python (Tests/Fixtures/analysis).

extension Unicode.Scalar {
    /// `\w` of Python's `re` on str: `_` or `str.isalnum()` (letters L*, and anything with a Numeric_Type).
    var isPythonReWord: Bool {
        if isASCII { return isASCIIAlphanumeric || self == "_" }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return properties.numericType != nil
        }
    }

    /// `\w` of the `regex` module (Unicode TR18): Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
    var isRegexWord: Bool {
        if isASCII { return isASCIIAlphanumeric || self == "_" }
        let p = properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }

    /// `\d` of the `regex` module and of `re`: Decimal_Number.
    var isRegexDigit: Bool { isASCII ? (0x30...0x39).contains(value) : properties.generalCategory == .decimalNumber }

    /// `\s` of the `regex` module: the White_Space property.
    var isRegexSpace: Bool { isASCII ? value == 0x20 || (0x09...0x0D).contains(value) : properties.isWhitespace }

    /// `str.isspace()`, which is also `\s` of `re` and what `str.split()`/`str.strip()` use: White_Space
    /// plus the information separators U+001C...U+001F.
    public var isPythonSpace: Bool {
        isASCII ? (0x1C...0x20).contains(value) || (0x09...0x0D).contains(value) : properties.isWhitespace
    }

    /// `str.isupper()` / `str.islower()` of a single character: the Uppercase / Lowercase properties.
    public var isPythonUpper: Bool { isASCII ? (0x41...0x5A).contains(value) : properties.isUppercase }
    public var isPythonLower: Bool { isASCII ? (0x61...0x7A).contains(value) : properties.isLowercase }

    /// [A-Za-z0-9]; the character-class predicates above answer ASCII without a property lookup.
    var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
    }

    /// Whether this scalar matches the ASCII lowercase letter `letter` in a case-insensitive pattern.
    /// Besides the ASCII pair, `re` also matches İ and dotless ı to i, `regex` İ to i; both match ſ to s and
    /// the Kelvin sign to k.
    func matchesIgnoringCase(_ letter: Unicode.Scalar, stdlibRe: Bool) -> Bool {
        if self == letter || (letter.value >= 0x61 && letter.value <= 0x7A && value == letter.value - 0x20) {
            return true
        }
        switch letter {
        case "i": return value == 0x130 || (stdlibRe && value == 0x131)
        case "s": return value == 0x17F
        case "k": return value == 0x212A
        default: return false
        }
    }
}

/// Python's `str.lower()` on a sequence of scalars (full lowercase mappings, without the Greek final-sigma
/// context rule, which no Lethe comparison depends on).
public func pythonLowercased(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(text.count)
    for c in text {
        if c.isASCII {
            out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c)
        } else {
            out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
        }
    }
    return out
}

/// Python's `str.split()` with no argument: runs of `str.isspace()` characters separate fields.
func pythonSplit(_ text: [Unicode.Scalar]) -> [String] {
    var fields: [String] = []
    var start: Int? = nil
    for i in 0...text.count {
        let isSpace = i == text.count || text[i].isPythonSpace
        if isSpace {
            if let s = start {
                fields.append(String(String.UnicodeScalarView(text[s..<i])))
                start = nil
            }
        } else if start == nil {
            start = i
        }
    }
    return fields
}
