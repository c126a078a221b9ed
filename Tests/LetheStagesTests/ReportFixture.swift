import Foundation
import XCTest
import LethePipeline
import LetheShards
import LetheTestSupport

/// Tests/Fixtures/report/reconstructions.json (made by make_report_fixtures.py) laid out as a pipeline folder:
/// the upstream stages' manifests (tokenize, encode, train), two reconstruct stages with their shards, a count
/// stage, the model's config.json and the tokenizer. Every stage reads paths relative to the sandbox, as in a
/// pipeline, so nothing absolute reaches report.md.
struct ReportFixture {
    static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures/report")
    let fixture: JSONValue

    init() throws {
        fixture = try JSONValue.read(contentsOf: Self.directory.appendingPathComponent("reconstructions.json"))
    }

    /// The reconstruct stages' folders, in the order annotate reads them.
    var reconstructFolders: [String] { (fixture["inputs"]?.arrayValue ?? []).map { "stages/" + $0["stage"]!.stringValue! } }

    func build(in sandbox: Sandbox) throws {
        let tokenizer = repositoryRoot.appendingPathComponent("data/tokenizer/gpt-neox-20b-tokenizer.json")
        try FileManager.default.createDirectory(at: sandbox.path("data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: sandbox.path("data/tokenizer.json"), withDestinationURL: tokenizer)
        let config = fixture["model_config"]!.bytes(pretty: true)
        try sandbox.write("models/lethe-small/config.json", config)

        var shardsOfStage: [String: [[ShardSample]]] = [:]
        for input in fixture["inputs"]!.arrayValue! {
            shardsOfStage[input["stage"]!.stringValue!] = try input["shards"]!.arrayValue!.map { try $0.arrayValue!.map(Self.sample) }
        }
        var manifestSHA256: [String: String] = [:]
        for stage in fixture["upstream"]!.arrayValue! {
            let name = stage["name"]!.stringValue!
            var inputs: [String: [InputIdentity]] = [:]
            for (option, names) in stage["stages"]?.objectValue ?? [:] {
                inputs[option] = names.arrayValue!.map {
                    InputIdentity(path: "stages/" + $0.stringValue!, kind: .stage, sha256: manifestSHA256[$0.stringValue!]!)
                }
            }
            for (option, paths) in stage["files"]?.objectValue ?? [:] {
                inputs[option] = paths.arrayValue!.map { value in
                    let path = value.stringValue!
                    var isDirectory: ObjCBool = false
                    let folder = path.hasPrefix("stages/") || (FileManager.default.fileExists(atPath: sandbox.path(path).path, isDirectory: &isDirectory) && isDirectory.boolValue)
                    return InputIdentity(path: path, kind: folder ? .folder : .file, sha256: SHA256Hex.of(Array(path.utf8)))
                }
            }
            var files: [String: [UInt8]] = [:]
            for registered in stage["registered"]?.arrayValue ?? [] { files[registered.stringValue!] = config }
            manifestSHA256[name] = try writeStageFolder(
                at: sandbox.path("stages/" + name), name: name, executable: stage["executable"]!.stringValue!,
                parameters: (stage["parameters"]?.objectValue ?? [:]).mapValues { $0.arrayValue!.map { $0.stringValue! } },
                inputs: inputs, shards: shardsOfStage[name] ?? [], samples: stage["samples"]?.intValue, files: files)
        }

        let counts = fixture["counts"]!
        var tokenCounts = [Int64](repeating: 0, count: counts["vocab_size"]!.intValue!)
        for (id, count) in counts["tokens"]!.objectValue! { tokenCounts[Int(id)!] = Int64(count.intValue!) }
        let words = counts["words"]!.objectValue!
        let tsv = JSONValue.sortedKeys(words).map { "\($0)\t\(words[$0]!.intValue!)\n" }.joined()
        try writeStageFolder(at: sandbox.path("stages/count"), name: "count", executable: "lethe-count",
                             inputs: ["input": [InputIdentity(path: "data/corpus.jsonl", kind: .file, sha256: String(repeating: "0", count: 64))]],
                             files: ["counts.npy": NPYArray(int64: tokenCounts, shape: [tokenCounts.count]).encoded(),
                                     "words.tsv": Array(tsv.utf8)])
    }

    /// A reconstruct sample: KEY.json, the token ids, the encoder states (which annotate must not carry
    /// forward) and the reconstruction's ids.
    static func sample(_ value: JSONValue) throws -> ShardSample {
        let tokens = value["tokens"]!.arrayValue!.map { Int32($0.intValue!) }
        let recon = value["recon"]!.arrayValue!.map { Int32($0.intValue!) }
        var sample = ShardSample(key: value["key"]!.stringValue!)
        sample.setJSON(value["json"]!)
        sample.set("tokens", npy: NPYArray(int32: tokens, shape: [tokens.count]))
        sample.set("ssm", npy: NPYArray(float32: [0.5, -1, 2, 0], shape: [1, 2, 2]))
        sample.set("conv", npy: NPYArray(float32: [1, 2], shape: [1, 2, 1]))
        sample.set("recon", npy: NPYArray(int32: recon, shape: [recon.count]))
        if let surprisal = value["surprisal"]?.arrayValue {  // lethe-encode --surprisal, carried by reconstruct
            let values = surprisal.map { $0.doubleValue.map(Float.init) ?? .nan }
            sample.set("surprisal", npy: NPYArray(float32: values, shape: [values.count]))
        }
        return sample
    }
}
