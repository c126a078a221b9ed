import LetheShards

/// A chunk's KEY.json: one JSON object that every chunk stage carries forward and adds its fields to. The fields
/// and their types are declared here and read and written only through these properties; any other field (a
/// user's own) is kept as it came. Written by JSONValue, keys sorted.
public struct ChunkMetadata: Equatable, Sendable {
    /// The object as it is written.
    public private(set) var json: JSONValue

    /// The names of the fields, by the stage that adds them.
    public enum Field {
        public static let tokenize = ["text", "dataset", "source", "doc", "line", "length", "documents", "token_offset",
                                      "first_word", "metadata", "words"]
        public static let encode = ["encoder", "state_dtype"]
        public static let reconstruct = ["reference", "reconstruction", "stop", "decoder"]
        public static let annotate = ["rouge1", "reference_words", "retained_words", "token_fates"]
    }

    /// Metadata read from a shard: any JSON object.
    public init(json: JSONValue) throws {
        guard json.objectValue != nil else { throw ShardError("KEY.json is not an object") }
        self.json = json
    }

    /// What lethe-tokenize writes: `text` (what the tokens decode to; for `none` chunking the document's text),
    /// `dataset`, `source`, `doc`, `line` (where that document starts in `source`), `length`, `documents` (how
    /// many documents the chunk spans), `token_offset`, and where present `first_word`, `metadata` (the JSONL
    /// line's other fields or the CSV record's other columns) and `words`.
    public init(text: String, dataset: String, source: String, document: Int, line: Int, length: Int, documents: Int,
                tokenOffset: Int, firstWord: Int?, metadata: JSONValue?, words: [ChunkWord]?) {
        var object: [String: JSONValue] = [
            "text": .string(text), "dataset": .string(dataset), "source": .string(source), "doc": .int(document),
            "line": .int(line), "length": .int(length), "documents": .int(documents), "token_offset": .int(tokenOffset),
        ]
        if let firstWord { object["first_word"] = .int(firstWord) }
        if let metadata { object["metadata"] = metadata }
        if let words { object["words"] = .array(words.map(\.json)) }
        json = .object(object)
    }

    // MARK: lethe-tokenize

    /// What the tokens decode to.
    public var text: String? { json["text"]?.stringValue }

    /// The document the chunk is, when it is one whole document (chunking `none`: `documents` 1, `token_offset`
    /// 0): "source#doc", the same for a document's versions in two datasets (a sentence's AAVE and SAE texts);
    /// nil for a chunk cut from documents, or when a field is missing.
    public var document: String? {
        guard let source = json["source"]?.stringValue, let index = json["doc"]?.intValue,
              json["documents"]?.intValue == 1, json["token_offset"]?.intValue == 0, json["first_word"] == nil else { return nil }
        return "\(source)#\(index)"
    }

    /// The dataset label lethe-tokenize gave the chunk.
    public var dataset: String? { json["dataset"]?.stringValue }

    /// The dataset the chunk is reported under: the Pile's subset (`metadata.meta.pile_set_name`) when the
    /// metadata names one, else `dataset`; nil when neither is a non-empty string.
    public var reportedDataset: String? {
        if let subset = json["metadata"]?["meta"]?["pile_set_name"]?.stringValue, !subset.isEmpty { return subset }
        guard let dataset, !dataset.isEmpty else { return nil }
        return dataset
    }

    /// The chunk's words (`--chunking words`, and `none` on a labelled corpus), each span checked to lie within
    /// the chunk's `tokenCount` tokens; nil when there are none.
    public func words(tokenCount: Int) throws -> [ChunkWord]? {
        guard let value = json["words"] else { return nil }
        guard let words = value.arrayValue else { throw ShardError("KEY.json \"words\" is not an array") }
        return try words.enumerated().map { index, word in try ChunkWord(json: word, index: index, tokenCount: tokenCount) }
    }

    // MARK: lethe-encode

    /// The encoder's identity: {"model", "config"} (LetheModel's modelIdentity).
    public var encoder: JSONValue? {
        get { json["encoder"] }
        set { json["encoder"] = newValue }
    }

    /// The dtype the states are stored in: "float32" or "float16".
    public var stateDType: String? {
        get { json["state_dtype"]?.stringValue }
        set { json["state_dtype"] = newValue.map(JSONValue.string) }
    }

    // MARK: lethe-reconstruct

    /// The chunk's text, as the reconstruction is compared with it.
    public var reference: String? {
        get { json["reference"]?.stringValue }
        set { json["reference"] = newValue.map(JSONValue.string) }
    }

    /// The decoder's greedy reconstruction, decoded.
    public var reconstruction: String? {
        get { json["reconstruction"]?.stringValue }
        set { json["reconstruction"] = newValue.map(JSONValue.string) }
    }

    /// Why decoding stopped: "eos" or "length".
    public var stop: String? {
        get { json["stop"]?.stringValue }
        set { json["stop"] = newValue.map(JSONValue.string) }
    }

    /// The decoder's identity: {"model", "config"}.
    public var decoder: JSONValue? {
        get { json["decoder"] }
        set { json["decoder"] = newValue }
    }

    // MARK: lethe-annotate

    /// The chunk's scores: ROUGE-1 of the reconstruction against the reference, its reference words and how many
    /// were retained, and how many of its tokens had each fate (`kept`, `substituted`, `dropped`, `inserted`).
    public mutating func setScores(rouge1 precision: Double, recall: Double, f1: Double, referenceWords: Int,
                                   retainedWords: Int, tokenFates: [String: Int]) {
        json["rouge1"] = ["precision": .double(precision), "recall": .double(recall), "f1": .double(f1)]
        json["reference_words"] = .int(referenceWords)
        json["retained_words"] = .int(retainedWords)
        json["token_fates"] = .object(tokenFates.mapValues(JSONValue.int))
    }
}

/// A word of a chunk (KEY.json's `words`): its text (NFC), labels (CoNLL-2003's `pos`, `chunk`, `ner`; empty
/// for unlabelled text), its sentence where the corpus has sentences, and the tokens it covers,
/// tokens[span] of the chunk, its leading space included (lethe-tokenize always writes a span; a user's shard
/// may leave it out).
public struct ChunkWord: Sendable, Equatable {
    public var text: String
    public var labels: [String: String]
    public var sentence: Int?
    public var span: Range<Int>?

    public init(text: String, labels: [String: String], sentence: Int?, span: Range<Int>?) {
        self.text = text; self.labels = labels; self.sentence = sentence; self.span = span
    }

    /// {"text", "labels", "sentence", "span": [start, end]}, the fields without a value left out.
    var json: JSONValue {
        var entry: [String: JSONValue] = ["text": .string(text), "labels": .object(labels.mapValues(JSONValue.string))]
        if let span { entry["span"] = [.int(span.lowerBound), .int(span.upperBound)] }
        if let sentence { entry["sentence"] = .int(sentence) }
        return .object(entry)
    }

    init(json word: JSONValue, index: Int, tokenCount: Int) throws {
        guard let text = word["text"]?.stringValue else { throw ShardError("words[\(index)] has no \"text\"") }
        self.text = text
        labels = (word["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        sentence = word["sentence"]?.intValue
        if let bounds = word["span"] {
            guard let start = bounds[0]?.intValue, let end = bounds[1]?.intValue, bounds.arrayValue?.count == 2,
                  0 <= start, start <= end, end <= tokenCount else {
                throw ShardError("words[\(index)].span must be [start, end] within the chunk's \(tokenCount) tokens")
            }
            span = start..<end
        }
    }
}
