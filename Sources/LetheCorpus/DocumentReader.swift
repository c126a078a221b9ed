import Foundation
import LetheShards

/// Reads documents from one corpus file as a stream (constant memory however large the file: one input buffer
/// and one document at a time). Bad input stops with a `CorpusError` naming the file and line, or, with
/// `ReadOptions.skipBadLines`, the line is skipped and counted in `skippedLines` (a truncated or corrupt .zst
/// stream ends the file there, its unfinished line counted as skipped).
///
/// Formats (see `CorpusFormat`): JSONL and zstd-compressed JSONL (one document per non-blank line; the text
/// field's string, the other fields as `metadata`), plain text (`TextUnit`: paragraphs, lines or the whole
/// file), CoNLL-2003 (`ConllUnit`: documents or sentences; words joined by single spaces, each word with its
/// POS, chunk and NER tags), CSV (RFC 4180 with a header row; one document per record, the text column's value,
/// the other columns as `metadata`). Every line must be valid UTF-8.
public final class DocumentReader {
    public let path: String
    public let format: CorpusFormat
    public let options: ReadOptions
    /// Lines skipped as bad (only with `skipBadLines`).
    public private(set) var skippedLines = 0
    /// JSONL lines passed over for lacking the text field, or 1 for a CSV file without its column (with
    /// `ReadOptions.textFieldOptional`).
    public private(set) var linesWithoutText = 0
    /// The first few of those, with the reason (for the manifest and the log).
    public private(set) var skippedExamples: [CorpusError] = []
    private static let maxExamples = 10

    private let file: FileByteSource
    private let lines: LineReader
    private let textField: [UInt8]
    public private(set) var documentCount = 0
    private var finished = false
    /// CSV: the header, once read.
    private var csv: CSVHeader?

    /// Opens the file; the format comes from its name unless given. Throws `CorpusError` if the file cannot be
    /// opened or its name implies no format.
    public init(path: String, format: CorpusFormat? = nil, options: ReadOptions = ReadOptions()) throws {
        self.path = path
        self.options = options
        textField = Array(options.textField.utf8)
        self.format = try CorpusFormat.of(file: path, given: format)
        do { file = try FileByteSource(path: path) } catch let error as ByteSourceError {
            throw CorpusError(file: path, line: nil, problem: error.problem)
        }
        lines = LineReader(self.format == .jsonlZst ? ZstdByteSource(file) : file)
    }

    /// Bytes of the file read so far (compressed bytes for .jsonl.zst): how far through the file the reader is.
    public var bytesRead: Int { file.bytesRead }

    /// The next document, or nil at the end of the file.
    public func next() throws -> Document? {
        if finished { return nil }
        let document: Document?
        do {
            switch format {
            case .jsonl, .jsonlZst: document = try nextJSONLine()
            case .txt: document = try nextText()
            case .conll: document = try nextConll()
            case .csv: document = try nextCSV()
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
                if problem.isMissingField && options.textFieldOptional {
                    linesWithoutText += 1
                    continue
                }
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

// MARK: - CSV

extension DocumentReader {
    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), carriageReturn = UInt8(ascii: "\r")

    private func nextCSV() throws -> Document? {
        if csv == nil {
            // The header: a problem here is never skipped (without it no record can be read).
            guard let (line, names) = try nextCSVRecord(report: { line, problem in
                throw CorpusError(file: self.path, line: line, problem: "header: \(problem)")
            }) else { return nil }
            var seen = Set<String>()
            for name in names where !seen.insert(name).inserted {
                throw CorpusError(file: path, line: line, problem: "header: column \"\(name)\" appears twice")
            }
            guard let textColumn = names.firstIndex(of: options.textField) else {
                if options.textFieldOptional {
                    linesWithoutText += 1
                    return nil
                }
                throw CorpusError(file: path, line: line, problem: "no column \"\(options.textField)\" (the columns are "
                                  + names.map { "\"\($0)\"" }.joined(separator: ", ") + ")")
            }
            csv = CSVHeader(columns: names, textColumn: textColumn)
        }
        let header = csv!
        while let (line, fields) = try nextCSVRecord(report: bad) {
            guard fields.count == header.columns.count else {
                try bad(line, "expected \(header.columns.count) fields (\(header.columns.joined(separator: ", "))), found \(fields.count)")
                continue
            }
            var others: [String: JSONValue] = [:]
            for (column, name) in header.columns.enumerated() where column != header.textColumn {
                others[name] = .string(fields[column])
            }
            return Document(text: fields[header.textColumn], source: path, index: documentCount, line: line,
                            metadata: others.isEmpty ? nil : .object(others))
        }
        return nil
    }

    /// The next record's first line number and fields, or nil at the end. Blank lines between records are skipped
    /// (as Python's csv.DictReader does). A quoted field may hold commas, doubled quotes and line breaks, kept as in
    /// the file ("\r\n" included). A quote inside an unquoted field, or text after a closing quote, is a problem
    /// (RFC 4180 allows neither): `report` throws it, or counts it and the record is dropped.
    private func nextCSVRecord(report: (Int, String) throws -> Void) throws -> (line: Int, fields: [String])? {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false, afterClosingQuote = false
        var firstLine = 0
        func restart() {
            fields = []
            field = []
            inQuotes = false
            afterClosingQuote = false
            firstLine = 0
        }
        while let bytes = try lines.next(dropCarriageReturn: false) {
            let number = lines.lineNumber
            if firstLine == 0 {
                if bytes.isEmpty || bytes == [Self.carriageReturn] { continue }
                firstLine = number
            }
            guard String(validating: bytes, as: UTF8.self) != nil else {
                try report(number, "invalid UTF-8")
                restart()
                continue
            }
            var problem: String? = nil
            var i = 0
            while i < bytes.count && problem == nil {
                let byte = bytes[i]
                i += 1
                if inQuotes {
                    if byte != Self.quote {
                        field.append(byte)
                    } else if i < bytes.count && bytes[i] == Self.quote {
                        field.append(byte)
                        i += 1
                    } else {
                        inQuotes = false
                        afterClosingQuote = true
                    }
                } else if byte == Self.comma {
                    fields.append(String(decoding: field, as: UTF8.self))
                    field = []
                    afterClosingQuote = false
                } else if byte == Self.carriageReturn && i == bytes.count {
                    // The "\r" of a "\r\n" line end.
                } else if afterClosingQuote {
                    problem = "text after the closing quote of a field (expected ',' or the end of the line)"
                } else if byte == Self.quote {
                    if field.isEmpty { inQuotes = true } else {
                        problem = "a quote inside an unquoted field (quote the whole field and double the quote)"
                    }
                } else {
                    field.append(byte)
                }
            }
            if let problem {
                try report(number, problem)
                restart()
                continue
            }
            if inQuotes {
                field.append(UInt8(ascii: "\n"))  // the line break belongs to the quoted field
                continue
            }
            fields.append(String(decoding: field, as: UTF8.self))
            return (firstLine, fields)
        }
        if inQuotes { try report(firstLine, "a quoted field of the record starting here is never closed") }
        return nil
    }
}

/// A CSV file's column names and which one holds the text.
struct CSVHeader {
    let columns: [String]
    let textColumn: Int
}
