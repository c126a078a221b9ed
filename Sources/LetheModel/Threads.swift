import CBLAS
import Dispatch
import Foundation

/// How many cores Lethe's numeric code uses. Every parallel loop (the scan, the conv, the split matrix
/// products) goes through `LetheThreads.parallelFor`, and OpenBLAS itself is kept single-threaded: a matrix
/// product is split into row (or column) blocks, one single-threaded sgemm per worker. One pool of workers,
/// so OpenBLAS's own threads never compete with ours (Debian's OpenBLAS is the pthread build).
public enum LetheThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured = ProcessInfo.processInfo.activeProcessorCount
    private static let blasSingleThreaded: Void = openblas_set_num_threads(1)

    /// The number of workers (at least 1). Defaults to the number of active cores.
    public static var count: Int {
        lock.lock(); defer { lock.unlock() }
        return configured
    }

    /// Sets the number of workers (`--threads N`); values below 1 mean 1.
    public static func set(_ count: Int) {
        lock.lock(); defer { lock.unlock() }
        configured = max(1, count)
    }

    /// Makes sure OpenBLAS runs each call on the calling thread; done once, before the first sgemm.
    static func prepareBLAS() { _ = blasSingleThreaded }

    /// Puts OpenBLAS back to one thread per call, for a caller that changed it (a benchmark measuring
    /// OpenBLAS's own threading).
    public static func restoreSingleThreadedBLAS() { openblas_set_num_threads(1) }

    /// Runs `body` over `0..<items` split into contiguous ranges, `chunksPerWorker` per worker (more chunks
    /// balance better when a core is busy with something else). With one worker the work runs on the
    /// calling thread.
    public static func parallelFor(_ items: Int, chunksPerWorker: Int = 1, _ body: (Range<Int>) -> Void) {
        guard items > 0 else { return }
        let workers = count
        let chunks = min(items, workers * max(1, chunksPerWorker))
        if workers == 1 || chunks == 1 { body(0..<items); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body(items * c / chunks ..< items * (c + 1) / chunks)
        }
    }
}
