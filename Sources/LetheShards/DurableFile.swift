import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error about one file: its description starts with the path, as every Lethe message does.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ path: String, _ problem: String) { description = "\(path): \(problem)" }
}

/// Crash-safe file writes: a file appears under its final name only complete and on disk.
///
/// Each write goes to a temporary name in the same folder, is fsynced, renamed over the final name,
/// and the folder is fsynced so the rename itself survives a power cut (the "write, fsync, rename"
/// recipe; without the fsyncs a crash can leave an empty file under the final name).
public enum DurableFile {
    /// Writes `bytes` to `url` atomically. The temporary name carries the process id, so concurrent
    /// writers of the same file (two workers finishing a stage together) never share one.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let temporary = url.path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(temporary, "cannot create (\(errnoText()))") }
        do {
            try writeAll(fd: fd, bytes: bytes, path: temporary)
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        try rename(from: temporary, to: url.path)
    }

    /// Renames `from` over `to` and fsyncs the folder that holds them.
    public static func rename(from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            let problem = errnoText()
            unlink(from)
            throw FileError(to, "cannot rename \(from) into place (\(problem))")
        }
        try syncDirectory(URL(fileURLWithPath: to).deletingLastPathComponent().path)
    }

    /// fsync of a file being written; a full disk (NFS and quotas report it here) as `diskFull` says it.
    public static func sync(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else {
            if errno == ENOSPC || errno == EDQUOT { throw diskFull(path, needed: nil) }
            throw FileError(path, "fsync failed (\(errnoText()))")
        }
    }

    public static func syncDirectory(_ path: String) throws {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path, "cannot open folder to fsync (\(errnoText()))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(path, "fsync of folder failed (\(errnoText()))") }
    }

    public static func writeAll(fd: Int32, bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC || errno == EDQUOT { throw diskFull(path, needed: bytes.count - offset) }
                throw FileError(path, "write failed (\(errnoText()))")
            }
            offset += n
        }
    }

    public static func writeAll(fd: Int32, bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd: fd, bytes: $0, path: path) }
    }

    /// The error of a write that found no space (ENOSPC, or EDQUOT: a quota): it names the file by its final name,
    /// what is free where it goes and what the write still needed, since the fix is the user's (free space, rerun).
    /// Called with errno still set.
    /// `needed`: what the write still had to write; nil where it is not known (a failed fsync: the data is written).
    public static func diskFull(_ path: String, needed: Int?) -> FileError {
        let reason = errno == EDQUOT ? "the disk quota is used up" : "the disk is full"
        let file = finalPath(of: path)
        let free = freeBytes(at: URL(fileURLWithPath: file).deletingLastPathComponent().path).map(byteCount) ?? "an unknown amount"
        let more = needed.map { "at least \(byteCount($0)) more needed" } ?? "more needed to finish it"
        return FileError(file, "\(reason): \(free) free where it goes, \(more); nothing was marked "
                         + "complete and earlier output is kept: free space and run again")
    }

    /// Bytes free for this user on the file system holding `path` (statvfs), nil if it cannot be asked.
    public static func freeBytes(at path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// `NAME` for the temporary `NAME.tmp.PID` that durable writes go through; any other path unchanged.
    static func finalPath(of path: String) -> String {
        guard let range = path.range(of: ".tmp.", options: .backwards),
              !path[range.upperBound...].isEmpty, path[range.upperBound...].allSatisfy(\.isNumber) else { return path }
        return String(path[..<range.lowerBound])
    }

    /// "812 bytes", "3.4 MB", "1.20 GB".
    public static func byteCount(_ bytes: Int) -> String {
        if bytes < 1_000_000 { return bytes < 10_000 ? "\(bytes) bytes" : String(format: "%.1f KB", Double(bytes) / 1e3) }
        return bytes < 1_000_000_000 ? String(format: "%.1f MB", Double(bytes) / 1e6) : String(format: "%.2f GB", Double(bytes) / 1e9)
    }

    /// Size of a regular file, or nil when it does not exist or is not a regular file.
    public static func size(ofFile path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
