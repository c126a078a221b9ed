import Foundation
import LetheCorpus
import LetheShards
import LetheText
import LetheTokenizer

public struct CountSettings: Sendable, Equatable {
    /// Threads that tokenize (the file is read on the calling thread besides them).
    public var threads: Int
    /// Where a JSONL line names its document's subset; nil counts every document without a subset.
    public var subsetField: SubsetField?
    /// Also count words, split as `nltk.word_tokenize` splits them.
    public var countWords: Bool
    /// Skip (and count) bad lines instead of stopping at the first.
    public var skipBadLines: Bool
    /// The JSONL fields (or CSV columns) holding text; each is read as documents of its own, in this order.
    public var textFields: [String]
    /// Text handed to a thread at a time; the queue between the reader and the threads holds
    /// `2 * threads` such batches, which bounds the memory.
    public var batchBytes: Int
    /// More distinct subset values than this in one file means the field is not a subset name (a URL, an id);
    /// it also bounds the tables a thread holds (400 KB each for GPT-NeoX). The Pile has 22 subsets.
    public var maxSubsets: Int

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, subsetField: SubsetField? = nil,
                countWords: Bool = false, skipBadLines: Bool = false, textFields: [String] = ["text"],
                batchBytes: Int = 1 << 18, maxSubsets: Int = 100) {
        self.threads = threads
        self.subsetField = subsetField
        self.countWords = countWords
        self.skipBadLines = skipBadLines
        precondition(!textFields.isEmpty)
        self.textFields = textFields
        self.batchBytes = batchBytes
        self.maxSubsets = maxSubsets
    }
}

/// Counts token ids (and words) in corpus files, using all cores for one file.
///
/// The calling thread reads the file as a stream (`DocumentReader`: .jsonl, .jsonl.zst, .txt, CoNLL), finds each
/// document's subset and hands batches of documents through a bounded queue to `threads` worker threads. Each
/// worker tokenizes and adds to its own tables (one dense int64 table per group it has met), so no counting is
/// shared between threads; the tables are summed when the file is done. Memory is constant in the file's size:
/// the queue's batches plus threads × groups × vocabulary × 8 bytes (and, with words, the distinct words).
///
/// Workers are dedicated threads rather than `DispatchQueue.concurrentPerform` iterations: they block on the
/// queue, and the pool behind concurrentPerform does not promise to run all iterations at once, so a reader and
/// workers sharing it could wait on each other forever.
public final class CorpusCounter: @unchecked Sendable {
    public let tokenizer: Tokenizer
    public let settings: CountSettings
    private let wordTokenizer: WordTokenizer?
    /// Bad lines whose reason is kept, per file.
    static let maxExamples = 10

    public init(tokenizer: Tokenizer, settings: CountSettings) {
        precondition(settings.threads >= 1 && settings.batchBytes >= 1 && settings.maxSubsets >= 1)
        self.tokenizer = tokenizer
        self.settings = settings
        wordTokenizer = settings.countWords ? WordTokenizer() : nil
    }

    /// Counts one file; the format comes from its name. `progress` is called on the calling thread with the
    /// number of text bytes read since its last call. Throws `CorpusError` (file and line) for bad input, unless
    /// skipping bad lines.
    public func count(file path: String, progress: (Int) -> Void = { _ in }) throws -> FileCounts {
        // One pass over the file per text field (GSM8K's question and answer, a CSV's two dialect columns); one pass
        // for a file without fields (plain text, CoNLL), whatever the fields. Found before the workers start.
        let fields = try CorpusFormat.of(file: path, given: nil).hasTextFields ? settings.textFields : [settings.textFields[0]]
        let queue = BoundedQueue<Batch>(capacity: 2 * settings.threads)
        let tallies = (0..<settings.threads).map { _ in Tally(vocabularySize: tokenizer.vocabularySize) }
        let finished = DispatchGroup()
        for tally in tallies {
            finished.enter()
            let thread = Thread { [self] in
                while let batch = queue.take() { count(batch, into: tally) }
                finished.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }

        var subsets = GroupNames()
        var skipped: [CorpusError] = []
        var skippedCount = 0
        // With several fields a JSONL line may lack some of them (files of different kinds counted together). Every
        // pass meets the same bad lines: the first pass counts them.
        let optional = fields.count > 1
        var firstPass: DocumentReader?
        var documents = 0, linesWithoutText = 0
        let failure: Error?
        do {
            var batch = Batch()
            for field in fields {
                let reader = try DocumentReader(path: path, options: ReadOptions(skipBadLines: settings.skipBadLines, textField: field,
                                                                                 textFieldOptional: optional))
                let isFirstPass = firstPass == nil
                if isFirstPass { firstPass = reader }
                while let document = try reader.next() {
                    let subset: String?
                    do { subset = try settings.subsetField?.subset(inMetadata: document.metadata) } catch let error as SubsetFieldError {
                        let bad = CorpusError(file: path, line: document.line, problem: error.problem)
                        guard settings.skipBadLines else { throw bad }
                        if isFirstPass {
                            skippedCount += 1
                            if skipped.count < CorpusCounter.maxExamples { skipped.append(bad) }
                        }
                        continue
                    }
                    let group = try subsets.index(of: subset, limit: settings.maxSubsets, file: path, line: document.line)
                    batch.add(document.text, group: group)
                    if batch.bytes >= settings.batchBytes {
                        progress(batch.bytes)
                        queue.put(batch)
                        batch = Batch()
                    }
                }
                documents += reader.documentCount
                linesWithoutText += reader.linesWithoutText
            }
            if optional && documents == 0 && linesWithoutText > 0 {
                let names = settings.textFields.map { "\"\($0)\"" }.joined(separator: ", ")
                throw CorpusError(file: path, line: nil, problem: "no line has any of the text fields \(names)")
            }
            if !batch.texts.isEmpty {
                progress(batch.bytes)
                queue.put(batch)
            }
            failure = nil
        } catch {
            failure = error
        }
        queue.close()
        finished.wait()
        if let failure { throw failure }

        var examples = ((firstPass?.skippedExamples ?? []) + skipped).sorted { ($0.line ?? 0) < ($1.line ?? 0) }
        examples = Array(examples.prefix(CorpusCounter.maxExamples))
        return FileCounts(source: path, vocabularySize: tokenizer.vocabularySize,
                          groups: Tally.sum(tallies, names: subsets.names, vocabularySize: tokenizer.vocabularySize),
                          words: settings.countWords ? tallies.reduce(into: WordCountTable()) { $0.add($1.words) } : nil,
                          skippedLines: (firstPass?.skippedLines ?? 0) + skippedCount,
                          skippedExamples: examples.map(\.description))
    }

    private func count(_ batch: Batch, into tally: Tally) {
        for (text, group) in zip(batch.texts, batch.groups) {
            tally.add(tokenizer.encode(text), bytes: text.utf8.count, group: group)
            if let wordTokenizer {
                for word in wordTokenizer.tokenize(text) { tally.words.add(word) }
            }
        }
    }
}

/// Documents' texts on their way to a worker, each with its group number.
private struct Batch {
    var texts: [String] = []
    var groups: [Int] = []
    var bytes = 0

    mutating func add(_ text: String, group: Int) {
        texts.append(text)
        groups.append(group)
        bytes += text.utf8.count
    }
}

/// The groups met in a file, numbered in the order met (group numbers index the tallies' tables).
private struct GroupNames {
    private(set) var names: [String?] = []
    private var numbers: [ExactString?: Int] = [:]

    mutating func index(of subset: String?, limit: Int, file: String, line: Int) throws -> Int {
        let key = subset.map(ExactString.init)
        if let number = numbers[key] { return number }
        if subset != nil && names.filter({ $0 != nil }).count >= limit {
            throw CorpusError(file: file, line: line, problem: "more than \(limit) distinct subset names; "
                              + "the subset field does not name subsets (choose another with --subset-field)")
        }
        numbers[key] = names.count
        names.append(subset)
        return names.count - 1
    }
}

/// One worker's counts: a dense table of token counts for each group it has met, and its word counts.
private final class Tally {
    let vocabularySize: Int
    var tables: [UnsafeMutablePointer<Int64>?] = []
    var documents: [Int] = [], tokens: [Int] = [], bytes: [Int] = []
    var words = WordCountTable()

    init(vocabularySize: Int) { self.vocabularySize = vocabularySize }

    deinit { for table in tables { table?.deallocate() } }

    func add(_ ids: [Int32], bytes count: Int, group: Int) {
        if group >= tables.count {
            let more = group + 1 - tables.count
            tables += [UnsafeMutablePointer<Int64>?](repeating: nil, count: more)
            documents += [Int](repeating: 0, count: more)
            tokens += [Int](repeating: 0, count: more)
            bytes += [Int](repeating: 0, count: more)
        }
        let table: UnsafeMutablePointer<Int64>
        if let existing = tables[group] {
            table = existing
        } else {
            table = .allocate(capacity: vocabularySize)
            table.initialize(repeating: 0, count: vocabularySize)
            tables[group] = table
        }
        // The tokenizer's ids are below its vocabulary size by construction.
        for id in ids { table[Int(id)] += 1 }
        documents[group] += 1
        tokens[group] += ids.count
        bytes[group] += count
    }

    /// The groups' sums over all tallies, in output order, leaving out groups without documents.
    static func sum(_ tallies: [Tally], names: [String?], vocabularySize: Int) -> [GroupCounts] {
        var groups: [GroupCounts] = []
        for (number, name) in names.enumerated() {
            var group = GroupCounts(subset: name, vocabularySize: vocabularySize)
            for tally in tallies where number < tally.tables.count {
                guard let table = tally.tables[number] else { continue }
                group.counts.withUnsafeMutableBufferPointer { total in
                    for id in 0..<vocabularySize { total[id] += table[id] }
                }
                group.documents += tally.documents[number]
                group.tokens += tally.tokens[number]
                group.bytes += tally.bytes[number]
            }
            if group.documents > 0 { groups.append(group) }
        }
        return groups.sorted { groupPrecedes($0.subset, $1.subset) }
    }
}
