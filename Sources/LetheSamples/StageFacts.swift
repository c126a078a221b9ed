import LetheShards

/// The facts a chunk stage records in its manifest's `extra`: each unit (shard) writes its own, the run sums
/// them (LetheCLI's mergeExtras: numbers summed, objects merged key by key) and adds what is the same for every
/// unit. Written and read only through these types; a field missing when read (a manifest of older code) is
/// zero or nil.
public protocol StageFacts {
    init(json: JSONValue)
    var json: JSONValue { get }
}

/// lethe-tokenize's `extra`.
public struct TokenizeFacts: StageFacts, Equatable {
    public var documents = 0
    /// Documents with no tokens (no sample is made of them).
    public var emptyDocuments = 0
    public var tokens = 0
    /// Tokens of the remainder that `fixed` and `mixed` chunking dropped.
    public var droppedTokens = 0
    /// `words` chunking: single words longer than a chunk, skipped.
    public var skippedWords = 0
    public var samplesPerDataset: [String: Int] = [:]
    /// Facts of the whole run, in the manifest's `extra`; nil in a block's.
    public var run: Run?

    public struct Run: Equatable, Sendable {
        /// Documents passed over by --skip-documents (and beyond --max-documents).
        public var documentsSkipped: Int
        public var skippedLines: Int
        /// The first skipped lines, "file:line: problem".
        public var skippedLineExamples: [String]
        /// The tokenizer.json: its path as given (never absolute) and its sha256.
        public var tokenizerPath: String, tokenizerSHA256: String

        public init(documentsSkipped: Int, skippedLines: Int, skippedLineExamples: [String], tokenizerPath: String,
                    tokenizerSHA256: String) {
            self.documentsSkipped = documentsSkipped; self.skippedLines = skippedLines
            self.skippedLineExamples = skippedLineExamples; self.tokenizerPath = tokenizerPath
            self.tokenizerSHA256 = tokenizerSHA256
        }
    }

    public init() {}

    public init(json: JSONValue) {
        documents = json["documents"]?.intValue ?? 0
        emptyDocuments = json["empty_documents"]?.intValue ?? 0
        tokens = json["tokens"]?.intValue ?? 0
        droppedTokens = json["dropped_tokens"]?.intValue ?? 0
        skippedWords = json["skipped_words"]?.intValue ?? 0
        samplesPerDataset = (json["samples_per_dataset"]?.objectValue ?? [:]).compactMapValues(\.intValue)
        if let tokenizer = json["tokenizer"] {
            run = Run(documentsSkipped: json["documents_skipped"]?.intValue ?? 0, skippedLines: json["skipped_lines"]?.intValue ?? 0,
                      skippedLineExamples: json["skipped_line_examples"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                      tokenizerPath: tokenizer["path"]?.stringValue ?? "", tokenizerSHA256: tokenizer["sha256"]?.stringValue ?? "")
        }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "documents": .int(documents), "empty_documents": .int(emptyDocuments), "tokens": .int(tokens),
            "dropped_tokens": .int(droppedTokens), "skipped_words": .int(skippedWords),
            "samples_per_dataset": .object(samplesPerDataset.mapValues(JSONValue.int)),
        ]
        if let run {
            object["documents_skipped"] = .int(run.documentsSkipped)
            object["skipped_lines"] = .int(run.skippedLines)
            if !run.skippedLineExamples.isEmpty { object["skipped_line_examples"] = .array(run.skippedLineExamples.map(JSONValue.string)) }
            object["tokenizer"] = ["path": .string(run.tokenizerPath), "sha256": .string(run.tokenizerSHA256)]
        }
        return .object(object)
    }
}

/// lethe-encode's `extra`.
public struct EncodeFacts: StageFacts, Equatable {
    public var chunks = 0, tokens = 0, batches = 0
    /// The encoder's identity ({"model", "config"}) and the states' dtype: the same for every shard.
    public var encoder: JSONValue?
    public var stateDType: String?

    public init(chunks: Int, tokens: Int, batches: Int) { self.chunks = chunks; self.tokens = tokens; self.batches = batches }

    public init(json: JSONValue) {
        chunks = json["chunks"]?.intValue ?? 0
        tokens = json["tokens"]?.intValue ?? 0
        batches = json["batches"]?.intValue ?? 0
        encoder = json["encoder"]
        stateDType = json["state_dtype"]?.stringValue
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["chunks": .int(chunks), "tokens": .int(tokens), "batches": .int(batches)]
        if let encoder { object["encoder"] = encoder }
        if let stateDType { object["state_dtype"] = .string(stateDType) }
        return .object(object)
    }

    /// The encoder's state shapes, [n_layer, d_inner, d_state] and [n_layer, d_inner, conv_kernel], when recorded.
    public var stateShapes: (ssm: [Int], conv: [Int])? {
        guard let config = encoder?["config"], let ssm = config["ssm_shape"]?.arrayValue?.compactMap(\.intValue),
              let conv = config["conv_shape"]?.arrayValue?.compactMap(\.intValue) else { return nil }
        return (ssm, conv)
    }
}

/// lethe-reconstruct's `extra`.
public struct ReconstructFacts: StageFacts, Equatable {
    public var chunks = 0, stoppedAtEOS = 0, stoppedAtLength = 0, generatedTokens = 0
    /// Chunks whose reconstruction is exactly their tokens.
    public var exactReconstructions = 0
    /// The decoder's identity: the same for every shard.
    public var decoder: JSONValue?

    public init() {}

    public init(json: JSONValue) {
        chunks = json["chunks"]?.intValue ?? 0
        stoppedAtEOS = json["stopped_at_eos"]?.intValue ?? 0
        stoppedAtLength = json["stopped_at_length"]?.intValue ?? 0
        generatedTokens = json["generated_tokens"]?.intValue ?? 0
        exactReconstructions = json["exact_reconstructions"]?.intValue ?? 0
        decoder = json["decoder"]
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "chunks": .int(chunks), "stopped_at_eos": .int(stoppedAtEOS), "stopped_at_length": .int(stoppedAtLength),
            "generated_tokens": .int(generatedTokens), "exact_reconstructions": .int(exactReconstructions),
        ]
        if let decoder { object["decoder"] = decoder }
        return .object(object)
    }
}

/// lethe-annotate's `extra`.
public struct AnnotateFacts: StageFacts, Equatable {
    public var chunks = 0, referenceWords = 0, retainedWords = 0, referenceTokens = 0, keptTokens = 0

    public init() {}

    public init(json: JSONValue) {
        chunks = json["chunks"]?.intValue ?? 0
        referenceWords = json["reference_words"]?.intValue ?? 0
        retainedWords = json["retained_words"]?.intValue ?? 0
        referenceTokens = json["reference_tokens"]?.intValue ?? 0
        keptTokens = json["kept_tokens"]?.intValue ?? 0
    }

    public var json: JSONValue {
        ["chunks": .int(chunks), "reference_words": .int(referenceWords), "retained_words": .int(retainedWords),
         "reference_tokens": .int(referenceTokens), "kept_tokens": .int(keptTokens)]
    }
}
