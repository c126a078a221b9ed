import CArchive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a shard sample by sample (lazily: one sample in memory at a time).
///
/// libarchive does the reading, so any tar flavour works (ustar, pax as Python's tarfile writes by
/// default, GNU with long names), compressed with zstd or any filter libarchive knows, or plain.
/// Directory entries are skipped. Every error names the shard file and, where it applies, the member.
///
///     let reader = try ShardReader(url: shard)
///     while let sample = try reader.next() { ... }
public final class ShardReader {
    public let url: URL
    private var archive: OpaquePointer?
    /// A member read ahead that starts the next sample.
    private var pending: (key: String, member: ShardSample.Member)?
    private var atEnd = false

    public init(url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else { throw ShardError("\(url.path): no such shard file") }
        guard let archive = archive_read_new() else { throw ShardError("\(url.path): cannot start libarchive") }
        self.archive = archive
        archive_read_support_filter_all(archive)
        archive_read_support_format_tar(archive)
        archive_read_support_format_gnutar(archive)
        if archive_read_open_filename(archive, url.path, 1 << 16) != ARCHIVE_OK {
            let message = errorText()
            archive_read_free(archive)
            self.archive = nil
            throw ShardError("\(url.path): not a readable tar shard (\(message))")
        }
    }

    deinit { if let archive { archive_read_free(archive) } }

    /// Every sample of the shard, in order (for small shards and tests; stages should stream with `next()`).
    public static func readAll(_ url: URL) throws -> [ShardSample] {
        let reader = try ShardReader(url: url)
        var samples: [ShardSample] = []
        while let sample = try reader.next() { samples.append(sample) }
        return samples
    }

    /// Calls `body` with each sample in order.
    public static func forEach(_ url: URL, _ body: (ShardSample) throws -> Void) throws {
        let reader = try ShardReader(url: url)
        while let sample = try reader.next() { try body(sample) }
    }

    /// The next sample, or nil after the last one.
    public func next() throws -> ShardSample? {
        var sample: ShardSample?
        if let pending {
            sample = ShardSample(key: pending.key, members: [pending.member])
            self.pending = nil
        }
        while let (key, member) = try nextMember() {
            guard var current = sample else {
                sample = ShardSample(key: key, members: [member])
                continue
            }
            if key != current.key {
                pending = (key, member)
                break
            }
            guard current.data(member.ext) == nil else {
                throw ShardError("\(url.path): member \(key).\(member.ext) appears twice in one sample")
            }
            current.members.append(member)
            sample = current
        }
        sample?.source = url.path
        return sample
    }

    /// The next regular-file member split into key and extension, or nil at the end of the archive.
    private func nextMember() throws -> (String, ShardSample.Member)? {
        guard !atEnd, let archive else { return nil }
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF {
                atEnd = true
                return nil
            }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw ShardError("\(url.path): truncated or corrupt shard (\(errorText()))")
            }
            guard let rawName = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
                throw ShardError("\(url.path): a member has no name")
            }
            let name = String(cString: rawName)
            let fileType = archive_entry_filetype(entry)
            if fileType == S_IFDIR { continue }
            guard fileType == S_IFREG else { throw ShardError("\(url.path): member \(name) is not a regular file") }
            let (key, ext) = try Self.split(memberName: name, shard: url.path)
            return (key, ShardSample.Member(ext: ext, data: try readData(of: entry, name: name)))
        }
    }

    private func readData(of entry: OpaquePointer, name: String) throws -> [UInt8] {
        guard archive_entry_size_is_set(entry) != 0 else { throw ShardError("\(url.path): member \(name) has no size") }
        let size = Int(archive_entry_size(entry))
        var failure: String?
        let data = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = archive_read_data(archive, buffer.baseAddress! + initialized, size - initialized)
                if n <= 0 {
                    failure = n < 0 ? errorText() : "\(initialized) of \(size) bytes"
                    buffer.initialize(repeating: 0)
                    initialized = size
                    return
                }
                initialized += n
            }
        }
        if let failure { throw ShardError("\(url.path): member \(name): truncated or corrupt data (\(failure))") }
        return data
    }

    /// WebDataset's rule: the key is the path up to the first dot of its last component, the extension the rest.
    static func split(memberName name: String, shard: String) throws -> (String, String) {
        let lastSlash = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard let dot = name[lastSlash...].firstIndex(of: "."), dot != lastSlash, name.index(after: dot) != name.endIndex else {
            throw ShardError("\(shard): member name '\(name)' is not KEY.EXTENSION")
        }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }

    private func errorText() -> String {
        guard let archive, let message = archive_error_string(archive) else { return "unknown libarchive error" }
        return String(cString: message)
    }
}
