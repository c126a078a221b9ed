// Which reference words or tokens a reconstruction kept.

/// The reference's rule (ouroboros eval_analysis/connl/pos_analysis.py): the k-th occurrence of a word in
/// the reference is retained when the reconstruction's words contain that word at least k times. Words
/// compare exactly, case-sensitive, code point by code point (as Python compares strings: no Unicode
/// normalisation). The reconstruction's words come from `WordTokenizer` (nltk.word_tokenize); the
/// reference's are the corpus's gold words where it has them, else `WordTokenizer` too.
public func retainedWords(reference: [String], reconstruction: [String]) -> [Bool] {
    var available: [[Unicode.Scalar]: Int] = [:]
    for word in reconstruction { available[Array(word.unicodeScalars), default: 0] += 1 }
    var seen: [[Unicode.Scalar]: Int] = [:]
    return reference.map { word in
        let key = Array(word.unicodeScalars)
        seen[key, default: 0] += 1
        return seen[key]! <= available[key] ?? 0
    }
}

/// What happened to one reference token in the edit-distance alignment.
public enum TokenFate: UInt8, Codable, Sendable, CaseIterable {
    case kept, substituted, dropped
}

public struct TokenAlignment: Equatable, Sendable {
    /// One fate per reference token.
    public var fates: [TokenFate]
    /// Reconstruction tokens aligned to no reference token.
    public var inserted: Int
    /// The Levenshtein distance: substituted + dropped + inserted.
    public var distance: Int
}

/// Levenshtein alignment of reference and reconstructed token ids (unit costs). Among the optimal
/// alignments the backtrace, walking from the ends of both sequences, prefers a kept token (equal ids on
/// the diagonal), then a substitution, then dropping the reference token, then an insertion; so ties resolve
/// toward keeping, and dropped tokens sit as late as possible.
public func alignTokens(reference: [Int32], reconstruction: [Int32]) -> TokenAlignment {
    let n = reference.count, m = reconstruction.count
    let width = m + 1
    // cost[i * width + j]: distance between reference[..<i] and reconstruction[..<j].
    var cost = [Int32](repeating: 0, count: (n + 1) * width)
    for j in 0...m { cost[j] = Int32(j) }
    for i in stride(from: 1, through: n, by: 1) {
        cost[i * width] = Int32(i)
        for j in stride(from: 1, through: m, by: 1) {
            let diagonal = cost[(i - 1) * width + j - 1] + (reference[i - 1] == reconstruction[j - 1] ? 0 : 1)
            let up = cost[(i - 1) * width + j] + 1
            let left = cost[i * width + j - 1] + 1
            cost[i * width + j] = min(diagonal, up, left)
        }
    }
    var fates = [TokenFate](repeating: .dropped, count: n)
    var inserted = 0
    var i = n, j = m
    while i > 0 || j > 0 {
        let here = cost[i * width + j]
        if i > 0 && j > 0 {
            let same = reference[i - 1] == reconstruction[j - 1]
            if here == cost[(i - 1) * width + j - 1] + (same ? 0 : 1) {
                fates[i - 1] = same ? .kept : .substituted
                i -= 1; j -= 1
                continue
            }
        }
        if i > 0 && here == cost[(i - 1) * width + j] + 1 {
            fates[i - 1] = .dropped
            i -= 1
        } else {
            inserted += 1
            j -= 1
        }
    }
    return TokenAlignment(fates: fates, inserted: inserted, distance: Int(cost[n * width + m]))
}
