import Foundation
import LetheShards

/// Reads one JSONL line (RFC 8259, strict): finds the text field and decodes its string straight from the line's
/// bytes (the hot path); the other members of the top-level object are collected and parsed as one `JSONValue`
/// (the project's JSON, so every stage writes metadata the same way). Hand-written because Foundation's
/// JSONSerialization on Linux drops a U+FEFF that follows an escape, and a reader must never change text.
struct JSONLine {
    struct Problem: Error {
        let message: String
        /// The line is a JSON object without the text field (it may be fine when the field is optional).
        var isMissingField = false
    }

    /// The decoded text field and the other members as a JSON object (nil if there are none).
    static func parse(_ line: UnsafeBufferPointer<UInt8>, textField: [UInt8]) throws -> (text: String, metadata: JSONValue?) {
        var scanner = JSONLine(bytes: line)
        return try scanner.parseTopLevel(textField: textField)
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private static let maxDepth = 512

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func fail(_ message: String) -> Problem { Problem(message: "not JSON: \(message) at byte \(position + 1)") }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else {
            throw fail("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    private mutating func parseTopLevel(textField: [UInt8]) throws -> (text: String, metadata: JSONValue?) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else {
            throw Problem(message: "not a JSON object")
        }
        position += 1
        var text: [UInt8]? = nil
        var others: [Range<Int>] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let memberStart = position
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try parseString()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                if key == textField {
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                        throw Problem(message: "field \"\(String(decoding: textField, as: UTF8.self))\" is not a string")
                    }
                    text = try parseString()  // a repeated field: the last one wins, as in Python's json
                } else {
                    try skipValue(depth: 1)
                    others.append(memberStart..<position)
                }
                skipWhitespace()
                guard position < bytes.count else { throw fail("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipWhitespace()
        if position != bytes.count { throw fail("text after the object") }
        guard let text else { throw Problem(message: "no \"\(String(decoding: textField, as: UTF8.self))\" field", isMissingField: true) }
        var metadata: JSONValue? = nil
        if !others.isEmpty {
            var object: [UInt8] = [UInt8(ascii: "{")]
            for (index, range) in others.enumerated() {
                if index > 0 { object.append(UInt8(ascii: ",")) }
                object += bytes[range]
            }
            object.append(UInt8(ascii: "}"))
            // The syntax is checked already; JSONValue adds refusing a key repeated within an object. Its line and
            // column point into the rebuilt object, so only the message is kept.
            do { metadata = try JSONValue.parse(object) } catch let error as JSONError {
                let message = error.description.split(separator: ":", maxSplits: 2).last!.trimmingCharacters(in: .whitespaces)
                throw Problem(message: "metadata: \(message)")
            }
        }
        return (String(decoding: text, as: UTF8.self), metadata)
    }

    /// Decodes the string at `position` (which is at its opening quote) to UTF-8 bytes; the runs between escapes
    /// are copied whole.
    private mutating func parseString() throws -> [UInt8] {
        position += 1
        var result: [UInt8] = []
        var runStart = position
        func copyRun(upTo end: Int) { result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end])) }
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                copyRun(upTo: position)
                position += 1
                return result
            }
            if byte < 0x20 { throw fail("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            copyRun(upTo: position)
            guard position + 1 < bytes.count else { throw fail("unterminated escape") }
            let escape = bytes[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(escape)
            case UInt8(ascii: "b"): result.append(0x08)
            case UInt8(ascii: "f"): result.append(0x0C)
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "u"):
                var value = try parseHex4()
                if (0xD800..<0xDC00).contains(value) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else { throw fail("unpaired surrogate escape") }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate escape") }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(value) {
                    throw fail("unpaired surrogate escape")
                }
                UTF8.encode(Unicode.Scalar(value)!) { result.append($0) }
            default:
                throw fail("invalid escape")
            }
            runStart = position
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth <= JSONLine.maxDepth else { throw fail("nested deeper than \(JSONLine.maxDepth)") }
        skipWhitespace()
        guard position < bytes.count else { throw fail("expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            _ = try parseString()
        case UInt8(ascii: "{"):
            position += 1
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "}") { position += 1; return }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                _ = try parseString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard position < bytes.count else { throw fail("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "]") { position += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard position < bytes.count else { throw fail("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "t"): try skipLiteral("true")
        case UInt8(ascii: "f"): try skipLiteral("false")
        case UInt8(ascii: "n"): try skipLiteral("null")
        default: try skipNumber()
        }
    }

    private mutating func skipLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count,
              memcmp(bytes.baseAddress! + position, literal.utf8Start, count) == 0 else { throw fail("invalid literal") }
        position += count
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func skipNumber() throws {
        func isDigit(_ k: Int) -> Bool { k < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[k]) }
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard isDigit(position) else { throw fail("invalid value") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard isDigit(position) else { throw fail("invalid number") }
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            guard isDigit(position) else { throw fail("invalid number") }
            while isDigit(position) { position += 1 }
        }
    }
}
