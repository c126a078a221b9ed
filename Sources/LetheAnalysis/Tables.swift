// The report's tables, computed from annotated chunks (plain values), and their CSV form.

import Foundation

// MARK: - CSV

/// One cell of a table. Numbers print with 10 significant digits (`%.10g`), nan as an empty cell (the
/// statistic is undefined: a category with one observation, a constant sample, no data), infinities as
/// `inf`/`-inf`, booleans as `true`/`false`.
public enum Cell: Equatable, Sendable {
    case text(String), integer(Int), number(Double), flag(Bool)

    public var csv: String {
        switch self {
        case .text(let s):
            return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        case .integer(let i): return String(i)
        case .number(let x): return formatNumber(x)
        case .flag(let b): return b ? "true" : "false"
        }
    }
}

/// `%.10g`, with nan empty and infinities spelled out; deterministic across platforms.
public func formatNumber(_ x: Double, significantDigits: Int = 10) -> String {
    if x.isNaN { return "" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    return String(format: "%.\(significantDigits)g", x)
}

public struct Table: Equatable, Sendable {
    public var columns: [String]
    public var rows: [[Cell]]

    public init(columns: [String], rows: [[Cell]]) {
        precondition(rows.allSatisfy { $0.count == columns.count }, "every row needs \(columns.count) cells")
        self.columns = columns
        self.rows = rows
    }

    /// RFC 4180 text with a header line, "\n" line ends and a final newline.
    public var csv: String {
        ([columns.map { Cell.text($0).csv }.joined(separator: ",")] + rows.map { $0.map(\.csv).joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }
}

// MARK: - Rows

public struct RougeRow: Equatable, Sendable {
    public var dataset: String
    /// The length bucket (ChunkLengthBucket): one of the paper's lengths.
    public var length: Int
    /// The shortest and longest chunk in the bucket, in tokens (both `length` for fixed-length chunking).
    public var minLength: Int = 0, maxLength: Int = 0
    /// Chunks averaged: those whose reference has a word ROUGE-1 can score.
    public var n: Int
    /// Chunks of this dataset and length left out because their reference has no such word (Rouge.canScore).
    public var unscored: Int = 0
    public var precision: Double, recall: Double, f1: Double
    public var f1Low: Double, f1High: Double
}

public struct OmissionRow: Equatable, Sendable {
    public var category: String
    public var n: Int
    public var omitted: Int
    /// omitted / n, with the Wilson 95% interval.
    public var rate: Double, low: Double, high: Double
}

public struct SignificanceRow: Equatable, Sendable {
    public var category1: String, category2: String
    public var t: Double, p: Double, pBonferroni: Double
    public var significant: Bool
}

public struct PositionRow: Equatable, Sendable {
    public var dataset: String
    public var bin: Int
    /// The bin's slice of the chunk, as fractions of its length.
    public var from: Double, to: Double
    public var omission: OmissionRow
}

public struct FrequencyRow: Equatable, Sendable {
    /// "token" (edit-distance alignment of token ids), "word" (the reference's rule, frequency of the word's
    /// rarest token) or "word_count" (the reference's rule, frequency of the word itself from words.tsv).
    public var level: String
    public var bin: Int
    public var countLow: Int64, countHigh: Int64
    public var omission: OmissionRow
    /// Spearman's rho between frequency and omission (1 = omitted) over all items of the level, and its p.
    public var rho: Double, p: Double
}

/// A comparison of two datasets whose chunks are the same documents in two versions (AAVE and SAE: each
/// sentence in both dialects), chunk by chunk.
public struct PairedRow: Equatable, Sendable {
    public var dataset1: String, dataset2: String
    /// "f1" (ROUGE-1 F1 of the chunk) or "omission_rate" (its reference words omitted / its reference words).
    public var measure: String
    public var pairs: Int
    public var mean1: Double, mean2: Double
    /// The mean of dataset 1's value minus dataset 2's over the pairs, with a percentile bootstrap interval.
    public var difference: Double, differenceLow: Double, differenceHigh: Double
    /// Cohen's d for paired samples (d_z): the mean difference over the differences' standard deviation.
    public var effectSize: Double
    public var t: TTestResult
    public var wilcoxon: WilcoxonResult
}

/// A bin of the encoder's surprisal and how often its items were omitted.
public struct SurprisalRow: Equatable, Sendable {
    /// "token" (the token's own surprisal, omitted unless the alignment kept it) or "word" (the sum over the
    /// word's tokens, omitted by the reference's rule).
    public var level: String
    /// Surprisal in [from, to) nats.
    public var bin: Int
    public var from: Double, to: Double
    public var omission: OmissionRow
    /// Spearman's rho between surprisal and omission (1 = omitted) over all items of the level, and its p.
    public var rho: Double, p: Double
}

/// One observation for a category table: a word (or token) of `category`, omitted or not.
public struct CategorizedItem: Equatable, Sendable {
    public var category: String
    public var omitted: Bool
    public init(category: String, omitted: Bool) { self.category = category; self.omitted = omitted }
}

// MARK: - Builders

/// FNV-1a of a string: a stable seed per group (Swift's Hasher differs between runs).
func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// The paper's chunk lengths, and the bucket a chunk of any length is reported in: the smallest paper length at
/// or above its own (a 5-token chunk counts at 8, a 64-token one at 64); beyond 256 the doubling goes on (300 at
/// 512). So chunks of varying length (sentences, word-packed chunks) give one row per paper length, and chunks of
/// a paper length keep their own.
public enum ChunkLengthBucket {
    public static let paperLengths = [4, 8, 16, 32, 64, 128, 256]

    public static func of(_ length: Int) -> Int {
        var bucket = paperLengths[0]
        while bucket < length { bucket *= 2 }
        return bucket
    }

    /// The rule in a sentence, for the report.
    public static let rule = "A chunk counts at the smallest of the paper's lengths (4, 8, 16, 32, 64, 128, 256 tokens) at or above its own (beyond 256 the doubling goes on); the shortest and longest scored chunk of each row are given beside it."
}

/// rouge.csv: ROUGE-1 averaged over the chunks of each dataset and length bucket (ChunkLengthBucket) whose
/// reference ROUGE-1 can score, with a percentile bootstrap interval for F1 and the count of chunks left out.
/// Rows sorted by dataset, then length; a group with no scorable chunk has no row. Also, by dataset, every chunk
/// left out (those of such groups included).
public func rougeTable(_ chunks: [ChunkAnnotation], confidence: Double = 0.95, resamples: Int = 1000,
                       seed: UInt64 = 0) -> (rows: [RougeRow], unscored: [String: Int]) {
    let groups = Dictionary(grouping: chunks) { GroupKey(dataset: $0.dataset, length: ChunkLengthBucket.of($0.length)) }
    var unscored: [String: Int] = [:]
    let rows = groups.keys.sorted().compactMap { key -> RougeRow? in
        let group = groups[key]!
        let scored = group.filter { Rouge.canScore(reference: $0.reference) }
        if scored.count < group.count { unscored[key.dataset, default: 0] += group.count - scored.count }
        guard !scored.isEmpty else { return nil }
        let scores = scored.map(\.rouge1)
        let n = Double(scores.count)
        let f1 = scores.map(\.f1)
        let interval = bootstrapMeanInterval(f1, confidence: confidence, resamples: resamples,
                                             seed: seed ^ stableHash("\(key.dataset)|\(key.length)"))
        let lengths = scored.map(\.length)
        return RougeRow(dataset: key.dataset, length: key.length, minLength: lengths.min()!, maxLength: lengths.max()!,
                        n: scores.count, unscored: group.count - scores.count,
                        precision: scores.reduce(0) { $0 + $1.precision } / n,
                        recall: scores.reduce(0) { $0 + $1.recall } / n,
                        f1: interval.mean, f1Low: interval.low, f1High: interval.high)
    }
    return (rows, unscored)
}

struct GroupKey: Hashable, Comparable {
    var dataset: String
    var length: Int
    static func < (a: GroupKey, b: GroupKey) -> Bool { (a.dataset, a.length) < (b.dataset, b.length) }
}

/// paired.csv: every two datasets whose chunks are the same documents, compared pair by pair. `documents[i]`
/// names the document of chunk i (source file and document index) or is nil. A dataset takes part when each of
/// its chunks names a document and no two name the same one; two such datasets are paired on the documents they
/// share, when there are at least two. Per measure, pairs where either chunk has no value are left out: F1 when
/// ROUGE-1 cannot score the reference (as in rouge.csv), the omission rate when the chunk has no reference word;
/// a measure needs two pairs.
/// Pairs are taken in the order of dataset 1's chunks; rows sorted by the datasets' names, F1 first.
public func pairedTable(_ chunks: [ChunkAnnotation], documents: [String?], confidence: Double = 0.95,
                        resamples: Int = 1000, seed: UInt64 = 0) -> [PairedRow] {
    precondition(documents.count == chunks.count, "one document name per chunk")
    var byDataset: [String: [(document: String, chunk: Int)]] = [:]
    var unpairable: Set<String> = []
    for (i, chunk) in chunks.enumerated() {
        guard let document = documents[i] else { unpairable.insert(chunk.dataset); continue }
        byDataset[chunk.dataset, default: []].append((document, i))
    }
    let eligible = byDataset.filter { name, entries in
        !unpairable.contains(name) && Set(entries.map(\.document)).count == entries.count
    }
    let names = eligible.keys.sorted()
    let measures: [(String, (ChunkAnnotation) -> Double?)] = [
        ("f1", { Rouge.canScore(reference: $0.reference) ? $0.rouge1.f1 : nil }),
        ("omission_rate", { $0.words.isEmpty ? nil : Double($0.words.filter { !$0.retained }.count) / Double($0.words.count) }),
    ]
    var rows: [PairedRow] = []
    for (x, first) in names.enumerated() {
        for second in names[(x + 1)...] {
            let partner = Dictionary(uniqueKeysWithValues: eligible[second]!.map { ($0.document, $0.chunk) })
            let shared = eligible[first]!.compactMap { entry in partner[entry.document].map { (entry.chunk, $0) } }
            guard shared.count >= 2 else { continue }
            for (measure, value) in measures {
                let pairs = shared.compactMap { a, b in value(chunks[a]).flatMap { va in value(chunks[b]).map { (va, $0) } } }
                guard pairs.count >= 2 else { continue }
                let a = pairs.map(\.0), b = pairs.map(\.1)
                let differences = zip(a, b).map { $0 - $1 }
                let interval = bootstrapMeanInterval(differences, confidence: confidence, resamples: resamples,
                                                     seed: seed ^ stableHash("\(first)|\(second)|\(measure)"))
                let spread = pairs.count > 1 ? meanAndVariance(differences).variance.squareRoot() : .nan
                rows.append(PairedRow(dataset1: first, dataset2: second, measure: measure, pairs: pairs.count,
                                      mean1: a.reduce(0, +) / Double(a.count), mean2: b.reduce(0, +) / Double(b.count),
                                      difference: interval.mean, differenceLow: interval.low, differenceHigh: interval.high,
                                      effectSize: interval.mean / spread, t: pairedTTest(a, b), wilcoxon: wilcoxonSignedRank(a, b)))
            }
        }
    }
    return rows
}

/// omission_*.csv: per category n, omitted, rate and Wilson interval; sorted by rate, highest first (as the
/// reference), ties by name.
public func omissionTable(_ items: [CategorizedItem], confidence: Double = 0.95) -> [OmissionRow] {
    var counts: [String: (n: Int, omitted: Int)] = [:]
    for item in items {
        counts[item.category, default: (0, 0)].n += 1
        if item.omitted { counts[item.category]!.omitted += 1 }
    }
    return counts.map { category, c in
        omissionRow(category: category, n: c.n, omitted: c.omitted, confidence: confidence)
    }.sorted { $0.rate != $1.rate ? $0.rate > $1.rate : $0.category < $1.category }
}

func omissionRow(category: String, n: Int, omitted: Int, confidence: Double = 0.95) -> OmissionRow {
    let ci = wilsonInterval(successes: omitted, trials: n, confidence: confidence)
    return OmissionRow(category: category, n: n, omitted: omitted, rate: n > 0 ? Double(omitted) / Double(n) : .nan,
                       low: ci.low, high: ci.high)
}

/// significance_*.csv: every pair of categories, in the order of `order` (the omission table's), compared
/// as the reference does: a two-sample t-test with equal variances on the retained flags (1 retained, 0
/// omitted) of the two categories' items; Bonferroni over all pairs; significant when the adjusted p < alpha
/// (a nan p is never significant).
public func significanceTable(_ items: [CategorizedItem], order: [String], alpha: Double = 0.05) -> [SignificanceRow] {
    var flags: [String: [Double]] = [:]
    for item in items { flags[item.category, default: []].append(item.omitted ? 0 : 1) }
    var pairs: [(String, String, TTestResult)] = []
    for i in order.indices {
        for j in order.indices where j > i {
            pairs.append((order[i], order[j], twoSampleTTest(flags[order[i]] ?? [], flags[order[j]] ?? [])))
        }
    }
    let adjusted = bonferroni(pairs.map { $0.2.pValue })
    return zip(pairs, adjusted).map { pair, pAdjusted in
        SignificanceRow(category1: pair.0, category2: pair.1, t: pair.2.statistic, p: pair.2.pValue,
                        pBonferroni: pAdjusted, significant: pAdjusted < alpha)
    }
}

/// Items for the standard category tables (ReportTables.categoryTables).
public enum CategoryItems {
    /// The category `word` of `chunk` counts under in `table` ("pos", "ner", "class" or "dataset"), nil when it is
    /// not counted there: POS are the gold classes, bar X and INTJ, which the reference leaves out
    /// (`POSClass.excludedByReference`); NER the gold types; every word has a class and a dataset.
    public static func category(_ table: String, of word: WordAnnotation, in chunk: ChunkAnnotation) -> String? {
        switch table {
        case "pos": return word.pos.flatMap { POSClass.excludedByReference.contains($0) ? nil : $0.rawValue }
        case "ner": return word.ner?.rawValue
        case "class": return word.wordClass.rawValue
        case "dataset": return chunk.dataset
        default: preconditionFailure("unknown category table \(table)")
        }
    }

    public static func items(_ table: String, _ chunks: [ChunkAnnotation]) -> [CategorizedItem] {
        chunks.flatMap { chunk in
            chunk.words.compactMap { w in category(table, of: w, in: chunk).map { CategorizedItem(category: $0, omitted: !w.retained) } }
        }
    }
}

/// omission_position.csv: omission by relative position of the word in its chunk (`positionBin`), per
/// dataset and over all ("all"); datasets sorted, "all" first.
public func positionTable(_ chunks: [ChunkAnnotation], bins: Int = 10) -> [PositionRow] {
    var counts: [String: [(n: Int, omitted: Int)]] = [:]
    for chunk in chunks where !chunk.words.isEmpty {
        for w in chunk.words {
            let bin = positionBin(index: w.position, count: chunk.words.count, bins: bins)
            for key in ["all", chunk.dataset] {
                counts[key, default: Array(repeating: (0, 0), count: bins)][bin].n += 1
                if !w.retained { counts[key]![bin].omitted += 1 }
            }
        }
    }
    let keys = counts.keys.filter { $0 != "all" }.sorted()
    return (counts["all"] == nil ? keys : ["all"] + keys).flatMap { key in
        counts[key]!.enumerated().compactMap { bin, c in
            c.n == 0 ? nil : PositionRow(dataset: key, bin: bin, from: Double(bin) / Double(bins), to: Double(bin + 1) / Double(bins),
                                         omission: omissionRow(category: "\(bin)", n: c.n, omitted: c.omitted))
        }
    }
}

/// frequency.csv: omission against pretraining frequency in log-spaced bins (`logBin`), for tokens (fate
/// other than kept = omitted), words by the frequency of their rarest token, and words by their own count
/// (when the corpus was counted by words), the last two omitted by the reference's rule; with Spearman's rho
/// between frequency and omission over all items of each level.
public func frequencyTable(_ chunks: [ChunkAnnotation], base: Int64 = 10) -> [FrequencyRow] {
    var tokenItems: [(Int64, Bool)] = []
    var wordItems: [(Int64, Bool)] = []
    var wordCountItems: [(Int64, Bool)] = []
    for chunk in chunks {
        if let frequencies = chunk.tokenFrequencies, frequencies.count == chunk.tokenFates.count {
            for (f, fate) in zip(frequencies, chunk.tokenFates) { tokenItems.append((f, fate != .kept)) }
        }
        for w in chunk.words {
            if let f = w.rarestTokenFrequency { wordItems.append((f, !w.retained)) }
            if let f = w.wordFrequency { wordCountItems.append((f, !w.retained)) }
        }
    }
    func rows(_ level: String, _ items: [(Int64, Bool)]) -> [FrequencyRow] {
        binnedOmission(items.map { (Double($0.0), logBin($0.0, base: base), $0.1) }) { bin, omission, correlation in
            let bounds = logBinBounds(bin, base: base)
            return FrequencyRow(level: level, bin: bin, countLow: bounds.low, countHigh: bounds.high, omission: omission,
                                rho: correlation.rho, p: correlation.pValue)
        }
    }
    return rows("token", tokenItems) + rows("word", wordItems) + rows("word_count", wordCountItems)
}

/// The rows of a binned omission table (frequency.csv, surprisal.csv): items (value, its bin, omitted) counted
/// per bin, ascending, each with its Wilson interval and Spearman's rho between value and omission over all items;
/// no rows without items.
func binnedOmission<Row>(_ items: [(value: Double, bin: Int, omitted: Bool)],
                         row: (_ bin: Int, _ omission: OmissionRow, _ correlation: CorrelationResult) -> Row) -> [Row] {
    guard !items.isEmpty else { return [] }
    let correlation = spearman(items.map(\.value), items.map { $0.omitted ? 1 : 0 })
    var counts: [Int: (n: Int, omitted: Int)] = [:]
    for item in items {
        counts[item.bin, default: (0, 0)].n += 1
        if item.omitted { counts[item.bin]!.omitted += 1 }
    }
    return counts.keys.sorted().map { b in
        row(b, omissionRow(category: "\(b)", n: counts[b]!.n, omitted: counts[b]!.omitted), correlation)
    }
}

/// surprisal.csv: omission against the encoder's surprisal (lethe-encode --surprisal), per level in bins of
/// `width` nats (bin k holds [k·width, (k+1)·width)), with Spearman's rho over all items of the level. Tokens
/// and words without a surprisal (the chunk's first token, a word not located among the tokens) are left out.
public func surprisalTable(_ chunks: [ChunkAnnotation], width: Double = 2) -> [SurprisalRow] {
    var tokenItems: [(Double, Bool)] = [], wordItems: [(Double, Bool)] = []
    for chunk in chunks {
        if let surprisals = chunk.tokenSurprisals, surprisals.count == chunk.tokenFates.count {
            for (s, fate) in zip(surprisals, chunk.tokenFates) { if let s { tokenItems.append((s, fate != .kept)) } }
        }
        for w in chunk.words { if let s = w.surprisal { wordItems.append((s, !w.retained)) } }
    }
    func rows(_ level: String, _ items: [(Double, Bool)]) -> [SurprisalRow] {
        binnedOmission(items.map { ($0.0, Int((max($0.0, 0) / width).rounded(.down)), $0.1) }) { bin, omission, correlation in
            SurprisalRow(level: level, bin: bin, from: Double(bin) * width, to: Double(bin + 1) * width, omission: omission,
                         rho: correlation.rho, p: correlation.pValue)
        }
    }
    return rows("token", tokenItems) + rows("word", wordItems)
}

// MARK: - As tables

extension Table {
    public init(rouge rows: [RougeRow]) {
        self.init(columns: ["dataset", "length", "min_length", "max_length", "n", "unscored", "precision", "recall", "f1",
                            "f1_low", "f1_high"],
                  rows: rows.map {
            [.text($0.dataset), .integer($0.length), .integer($0.minLength), .integer($0.maxLength), .integer($0.n),
             .integer($0.unscored), .number($0.precision),
             .number($0.recall), .number($0.f1), .number($0.f1Low), .number($0.f1High)]
        })
    }

    public init(surprisal rows: [SurprisalRow]) {
        self.init(columns: ["level", "bin", "from", "to", "n", "omitted", "rate", "low", "high", "spearman_rho", "spearman_p"],
                  rows: rows.map {
            [.text($0.level), .integer($0.bin), .number($0.from), .number($0.to)] + Array(Self.omissionCells($0.omission).dropFirst())
                + [.number($0.rho), .number($0.p)]
        })
    }

    public init(paired rows: [PairedRow]) {
        self.init(columns: ["dataset_1", "dataset_2", "measure", "pairs", "mean_1", "mean_2", "difference", "difference_low",
                            "difference_high", "effect_size_dz", "t", "p_t", "wilcoxon_w", "wilcoxon_pairs", "p_wilcoxon"],
                  rows: rows.map {
            [.text($0.dataset1), .text($0.dataset2), .text($0.measure), .integer($0.pairs), .number($0.mean1), .number($0.mean2),
             .number($0.difference), .number($0.differenceLow), .number($0.differenceHigh), .number($0.effectSize),
             .number($0.t.statistic), .number($0.t.pValue), .number($0.wilcoxon.statistic), .integer($0.wilcoxon.nonZeroPairs),
             .number($0.wilcoxon.pValue)]
        })
    }

    public init(omission rows: [OmissionRow]) {
        self.init(columns: ["category", "n", "omitted", "rate", "low", "high"], rows: rows.map(Self.omissionCells))
    }

    static func omissionCells(_ r: OmissionRow) -> [Cell] {
        [.text(r.category), .integer(r.n), .integer(r.omitted), .number(r.rate), .number(r.low), .number(r.high)]
    }

    public init(significance rows: [SignificanceRow]) {
        self.init(columns: ["category_1", "category_2", "t", "p", "p_bonferroni", "significant"], rows: rows.map {
            [.text($0.category1), .text($0.category2), .number($0.t), .number($0.p), .number($0.pBonferroni), .flag($0.significant)]
        })
    }

    public init(position rows: [PositionRow]) {
        self.init(columns: ["dataset", "bin", "from", "to", "n", "omitted", "rate", "low", "high"], rows: rows.map {
            [.text($0.dataset), .integer($0.bin), .number($0.from), .number($0.to)] + Self.omissionCells($0.omission).dropFirst()
        })
    }

    public init(frequency rows: [FrequencyRow]) {
        self.init(columns: ["level", "bin", "count_low", "count_high", "n", "omitted", "rate", "low", "high",
                            "spearman_rho", "spearman_p"], rows: rows.map {
            [.text($0.level), .integer($0.bin), .text(String($0.countLow)), .text(String($0.countHigh))]
                + Self.omissionCells($0.omission).dropFirst() + [.number($0.rho), .number($0.p)]
        })
    }
}

/// The distinct values, in the order they first appear.
public func distinctInOrder(_ values: [String]) -> [String] {
    var seen: Set<String> = []
    return values.filter { seen.insert($0).inserted }
}
