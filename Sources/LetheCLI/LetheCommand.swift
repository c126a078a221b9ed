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
            var description = stageDescription
            (description.options, description.flags, description.repeatable) = commandLineNames()
            let data = try! JSONEncoder().encode(description)
            print(String(decoding: data, as: UTF8.self))
            Foundation.exit(0)
        }
        if CommandLine.arguments.dropFirst().first == StageDescription.checkFlag {
            // A JSON array of command lines on standard input; a JSON array of the problem with each (null: none) out.
            guard let lines = try? JSONDecoder().decode([[String]].self, from: FileHandle.standardInput.readDataToEndOfFile()) else {
                FileHandle.standardError.write(Data("\(StageDescription.checkFlag) reads a JSON array of command lines from standard input\n".utf8))
                Foundation.exit(1)
            }
            let problems: [String?] = lines.map { line in
                do { _ = try parseAsRoot(line); return nil } catch { return message(for: error) }
            }
            print(String(decoding: try! JSONEncoder().encode(problems), as: UTF8.self))
            Foundation.exit(0)
        }
        runLetheMain(self)
    }
}

extension StageCommand {
    /// The long names of this command's options that take a value and of its flags, as ArgumentParser itself lists
    /// them (its `--experimental-dump-help` JSON), so that the runner checks a pipeline against the real parser.
    static func commandLineNames() -> (options: [String], flags: [String], repeatable: [String]) {
        var text = ""
        do { _ = try parseAsRoot(["--experimental-dump-help"]) } catch { text = fullMessage(for: error) }
        guard let dump = try? JSONDecoder().decode(ArgumentParserDump.self, from: Data(text.utf8)) else {
            fatalError("\(Self.self): ArgumentParser gave no --experimental-dump-help JSON")
        }
        var options: Set<String> = [], flags: Set<String> = [], repeatable: Set<String> = []
        for argument in dump.command.arguments ?? [] {
            for name in argument.names ?? [] where name.kind == "long" && name.name != "help" {
                if argument.kind == "option" {
                    options.insert(name.name)
                    if argument.isRepeating == true { repeatable.insert(name.name) }
                } else if argument.kind == "flag" {
                    flags.insert(name.name)
                }
            }
        }
        return (options.sorted(), flags.sorted(), repeatable.sorted())
    }
}

/// The part of ArgumentParser's `--experimental-dump-help` JSON that names a command's arguments.
private struct ArgumentParserDump: Decodable {
    struct Command: Decodable { let arguments: [Argument]? }
    struct Argument: Decodable { let kind: String; let names: [Name]?; let isRepeating: Bool? }
    struct Name: Decodable { let kind: String; let name: String }
    let command: Command
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
        CreatedOutputFolders.removeEmpty()
        Foundation.exit(1)
    }
}

/// The output folders this process created. A stage that fails removes those it left empty (a refused input, a
/// model that does not load), so that no folder is left that looks like a stage's output; rmdir removes only an
/// empty folder, so a folder another worker has written into, or one holding finished units to resume, stays.
enum CreatedOutputFolders {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []

    static func add(_ path: String) { lock.withLock { paths.append(path) } }

    static func removeEmpty() { lock.withLock { for path in paths { rmdir(path) } } }
}
