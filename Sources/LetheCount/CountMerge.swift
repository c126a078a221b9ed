import LetheShards

/// The count stage's final merge: sums the files' counts (integer sums, so the result is exact whatever the
/// order or the split of files between workers) and makes the output files and the manifest's summary.
public struct CountMerge {
    public let vocabularySize: Int
    public let countWords: Bool
    /// All documents of all files (`subset` is nil).
    public private(set) var overall: GroupCounts
    /// Per subset name.
    public private(set) var subsets: [ExactString: GroupCounts] = [:]
    /// Documents that named no subset (the token table is not kept: it is `overall` minus the subsets).
    public private(set) var withoutSubset: GroupCounts
    public private(set) var words: WordCountTable?
    public private(set) var files = 0
    public private(set) var skippedLines = 0
    public private(set) var skippedExamples: [String] = []

    public init(vocabularySize: Int, countWords: Bool) {
        self.vocabularySize = vocabularySize
        self.countWords = countWords
        overall = GroupCounts(subset: nil, vocabularySize: vocabularySize)
        withoutSubset = GroupCounts(subset: nil, vocabularySize: 0)
        words = countWords ? WordCountTable() : nil
    }

    /// Adds one file's counts; they must be of the same vocabulary and have words exactly when this merge does.
    public mutating func add(_ file: FileCounts) throws {
        guard file.vocabularySize == vocabularySize else {
            throw CountError("\(file.source): counted with a vocabulary of \(file.vocabularySize) ids, the others with \(vocabularySize)")
        }
        guard (file.words != nil) == countWords else {
            throw CountError("\(file.source): counted \(countWords ? "without" : "with") words, unlike this run")
        }
        for group in file.groups {
            overall.add(group)
            if let name = group.subset {
                subsets[ExactString(name), default: GroupCounts(subset: name, vocabularySize: vocabularySize)].add(group)
            } else {
                withoutSubset.documents += group.documents
                withoutSubset.tokens += group.tokens
                withoutSubset.bytes += group.bytes
            }
        }
        if let fileWords = file.words { words?.add(fileWords) }
        files += 1
        skippedLines += file.skippedLines
        skippedExamples += file.skippedExamples.prefix(CorpusCounter.maxExamples - skippedExamples.count)
    }

    /// Subsets in code point order of the name.
    public var sortedSubsets: [GroupCounts] {
        subsets.values.sorted { groupPrecedes($0.subset, $1.subset) }
    }

    /// Where each subset's counts go: `subsets/STEM.npy` (see `SubsetFileNames`).
    public var subsetFiles: [ExactString: String] {
        SubsetFileNames.stems(for: sortedSubsets.map { $0.subset! }).mapValues { "subsets/\($0).npy" }
    }

    /// The output files, relative to the stage folder: counts.npy, subsets/NAME.npy and subsets.json, and
    /// words.tsv when counting words.
    public func outputFiles(subsetField: SubsetField?) -> [(path: String, bytes: [UInt8])] {
        let files = subsetFiles
        var outputs: [(path: String, bytes: [UInt8])] = [
            ("counts.npy", NPYArray(int64: overall.counts, shape: [vocabularySize]).encoded()),
        ]
        for subset in sortedSubsets {
            outputs.append((files[ExactString(subset.subset!)]!, NPYArray(int64: subset.counts, shape: [vocabularySize]).encoded()))
        }
        let index: JSONValue = [
            "field": subsetField.map { .string($0.description) } ?? .null,
            "vocabulary_size": .int(vocabularySize),
            "subsets": subsetEntries,
            "without_subset": CountMerge.totals(withoutSubset),
        ]
        outputs.append(("subsets.json", index.bytes(pretty: true)))
        if let words { outputs.append(("words.tsv", WordCountTable.tsv(words.sortedByCount()))) }
        return outputs
    }

    /// The manifest's "extra": totals overall, per subset and without subset, words, and skipped lines.
    public func summary(subsetField: SubsetField?) -> JSONValue {
        var summary = CountMerge.totals(overall)
        summary["vocabulary_size"] = .int(vocabularySize)
        summary["files"] = .int(self.files)
        summary["subset_field"] = subsetField.map { .string($0.description) } ?? .null
        summary["subsets"] = subsetEntries
        summary["without_subset"] = CountMerge.totals(withoutSubset)
        if let words { summary["words"] = ["distinct": .int(words.distinct), "total": .int(words.total)] }
        summary["skipped_lines"] = .int(skippedLines)
        summary["skipped_examples"] = .array(skippedExamples.map(JSONValue.string))
        return summary
    }

    /// One object per subset in name order (an array, not an object keyed by name: JSON objects in Swift
    /// merge names that differ only in Unicode normalization).
    private var subsetEntries: JSONValue {
        let files = subsetFiles
        return .array(sortedSubsets.map { subset in
            var entry = CountMerge.totals(subset)
            entry["name"] = .string(subset.subset!)
            entry["file"] = .string(files[ExactString(subset.subset!)]!)
            return entry
        })
    }

    private static func totals(_ group: GroupCounts) -> JSONValue {
        ["documents": .int(group.documents), "tokens": .int(group.tokens), "bytes": .int(group.bytes)]
    }
}

/// File names for subset names: what is safe in a file name on any system, unique even on a file system that
/// ignores case, and the same for the same set of names.
public enum SubsetFileNames {
    static let maxLength = 100

    /// A stem per name: ASCII letters, digits, '-', '_' and '.' are kept, every other run of characters becomes
    /// one '_' ("Gutenberg (PG-19)" → "Gutenberg_PG-19"); leading dots and '_' and trailing '_' are dropped, the
    /// stem is cut to 100 characters, and an empty one becomes "subset". Names whose stems clash (ignoring case)
    /// get "-2", "-3", ... in code point order of the names.
    public static func stems(for names: [String]) -> [ExactString: String] {
        var stems: [ExactString: String] = [:]
        var taken = Set<String>()
        for name in Set(names.map(ExactString.init)).sorted(by: ExactString.precedes) {
            let base = stem(name.text)
            var candidate = base
            var suffix = 2
            while taken.contains(candidate.lowercased()) {
                candidate = base + "-\(suffix)"
                suffix += 1
            }
            taken.insert(candidate.lowercased())
            stems[name] = candidate
        }
        return stems
    }

    static func stem(_ name: String) -> String {
        var out = ""
        var replacing = false
        for scalar in name.unicodeScalars {
            let keep = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                                          || scalar == "-" || scalar == "_" || scalar == ".")
            if keep {
                out.unicodeScalars.append(scalar)
                replacing = false
            } else if !replacing {
                out.append("_")
                replacing = true
            }
        }
        while out.first == "." || out.first == "_" { out.removeFirst() }
        while out.last == "_" { out.removeLast() }
        out = String(out.prefix(maxLength))
        return out.isEmpty ? "subset" : out
    }
}
