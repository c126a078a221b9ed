import ArgumentParser
import Foundation
import LetheCLI
import LethePipeline
import LetheShards

/// A small stage built on the harness, for Lethe's own tests. Without --input it generates token shards;
/// with --input it maps each input shard to an output shard (tokens times --scale, plus float values).
/// Started through a link whose name ends in "-single", it says it runs as one process (like train and report).
@main
struct LetheTestStage: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-test-stage",
        abstract: "Test stage: generates token shards, or maps a stage's shards (tokens * scale).")

    static let stageDescription = StageDescription.stage(
        "lethe-test-stage", format: 1, inputs: ["input", "offset-file"], executionOnly: ["delay-ms", "fail-on-unit"],
        parallel: !(CommandLine.arguments.first ?? "").hasSuffix("-single"))

    @OptionGroup var stage: StageOptions

    @OptionGroup var workers: WorkerOptions

    @Option(help: "Stage folder to map (repeat it to map several, one after the other); without it, samples are generated.")
    var input: [String] = []

    @Option(name: .customLong("offset-file"), help: "A file whose size in bytes is added to every generated token.")
    var offsetFile: String?

    @Option(help: "How many samples to generate.")
    var samples = 20

    @Option(name: .customLong("shard-size"), help: "Generated samples per output shard.")
    var shardSize = 8

    @Option(help: "Factor applied to every token when mapping.")
    var scale: Int32 = 1

    @Option(name: .customLong("delay-ms"), help: "Sleep this long per sample (lets tests kill the stage midway).")
    var delayMs = 0

    @Option(name: .customLong("fail-on-unit"), help: "Fail with an error when reaching this unit.")
    var failOnUnit: Int?

    @Flag(name: .customLong("write-summary"), help: "Write summary.json (total tokens) as an extra output file.")
    var writeSummary = false

    func run() throws {
        let run = try StageRun(description: Self.stageDescription, options: stage, workers: workers)
        let finalize: ((inout StageFiles) throws -> Void)? = writeSummary ? { files in
            var total = 0
            for record in (0..<Int.max).lazy.map({ run.folder.record(unit: $0) }).prefix(while: { $0 != nil }) {
                total += record!.extra["tokens"]?.intValue ?? 0
            }
            try files.write(JSONValue.object(["tokens": .int(total)]).bytes(pretty: true), to: "summary.json")
        } : nil
        if !input.isEmpty {
            try runMapStage(run, inputs: input, concurrency: stage.threads) { _ in MapWork(finalize: finalize) { reader, writer in
                var tokens = 0
                while var sample = try reader.next() {
                    try pause(unit: ShardName.index(ofFile: writer.url.lastPathComponent)!)
                    let ids = try sample.npy("tokens").int32s().map { $0 * scale }
                    sample.set("tokens", npy: NPYArray(int32: ids, shape: [ids.count]))
                    sample.set("values", npy: NPYArray(float32: ids.map { Float($0) / 2 }, shape: [ids.count]))
                    var meta = try sample.json()
                    meta["scaled_by"] = .int(Int(scale))
                    sample.setJSON(meta)
                    try writer.append(sample)
                    tokens += ids.count
                }
                return ["tokens": .int(tokens)]
            } }
        } else {
            let offset = try offsetFile.map { Int32(try Data(contentsOf: URL(fileURLWithPath: $0)).count) } ?? 0
            let units = (samples + shardSize - 1) / shardSize
            let range = { (unit: Int) in unit * shardSize ..< min(samples, (unit + 1) * shardSize) }
            try run.runUnits(count: units, samplesPerUnit: { range($0).count }, concurrency: stage.threads, finalize: finalize) { unit, writer in
                var tokens = 0
                for document in range(unit) {
                    try pause(unit: unit)
                    let ids = (0..<(4 + document % 5)).map { Int32((document * 31 + $0 * 7) % 50277) + offset }
                    var sample = ShardSample(key: String(format: "doc%06d", document))
                    sample.setJSON(["dataset": "test", "document": .int(document), "words": .array(ids.map { .string("w\($0)") })])
                    sample.set("tokens", npy: NPYArray(int32: ids, shape: [ids.count]))
                    try writer.append(sample)
                    tokens += ids.count
                }
                return ["tokens": .int(tokens)]
            }
        }
    }

    func pause(unit: Int) throws {
        if unit == failOnUnit { throw StageError("injected failure in unit \(unit)") }
        if delayMs > 0 { usleep(useconds_t(delayMs * 1000)) }
    }
}
