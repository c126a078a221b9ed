/// A bounded cache from a pre-tokenized word's bytes to its token ids, owned by one encoding worker at a time
/// (see `Tokenizer.takeWorkspace`), so it needs no lock. When full it starts over empty: memory stays bounded
/// and the cache follows the words of the current text.
final class WordCache {
    /// Words longer than this are not cached (they are rare, and long words are where the cache would grow).
    static let maxWordLength = 64
    private static let slotCount = 1 << 15
    private static let maxEntries = slotCount / 2
    private static let byteCapacity = maxEntries * 16
    private static let idCapacity = maxEntries * 8

    // Slot s: hashes[s] (0 = empty), keyStarts[s]/keyLengths[s] into `bytes`, idStarts[s]/idCounts[s] into `ids`.
    private let hashes = UnsafeMutablePointer<UInt64>.allocate(capacity: slotCount)
    private let keyStarts = UnsafeMutablePointer<Int32>.allocate(capacity: slotCount)
    private let keyLengths = UnsafeMutablePointer<UInt8>.allocate(capacity: slotCount)
    private let idStarts = UnsafeMutablePointer<Int32>.allocate(capacity: slotCount)
    private let idCounts = UnsafeMutablePointer<UInt8>.allocate(capacity: slotCount)
    private let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: byteCapacity)
    private let ids = UnsafeMutablePointer<Int32>.allocate(capacity: idCapacity)
    private var entries = 0, bytesUsed = 0, idsUsed = 0

    init() { hashes.initialize(repeating: 0, count: WordCache.slotCount) }

    deinit {
        hashes.deallocate(); keyStarts.deallocate(); keyLengths.deallocate()
        idStarts.deallocate(); idCounts.deallocate(); bytes.deallocate(); ids.deallocate()
    }

    @inline(__always)
    static func hash(_ word: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
        var hash: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(length)
        var offset = 0
        let raw = UnsafeRawPointer(word)
        while offset + 8 <= length {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < length {
            tail |= UInt64(word[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
        return (hash ^ (hash >> 32)) | 1  // never 0, the empty-slot mark
    }

    /// Appends the cached ids of the word to `output` and returns true, or returns false.
    @inline(__always)
    func lookup(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64, into output: inout [Int32]) -> Bool {
        var slot = Int(truncatingIfNeeded: hash) & (WordCache.slotCount - 1)
        while true {
            let found = hashes[slot]
            if found == 0 { return false }
            if found == hash && Int(keyLengths[slot]) == length
                && memcmpBytes(bytes + Int(keyStarts[slot]), word, length) {
                let start = Int(idStarts[slot])
                for k in 0..<Int(idCounts[slot]) { output.append(ids[start + k]) }
                return true
            }
            slot = (slot + 1) & (WordCache.slotCount - 1)
        }
    }

    /// Remembers the ids of a word not yet in the cache (length <= maxWordLength).
    func insert(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64, ids wordIDs: UnsafePointer<Int32>,
                count: Int) {
        if count > Int(UInt8.max) { return }
        if entries >= WordCache.maxEntries || bytesUsed + length > WordCache.byteCapacity
            || idsUsed + count > WordCache.idCapacity {
            hashes.update(repeating: 0, count: WordCache.slotCount)
            entries = 0; bytesUsed = 0; idsUsed = 0
        }
        var slot = Int(truncatingIfNeeded: hash) & (WordCache.slotCount - 1)
        while hashes[slot] != 0 { slot = (slot + 1) & (WordCache.slotCount - 1) }
        hashes[slot] = hash
        keyStarts[slot] = Int32(bytesUsed)
        keyLengths[slot] = UInt8(length)
        idStarts[slot] = Int32(idsUsed)
        idCounts[slot] = UInt8(count)
        (bytes + bytesUsed).update(from: word, count: length)
        (ids + idsUsed).update(from: wordIDs, count: count)
        bytesUsed += length
        idsUsed += count
        entries += 1
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
    for k in 0..<length where a[k] != b[k] { return false }
    return true
}
