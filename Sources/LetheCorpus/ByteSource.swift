import CZstd
import Foundation

/// A stream of bytes read in pieces: a plain file, or a zstd-compressed file decompressed on the fly.
protocol ByteSource: AnyObject {
    /// Reads up to `capacity` bytes into `buffer`; 0 at the end. Throws `ByteSourceError` for a broken stream.
    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int
}

struct ByteSourceError: Error {
    let problem: String
}

final class FileByteSource: ByteSource {
    private let descriptor: Int32
    /// Bytes read from the file so far (for progress displays).
    private(set) var bytesRead = 0

    init(path: String) throws {
        descriptor = open(path, O_RDONLY)
        if descriptor < 0 { throw ByteSourceError(problem: "cannot open (\(String(cString: strerror(errno))))") }
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
        while true {
            let count = Foundation.read(descriptor, buffer, capacity)
            if count >= 0 {
                bytesRead += count
                return count
            }
            if errno != EINTR { throw ByteSourceError(problem: "read failed (\(String(cString: strerror(errno))))") }
        }
    }
}

/// zstd streaming decompression (ZSTD_decompressStream) of another source, frame after frame. A stream that ends
/// inside a frame is reported as truncated rather than taken as a shorter file.
final class ZstdByteSource: ByteSource {
    private let compressed: ByteSource
    private let context: OpaquePointer
    private let inputCapacity = ZSTD_DStreamInSize()
    private let input: UnsafeMutablePointer<UInt8>
    private var inputSize = 0, inputPosition = 0
    /// ZSTD_decompressStream's last answer: 0 once a frame is complete and flushed.
    private var frameRemaining = 1
    private var outputWasFull = false
    private var sawInput = false

    init(_ compressed: ByteSource) {
        self.compressed = compressed
        context = ZSTD_createDCtx()
        input = .allocate(capacity: inputCapacity)
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
        while true {
            if inputPosition == inputSize && !outputWasFull {
                inputSize = try compressed.read(into: input, capacity: inputCapacity)
                inputPosition = 0
                if inputSize == 0 {
                    if !sawInput { throw ByteSourceError(problem: "empty file: not a zstd stream") }
                    if frameRemaining != 0 { throw ByteSourceError(problem: "zstd stream is truncated (ends inside a frame)") }
                    return 0
                }
                sawInput = true
            }
            var inBuffer = ZSTD_inBuffer(src: input, size: inputSize, pos: inputPosition)
            var outBuffer = ZSTD_outBuffer(dst: buffer, size: capacity, pos: 0)
            let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                throw ByteSourceError(problem: "zstd: \(String(cString: ZSTD_getErrorName(result)))")
            }
            inputPosition = inBuffer.pos
            frameRemaining = result
            outputWasFull = outBuffer.pos == capacity
            if outBuffer.pos > 0 { return outBuffer.pos }
        }
    }
}

/// Lines of a byte source (split at "\n"; a final line without "\n" counts), with their 1-based numbers.
/// Holds one buffer of input at a time: memory stays constant however long the file.
final class LineReader {
    private let source: ByteSource
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity = 1 << 20
    private var start = 0, end = 0
    private var atEnd = false
    /// The number of the line last returned.
    private(set) var lineNumber = 0

    init(_ source: ByteSource) {
        self.source = source
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// The next line's bytes without its "\n" (and without a "\r" before it when `dropCarriageReturn`), or nil.
    /// A UTF-8 byte order mark opening the file is an encoding mark, not text: it is dropped.
    func next(dropCarriageReturn: Bool) throws -> [UInt8]? {
        let isFirst = lineNumber == 0
        guard var line = try nextLine(dropCarriageReturn: dropCarriageReturn) else { return nil }
        if isFirst && line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        return line
    }

    private func nextLine(dropCarriageReturn: Bool) throws -> [UInt8]? {
        var searchFrom = start
        while true {
            if let newline = findNewline(from: searchFrom) {
                lineNumber += 1
                var lineEnd = newline
                if dropCarriageReturn && lineEnd > start && buffer[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                let line = Array(UnsafeBufferPointer(start: buffer + start, count: lineEnd - start))
                start = newline + 1
                return line
            }
            if atEnd {
                if start == end { return nil }
                lineNumber += 1
                var lineEnd = end
                if dropCarriageReturn && buffer[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                let line = Array(UnsafeBufferPointer(start: buffer + start, count: lineEnd - start))
                start = end
                return line
            }
            searchFrom = end - start
            try refill()
            searchFrom += start
        }
    }

    private func findNewline(from position: Int) -> Int? {
        guard position < end else { return nil }
        guard let found = memchr(buffer + position, Int32(UInt8(ascii: "\n")), end - position) else { return nil }
        return buffer.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// Moves the unread bytes to the front (growing the buffer if a line fills it) and reads more.
    private func refill() throws {
        if start > 0 {
            (buffer).update(from: buffer + start, count: end - start)
            end -= start
            start = 0
        }
        if end == capacity {
            let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            larger.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = larger
            capacity *= 2
        }
        do {
            let count = try source.read(into: buffer + end, capacity: capacity - end)
            if count == 0 { atEnd = true }
            end += count
        } catch let error as ByteSourceError {
            throw LineReaderError(line: lineNumber + 1, problem: error.problem)
        }
    }
}

struct LineReaderError: Error {
    let line: Int
    let problem: String
}
