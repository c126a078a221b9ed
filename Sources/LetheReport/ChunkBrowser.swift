// The chunks behind report.html's browser: each evaluation chunk's reference text, where each of its words
// stands in it, the word's categories and fate, and the reconstruction, kept compactly as the report reads
// them and written as the JSON the page's script (Resources/report.js) reads.

import Foundation
import LetheAnalysis

/// Every chunk the report read, in the form report.html embeds (`json`). Columns, not records; each reference
/// word is three integers packed by `PackedIntegers`: its distance from the end of the word before and its
/// length (both in UTF-16 units of the reference text, as JavaScript indexes strings), and the index of its
/// categories and fate in `tags`.
public struct ChunkBrowser: Sendable {
    /// The category tables a word is filed under in the browser: the report's, bar the dataset (a filter of its own).
    public static let categoryTables = ReportTables.categoryTables.filter { $0 != "dataset" }

    /// A word's category in each of `categoryTables` (nil where it does not count there), and whether it was
    /// omitted.
    struct Tag: Hashable, Sendable {
        var categories: [String?]
        var omitted: Bool
    }

    public private(set) var count = 0
    private var ids: [String] = [], runs: [String] = [], datasets: [String] = [], lengths: [Int] = [], buckets: [Int] = []
    private var precisions: [Double] = [], recalls: [Double] = [], f1s: [Double?] = []
    private var references: [String] = [], words: [String] = [], reconstructions: [String] = []
    private var tags: [Tag] = [], tagIndex: [Tag: Int] = [:]

    public init() {}

    /// Adds one annotated chunk (its texts included) of the run `run` (empty for a report of one run), named `id`
    /// (unique among the report's chunks). F1 is nil when ROUGE-1 cannot score the
    /// reference, as rouge.csv leaves such chunks out. The reference is shown as written when every word is
    /// found in it (`locateWords`); otherwise as its words joined by spaces.
    public mutating func add(id: String, run: String = "", chunk: ChunkAnnotation) {
        let wordTexts = chunk.words.map(\.word)
        var text = chunk.reference
        var located = locateWords(wordTexts, in: Array(text.unicodeScalars))
        if located.contains(where: { $0 == nil }) {
            text = wordTexts.joined(separator: " ")
            located = locateWords(wordTexts, in: Array(text.unicodeScalars))
        }
        // UTF-16 offset of each scalar boundary.
        var utf16Offset = [0]
        for scalar in text.unicodeScalars { utf16Offset.append(utf16Offset.last! + scalar.utf16.count) }
        var packed = "", end = 0
        for (word, range) in zip(chunk.words, located) {
            let tag = Tag(categories: Self.categoryTables.map { CategoryItems.category($0, of: word, in: chunk) },
                          omitted: !word.retained)
            let index = tagIndex[tag] ?? { tags.append(tag); tagIndex[tag] = tags.count - 1; return tags.count - 1 }()
            // A word not even in its joined form (it holds whitespace) is kept, empty, where the one before ended.
            let start = range.map { utf16Offset[$0.lowerBound] } ?? end, stop = range.map { utf16Offset[$0.upperBound] } ?? end
            PackedIntegers.append(start - end, to: &packed)
            PackedIntegers.append(stop - start, to: &packed)
            PackedIntegers.append(index, to: &packed)
            end = stop
        }
        ids.append(id); runs.append(run); datasets.append(chunk.dataset); lengths.append(chunk.length)
        buckets.append(ChunkLengthBucket.of(chunk.length))
        precisions.append(chunk.rouge1.precision); recalls.append(chunk.rouge1.recall)
        f1s.append(Rouge.canScore(reference: chunk.reference) ? chunk.rouge1.f1 : nil)
        references.append(text); words.append(packed); reconstructions.append(chunk.reconstruction)
        count += 1
    }

    /// The page's data: the runs in order of appearance, datasets, each category table's categories in order
    /// (`categoryOrder`, the report's rows), the tags, and the chunk columns. Every "<" is escaped, so the text can sit inside a script element.
    public func json(categoryOrder: [String: [String]]) throws -> String {
        let datasetNames = Array(Set(datasets)).sorted()
        let datasetIndex = Dictionary(uniqueKeysWithValues: datasetNames.enumerated().map { ($1, $0) })
        let runNames = distinctInOrder(runs)
        let runIndex = Dictionary(uniqueKeysWithValues: runNames.enumerated().map { ($1, $0) })
        let data = PageData(
            runs: runNames, datasets: datasetNames,
            categoryTables: Self.categoryTables,
            categories: Self.categoryTables.map { categoryOrder[$0] ?? [] },
            tags: tags.map { PageData.TagRow(categories: $0.categories, omitted: $0.omitted) },
            chunks: .init(id: ids, run: runs.map { runIndex[$0]! }, dataset: datasets.map { datasetIndex[$0]! }, length: lengths, bucket: buckets,
                          precision: precisions, recall: recalls, f1: f1s, reference: references, words: words,
                          reconstruction: reconstructions))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(data), as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }

    private struct PageData: Encodable {
        struct TagRow: Encodable {
            var categories: [String?]
            var omitted: Bool
            func encode(to encoder: Encoder) throws {
                var row = encoder.unkeyedContainer()
                for category in categories { try row.encode(category) }
                try row.encode(omitted)
            }
        }
        struct Chunks: Encodable {
            var id: [String], run: [Int], dataset: [Int], length: [Int], bucket: [Int]
            var precision: [Double], recall: [Double], f1: [Double?]
            var reference: [String], words: [String], reconstruction: [String]
        }
        var runs: [String]
        var datasets: [String]
        var categoryTables: [String]
        var categories: [[String]]
        /// Each tag as [category per table..., omitted].
        var tags: [TagRow]
        var chunks: Chunks
    }
}

/// Non-negative integers as text in a 64-letter alphabet safe in JSON strings: little-endian digits of five
/// bits, the sixth bit of a letter set when more digits follow. 0–31 take one letter, up to 1,023 two.
public enum PackedIntegers {
    public static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    public static func append(_ value: Int, to text: inout String) {
        precondition(value >= 0, "PackedIntegers holds non-negative integers")
        var rest = value
        repeat {
            let digit = rest & 31
            rest >>= 5
            text.append(alphabet[rest > 0 ? digit | 32 : digit])
        } while rest > 0
    }

    /// The integers of `text` (the reference decoder; the page's script has its own).
    public static func decode(_ text: String) -> [Int] {
        var values: [Int] = [], value = 0, shift = 0
        for letter in text {
            let digit = alphabet.firstIndex(of: letter)!
            value |= (digit & 31) << shift
            if digit & 32 != 0 { shift += 5 } else { values.append(value); value = 0; shift = 0 }
        }
        return values
    }
}
