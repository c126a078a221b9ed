import ArgumentParser
import Foundation
import LethePipeline

/// A Lethe executable: a failure prints ONE line `NAME: <file>: <what is wrong>` on standard error and
/// exits with status 1. Errors from parsing the command line keep ArgumentParser's format (usage,
/// suggestions), and `--help` works as usual.
public protocol LetheCommand: ParsableCommand {}

extension LetheCommand {
    public static func main() { runLetheMain(self) }
}

/// A stage executable: besides running, it answers `--lethe-describe` with its `StageDescription`
/// (one JSON line), which the runner uses to build the stage's fingerprint.
public protocol StageCommand: LetheCommand {
    static var stageDescription: StageDescription { get }
}

extension StageCommand {
    public static func main() {
        if CommandLine.arguments.dropFirst().first == StageDescription.flag {
            let data = try! JSONEncoder().encode(stageDescription)
            print(String(decoding: data, as: UTF8.self))
            Foundation.exit(0)
        }
        runLetheMain(self)
    }
}

extension StageDescription {
    /// A stage's description; the shared options that never change output (`StageOptions.executionOnly`)
    /// are added to `executionOnly`.
    public static func stage(_ executable: String, format: Int, inputs: [String], executionOnly: [String] = [],
                             parallel: Bool = true, version: String = LetheVersion.current) -> StageDescription {
        StageDescription(executable: executable, version: version, format: format, inputs: inputs,
                         executionOnly: (StageOptions.executionOnly + executionOnly).sorted(), parallel: parallel)
    }
}

/// Parses and runs `command`, turning thrown errors into one line per problem on standard error.
public func runLetheMain<Command: ParsableCommand>(_ command: Command.Type) -> Never {
    var parsed: ParsableCommand
    do { parsed = try command.parseAsRoot() } catch { command.exit(withError: error) }
    do {
        try parsed.run()
        ResourceUsage.recordIfAsked()
        Foundation.exit(0)
    } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
        // --help, --version, ExitCode, ValidationError: ArgumentParser's own handling and format.
        command.exit(withError: error)
    } catch {
        let name = URL(fileURLWithPath: CommandLine.arguments.first ?? "lethe").lastPathComponent
        let lines = String(describing: error).split(separator: "\n", omittingEmptySubsequences: true)
        FileHandle.standardError.write(Data(lines.map { "\(name): \($0)\n" }.joined().utf8))
        Foundation.exit(1)
    }
}
