/// The ByteLevel pre-tokenizer's split: the GPT-2 pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// as a hand-written scanner over UTF-8 bytes, with the regex's leftmost-first alternation and backtracking
/// spelled out (see `pieceEnd`). Tested piece by piece against `tokenizers`' own pre-tokenizer.
struct GPT2Splitter {
    /// Character classes of U+0000...U+FFFF (raw values of `CharacterClass`), computed once and shared by every
    /// tokenizer for the life of the process; astral scalars are classified on the fly.
    private static let basicPlaneClasses: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for value in 0..<0x10000 {
            // Surrogate code points never occur in valid UTF-8.
            table[value] = (Unicode.Scalar(UInt32(value)).map(CharacterClass.init) ?? .other).rawValue
        }
        return UnsafePointer(table)
    }()

    private let classes = GPT2Splitter.basicPlaneClasses

    @inline(__always)
    private func classify(_ bytes: UnsafeBufferPointer<UInt8>, _ position: Int) -> (CharacterClass, Int) {
        let lead = bytes[position]
        if lead < 0x80 { return (CharacterClass(rawValue: classes[Int(lead)])!, 1) }
        let (scalar, length) = decodeScalar(bytes, at: position)
        if scalar < 0x10000 { return (CharacterClass(rawValue: classes[Int(scalar)])!, length) }
        return (CharacterClass(Unicode.Scalar(scalar)!), length)
    }

    /// The end of the piece that starts at `start` (< bytes.count).
    @inline(__always)
    func pieceEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let count = bytes.count
        let first = bytes[start]
        // 's 't 're 've 'm 'll 'd (lower case only, as in the pattern).
        if first == UInt8(ascii: "'") && start + 1 < count {
            switch bytes[start + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return start + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if start + 2 < count && bytes[start + 2] == UInt8(ascii: "e") { return start + 3 }
            case UInt8(ascii: "l"):
                if start + 2 < count && bytes[start + 2] == UInt8(ascii: "l") { return start + 3 }
            default: break
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space joins the run of the class after it.
        var (runClass, length) = classify(bytes, start)
        var runStart = start
        if first == UInt8(ascii: " ") && start + 1 < count {
            let (next, _) = classify(bytes, start + 1)
            if next != .whitespace { runClass = next; runStart = start + 1 }
        }
        if runClass != .whitespace {
            var end = runStart
            while end < count {
                let (characterClass, scalarLength) = classify(bytes, end)
                if characterClass != runClass { break }
                end += scalarLength
            }
            return end
        }
        // `\s+(?!\S)` then `\s+`: a whitespace run followed by text gives up its last character (which then
        // starts the next piece, " word" if it is a space), unless the run is that one character.
        var end = start + length
        var lastStart = start
        while end < count {
            let (characterClass, scalarLength) = classify(bytes, end)
            if characterClass != .whitespace { break }
            lastStart = end
            end += scalarLength
        }
        if end == count || lastStart == start { return end }
        return lastStart
    }
}
