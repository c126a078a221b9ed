import LetheShards

extension Sample {
    /// The sample's KEY.json: `text` (what the tokens decode to; for `none` the document's text), `dataset`,
    /// `source`, `doc`, `line` (where that document starts in `source`), `length`, `documents` (how many documents
    /// it spans), `token_offset`, and where present `first_word`, `metadata` (the JSONL line's other fields or the
    /// CSV record's other columns) and `words` ([{"text", "labels": {...}, "sentence", "span": [start, end]}],
    /// spans in tokens, end exclusive). Written by `JSONValue` like every JSON of a stage (keys sorted).
    public func json(dataset: String) -> JSONValue {
        var object: [String: JSONValue] = [
            "text": .string(text), "dataset": .string(dataset), "source": .string(source),
            "doc": .int(document), "line": .int(line), "length": .int(tokens.count),
            "documents": .int(documentCount), "token_offset": .int(tokenOffset),
        ]
        if let firstWord { object["first_word"] = .int(firstWord) }
        if let metadata { object["metadata"] = metadata }
        if let words {
            object["words"] = .array(words.map { word in
                var entry: [String: JSONValue] = [
                    "text": .string(word.text), "labels": .object(word.labels.mapValues(JSONValue.string)),
                    "span": [.int(word.tokenStart), .int(word.tokenEnd)],
                ]
                if let sentence = word.sentence { entry["sentence"] = .int(sentence) }
                return .object(entry)
            })
        }
        return .object(object)
    }
}
