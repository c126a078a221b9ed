import LetheShards

/// The metadata field that names a document's subset, as a dotted path into a JSONL line's other fields:
/// `meta.pile_set_name` reads `{"text": ..., "meta": {"pile_set_name": "Pile-CC"}}` as subset "Pile-CC".
public struct SubsetField: Sendable, Equatable, CustomStringConvertible {
    public let components: [String]

    /// Parses `a.b.c`; every component must be non-empty.
    public init(_ path: String) throws {
        let components = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, components.allSatisfy({ !$0.isEmpty }) else {
            throw SubsetFieldError(problem: "subset field \"\(path)\" is not a dotted path of field names (e.g. meta.pile_set_name)")
        }
        self.components = components
    }

    public var description: String { components.joined(separator: ".") }

    /// The subset named by a document's metadata (`Document.metadata`, the JSONL line's other fields): nil when there is
    /// no metadata, the path is absent, or its value is null. A value that is not a string, or a path through
    /// something that is not an object, is a `SubsetFieldError`.
    public func subset(inMetadata metadata: JSONValue?) throws -> String? {
        guard var value = metadata else { return nil }
        for (depth, name) in components.enumerated() {
            guard case .object(let members) = value else {
                let parent = components[..<depth].joined(separator: ".")
                throw SubsetFieldError(problem: "\(self): \(parent) is \(Self.kind(of: value)), not an object")
            }
            guard let member = members[name] else { return nil }
            value = member
        }
        switch value {
        case .null: return nil
        case .string(let name): return name
        default: throw SubsetFieldError(problem: "\(self) is \(Self.kind(of: value)), not a string")
        }
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .array, .object: return "an \(value.typeName)"
        default: return "a \(value.typeName)"
        }
    }
}

/// A subset field that cannot be read; the counter adds the file and line.
public struct SubsetFieldError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public var description: String { problem }
}
