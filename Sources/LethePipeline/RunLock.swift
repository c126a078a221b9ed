import Foundation
import LetheShards

/// The lock a `lethe run` holds on every stage folder of its pipeline while it works, so that two runs (a second
/// terminal, a second sbatch of the same `lethe run`) never write the same folders at once.
///
/// One lock file per stage folder, beside it (`stages/encode.lock` for `stages/encode`, outside the folder, which a
/// forced stage clears), so that two pipeline files sharing a folder also exclude each other. A lock file is created
/// with O_CREAT | O_EXCL, atomic on local file systems and on the shared ones of clusters (NFS v3 and later, Lustre,
/// GPFS), and says who holds it: host, process id, that process's start (boot id and start tick, so that a reused
/// process id is not taken for the holder), the pipeline and the time it was taken. flock is not used: it does not
/// reach across the hosts of a cluster file system.
///
/// A lock held by a process of this host that no longer runs is stale: it is removed, with a line saying so, and
/// taken. A holder on another host cannot be checked from here; the refusal names it and the file to remove once
/// that run is known to be gone. Locks are taken in the order of their paths and all given back on a conflict, so
/// two runs never wait on each other.
public final class RunLock {
    /// What a lock file holds.
    public struct Holder: Codable, Equatable, Sendable {
        public var host: String
        public var pid: Int32
        /// `BOOT_ID:START_TICKS` of the holding process (Linux), nil where it cannot be read.
        public var processStart: String?
        public var pipeline: String
        /// ISO 8601, UTC.
        public var started: String

        /// This process, running `pipeline`.
        public static func current(pipeline: String) -> Holder {
            let pid = getpid()
            return Holder(host: hostName(), pid: pid, processStart: RunLock.processStart(of: pid), pipeline: pipeline,
                          started: ISO8601DateFormatter().string(from: Date()))
        }

        /// Whether the holding process is known to be gone: on this host, no process with its id, or one that
        /// started at another time. Never for another host's process.
        public var isGone: Bool {
            guard host == hostName() else { return false }
            guard kill(pid, 0) == 0 || errno == EPERM else { return true }
            guard let processStart, let now = RunLock.processStart(of: pid) else { return false }
            return now != processStart
        }

        public var description: String { "`lethe run` of \(pipeline) on \(host), process \(pid), since \(started)" }
    }

    public static let suffix = ".lock"

    /// The lock files taken, in the order taken.
    public private(set) var files: [URL] = []
    let holder: Holder

    private init(holder: Holder) { self.holder = holder }

    /// Takes the lock of every stage folder of `pipeline`. Held by another run: with `wait`, tries again every `poll`
    /// seconds until it is free (saying once what it waits for); without, throws one line naming the holder.
    public static func acquire(_ pipeline: Pipeline, wait: Bool, poll: Double = 2, say: (String) -> Void) throws -> RunLock {
        let folders = Set(pipeline.stages.keys.map { pipeline.outputURL(of: $0).standardizedFileURL.path }).sorted()
        let lock = RunLock(holder: .current(pipeline: pipeline.url.path))
        var announced = false
        while true {
            guard let busy = try lock.tryAcquire(folders.map { URL(fileURLWithPath: $0 + suffix) }, say: say) else { return lock }
            let (file, holder) = busy
            guard wait else {
                let gone = holder.host == hostName()
                    ? "it is running" : "Lethe cannot check a process on \(holder.host) from \(hostName()); if that run is gone, remove \(file.path)"
                throw PipelineError("\(file.path): held by \(holder.description); \(gone). Pass --wait-lock to wait for it.")
            }
            if !announced { say("Waiting for \(file.path), held by \(holder.description)."); announced = true }
            usleep(useconds_t(poll * 1_000_000 * Double.random(in: 0.8...1.2)))
        }
    }

    /// Gives every lock back (only files that still hold this run's holder are removed).
    public func release() {
        for file in files.reversed() where (try? Self.read(file)) == holder { unlink(file.path) }
        files = []
    }

    deinit { release() }

    /// Takes every file, or none: returns the first one another live run holds (after giving back those taken).
    private func tryAcquire(_ lockFiles: [URL], say: (String) -> Void) throws -> (URL, Holder)? {
        let bytes = try canonicalJSON(holder).bytes(pretty: true)
        for file in lockFiles {
            while !(try Self.create(file, bytes)) {
                guard let other = try Self.readSettled(file) else { continue }  // given back meanwhile
                if try removeIfStale(file, other, say: say) { continue }
                release()
                return (file, other)
            }
            files.append(file)
        }
        return nil
    }

    /// The holder of an existing lock file; nil if the file is gone. A file is written right after it is created,
    /// so one that cannot be read is looked at again for a second before it counts as foreign.
    private static func readSettled(_ file: URL) throws -> Holder? {
        for _ in 0..<20 {
            if let holder = try? read(file) { return holder }
            if access(file.path, F_OK) != 0 { return nil }
            usleep(50_000)
        }
        throw PipelineError("\(file.path): not a lock file of Lethe's (no JSON naming a holder); remove it if no `lethe run` works here")
    }

    /// Removes `file` if `holder` is gone; true when it was (or another run removed it first).
    private func removeIfStale(_ file: URL, _ holder: Holder, say: (String) -> Void) throws -> Bool {
        guard holder.isGone else { return false }
        // Renamed aside first, so that a lock another run took a moment ago is never the one removed.
        let aside = file.path + ".stale.\(getpid())"
        guard rename(file.path, aside) == 0 else { return errno == ENOENT }
        if (try? Self.read(URL(fileURLWithPath: aside))) == holder {
            unlink(aside)
            say("Removed the stale lock \(file.path) of \(holder.description), which is no longer running.")
        } else {
            _ = link(aside, file.path)  // not the stale one: put it back (fails harmlessly if taken again meanwhile)
            unlink(aside)
        }
        return true
    }

    /// Creates `file` holding `bytes` if it does not exist; false if it does.
    private static func create(_ file: URL, _ bytes: [UInt8]) throws -> Bool {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(file.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw PipelineError("\(file.path): cannot create the lock file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        try DurableFile.writeAll(fd: fd, bytes: bytes, path: file.path)
        guard fsync(fd) == 0 else { throw PipelineError("\(file.path): cannot write the lock file (\(String(cString: strerror(errno))))") }
        return true
    }

    /// The holder a lock file names.
    public static func read(_ file: URL) throws -> Holder { try decodeJSON(Holder.self, from: file) }

    static func hostName() -> String { ProcessInfo.processInfo.hostName }

    /// `BOOT_ID:START_TICKS` of process `pid` from /proc (Linux), nil elsewhere or when it is gone.
    static func processStart(of pid: Int32) -> String? {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces): state is field 3, start time field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return boot.trimmingCharacters(in: .whitespacesAndNewlines) + ":" + fields[19]
    }
}
