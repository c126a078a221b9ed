/// Byte-pair merging of one pre-tokenized word, as `tokenizers`' `Word::merge_all`: repeatedly merge the adjacent
/// pair of lowest rank, the leftmost one among equal ranks, until no adjacent pair is in the merge table.
/// Two implementations with identical results: a scan over the symbol array (quadratic, fastest for the short
/// words that make up almost all text) and a binary heap over a linked list of symbols (n log n, for long words).
/// Each is tested against the other.

/// Words at most this many symbols long are merged by scanning; longer ones by the heap.
let scanMergeLimit = 48

/// Merges `ids[0..<count]` in place by scanning for the lowest-rank pair; returns the new count.
func mergeByScanning(_ ids: UnsafeMutablePointer<Int32>, count: Int, pairs: UnsafeMutablePointer<UInt64>,
                     merges: MergeTable) -> Int {
    var count = count
    if count < 2 { return count }
    // pairs[k] = lookup(ids[k], ids[k + 1]): rank << 32 | merged id, so the minimum value is the lowest rank.
    for k in 0..<(count - 1) { pairs[k] = merges.lookup(ids[k], ids[k + 1]) }
    while count > 1 {
        var best = 0
        var bestValue = pairs[0]
        for k in 1..<(count - 1) where pairs[k] < bestValue {
            best = k
            bestValue = pairs[k]
        }
        if bestValue == MergeTable.absent { break }
        ids[best] = mergedID(bestValue)
        // Remove symbol best + 1 and the pair (best, best + 1).
        let tail = count - best - 2
        if tail > 0 {
            (ids + best + 1).update(from: ids + best + 2, count: tail)
            (pairs + best).update(from: pairs + best + 1, count: tail)
        }
        count -= 1
        if best > 0 { pairs[best - 1] = merges.lookup(ids[best - 1], ids[best]) }
        if best < count - 1 { pairs[best] = merges.lookup(ids[best], ids[best + 1]) }
    }
    return count
}

/// Merges `ids[0..<count]` in place with a min-heap of (rank, position) over a doubly linked list of symbols;
/// stale heap entries (a symbol merged away, or its pair changed) are skipped when popped. Returns the new count.
func mergeWithHeap(_ ids: UnsafeMutablePointer<Int32>, count: Int, scratch: HeapScratch, merges: MergeTable) -> Int {
    if count < 2 { return count }
    scratch.reserve(count)
    let next = scratch.next, previous = scratch.previous, heap = scratch.heap
    var heapCount = 0

    // Heap entries pack rank << 32 | position: ordering by value orders by rank, then by leftmost position.
    @inline(__always) func push(_ entry: UInt64) {
        var child = heapCount
        heapCount += 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent] <= entry { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = entry
    }
    @inline(__always) func pop() -> UInt64 {
        let top = heap[0]
        heapCount -= 1
        let last = heap[heapCount]
        var parent = 0
        while true {
            var child = 2 * parent + 1
            if child >= heapCount { break }
            if child + 1 < heapCount && heap[child + 1] < heap[child] { child += 1 }
            if last <= heap[child] { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return top
    }
    @inline(__always) func pushPair(at position: Int32) {
        let value = merges.lookup(ids[Int(position)], ids[Int(next[Int(position)])])
        if value != MergeTable.absent { push(UInt64(mergeRank(value)) << 32 | UInt64(position)) }
    }

    for k in 0..<count {
        previous[k] = Int32(k - 1)
        next[k] = k + 1 < count ? Int32(k + 1) : -1
    }
    for k in 0..<(count - 1) { pushPair(at: Int32(k)) }

    let removed: Int32 = -2  // marks a symbol merged into its left neighbour (in `previous`)
    while heapCount > 0 {
        let entry = pop()
        let position = Int(entry & 0xFFFF_FFFF)
        let right = Int(next[position])
        if previous[position] == removed || right < 0 { continue }
        let value = merges.lookup(ids[position], ids[right])
        if value == MergeTable.absent || UInt64(mergeRank(value)) != entry >> 32 { continue }
        ids[position] = mergedID(value)
        let afterRight = next[right]
        previous[right] = removed
        next[position] = afterRight
        if afterRight >= 0 { previous[Int(afterRight)] = Int32(position) }
        if previous[position] >= 0 { pushPair(at: previous[position]) }
        if afterRight >= 0 { pushPair(at: Int32(position)) }
    }

    // The first symbol is never merged away; follow the list from it.
    var written = 0
    var position: Int32 = 0
    while position >= 0 {
        ids[written] = ids[Int(position)]
        written += 1
        position = next[Int(position)]
    }
    return written
}

/// Growable buffers for `mergeWithHeap`, reused across words.
final class HeapScratch {
    private(set) var capacity = 0
    private(set) var next = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var previous = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var heap = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    func reserve(_ count: Int) {
        if count <= capacity { return }
        let newCapacity = max(count, capacity * 2, 64)
        next.deallocate(); previous.deallocate(); heap.deallocate()
        next = .allocate(capacity: newCapacity)
        previous = .allocate(capacity: newCapacity)
        // Each merge pushes at most two entries besides the count - 1 initial ones.
        heap = .allocate(capacity: 3 * newCapacity)
        capacity = newCapacity
    }

    deinit { next.deallocate(); previous.deallocate(); heap.deallocate() }
}
