import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

/// Stage formats that cannot go stale silently. A stage's `format` (its StageDescription) is part of every
/// fingerprint: a folder written by code of another format is rebuilt, one of the same format is kept. So a change
/// to what a stage writes must bump its format, or `lethe run` keeps results the current code would not produce.
///
/// This test runs every stage on a small fixed input and reduces its output to a listing (see `OutputListing`),
/// whose sha256 is blessed in Tests/Fixtures/stage-formats/blessed.json beside the format and the fixed input it was
/// blessed for (the listing itself beside it, to show what changed). A listing that changed while the format and
/// the input stayed fails, naming the stage and what to do; blessing refuses it too. A changed fixed input (the
/// pipeline below, the report fixture) is blessed anew. After bumping a format:
///
///     LETHE_BLESS=1 swift test -c release -Xswiftc -enable-testing --filter StageFormatTests
///
/// The stages without floating-point matrix products (tokenize, count, annotate, report) are listed byte for byte;
/// encode, train and reconstruct, whose bytes depend on the CPU's vector kernels, by their schema (members,
/// dtypes, ranks, JSON keys, tensor names), which is what any machine agrees on.
final class StageFormatTests: XCTestCase {
    static let folder = repositoryRoot.appendingPathComponent("Tests/Fixtures/stage-formats")
    static let blessedFile = folder.appendingPathComponent("blessed.json")
    static let blessCommand = "LETHE_BLESS=1 swift test -c release -Xswiftc -enable-testing --filter StageFormatTests"
    static let tokenizer = "data/tokenizer/gpt-neox-20b-tokenizer.json"

    /// The stages on repository data: tokenize and count GSM8K questions, encode with lethe-small, two training
    /// steps, two tokens reconstructed per chunk by lethe-ae-small.
    static let pipeline = """
        {"version": 1, "stages": {
          "tokenize": {"run": "lethe-tokenize", "files": {"input": ["data/gsm8k/test.jsonl"], "tokenizer": "\(tokenizer)"},
                       "params": {"chunking": "fixed", "chunk-size": [4, 8], "dataset": "math", "text-field": "question",
                                  "max-documents": 6}},
          "count": {"run": "lethe-count", "files": {"input": ["data/gsm8k/test.jsonl"], "tokenizer": "\(tokenizer)"},
                    "params": {"words": true, "text-field": "question"}},
          "encode": {"run": "lethe-encode", "inputs": {"input": "tokenize"}, "files": {"model": "models/lethe-small"},
                     "params": {"surprisal": true}},
          "train": {"run": "lethe-train", "inputs": {"input": "tokenize"},
                    "files": {"init": "models/lethe-small", "encoder": "models/lethe-small", "tokenizer": "\(tokenizer)"},
                    "params": {"objective": "autoencoder", "steps": 2, "batch-size": 4, "seed": 1}},
          "reconstruct": {"run": "lethe-reconstruct", "inputs": {"input": "encode"},
                          "files": {"model": "models/lethe-ae-small", "tokenizer": "\(tokenizer)"}, "params": {"max-new-tokens": 2}}
        }}
        """

    /// The sha256 of each stage's fixed input: an output that changed because its input did needs no new format.
    static func inputDigests() throws -> [String: String] {
        let pipeline = SHA256Hex.of(Array(Self.pipeline.utf8))
        let reconstructions = try SHA256Hex.ofFile(atPath: ReportFixture.directory.appendingPathComponent("reconstructions.json").path)
        return ["lethe-tokenize": pipeline, "lethe-count": pipeline, "lethe-encode": pipeline, "lethe-train": pipeline,
                "lethe-reconstruct": pipeline, "lethe-annotate": reconstructions, "lethe-report": reconstructions]
    }

    /// Every stage executable's listing of its output on the fixed input.
    func listings() throws -> [String: OutputListing] {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        for folder in ["data", "models"] {
            try FileManager.default.createSymbolicLink(at: sandbox.path(folder), withDestinationURL: repositoryRoot.appendingPathComponent(folder))
        }
        try sandbox.write("pipeline.json", Array(Self.pipeline.utf8))
        let run = try runProduct("lethe", ["run"], in: sandbox.url)
        XCTAssertEqual(run.status, 0, run.output + run.error)
        var listings: [String: OutputListing] = [
            "lethe-tokenize": try OutputListing(stage: sandbox.path("stages/tokenize"), depth: .content),
            "lethe-count": try OutputListing(stage: sandbox.path("stages/count"), depth: .content),
            "lethe-encode": try OutputListing(stage: sandbox.path("stages/encode"), depth: .schema),
            "lethe-train": try OutputListing(stage: sandbox.path("stages/train"), depth: .schema),
            "lethe-reconstruct": try OutputListing(stage: sandbox.path("stages/reconstruct"), depth: .schema),
        ]
        // annotate and report on the report fixture's reconstructions (fixed, whatever the CPU).
        let reportSandbox = try Sandbox("report")
        defer { reportSandbox.cleanUp() }
        _ = try ExpectedReportTests.produce(in: reportSandbox)
        listings["lethe-annotate"] = try OutputListing(stage: reportSandbox.path("stages/annotate"), depth: .content)
        listings["lethe-report"] = try OutputListing(stage: reportSandbox.path("outputs"), depth: .content,
                                                     replacing: ExpectedReportTests.versionMark, with: "lethe-report VERSION ")
        return listings
    }

    /// The format a stage executable declares (`--lethe-describe`).
    func declaredFormat(of executable: String) throws -> Int {
        let described = try runProduct(executable, [StageDescription.flag], in: FileManager.default.temporaryDirectory)
        return try JSONDecoder().decode(StageDescription.self, from: Data(described.output.utf8)).format
    }

    /// How a stage's listing stands against what was blessed.
    enum Judgement: Equatable {
        case blessed
        /// The output changed while the format stayed: the bug this test exists for. Blessing refuses it.
        case changedWithoutBump
        /// A format (new or bumped) with no blessed output yet: bless it.
        case unblessed
    }

    static func judge(format: Int, sha256: String, input: String, blessed: BlessedFormat?) -> Judgement {
        guard let blessed, blessed.format == format, blessed.input == nil || blessed.input == input else { return .unblessed }
        return blessed.sha256 == sha256 ? .blessed : .changedWithoutBump
    }

    func testEveryStageFormatMatchesItsBlessedOutput() throws {
        let blessed = (try? JSONDecoder().decode([String: BlessedFormat].self, from: Data(contentsOf: Self.blessedFile))) ?? [:]
        let bless = ProcessInfo.processInfo.environment["LETHE_BLESS"] == "1"
        var updated = blessed, problems: [String] = []
        let inputs = try Self.inputDigests()
        for (executable, listing) in try listings().sorted(by: { $0.key < $1.key }) {
            let format = try declaredFormat(of: executable)
            let input = inputs[executable]!
            let listingFile = Self.folder.appendingPathComponent(executable + ".txt")
            switch Self.judge(format: format, sha256: listing.sha256, input: input, blessed: blessed[executable]) {
            case .blessed:
                continue
            case .changedWithoutBump:
                let old = (try? String(contentsOf: listingFile, encoding: .utf8)) ?? ""
                problems.append("""
                    \(executable): its output on the fixed input changed, but its format is still \(format): stage folders \
                    written by the older code would count as up to date. Bump `format` in the stageDescription of \
                    Sources/\(executable), then bless the new output: \(Self.blessCommand). \
                    What changed, in \(listingFile.path): \(OutputListing.firstDifference(listing.text, old))
                    """)
            case .unblessed where bless:
                updated[executable] = BlessedFormat(format: format, sha256: listing.sha256, depth: listing.depth.rawValue, input: input)
                try Data(listing.text.utf8).write(to: listingFile)
            case .unblessed:
                problems.append("\(executable): format \(format) has no blessed output on this input (blessed: \(blessed[executable].map { "format \($0.format)" } ?? "none")); after checking its output, run \(Self.blessCommand)")
            }
        }
        if updated != blessed {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try (encoder.encode(updated) + Data("\n".utf8)).write(to: Self.blessedFile)
            problems.append("LETHE_BLESS=1: blessed \(updated.filter { blessed[$0.key] != $0.value }.keys.sorted().joined(separator: ", ")) in \(Self.blessedFile.path); review git diff, then rerun without it")
        }
        for problem in problems { XCTFail(problem) }
    }

    func testJudgement() {
        let blessed = BlessedFormat(format: 2, sha256: "aa", depth: "content", input: "in")
        XCTAssertEqual(Self.judge(format: 2, sha256: "aa", input: "in", blessed: blessed), .blessed)
        XCTAssertEqual(Self.judge(format: 2, sha256: "bb", input: "in", blessed: blessed), .changedWithoutBump)
        XCTAssertEqual(Self.judge(format: 3, sha256: "bb", input: "in", blessed: blessed), .unblessed, "a bumped format is blessed anew")
        XCTAssertEqual(Self.judge(format: 3, sha256: "aa", input: "in", blessed: blessed), .unblessed)
        XCTAssertEqual(Self.judge(format: 2, sha256: "bb", input: "new", blessed: blessed), .unblessed, "a new fixed input is blessed anew")
        XCTAssertEqual(Self.judge(format: 1, sha256: "aa", input: "in", blessed: nil), .unblessed)
        let older = BlessedFormat(format: 2, sha256: "aa", depth: "content", input: nil)
        XCTAssertEqual(Self.judge(format: 2, sha256: "bb", input: "in", blessed: older), .changedWithoutBump,
                       "an entry without its input still guards the format")
    }

    /// A listing by content changes with any byte of a member; one by schema with a dtype, a rank or a JSON key,
    /// not with values.
    func testListingsSeeWhatTheyPromise() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        func listings(_ tokens: NPYArray, _ json: JSONValue) throws -> (content: String, schema: String) {
            var sample = ShardSample(key: "b000000-s000000")
            sample.setJSON(json)
            sample.set("tokens", npy: tokens)
            let folder = sandbox.path("stage-\(UUID().uuidString.prefix(8))")
            try writeStageFolder(at: folder, name: "s", executable: "lethe-test", shards: [[sample]], files: ["log.json": json.bytes()])
            return (try OutputListing(stage: folder, depth: .content).sha256, try OutputListing(stage: folder, depth: .schema).sha256)
        }
        let base = try listings(NPYArray(int32: [1, 2, 3], shape: [3]), ["a": 1, "b": "x"])
        let otherValues = try listings(NPYArray(int32: [1, 2, 4], shape: [3]), ["a": 2, "b": "y"])
        XCTAssertNotEqual(otherValues.content, base.content)
        XCTAssertEqual(otherValues.schema, base.schema)
        for changed in [try listings(NPYArray(int32: [1, 2, 3], shape: [1, 3]), ["a": 1, "b": "x"]),
                        try listings(NPYArray(float32: [1, 2, 3], shape: [3]), ["a": 1, "b": "x"]),
                        try listings(NPYArray(int32: [1, 2, 3], shape: [3]), ["a": 1, "c": "x"]),
                        try listings(NPYArray(int32: [1, 2, 3], shape: [3]), ["a": 1, "b": 1])] {
            XCTAssertNotEqual(changed.schema, base.schema)
            XCTAssertNotEqual(changed.content, base.content)
        }
    }
}

struct BlessedFormat: Codable, Equatable {
    var format: Int
    var sha256: String
    var depth: String
    /// The sha256 of the fixed input it was blessed on (the pipeline's text, or the report fixture's
    /// reconstructions.json); nil in entries blessed before inputs were recorded.
    var input: String?
}

/// A stage folder's output as lines of text, in order: for each shard, each sample's key and members; then each
/// file the manifest registers. `content`: each member and file by its bytes' sha256. `schema`: an .npy member by
/// dtype and rank, a JSON member or file by its keys and value kinds, a safetensors file by its tensors' names,
/// dtypes and ranks, any other file by its name.
struct OutputListing {
    enum Depth: String { case content, schema }
    let depth: Depth
    let text: String
    var sha256: String { SHA256Hex.of(Array(text.utf8)) }

    init(stage: URL, depth: Depth, replacing mark: String? = nil, with replacement: String = "") throws {
        self.depth = depth
        let manifest = try XCTUnwrap(try StageFolder(url: stage).manifest(), "\(stage.path) has no manifest")
        var lines: [String] = []
        func normalized(_ bytes: [UInt8]) -> [UInt8] {
            guard let mark else { return bytes }
            return Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: mark, with: replacement).utf8)
        }
        for shard in manifest.shards {
            lines.append("shard \(shard.name)")
            for sample in try ShardReader.readAll(stage.appendingPathComponent(shard.name)) {
                for member in sample.members {
                    lines.append("  \(sample.key).\(member.ext) " + Self.describe(member.ext, normalized(member.data), depth))
                }
            }
        }
        for file in manifest.files {
            let bytes = normalized([UInt8](try Data(contentsOf: stage.appendingPathComponent(file.name))))
            lines.append("file \(file.name) " + Self.describe(file.name, bytes, depth))
        }
        text = lines.joined(separator: "\n") + "\n"
    }

    static func describe(_ name: String, _ bytes: [UInt8], _ depth: Depth) -> String {
        if depth == .content { return SHA256Hex.of(bytes) }
        if name.hasSuffix(".npy"), let array = try? NPYArray.decode(bytes) {
            return "\(array.dtype.name) rank \(array.shape.count)"
        }
        if name.hasSuffix("json") || name.hasSuffix(".jsonl") {  // .json members and files; a .jsonl file by its first line
            let firstLine = bytes.split(separator: 10, maxSplits: 1).first.map(Array.init) ?? []
            if let value = try? JSONValue.parse(name.hasSuffix(".jsonl") ? firstLine : bytes) { return schema(of: value) }
        }
        if name.hasSuffix(".safetensors"), bytes.count >= 8 {
            let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            if 8 + length <= bytes.count, case .object(let tensors)? = try? JSONValue.parse(Array(bytes[8 ..< 8 + length])) {
                return tensors.keys.sorted().filter { $0 != "__metadata__" }.map { name in
                    "\(name):\(tensors[name]?["dtype"]?.stringValue ?? "?")/\(tensors[name]?["shape"]?.arrayValue?.count ?? -1)"
                }.joined(separator: " ")
            }
        }
        return "(file)"
    }

    /// A JSON value's keys and kinds, recursively: {"a": number, "b": [string]}.
    static func schema(of value: JSONValue) -> String {
        switch value {
        case .object(let members): return "{" + members.keys.sorted().map { "\($0): \(schema(of: members[$0]!))" }.joined(separator: ", ") + "}"
        case .array(let items): return "[" + (items.first.map(schema) ?? "") + "]"
        case .string: return "string"
        case .bool: return "bool"
        case .null: return "null"
        default: return "number"
        }
    }

    /// The first line where `new` and `old` differ.
    static func firstDifference(_ new: String, _ old: String) -> String {
        let a = new.components(separatedBy: "\n"), b = old.components(separatedBy: "\n")
        for i in 0..<max(a.count, b.count) where (i < a.count ? a[i] : nil) != (i < b.count ? b[i] : nil) {
            return "line \(i + 1) is now `\(i < a.count ? a[i] : "(end)")`, was `\(i < b.count ? b[i] : "(end)")`"
        }
        return "no line differs"
    }
}
