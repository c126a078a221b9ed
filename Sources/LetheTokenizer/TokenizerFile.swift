import Foundation

/// The parts of a Hugging Face tokenizer.json that Lethe supports, read and checked key by key: byte-level BPE,
/// NFC or no normalizer, the ByteLevel pre-tokenizer, ByteLevel or no decoder and post-processor, no truncation or
/// padding. Anything else is refused with a `TokenizerError` naming the key, rather than tokenized differently.
struct TokenizerFile {
    enum Normalizer { case none, nfc }

    var normalizer = Normalizer.none
    var addPrefixSpace = false
    var useRegex = true
    var vocabulary: [String: Int32] = [:]
    /// (left token, right token) in rank order.
    var merges: [(String, String)] = []
    var addedTokens: [AddedToken] = []
    var unknownToken: String? = nil
    var fuseUnknown = false
    var ignoreMerges = false

    private let file: String

    init(contentsOf url: URL) throws {
        file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError(file: file, key: "", problem: "cannot read the file (\(error.localizedDescription))")
        }
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError(file: file, key: "", problem: "the top level is not a JSON object")
            }
            root = object
        } catch let error as TokenizerError { throw error } catch {
            throw TokenizerError(file: file, key: "", problem: "not valid JSON (\(error.localizedDescription))")
        }
        try readNormalizer(root["normalizer"])
        try readPreTokenizer(root["pre_tokenizer"])
        for key in ["decoder", "post_processor"] { try requireByteLevelOrNull(root[key], key: key) }
        for key in ["truncation", "padding"] where !isNull(root[key]) {
            throw fail(key, "must be null: Lethe does not truncate or pad (the ids would differ from the text's)")
        }
        try readModel(root["model"])
        try readAddedTokens(root["added_tokens"])
    }

    private func fail(_ key: String, _ problem: String) -> TokenizerError {
        TokenizerError(file: file, key: key, problem: problem)
    }

    private func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    private func object(_ value: Any?, _ key: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw fail(key, "expected a JSON object") }
        return object
    }

    private func string(_ value: Any?, _ key: String) throws -> String {
        guard let string = value as? String else { throw fail(key, "expected a string") }
        return string
    }

    private func bool(_ object: [String: Any], _ name: String, _ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = object[name], !(value is NSNull) else { return defaultValue }
        guard let flag = value as? Bool else { throw fail("\(key).\(name)", "expected true or false") }
        return flag
    }

    private func integer(_ value: Any?, _ key: String) throws -> Int32 {
        guard let number = value as? NSNumber, let integer = Int32(exactly: number.doubleValue), integer >= 0 else {
            throw fail(key, "expected a non-negative integer id")
        }
        return integer
    }

    private mutating func readNormalizer(_ value: Any?) throws {
        if isNull(value) { normalizer = .none; return }
        let normalizer = try object(value, "normalizer")
        let type = try string(normalizer["type"], "normalizer.type")
        guard type == "NFC" else {
            throw fail("normalizer.type", "\"\(type)\" is not supported (only NFC or no normalizer)")
        }
        self.normalizer = .nfc
    }

    private mutating func readPreTokenizer(_ value: Any?) throws {
        let preTokenizer = try object(value, "pre_tokenizer")
        let type = try string(preTokenizer["type"], "pre_tokenizer.type")
        guard type == "ByteLevel" else {
            throw fail("pre_tokenizer.type", "\"\(type)\" is not supported (only ByteLevel)")
        }
        addPrefixSpace = try bool(preTokenizer, "add_prefix_space", "pre_tokenizer", default: true)
        useRegex = try bool(preTokenizer, "use_regex", "pre_tokenizer", default: true)
    }

    private func requireByteLevelOrNull(_ value: Any?, key: String) throws {
        if isNull(value) { return }
        let type = try string(try object(value, key)["type"], "\(key).type")
        guard type == "ByteLevel" else { throw fail("\(key).type", "\"\(type)\" is not supported (only ByteLevel or null)") }
    }

    private mutating func readModel(_ value: Any?) throws {
        let model = try object(value, "model")
        if let type = model["type"], !(type is NSNull) {
            let name = try string(type, "model.type")
            guard name == "BPE" else { throw fail("model.type", "\"\(name)\" is not supported (only BPE)") }
        }
        for name in ["continuing_subword_prefix", "end_of_word_suffix"] where !isNull(model[name]) {
            if let text = model[name] as? String, text.isEmpty { continue }
            throw fail("model.\(name)", "is not supported by byte-level BPE (must be null)")
        }
        if let dropout = model["dropout"], !(dropout is NSNull) {
            guard let rate = dropout as? NSNumber, rate.doubleValue == 0 else {
                throw fail("model.dropout", "BPE dropout is random; Lethe needs deterministic ids (must be null)")
            }
        }
        if try bool(model, "byte_fallback", "model", default: false) {
            throw fail("model.byte_fallback", "is not supported (byte-level BPE needs no byte fallback)")
        }
        fuseUnknown = try bool(model, "fuse_unk", "model", default: false)
        ignoreMerges = try bool(model, "ignore_merges", "model", default: false)
        if !isNull(model["unk_token"]) { unknownToken = try string(model["unk_token"], "model.unk_token") }

        let vocab = try object(model["vocab"], "model.vocab")
        vocabulary.reserveCapacity(vocab.count)
        for (token, id) in vocab { vocabulary[token] = try integer(id, "model.vocab[\"\(token)\"]") }

        guard let mergeList = model["merges"] as? [Any] else { throw fail("model.merges", "expected an array") }
        merges.reserveCapacity(mergeList.count)
        for (index, merge) in mergeList.enumerated() {
            let key = "model.merges[\(index)]"
            if let line = merge as? String {
                // "a b": exactly one space, as `tokenizers` requires.
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail(key, "expected \"left right\", got \"\(line)\"") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = merge as? [Any], pair.count == 2, let left = pair[0] as? String,
                      let right = pair[1] as? String {
                merges.append((left, right))
            } else {
                throw fail(key, "expected \"left right\" or [\"left\", \"right\"]")
            }
        }
    }

    private mutating func readAddedTokens(_ value: Any?) throws {
        if isNull(value) { return }
        guard let list = value as? [Any] else { throw fail("added_tokens", "expected an array") }
        for (index, entry) in list.enumerated() {
            let key = "added_tokens[\(index)]"
            let token = try object(entry, key)
            addedTokens.append(AddedToken(
                id: try integer(token["id"], "\(key).id"),
                content: try string(token["content"], "\(key).content"),
                special: try bool(token, "special", key, default: false),
                singleWord: try bool(token, "single_word", key, default: false),
                leftStrip: try bool(token, "lstrip", key, default: false),
                rightStrip: try bool(token, "rstrip", key, default: false),
                normalized: try bool(token, "normalized", key, default: true)))
        }
    }
}
