import Foundation
import LetheShards
#if canImport(Glibc)
import Glibc
#endif

/// Remembers the sha256 of large input files by (absolute path, size, mtime, inode), so `lethe run`
/// does not rehash a multi-gigabyte corpus every time it checks whether a stage is current.
///
/// The cache is one JSON file: `$LETHE_HASH_CACHE` if set (the value `off` disables caching), else
/// `$XDG_CACHE_HOME/lethe/file-hashes.json`, else `~/.cache/lethe/file-hashes.json`. A file changed
/// in place without its size, mtime or inode changing would keep its old hash (the same trade-off as
/// make, DVC and Nextflow's lenient mode); delete the cache file to force rehashing. Files under
/// 1 MiB are always hashed afresh. Concurrent writers replace the file atomically; the last one wins,
/// and a lost entry only costs a rehash.
public final class FileHashCache {
    struct Entry: Codable, Equatable {
        var size: Int
        var mtimeNanoseconds: Int
        var inode: UInt64
        var sha256: String
    }

    public static let minimumCachedSize = 1 << 20
    public let url: URL?
    private var entries: [String: Entry] = [:]
    private var loaded = false
    private var changed = false

    public init(url: URL?) { self.url = url }

    /// The cache at its configured location (see the type's documentation).
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> FileHashCache {
        if let configured = environment["LETHE_HASH_CACHE"], !configured.isEmpty {
            return FileHashCache(url: configured == "off" ? nil : URL(fileURLWithPath: configured))
        }
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache")
        return FileHashCache(url: base.appendingPathComponent("lethe/file-hashes.json"))
    }

    public func sha256(ofFile path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError(path, "cannot read (\(String(cString: strerror(errno))))") }
        let size = Int(info.st_size)
        guard size >= Self.minimumCachedSize, url != nil else { return try SHA256Hex.ofFile(atPath: path) }
        load()
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let mtime = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
        if let entry = entries[absolute], entry.size == size, entry.mtimeNanoseconds == mtime, entry.inode == UInt64(info.st_ino) {
            return entry.sha256
        }
        let digest = try SHA256Hex.ofFile(atPath: path)
        entries[absolute] = Entry(size: size, mtimeNanoseconds: mtime, inode: UInt64(info.st_ino), sha256: digest)
        changed = true
        return digest
    }

    /// Writes the cache if it gained entries. A cache that cannot be written is not an error: it only
    /// makes the next check slower.
    public func save() {
        guard changed, let url else { return }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if let data = try? JSONEncoder().encode(entries) { try? DurableFile.write([UInt8](data), to: url) }
        changed = false
    }

    private func load() {
        guard !loaded else { return }
        loaded = true
        guard let url, let data = try? Data(contentsOf: url) else { return }
        // An unreadable cache (another version, a torn file) is simply started afresh.
        entries = (try? JSONDecoder().decode([String: Entry].self, from: data)) ?? [:]
    }
}
