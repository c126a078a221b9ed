import Foundation
import XCTest

/// A one-node Slurm cluster on localhost for the tests, started and stopped by Tests/Support/slurm/cluster.sh
/// (which installs Debian's slurm-wlm and munge first when they are missing). Its daemons keep their state in a
/// temporary folder; a watchdog stops them if this test process dies without stopping them.
final class SlurmCluster {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Support/slurm/cluster.sh")

    /// Why the cluster is not there: a reason to skip (the packages cannot be installed here) or a failure.
    enum Unavailable: Error {
        case skip(String)
        case failure(String)
    }

    let folder: URL
    /// The cluster's configuration; Slurm's commands find the cluster through SLURM_CONF.
    var configuration: URL { folder.appendingPathComponent("slurm.conf") }

    private init(folder: URL) { self.folder = folder }

    /// Installs the packages if needed and starts the daemons. The folder is short (munge's socket path is limited).
    static func start() -> Result<SlurmCluster, Unavailable> {
        let started = Date()
        let install = run(["install"])
        if install.status == 3 { return .failure(.skip("Slurm is not available: \(install.error)")) }
        guard install.status == 0 else { return .failure(.failure("cluster.sh install failed (status \(install.status)): \(install.error)")) }
        let installed = Date()
        let folder = URL(fileURLWithPath: "/tmp/lethe-slurm-\(UUID().uuidString.prefix(8))")
        let cluster = SlurmCluster(folder: folder)
        let start = run(["start", folder.path, "\(ProcessInfo.processInfo.processIdentifier)"])
        if start.status == 3 {
            cluster.stop()
            return .failure(.skip("the test cluster cannot run here: \(start.error)"))
        }
        guard start.status == 0 else {
            cluster.stop()
            return .failure(.failure("the test Slurm cluster did not start (status \(start.status)): \(start.error)"))
        }
        print("Slurm test cluster in \(folder.path): packages checked in \(String(format: "%.1f", installed.timeIntervalSince(started))) s, daemons up in \(String(format: "%.1f", Date().timeIntervalSince(installed))) s")
        return .success(cluster)
    }

    /// Cancels every job, stops the daemons and removes the folder.
    func stop() {
        let result = Self.run(["stop", folder.path])
        if result.status != 0 { print("cluster.sh stop \(folder.path): status \(result.status): \(result.error)") }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs cluster.sh; standard output and error go to files, since the daemons it starts keep no pipe open.
    private static func run(_ arguments: [String]) -> (status: Int32, error: String) {
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-cluster-\(UUID().uuidString).err")
        defer { try? FileManager.default.removeItem(at: errorFile) }
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: errorFile.path)
        do { try process.run() } catch { return (127, "cannot run \(script.path): \(error)") }
        process.waitUntilExit()
        let error = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, error.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs one of Slurm's commands against this cluster and returns its standard output.
    func command(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_CONF"] = configuration.path
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
