extension Sample {
    /// The sample's KEY.json: `text` (what the tokens decode to; for `none` the document's text), `dataset`,
    /// `source`, `doc`, `length`, `documents` (how many documents it spans), `token_offset`, and where present
    /// `first_word`, `metadata` (the JSONL line's other fields as an object, each member verbatim) and `words`
    /// ([{"text", "labels": {...}, "sentence", "span": [start, end]}], spans in tokens, end exclusive).
    /// Keys in this fixed order; strings escaped as RFC 8259 requires, everything else left as UTF-8.
    public func json(dataset: String) -> String {
        var out = "{"
        out += "\"text\":" + jsonString(text)
        out += ",\"dataset\":" + jsonString(dataset)
        out += ",\"source\":" + jsonString(source)
        out += ",\"doc\":\(document),\"length\":\(tokens.count),\"documents\":\(documentCount)"
        out += ",\"token_offset\":\(tokenOffset)"
        if let firstWord { out += ",\"first_word\":\(firstWord)" }
        if let metadata { out += ",\"metadata\":" + metadata }
        if let words {
            out += ",\"words\":["
            for (index, word) in words.enumerated() {
                if index > 0 { out += "," }
                out += "{\"text\":" + jsonString(word.text) + ",\"labels\":{"
                out += word.labels.sorted { $0.key < $1.key }
                    .map { jsonString($0.key) + ":" + jsonString($0.value) }.joined(separator: ",")
                out += "}"
                if let sentence = word.sentence { out += ",\"sentence\":\(sentence)" }
                out += ",\"span\":[\(word.tokenStart),\(word.tokenEnd)]}"
            }
            out += "]"
        }
        return out + "}"
    }
}

/// A JSON string literal: quote, backslash and control characters escaped.
func jsonString(_ string: String) -> String {
    var out = "\""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
