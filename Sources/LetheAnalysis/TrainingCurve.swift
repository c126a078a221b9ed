import Foundation

/// The decoder's training curve, read from lethe-train's train_log.jsonl: the training loss of every step and
/// the validation lines (loss and greedy ROUGE-1 F1 by chunk length on the fixed validation sample).
public struct TrainingCurve: Equatable, Sendable {
    public struct Validation: Equatable, Sendable {
        public var step: Int
        public var loss: Double
        public var chunks: Int
        /// Chunk length → mean ROUGE-1 F1 of the sample's greedy reconstructions.
        public var f1ByLength: [Int: Double]
    }

    /// Each step's number and its training loss (before the update), in step order.
    public private(set) var stepNumbers: [Int] = []
    public private(set) var losses: [Double] = []
    public private(set) var validations: [Validation] = []
    /// Where the log was read (as the report names it).
    public var source: String

    /// Parses the log's lines; a line that is neither a step nor a validation line is an error naming the line.
    public init(jsonLines text: String, source: String) throws {
        self.source = source
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.intValue else {
                throw AnalysisError("\(source):\(number + 1): not a lethe-train log line")
            }
            if let loss = (object["val_loss"] as? NSNumber)?.doubleValue {
                let f1 = (object["val_f1_by_length"] as? [String: Any] ?? [:]).compactMap { key, value -> (Int, Double)? in
                    guard let length = Int(key), let score = (value as? NSNumber)?.doubleValue else { return nil }
                    return (length, score)
                }
                validations.append(Validation(step: step, loss: loss, chunks: (object["val_chunks"] as? NSNumber)?.intValue ?? 0,
                                              f1ByLength: Dictionary(uniqueKeysWithValues: f1)))
            } else if let loss = (object["loss"] as? NSNumber)?.doubleValue {
                stepNumbers.append(step)
                losses.append(loss)
            }
        }
    }

    /// Chunk lengths with a validation F1, ascending.
    public var validationLengths: [Int] { Array(Set(validations.flatMap(\.f1ByLength.keys))).sorted() }

    /// The training loss averaged over windows of `window` steps (one point per window, at its last step): a
    /// readable curve where single batches jump.
    public func smoothedLoss(window: Int) -> [(step: Int, loss: Double)] {
        let w = max(1, window)
        return stride(from: 0, to: losses.count, by: w).map { start in
            let end = min(losses.count, start + w)
            return (stepNumbers[end - 1], losses[start..<end].reduce(0, +) / Double(end - start))
        }
    }

    /// The files the report writes from the log, in order.
    public static let fileNames = ["training_curve.csv", "training_loss.svg", "training_f1.svg"]

    /// File name and contents of each of `fileNames`.
    public func files() -> [(name: String, contents: String)] {
        zip(Self.fileNames, [csv(), lossPlot(), f1Plot()]).map { ($0, $1) }
    }

    /// training_curve.csv: one row per validation (step, validation loss, chunks, F1 at each length) after the
    /// training loss averaged over the steps since the previous validation.
    public func csv() -> String {
        let lengths = validationLengths
        var out = "step,train_loss,val_loss,val_chunks" + lengths.map { ",val_f1_\($0)" }.joined() + "\n"
        var previous = 0
        for v in validations {
            let window = zip(stepNumbers, losses).filter { $0.0 > previous && $0.0 <= v.step }.map(\.1)
            previous = v.step
            let train = window.isEmpty ? "" : String(window.reduce(0, +) / Double(window.count))
            out += "\(v.step),\(train),\(v.loss),\(v.chunks)" + lengths.map { "," + (v.f1ByLength[$0].map { String($0) } ?? "") }.joined() + "\n"
        }
        return out
    }

    /// The losses against the step (training loss smoothed over about 50 points).
    public func lossPlot() -> String {
        let smoothed = smoothedLoss(window: max(1, losses.count / 50))
        var series = [PlotSeries(name: "training loss", x: smoothed.map { Double($0.step) }, y: smoothed.map(\.loss))]
        if !validations.isEmpty {
            series.append(PlotSeries(name: "validation loss", x: validations.map { Double($0.step) }, y: validations.map(\.loss)))
        }
        return SVGPlot.lines(title: "Decoder training: loss per token", x: PlotAxis(label: "step"),
                             y: PlotAxis(label: "cross-entropy (nats)"), series: series)
    }

    /// Validation ROUGE-1 F1 against the step, one line per chunk length.
    public func f1Plot() -> String {
        let series = validationLengths.map { length in
            let points = validations.compactMap { v in v.f1ByLength[length].map { (Double(v.step), $0) } }
            return PlotSeries(name: "\(length) tokens", x: points.map(\.0), y: points.map(\.1))
        }
        return SVGPlot.lines(title: "Decoder training: validation ROUGE-1 F1 by chunk length", x: PlotAxis(label: "step"),
                             y: PlotAxis(label: "ROUGE-1 F1", range: 0...1), series: series)
    }
}
