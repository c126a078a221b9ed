import Foundation

/// Reads documents from one corpus file as a stream (constant memory however large the file: one input buffer
/// and one document at a time). Bad input stops with a `CorpusError` naming the file and line, or, with
/// `ReadOptions.skipBadLines`, the line is skipped and counted in `skippedLines` (a truncated or corrupt .zst
/// stream ends the file there, its unfinished line counted as skipped).
///
/// Formats (see `CorpusFormat`): JSONL and zstd-compressed JSONL (one document per non-blank line; the text
/// field's string, the other fields as `metadata`), plain text (`TextUnit`: paragraphs, lines or the whole
/// file), CoNLL-2003 (`ConllUnit`: documents or sentences; words joined by single spaces, each word with its
/// POS, chunk and NER tags). Every line must be valid UTF-8.
public final class DocumentReader {
    public let path: String
    public let format: CorpusFormat
    public let options: ReadOptions
    /// Lines skipped as bad (only with `skipBadLines`).
    public private(set) var skippedLines = 0
    /// The first few of those, with the reason (for the manifest and the log).
    public private(set) var skippedExamples: [CorpusError] = []
    private static let maxExamples = 10

    private let lines: LineReader
    private let textField: [UInt8]
    private var documentCount = 0
    private var finished = false

    /// Opens the file; the format comes from its name unless given. Throws `CorpusError` if the file cannot be
    /// opened or its name implies no format.
    public init(path: String, format: CorpusFormat? = nil, options: ReadOptions = ReadOptions()) throws {
        self.path = path
        self.options = options
        textField = Array(options.textField.utf8)
        guard let format = format ?? CorpusFormat.detect(fileName: path) else {
            throw CorpusError(file: path, line: nil, problem: "cannot tell the format from the file name; name it "
                              + "(one of \(CorpusFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.format = format
        let file: ByteSource
        do { file = try FileByteSource(path: path) } catch let error as ByteSourceError {
            throw CorpusError(file: path, line: nil, problem: error.problem)
        }
        lines = LineReader(format == .jsonlZst ? ZstdByteSource(file) : file)
    }

    /// The next document, or nil at the end of the file.
    public func next() throws -> Document? {
        if finished { return nil }
        let document: Document?
        do {
            switch format {
            case .jsonl, .jsonlZst: document = try nextJSONLine()
            case .txt: document = try nextText()
            case .conll: document = try nextConll()
            }
        } catch let error as LineReaderError {
            // A broken stream (truncated or corrupt .zst, read error) ends the file: the rest is lost. With
            // skipBadLines the unfinished line counts as skipped (and the problem is kept among the examples).
            finished = true
            try bad(error.line, error.problem)
            return nil
        }
        if document == nil { finished = true }
        if document != nil { documentCount += 1 }
        return document
    }

    /// Up to `count` next documents (fewer only at the end of the file): one block of the tokenize stage.
    public func next(upTo count: Int) throws -> [Document] {
        var block: [Document] = []
        while block.count < count, let document = try next() { block.append(document) }
        return block
    }

    // MARK: Lines

    /// Throws the problem, or with `skipBadLines` counts it and returns normally.
    private func bad(_ line: Int, _ problem: String) throws {
        let error = CorpusError(file: path, line: line, problem: problem)
        guard options.skipBadLines else { throw error }
        skippedLines += 1
        if skippedExamples.count < DocumentReader.maxExamples { skippedExamples.append(error) }
    }

    /// The next line as text, with bad UTF-8 reported (or the line skipped); nil at the end.
    private func nextTextLine(dropCarriageReturn: Bool) throws -> (number: Int, text: String)? {
        while let bytes = try lines.next(dropCarriageReturn: dropCarriageReturn) {
            if let text = String(validating: bytes, as: UTF8.self) { return (lines.lineNumber, text) }
            try bad(lines.lineNumber, "invalid UTF-8")
        }
        return nil
    }

    // MARK: JSONL

    private func nextJSONLine() throws -> Document? {
        while let bytes = try lines.next(dropCarriageReturn: false) {
            let number = lines.lineNumber
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank line
            guard String(validating: bytes, as: UTF8.self) != nil else {
                try bad(number, "invalid UTF-8")
                continue
            }
            do {
                let (text, metadata) = try bytes.withUnsafeBufferPointer { try JSONLine.parse($0, textField: textField) }
                return Document(text: text, source: path, index: documentCount, line: number, metadata: metadata)
            } catch let problem as JSONLine.Problem {
                try bad(number, problem.message)
            }
        }
        return nil
    }

    // MARK: Plain text

    private func nextText() throws -> Document? {
        var collected: [String] = []
        var firstLine = 0
        while let (number, line) = try nextTextLine(dropCarriageReturn: true) {
            let blank = line.unicodeScalars.allSatisfy(\.properties.isWhitespace)
            switch options.textUnit {
            case .line:
                if !blank { return Document(text: line, source: path, index: documentCount, line: number) }
            case .paragraph:
                if blank {
                    if !collected.isEmpty { return textDocument(collected, firstLine) }
                } else {
                    if collected.isEmpty { firstLine = number }
                    collected.append(line)
                }
            case .file:
                if collected.isEmpty && blank { continue }  // leading blank lines
                if collected.isEmpty { firstLine = number }
                collected.append(line)
            }
        }
        if options.textUnit == .file {
            while let last = collected.last, last.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
                collected.removeLast()
            }
        }
        return collected.isEmpty ? nil : textDocument(collected, firstLine)
    }

    private func textDocument(_ lines: [String], _ firstLine: Int) -> Document {
        Document(text: lines.joined(separator: "\n"), source: path, index: documentCount, line: firstLine)
    }

    // MARK: CoNLL-2003

    private func nextConllLine() throws -> (number: Int, columns: [String])? {
        while let (number, line) = try nextTextLine(dropCarriageReturn: true) {
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if columns.isEmpty || columns[0] == "-DOCSTART-" || columns.count == 4 { return (number, columns) }
            try bad(number, "expected 4 columns (word POS chunk NER), found \(columns.count)")
        }
        return nil
    }

    private func nextConll() throws -> Document? {
        var words: [Word] = []
        var sentence = 0
        var firstLine = 0
        var sentenceOpen = false
        while let (number, columns) = try nextConllLine() {
            if columns.isEmpty || columns[0] == "-DOCSTART-" {
                if sentenceOpen {
                    sentenceOpen = false
                    sentence += 1
                    if options.conllUnit == .sentence { return conllDocument(words, firstLine) }
                }
                if columns.first == "-DOCSTART-" && !words.isEmpty { return conllDocument(words, firstLine) }
                continue
            }
            if words.isEmpty { firstLine = number }
            sentenceOpen = true
            words.append(Word(text: columns[0], labels: ["pos": columns[1], "chunk": columns[2], "ner": columns[3]],
                              sentence: options.conllUnit == .sentence ? 0 : sentence))
        }
        return words.isEmpty ? nil : conllDocument(words, firstLine)
    }

    private func conllDocument(_ words: [Word], _ firstLine: Int) -> Document {
        Document(text: words.map(\.text).joined(separator: " "), source: path, index: documentCount, line: firstLine,
                 words: words)
    }
}
