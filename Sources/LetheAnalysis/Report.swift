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
    public func files() -> [(name: String, contents: String)] {
        var files: [(String, String)] = [("rouge.csv", Table(rouge: rouge).csv)]
        for name in Self.categoryTables {
            files.append(("omission_\(name).csv", Table(omission: omission[name]!).csv))
            files.append(("significance_\(name).csv", Table(significance: significance[name]!).csv))
        }
        files.append(("omission_position.csv", Table(position: position).csv))
        files.append(("frequency.csv", Table(frequency: frequency).csv))
        files.append(("paired.csv", Table(paired: paired).csv))
        files.append(("surprisal.csv", Table(surprisal: surprisal).csv))
        files.append(("rouge_f1_by_length.svg", rougePlot()))
        for name in Self.categoryTables where !omission[name]!.isEmpty {
            files.append(("omission_\(name).svg", omissionPlot(name)))
        }
        files.append(("omission_by_position.svg", positionPlot()))
        files.append(("omission_by_frequency.svg", frequencyPlot()))
        if !surprisal.isEmpty { files.append(("omission_by_surprisal.svg", surprisalPlot())) }
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

    // MARK: - Plots

    func rougePlot() -> String {
        let datasets = Array(Set(rouge.map(\.dataset))).sorted()
        let series = datasets.map { d -> PlotSeries in
            let rows = rouge.filter { $0.dataset == d }
            return PlotSeries(name: d, x: rows.map { Double($0.length) }, y: rows.map(\.f1),
                              yLow: rows.map(\.f1Low), yHigh: rows.map(\.f1High))
        }
        return SVGPlot.lines(title: "ROUGE-1 F1 by chunk length", x: PlotAxis(label: "chunk length (tokens)", logarithmic: true),
                             y: PlotAxis(label: "ROUGE-1 F1", range: 0...1), series: series)
    }

    func omissionPlot(_ name: String) -> String {
        let rows = omission[name]!
        return SVGPlot.bars(title: "Omission rate by \(name) (95% Wilson interval)", categories: rows.map(\.category),
                            values: rows.map(\.rate), low: rows.map(\.low), high: rows.map(\.high),
                            y: PlotAxis(label: "omission rate", range: 0...1))
    }

    func positionPlot() -> String {
        let datasets = distinctInOrder(position.map(\.dataset))
        let series = datasets.map { d -> PlotSeries in
            let rows = position.filter { $0.dataset == d }
            return PlotSeries(name: d, x: rows.map { ($0.from + $0.to) / 2 }, y: rows.map(\.omission.rate),
                              yLow: rows.map(\.omission.low), yHigh: rows.map(\.omission.high))
        }
        return SVGPlot.lines(title: "Omission rate by position in the chunk", x: PlotAxis(label: "relative position", range: 0...1),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }

    /// Each bin at its middle, in nats.
    func surprisalPlot() -> String {
        let series = [("token", "tokens"), ("word", "words (sum over tokens)")].compactMap { level, label -> PlotSeries? in
            let rows = surprisal.filter { $0.level == level }
            guard !rows.isEmpty else { return nil }
            return PlotSeries(name: label, x: rows.map { ($0.from + $0.to) / 2 }, y: rows.map(\.omission.rate),
                              yLow: rows.map(\.omission.low), yHigh: rows.map(\.omission.high))
        }
        return SVGPlot.lines(title: "Omission rate by the encoder's surprisal", x: PlotAxis(label: "surprisal (nats)"),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }

    /// Each bin at the geometric middle of its counts; the zero-count bin has no place on a log axis.
    func frequencyPlot() -> String {
        let levels = [("token", "tokens"), ("word", "words (rarest token)"), ("word_count", "words (word count)")]
        let series = levels.compactMap { level, label -> PlotSeries? in
            let rows = frequency.filter { $0.level == level && $0.bin >= 0 }
            guard !rows.isEmpty else { return nil }
            return PlotSeries(name: label, x: rows.map { (Double($0.countLow) * Double($0.countHigh)).squareRoot() },
                              y: rows.map(\.omission.rate), yLow: rows.map(\.omission.low), yHigh: rows.map(\.omission.high))
        }
        return SVGPlot.lines(title: "Omission rate by pretraining frequency", x: PlotAxis(label: "pretraining count", logarithmic: true),
                             y: PlotAxis(label: "omission rate", range: 0...1), series: series)
    }
}
