import Foundation

/// A tensor as `torch.save` pickles it: `torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
/// stride, ...)`, its storage a persistent id `('storage', torch.FloatStorage, key, location, numel)` whose
/// bytes are the zip member `<archive>/data/<key>`.
struct PickledTensor {
    let storageKey: String
    let storageType: String  // "FloatStorage", "HalfStorage", "BFloat16Storage", ...
    let storageOffset: Int  // in elements
    let shape: [Int]
    let stride: [Int]
}

/// The pickle values a PyTorch state dict is made of.
indirect enum PickleValue {
    final class Box<T> {
        var value: T
        init(_ value: T) { self.value = value }
    }

    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(Box<[PickleValue]>)
    case dict(Box<[(PickleValue, PickleValue)]>)
    case global(module: String, name: String)
    case storage(key: String, type: String)
    case tensor(PickledTensor)
    /// Any other object (kept only so that its pickle can be walked past).
    case object

    var int: Int? { if case .int(let v) = self { return v } else { return nil } }
    var string: String? { if case .string(let v) = self { return v } else { return nil } }
    var ints: [Int]? {
        guard case .tuple(let items) = self else { return nil }
        let values = items.compactMap(\.int)
        return values.count == items.count ? values : nil
    }
}

/// A minimal unpickler for the tensor table of a PyTorch checkpoint (`data.pkl`): the opcodes of pickle
/// protocols 2-4 that `torch.save` emits for a dict of tensors, and no code execution: globals are only
/// names, and the few callables a state dict uses (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter)
/// are interpreted, everything else becomes an opaque object.
struct Unpickler {
    let bytes: [UInt8]
    let file: String
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    static func load(_ bytes: [UInt8], file: String) throws -> PickleValue {
        var unpickler = Unpickler(bytes: bytes, file: file)
        return try unpickler.run()
    }

    private func fail(_ what: String) -> ModelError { ModelError("\(file): \(what) at byte \(position)") }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else { throw fail("truncated pickle") }
        defer { position += n }
        return bytes[position ..< position + n]
    }

    private mutating func uint(_ n: Int) throws -> Int {
        try take(n).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw fail("unterminated pickle text") }
        defer { position = end + 1 }
        return String(decoding: bytes[position ..< end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("pickle stack underflow") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("pickle MARK missing") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func text(_ n: Int) throws -> PickleValue {
        .string(String(decoding: try take(n), as: UTF8.self))
    }

    mutating func run() throws -> PickleValue {
        while true {
            let opcode = try take(1).first!
            switch opcode {
            case 0x80: _ = try take(1)  // PROTO
            case 0x95: _ = try take(8)  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4B: stack.append(.int(try uint(1)))  // BININT1
            case 0x4D: stack.append(.int(try uint(2)))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A:  // LONG1
                let n = try uint(1)
                guard n <= 8 else { throw fail("pickle integer of \(n) bytes") }
                let raw = try uint(n)
                stack.append(.int(n == 0 ? 0 : n == 8 ? raw : (raw << (64 - 8 * n)) >> (64 - 8 * n)))
            case 0x47: stack.append(.float(Double(bitPattern: try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))  // BINFLOAT (big-endian)
            case 0x58: stack.append(try text(try uint(4)))  // BINUNICODE
            case 0x8C: stack.append(try text(try uint(1)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(try text(try uint(8)))  // BINUNICODE8
            case 0x42: stack.append(.bytes(Array(try take(try uint(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try uint(1)))))  // SHORT_BINBYTES
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86: let b = try pop(); let a = try pop(); stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87: let c = try pop(); let b = try pop(); let a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x5D: stack.append(.list(.init([])))  // EMPTY_LIST
            case 0x7D: stack.append(.dict(.init([])))  // EMPTY_DICT
            case 0x61:  // APPEND
                let v = try pop()
                if case .list(let box) = stack.last { box.value.append(v) }
            case 0x65:  // APPENDS
                let items = try popMark()
                if case .list(let box) = stack.last { box.value += items }
            case 0x73:  // SETITEM
                let v = try pop(); let k = try pop()
                if case .dict(let box) = stack.last { box.value.append((k, v)) }
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd SETITEMS") }
                if case .dict(let box) = stack.last {
                    for i in stride(from: 0, to: items.count, by: 2) { box.value.append((items[i], items[i + 1])) }
                }
            case 0x63: stack.append(.global(module: try line(), name: try line()))  // GLOBAL
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                stack.append(.global(module: module.string ?? "", name: name.string ?? ""))
            case 0x71: memo[try uint(1)] = stack.last  // BINPUT
            case 0x72: memo[try uint(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = try uint(opcode == 0x68 ? 1 : 4)
                guard let v = memo[index] else { throw fail("pickle memo \(index) missing") }
                stack.append(v)
            case 0x51: stack.append(try persistent(try pop()))  // BINPERSID
            case 0x52: let args = try pop(); stack.append(try reduce(try pop(), args))  // REDUCE
            case 0x81: _ = try pop(); _ = try pop(); stack.append(.object)  // NEWOBJ
            case 0x62: _ = try pop()  // BUILD: object state (e.g. a state dict's _metadata) is not needed
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x", opcode))
            }
        }
    }

    private func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let items) = pid, items.count >= 3, items[0].string == "storage",
              case .global(_, let type) = items[1], let key = items[2].string
        else { throw fail("unrecognised persistent id (not a torch storage)") }
        return .storage(key: key, type: type)
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let module, let name) = callable, case .tuple(let a) = args else { return .object }
        switch (module, name) {
        case ("collections", "OrderedDict"):
            return .dict(.init([]))
        case ("torch._utils", "_rebuild_tensor_v2"):
            guard a.count >= 4, case .storage(let key, let type) = a[0], let offset = a[1].int,
                  let shape = a[2].ints, let stride = a[3].ints, shape.count == stride.count
            else { throw fail("malformed _rebuild_tensor_v2 arguments") }
            return .tensor(PickledTensor(storageKey: key, storageType: type, storageOffset: offset,
                                         shape: shape, stride: stride))
        case ("torch._utils", "_rebuild_parameter"):
            return a.first ?? .object
        default:
            return .object
        }
    }
}
