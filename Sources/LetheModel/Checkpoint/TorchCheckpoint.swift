import CArchive
import Foundation

/// `pytorch_model.bin` as written by `torch.save` (PyTorch ≥ 1.6): a zip whose `<archive>/data.pkl` pickles
/// the state dict and whose members `<archive>/data/<key>` hold each storage's raw little-endian bytes.
/// Read with libarchive from the mapped file: a stored (uncompressed) member comes back as a pointer into
/// the mapping, so tensors are converted straight from it.
final class TorchCheckpoint {
    let file: MappedFile
    private(set) var tensors: [StoredTensor] = []
    /// Storages that libarchive handed back in pieces or decompressed: kept alive here.
    private var copies: [UnsafeMutableRawBufferPointer] = []

    init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 else {
            if bytes.count >= 2, bytes[0] == 0x80 {
                throw ModelError("\(path): legacy (pre-1.6, non-zip) PyTorch serialization is not supported; re-save it with torch.save in a current PyTorch")
            }
            throw ModelError("\(path): not a PyTorch zip checkpoint")
        }
        var pickle: [UInt8]?
        var storages: [String: UnsafeRawBufferPointer] = [:]
        try readMembers { name, data in
            let parts = name.split(separator: "/")
            if name.hasSuffix("data.pkl") && parts.count == 2 {
                pickle = Array(data)
            } else if parts.count == 3 && parts[1] == "data" {
                storages[String(parts[2])] = data
            }
        }
        guard let pickle else { throw ModelError("\(path): no data.pkl in the zip (not a torch.save checkpoint)") }
        guard case .dict(let table) = try Unpickler.load(pickle, file: path) else {
            throw ModelError("\(path): data.pkl does not hold a dict of tensors")
        }
        for (key, value) in table.value {
            guard let name = key.string, case .tensor(let t) = value else { continue }
            tensors.append(try stored(name, t, storages))
        }
    }

    deinit { copies.forEach { $0.deallocate() } }

    private func stored(_ name: String, _ t: PickledTensor, _ storages: [String: UnsafeRawBufferPointer]) throws -> StoredTensor {
        let dtype: StoredDType?
        switch t.storageType {
        case "FloatStorage": dtype = .float32
        case "HalfStorage": dtype = .float16
        case "BFloat16Storage": dtype = .bfloat16
        default: dtype = nil
        }
        let path = file.path
        guard let storage = storages[t.storageKey] else {
            throw ModelError("\(path): tensor '\(name)' refers to storage data/\(t.storageKey), which the zip lacks")
        }
        // Only C-contiguous tensors (what a state dict holds); dimensions of size 1 may have any stride.
        var expected = 1
        for (size, stride) in zip(t.shape, t.stride).reversed() {
            guard size == 1 || stride == expected else {
                throw ModelError("\(path): tensor '\(name)' is not contiguous (shape \(t.shape), stride \(t.stride))")
            }
            expected *= size
        }
        let elementSize = dtype?.byteSize ?? 1
        let begin = t.storageOffset * elementSize, end = begin + expected * elementSize
        guard begin >= 0, end <= storage.count else {
            throw ModelError("\(path): tensor '\(name)' reaches past the end of its storage data/\(t.storageKey)")
        }
        return StoredTensor(name: name, dtypeName: "torch.\(t.storageType)", dtype: dtype, shape: t.shape,
                            data: UnsafeRawBufferPointer(rebasing: storage[begin ..< end]), file: path)
    }

    /// Calls `body` with each member's name and bytes.
    private func readMembers(_ body: (String, UnsafeRawBufferPointer) throws -> Void) throws {
        let path = file.path
        guard let archive = archive_read_new() else { throw ModelError("\(path): libarchive failed to start") }
        defer { archive_read_free(archive) }
        archive_read_support_format_zip_seekable(archive)
        guard archive_read_open_memory(archive, file.bytes.baseAddress, file.bytes.count) == ARCHIVE_OK else {
            throw ModelError("\(path): cannot open as zip (\(message(archive)))")
        }
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw ModelError("\(path): corrupt zip (\(message(archive)))")
            }
            let name = String(cString: archive_entry_pathname(entry))
            let size = Int(archive_entry_size(entry))
            try body(name, try memberBytes(archive, size: size, name: name))
        }
    }

    /// A member's bytes: a view into the mapping when libarchive returns them in one block from it, else a copy.
    private func memberBytes(_ archive: OpaquePointer, size: Int, name: String) throws -> UnsafeRawBufferPointer {
        var blocks: [(UnsafeRawPointer, Int, Int)] = []
        var block: UnsafeRawPointer?
        var length = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &block, &length, &offset)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else {
                throw ModelError("\(file.path): cannot read zip member \(name) (\(message(archive)))")
            }
            if let block, length > 0 { blocks.append((block, length, Int(offset))) }
        }
        let mapped = file.bytes
        if blocks.count == 1, blocks[0].1 == size, blocks[0].2 == 0, let base = mapped.baseAddress,
           blocks[0].0 >= base, blocks[0].0 + size <= base + mapped.count {
            return UnsafeRawBufferPointer(start: blocks[0].0, count: size)
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
        copies.append(copy)
        for (pointer, count, at) in blocks {
            guard at + count <= size else { throw ModelError("\(file.path): zip member \(name) is larger than its header says") }
            (copy.baseAddress! + at).copyMemory(from: pointer, byteCount: count)
        }
        return UnsafeRawBufferPointer(rebasing: copy[0 ..< size])
    }

    private func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }
}
