// All tables and plots of the report, computed from annotated chunks. `lethe-report` adds report.md (run,
// model and data description) around these.

import Foundation

public struct ReportTables: Equatable, Sendable {
    public var rouge: [RougeRow]
    /// By dataset, the chunks left out of ROUGE because their reference has no word it can score.
    public var rougeUnscored: [String: Int]
    /// Keyed by table name: "pos", "ner", "class", "dataset".
    public var omission: [String: [OmissionRow]]
    public var significance: [String: [SignificanceRow]]
    public var position: [PositionRow]
    public var frequency: [FrequencyRow]
    /// Datasets of the same documents in two versions, compared pair by pair (pairedTable).
    public var paired: [PairedRow]
    /// Omission against the encoder's surprisal (surprisalTable); empty without lethe-encode --surprisal.
    public var surprisal: [SurprisalRow]

    public static let categoryTables = ["pos", "ner", "class", "dataset"]

    /// `documents[i]`: the document chunk i was cut from (source file and index), for the paired comparisons;
    /// empty when unknown.
    public init(chunks: [ChunkAnnotation], documents: [String?] = [], seed: UInt64 = 0, positionBins: Int = 10) {
        (rouge, rougeUnscored) = rougeTable(chunks, seed: seed)
        paired = pairedTable(chunks, documents: documents.isEmpty ? chunks.map { _ in nil } : documents, seed: seed)
        var omission: [String: [OmissionRow]] = [:], significance: [String: [SignificanceRow]] = [:]
        for name in Self.categoryTables {
            let items = CategoryItems.items(name, chunks)
            let rows = omissionTable(items)
            omission[name] = rows
            significance[name] = significanceTable(items, order: rows.map(\.category))
        }
        self.omission = omission
        self.significance = significance
        position = positionTable(chunks, bins: positionBins)
        frequency = frequencyTable(chunks)
        surprisal = surprisalTable(chunks)
    }

    /// File name and contents of every CSV and SVG, in a fixed order.
    public func files() -> [(name: String, contents: String)] { Self.files(of: [RunTables(label: "", tables: self)]) }

    /// The files of several runs (models, decoders) compared: each CSV with a first column `run` holding each run's
    /// rows in turn, each plot with every run's series (named "run · series") or bars side by side. One run gives
    /// `files()`, with no run column.
    public static func files(of runs: [RunTables]) -> [(name: String, contents: String)] {
        precondition(!runs.isEmpty, "files(of:) needs a run")
        func csv(_ name: String, _ table: (ReportTables) -> Table) -> (String, String) {
            let tables = runs.map { ($0.label, table($0.tables)) }
            guard runs.count > 1 else { return (name, tables[0].1.csv) }
            return (name, Table(columns: ["run"] + tables[0].1.columns,
                                rows: tables.flatMap { label, table in table.rows.map { [.text(label)] + $0 } }).csv)
        }
        var files: [(String, String)] = [csv("rouge.csv") { Table(rouge: $0.rouge) }]
        for name in categoryTables {
            files.append(csv("omission_\(name).csv") { Table(omission: $0.omission[name]!) })
            files.append(csv("significance_\(name).csv") { Table(significance: $0.significance[name]!) })
        }
        files.append(csv("omission_position.csv") { Table(position: $0.position) })
        files.append(csv("frequency.csv") { Table(frequency: $0.frequency) })
        files.append(csv("paired.csv") { Table(paired: $0.paired) })
        files.append(csv("surprisal.csv") { Table(surprisal: $0.surprisal) })
        let plots = ComparedPlots(runs: runs)
        files.append(("rouge_f1_by_length.svg", plots.rouge()))
        for name in categoryTables where runs.contains(where: { !$0.tables.omission[name]!.isEmpty }) {
            files.append(("omission_\(name).svg", plots.omission(name)))
        }
        files.append(("omission_by_position.svg", plots.position()))
        files.append(("omission_by_frequency.svg", plots.frequency()))
        if runs.contains(where: { !$0.tables.surprisal.isEmpty }) { files.append(("omission_by_surprisal.svg", plots.surprisal())) }
        return files
    }

    /// Writes every file into `directory` (created if needed), each atomically (temporary file, rename), so
    /// an interrupted run never leaves a half-written table.
    public func write(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw AnalysisError("\(directory.path): cannot create the output directory: \(error.localizedDescription)")
        }
        for (name, contents) in files() {
            let url = directory.appendingPathComponent(name)
            do {
                try Data(contents.utf8).write(to: url, options: .atomic)
            } catch {
                throw AnalysisError("\(url.path): cannot write: \(error.localizedDescription)")
            }
        }
    }

}

/// Mean ROUGE-1 F1 by length bucket over every dataset of `rows` (rouge.csv's rows): each row's mean weighted by its
/// scored chunks, so the mean over all the scored chunks of the bucket.
public func pooledF1(_ rows: [RougeRow]) -> [(length: Int, f1: Double)] {
    Dictionary(grouping: rows, by: \.length).keys.sorted().map { length in
        let group = rows.filter { $0.length == length }
        let chunks = group.reduce(0) { $0 + $1.n }
        return (length, group.reduce(0.0) { $0 + $1.f1 * Double($1.n) } / Double(chunks))
    }
}

/// One run's tables, under its label (empty when the report has one run).
public struct RunTables: Equatable, Sendable {
    public var label: String
    public var tables: ReportTables
    public init(label: String, tables: ReportTables) { self.label = label; self.tables = tables }
}

/// The report's plots, every run's series in each.
struct ComparedPlots {
    let runs: [RunTables]

    /// A series of `run`, the `index`-th of its run: comparing runs, named "run · series", in the run's colour and
    /// the index's dash; for one run, as before (its own colour, solid).
    func runSeries(_ run: RunTables, _ index: Int, _ name: String, x: [Double], y: [Double], low: [Double], high: [Double]) -> PlotSeries {
        guard runs.count > 1 else { return PlotSeries(name: name, x: x, y: y, yLow: low, yHigh: high) }
        let runIndex = runs.firstIndex { $0.label == run.label }!
        return PlotSeries(name: "\(run.label) · \(name)", x: x, y: y, yLow: low, yHigh: high, colour: runIndex, dash: index)
    }

    /// One run: a line per dataset. Several: a line per run over all its datasets (pooledF1), as the paper plots its
    /// model sizes; a line per dataset and run would be too many to tell apart.
    func rouge() -> String {
        guard runs.count == 1 else {
            let series = runs.map { run in
                let pooled = pooledF1(run.tables.rouge)
                return PlotSeries(name: run.label, x: pooled.map { Double($0.length) }, y: pooled.map(\.f1))
            }
            return SVGPlot.lines(title: "ROUGE-1 F1 by chunk length, all datasets", x: PlotAxis(label: "chunk length (tokens)", logarithmic: true),
                                 y: PlotAxis(label: "ROUGE-1 F1", range: 0...1), series: series)
        }
        let series = runs.flatMap { run -> [PlotSeries] in
            let rouge = run.tables.rouge
            return Array(Set(rouge.map(\.dataset))).sorted().enumerated().map { k, d in
                let rows = rouge.filter { $0.dataset == d }
                return runSeries(run, k, d, x: rows.map { Double($0.length) }, y: rows.map(\.f1), low: rows.map(\.f1Low), high: rows.map(\.f1High))
            }
        }
        return SVGPlot.lines(title: "ROUGE-1 F1 by chunk length", x: PlotAxis(label: "chunk length (tokens)", logarithmic: true),
                             y: PlotAxis(label: "ROUGE-1 F1", range: 0...1), series: series)
    }

    /// Categories in the first run's order (by rate), then any only later runs have.
    func omission(_ table: String) -> String {
        let categories = distinctInOrder(runs.flatMap { $0.tables.omission[table]!.map(\.category) })
        let series = runs.map { run -> BarSeries in
            let rows = Dictionary(uniqueKeysWithValues: run.tables.omission[table]!.map { ($0.category, $0) })
            return BarSeries(name: run.label, values: categories.map { rows[$0]?.rate ?? .nan },
                             low: categories.map { rows[$0]?.low ?? .nan }, high: categories.map { rows[$0]?.high ?? .nan })
        }
        return SVGPlot.bars(title: "Omission rate by \(table) (95% Wilson interval)", categories: categories, series: series,
                            y: PlotAxis(label: "omission rate", range: 0...1))
    }

    /// One run: a line for all datasets and one per dataset; several: each run's line for all datasets.
    func position() -> String {
        let series = runs.flatMap { run -> [PlotSeries] in
            let position = run.tables.position
            let datasets = distinctInOrder(position.map(\.dataset))
            return (runs.count > 1 ? Array(datasets.prefix(1)) : datasets).enumerated().map { k, d in
                let rows = position.filter { $0.dataset == d }
                return runSeries(run, k, d, x: rows.map { ($0.from + $0.to) / 2 }, y: rows.map(\.omission.rate),
                              low: rows.map(\.omission.low), high: rows.map(\.omission.high))
            }
        }
        return SVGPlot.lines(title: "Omission rate by position in the chunk", x: PlotAxis(label: "relative position", range: 0...1),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }

    /// Each bin at its middle, in nats.
    func surprisal() -> String {
        let series = runs.flatMap { run in
            [("token", "tokens"), ("word", "words (sum over tokens)")].enumerated().compactMap { k, level -> PlotSeries? in
                let rows = run.tables.surprisal.filter { $0.level == level.0 }
                guard !rows.isEmpty else { return nil }
                return runSeries(run, k, level.1, x: rows.map { ($0.from + $0.to) / 2 }, y: rows.map(\.omission.rate),
                              low: rows.map(\.omission.low), high: rows.map(\.omission.high))
            }
        }
        return SVGPlot.lines(title: "Omission rate by the encoder's surprisal", x: PlotAxis(label: "surprisal (nats)"),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }

    /// Each bin at the geometric middle of its counts; the zero-count bin has no place on a log axis.
    func frequency() -> String {
        let levels = [("token", "tokens"), ("word", "words (rarest token)"), ("word_count", "words (word count)")]
        let series = runs.flatMap { run in
            levels.enumerated().compactMap { k, level -> PlotSeries? in
                let rows = run.tables.frequency.filter { $0.level == level.0 && $0.bin >= 0 }
                guard !rows.isEmpty else { return nil }
                return runSeries(run, k, level.1, x: rows.map { (Double($0.countLow) * Double($0.countHigh)).squareRoot() },
                              y: rows.map(\.omission.rate), low: rows.map(\.omission.low), high: rows.map(\.omission.high))
            }
        }
        return SVGPlot.lines(title: "Omission rate by pretraining frequency", x: PlotAxis(label: "pretraining count", logarithmic: true),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }
}
