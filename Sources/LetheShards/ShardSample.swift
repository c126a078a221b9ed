import Foundation

/// One sample of a shard: the consecutive tar members `KEY.EXT` sharing a key (WebDataset layout).
/// Members keep the order they were added in, which is the order they are written.
public struct ShardSample: Sendable {
    public struct Member: Equatable, Sendable {
        /// Everything after the first dot of the member's file name: "json", "tokens.npy".
        public var ext: String
        public var data: [UInt8]
        public init(ext: String, data: [UInt8]) { self.ext = ext; self.data = data }
    }

    /// The member name up to its first dot; never contains a dot.
    public var key: String
    public var members: [Member]
    /// The shard this sample was read from, for messages; nil for samples made in memory.
    public var source: String?

    public init(key: String, members: [Member] = []) {
        self.key = key
        self.members = members
    }

    /// Adds (or replaces, keeping its position) the member `ext`.
    public mutating func set(_ ext: String, data: [UInt8]) {
        if let i = members.firstIndex(where: { $0.ext == ext }) { members[i].data = data } else { members.append(Member(ext: ext, data: data)) }
    }

    /// Adds the array as member `NAME.npy`.
    public mutating func set(_ name: String, npy array: NPYArray) { set(name + ".npy", data: array.encoded()) }

    /// Adds the metadata as member `json` (compact, sorted keys).
    public mutating func setJSON(_ value: JSONValue) { set("json", data: value.bytes()) }

    public func data(_ ext: String) -> [UInt8]? { members.first(where: { $0.ext == ext })?.data }

    /// The array in member `NAME.npy`.
    public func npy(_ name: String) throws -> NPYArray {
        let ext = name + ".npy"
        do { return try NPYArray.decode(try required(ext)) } catch let error as NPYError {
            throw ShardError("\(origin): member \(key).\(ext): \(error.description)")
        }
    }

    /// The metadata in member `json`.
    public func json() throws -> JSONValue {
        do { return try JSONValue.parse(try required("json")) } catch let error as JSONError {
            throw ShardError("\(origin): member \(key).json: line \(error.description)")
        }
    }

    private func required(_ ext: String) throws -> [UInt8] {
        guard let data = data(ext) else {
            throw ShardError("\(origin): sample \(key) has no member '\(ext)' (it has: \(members.map(\.ext).joined(separator: ", ")))")
        }
        return data
    }

    private var origin: String { source ?? "sample \(key)" }

    /// A key is valid when it is non-empty, has no dot (the dot starts the extension), no NUL and
    /// no empty or absolute path component.
    public static func validateKey(_ key: String) throws {
        guard !key.isEmpty, !key.contains("."), !key.contains("\0"), !key.hasPrefix("/"), !key.hasSuffix("/"),
              !key.contains("//") else {
            throw ShardError("invalid sample key '\(key)': a key must be non-empty, without '.', NUL or empty path parts")
        }
    }
}

extension ShardSample: Equatable {
    /// Samples are equal when key and members are; where they were read from does not matter.
    public static func == (a: ShardSample, b: ShardSample) -> Bool { a.key == b.key && a.members == b.members }
}

public struct ShardError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// File names of shards: `shard-000042.tar.zst`.
public enum ShardName {
    public static let fileExtension = ".tar.zst"

    public static func file(_ index: Int) -> String { stem(index) + fileExtension }

    /// "shard-000042": the name without extension, shared by the shard and its record (`.json`).
    public static func stem(_ index: Int) -> String { "shard-" + padded(index) }

    /// The index of a shard file name, or nil for other names.
    public static func index(ofFile name: String) -> Int? {
        guard name.hasPrefix("shard-"), name.hasSuffix(fileExtension) else { return nil }
        let digits = name.dropFirst(6).dropLast(fileExtension.count)
        guard digits.count >= 6, digits.allSatisfy(\.isASCII), let value = Int(digits), value >= 0 else { return nil }
        return value
    }

    static func padded(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
