import Foundation
import LetheShards

/// What a stage's processes used: each process's peak resident memory and CPU time, so that a user can size a
/// cluster's memory request (`"resources": {"memory": ...}`) from a run. A stage process started by `lethe run`
/// (locally or on Slurm) finds LETHE_RESOURCE_FILE in its environment and writes its own usage there when it
/// succeeds, `.resources-N.json` in the stage folder for worker N (StageFolder.resourceFile); the runner and
/// `lethe status` read them all. Not part of the stage's output: the files are outside the manifest and never
/// change a fingerprint.
public struct ResourceUsage: Codable, Equatable, Sendable {
    /// The largest resident set of the process (getrusage's ru_maxrss), in MB.
    public var peakMemoryMB: Double
    /// User + system CPU time of the process, in seconds.
    public var cpuSeconds: Double

    enum CodingKeys: String, CodingKey {
        case peakMemoryMB = "peak_memory_mb"
        case cpuSeconds = "cpu_seconds"
    }

    public static let environmentName = "LETHE_RESOURCE_FILE"
    static let filePrefix = ".resources-"

    /// This process's usage so far.
    public static func ofThisProcess() -> ResourceUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return ResourceUsage(peakMemoryMB: Double(usage.ru_maxrss) / 1024,
                             cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }

    /// Writes this process's usage to the file the runner named in the environment, if it named one. A failure
    /// to write is not the stage's failure: its output is complete.
    public static func recordIfAsked(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment[environmentName], !path.isEmpty,
              let data = try? JSONEncoder().encode(ofThisProcess()) else { return }
        try? DurableFile.write(Array(data), to: URL(fileURLWithPath: path))
    }

}

/// The usage of a stage's processes in its last run: the largest peak, the total CPU time.
public struct StageResourceSummary: Equatable, Sendable {
    public var peakMemoryMB: Double
    public var cpuSeconds: Double
    public var processes: Int

    /// "peak memory 412 MB, CPU 21.3 s" ("the largest of N processes" when there were several).
    public var description: String {
        "peak memory \(Int(peakMemoryMB.rounded())) MB"
            + (processes > 1 ? " (the largest of \(processes) processes)" : "")
            + ", CPU \(String(format: "%.1f", cpuSeconds)) s"
    }
}

extension StageFolder {
    /// The file that worker `index` of the stage writes its usage to (the Slurm job script passes "$task").
    public func resourceFile(worker index: String) -> URL {
        url.appendingPathComponent(ResourceUsage.filePrefix + index + ".json")
    }

    /// The usage recorded by the processes of the stage's last run; nil when none recorded one.
    public func resourceSummary() -> StageResourceSummary? {
        let records = resourceFiles().compactMap { try? decodeJSON(ResourceUsage.self, from: $0) }
        guard !records.isEmpty else { return nil }
        return StageResourceSummary(peakMemoryMB: records.map(\.peakMemoryMB).max()!,
                                    cpuSeconds: records.map(\.cpuSeconds).reduce(0, +), processes: records.count)
    }

    /// Removes the usage records of an earlier run (before the stage runs again).
    public func clearResourceRecords() throws {
        for file in resourceFiles() { try removeIfPresent(file) }
    }

    private func resourceFiles() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasPrefix(ResourceUsage.filePrefix) && $0.hasSuffix(".json") }.sorted()
            .map { url.appendingPathComponent($0) }
    }
}
