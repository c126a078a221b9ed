import Foundation
import LetheShards

/// A file a stage wrote besides its shards (checkpoints, counts, the report), listed in the manifest.
public struct FileRecord: Codable, Equatable, Sendable {
    /// Path relative to the stage folder.
    public var name: String
    public var bytes: Int
    public var sha256: String

    public init(name: String, bytes: Int, sha256: String) {
        self.name = name
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// `manifest.json`: written last, it is what makes a stage folder complete.
public struct StageManifest: Codable, Equatable, Sendable {
    public static let currentVersion = 1

    public struct Executable: Codable, Equatable, Sendable {
        public var name: String
        public var version: String
        public var format: Int
        public init(name: String, version: String, format: Int) {
            self.name = name
            self.version = version
            self.format = format
        }
    }

    public struct Totals: Codable, Equatable, Sendable {
        public var shards: Int
        public var samples: Int
        public var bytes: Int
        public init(shards: Int, samples: Int, bytes: Int) {
            self.shards = shards
            self.samples = samples
            self.bytes = bytes
        }
    }

    public var version: Int
    public var stage: String
    public var fingerprint: String
    public var executable: Executable
    /// The canonical parameters (option → values), so `lethe run --dry-run` can say what changed.
    public var parameters: [String: [String]]
    public var inputs: [String: [InputIdentity]]
    public var shards: [ShardRecord]
    public var files: [FileRecord]
    public var totals: Totals
    /// ISO 8601, UTC: when the first unit of work started and when the manifest was written.
    public var started: String
    public var finished: String
    /// Stage-specific summary (skipped lines, token totals, ...).
    public var extra: JSONValue

    public init(version: Int, stage: String, fingerprint: String, executable: Executable, parameters: [String: [String]],
                inputs: [String: [InputIdentity]], shards: [ShardRecord], files: [FileRecord], totals: Totals,
                started: String, finished: String, extra: JSONValue) {
        self.version = version
        self.stage = stage
        self.fingerprint = fingerprint
        self.executable = executable
        self.parameters = parameters
        self.inputs = inputs
        self.shards = shards
        self.files = files
        self.totals = totals
        self.started = started
        self.finished = finished
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case version = "lethe_manifest"
        case stage, fingerprint, executable, parameters, inputs, shards, files, totals, started, finished, extra
    }
}

/// The record written beside each finished shard (`shard-NNNNNN.json`), after the shard itself is in
/// place. A shard counts as done only when its record exists, carries the current fingerprint and
/// matches the shard's size (and sha256, where checked).
public struct UnitRecord: Codable, Equatable, Sendable {
    public var unit: Int
    /// How many units the stage has in all (for `lethe status`: "3 of 10 shards done"); nil for a stage that
    /// finds its units while reading a stream (`StageRun.runStreamedUnits`), whose total is known only at the end.
    public var units: Int?
    public var fingerprint: String
    public var shard: ShardRecord
    public var started: String
    public var finished: String
    public var extra: JSONValue

    public init(unit: Int, units: Int?, fingerprint: String, shard: ShardRecord, started: String, finished: String, extra: JSONValue) {
        self.unit = unit
        self.units = units
        self.fingerprint = fingerprint
        self.shard = shard
        self.started = started
        self.finished = finished
        self.extra = extra
    }
}

/// A stage's output folder: shards, their records, extra files, the manifest and log.txt.
public struct StageFolder: Sendable {
    public static let manifestName = "manifest.json"
    public static let logName = "log.txt"

    public let url: URL
    public init(url: URL) { self.url = url }

    public var manifestURL: URL { url.appendingPathComponent(Self.manifestName) }
    public func shardURL(unit: Int) -> URL { url.appendingPathComponent(ShardName.file(unit)) }
    public func recordURL(unit: Int) -> URL { url.appendingPathComponent(ShardName.stem(unit) + ".json") }

    // MARK: Manifest

    /// The manifest, nil when there is none; throws when it exists but cannot be read as one.
    public func manifest() throws -> StageManifest? {
        guard FileManager.default.fileExists(atPath: manifestURL.path) else { return nil }
        let manifest = try decodeJSON(StageManifest.self, from: manifestURL)
        guard manifest.version == StageManifest.currentVersion else {
            throw FileError(manifestURL.path, "manifest version \(manifest.version); this lethe reads version \(StageManifest.currentVersion)")
        }
        return manifest
    }

    /// Problems with a manifest's shards and files: missing, wrong size, and (with `content`) wrong sha256.
    public func problems(with manifest: StageManifest, checkContent: Bool) -> [String] {
        var problems: [String] = []
        let listed = manifest.shards.map { ($0.name, $0.bytes, $0.sha256) } + manifest.files.map { ($0.name, $0.bytes, $0.sha256) }
        for (name, bytes, sha256) in listed {
            let path = url.appendingPathComponent(name).path
            guard let size = DurableFile.size(ofFile: path) else { problems.append("\(path): missing"); continue }
            guard size == bytes else { problems.append("\(path): \(size) bytes, the manifest says \(bytes)"); continue }
            if checkContent, (try? SHA256Hex.ofFile(atPath: path)) != sha256 {
                problems.append("\(path): sha256 differs from the manifest")
            }
        }
        return problems
    }

    /// Writes the manifest atomically (pretty JSON, sorted keys).
    public func write(_ manifest: StageManifest) throws {
        try DurableFile.write(try canonicalJSON(manifest).bytes(pretty: true), to: manifestURL)
    }

    // MARK: Units

    public func record(unit: Int) -> UnitRecord? {
        try? decodeJSON(UnitRecord.self, from: recordURL(unit: unit))
    }

    /// The unit's record if the unit is done under `fingerprint`: record present and matching, shard
    /// present with the recorded size and, with `checkContent`, the recorded sha256.
    public func completedUnit(_ unit: Int, fingerprint: String, checkContent: Bool) -> UnitRecord? {
        guard let record = record(unit: unit), record.unit == unit, record.fingerprint == fingerprint,
              record.shard.name == ShardName.file(unit) else { return nil }
        let path = shardURL(unit: unit).path
        guard DurableFile.size(ofFile: path) == record.shard.bytes else { return nil }
        if checkContent, (try? SHA256Hex.ofFile(atPath: path)) != record.shard.sha256 { return nil }
        return record
    }

    public func write(_ record: UnitRecord) throws {
        try DurableFile.write(try canonicalJSON(record).bytes(pretty: true), to: recordURL(unit: record.unit))
    }

    /// Indices of the units that have a record (whatever its fingerprint), ascending.
    public func recordedUnits() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.compactMap(Self.unitIndex(ofRecordFile:)).sorted()
    }

    /// 42 for "shard-000042.json".
    static func unitIndex(ofRecordFile name: String) -> Int? {
        guard name.hasSuffix(".json") else { return nil }
        return ShardName.index(ofFile: String(name.dropLast(5)) + ShardName.fileExtension)
    }

    /// Makes the folder incomplete so every unit is redone: removes the manifest and the unit records
    /// (shards stay until they are overwritten). Used by the runner before a forced rerun.
    public func discardCompletion() throws {
        for unit in recordedUnits() { try removeIfPresent(recordURL(unit: unit)) }
        try removeIfPresent(manifestURL)
    }

    /// Removes the shards and records numbered `count` or more (the remains of an earlier run with more
    /// units) and temporary shards left by killed writers. Call only when all `count` units are complete.
    public func removeLeftovers(keepingUnits count: Int) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        for name in names {
            let index = ShardName.index(ofFile: name) ?? Self.unitIndex(ofRecordFile: name)
            if name.contains(ShardName.fileExtension + ".tmp") || (index ?? -1) >= count {
                try removeIfPresent(url.appendingPathComponent(name))
            }
        }
    }

    func removeIfPresent(_ file: URL) throws {
        do { try FileManager.default.removeItem(at: file) } catch CocoaError.fileNoSuchFile {} catch {
            if FileManager.default.fileExists(atPath: file.path) { throw FileError(file.path, "cannot remove (\(error.localizedDescription))") }
        }
    }
}

// MARK: JSON helpers

/// A Codable value as a JSONValue (so it is written with sorted keys, integers as integers).
func canonicalJSON<T: Encodable>(_ value: T) throws -> JSONValue {
    try JSONValue.parse([UInt8](JSONEncoder().encode(value)))
}

/// Decodes a JSON file, turning Foundation's decoding errors into one line naming the file and key.
func decodeJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw FileError(url.path, "cannot read") }
    do { return try JSONDecoder().decode(type, from: data) } catch let error as DecodingError {
        throw FileError(url.path, "invalid (\(describe(error)))")
    } catch {
        throw FileError(url.path, "invalid (\(error.localizedDescription))")
    }
}

func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return keys.isEmpty ? "top level" : keys.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing key '\(key.stringValue)' at \(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "wrong type at \(path(context))"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(context))"
    @unknown default:
        return "\(error)"
    }
}

/// Time stamps in manifests: ISO 8601, UTC, with milliseconds. The precision matters: a stage rerun
/// within the same second must still write a different manifest, so the stages reading it become stale.
public enum Timestamp {
    public static func now() -> String { string(from: Date()) }

    public static func string(from date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
