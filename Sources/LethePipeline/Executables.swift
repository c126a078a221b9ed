import Foundation
import LetheShards

/// A stage executable found on disk, with what it says about itself.
public struct StageExecutable: Sendable {
    public let url: URL
    public let description: StageDescription
}

/// Finds stage executables: first in the folder of the running `lethe` binary (so a build folder's
/// executables go together), then on PATH. Descriptions are asked for once per executable.
public final class ExecutableLocator {
    public let searchFolders: [URL]
    private var described: [String: StageExecutable] = [:]
    private var checked: [[String]: String?] = [:]

    public init(searchFolders: [URL]) { self.searchFolders = searchFolders }

    /// The running binary's folder, then the folders of PATH.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ExecutableLocator {
        var folders: [URL] = []
        if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: own).deletingLastPathComponent())
        } else if let main = Bundle.main.executableURL {
            folders.append(main.deletingLastPathComponent())
        }
        for entry in (environment["PATH"] ?? "").split(separator: ":") where !entry.isEmpty {
            folders.append(URL(fileURLWithPath: String(entry)))
        }
        return ExecutableLocator(searchFolders: folders)
    }

    public func locate(_ name: String, base: URL) throws -> URL {
        if name.contains("/") {
            let url = resolve(name, against: base)
            guard FileManager.default.isExecutableFile(atPath: url.path) else { throw PipelineError("\(name): not an executable file") }
            return url
        }
        for folder in searchFolders {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw PipelineError("\(name): executable not found (looked next to lethe in \(searchFolders.first?.path ?? "?") and on PATH)")
    }

    /// Locates `name` and runs it with `--lethe-describe`.
    public func describe(_ name: String, base: URL) throws -> StageExecutable {
        if let known = described[name] { return known }
        let url = try locate(name, base: base)
        let answer: (status: Int32, output: Data)
        do { answer = try Self.output(of: url, [StageDescription.flag]) } catch {
            throw PipelineError("\(url.path): cannot run (\(error.localizedDescription))")
        }
        guard answer.status == 0, let description = try? JSONDecoder().decode(StageDescription.self, from: answer.output) else {
            throw PipelineError("\(url.path): is not a Lethe stage executable (it does not answer \(StageDescription.flag))")
        }
        let executable = StageExecutable(url: url, description: description)
        described[name] = executable
        return executable
    }

    /// The exit status and standard output of `url` run with `arguments` (and `input` on its standard input),
    /// standard error discarded. The input goes through a temporary file, not a pipe: writing to a pipe whose
    /// reader died would end this process with SIGPIPE.
    private static func output(of url: URL, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        var inputFile: URL?
        defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
        if let input {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-input-\(UUID().uuidString).json")
            try input.write(to: file)
            inputFile = file
            process.standardInput = try FileHandle(forReadingFrom: file)
        }
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    /// What `executable` says is wrong with `arguments` (its parser's message: a value of the wrong type, a choice
    /// it does not have, a combination it refuses), or nil when it would run them. Nil also from an executable that
    /// does not list its options (and so cannot be asked). Asked once per command line: `prepareChecks` asks for
    /// many at once.
    public func problem(with arguments: [String], for executable: StageExecutable) -> String? {
        guard executable.description.options != nil else { return nil }
        if let known = checked[checkKey(arguments, executable)] { return known }
        prepareChecks([(executable, arguments)])
        return checked[checkKey(arguments, executable)] ?? nil
    }

    /// Asks each executable about all of its command lines in one process, the executables side by side.
    public func prepareChecks(_ commandLines: [(StageExecutable, [String])]) {
        let asked = commandLines.filter { $0.0.description.options != nil && checked[checkKey($0.1, $0.0)] == nil }
        let byExecutable = Dictionary(grouping: asked, by: { $0.0.url.path }).values.map { group in
            (group[0].0, Array(Set(group.map(\.1))))
        }
        var answers = [[String?]](repeating: [], count: byExecutable.count)
        answers.withUnsafeMutableBufferPointer { answers in
            DispatchQueue.concurrentPerform(iterations: byExecutable.count) { i in
                answers[i] = Self.ask(byExecutable[i].0, about: byExecutable[i].1)
            }
        }
        for ((executable, lines), problems) in zip(byExecutable, answers) {
            for (line, problem) in zip(lines, problems) { checked[checkKey(line, executable)] = .some(problem) }
        }
    }

    private func checkKey(_ arguments: [String], _ executable: StageExecutable) -> [String] { [executable.url.path] + arguments }

    /// One process of `executable` checking `lines` (a JSON array on its standard input: many stages' command
    /// lines can pass the limit of one argument); a problem per line, or nil for every line when the process
    /// gives no answer (the stage itself then says what is wrong when it runs).
    private static func ask(_ executable: StageExecutable, about lines: [[String]]) -> [String?] {
        guard let answer = try? output(of: executable.url, [StageDescription.checkFlag], input: try JSONEncoder().encode(lines)),
              answer.status == 0, let problems = try? JSONDecoder().decode([String?].self, from: answer.output),
              problems.count == lines.count else {
            return lines.map { _ in nil }
        }
        return problems
    }
}

/// One process to start for a stage.
public struct StageInvocation: Sendable {
    public var executable: URL
    public var arguments: [String]
    public var workingDirectory: URL
    /// Shown before each line of its output when a stage runs as several processes ("encode 2/4").
    public var label: String
    /// Variables added to the runner's environment (the file the process records its resource usage in).
    public var environment: [String: String] = [:]
}

/// Runs the processes of one stage and waits for them. The local executor starts them on this machine;
/// a cluster executor (Slurm) would submit them as an array job and wait for it.
public protocol StageExecutor {
    /// Runs every invocation (concurrently where it can), copying their output to the terminal and to
    /// `log`, and returns each one's exit status in order.
    func run(_ invocations: [StageInvocation], log: URL) throws -> [Int32]
}

/// Starts every invocation as a child process at once; each line they print goes to standard output
/// and to the log file (prefixed with the invocation's label when there are several).
public struct LocalExecutor: StageExecutor {
    /// Told the process ids of a stage's processes once they all run (`lethe run` records them in its lock).
    public var started: ([Int32]) -> Void

    public init(started: @escaping ([Int32]) -> Void = { _ in }) { self.started = started }

    public func run(_ invocations: [StageInvocation], log: URL) throws -> [Int32] {
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        guard let logHandle = FileHandle(forWritingAtPath: log.path) else { throw FileError(log.path, "cannot open log for writing") }
        logHandle.seekToEndOfFile()
        defer { try? logHandle.close() }
        let output = LineSink(log: logHandle)
        output.write("== \(Timestamp.now()) \(invocations.map { shellCommandLine([$0.executable.lastPathComponent] + $0.arguments) }.joined(separator: "\n== "))\n")

        let readers = DispatchGroup()
        var processes: [Process] = []
        for invocation in invocations {
            let process = Process()
            process.executableURL = invocation.executable
            process.arguments = invocation.arguments
            process.currentDirectoryURL = invocation.workingDirectory
            process.environment = ProcessInfo.processInfo.environment.merging(invocation.environment) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            do { try process.run() } catch {
                throw PipelineError("\(invocation.executable.path): cannot start (\(error.localizedDescription))")
            }
            processes.append(process)
            let prefix = invocations.count > 1 ? "[\(invocation.label)] " : ""
            DispatchQueue.global().async(group: readers) {
                output.copyLines(from: pipe.fileHandleForReading, prefix: prefix)
            }
        }
        started(processes.map(\.processIdentifier))
        for process in processes { process.waitUntilExit() }
        readers.wait()
        // A child killed by a signal reports it the way a shell does: 128 + the signal's number.
        return processes.map { $0.terminationReason == .uncaughtSignal ? 128 + $0.terminationStatus : $0.terminationStatus }
    }
}

/// Serializes whole lines from several processes to standard output and a log file.
final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private let log: FileHandle

    init(log: FileHandle) { self.log = log }

    /// Reads until end of file, writing each complete line (and a last unterminated one) with `prefix`.
    func copyLines(from handle: FileHandle, prefix: String) {
        var pending = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                write(prefix + String(decoding: pending[pending.startIndex...newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { write(prefix + String(decoding: pending, as: UTF8.self) + "\n") }
    }

    func write(_ text: String) {
        let data = Data(text.utf8)
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(data)
        log.write(data)
    }
}
