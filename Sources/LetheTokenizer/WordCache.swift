/// A bounded cache from a pre-tokenized word's bytes to its token ids, owned by one encoding worker at a time
/// (see `Tokenizer.takeWorkspace`), so it needs no lock. Two generations: words go into the recent table; when it
/// is full it becomes the older one and the previous older one is emptied for new words; a word found in the
/// older table moves back into the recent one. Frequent words therefore stay, rare ones fall out, and memory is
/// bounded (about 5 MB per worker).
final class WordCache {
    /// Words longer than this are not cached (they are rare, and long words are where the cache would grow).
    static let maxWordLength = 64

    private var recent = WordTable()
    private var older = WordTable()

    /// Appends the cached ids of the word to `output` and returns true, or returns false.
    @inline(__always)
    func lookup(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64, into output: inout [Int32]) -> Bool {
        if let (ids, count) = recent.find(word, length, hash: hash) {
            output.append(contentsOf: UnsafeBufferPointer(start: ids, count: count))
            return true
        }
        guard let (ids, count) = older.find(word, length, hash: hash) else { return false }
        output.append(contentsOf: UnsafeBufferPointer(start: ids, count: count))
        output.withUnsafeBufferPointer { all in
            insert(word, length, hash: hash, ids: all.baseAddress! + all.count - count, count: count)
        }
        return true
    }

    /// Remembers the ids of a word not in the recent table (length <= maxWordLength).
    func insert(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64, ids: UnsafePointer<Int32>, count: Int) {
        if !recent.hasRoom(length, count) {
            swap(&recent, &older)
            recent.removeAll()
        }
        recent.insert(word, length, hash: hash, ids: ids, count: count)
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
}

/// One generation of `WordCache`: open addressing over flat arrays, keys and ids in two arenas.
final class WordTable {
    private static let slotCount = 1 << 16
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

    init() { hashes.initialize(repeating: 0, count: WordTable.slotCount) }

    deinit {
        hashes.deallocate(); keyStarts.deallocate(); keyLengths.deallocate()
        idStarts.deallocate(); idCounts.deallocate(); bytes.deallocate(); ids.deallocate()
    }

    /// The ids of the word, if present (valid until the next insert or removeAll).
    @inline(__always)
    func find(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64) -> (UnsafePointer<Int32>, Int)? {
        var slot = Int(truncatingIfNeeded: hash) & (WordTable.slotCount - 1)
        while true {
            let found = hashes[slot]
            if found == 0 { return nil }
            if found == hash && Int(keyLengths[slot]) == length && equalBytes(bytes + Int(keyStarts[slot]), word, length) {
                return (UnsafePointer(ids + Int(idStarts[slot])), Int(idCounts[slot]))
            }
            slot = (slot + 1) & (WordTable.slotCount - 1)
        }
    }

    func hasRoom(_ length: Int, _ count: Int) -> Bool {
        entries < WordTable.maxEntries && bytesUsed + length <= WordTable.byteCapacity
            && idsUsed + count <= WordTable.idCapacity
    }

    /// Adds a word that is not present; the caller checked `hasRoom`. Words of more than 255 ids are not kept.
    func insert(_ word: UnsafePointer<UInt8>, _ length: Int, hash: UInt64, ids wordIDs: UnsafePointer<Int32>, count: Int) {
        if count > Int(UInt8.max) || length > Int(UInt8.max) { return }
        var slot = Int(truncatingIfNeeded: hash) & (WordTable.slotCount - 1)
        while hashes[slot] != 0 { slot = (slot + 1) & (WordTable.slotCount - 1) }
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

    func removeAll() {
        hashes.update(repeating: 0, count: WordTable.slotCount)
        entries = 0; bytesUsed = 0; idsUsed = 0
    }
}

@inline(__always)
func equalBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
    for k in 0..<length where a[k] != b[k] { return false }
    return true
}
