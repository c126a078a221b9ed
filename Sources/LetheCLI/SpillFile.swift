import Foundation
import LetheShards
#if canImport(Glibc)
import Glibc
#endif

/// Samples that are done before the samples ahead of them in the input wait here, on disk, until their turn
/// comes (InOrderWriter's spilling mode), so that a shard of any size is written in input order with a bounded
/// amount of memory.
///
/// The file sits next to the output shard (the same file system, not a RAM-backed /tmp) and is unlinked as
/// soon as it is opened: it disappears when closed, when the process ends or when it is killed.
final class SpillFile {
    private struct Stored {
        let key: String
        let members: [(ext: String, offset: Int, count: Int)]
    }

    private let fd: Int32
    private let path: String
    private var end = 0
    private var stored: [Int: Stored] = [:]

    /// Opens an empty spill file for the shard `shard` is written to.
    init(nextTo shard: URL) throws {
        // A name the harness recognises as a leftover temporary of this shard, should unlinking fail.
        path = shard.path + ".tmp-spill.\(getpid())"
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StageError("\(path): cannot create the spill file (\(String(cString: strerror(errno))))") }
        unlink(path)
    }

    deinit { close(fd) }

    var isEmpty: Bool { stored.isEmpty }

    /// Keeps `sample` as the sample at input position `index`.
    func put(_ sample: ShardSample, at index: Int) throws {
        var members: [(String, Int, Int)] = []
        for member in sample.members {
            try member.data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(end + done))
                    guard n > 0 else { throw StageError("\(path): cannot write the spill file (\(String(cString: strerror(errno))))") }
                    done += n
                }
            }
            members.append((member.ext, end, member.data.count))
            end += member.data.count
        }
        stored[index] = Stored(key: sample.key, members: members)
    }

    /// Takes out the sample kept for position `index`, if there is one.
    func take(_ index: Int) throws -> ShardSample? {
        guard let entry = stored.removeValue(forKey: index) else { return nil }
        var sample = ShardSample(key: entry.key)
        for member in entry.members {
            var data = [UInt8](repeating: 0, count: member.count)
            try data.withUnsafeMutableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(member.offset + done))
                    guard n > 0 else { throw StageError("\(path): cannot read the spill file back (\(String(cString: strerror(errno))))") }
                    done += n
                }
            }
            sample.set(member.ext, data: data)
        }
        if stored.isEmpty {
            // Everything was read back: start the file over instead of letting it grow for the whole shard.
            end = 0
            _ = ftruncate(fd, 0)
        }
        return sample
    }
}
