import Foundation
import LetheAnalysis
import LetheCLI
import LethePipeline
import LetheReport
import LetheSamples
import LetheShards

/// The report stage (lethe-report): the annotations of the `paths` (lethe-annotate folders) streamed into the
/// analysis's tables and plots (ReportTables), the decoder's training curve when its log is found upstream, and
/// report.md and report.html around them (reportMarkdown, reportHTML), all registered as the stage's files.
/// `labels`, one per path when given, name the runs compared: paths with the same label are pooled, and with two
/// labels or more every table and plot holds each run's numbers (ReportTables.files(of:)).
public func runReportStage(_ run: StageRun, inputs paths: [String], labels: [String] = [], title: String, seed: UInt64,
                           progress progressMode: ProgressMode) throws {
    precondition(labels.isEmpty || labels.count == paths.count, "one label per input")
    try run.runWhole { files in
        let inputs = try paths.map { try StageInput.requiring($0, kind: .annotation) }
        let progress = Progress(label: run.name, total: inputs.reduce(0) { $0 + $1.manifest.totals.samples },
                                unit: "chunks", mode: progressMode)
        let labelOfPath = labels.isEmpty ? paths.map { _ in "" } : labels
        let runLabels = distinctInOrder(labelOfPath)
        var collectors = runLabels.map { AnnotationCollector(run: $0) }
        var browser = ChunkBrowser()
        for (k, (path, input)) in zip(paths, inputs).enumerated() {
            let runIndex = runLabels.firstIndex(of: labelOfPath[k])!
            for shard in 0..<input.shardCount {
                let url = input.shardURL(shard)
                // Keys are unique within a shard: the browser names a chunk by its shard (and folder, when several).
                let prefix = (paths.count == 1 ? "" : path + "/") + url.lastPathComponent.replacingOccurrences(of: ".tar.zst", with: "")
                try ShardReader.forEach(url) { sample in
                    let chunk = try collectors[runIndex].add(sample)
                    browser.add(id: prefix + "/" + sample.key, run: labelOfPath[k], chunk: chunk)
                    progress.advance()
                }
            }
        }
        progress.finish()

        let runs = zip(runLabels, collectors).map { label, collector in
            RunTables(label: label, tables: ReportTables(chunks: collector.chunks, documents: collector.documents, seed: seed))
        }
        let written = ReportTables.files(of: runs)
        for (name, contents) in written { try files.write(Array(contents.utf8), to: name) }
        // A category plot is only drawn when its table has rows: remove one left by an earlier report.
        for name in ReportTables.categoryTables.map({ "omission_\($0).svg" }) + ["omission_by_surprisal.svg"]
            where !written.contains(where: { $0.name == name }) {
            try? FileManager.default.removeItem(at: files.url(name))
        }
        var upstream = Lineage()
        for path in paths { upstream.visit(path, recordedSHA256: nil, from: nil) }
        // One decoder's training: a comparison leaves it out.
        let training = try runs.count > 1 ? nil : upstream.trainingLog().map { url, name in
            try TrainingCurve(jsonLines: String(contentsOf: url, encoding: .utf8), source: name)
        }
        let trainingFiles = training?.files() ?? []
        for (name, contents) in trainingFiles { try files.write(Array(contents.utf8), to: name) }
        if training == nil {
            for name in TrainingCurve.fileNames { try? FileManager.default.removeItem(at: files.url(name)) }
        }
        let configs = upstream.modelConfigs()
        var context = ReportContext(
            title: title, version: LetheVersion.current, inputs: paths, seed: seed, stages: upstream.stages,
            models: configs.compactMapValues(Lineage.describeConfig), datasets: collectors.flatMap { $0.datasetSummaries() },
            examples: collectors.flatMap { $0.examples() }, training: training)
        if runs.count > 1 {
            context.runs = runLabels.map { label in
                let runPaths = zip(paths, labelOfPath).filter { $0.1 == label }.map(\.0)
                var lineage = Lineage()
                for path in runPaths { lineage.visit(path, recordedSHA256: nil, from: nil) }
                return RunDescription(label: label, inputs: runPaths, encoders: lineage.models(readBy: "lethe-encode"),
                                      decoders: lineage.models(readBy: "lethe-reconstruct"))
            }
            for run in context.runs { context.paperModels[run.label] = Lineage.paperModel(of: run.encoders, configs: configs) }
        } else {
            context.paperModels[""] = Lineage.paperModel(of: upstream.models(readBy: "lethe-encode"), configs: configs)
        }
        let markdown = reportMarkdown(context, runs: runs)
        try files.write(Array(markdown.utf8), to: "report.md")
        let categoryOrder = Dictionary(uniqueKeysWithValues: ReportTables.categoryTables.map { name in
            (name, distinctInOrder(runs.flatMap { $0.tables.omission[name]!.map(\.category) }))
        })
        let page = reportHTML(title: title, markdown: markdown, files: written + trainingFiles,
                              chunks: try browser.json(categoryOrder: categoryOrder))
        try files.write(Array(page.utf8), to: "report.html")
        let chunks = collectors.flatMap(\.chunks)
        return ["chunks": .int(chunks.count), "reference_words": .int(chunks.reduce(0) { $0 + $1.words.count })]
    }
}

/// Reads one run's annotated samples one at a time and keeps what the statistics need: each chunk's per-word
/// records and token fates, without its texts (bar the reference's first word); plus the first chunk of each
/// (dataset, length) for the examples.
struct AnnotationCollector {
    /// The run's label (empty for a report of one run).
    let run: String
    private(set) var chunks: [ChunkAnnotation] = []
    /// The document of each chunk (ChunkMetadata.document), for the paired comparisons.
    private(set) var documents: [String?] = []
    private var firstChunks: [String: [Int: ReconstructionExample]] = [:]
    private var cutAtLengthLimit: [String: Int] = [:]

    init(run: String) { self.run = run }

    /// Returns the sample's whole annotation (its texts included), for report.html.
    mutating func add(_ sample: ShardSample) throws -> ChunkAnnotation {
        let annotated = try ChunkSample(sample, as: .annotation)
        var chunk = try ChunkAnnotation(jsonData: Data(annotated.words!), source: "\(annotated.origin): words.json")
        let whole = chunk
        if firstChunks[chunk.dataset]?[chunk.length] == nil {
            firstChunks[chunk.dataset, default: [:]][chunk.length] = ReconstructionExample(
                run: run, key: sample.key, dataset: chunk.dataset, length: chunk.length, reference: chunk.reference,
                reconstruction: chunk.reconstruction, rouge1F1: chunk.rouge1.f1)
        }
        if annotated.metadata.stop == "length" { cutAtLengthLimit[chunk.dataset, default: 0] += 1 }
        // Of the reference the tables need only whether ROUGE-1 can score it: its first word stands for it.
        chunk.reference = Rouge.tokens(chunk.reference).first ?? ""
        chunk.reconstruction = ""
        for i in chunk.words.indices { chunk.words[i].word = "" }
        chunks.append(chunk)
        documents.append(annotated.metadata.document)
        return whole
    }

    func datasetSummaries() -> [DatasetSummary] {
        Dictionary(grouping: chunks, by: \.dataset).keys.sorted().map { name in
            let group = chunks.filter { $0.dataset == name }
            return DatasetSummary(run: run, name: name, chunks: group.count, words: group.reduce(0) { $0 + $1.words.count },
                                  lengths: Array(Set(group.map(\.length))).sorted(), cutAtLengthLimit: cutAtLengthLimit[name] ?? 0)
        }
    }

    /// Per dataset, the first chunk of its shortest and of its longest length.
    func examples() -> [ReconstructionExample] {
        firstChunks.keys.sorted().flatMap { dataset -> [ReconstructionExample] in
            let byLength = firstChunks[dataset]!
            let lengths = byLength.keys.sorted()
            return (lengths.count > 1 ? [lengths.first!, lengths.last!] : lengths).map { byLength[$0]! }
        }
    }
}

/// What the report needs from the stages behind the annotations (a `Lineage`).
extension Lineage {
    /// The decoder's training log: train_log.jsonl of the lethe-train stage behind the reconstructions, else the
    /// one shipped beside the decoder folder lethe-reconstruct read (a decoder trained by Lethe elsewhere).
    /// Returns the file and its name as recorded.
    func trainingLog() -> (URL, String)? {
        let logName = "train_log.jsonl"
        for stage in stages where stage.executable == "lethe-train" {
            if let url = stage.folder?.appendingPathComponent(logName), FileManager.default.fileExists(atPath: url.path) {
                return (url, stage.path + "/" + logName)
            }
        }
        for stage in stages where stage.executable == "lethe-reconstruct" {
            for path in stage.inputs["model"] ?? [] {
                if let url = locate(path + "/" + logName, recordedBy: stage) { return (url, path + "/" + logName) }
            }
        }
        return nil
    }

    /// The config.json of each model folder given to lethe-encode, lethe-reconstruct and lethe-train (a trained
    /// decoder's in final/), by the path as recorded.
    func modelConfigs() -> [String: JSONValue] {
        var configs: [String: JSONValue] = [:]
        for stage in stages where ["lethe-encode", "lethe-reconstruct", "lethe-train"].contains(stage.executable) {
            for path in (stage.inputs["model"] ?? []) + (stage.inputs["init"] ?? []) {
                guard let folder = locate(path, recordedBy: stage) else { continue }
                for config in ["config.json", "final/config.json"] {
                    if let value = try? JSONValue.read(contentsOf: folder.appendingPathComponent(config)) {
                        configs[path] = value
                        break
                    }
                }
            }
        }
        return configs
    }

    /// The model folders the stages of `executable` read (--model), as recorded.
    func models(readBy executable: String) -> [String] {
        distinctInOrder(stages.filter { $0.executable == executable }.flatMap { $0.inputs["model"] ?? [] })
    }

    /// The paper's model whose architecture the encoders share (PaperFigures), if they share one.
    static func paperModel(of encoders: [String], configs: [String: JSONValue]) -> String? {
        let models = Set(encoders.map { path -> String? in
            // The paper measured Mamba-1: another architecture of the same sizes (mamba2-130m is 24 × 768) is not it.
            guard let config = configs[path], architectureName(config) == "Mamba" else { return nil }
            let (layers, width) = architecture(config)
            guard let layers, let width else { return nil }
            return PaperFigures.published.model(layers: layers, dModel: width)
        })
        guard models.count == 1, let model = models.first else { return nil }
        return model
    }

    /// Layer count and width of a Hugging Face config.json or an original state-spaces one.
    static func architecture(_ config: JSONValue) -> (layers: Int?, width: Int?) {
        (config["num_hidden_layers"]?.intValue ?? config["n_layer"]?.intValue,
         config["hidden_size"]?.intValue ?? config["d_model"]?.intValue)
    }

    /// "Mamba, 24 layers, d_model 768, d_state 16, vocabulary 50,280" from a Hugging Face MambaConfig or an
    /// original state-spaces config.json.
    static func describeConfig(_ config: JSONValue) -> String? {
        let (layers, width) = architecture(config)
        let state = config["state_size"]?.intValue ?? config["ssm_cfg"]?["d_state"]?.intValue
        let vocabulary = config["vocab_size"]?.intValue
        let parts = [layers.map { "\($0) layers" }, width.map { "d_model \($0)" }, state.map { "d_state \($0)" },
                     vocabulary.map { "vocabulary \($0)" }].compactMap { $0 }
        guard !parts.isEmpty else { return nil }
        return ([architectureName(config)] + parts).joined(separator: ", ")
    }

    /// "Mamba", "Falcon-Mamba" or "Mamba-2" from config.json's model_type (an original state-spaces config has
    /// none: Mamba-1, or its ssm_cfg.layer); another model_type as written.
    static func architectureName(_ config: JSONValue) -> String {
        let names = ["mamba": "Mamba", "falcon_mamba": "Falcon-Mamba", "mamba2": "Mamba-2"]
        guard let type = config["model_type"]?.stringValue else {
            return config["ssm_cfg"]?["layer"]?.stringValue == "Mamba2" ? "Mamba-2" : "Mamba"
        }
        return names[type] ?? type
    }
}
