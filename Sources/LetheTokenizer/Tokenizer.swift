import Foundation

/// A Hugging Face byte-level BPE tokenizer (the GPT-2 / GPT-NeoX family) that gives the ids the `tokenizers`
/// package gives. The pipeline of `Tokenizer::encode`, step by step:
///  1. added tokens with `normalized: false` are split out of the raw text (leftmost, longest first);
///  2. each remaining piece is normalized (NFC or nothing), then the `normalized: true` added tokens are split out;
///  3. each remaining piece is split by the ByteLevel pre-tokenizer (GPT-2 pattern) into words;
///  4. each word's UTF-8 bytes are merged by BPE (lowest rank first).
/// Immutable after loading; `encode` may be called from any number of threads at once.
public final class Tokenizer: @unchecked Sendable {
    /// One more than the largest id of the vocabulary and the added tokens (50,277 for GPT-NeoX-20B).
    public let vocabularySize: Int
    /// The id of `<|endoftext|>` (0 for GPT-NeoX), or nil if the vocabulary has no such token.
    public let eosID: Int32?
    /// The added tokens, in the file's order.
    public let addedTokens: [AddedToken]

    private let normalizer: TokenizerFile.Normalizer
    private let addPrefixSpace: Bool
    private let useRegex: Bool
    private let rawTokenMatcher: AddedTokenMatcher
    private let normalizedTokenMatcher: AddedTokenMatcher
    private let splitter = GPT2Splitter()
    private let merges: MergeTable
    /// `idOfByte[b]`: the vocabulary id of the one-byte token b, or -1.
    private let idOfByte: UnsafeMutablePointer<Int32>
    private let unknownID: Int32?
    private let fuseUnknown: Bool
    /// With `ignore_merges`, a word that is itself in the vocabulary is that one token (else empty).
    private let wholeWordIDs: [[UInt8]: Int32]

    private let tokenOfID: [String?]
    private let idOfToken: [String: Int32]
    private let specialIDs: Set<Int32>
    /// Bytes of token id k: decodedBytes[decodedStarts[k] ..< decodedStarts[k + 1]].
    private let decodedStarts: [Int]
    private let decodedBytes: [UInt8]

    private let workspaceLock = NSLock()
    private var idleWorkspaces: [Workspace] = []

    /// Loads a tokenizer.json. Throws `TokenizerError` naming the file and the key for anything unsupported or
    /// inconsistent (a merge of tokens not in the vocabulary, an unknown normalizer, ...).
    public convenience init(contentsOf url: URL) throws {
        try self.init(file: try TokenizerFile(contentsOf: url), path: url.path)
    }

    private init(file: TokenizerFile, path: String) throws {
        func fail(_ key: String, _ problem: String) -> TokenizerError {
            TokenizerError(file: path, key: key, problem: problem)
        }
        normalizer = file.normalizer
        addPrefixSpace = file.addPrefixSpace
        useRegex = file.useRegex
        addedTokens = file.addedTokens
        fuseUnknown = file.fuseUnknown

        let vocabulary = file.vocabulary
        var mergeList: [(left: Int32, right: Int32, merged: Int32)] = []
        mergeList.reserveCapacity(file.merges.count)
        for (index, (left, right)) in file.merges.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right] else {
                throw fail("model.merges[\(index)]", "\"\(vocabulary[left] == nil ? left : right)\" is not in model.vocab")
            }
            guard let mergedID = vocabulary[left + right] else {
                throw fail("model.merges[\(index)]", "the merged token \"\(left + right)\" is not in model.vocab")
            }
            mergeList.append((leftID, rightID, mergedID))
        }
        merges = MergeTable(merges: mergeList)

        if let unknown = file.unknownToken {
            guard let id = vocabulary[unknown] else { throw fail("model.unk_token", "\"\(unknown)\" is not in model.vocab") }
            unknownID = id
        } else {
            unknownID = nil
        }
        wholeWordIDs = file.ignoreMerges
            ? Dictionary(vocabulary.map { (ByteLevel.decode($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
            : [:]

        // id -> token string: the added token's content where there is one, as `tokenizers`' id_to_token.
        var largestID = vocabulary.values.max() ?? -1
        for token in file.addedTokens { largestID = max(largestID, token.id) }
        guard largestID < Tokenizer.maxID else {
            throw fail("model.vocab", "an id of \(largestID) is beyond what Lethe supports (below \(Tokenizer.maxID))")
        }
        vocabularySize = Int(largestID) + 1
        var tokenOfID = [String?](repeating: nil, count: vocabularySize)
        for (token, id) in vocabulary { tokenOfID[Int(id)] = token }
        var idOfToken = vocabulary
        for token in file.addedTokens {
            tokenOfID[Int(token.id)] = token.content
            idOfToken[token.content] = token.id
        }
        self.tokenOfID = tokenOfID
        self.idOfToken = idOfToken
        specialIDs = Set(file.addedTokens.filter(\.special).map(\.id))
        eosID = idOfToken["<|endoftext|>"]

        var starts = [0]
        var bytes: [UInt8] = []
        for token in tokenOfID {
            if let token { bytes += ByteLevel.decode(token) }
            starts.append(bytes.count)
        }
        decodedStarts = starts
        decodedBytes = bytes

        idOfByte = .allocate(capacity: 256)
        for byte in 0..<256 { idOfByte[byte] = vocabulary[String(ByteLevel.scalarOfByte[byte])] ?? -1 }

        let raw = file.addedTokens.filter { !$0.normalized }
        rawTokenMatcher = AddedTokenMatcher(tokens: raw, patterns: raw.map { Array($0.content.utf8) })
        let normalized = file.addedTokens.filter(\.normalized)
        let normalizer = file.normalizer
        normalizedTokenMatcher = AddedTokenMatcher(tokens: normalized, patterns: normalized.map {
            normalizer == .nfc ? Array(NFC.normalize($0.content).utf8) : Array($0.content.utf8)
        })
    }

    deinit { idOfByte.deallocate() }

    /// Ids index flat tables; no real vocabulary comes near this.
    static let maxID: Int32 = 1 << 24

    // MARK: Vocabulary

    /// The token string of an id (byte-level spelling, "Ġthe"; an added token's content), as `id_to_token`.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < tokenOfID.count ? tokenOfID[Int(id)] : nil
    }

    /// The id of a token string (byte-level spelling, or an added token's content), as `token_to_id`.
    public func id(for token: String) -> Int32? { idOfToken[token] }

    /// Whether the id is an added token marked `special` (`<|endoftext|>`, `<|padding|>`).
    public func isSpecial(_ id: Int32) -> Bool { specialIDs.contains(id) }

    // MARK: Decoding

    /// How many bytes of text the id stands for (0 for ids outside the vocabulary): the token boundaries of an
    /// encoding, as byte offsets into the (normalized) text, are the running sums of these.
    public func byteCount(of id: Int32) -> Int {
        id >= 0 && Int(id) < vocabularySize ? decodedStarts[Int(id) + 1] - decodedStarts[Int(id)] : 0
    }

    /// The raw bytes the ids stand for, concatenated (ids outside the vocabulary are skipped, as `tokenizers` does).
    public func decodeBytes<IDs: Sequence>(_ ids: IDs, skipSpecialTokens: Bool = false) -> [UInt8]
    where IDs.Element == Int32 {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < vocabularySize {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            bytes += decodedBytes[decodedStarts[Int(id)]..<decodedStarts[Int(id) + 1]]
        }
        return bytes
    }

    /// The text of the ids, as `tokenizers`' `decode(ids, skip_special_tokens=False)`: the ByteLevel decoder, no
    /// clean-up of spaces; byte sequences that are not valid UTF-8 become U+FFFD. decode(encode(x)) == NFC(x).
    public func decode<IDs: Sequence>(_ ids: IDs, skipSpecialTokens: Bool = false) -> String where IDs.Element == Int32 {
        String(decoding: decodeBytes(ids, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
    }

    // MARK: Encoding

    /// The token ids of the text, exactly as `tokenizers`' `encode(text).ids` (this family adds no special tokens).
    public func encode(_ text: String) -> [Int32] {
        var output: [Int32] = []
        if text.isEmpty { return output }
        var text = text
        text.makeContiguousUTF8()
        let workspace = takeWorkspace()
        defer { returnWorkspace(workspace) }
        output.reserveCapacity(text.utf8.count / 3 + 4)
        text.withUTF8 { encode($0, into: &output, workspace) }
        return output
    }

    private func encode(_ raw: UnsafeBufferPointer<UInt8>, into output: inout [Int32], _ workspace: Workspace) {
        rawTokenMatcher.split(raw) { segment in
            switch segment {
            case .token(let id):
                output.append(id)
            case .text(let range):
                withNormalized(UnsafeBufferPointer(rebasing: raw[range])) { normalized in
                    normalizedTokenMatcher.split(normalized) { segment in
                        switch segment {
                        case .token(let id):
                            output.append(id)
                        case .text(let range):
                            preTokenizeAndMerge(UnsafeBufferPointer(rebasing: normalized[range]), into: &output, workspace)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with the NFC form of `piece`, or with the piece itself when NFC cannot change it.
    private func withNormalized(_ piece: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard normalizer == .nfc, !isSurelyNFC(piece) else { return body(piece) }
        var normalized = NFC.normalize(String(decoding: piece, as: UTF8.self))
        normalized.withUTF8(body)
    }

    /// NFC's quick check, restricted to scalars that need no table: below U+0300, CJK ideographs
    /// (U+3400...U+4DBF, U+4E00...U+9FFF) and Hangul syllables (U+AC00...U+D7A3) are all NFC_Quick_Check=Yes
    /// with combining class 0, so text made only of them is already NFC (what could compose with them, a
    /// combining mark or a trailing jamo, is outside these ranges and sends the text to the full algorithm).
    @inline(__always)
    private func isSurelyNFC(_ piece: UnsafeBufferPointer<UInt8>) -> Bool {
        var position = 0
        while position < piece.count {
            let lead = piece[position]
            if lead < 0xCC { position += 1; continue }  // ASCII, continuation bytes, or a scalar below U+0300
            guard lead >= 0xE0 && lead < 0xF0 else { return false }
            let (scalar, length) = decodeScalar(piece, at: position)
            guard (0x3400...0x4DBF).contains(scalar) || (0x4E00...0x9FFF).contains(scalar)
                    || (0xAC00...0xD7A3).contains(scalar) else { return false }
            position += length
        }
        return true
    }

    private func preTokenizeAndMerge(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32],
                                     _ workspace: Workspace) {
        if text.isEmpty { return }
        if addPrefixSpace && text[0] != UInt8(ascii: " ") {
            var prefixed = [UInt8(ascii: " ")]
            prefixed.append(contentsOf: text)
            prefixed.withUnsafeBufferPointer { splitAndMerge($0, into: &output, workspace) }
        } else {
            splitAndMerge(text, into: &output, workspace)
        }
    }

    @inline(__always)
    private func splitAndMerge(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32], _ workspace: Workspace) {
        guard useRegex else { return mergeWord(text.baseAddress!, text.count, into: &output, workspace) }
        var start = 0
        while start < text.count {
            let end = splitter.pieceEnd(text, from: start)
            mergeWord(text.baseAddress! + start, end - start, into: &output, workspace)
            start = end
        }
    }

    /// BPE of one word (its raw UTF-8 bytes), through the workspace's cache.
    @inline(__always)
    private func mergeWord(_ word: UnsafePointer<UInt8>, _ length: Int, into output: inout [Int32],
                           _ workspace: Workspace) {
        let cacheable = length <= WordCache.maxWordLength
        var hash: UInt64 = 0
        if cacheable {
            hash = WordCache.hash(word, length)
            if workspace.cache.lookup(word, length, hash: hash, into: &output) { return }
        }
        if !wholeWordIDs.isEmpty, let id = wholeWordIDs[Array(UnsafeBufferPointer(start: word, count: length))] {
            output.append(id)
            return
        }
        workspace.reserve(length)
        let ids = workspace.ids
        var count = 0
        for k in 0..<length {
            let id = idOfByte[Int(word[k])]
            if id >= 0 {
                ids[count] = id
                count += 1
            } else if let unknownID, !(fuseUnknown && count > 0 && ids[count - 1] == unknownID) {
                ids[count] = unknownID
                count += 1
            }
        }
        count = count <= scanMergeLimit
            ? mergeByScanning(ids, count: count, pairs: workspace.pairs, merges: merges)
            : mergeWithHeap(ids, count: count, scratch: workspace.heap, merges: merges)
        output.append(contentsOf: UnsafeBufferPointer(start: ids, count: count))
        if cacheable { workspace.cache.insert(word, length, hash: hash, ids: ids, count: count) }
    }

    // MARK: Workspaces

    /// Scratch buffers and a word cache for one encode call at a time. Idle workspaces wait in a pool, so there
    /// are never more than the number of concurrent `encode` calls, and the lock is taken twice per call.
    final class Workspace {
        let cache = WordCache()
        let heap = HeapScratch()
        private(set) var capacity = 0
        private(set) var ids = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        private(set) var pairs = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

        @inline(__always)
        func reserve(_ count: Int) {
            if count <= capacity { return }
            let newCapacity = max(count, 2 * capacity, 256)
            ids.deallocate(); pairs.deallocate()
            ids = .allocate(capacity: newCapacity)
            pairs = .allocate(capacity: newCapacity)
            capacity = newCapacity
        }

        deinit { ids.deallocate(); pairs.deallocate() }
    }

    private func takeWorkspace() -> Workspace {
        workspaceLock.lock()
        defer { workspaceLock.unlock() }
        return idleWorkspaces.popLast() ?? Workspace()
    }

    private func returnWorkspace(_ workspace: Workspace) {
        workspaceLock.lock()
        idleWorkspaces.append(workspace)
        workspaceLock.unlock()
    }
}
