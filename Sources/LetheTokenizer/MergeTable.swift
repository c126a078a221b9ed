/// BPE merge ranks in a flat open-addressing table keyed by the pair of token ids packed into a UInt64
/// (`left << 32 | right`). A value packs `rank << 32 | mergedID`, so comparing values compares ranks.
final class MergeTable {
    static let absent = UInt64.max

    /// [key0, value0, key1, value1, ...]; an empty slot has key `absent`.
    private let slots: UnsafeMutablePointer<UInt64>
    private let mask: Int

    /// `merges[i]` = (left, right, merged); its rank is i. A pair listed twice keeps its last rank, as in
    /// `tokenizers` (which collects the merges into a hash map in order).
    init(merges: [(left: Int32, right: Int32, merged: Int32)]) {
        var capacity = 16
        while capacity < merges.count * 4 { capacity *= 2 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity * 2)
        slots.initialize(repeating: MergeTable.absent, count: capacity * 2)
        for (rank, merge) in merges.enumerated() {
            let key = MergeTable.key(merge.left, merge.right)
            var slot = MergeTable.hash(key) & mask
            while slots[2 * slot] != MergeTable.absent && slots[2 * slot] != key { slot = (slot + 1) & mask }
            slots[2 * slot] = key
            slots[2 * slot + 1] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merge.merged))
        }
    }

    deinit { slots.deallocate() }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func hash(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29)
    }

    /// `rank << 32 | mergedID` of the pair, or `absent`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = MergeTable.key(left, right)
        var slot = MergeTable.hash(key) & mask
        while true {
            let found = slots[2 * slot]
            if found == key { return slots[2 * slot + 1] }
            if found == MergeTable.absent { return MergeTable.absent }
            slot = (slot + 1) & mask
        }
    }
}

@inline(__always) func mergedID(_ value: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: value)) }
@inline(__always) func mergeRank(_ value: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: value >> 32) }
