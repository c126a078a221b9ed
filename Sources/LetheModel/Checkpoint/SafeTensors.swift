import Foundation
import LetheShards
#if canImport(Glibc)
import Glibc
#endif

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the data, offsets
/// relative to its start.
public enum SafeTensors {
    /// The tensors of one mapped file (the mapping must outlive them).
    static func tensors(in file: MappedFile) throws -> [StoredTensor] {
        let bytes = file.bytes, path = file.path
        guard bytes.count >= 8 else { throw ModelError("\(path): too short for a safetensors file") }
        let headerLength = Int(UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
        guard headerLength >= 2, headerLength <= bytes.count - 8 else {
            throw ModelError("\(path): safetensors header length \(headerLength) does not fit a file of \(bytes.count) bytes")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8 ..< 8 + headerLength])
        guard let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw ModelError("\(path): safetensors header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var out: [StoredTensor] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map({ $0.intValue }),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map({ $0.intValue }), offsets.count == 2
            else { throw ModelError("\(path): safetensors entry '\(name)' lacks dtype, shape or data_offsets") }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength else {
                throw ModelError("\(path): tensor '\(name)' data_offsets \(offsets) fall outside the \(dataLength) data bytes")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw ModelError("\(path): tensor '\(name)' has shape \(shape)") }
            let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart + offsets[0] ..< dataStart + offsets[1]])
            out.append(StoredTensor(name: name, dtypeName: dtypeName, dtype: StoredDType(rawValue: dtypeName),
                                    shape: shape, data: data, file: path))
        }
        return out
    }

    /// A tensor to write: float32 values in C order.
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Writes `tensors` stored as `dtype` (F16/BF16 round to nearest even) to `url`, through `url.tmp`,
    /// fsync and rename: a half-written file never has the final name. Metadata gets `format: pt`, which
    /// transformers requires.
    public static func write(_ tensors: [Tensor], dtype: StoredDType = .float32, metadata: [String: String] = [:],
                             to url: URL) throws {
        var header: [String: Any] = ["__metadata__": metadata.merging(["format": "pt"]) { $1 }]
        var offset = 0
        for t in tensors {
            guard t.shape.reduce(1, *) == t.values.count else {
                throw ModelError("\(url.path): tensor '\(t.name)' has \(t.values.count) values for shape \(t.shape)")
            }
            let size = t.values.count * dtype.byteSize
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))  // pad to 8 bytes

        let temporary = url.path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ModelError("\(temporary): cannot create (\(String(cString: strerror(errno))))") }
        var closed = false
        defer { if !closed { close(fd); unlink(temporary) } }
        func put(_ raw: UnsafeRawBufferPointer) throws { try DurableFile.writeAll(fd: fd, bytes: raw, path: temporary) }
        var length = UInt64(json.count).littleEndian
        try withUnsafeBytes(of: &length) { try put($0) }
        try json.withUnsafeBytes { try put($0) }
        for t in tensors {
            switch dtype {
            case .float32:
                try put(UnsafeRawBufferPointer(t.values))
            case .float16:
                try t.values.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { try put($0) }
            case .bfloat16:
                try t.values.map { bfloat16Bits($0).littleEndian }.withUnsafeBytes { try put($0) }
            }
        }
        try DurableFile.sync(fd, path: temporary)
        close(fd)
        closed = true
        guard rename(temporary, url.path) == 0 else {
            unlink(temporary)
            throw ModelError("\(url.path): cannot rename from \(temporary) (\(String(cString: strerror(errno))))")
        }
    }

    /// Float32 → bfloat16 bits, round to nearest even (NaN stays NaN), as PyTorch's `.to(torch.bfloat16)`.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let roundingBias = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ roundingBias) >> 16)
    }
}
