// ROUGE-1 as the rouge-score package computes it with default settings
// (rouge_scorer.RougeScorer(['rouge1']).score(target, prediction)).

import LetheText

public struct RougeScore: Codable, Equatable, Sendable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
}

public enum Rouge {
    /// rouge_score's default tokenizer: Python's `lower()`, every run of characters outside [a-z0-9]
    /// becomes a separator, no stemming. Non-ASCII letters separate words ("café" -> "caf"), except those whose
    /// lowercase is ASCII (the Kelvin sign becomes "k", "İ" becomes "i" plus a dropped combining dot).
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        for c in pythonLowercased(Array(text.unicodeScalars)) {
            if ("a"..."z").contains(c) || ("0"..."9").contains(c) {
                current.append(c)
            } else if !current.isEmpty {
                tokens.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// Whether ROUGE-1 can score a reconstruction of `reference`: it needs at least one word in rouge-score's
    /// tokenization. A reference of only spaces and punctuation ("):\n    ") has none, and rouge-score gives
    /// it F1 0 whatever the prediction, an exact copy included, so averages leave such chunks out.
    public static func canScore(reference: String) -> Bool { !tokens(reference).isEmpty }

    /// ROUGE-1 F1 of a reconstruction given as token ids, both sides decoded by `decode` (the tokenizer's
    /// decoding, as lethe-reconstruct writes its texts); nil when the reference has no word to score. This is
    /// lethe-train's validation score.
    public static func tokenF1(decode: @escaping ([Int32]) -> String) -> (_ reference: [Int32], _ reconstruction: [Int32]) -> Double? {
        { reference, reconstruction in
            let referenceText = decode(reference)
            guard canScore(reference: referenceText) else { return nil }
            return rouge1(reference: referenceText, prediction: decode(reconstruction)).f1
        }
    }

    /// Unigram overlap: precision against the prediction's count, recall against the reference's (each
    /// count at least 1, so an empty side scores 0), F1 their harmonic mean or 0.
    public static func rouge1(reference: String, prediction: String) -> RougeScore {
        let target = tokens(reference), predicted = tokens(prediction)
        var predictedCounts: [String: Int] = [:]
        for t in predicted { predictedCounts[t, default: 0] += 1 }
        var targetCounts: [String: Int] = [:]
        for t in target { targetCounts[t, default: 0] += 1 }
        var overlap = 0
        for (token, count) in targetCounts { overlap += min(count, predictedCounts[token] ?? 0) }
        let precision = Double(overlap) / Double(max(predicted.count, 1))
        let recall = Double(overlap) / Double(max(target.count, 1))
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return RougeScore(precision: precision, recall: recall, f1: f1)
    }
}
