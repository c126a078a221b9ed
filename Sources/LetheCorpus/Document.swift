import Foundation
import LetheShards

/// A document read from a corpus file: its text, where it came from, and what else the file said about it.
public struct Document: Sendable, Equatable {
    /// The text as in the file (JSONL: the decoded "text" string; txt: the lines of the unit joined by "\n";
    /// CoNLL: the words joined by single spaces).
    public var text: String
    /// The file it came from, as given to the reader.
    public var source: String
    /// 0-based number of the document within its file.
    public var index: Int
    /// 1-based line of the file where the document starts.
    public var line: Int
    /// JSONL: the line's other fields as a JSON object (e.g. the Pile's `{"meta": {"pile_set_name": "Pile-CC"}}`);
    /// CSV: the other columns as an object of strings; nil when there are none or for other formats.
    public var metadata: JSONValue?
    /// CoNLL: the words with their labels; nil for formats without word annotations.
    public var words: [Word]?

    public init(text: String, source: String, index: Int, line: Int, metadata: JSONValue? = nil, words: [Word]? = nil) {
        self.text = text
        self.source = source
        self.index = index
        self.line = line
        self.metadata = metadata
        self.words = words
    }
}

/// A word of an annotated corpus with its labels (CoNLL-2003: "pos", "chunk", "ner").
public struct Word: Sendable, Equatable {
    public var text: String
    public var labels: [String: String]
    /// 0-based sentence number within the document, where the corpus has sentences.
    public var sentence: Int?

    public init(text: String, labels: [String: String] = [:], sentence: Int? = nil) {
        self.text = text
        self.labels = labels
        self.sentence = sentence
    }
}

/// The file formats Lethe reads.
public enum CorpusFormat: String, Sendable, CaseIterable {
    /// One JSON object per line with a string field holding the text (default "text").
    case jsonl
    /// The same, compressed with zstd; decompressed as a stream.
    case jsonlZst = "jsonl.zst"
    /// Plain UTF-8 text; what a document is is set by `TextUnit`.
    case txt
    /// CoNLL-2003: `word POS chunk NER` per line, a blank line between sentences, `-DOCSTART-` between documents.
    case conll
    /// Comma-separated values (RFC 4180) with a header row; one column holds the text (default "text"), one
    /// document per row.
    case csv

    /// Whether a document's text is in a named field (JSONL) or column (CSV); plain text and CoNLL have none, so
    /// `--text-field` does not apply to them.
    public var hasTextFields: Bool { self == .jsonl || self == .jsonlZst || self == .csv }

    /// The format a file name implies: `.jsonl`, `.jsonl.zst`, `.txt`, `.conll`, `.csv`, or CoNLL-2003's own names
    /// (`eng.train`, `eng.testa`, `eng.testb`, ...). Nil if the name says nothing.
    public static func detect(fileName name: String) -> CorpusFormat? {
        let lower = name.lowercased()
        if lower.hasSuffix(".jsonl.zst") || lower.hasSuffix(".json.zst") { return .jsonlZst }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        if lower.hasSuffix(".txt") { return .txt }
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".conll") || lower.hasSuffix(".conll03") || lower.hasSuffix(".conll2003") { return .conll }
        let base = lower.split(separator: "/").last.map(String.init) ?? lower
        for prefix in ["eng.", "deu.", "esp.", "ned."] where base.hasPrefix(prefix) {
            if ["train", "testa", "testb", "dev", "test"].contains(String(base.dropFirst(prefix.count))) { return .conll }
        }
        return nil
    }

    /// The format `given`, else the one the file's name implies; throws a `CorpusError` naming the file if the
    /// name says nothing.
    public static func of(file path: String, given: CorpusFormat?) throws -> CorpusFormat {
        guard let format = given ?? detect(fileName: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CorpusError(file: path, line: nil, problem: "a folder; give the corpus files in it")
            }
            throw CorpusError(file: path, line: nil, problem: "cannot tell the format from the file name; name it "
                              + "(one of \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return format
    }
}

/// What one document of a .txt file is.
public enum TextUnit: String, Sendable, CaseIterable {
    /// Paragraphs: runs of non-blank lines, separated by one or more blank (or whitespace-only) lines; the lines
    /// of a paragraph are joined by "\n". The default: it keeps books and articles in reading-sized pieces.
    case paragraph
    /// Every non-blank line is a document.
    case line
    /// The whole file is one document (its lines joined by "\n", trailing blank lines dropped).
    case file
}

/// What one document of a CoNLL file is.
public enum ConllUnit: String, Sendable, CaseIterable {
    /// Everything between two `-DOCSTART-` lines (a Reuters article).
    case document
    /// Every sentence.
    case sentence
}

public struct ReadOptions: Sendable, Equatable {
    /// Skip lines that are not valid UTF-8, not JSON, lack the text field, (CoNLL) lack the 4 columns, or (CSV)
    /// are records with a quoting error or the wrong number of fields, and count them, instead of stopping with
    /// an error.
    public var skipBadLines = false
    /// The JSONL field or CSV column holding the text.
    public var textField = "text"
    public var textUnit = TextUnit.paragraph
    public var conllUnit = ConllUnit.document
    /// JSONL lines without the text field (a CSV file without the column) are passed over, counted in
    /// `linesWithoutText`, not bad: for reading several fields of a file in turn, where a line has only some.
    public var textFieldOptional = false

    public init(skipBadLines: Bool = false, textField: String = "text", textUnit: TextUnit = .paragraph,
                conllUnit: ConllUnit = .document, textFieldOptional: Bool = false) {
        self.skipBadLines = skipBadLines
        self.textFieldOptional = textFieldOptional
        self.textField = textField
        self.textUnit = textUnit
        self.conllUnit = conllUnit
    }
}

/// Bad input: names the file and, where there is one, the 1-based line.
public struct CorpusError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let problem: String

    public init(file: String, line: Int?, problem: String) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String {
        if let line { return "\(file):\(line): \(problem)" }
        return "\(file): \(problem)"
    }
}
