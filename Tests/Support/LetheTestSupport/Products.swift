import CBLAS
import Foundation

// Running the package's built executables from tests, shared by the test targets that do.

/// The folder holding the built executables: the same build folder as the running test bundle.
public let productsFolder = URL(fileURLWithPath: try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    .deletingLastPathComponent()

public struct CommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var error: String
}

/// A built executable running, its standard output and error on pipes.
public struct StartedProcess {
    public let process: Process
    public let outputPipe: Pipe
    public let errorPipe: Pipe

    /// Waits for the process to end, reading both pipes at once (either could fill up and stall it otherwise).
    public func finish() -> CommandResult {
        let error = ReadInBackground(errorPipe.fileHandleForReading)
        let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                             error: String(decoding: error.wait(), as: UTF8.self))
    }
}

/// Starts the built executable `name` in `folder`. `hashCache` is its file-hash cache (`LETHE_HASH_CACHE`): a path,
/// or "off"; by default `.hash-cache.json` in `folder`, so that tests never share the user's cache. The product runs
/// OpenBLAS's kernels of the test process itself (OPENBLAS_CORETYPE; see LetheModel's BLASCore), so that what a test
/// computes in-process and what the product computes compare to the bit. `environment` sets variables (a nil value
/// removes one) on top of all that.
public func startProduct(_ name: String, _ arguments: [String], in folder: URL, hashCache: String? = nil,
                         environment changes: [String: String?] = [:]) throws -> StartedProcess {
    let process = Process()
    process.executableURL = productsFolder.appendingPathComponent(name)
    process.arguments = arguments
    process.currentDirectoryURL = folder
    var environment = ProcessInfo.processInfo.environment
    environment["LETHE_HASH_CACHE"] = hashCache ?? folder.appendingPathComponent(".hash-cache.json").path
    environment["OPENBLAS_CORETYPE"] = String(cString: openblas_get_corename())
    for (name, value) in changes { environment[name] = value }
    process.environment = environment
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    return StartedProcess(process: process, outputPipe: output, errorPipe: error)
}

/// Runs the built executable `name` in `folder` to its end (see `startProduct`).
@discardableResult
public func runProduct(_ name: String, _ arguments: [String], in folder: URL, hashCache: String? = nil,
                       environment: [String: String?] = [:]) throws -> CommandResult {
    try startProduct(name, arguments, in: folder, hashCache: hashCache, environment: environment).finish()
}

/// Reads a file handle to its end on another thread.
private final class ReadInBackground: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchGroup()

    init(_ handle: FileHandle) {
        done.enter()
        DispatchQueue.global().async { [self] in
            data = handle.readDataToEndOfFile()
            done.leave()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
