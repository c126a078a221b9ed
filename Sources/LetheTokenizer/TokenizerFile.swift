import Foundation

/// The parts of a Hugging Face tokenizer.json that Lethe supports, read and checked key by key: byte-level BPE,
/// NFC or no normalizer, the ByteLevel pre-tokenizer, ByteLevel or no decoder and post-processor, no truncation or
/// padding. Anything else is refused with a `TokenizerError` naming the key, rather than tokenized differently.
/// Parsed with JSONDecoder (JSONSerialization on Linux drops a U+FEFF that follows an escape sequence).
struct TokenizerFile {
    enum Normalizer { case none, nfc }

    var normalizer = Normalizer.none
    var addPrefixSpace = true
    var useRegex = true
    var vocabulary: [String: Int32] = [:]
    /// (left token, right token) in rank order.
    var merges: [(String, String)] = []
    var addedTokens: [AddedToken] = []
    var unknownToken: String? = nil
    var fuseUnknown = false
    var ignoreMerges = false

    init(contentsOf url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError(file: file, key: "", problem: "cannot read the file (\(error.localizedDescription))")
        }
        let json: JSONFile
        do {
            json = try JSONDecoder().decode(JSONFile.self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError(file: file, decodingError: error)
        } catch let problem as Problem {
            throw TokenizerError(file: file, key: problem.key, problem: problem.message)
        }
        func fail(_ key: String, _ problem: String) -> TokenizerError {
            TokenizerError(file: file, key: key, problem: problem)
        }

        if let normalizer = json.normalizer {
            guard normalizer.type == "NFC" else {
                throw fail("normalizer.type", "\"\(normalizer.type)\" is not supported (only NFC or no normalizer)")
            }
            self.normalizer = .nfc
        }
        guard let preTokenizer = json.pre_tokenizer else {
            throw fail("pre_tokenizer", "must be ByteLevel (a byte-level BPE needs it)")
        }
        guard preTokenizer.type == "ByteLevel" else {
            throw fail("pre_tokenizer.type", "\"\(preTokenizer.type)\" is not supported (only ByteLevel)")
        }
        addPrefixSpace = preTokenizer.add_prefix_space ?? true
        useRegex = preTokenizer.use_regex ?? true
        for (key, component) in [("decoder", json.decoder), ("post_processor", json.post_processor)] {
            if let component, component.type != "ByteLevel" {
                throw fail("\(key).type", "\"\(component.type)\" is not supported (only ByteLevel or null)")
            }
        }
        if json.truncation { throw fail("truncation", "must be null: Lethe does not truncate (the ids would differ)") }
        if json.padding { throw fail("padding", "must be null: Lethe does not pad (the ids would differ)") }

        let model = json.model
        if let type = model.type, type != "BPE" { throw fail("model.type", "\"\(type)\" is not supported (only BPE)") }
        if let prefix = model.continuing_subword_prefix, !prefix.isEmpty {
            throw fail("model.continuing_subword_prefix", "is not supported by byte-level BPE (must be null)")
        }
        if let suffix = model.end_of_word_suffix, !suffix.isEmpty {
            throw fail("model.end_of_word_suffix", "is not supported by byte-level BPE (must be null)")
        }
        if let dropout = model.dropout, dropout != 0 {
            throw fail("model.dropout", "BPE dropout is random; Lethe needs deterministic ids (must be null)")
        }
        if model.byte_fallback == true {
            throw fail("model.byte_fallback", "is not supported (byte-level BPE needs no byte fallback)")
        }
        fuseUnknown = model.fuse_unk ?? false
        ignoreMerges = model.ignore_merges ?? false
        unknownToken = model.unk_token
        vocabulary = model.vocab
        for (token, id) in vocabulary where id < 0 {
            throw fail("model.vocab[\"\(token)\"]", "expected a non-negative integer id")
        }
        merges.reserveCapacity(model.merges.count)
        for (index, merge) in model.merges.enumerated() {
            switch merge {
            case .line(let line):
                // "a b": exactly one space, as `tokenizers` requires.
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw fail("model.merges[\(index)]", "expected \"left right\", got \"\(line)\"")
                }
                merges.append((String(parts[0]), String(parts[1])))
            case .pair(let left, let right):
                merges.append((left, right))
            }
        }
        for (index, token) in (json.added_tokens ?? []).enumerated() {
            guard token.id >= 0 else { throw fail("added_tokens[\(index)].id", "expected a non-negative integer id") }
            addedTokens.append(AddedToken(
                id: token.id, content: token.content, special: token.special ?? false,
                singleWord: token.single_word ?? false, leftStrip: token.lstrip ?? false,
                rightStrip: token.rstrip ?? false, normalized: token.normalized ?? true))
        }
    }

    struct Problem: Error {
        let key: String
        let message: String
    }

    // The JSON layout; names as in the file.
    private struct JSONFile: Decodable {
        struct Component: Decodable { var type: String }
        struct PreTokenizer: Decodable {
            var type: String
            var add_prefix_space: Bool?
            var use_regex: Bool?
        }
        struct Model: Decodable {
            var type: String?
            var vocab: [String: Int32]
            var merges: [Merge]
            var unk_token: String?
            var fuse_unk: Bool?
            var byte_fallback: Bool?
            var ignore_merges: Bool?
            var continuing_subword_prefix: String?
            var end_of_word_suffix: String?
            var dropout: Double?
        }
        enum Merge: Decodable {
            case line(String)
            case pair(String, String)

            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let line = try? container.decode(String.self) { self = .line(line); return }
                if let pair = try? container.decode([String].self), pair.count == 2 { self = .pair(pair[0], pair[1]); return }
                throw Problem(key: TokenizerError.key(decoder.codingPath),
                              message: "expected \"left right\" or [\"left\", \"right\"]")
            }
        }
        struct AddedTokenEntry: Decodable {
            var id: Int32
            var content: String
            var special: Bool?
            var single_word: Bool?
            var lstrip: Bool?
            var rstrip: Bool?
            var normalized: Bool?
        }

        var normalizer: Component?
        var pre_tokenizer: PreTokenizer?
        var post_processor: Component?
        var decoder: Component?
        var model: Model
        var added_tokens: [AddedTokenEntry]?
        /// Whether the key holds something other than null.
        var truncation: Bool
        var padding: Bool

        enum CodingKeys: String, CodingKey {
            case normalizer, pre_tokenizer, post_processor, decoder, model, added_tokens, truncation, padding
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            normalizer = try container.decodeIfPresent(Component.self, forKey: .normalizer)
            pre_tokenizer = try container.decodeIfPresent(PreTokenizer.self, forKey: .pre_tokenizer)
            post_processor = try container.decodeIfPresent(Component.self, forKey: .post_processor)
            self.decoder = try container.decodeIfPresent(Component.self, forKey: .decoder)
            model = try container.decode(Model.self, forKey: .model)
            added_tokens = try container.decodeIfPresent([AddedTokenEntry].self, forKey: .added_tokens)
            truncation = container.contains(.truncation) ? !(try container.decodeNil(forKey: .truncation)) : false
            padding = container.contains(.padding) ? !(try container.decodeNil(forKey: .padding)) : false
        }
    }
}

extension TokenizerError {
    /// `model.merges[3]` from a coding path.
    static func key(_ path: [CodingKey]) -> String {
        var key = ""
        for component in path {
            if let index = component.intValue {
                key += "[\(index)]"
            } else {
                key += (key.isEmpty ? "" : ".") + component.stringValue
            }
        }
        return key
    }

    init(file: String, decodingError error: DecodingError) {
        func expected(_ type: Any.Type) -> String {
            switch type {
            case is Bool.Type: return "expected true or false"
            case is String.Type: return "expected a string"
            case is Int32.Type, is Int.Type: return "expected an integer id"
            case is Double.Type: return "expected a number"
            case is [Any].Type: return "expected an array"
            default: return "expected a JSON object"
            }
        }
        switch error {
        case .typeMismatch(let type, let context):
            self.init(file: file, key: TokenizerError.key(context.codingPath), problem: expected(type))
        case .valueNotFound(let type, let context):
            self.init(file: file, key: TokenizerError.key(context.codingPath), problem: "is null, " + expected(type))
        case .keyNotFound(let missing, let context):
            self.init(file: file, key: TokenizerError.key(context.codingPath + [missing]), problem: "is missing")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self.init(file: file, key: "", problem: "not valid JSON (\(context.debugDescription))")
        case .dataCorrupted(let context):
            self.init(file: file, key: TokenizerError.key(context.codingPath), problem: context.debugDescription)
        @unknown default:
            self.init(file: file, key: "", problem: "\(error)")
        }
    }
}
