import Foundation

/// Unicode Normalization Form C exactly as the `tokenizers` package computes it. The package normalizes with
/// Unicode 9.0 tables (its unicode-normalization-alignments crate), Foundation with newer ones and a few slips of
/// its own; this puts both right on top of Foundation's `precomposedStringWithCanonicalMapping`:
///  - a scalar assigned after Unicode 9.0 is, to the package, an unassigned starter: it has no decomposition,
///    combining class 0, and composes with nothing, so it cuts the text into pieces normalized on their own
///    (this is why U+11935 U+11930 stays apart, and why a newer mark is not reordered among older ones);
///  - Foundation does not reorder the marks of U+0344, U+0F73, U+0F75, U+0F81 (which decompose into non-starters)
///    with the marks before them: they are decomposed first (NFC never recomposes them);
///  - Foundation leaves an LV syllable followed by a trailing jamo apart (U+AC00 U+11A8 is U+AC01), and
///    U+0CCA U+0CD5 apart (U+0CCB).
/// Checked on every scalar NFC changes, every canonical decomposition, every Hangul LV + T pair and random mark
/// sequences against the package (Tests/Fixtures/tokenizer/neox-nfc-*.jsonl).
public enum NFC {
    public static func normalize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isNewerThanPackage($0) || nonStarterDecomposition($0) != nil })
        else { return normalizePiece(text) }
        var result = String.UnicodeScalarView()
        var piece = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isNewerThanPackage(scalar) {
                result.append(contentsOf: normalizePiece(String(piece)).unicodeScalars)
                result.append(scalar)
                piece.removeAll(keepingCapacity: true)
            } else if let marks = nonStarterDecomposition(scalar) {
                piece.append(contentsOf: marks)
            } else {
                piece.append(scalar)
            }
        }
        result.append(contentsOf: normalizePiece(String(piece)).unicodeScalars)
        return String(result)
    }

    /// The Unicode version of the package's normalization tables.
    static let packageVersion = (major: 9, minor: 0)

    @inline(__always)
    static func isNewerThanPackage(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.value >= 0x300, let age = scalar.properties.age else { return false }
        return (age.major, age.minor) > packageVersion
    }

    /// The four scalars whose canonical decomposition starts with a non-starter.
    private static func nonStarterDecomposition(_ scalar: Unicode.Scalar) -> [Unicode.Scalar]? {
        switch scalar.value {
        case 0x0344: return ["\u{0308}", "\u{0301}"]
        case 0x0F73: return ["\u{0F71}", "\u{0F72}"]
        case 0x0F75: return ["\u{0F71}", "\u{0F74}"]
        case 0x0F81: return ["\u{0F71}", "\u{0F80}"]
        default: return nil
        }
    }

    private static func normalizePiece(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        guard composed.unicodeScalars.contains(where: { (0x11A8...0x11C2).contains($0.value) || $0.value == 0x0CD5 })
        else { return composed }
        var result = String.UnicodeScalarView()
        for scalar in composed.unicodeScalars {
            let value = scalar.value
            if let last = result.last {
                // UAX #15, Hangul composition: LV + T -> LVT (an LV syllable's index is a multiple of 28).
                if (0x11A8...0x11C2).contains(value) && (0xAC00...0xD7A3).contains(last.value)
                    && (last.value - 0xAC00) % 28 == 0 {
                    result.removeLast()
                    result.append(Unicode.Scalar(last.value + value - 0x11A7)!)
                    continue
                }
                if value == 0x0CD5 && last.value == 0x0CCA {
                    result.removeLast()
                    result.append("\u{0CCB}")
                    continue
                }
            }
            result.append(scalar)
        }
        return String(result)
    }
}
