/// The character classes of the GPT-2 split pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// as Oniguruma (the regex engine of `tokenizers`) evaluates them: `\p{L}` = general category L*, `\p{N}` = N*,
/// `\s` = the Unicode White_Space property. Oniguruma's tables (as built into `tokenizers` 0.23) are those of
/// Unicode 16.0, Swift's are newer: a scalar assigned after 16.0 is unassigned to Oniguruma, so it is `other`.
/// Checked for every scalar against `tokenizers` (Tests/Fixtures/tokenizer/neox-scalar-classes.txt).
enum CharacterClass: UInt8 {
    case letter = 0, number, whitespace, other

    /// The Unicode version of the regex tables in `tokenizers` 0.23 (Oniguruma's, and Rust's regex crate's).
    static let oniguruma = (major: 16, minor: 0)

    init(_ scalar: Unicode.Scalar) {
        let properties = scalar.properties
        if properties.isWhitespace { self = .whitespace; return }
        guard let age = properties.age,
              (age.major, age.minor) <= CharacterClass.oniguruma else { self = .other; return }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }
}

/// `\w` of Rust's regex crate (used by `tokenizers` for single-word added tokens): Alphabetic, marks, decimal
/// digits, connector punctuation, Join_Control; its tables are Unicode 16.0 too, so newer scalars are not word
/// characters. Checked for every scalar against `tokenizers` (Tests/Fixtures/tokenizer/tiny-word-scalars.txt).
func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
    let properties = scalar.properties
    guard let age = properties.age, (age.major, age.minor) <= CharacterClass.oniguruma else { return false }
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

/// Decodes the scalar starting at `position` of valid UTF-8 and returns it with its length in bytes.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) -> (scalar: UInt32, length: Int) {
    let lead = UInt32(bytes[position])
    if lead < 0x80 { return (lead, 1) }
    if lead < 0xE0 { return ((lead & 0x1F) << 6 | UInt32(bytes[position + 1] & 0x3F), 2) }
    if lead < 0xF0 {
        return ((lead & 0x0F) << 12 | UInt32(bytes[position + 1] & 0x3F) << 6 | UInt32(bytes[position + 2] & 0x3F), 3)
    }
    return ((lead & 0x07) << 18 | UInt32(bytes[position + 1] & 0x3F) << 12
            | UInt32(bytes[position + 2] & 0x3F) << 6 | UInt32(bytes[position + 3] & 0x3F), 4)
}

/// The start of the scalar that ends just before `end` in valid UTF-8.
@inline(__always)
func previousScalarStart(_ bytes: UnsafeBufferPointer<UInt8>, before end: Int) -> Int {
    var start = end - 1
    while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
    return start
}
