import CZstd
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished shard is: its file name, sample count, compressed size and the sha256 of its bytes.
public struct ShardRecord: Codable, Equatable, Sendable {
    public var name: String
    public var samples: Int
    public var bytes: Int
    public var sha256: String

    public init(name: String, samples: Int, bytes: Int, sha256: String) {
        self.name = name
        self.samples = samples
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// Writes one shard, `shard-NNNNNN.tar.zst`, sample by sample straight through the compressor
/// (nothing is buffered beyond zstd's window).
///
/// The bytes go to `NAME.tmp.PID`; `finish()` ends the zstd frame, fsyncs, renames the file into place
/// and fsyncs the folder, so a killed writer never leaves a file under the final name (and two
/// processes that happen to write the same shard never write into one file). Output is
/// reproducible byte for byte: members in the order appended, POSIX ustar headers with mtime 0,
/// uid/gid 0, empty user and group names, mode 0644 (a pax header only for a name longer than 100
/// bytes, a non-ASCII name or a member of 8 GiB or more), one zstd frame at a fixed level with a
/// content checksum (so readers detect corruption).
public final class ShardWriter {
    public static let defaultCompressionLevel: Int32 = 3

    public let url: URL
    public let temporaryPath: String
    public private(set) var sampleCount = 0
    /// Called after each appended sample (progress displays hang here).
    public var onAppend: (() -> Void)?

    private var fd: Int32
    private var sink: ZstdSink
    private var finished = false

    public init(url: URL, compressionLevel: Int32 = ShardWriter.defaultCompressionLevel) throws {
        self.url = url
        let temporary = url.path + ".tmp.\(getpid())"
        temporaryPath = temporary
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(temporary, "cannot create (\(DurableFile.errnoText()))") }
        do { sink = try ZstdSink(fd: fd, path: temporary, level: compressionLevel) } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
    }

    deinit {
        // A writer dropped without finish() leaves nothing behind.
        if !finished { abandon() }
    }

    /// Appends one sample: its members in order, each as `KEY.EXT`.
    public func append(_ sample: ShardSample) throws {
        precondition(!finished, "append after finish")
        try ShardSample.validateKey(sample.key)
        guard !sample.members.isEmpty else { throw ShardError("\(url.path): sample \(sample.key) has no members") }
        var seen = Set<String>()
        for member in sample.members {
            guard !member.ext.isEmpty, !member.ext.contains("/"), !member.ext.contains("\0"), seen.insert(member.ext).inserted else {
                throw ShardError("\(url.path): sample \(sample.key) has an empty, repeated or invalid member extension '\(member.ext)'")
            }
            let name = sample.key + "." + member.ext
            try sink.write(TarFormat.header(name: name, size: member.data.count))
            try member.data.withUnsafeBytes { try sink.write($0) }
            try sink.write(TarFormat.padding(after: member.data.count))
        }
        sampleCount += 1
        onAppend?()
    }

    /// Ends the archive and the zstd frame, makes the file durable and moves it to its final name.
    public func finish() throws -> ShardRecord {
        precondition(!finished, "finish called twice")
        do {
            try sink.write(TarFormat.endOfArchive)
            try sink.end()
            try DurableFile.sync(fd, path: temporaryPath)
        } catch {
            abandon()
            throw error
        }
        finished = true
        close(fd)
        try DurableFile.rename(from: temporaryPath, to: url.path)
        return ShardRecord(name: url.lastPathComponent, samples: sampleCount, bytes: sink.bytesWritten, sha256: sink.digest())
    }

    /// Stops writing and removes the temporary file.
    public func abandon() {
        guard !finished else { return }
        finished = true
        close(fd)
        unlink(temporaryPath)
    }
}

/// Streams bytes through one zstd frame into a file descriptor, hashing the compressed bytes.
private struct ZstdSink {
    let fd: Int32
    let path: String
    let context: OpaquePointer
    var output: [UInt8]
    var hasher = SHA256()
    var bytesWritten = 0

    init(fd: Int32, path: String, level: Int32) throws {
        guard let context = ZSTD_createCCtx() else { throw FileError(path, "cannot create a zstd compressor") }
        self.fd = fd
        self.path = path
        self.context = context
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        for (parameter, value) in [(ZSTD_c_compressionLevel, level), (ZSTD_c_checksumFlag, 1)] {
            let code = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(code) != 0 {
                ZSTD_freeCCtx(context)
                throw FileError(path, "zstd: \(String(cString: ZSTD_getErrorName(code)))")
            }
        }
    }

    mutating func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try compress(&input, directive: ZSTD_e_continue)
        }
    }

    /// Flushes everything and writes the frame's epilogue (with its checksum).
    mutating func end() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try compress(&input, directive: ZSTD_e_end) != 0 {}
        ZSTD_freeCCtx(context)
    }

    /// One compression call; returns zstd's count of bytes still to flush.
    @discardableResult
    private mutating func compress(_ input: inout ZSTD_inBuffer, directive: ZSTD_EndDirective) throws -> Int {
        let capacity = output.count
        let (remaining, produced) = try output.withUnsafeMutableBytes { raw -> (Int, Int) in
            var out = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
            let code = ZSTD_compressStream2(context, &out, &input, directive)
            if ZSTD_isError(code) != 0 { throw FileError(path, "zstd: \(String(cString: ZSTD_getErrorName(code)))") }
            return (code, out.pos)
        }
        if produced > 0 {
            try output.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<produced])
                hasher.update(bufferPointer: chunk)
                try DurableFile.writeAll(fd: fd, bytes: chunk, path: path)
            }
            bytesWritten += produced
        }
        return remaining
    }

    func digest() -> String { hasher.finalize().hexString }
}

/// POSIX tar (ustar, with pax extended headers where ustar cannot hold a value).
enum TarFormat {
    static let blockSize = 512
    static let endOfArchive = [UInt8](repeating: 0, count: 2 * blockSize)
    /// The largest size an 11-digit octal field holds (8 GiB - 1).
    static let maxOctalSize = 0o77777777777

    static func padding(after size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (blockSize - size % blockSize) % blockSize)
    }

    /// The header block(s) of a regular file member: a pax header first when the name or size needs one.
    static func header(name: String, size: Int) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        var records: [(String, String)] = []
        if nameBytes.count > 100 || !name.allSatisfy(\.isASCII) { records.append(("path", name)) }
        if size > maxOctalSize { records.append(("size", String(size))) }
        var out: [UInt8] = []
        if !records.isEmpty {
            let body = records.flatMap { paxRecord(key: $0.0, value: $0.1) }
            out += ustarBlock(name: Array("././@PaxHeader".utf8), size: body.count, type: UInt8(ascii: "x"))
            out += body + padding(after: body.count)
        }
        // With a pax path record, the ustar name field is only a fallback for old readers: keep it ASCII.
        let fallbackName = nameBytes.count > 100 || !name.allSatisfy(\.isASCII)
            ? Array(name.unicodeScalars.map { $0.isASCII ? UInt8($0.value) : UInt8(ascii: "_") }.prefix(100))
            : nameBytes
        out += ustarBlock(name: fallbackName, size: min(size, maxOctalSize), type: UInt8(ascii: "0"))
        return out
    }

    /// "LEN key=value\n", where LEN counts the whole record including its own digits.
    static func paxRecord(key: String, value: String) -> [UInt8] {
        let payload = " \(key)=\(value)\n".utf8.count
        var length = payload + String(payload).count
        if String(length).count != String(payload).count { length = payload + String(length).count }
        return Array("\(length) \(key)=\(value)\n".utf8)
    }

    static func ustarBlock(name: [UInt8], size: Int, type: UInt8) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { block[offset + i] = b } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0]
        }
        put(Array(name.prefix(100)), at: 0)
        put(octal(0o644, width: 8), at: 100)   // mode
        put(octal(0, width: 8), at: 108)       // uid
        put(octal(0, width: 8), at: 116)       // gid
        put(octal(size, width: 12), at: 124)   // size
        put(octal(0, width: 12), at: 136)      // mtime
        put([UInt8](repeating: 0x20, count: 8), at: 148)  // checksum counts as spaces
        block[156] = type
        put(Array("ustar\u{0}00".utf8), at: 257)  // magic "ustar\0", version "00"
        // uname, gname empty; devmajor/devminor as Python's tarfile writes them.
        put(octal(0, width: 8), at: 329)
        put(octal(0, width: 8), at: 337)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(octal(checksum, width: 7) + [0x20], at: 148)
        return block
    }
}
