import Foundation
import LetheCLI
import LetheShards

/// The raw bytes each token id of a byte-level BPE tokenizer.json stands for (GPT-2's bytes_to_unicode
/// spelling undone; an added token, or any token with a character outside that table, stands for its own
/// UTF-8), which is all annotate needs of the tokenizer: where each word's tokens are.
///
/// A stand-in until LetheTokenizer is on main: `Tokenizer(contentsOf:).decodeBytes([id])` gives the same bytes.
struct TokenVocabulary {
    private let bytesOfID: [[UInt8]]

    init(contentsOf path: String) throws {
        let file = try JSONValue.read(contentsOf: URL(fileURLWithPath: path))
        guard let vocab = file["model"]?["vocab"]?.objectValue else {
            throw StageError("\(path): no model.vocab object: not a byte-level BPE tokenizer.json")
        }
        var tokens: [(id: Int, token: String, raw: Bool)] = []
        for (token, id) in vocab {
            guard let id = id.intValue, id >= 0, id < 1 << 24 else {
                throw StageError("\(path): model.vocab[\"\(token)\"] is not a token id")
            }
            tokens.append((id, token, false))
        }
        for (index, added) in (file["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let id = added["id"]?.intValue, id >= 0, id < 1 << 24, let content = added["content"]?.stringValue else {
                throw StageError("\(path): added_tokens[\(index)] needs an id and a content")
            }
            tokens.append((id, content, true))
        }
        var bytesOfID = [[UInt8]](repeating: [], count: (tokens.map(\.id).max() ?? -1) + 1)
        // Added tokens come last, so their content wins over a vocabulary entry of the same id.
        for (id, token, raw) in tokens { bytesOfID[id] = raw ? Array(token.utf8) : Self.byteLevelDecode(token) }
        self.bytesOfID = bytesOfID
    }

    /// The bytes of `id`; empty for an id the tokenizer does not have.
    func bytes(of id: Int32) -> [UInt8] { id >= 0 && Int(id) < bytesOfID.count ? bytesOfID[Int(id)] : [] }

    /// GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 on, in order.
    private static let byteOfScalar: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        var next: UInt32 = 256
        for byte in 0...255 {
            let b = UInt8(byte)
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[UInt32(byte)] = b
            } else {
                table[next] = b
                next += 1
            }
        }
        return table
    }()

    private static func byteLevelDecode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for scalar in token.unicodeScalars {
            guard let byte = byteOfScalar[scalar.value] else { return Array(token.utf8) }
            bytes.append(byte)
        }
        return bytes
    }
}
