import Foundation

/// Unicode Normalization Form C exactly as the `tokenizers` package computes it: Foundation's
/// `precomposedStringWithCanonicalMapping` with its differences from the package put right. Found by checking every
/// scalar NFC changes, every canonical decomposition (single-level and full) and every Hangul LV + T pair
/// against the package (Tests/Fixtures/tokenizer/neox-nfc-scalars.jsonl):
///  - Foundation (Swift 6.3, Linux) leaves an LV syllable followed by a trailing jamo apart (U+AC00 U+11A8 is
///    U+AC01), and U+0CCA U+0CD5 apart (U+0CCB);
///  - the package does not compose U+11935 U+11930 to U+11938 (Unicode 13.0; it composes nothing added since).
public enum NFC {
    public static func normalize(_ text: String) -> String {
        // U+11938 already in the text stays: it composes with neither neighbour, so the text may be cut around it.
        if text.unicodeScalars.contains(diAkuruO) {
            return text.unicodeScalars.split(separator: diAkuruO, omittingEmptySubsequences: false)
                .map { normalizeWithoutDiAkuruO(String(String.UnicodeScalarView($0))) }
                .joined(separator: String(diAkuruO))
        }
        return normalizeWithoutDiAkuruO(text)
    }

    private static let diAkuruO: Unicode.Scalar = "\u{11938}"

    private static func normalizeWithoutDiAkuruO(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        guard composed.unicodeScalars.contains(where: needsFixing) else { return composed }
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
            if scalar == diAkuruO {
                result.append(contentsOf: ["\u{11935}", "\u{11930}"])  // made by Foundation, not by the package
                continue
            }
            result.append(scalar)
        }
        return String(result)
    }

    private static func needsFixing(_ scalar: Unicode.Scalar) -> Bool {
        (0x11A8...0x11C2).contains(scalar.value) || scalar.value == 0x0CD5 || scalar == diAkuruO
    }
}
