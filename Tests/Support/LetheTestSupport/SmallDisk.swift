import Foundation

/// A tmpfs of a few MB mounted for one test, to run stages into a full disk. Mounting needs root with
/// CAP_SYS_ADMIN; `init` returns nil where the machine does not allow it (the test then skips).
public final class SmallDisk {
    public let url: URL
    private var ballast: URL { url.appendingPathComponent(".ballast") }

    public init?(megabytes: Int) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-small-disk-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        guard Self.command("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", url.path]) else {
            try? FileManager.default.removeItem(at: url)
            return nil
        }
    }

    /// Bytes free on it.
    public var free: Int {
        var info = statvfs()
        return statvfs(url.path, &info) == 0 ? Int(info.f_bavail) * Int(info.f_frsize) : 0
    }

    /// Takes all but `bytes` of the free space with a ballast file.
    public func fill(leaving bytes: Int) throws {
        let size = max(0, free - bytes)
        FileManager.default.createFile(atPath: ballast.path, contents: nil)
        let handle = try FileHandle(forWritingTo: ballast)
        try handle.write(contentsOf: Data(count: size))
        try handle.close()
    }

    /// Frees what `fill` took.
    public func emptyBallast() { try? FileManager.default.removeItem(at: ballast) }

    public func unmount() {
        _ = Self.command("/bin/umount", [url.path])
        try? FileManager.default.removeItem(at: url)
    }

    private static func command(_ path: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
