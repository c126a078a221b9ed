import Foundation
import LetheCount
import LetheShards
import LetheTestSupport
import LetheTokenizer
import XCTest

/// Paths inside the repository, found from this file's location.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/count")
    static let inputs = fixtures.appendingPathComponent("input")
    static let tokenizerPath = root.appendingPathComponent("data/tokenizer/gpt-neox-20b-tokenizer.json").path
    static func input(_ name: String) -> String { inputs.appendingPathComponent(name).path }
}

/// The GPT-NeoX-20B tokenizer, loaded once for all tests.
let neoxTokenizer: Tokenizer = try! Tokenizer(contentsOf: URL(fileURLWithPath: Repository.tokenizerPath))

/// Tests/Fixtures/count/expected.json, written by make_count_fixtures.py (oracles: `tokenizers`, nltk).
struct Expected {
    struct Group {
        var subset: String?
        var documents: Int, tokens: Int, bytes: Int
        /// Dense, one entry per id.
        var counts: [Int64]
    }

    let vocabularySize: Int
    let groups: [String: [Group]]
    let words: [String: [ExactString: Int]]
    /// All files' words, most frequent first, then by code point.
    let wordsByCount: [(String, Int)]

    static let shared: Expected = try! Expected()

    private init() throws {
        let json = try JSONValue.read(contentsOf: Repository.fixtures.appendingPathComponent("expected.json"))
        vocabularySize = json["vocabulary_size"]!.intValue!
        var groups: [String: [Group]] = [:]
        var words: [String: [ExactString: Int]] = [:]
        for (name, file) in json["files"]!.objectValue! {
            groups[name] = file["groups"]!.arrayValue!.map { group in
                var counts = [Int64](repeating: 0, count: json["vocabulary_size"]!.intValue!)
                for pair in group["counts"]!.arrayValue! { counts[pair[0]!.intValue!] = Int64(pair[1]!.intValue!) }
                return Group(subset: group["subset"]!.stringValue, documents: group["documents"]!.intValue!,
                             tokens: group["tokens"]!.intValue!, bytes: group["bytes"]!.intValue!, counts: counts)
            }
            words[name] = Dictionary(uniqueKeysWithValues: file["words"]!.arrayValue!.map {
                (ExactString($0[0]!.stringValue!), $0[1]!.intValue!)
            })
        }
        self.groups = groups
        self.words = words
        wordsByCount = json["words_by_count"]!.arrayValue!.map { ($0[0]!.stringValue!, $0[1]!.intValue!) }
    }

    /// The sum of the groups of all files with this subset (nil: all groups of all files).
    func total(subset: String?? = .none) -> Group {
        var total = Group(subset: nil, documents: 0, tokens: 0, bytes: 0, counts: [Int64](repeating: 0, count: vocabularySize))
        for group in groups.values.joined() {
            if case .some(let wanted) = subset, group.subset != wanted { continue }
            total.documents += group.documents
            total.tokens += group.tokens
            total.bytes += group.bytes
            for id in 0..<vocabularySize { total.counts[id] += group.counts[id] }
        }
        return total
    }
}

/// Starts lethe-count in `folder`, with its own file hash cache; standard output and error go to files there
/// (a pipe nobody reads could fill up and stall the process).
func startCount(_ arguments: [String], in folder: URL, log: String = "stderr.txt") throws -> Process {
    let process = Process()
    process.executableURL = productsFolder.appendingPathComponent("lethe-count")
    process.arguments = arguments
    process.currentDirectoryURL = folder
    var environment = ProcessInfo.processInfo.environment
    environment["LETHE_HASH_CACHE"] = folder.appendingPathComponent(".hash-cache.json").path
    process.environment = environment
    guard FileManager.default.createFile(atPath: folder.appendingPathComponent(log).path, contents: nil) else {
        throw CocoaError(.fileWriteUnknown)
    }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = try FileHandle(forWritingTo: folder.appendingPathComponent(log))
    try process.run()
    return process
}

@discardableResult
func runCount(_ arguments: [String], in folder: URL) throws -> CommandResult {
    try runProduct("lethe-count", arguments, in: folder)
}

/// sha256 of each output file of a count stage folder (counts, subsets, words, unit shards), by relative path.
func outputDigests(_ folder: String) throws -> [String: String] {
    var digests: [String: String] = [:]
    let names = try FileManager.default.contentsOfDirectory(atPath: folder)
    for name in names where name.hasSuffix(".npy") || name.hasSuffix(".tsv") || name.hasSuffix(".tar.zst") || name == "subsets.json" {
        digests[name] = try SHA256Hex.ofFile(atPath: folder + "/" + name)
    }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: folder + "/subsets")) ?? [] {
        digests["subsets/" + name] = try SHA256Hex.ofFile(atPath: folder + "/subsets/" + name)
    }
    return digests
}
