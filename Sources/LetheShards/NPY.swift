import Foundation

/// Element types Lethe stores in `.npy` members. Raw values are NumPy's dtype strings
/// (little-endian, as the shard format requires).
public enum NPYDType: String, Sendable, CaseIterable {
    case float32 = "<f4"
    case float16 = "<f2"
    case float64 = "<f8"
    case int32 = "<i4"
    case int64 = "<i8"
    case uint8 = "|u1"
    case bool = "|b1"

    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .float64, .int64: return 8
        case .uint8, .bool: return 1
        }
    }

    /// The short name used in messages and `lethe inspect` ("float32", "int64", ...).
    public var name: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .float64: return "float64"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .bool: return "bool"
        }
    }

    init?(descr: String) {
        // NumPy writes "<i4" on little-endian machines; "|" and "=" mean no/native byte order.
        let normalized: String
        if descr.hasPrefix("=") { normalized = "<" + descr.dropFirst() } else { normalized = descr }
        switch normalized {
        case "<u1", "|u1": self = .uint8
        case "<b1", "|b1": self = .bool
        default:
            guard let value = NPYDType(rawValue: normalized) else { return nil }
            self = value
        }
    }
}

public struct NPYError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An n-dimensional array in NumPy's `.npy` format (version 1.0/2.0/3.0 read, 1.0 written):
/// C order, little-endian, the element bytes kept as they are on disk.
public struct NPYArray: Equatable, Sendable {
    public let dtype: NPYDType
    public let shape: [Int]
    /// Little-endian element bytes, C order, `count * dtype.byteSize` of them.
    public let bytes: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    public init(dtype: NPYDType, shape: [Int], bytes: [UInt8]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw NPYError("negative dimension in shape \(shape)") }
        let expected = shape.reduce(1, *) * dtype.byteSize
        guard bytes.count == expected else {
            throw NPYError("shape \(shape) of \(dtype.name) needs \(expected) bytes, got \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    public init(float32 values: [Float], shape: [Int]) {
        try! self.init(dtype: .float32, shape: shape, bytes: NPYArray.littleEndianBytes(values.map { $0.bitPattern }))
    }

    /// Rounds each value to the nearest half-precision number (IEEE round to nearest even).
    public init(float16 values: [Float], shape: [Int]) {
        try! self.init(dtype: .float16, shape: shape,
                       bytes: NPYArray.littleEndianBytes(values.map { Float16($0).bitPattern }))
    }

    public init(float64 values: [Double], shape: [Int]) {
        try! self.init(dtype: .float64, shape: shape, bytes: NPYArray.littleEndianBytes(values.map { $0.bitPattern }))
    }

    public init(int32 values: [Int32], shape: [Int]) {
        try! self.init(dtype: .int32, shape: shape, bytes: NPYArray.littleEndianBytes(values))
    }

    public init(int64 values: [Int64], shape: [Int]) {
        try! self.init(dtype: .int64, shape: shape, bytes: NPYArray.littleEndianBytes(values))
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        try! self.init(dtype: .uint8, shape: shape, bytes: values)
    }

    public init(bool values: [Bool], shape: [Int]) {
        try! self.init(dtype: .bool, shape: shape, bytes: values.map { $0 ? 1 : 0 })
    }

    // MARK: Typed views

    /// The elements as Float; float16/float64/integer arrays are converted, bool as 0/1.
    public func floats() -> [Float] {
        switch dtype {
        case .float32: return readElements(UInt32.self).map { Float(bitPattern: $0) }
        case .float16: return readElements(UInt16.self).map { Float(Float16(bitPattern: $0)) }
        case .float64: return readElements(UInt64.self).map { Float(Double(bitPattern: $0)) }
        case .int32: return readElements(Int32.self).map { Float($0) }
        case .int64: return readElements(Int64.self).map { Float($0) }
        case .uint8, .bool: return bytes.map { Float($0) }
        }
    }

    /// The elements as Double (exact for every stored type except int64 beyond 2^53).
    public func doubles() -> [Double] {
        switch dtype {
        case .float64: return readElements(UInt64.self).map { Double(bitPattern: $0) }
        case .int64: return readElements(Int64.self).map { Double($0) }
        default: return floats().map { Double($0) }
        }
    }

    /// The elements of an integer or bool array as Int32. Throws for floating-point arrays
    /// and for int64 values outside Int32's range rather than silently truncating.
    public func int32s() throws -> [Int32] {
        switch dtype {
        case .int32: return readElements(Int32.self)
        case .int64:
            return try readElements(Int64.self).map {
                guard let v = Int32(exactly: $0) else { throw NPYError("int64 value \($0) does not fit int32") }
                return v
            }
        case .uint8, .bool: return bytes.map { Int32($0) }
        default: throw NPYError("expected an integer array, found \(dtype.name)")
        }
    }

    /// The elements of an integer or bool array as Int64.
    public func int64s() throws -> [Int64] {
        switch dtype {
        case .int64: return readElements(Int64.self)
        case .int32: return readElements(Int32.self).map { Int64($0) }
        case .uint8, .bool: return bytes.map { Int64($0) }
        default: throw NPYError("expected an integer array, found \(dtype.name)")
        }
    }

    private func readElements<T: FixedWidthInteger>(_: T.Type) -> [T] {
        let n = count
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<n {
                    buffer[i] = T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
                }
            }
            initialized = n
        }
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            }
        }
        return out
    }

    // MARK: Encoding

    /// The `.npy` file bytes: format 1.0, header padded with spaces to a multiple of 64 bytes
    /// and ended by a newline, exactly as `numpy.save` writes it.
    public func encoded() -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let preamble = 10  // magic (6) + version (2) + header length (2)
        let total = preamble + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        out += Array(header.utf8)
        out += bytes
        return out
    }

    /// Parses `.npy` bytes. Rejects Fortran order, big-endian and object arrays, and a payload
    /// whose size does not match the header's shape.
    public static func decode(_ data: [UInt8]) throws -> NPYArray {
        guard data.count >= 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
            throw NPYError("not a .npy array (bad magic)")
        }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw NPYError("truncated .npy header") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        default:
            throw NPYError("unsupported .npy format version \(major)")
        }
        guard data.count >= headerStart + headerLength else { throw NPYError("truncated .npy header") }
        guard let header = String(bytes: data[headerStart..<headerStart + headerLength], encoding: .utf8) else {
            throw NPYError(".npy header is not text")
        }
        let descr = try headerValue(header, key: "descr")
        let fortran = try headerValue(header, key: "fortran_order")
        let shapeText = try headerValue(header, key: "shape")
        let descrText = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard let dtype = NPYDType(descr: descrText) else {
            throw NPYError("unsupported dtype '\(descrText)' (Lethe reads little-endian float16/32/64, int32/64, uint8, bool)")
        }
        guard fortran == "False" else { throw NPYError("Fortran-order arrays are not supported") }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        let shape = try inner.split(separator: ",").compactMap { part -> Int? in
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { return nil }
            guard let v = Int(t), v >= 0 else { throw NPYError("bad shape \(shapeText)") }
            return v
        }
        let payloadStart = headerStart + headerLength
        let expected = shape.reduce(1, *) * dtype.byteSize
        guard data.count - payloadStart == expected else {
            throw NPYError("payload has \(data.count - payloadStart) bytes, shape \(shape) of \(dtype.name) needs \(expected)")
        }
        return try NPYArray(dtype: dtype, shape: shape, bytes: Array(data[payloadStart...]))
    }

    /// The text after `'key':` up to the next top-level comma of the header dictionary.
    private static func headerValue(_ header: String, key: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else {
            throw NPYError(".npy header lacks '\(key)'")
        }
        var rest = header[keyRange.upperBound...].drop(while: { $0 == " " || $0 == ":" })
        var depth = 0
        var value = ""
        while let c = rest.first {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if (c == "," || c == "}") && depth == 0 { break }
            value.append(c)
            rest = rest.dropFirst()
        }
        return value.trimmingCharacters(in: .whitespaces)
    }

    public static func read(contentsOf url: URL) throws -> NPYArray {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw NPYError("\(url.path): cannot read (\(error.localizedDescription))") }
        do { return try decode([UInt8](data)) } catch let e as NPYError { throw NPYError("\(url.path): \(e.description)") }
    }

    public func write(to url: URL) throws {
        try DurableFile.write(encoded(), to: url)
    }
}
