import Foundation
import LetheShards

/// The lock a `lethe run` holds on every stage folder of its pipeline while it works, so that two runs (a second
/// terminal, a second sbatch of the same `lethe run`) never write the same folders at once.
///
/// One lock file per stage folder, beside it (`stages/encode.lock` for `stages/encode`, outside the folder, whose
/// contents are the stage's), so that two pipeline files sharing a folder also exclude each other. A lock file is created
/// with O_CREAT | O_EXCL, atomic on local file systems and on the shared ones of clusters (NFS v3 and later, Lustre,
/// GPFS), and says who holds it: host, process id, that process's start (boot id and start tick, so that a reused
/// process id is not taken for the holder), the pipeline and the time it was taken. flock is not used: it does not
/// reach across the hosts of a cluster file system.
///
/// A lock is stale when its `lethe run` and every stage process it started (recorded in the lock as they start) no
/// longer run on this host: a runner killed with `kill -9` leaves its stage processes working, and its lock
/// holds until they end. A stale lock is removed, with a line saying so, and taken. A holder on another host cannot be checked from here; the refusal names it and the file to remove once
/// that run is known to be gone. Locks are taken in the order of their paths and all given back on a conflict, so
/// two runs never wait on each other.
public final class RunLock {
    /// What a lock file holds.
    /// A process of this host: its id and, to tell a reused id apart, its start.
    public struct ProcessRef: Codable, Equatable, Sendable {
        public var pid: Int32
        /// `BOOT_ID:START_TICKS` (Linux), nil where it cannot be read.
        public var start: String?

        public init(pid: Int32) { self.init(pid: pid, start: RunLock.processStart(of: pid)) }
        public init(pid: Int32, start: String?) { self.pid = pid; self.start = start }

        /// No process with its id, or one that started at another time.
        var isGone: Bool {
            guard kill(pid, 0) == 0 || errno == EPERM else { return true }
            guard let start, let now = RunLock.processStart(of: pid) else { return false }
            return now != start
        }
    }

    public struct Holder: Codable, Equatable, Sendable {
        public var host: String
        public var pid: Int32
        /// `BOOT_ID:START_TICKS` of the holding process (Linux), nil where it cannot be read.
        public var processStart: String?
        public var pipeline: String
        /// ISO 8601, UTC.
        public var started: String
        /// The stage processes the run started last (recorded as they start).
        public var stages: [ProcessRef]?

        /// This process, running `pipeline`.
        public static func current(pipeline: String) -> Holder {
            let me = ProcessRef(pid: getpid())
            return Holder(host: hostName(), pid: me.pid, processStart: me.start, pipeline: pipeline,
                          started: ISO8601DateFormatter().string(from: Date()), stages: nil)
        }

        /// Whether the run is known to be over: on this host, its `lethe run` and every stage process it started are
        /// gone. Never for another host's run.
        public var isGone: Bool {
            guard host == hostName() else { return false }
            return ProcessRef(pid: pid, start: processStart).isGone && (stages ?? []).allSatisfy(\.isGone)
        }

        /// Stage processes of a run whose `lethe run` is gone, still working.
        var orphans: [Int32] {
            guard host == hostName(), ProcessRef(pid: pid, start: processStart).isGone else { return [] }
            return (stages ?? []).filter { !$0.isGone }.map(\.pid)
        }

        public var description: String { "`lethe run` of \(pipeline) on \(host), process \(pid), since \(started)" }
    }

    /// The lock file of a stage folder: beside it, its name and `.lock`.
    public static func file(for folder: URL) -> URL { URL(fileURLWithPath: folder.standardizedFileURL.path + ".lock") }

    /// The lock files taken, in the order taken.
    public private(set) var files: [URL] = []
    private(set) var holder: Holder

    private init(holder: Holder) { self.holder = holder }

    /// Takes the lock of every stage folder of `pipeline`. Held by another run: with `wait`, tries again every `poll`
    /// seconds until it is free (saying once what it waits for); without, throws one line naming the holder.
    public static func acquire(_ pipeline: Pipeline, wait: Bool, poll: Double = 2, say: (String) -> Void) throws -> RunLock {
        let files = Set(pipeline.stages.keys.map { file(for: pipeline.outputURL(of: $0)).path }).sorted().map(URL.init(fileURLWithPath:))
        let lock = RunLock(holder: .current(pipeline: pipeline.url.path))
        var announced = false
        while true {
            guard let busy = try lock.tryAcquire(files, say: say) else { return lock }
            let (file, holder) = busy
            guard wait else {
                let orphans = holder.orphans
                let gone = holder.host != hostName()
                    ? "Lethe cannot check a process on \(holder.host) from \(hostName()); if that run is gone, remove \(file.path)"
                    : orphans.isEmpty ? "it is running"
                    : "that run was killed, but its stage process\(orphans.count == 1 ? "" : "es") \(orphans.map(String.init).joined(separator: ", ")) still work\(orphans.count == 1 ? "s" : "")"
                throw PipelineError("\(file.path): held by \(holder.description); \(gone). Pass --wait-lock to wait for it.")
            }
            if !announced { say("Waiting for \(file.path), held by \(holder.description)."); announced = true }
            usleep(useconds_t(poll * 1_000_000 * Double.random(in: 0.8...1.2)))
        }
    }

    /// Records the stage processes just started in every lock file (rewritten whole: this run holds them).
    public func record(stages pids: [Int32]) throws {
        holder.stages = pids.map { ProcessRef(pid: $0) }
        let bytes = try canonicalJSON(holder).bytes(pretty: true)
        for file in files { try DurableFile.write(bytes, to: file) }
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

    /// Removes `file` if `holder` is gone; true when it did, or when the file changed meanwhile (look again).
    /// Runs breaking the same lock take turns through `NAME.lock.break` (O_EXCL, left by a crash: ignored after
    /// 30 s), and the holder is read again under it, so a lock taken a moment ago by another run is never removed.
    private func removeIfStale(_ file: URL, _ holder: Holder, say: (String) -> Void) throws -> Bool {
        guard holder.isGone else { return false }
        let breaker = file.path + ".break"
        let fd = open(breaker, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            var info = stat()
            if errno == EEXIST, stat(breaker, &info) == 0, Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec) > 30 {
                unlink(breaker)
            } else {
                usleep(50_000)
            }
            return true
        }
        close(fd)
        defer { unlink(breaker) }
        guard (try? Self.read(file)) == holder else { return true }
        unlink(file.path)
        say("Removed the stale lock \(file.path) of \(holder.description), which is no longer running.")
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
        do {
            try DurableFile.writeAll(fd: fd, bytes: bytes, path: file.path)
            try DurableFile.sync(fd, path: file.path)
        } catch {
            unlink(file.path)  // an empty lock file would stop every later run
            throw error
        }
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
