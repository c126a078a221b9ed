/// An added token of tokenizer.json's `added_tokens`, with the flags `tokenizers` honours when splitting it out.
public struct AddedToken: Equatable, Sendable {
    public var id: Int32
    public var content: String
    public var special: Bool
    /// Only matches where it is not preceded or followed by a word character (`\w`).
    public var singleWord: Bool
    /// Takes the whitespace on its left (or right) into the match.
    public var leftStrip: Bool
    public var rightStrip: Bool
    /// Matched against the normalized text (else against the raw input, before normalization).
    public var normalized: Bool

    public init(id: Int32, content: String, special: Bool = false, singleWord: Bool = false,
                leftStrip: Bool = false, rightStrip: Bool = false, normalized: Bool = true) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.normalized = normalized
    }
}

/// A piece of text after splitting out added tokens.
enum Segment {
    case text(Range<Int>)
    case token(Int32)
}

/// Finds added tokens in UTF-8 text as `tokenizers`' AddedVocabulary does: leftmost-longest, non-overlapping
/// matches of a byte trie (its Aho-Corasick automaton with MatchKind::LeftmostLongest finds the same), scanning
/// on after each match's own end; then single_word, lstrip and rstrip applied to each match.
struct AddedTokenMatcher {
    private struct Node {
        var token = -1                     // index into `tokens` of the pattern ending here
        var edges: [(byte: UInt8, child: Int32)] = []
    }
    private let tokens: [AddedToken]
    private let nodes: [Node]
    private let rootChildren: [Int32]     // dense edges of the root, -1 = none
    let isEmpty: Bool

    /// `patterns[i]` is the byte string `tokens[i]` is matched as (its content, normalized if the token is).
    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        var nodes = [Node()]
        var rootChildren = [Int32](repeating: -1, count: 256)
        for (index, pattern) in patterns.enumerated() where !pattern.isEmpty {
            var node = 0
            for (depth, byte) in pattern.enumerated() {
                let existing = depth == 0 ? Int(rootChildren[Int(byte)])
                    : nodes[node].edges.first(where: { $0.byte == byte }).map { Int($0.child) } ?? -1
                if existing >= 0 {
                    node = existing
                } else {
                    nodes.append(Node())
                    let child = Int32(nodes.count - 1)
                    if depth == 0 { rootChildren[Int(byte)] = child } else { nodes[node].edges.append((byte, child)) }
                    node = Int(child)
                }
            }
            nodes[node].token = index
        }
        self.tokens = tokens
        self.nodes = nodes
        self.rootChildren = rootChildren
        self.isEmpty = nodes.count == 1
    }

    /// The longest pattern starting at `start`: (token index, end) or nil.
    @inline(__always)
    private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (Int, Int)? {
        var node = Int(rootChildren[Int(bytes[start])])
        if node < 0 { return nil }
        var best: (Int, Int)? = nil
        var position = start + 1
        while true {
            if nodes[node].token >= 0 { best = (nodes[node].token, position) }
            if position == bytes.count { break }
            let byte = bytes[position]
            guard let edge = nodes[node].edges.first(where: { $0.byte == byte }) else { break }
            node = Int(edge.child)
            position += 1
        }
        return best
    }

    /// Calls `body` with the text pieces and added tokens of `bytes`, in order (find_matches of `tokenizers`).
    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Segment) -> Void) {
        if isEmpty || bytes.isEmpty {
            body(.text(0..<bytes.count))
            return
        }
        var textStart = 0      // `start_offset`: where the text not yet handed out begins
        var searchFrom = 0
        while searchFrom < bytes.count {
            guard let (index, matchEnd) = longestMatch(bytes, at: searchFrom) else {
                searchFrom += 1
                continue
            }
            var start = searchFrom
            var stop = matchEnd
            searchFrom = matchEnd
            let token = tokens[index]
            if token.singleWord {
                let wordBefore = start > 0 && isWordScalar(scalarBefore(bytes, start))
                let wordAfter = stop < bytes.count && isWordScalar(Unicode.Scalar(decodeScalar(bytes, at: stop).scalar)!)
                if wordBefore || wordAfter { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0 && scalarBefore(bytes, newStart).properties.isWhitespace {
                    newStart = previousScalarStart(bytes, before: newStart)
                }
                start = max(newStart, textStart)
            }
            if token.rightStrip {
                while stop < bytes.count {
                    let (scalar, length) = decodeScalar(bytes, at: stop)
                    if !Unicode.Scalar(scalar)!.properties.isWhitespace { break }
                    stop += length
                }
            }
            if textStart < start { body(.text(textStart..<start)) }
            body(.token(token.id))
            textStart = stop
        }
        if textStart != bytes.count { body(.text(textStart..<bytes.count)) }
    }

    private func scalarBefore(_ bytes: UnsafeBufferPointer<UInt8>, _ end: Int) -> Unicode.Scalar {
        Unicode.Scalar(decodeScalar(bytes, at: previousScalarStart(bytes, before: end)).scalar)!
    }
}
