import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal digits, two per byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum SHA256Hex {
    public static func of(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }

    /// The sha256 of a file's content, read in 1 MiB blocks.
    public static func ofFile(atPath path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path, "cannot open (\(DurableFile.errnoText()))") }
        defer { close(fd) }
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path, "read failed (\(DurableFile.errnoText()))")
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize().hexString
    }
}
