/// GPT-2's reversible byte <-> Unicode mapping ("bytes_to_unicode"): printable Latin-1 bytes stand for themselves,
/// the other 68 bytes (controls, space, DEL, NBSP, soft hyphen) become U+0100... in byte order, so that every
/// vocabulary entry is a printable string (" the" is stored as "Ġthe").
enum ByteLevel {
    /// `scalarOfByte[b]` is the character that stands for byte b in vocabulary strings.
    static let scalarOfByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The inverse of `scalarOfByte`, indexed by scalar value (all 256 lie below U+0144).
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The raw bytes a token stands for, as the ByteLevel decoder of `tokenizers` computes them: each character
    /// mapped back to its byte, or, if any character is outside the table, the token's own UTF-8 bytes.
    static func decode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteOfScalar.count, byteOfScalar[value] >= 0 else { return Array(token.utf8) }
            bytes.append(UInt8(byteOfScalar[value]))
        }
        return bytes
    }
}
