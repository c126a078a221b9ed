// report.md: what was run, the data, and every table of `ReportTables` with a one-line reading computed
// from its numbers, linking the CSV files and plots. Plain values in, Markdown out; the same values give the
// same bytes (no clock, no absolute paths unless the caller passes them).

import Foundation
import LetheAnalysis
import LethePipeline

/// The annotated chunks of one dataset (of one run, when the report compares several).
public struct DatasetSummary: Equatable, Sendable {
    public var run = ""
    public var name: String
    public var chunks: Int
    public var words: Int
    /// The distinct chunk lengths in tokens, ascending.
    public var lengths: [Int]
    /// Reconstructions that stopped at the length limit instead of at an end-of-text token.
    public var cutAtLengthLimit: Int

    public init(run: String = "", name: String, chunks: Int, words: Int, lengths: [Int], cutAtLengthLimit: Int) {
        self.run = run; self.name = name; self.chunks = chunks; self.words = words; self.lengths = lengths
        self.cutAtLengthLimit = cutAtLengthLimit
    }
}

/// A chunk shown in full in the report.
public struct ReconstructionExample: Equatable, Sendable {
    public var run = ""
    public var key: String
    public var dataset: String
    public var length: Int
    public var reference: String
    public var reconstruction: String
    public var rouge1F1: Double

    public init(run: String = "", key: String, dataset: String, length: Int, reference: String, reconstruction: String, rouge1F1: Double) {
        self.run = run; self.key = key; self.dataset = dataset; self.length = length; self.reference = reference
        self.reconstruction = reconstruction; self.rouge1F1 = rouge1F1
    }
}

/// One run of a report that compares several: its label, the annotate folders it pools, and the models its
/// encode and reconstruct stages read (as recorded; described through ReportContext.models).
public struct RunDescription: Equatable, Sendable {
    public var label: String
    public var inputs: [String]
    public var encoders: [String]
    public var decoders: [String]
    public init(label: String, inputs: [String], encoders: [String], decoders: [String]) {
        self.label = label; self.inputs = inputs; self.encoders = encoders; self.decoders = decoders
    }
}

/// Everything report.md says besides the tables.
public struct ReportContext: Equatable, Sendable {
    public var title: String
    /// The Lethe release that wrote the report.
    public var version: String
    /// The annotation folders the report reads.
    public var inputs: [String]
    public var seed: UInt64
    /// The stages that led to the annotations, each after those it read (the annotate stages last).
    public var stages: [RunStage]
    /// Model folder (as recorded) → a description of its config ("Mamba, 24 layers, d_model 768, ...").
    public var models: [String: String]
    public var datasets: [DatasetSummary]
    public var examples: [ReconstructionExample]
    /// The decoder's training log (its train stage's, or the one shipped beside a trained decoder), if found.
    public var training: TrainingCurve?
    /// The runs compared, when there are several (empty for one).
    public var runs: [RunDescription] = []
    /// By run label ("" for a report of one run), the paper's model whose architecture the run's encoder has
    /// (PaperFigures), when it has one: its published figures are set beside the run's.
    public var paperModels: [String: String] = [:]

    public init(title: String, version: String, inputs: [String], seed: UInt64, stages: [RunStage] = [],
                models: [String: String] = [:], datasets: [DatasetSummary] = [], examples: [ReconstructionExample] = [],
                training: TrainingCurve? = nil) {
        self.title = title; self.version = version; self.inputs = inputs; self.seed = seed; self.stages = stages
        self.models = models; self.datasets = datasets; self.examples = examples; self.training = training
    }
}

/// The Markdown of report.md, for one run's tables or several runs' compared (each table then has a run column
/// and each reading a line per run).
public func reportMarkdown(_ context: ReportContext, runs: [RunTables]) -> String {
    var md = MarkdownReport(context: context, runs: runs)
    return md.render()
}

struct MarkdownReport {
    let context: ReportContext
    let runs: [RunTables]
    var out = ""

    var compared: Bool { runs.count > 1 }

    static let categoryTitles = [
        "pos": ("part of speech", "gold CoNLL-2003 tags in the reference's 14 classes; X and INTJ left out as the reference does"),
        "ner": ("named-entity type", "gold CoNLL-2003 tags, B- and I- merged; O = not an entity"),
        "class": ("word class", "rule-based, for any text: url, number, math, variable, code, punctuation, capitalized, word"),
        "dataset": ("dataset", "the chunk's dataset or sequence type"),
    ]

    mutating func line(_ text: String = "") { out += text + "\n" }

    /// A reading computed from each run's tables: the line itself for one run, a list item per run for several.
    mutating func readings(_ reading: (ReportTables) -> String) {
        for run in runs { line(compared ? "- **\(run.label):** " + reading(run.tables) : reading(run.tables)) }
        line()
    }

    /// A table's header and delimiter row, with a first column `run` when runs are compared.
    mutating func tableHeader(_ columns: String, _ alignment: String) {
        line((compared ? "| run " : "") + columns)
        line((compared ? "| --- " : "") + alignment)
    }

    /// A row's run cell (nothing for one run).
    func runCell(_ label: String) -> String { compared ? "| \(cell(label)) " : "" }

    mutating func render() -> String {
        let words = context.datasets.reduce(0) { $0 + $1.words }, chunks = context.datasets.reduce(0) { $0 + $1.chunks }
        line("# \(context.title)")
        line()
        // Comparing runs, each run's own counts: runs on the same chunks would otherwise count them once per run.
        let counts = compared
            ? "\(runs.count) runs compared (" + runs.map { run in
                let datasets = context.datasets.filter { $0.run == run.label }
                return "\(run.label): \(counted(datasets.reduce(0) { $0 + $1.chunks }, "chunk")) and "
                    + counted(datasets.reduce(0) { $0 + $1.words }, "reference word")
            }.joined(separator: "; ") + ")"
            : "\(counted(chunks, "chunk")) and \(counted(words, "reference word"))"
        line("Made by lethe-report \(context.version) from the annotations in \(context.inputs.map(code).joined(separator: ", ")): "
             + "\(counts). A reference word is *omitted* when the "
             + "reconstruction does not contain it (its k-th occurrence needs k occurrences among the reconstruction's words, "
             + "split as nltk.word_tokenize splits them). Intervals are 95%: Wilson for rates, a percentile bootstrap "
             + "(1,000 resamples, seed \(context.seed)) for mean ROUGE. Every table is also a CSV file beside this report.")
        line()
        renderRun()
        renderData()
        renderPaper()
        renderTraining()
        renderRouge()
        for name in ReportTables.categoryTables { renderCategory(name) }
        renderPaired()
        renderPosition()
        renderFrequency()
        renderSurprisal()
        renderExamples()
        return out
    }

    // MARK: - What was run

    mutating func renderRun() {
        line("## What was run")
        line()
        let stages = context.stages
        func run(by executable: String) -> [RunStage] { stages.filter { $0.executable == executable } }
        let encoders = run(by: "lethe-encode").flatMap { $0.inputs["model"] ?? [] }
        let decoders = run(by: "lethe-reconstruct").flatMap { $0.inputs["model"] ?? [] }
        line("- **Encoder (frozen):** " + describeModels(encoders, missing: "not recorded (no lethe-encode stage found upstream)"))
        line("- **Decoder:** " + describeModels(decoders, missing: "not recorded (no lethe-reconstruct stage found upstream)"))
        func describeData(_ stages: [RunStage]) -> String {
            stages.map { stage in
                let settings = ["dataset", "chunking", "chunk-size", "min-length", "max-length"].compactMap { key in
                    stage.parameters[key].map { "\(key) \($0.joined(separator: ", "))" }
                }
                return (stage.inputs["input"] ?? []).map(code).joined(separator: ", ") + " → \(counted(stage.samples, "chunk"))"
                    + (settings.isEmpty ? "" : " (" + settings.joined(separator: ", ") + ")")
            }.joined(separator: "; ")
        }
        let tokenizeStages = run(by: "lethe-tokenize")
        let evaluated = tokenizeStages.filter(\.isEvaluated), training = tokenizeStages.filter { !$0.isEvaluated }
        line("- **Data:** " + (evaluated.isEmpty ? "not recorded (no lethe-tokenize stage found upstream)" : describeData(evaluated)))
        if !training.isEmpty { line("- **Decoder training data:** " + describeData(training)) }
        let counts = distinctInOrder(run(by: "lethe-annotate").flatMap { $0.inputs["counts"] ?? [] })
        line("- **Pretraining counts:** " + (counts.isEmpty ? "none (the frequency table is empty)" : counts.map { path in
            guard let stage = stages.first(where: { $0.path == path && !$0.executable.isEmpty }) else { return code(path) }
            let corpus = (stage.inputs["input"] ?? []).map(code).joined(separator: ", ")
            return code(path) + " (" + stage.files.joined(separator: ", ") + (corpus.isEmpty ? "" : "; counted in \(corpus)") + ")"
        }.joined(separator: "; ")))
        line()
        if compared {
            line("Runs compared (`--label`), each pooling its annotation folders; every table below has a run column and every plot each run's series:")
            line()
            line("| run | annotations | encoder | decoder |")
            line("| --- | --- | --- | --- |")
            for run in context.runs {
                line("| \(cell(run.label)) | \(cell(run.inputs.map(code).joined(separator: ", "))) | "
                     + "\(cell(describeModels(run.encoders, missing: "not recorded"))) | \(cell(describeModels(run.decoders, missing: "not recorded"))) |")
            }
            line()
        }
        guard !stages.isEmpty else { return }
        line("Stages, each after the ones it read (from their manifest.json files):")
        line()
        line("| stage | executable | parameters | inputs | samples |")
        line("| --- | --- | --- | --- | ---: |")
        for stage in stages {
            let parameters = stage.parameters.keys.sorted().map { key in
                (["--" + key] + stage.parameters[key]!.map(argumentText)).joined(separator: " ")
            }.joined(separator: " ")
            let inputs = stage.inputs.keys.sorted().map { key in
                "--\(key) " + stage.inputs[key]!.joined(separator: " ")
            }.joined(separator: " ")
            let name = stage.problem.map { "\(stage.name) (\($0))" } ?? stage.name
            line("| \(cell(name)) | \(cell(stage.executable)) | \(cell(parameters)) | \(cell(inputs)) | \(grouped(stage.samples)) |")
        }
        line()
    }

    func describeModels(_ paths: [String], missing: String) -> String {
        guard !paths.isEmpty else { return missing }
        let unique = distinctInOrder(paths)
        return unique.map { path in code(path) + (context.models[path].map { ", \($0)" } ?? "") }.joined(separator: "; ")
    }

    // MARK: - Data

    mutating func renderData() {
        line("## Data")
        line()
        guard !context.datasets.isEmpty else { line("No annotated chunks."); line(); return }
        tableHeader("| dataset | chunks | chunk lengths (tokens) | reference words | cut at the length limit |", "| --- | ---: | --- | ---: | ---: |")
        for d in context.datasets {
            line(runCell(d.run) + "| \(cell(d.name)) | \(grouped(d.chunks)) | \(lengthList(d.lengths)) | \(grouped(d.words)) | \(grouped(d.cutAtLengthLimit)) |")
        }
        line()
    }

    // MARK: - Beside the paper

    /// The paper's published figures beside the run's, for each run whose encoder has the architecture of one of
    /// the paper's models: ROUGE-1 F1 by length (the paper's figure over all its chunks, and each dataset both
    /// have), omission by POS and by NER class.
    mutating func renderPaper() {
        let figures = PaperFigures.published
        let matched = runs.compactMap { run in context.paperModels[run.label].map { (run: run, model: $0) } }
        guard !matched.isEmpty else { return }
        let models = distinctInOrder(matched.map(\.model))
        func runName(_ run: RunTables) -> String { compared ? run.label : "this run" }
        line("## Beside the paper")
        line()
        let architectures = models.map { model in
            let a = figures.models[model]!
            return "\(model) (\(a.layers) layers, d_model \(a.dModel))"
        }.joined(separator: ", ")
        line((compared ? "Runs whose encoder has the architecture of one of the paper's four models: "
                + matched.map { "\($0.run.label) (\($0.model))" }.joined(separator: ", ") + ". Architectures: \(architectures)."
              : "The encoder has the architecture of \(architectures), one of the paper's four models.")
             + " Its published figures beside this report's, in percent; a blank is a figure the paper or the run does not have.")
        line()
        let lengths = ChunkLengthBucket.paperLengths
        line("| dataset | figures | " + lengths.map { "\($0)" }.joined(separator: " | ") + " |")
        line("| --- | --- |" + String(repeating: " ---: |", count: lengths.count))
        func row(_ dataset: String, _ who: String, _ values: [Double?]) {
            line("| \(cell(dataset)) | \(cell(who)) | " + values.map { $0.map(percent) ?? "" }.joined(separator: " | ") + " |")
        }
        for model in models {
            if let all = figures.rouge1F1["all"]?[model] { row("all (the paper's chunks)", "paper, \(model)", lengths.map { all["\($0)"] }) }
        }
        for (run, _) in matched {
            let pooled = pooledF1(run.tables.rouge)
            row("all (this report's chunks)", runName(run), lengths.map { l in pooled.first { $0.length == l }?.f1 })
        }
        let datasets = distinctInOrder(runs.flatMap { $0.tables.rouge.map(\.dataset) }).sorted().filter { $0 != "all" && figures.rouge1F1[$0] != nil }
        for dataset in datasets {
            let published = models.compactMap { model in figures.rouge1F1[dataset]![model].map { (model, $0) } }
            guard !published.isEmpty else { continue }
            for (model, byLength) in published { row(dataset, "paper, \(model)", lengths.map { byLength["\($0)"] }) }
            for (run, _) in matched {
                row(dataset, runName(run), lengths.map { l in run.tables.rouge.first { $0.dataset == dataset && $0.length == l }?.f1 })
            }
        }
        line()
        line("ROUGE-1 F1 by chunk length; the run's by length bucket as in rouge.csv, \"all\" over every scored chunk of the "
             + "bucket, whatever its dataset (the paper's chunks and this report's need not be the same datasets). Datasets "
             + "are matched by name: the Pile subsets (`meta.pile_set_name`), aave and sae.")
        line()
        for (table, what, published) in [("pos", "part of speech", figures.omissionPOS), ("ner", "named-entity type", figures.omissionNER)] {
            let paperModels = models.filter { published[$0] != nil }
            guard !paperModels.isEmpty else { continue }
            let categories = distinctInOrder(matched.flatMap { $0.run.tables.omission[table]!.map(\.category) }
                                             + paperModels.flatMap { published[$0]!.keys.sorted() })
            line("| \(what) | " + (paperModels.map { "paper, \($0)" } + matched.map { runName($0.run) }).map(cell).joined(separator: " | ") + " |")
            line("| --- |" + String(repeating: " ---: |", count: paperModels.count + matched.count))
            for category in categories {
                let values = paperModels.map { published[$0]![category] }
                    + matched.map { m in m.run.tables.omission[table]!.first { $0.category == category }?.rate }
                line("| \(cell(category)) | " + values.map { $0.map(percent) ?? "" }.joined(separator: " | ") + " |")
            }
            line()
        }
        line("Omission rate by gold CoNLL-2003 class; the run's over all its CoNLL chunks (X and INTJ left out, as in its "
             + "tables), the paper's at a chunk length its plot scripts do not state.")
        line()
        line("Source: \(figures.source)")
        line()
    }

    // MARK: - ROUGE

    mutating func renderRouge() {
        line("## ROUGE-1 by chunk length")
        line()
        readings { rougeReading($0.rouge) }
        guard runs.contains(where: { !$0.tables.rouge.isEmpty }) else { return }
        line("![ROUGE-1 F1 by chunk length](rouge_f1_by_length.svg)")
        line()
        if compared {
            line("The plot draws each run over all its datasets (the mean over every scored chunk of the length); the table has each dataset.")
            line()
        }
        tableHeader("| dataset | length | chunk lengths | chunks | precision | recall | F1 | F1 95% interval |",
                    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for run in runs { for r in run.tables.rouge {
            line(runCell(run.label) + "| \(cell(r.dataset)) | \(r.length) | \(chunkLengths(r)) | \(grouped(r.n)) | \(fixed(r.precision, 3)) | \(fixed(r.recall, 3)) | \(fixed(r.f1, 3)) | \(fixed(r.f1Low, 3))–\(fixed(r.f1High, 3)) |")
        } }
        line()
        line(ChunkLengthBucket.rule)
        line()
        line("[rouge.csv](rouge.csv): ROUGE-1 as the rouge-score package computes it (lowercase, non-alphanumerics as spaces, no stemming), averaged over chunks.")
        line()
        let unscored = runs.flatMap { run in
            run.tables.rougeUnscored.sorted { $0.key < $1.key }.map { (compared ? run.label + " " : "") + "\($0.key) \(grouped($0.value))" }
        }
        if !unscored.isEmpty {
            line("Left out of these averages (the `unscored` column of rouge.csv): chunks whose reference has no word ROUGE-1 can score, only spaces, punctuation or symbols, to which rouge-score gives F1 0 whatever the reconstruction, an exact copy included: " + unscored.joined(separator: ", ") + ".")
            line()
        }
    }

    // MARK: - Category tables

    mutating func renderCategory(_ name: String) {
        let (what, source) = Self.categoryTitles[name]!
        line("## Omission by \(what)")
        line()
        guard runs.contains(where: { !$0.tables.omission[name]!.isEmpty }) else {
            line(name == "pos" || name == "ner"
                 ? "No words with gold \(name == "pos" ? "part-of-speech" : "named-entity") labels (only CoNLL-2003 chunks carry them)."
                 : "No words.")
            line()
            return
        }
        readings { omissionReading($0.omission[name]!, unit: "words") + " " + significanceReading($0.significance[name]!) }
        line("![Omission rate by \(what)](omission_\(name).svg)")
        line()
        tableHeader("| \(what) | words | omitted | rate | 95% interval |", "| --- | ---: | ---: | ---: | --- |")
        for run in runs { for r in run.tables.omission[name]! {
            line(runCell(run.label) + "| \(cell(r.category)) | " + omissionCells(r))
        } }
        line()
        line("Categories: \(source). [omission_\(name).csv](omission_\(name).csv); every pair with a two-sample t-test "
             + "(equal variances) and its Bonferroni-adjusted p in [significance_\(name).csv](significance_\(name).csv).")
        line()
    }

    // MARK: - Paired datasets

    /// Only when two datasets hold the same documents (AAVE and SAE): their chunks compared pair by pair.
    mutating func renderPaired() {
        guard runs.contains(where: { !$0.tables.paired.isEmpty }) else { return }
        line("## Paired datasets")
        line()
        line("Datasets whose chunks are the same documents in two versions (such as each dialect sentence of AAVE and SAE), compared "
             + "chunk by chunk: the mean difference (dataset 1 minus dataset 2) with a bootstrap interval, Cohen's d for "
             + "paired samples, the paired t-test and Wilcoxon's signed-rank test (normal approximation, zero differences "
             + "left out).")
        line()
        tableHeader("| datasets | measure | pairs | means | difference | 95% interval | d_z | paired t (p) | Wilcoxon W (p) |",
                    "| --- | --- | ---: | --- | ---: | --- | ---: | --- | --- |")
        for run in runs { for r in run.tables.paired {
            let digits = 3
            line(runCell(run.label) + "| \(cell(r.dataset1)) − \(cell(r.dataset2)) | \(r.measure == "f1" ? "ROUGE-1 F1" : "omission rate") | \(grouped(r.pairs)) | "
                 + "\(fixed(r.mean1, digits)), \(fixed(r.mean2, digits)) | \(fixed(r.difference, digits)) | "
                 + "\(fixed(r.differenceLow, digits))–\(fixed(r.differenceHigh, digits)) | \(fixed(r.effectSize, 2)) | "
                 + "\(fixed(r.t.statistic, 2)) (\(pValue(r.t.pValue))) | \(fixed(r.wilcoxon.statistic, 1)) (\(pValue(r.wilcoxon.pValue))) |")
        } }
        line()
        line("A dataset takes part when each chunk names its document (source file and index) and no two name the same; two "
             + "are paired on the documents they share. F1 pairs leave out references ROUGE-1 cannot score, omission pairs "
             + "chunks without reference words. [paired.csv](paired.csv).")
        line()
    }

    // MARK: - Position

    mutating func renderPosition() {
        line("## Omission by position in the chunk")
        line()
        readings { positionReading($0.position) }
        let position = runs.flatMap(\.tables.position)
        guard !position.isEmpty else { return }
        line("![Omission rate by position in the chunk](omission_by_position.svg)")
        line()
        // A column per dataset ("all" first); comparing runs, a column per run (its "all").
        let columns: [(header: String, rows: [PositionRow])] = compared
            ? runs.map { run in (run.label, run.tables.position.filter { $0.dataset == "all" }) }
            : distinctInOrder(position.map(\.dataset)).map { d in (d, position.filter { $0.dataset == d }) }
        let bins = Array(Set(position.map(\.bin))).sorted()
        line("| position | " + columns.map { cell($0.header) }.joined(separator: " | ") + " |")
        line("| --- |" + String(repeating: " ---: |", count: columns.count))
        for bin in bins {
            let cells = columns.map { column -> String in
                guard let row = column.rows.first(where: { $0.bin == bin }) else { return "" }
                return "\(percent(row.omission.rate)) (\(grouped(row.omission.n)))"
            }
            let any = position.first { $0.bin == bin }!
            line("| \(percentRange(any.from, any.to)) | " + cells.joined(separator: " | ") + " |")
        }
        line()
        line("Omission rate (words) by the word's place among the chunk's reference words, in tenths" + (compared ? ", over all datasets" : "")
             + "; [omission_position.csv](omission_position.csv) has the counts and intervals" + (compared ? " of every dataset." : "."))
        line()
    }

    // MARK: - Frequency

    static let frequencyLevels = [("token", "Tokens", "tokens"), ("word", "Words by their rarest token", "words"),
                                  ("word_count", "Words by their own count", "words")]

    mutating func renderFrequency() {
        line("## Omission by pretraining frequency")
        line()
        guard runs.contains(where: { !$0.tables.frequency.isEmpty }) else {
            line("No pretraining counts were given: run lethe-annotate with --counts (the output of lethe-count) to fill this table.")
            line()
            return
        }
        for run in runs {
            for (level, label, noun) in Self.frequencyLevels {
                let rows = run.tables.frequency.filter { $0.level == level }
                if !rows.isEmpty { line("- " + frequencyReading(rows, label: compared ? "\(run.label), \(label.lowercased())" : label, noun: noun)) }
            }
        }
        line()
        line("![Omission rate by pretraining frequency](omission_by_frequency.svg)")
        line()
        tableHeader("| level | pretraining count | n | omitted | rate | 95% interval |", "| --- | --- | ---: | ---: | ---: | --- |")
        for run in runs { for r in run.tables.frequency {
            line(runCell(run.label) + "| \(r.level) | \(countRange(r)) | " + omissionCells(r.omission))
        } }
        line()
        line("A token is omitted when the edit-distance alignment of token ids does not keep it; a word by the rule above. "
             + "[frequency.csv](frequency.csv) adds Spearman's rho between count and omission with its p-value.")
        line()
    }

    // MARK: - Surprisal

    /// Omission against the encoder's own surprisal of the reference (lethe-encode --surprisal), beside frequency.
    mutating func renderSurprisal() {
        line("## Omission by the encoder's surprisal")
        line()
        guard runs.contains(where: { !$0.tables.surprisal.isEmpty }) else {
            line("No surprisal was stored: run lethe-encode with --surprisal to relate omission to how unexpected each token was to the encoder.")
            line()
            return
        }
        for run in runs { for (level, levelLabel) in [("token", "Tokens"), ("word", "Words (the sum over their tokens)")] {
            let label = compared ? "\(run.label), \(levelLabel.lowercased())" : levelLabel
            // The ends are the lowest and highest bins of at least 20 items, when there are two such: a bin of a
            // few items says little.
            let all = run.tables.surprisal.filter { $0.level == level }.sorted { $0.bin < $1.bin }
            let large = all.filter { $0.omission.n >= 20 }
            let rows = large.count >= 2 ? large : all
            guard let first = rows.first, let last = rows.last else { continue }
            var text = "- \(label): \(percent(first.omission.rate)) omitted at \(nats(first)) and \(percent(last.omission.rate)) at \(nats(last)); "
                + "Spearman's rho = \(fixed(first.rho, 3)) (p = \(pValue(first.p)))"
            if first.p < 0.05 {
                text += first.rho > 0 ? ": what the encoder found less expected is omitted more often." : ": what the encoder found less expected is omitted less often."
            } else {
                text += first.rho.isNaN ? "." : ": no significant monotone relation."
            }
            line(text)
        } }
        line()
        line("![Omission rate by the encoder's surprisal](omission_by_surprisal.svg)")
        line()
        tableHeader("| level | surprisal (nats) | n | omitted | rate | 95% interval |", "| --- | --- | ---: | ---: | ---: | --- |")
        for run in runs { for r in run.tables.surprisal {
            line(runCell(run.label) + "| \(r.level) | \(nats(r)) | " + omissionCells(r.omission))
        } }
        line()
        line("A token's surprisal is −log p(token | the tokens before it in the chunk) under the frozen encoder, in nats, the "
             + "encoder starting each chunk from the empty state: early tokens have little context, so surprisal also tracks "
             + "position. The chunk's first token has none, so its first word is left out of the word level; a word's "
             + "surprisal is the sum over its tokens, so it grows with their number. An association, not a cause. "
             + "[surprisal.csv](surprisal.csv) adds Spearman's rho with its p-value.")
        line()
    }

    private func nats(_ row: SurprisalRow) -> String { "\(fixed(row.from, 0))–\(fixed(row.to, 0))" }

    // MARK: - The decoder's training

    /// The training curve: plots, and the validation lines as a table (beside the training_curve.csv).
    mutating func renderTraining() {
        guard let curve = context.training else { return }
        line("## The decoder's training")
        line()
        let lengths = curve.validationLengths
        var text = "From \(code(curve.source)): \(counted(curve.losses.count, "step"))"
        if let last = curve.validations.last, let best = curve.validations.min(by: { $0.loss < $1.loss }) {
            text += ", validated \(counted(curve.validations.count, "time")) on a fixed held-out sample of \(counted(last.chunks, "chunk")). "
                + "The lowest validation loss, \(fixed(best.loss, 3)), came at step \(grouped(best.step))"
                + (best.f1ByLength.isEmpty ? "." : ", with greedy ROUGE-1 F1 " + lengths.compactMap { l in
                    best.f1ByLength[l].map { "\(fixed($0, 3)) at \(l)" } }.joined(separator: ", ") + " tokens.")
        } else {
            text += "; no validation lines."
        }
        line(text)
        line()
        line("![Decoder training loss](training_loss.svg)")
        line()
        guard !curve.validations.isEmpty else { return }
        if !lengths.isEmpty {
            line("![Validation ROUGE-1 F1 by chunk length](training_f1.svg)")
            line()
        }
        line("| step | validation loss |" + lengths.map { " F1 @\($0) |" }.joined())
        line("| ---: | ---: |" + String(repeating: " ---: |", count: lengths.count))
        for v in curve.validations {
            line("| \(grouped(v.step)) | \(fixed(v.loss, 3)) |" + lengths.map { " \(v.f1ByLength[$0].map { fixed($0, 3) } ?? "") |" }.joined())
        }
        line()
        line("[training_curve.csv](training_curve.csv): each validation with the training loss averaged since the one before.")
        line()
    }

    // MARK: - Examples

    mutating func renderExamples() {
        guard !context.examples.isEmpty else { return }
        line("## Examples")
        line()
        line("The first chunk of the shortest and of the longest length of each dataset.")
        line()
        for e in context.examples {
            line("**\(compared ? e.run + ": " : "")\(e.dataset), \(e.length) tokens** (`\(e.key)`, ROUGE-1 F1 \(fixed(e.rouge1F1, 2)))")
            line()
            line("Reference:")
            line()
            block(e.reference)
            line("Reconstruction:")
            line()
            block(e.reconstruction)
        }
    }

    /// A fenced block longer than any run of backticks in the text.
    mutating func block(_ text: String) {
        var longest = 0, run = 0
        for c in text { if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        line(fence + "text")
        line(text)
        line(fence)
        line()
    }
}

// MARK: - Readings

/// A dataset's chunk lengths: listed when there are a few ("4, 8, 16"), else their range ("5–64, 41 lengths").
func lengthList(_ lengths: [Int]) -> String {
    guard let first = lengths.first, let last = lengths.last else { return "" }
    return lengths.count <= 8 ? lengths.map(String.init).joined(separator: ", ") : "\(first)–\(last), \(lengths.count) lengths"
}

/// A ROUGE row's chunk lengths as measured: one length, or the range its bucket holds ("5–8"); the bucket's
/// length for a row without them.
func chunkLengths(_ r: RougeRow) -> String {
    r.minLength == 0 ? "\(r.length)" : r.minLength == r.maxLength ? "\(r.minLength)" : "\(r.minLength)–\(r.maxLength)"
}

/// How F1 changes from the shortest to the longest chunks of each dataset, by length bucket (named by the chunk
/// lengths it holds: "5–8 tokens"). The ends are the shortest and longest buckets with at least `minimum` chunks,
/// when there are two such: a bucket of a chunk or two says little.
func rougeReading(_ rows: [RougeRow], minimum: Int = 5) -> String {
    guard !rows.isEmpty else { return "No chunks." }
    func tokens(_ r: RougeRow) -> String { chunkLengths(r) == "1" ? "1 token" : chunkLengths(r) + " tokens" }
    let datasets = distinctInOrder(rows.map(\.dataset))
    let clauses = datasets.map { d -> String in
        let all = rows.filter { $0.dataset == d }.sorted { $0.length < $1.length }
        let large = all.filter { $0.n >= minimum }
        let rs = large.count >= 2 ? large : all
        let note = rs.count < all.count ? " (lengths with at least \(minimum) chunks)" : ""
        let first = rs.first!, last = rs.last!
        if rs.count == 1 { return "is \(fixed(first.f1, 2)) at \(tokens(first))" }
        let a = fixed(first.f1, 2), b = fixed(last.f1, 2)
        if a == b { return "stays at \(a) from \(chunkLengths(first)) to \(tokens(last))" + note }
        return "\(last.f1 < first.f1 ? "falls" : "rises") from \(a) at \(tokens(first)) to \(b) at \(chunkLengths(last))" + note
    }
    if datasets.count == 1 { return "ROUGE-1 F1 \(clauses[0]) (\(datasets[0]))." }
    return "ROUGE-1 F1 by dataset: " + zip(datasets, clauses).map { "\($0) \($1)" }.joined(separator: "; ") + "."
}

/// Which category is omitted most and least, among those with at least `minimum` items when there are two
/// such (a category of three words at 100% says little).
func omissionReading(_ rows: [OmissionRow], unit: String, minimum: Int = 10) -> String {
    guard let only = rows.first else { return "No \(unit)." }
    if rows.count == 1 {
        return "All \(counted(only.n, String(unit.dropLast()))) are \(only.category): \(percent(only.rate)) omitted."
    }
    let large = rows.filter { $0.n >= minimum }
    let candidates = large.count >= 2 ? large : rows
    let top = candidates.first!, bottom = candidates.last!
    var text = "Most often omitted: \(top.category) (\(percent(top.rate)) of \(grouped(top.n)) \(unit), 95% interval "
        + "\(percent(top.low))–\(percent(top.high))); least: \(bottom.category) (\(percent(bottom.rate)) of \(grouped(bottom.n)))"
    if candidates.count < rows.count { text += ", among the categories with at least \(minimum) \(unit)" }
    return text + "."
}

func significanceReading(_ pairs: [SignificanceRow]) -> String {
    guard !pairs.isEmpty else { return "" }
    let significant = pairs.filter(\.significant)
    guard let clearest = significant.min(by: { ($0.pBonferroni, $0.p) < ($1.pBonferroni, $1.p) }) else {
        return "No pair of categories differs significantly (\(counted(pairs.count, "pair")), Bonferroni-adjusted p < 0.05)."
    }
    return "\(significant.count) of \(counted(pairs.count, "pair")) differ significantly (Bonferroni-adjusted p < 0.05); "
        + "the clearest: \(clearest.category1) vs \(clearest.category2) (t = \(fixed(clearest.t, 2)), adjusted p = \(pValue(clearest.pBonferroni)))."
}

/// The first and last tenth of the chunk over all datasets, and whether their intervals separate them.
func positionReading(_ rows: [PositionRow]) -> String {
    let all = rows.filter { $0.dataset == "all" }.sorted { $0.bin < $1.bin }
    guard let first = all.first, let last = all.last else { return "No words." }
    if all.count == 1 {
        return "All words fall in positions \(percentRange(first.from, first.to)): \(percent(first.omission.rate)) omitted."
    }
    let a = first.omission, b = last.omission
    let comparison = b.high < a.low ? "words late in a chunk are omitted less often"
        : b.low > a.high ? "words late in a chunk are omitted more often"
        : "the difference is within the 95% intervals"
    return "Over all datasets, \(percent(a.rate)) of the words at positions \(percentRange(first.from, first.to)) of a chunk are "
        + "omitted and \(percent(b.rate)) at \(percentRange(last.from, last.to)): \(comparison)."
}

func frequencyReading(_ rows: [FrequencyRow], label: String, noun: String) -> String {
    let sorted = rows.sorted { $0.bin < $1.bin }
    let first = sorted.first!, last = sorted.last!
    var text = "\(label): "
    if sorted.count == 1 {
        text += "all \(grouped(first.omission.n)) \(noun) have \(countRange(first)), \(percent(first.omission.rate)) omitted"
    } else {
        text += "\(percent(first.omission.rate)) omitted at \(countRange(first)) and \(percent(last.omission.rate)) at \(countRange(last))"
    }
    text += "; Spearman's rho = \(fixed(first.rho, 3)) (p = \(pValue(first.p)))"
    if first.p < 0.05 {
        text += first.rho < 0 ? ": rarer \(noun) are omitted more often." : ": more frequent \(noun) are omitted more often."
    } else {
        text += first.rho.isNaN ? "." : ": no significant monotone relation."
    }
    return text
}

// MARK: - Formatting

func fixed(_ x: Double, _ digits: Int) -> String { x.isNaN ? "n/a" : String(format: "%.\(digits)f", x) }

func percent(_ x: Double) -> String { x.isNaN ? "n/a" : String(format: "%.1f%%", 100 * x) }

/// p-values: two significant digits ("0.032", "1.2e-08").
func pValue(_ p: Double) -> String { p.isNaN ? "n/a" : String(format: "%.2g", p) }

func percentRange(_ from: Double, _ to: Double) -> String {
    String(format: "%.0f–%.0f%%", 100 * from, 100 * to)
}

/// "count 0", "counts 1–9", "counts 1,000–9,999".
func countRange(_ row: FrequencyRow) -> String {
    row.bin < 0 ? "count 0" : "counts \(grouped(row.countLow))–\(grouped(row.countHigh - 1))"
}

func grouped<I: BinaryInteger>(_ value: I) -> String {
    let digits = Array(String(value.magnitude))
    var out = value < 0 ? "-" : ""
    for (i, digit) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return out
}

/// "1 chunk", "1,204 chunks".
func counted(_ n: Int, _ noun: String) -> String { "\(grouped(n)) \(noun)\(n == 1 ? "" : "s")" }

func code(_ text: String) -> String { "`" + text.replacingOccurrences(of: "`", with: "'") + "`" }

/// A parameter value as it would be typed: bare when it is one plain word, else a quoted string with escapes
/// (`""`, `"\n\n"`), so that empty values and separators made of line breaks stay visible.
func argumentText(_ value: String) -> String {
    let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
        $0.value > 0x20 && $0.value != 0x7F && $0 != "\"" && $0 != "\\" && !$0.properties.isWhitespace
    }
    guard !plain else { return value }
    return "\"" + backslashEscaped(value, quote: "\"", control: { String(format: "\\u%04x", $0) }) + "\""
}

/// The last cells of a row of omission counts: n, omitted, rate and its interval, and the row's end.
func omissionCells(_ r: OmissionRow) -> String {
    "\(grouped(r.n)) | \(grouped(r.omitted)) | \(percent(r.rate)) | \(percent(r.low))–\(percent(r.high)) |"
}

/// A table cell: pipes escaped, line breaks as spaces.
func cell(_ text: String) -> String {
    text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
}
