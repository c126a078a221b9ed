import Foundation
import LetheShards

public struct PipelineError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a stage executable says about itself when run with `--lethe-describe` (one JSON line).
/// The runner reads it to build the same fingerprint the executable records in its manifest.
public struct StageDescription: Codable, Equatable, Sendable {
    /// The executable's name, e.g. "lethe-encode".
    public var executable: String
    /// The executable's release, recorded in manifests for information (not part of the fingerprint).
    public var version: String
    /// The version of what this stage writes. Bump it whenever the same command line gives different
    /// output (a fixed bug, a new member, a changed default): that makes every earlier output stale.
    public var format: Int
    /// Options whose values are input paths (files, folders or stage folders), fingerprinted by content.
    public var inputs: [String]
    /// Options that never change the output (threads, worker index, progress, ...), left out of the fingerprint.
    public var executionOnly: [String]
    /// True when the stage takes `--shard-index/--num-shards` and can run as several processes.
    public var parallel: Bool
    /// Every long option the executable's command line takes with a value (`inputs` among them), and every flag
    /// (an option without a value), sorted: what the runner checks a pipeline's "params" against before running
    /// anything. Nil from an executable that does not list them (the runner then checks only `inputs`).
    public var options: [String]?
    public var flags: [String]?
    /// The options of `options` that may be given more than once (an array in "params").
    public var repeatable: [String]?

    public init(executable: String, version: String, format: Int, inputs: [String], executionOnly: [String], parallel: Bool,
                options: [String]? = nil, flags: [String]? = nil, repeatable: [String]? = nil) {
        self.executable = executable
        self.version = version
        self.format = format
        self.inputs = inputs
        self.executionOnly = executionOnly
        self.parallel = parallel
        self.options = options
        self.flags = flags
        self.repeatable = repeatable
    }

    /// The flag that makes a stage executable print its description and exit.
    public static let flag = "--lethe-describe"
    /// The flag that makes an executable listing its `options` read a JSON array of command lines from standard
    /// input, parse each (values, and its own checks of them) without running it, and print a JSON array of the
    /// problem with each: ArgumentParser's message, or null.
    public static let checkFlag = "--lethe-check-arguments"
}

/// A stage's command line as option → values: `--chunk-size 64 --input a --input b --lower` becomes
/// `["chunk-size": ["64"], "input": ["a", "b"], "lower": []]`.
///
/// Stage executables take options only (no positional arguments), so a token that does not start
/// with `--` is always the value of the option before it. `--key=value` is accepted too.
public struct StageArguments: Equatable, Sendable {
    public var options: [String: [String]]

    public init(options: [String: [String]] = [:]) { self.options = options }

    public static func parse(_ arguments: [String]) throws -> StageArguments {
        var options: [String: [String]] = [:]
        var current: String?
        for argument in arguments {
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                guard !body.isEmpty else { throw PipelineError("a bare '--' is not allowed in a stage's arguments") }
                if let equals = body.firstIndex(of: "=") {
                    let name = String(body[..<equals])
                    options[name, default: []].append(String(body[body.index(after: equals)...]))
                    current = nil
                } else {
                    current = String(body)
                    options[current!, default: []] += []
                }
            } else {
                guard let name = current else {
                    throw PipelineError("unexpected argument '\(argument)': stage executables take only --options")
                }
                options[name, default: []].append(argument)
            }
        }
        return StageArguments(options: options)
    }

    /// The options that determine the output: without execution-only options and input paths.
    public func parameters(for description: StageDescription) -> [String: [String]] {
        options.filter { !description.executionOnly.contains($0.key) && !description.inputs.contains($0.key) }
    }

    /// The paths given to each input option, in order.
    public func inputPaths(for description: StageDescription) -> [String: [String]] {
        options.filter { description.inputs.contains($0.key) }
    }
}

/// The identity of one input path: a stage folder by the sha256 of its manifest.json (so rerunning the
/// upstream stage makes this one stale), a file by the sha256 of its content, any other folder by the
/// sha256 of its sorted listing of relative paths and content hashes.
public struct InputIdentity: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case stage, file, folder }
    public var path: String
    public var kind: Kind
    public var sha256: String

    public init(path: String, kind: Kind, sha256: String) {
        self.path = path
        self.kind = kind
        self.sha256 = sha256
    }

    /// Identifies `path` (relative paths resolve against `base`). `option` is named in errors.
    public static func of(path: String, option: String, base: URL, cache: FileHashCache) throws -> InputIdentity {
        let url = resolve(path, against: base)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PipelineError("\(path): no such file or folder (input --\(option))")
        }
        if !isDirectory.boolValue {
            return InputIdentity(path: path, kind: .file, sha256: try cache.sha256(ofFile: url.path))
        }
        let manifest = url.appendingPathComponent(StageFolder.manifestName)
        if FileManager.default.fileExists(atPath: manifest.path) {
            return InputIdentity(path: path, kind: .stage, sha256: try SHA256Hex.ofFile(atPath: manifest.path))
        }
        var listing = ""
        for relative in try regularFiles(under: url) {
            listing += relative + "\0" + (try cache.sha256(ofFile: url.appendingPathComponent(relative).path)) + "\n"
        }
        return InputIdentity(path: path, kind: .folder, sha256: SHA256Hex.of(Array(listing.utf8)))
    }

    /// Relative paths of the regular files below `folder`, sorted, skipping hidden files and folders.
    static func regularFiles(under folder: URL) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey],
                                                              options: [.skipsHiddenFiles]) else {
            throw PipelineError("\(folder.path): cannot list folder")
        }
        var paths: [String] = []
        let prefix = folder.standardizedFileURL.path + "/"
        for case let file as URL in enumerator where (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
            let full = file.standardizedFileURL.path
            paths.append(full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : file.lastPathComponent)
        }
        return paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

/// Resolves a path written relative to `base` (absolute paths stay as they are).
public func resolve(_ path: String, against base: URL) -> URL {
    path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
}

/// The one function that decides whether a stage's output is current, used by the stage executables
/// (recorded in manifest.json) and by the runner (compared with it).
public enum Fingerprint {
    /// sha256 of the canonical JSON of the executable's name and format version, the parameters
    /// (execution-only options and input paths removed) and the identities of the inputs.
    public static func compute(description: StageDescription, parameters: [String: [String]],
                               inputs: [String: [InputIdentity]]) -> String {
        let canonical: JSONValue = [
            "executable": .string(description.executable),
            "format": .int(description.format),
            "params": .object(parameters.mapValues { .array($0.map(JSONValue.string)) }),
            "inputs": .object(inputs.mapValues { .array($0.map { ["kind": .string($0.kind.rawValue), "sha256": .string($0.sha256)] }) }),
        ]
        return SHA256Hex.of(canonical.bytes())
    }

    /// Parameters and input identities of a command line, and its fingerprint.
    public static func of(arguments: StageArguments, description: StageDescription, base: URL,
                          cache: FileHashCache) throws -> (fingerprint: String, parameters: [String: [String]], inputs: [String: [InputIdentity]]) {
        let parameters = arguments.parameters(for: description)
        var inputs: [String: [InputIdentity]] = [:]
        for (option, paths) in arguments.inputPaths(for: description) {
            inputs[option] = try paths.map { try InputIdentity.of(path: $0, option: option, base: base, cache: cache) }
        }
        cache.save()
        return (compute(description: description, parameters: parameters, inputs: inputs), parameters, inputs)
    }
}
