/// Element types of checkpoint tensors that Lethe converts to float32.
public enum StoredDType: String, Sendable, CaseIterable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"

    public var byteSize: Int { self == .float32 ? 4 : 2 }

    /// PyTorch's name, as config.json's "dtype" states it.
    public var torchName: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        }
    }
}

/// One tensor of a checkpoint file as stored: little-endian bytes in C order inside a mapped file.
struct StoredTensor {
    let name: String
    /// The dtype as the file names it ("F32", "I64", "torch.DoubleStorage", ...); `dtype` is nil when Lethe
    /// does not read it.
    let dtypeName: String
    let dtype: StoredDType?
    let shape: [Int]
    let data: UnsafeRawBufferPointer
    /// The file it came from, for messages.
    let file: String

    var count: Int { shape.reduce(1, *) }

    /// Writes the tensor as float32 into `out` (`count` floats). F16 and BF16 widen exactly.
    func convert(into out: UnsafeMutablePointer<Float>) throws {
        guard let dtype else {
            throw ModelError("\(file): tensor '\(name)' has unsupported dtype \(dtypeName) (Lethe reads F32, F16, BF16)")
        }
        guard data.count == count * dtype.byteSize else {
            throw ModelError("\(file): tensor '\(name)' holds \(data.count) bytes, shape \(shape) of \(dtype.rawValue) needs \(count * dtype.byteSize)")
        }
        switch dtype {
        case .float32:
            UnsafeMutableRawPointer(out).copyMemory(from: data.baseAddress!, byteCount: data.count)
        case .float16:
            for i in 0..<count {
                out[i] = Float(Float16(bitPattern: UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        case .bfloat16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }
}
