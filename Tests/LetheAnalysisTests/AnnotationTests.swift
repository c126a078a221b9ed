import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import LetheAnalysis
@testable import LetheText

final class AnnotationTests: XCTestCase {
    /// A CoNLL-2003 sentence with gold labels; the reconstruction drops "the" and changes a name.
    func testAnnotateChunkWithGoldWords() throws {
        let gold = [("EU", "NNP", "I-ORG"), ("rejects", "VBZ", "O"), ("German", "JJ", "I-MISC"), ("call", "NN", "O"),
                    ("to", "TO", "O"), ("boycott", "VB", "O"), ("British", "JJ", "I-MISC"), ("lamb", "NN", "O"), (".", ".", "O")]
            .map { GoldWord(word: $0.0, posTag: $0.1, nerTag: $0.2) }
        let pieces = ["EU", " rejects", " German", " call", " to", " boy", "cott", " British", " lamb", "."]
        let input = ChunkInput(
            dataset: "conll", referenceTokenIDs: Array(0..<10), reconstructionTokenIDs: [0, 1, 2, 3, 4, 5, 6, 42, 8, 9],
            referenceText: pieces.joined(), reconstructionText: "EU rejects German call to boycott French lamb.",
            referenceTokenTexts: pieces, goldWords: gold, tokenFrequencies: [5, 100, 40, 300, 9000, 7, 3, 60, 20, 10000])
        let chunk = annotateChunk(input)
        XCTAssertEqual(chunk.words.map(\.retained), [true, true, true, true, true, true, false, true, true])
        XCTAssertEqual(chunk.words.map { $0.pos?.rawValue ?? "-" }, ["NOUN", "VERB", "ADJ", "NOUN", "ADP", "VERB", "ADJ", "NOUN", "PUNCT"])
        XCTAssertEqual(chunk.words.map { $0.ner?.rawValue ?? "-" }, ["ORG", "O", "MISC", "O", "O", "O", "MISC", "O", "O"])
        XCTAssertEqual(chunk.words[0].wordClass, .capitalized)
        XCTAssertEqual(chunk.words[8].wordClass, .punctuation)
        // "boycott" is two tokens (7 and 3): rarest 3, mean 5.
        XCTAssertEqual(chunk.words[5].rarestTokenFrequency, 3)
        XCTAssertEqual(chunk.words[5].meanTokenFrequency, 5)
        XCTAssertEqual(chunk.tokenFates.filter { $0 != .kept }, [.substituted])
        XCTAssertEqual(chunk.rouge1, Rouge.rouge1(reference: input.referenceText, prediction: input.reconstructionText))
        // Round trip through JSON, the KEY.words.json form.
        let json = try chunk.jsonData()
        XCTAssertEqual(try ChunkAnnotation(jsonData: json, source: "a.words.json"), chunk)
        XCTAssertEqual(try chunk.jsonData(), json)
        // A malformed file: one line naming the file and the field.
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["dataset"] = nil
        XCTAssertThrowsError(try ChunkAnnotation(jsonData: JSONSerialization.data(withJSONObject: object), source: "b.words.json")) {
            XCTAssertEqual("\($0)", "b.words.json: missing field dataset")
        }
        var words = object["words"] as! [[String: Any]]
        words[2]["retained"] = "yes"
        object["dataset"] = "conll"
        object["words"] = words
        XCTAssertThrowsError(try ChunkAnnotation(jsonData: JSONSerialization.data(withJSONObject: object), source: "c.words.json")) {
            XCTAssertTrue("\($0)".hasPrefix("c.words.json: bad value at words[2].retained"), "\($0)")
        }
        XCTAssertThrowsError(try ReportTables(chunks: [chunk]).write(to: URL(fileURLWithPath: "/proc/no/such/dir"))) {
            XCTAssertTrue("\($0)".hasPrefix("/proc/no/such/dir: cannot create the output directory"), "\($0)")
        }
    }

    /// Without gold words the reference is split like the reconstruction (nltk.word_tokenize).
    func testAnnotateChunkWithoutGoldWords() {
        let input = ChunkInput(dataset: "gsm8k", referenceTokenIDs: [1, 2, 3], reconstructionTokenIDs: [1, 3],
                               referenceText: "She sells 16 - 3 = 13 eggs.", reconstructionText: "She sold 16 - 3 = 13 eggs.",
                               isMath: true)
        let chunk = annotateChunk(input)
        XCTAssertEqual(chunk.words.map(\.word), ["She", "sells", "16", "-", "3", "=", "13", "eggs", "."])
        XCTAssertEqual(chunk.words.map(\.retained), [true, false, true, true, true, true, true, true, true])
        XCTAssertEqual(chunk.words.map(\.wordClass.rawValue),
                       ["capitalized", "word", "number", "math", "number", "math", "number", "word", "punctuation"])
        XCTAssertEqual(chunk.tokenFates, [.kept, .dropped, .kept])
        XCTAssertNil(chunk.words[0].rarestTokenFrequency)
    }

    func testTokenIndicesOfWords() {
        // NLTK turns the straight quotes into `` and ''; "cannot" becomes two words inside one token.
        let pieces = ["He", " said", " \"", "I", " cannot", "\"", " go"]
        let words = WordTokenizer().tokenize(pieces.joined())
        XCTAssertEqual(words, ["He", "said", "``", "I", "can", "not", "''", "go"])
        XCTAssertEqual(tokenIndicesOfWords(words, tokenTexts: pieces), [[0], [1], [2], [3], [4], [4], [5], [6]])
        XCTAssertEqual(tokenIndicesOfWords(["x", "go"], tokenTexts: ["go"]), [[], [0]])
    }

    func testSVGLayout() throws {
        let svg = SVGPlot.lines(title: "A & B", x: PlotAxis(label: "count", logarithmic: true), y: PlotAxis(label: "rate", range: 0...1),
                                series: [PlotSeries(name: "s<1>", x: [10, 1000, 0, .nan], y: [0, 1, 0.5, 0.5], yLow: [0, 0.9, 0, 0], yHigh: [0.1, 1, 1, 1])])
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse())
        XCTAssertTrue(svg.contains("A &amp; B") && svg.contains("s&lt;1&gt;"))
        // x = 10 and 1000 on a log axis spanning exactly [10, 1000] map to the plot's left and right edges;
        // y = 0 and 1 to its bottom and top. The points at x <= 0 or nan are left out.
        let left = SVGPlot.left, right = SVGPlot.width - SVGPlot.right, bottom = SVGPlot.height - SVGPlot.bottom, top = SVGPlot.top
        XCTAssertTrue(svg.contains("points=\"\(SVGPlot.f(left)),\(SVGPlot.f(bottom)) \(SVGPlot.f(right)),\(SVGPlot.f(top))\""), svg)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2)
        let scatter = SVGPlot.lines(title: "", x: PlotAxis(label: ""), y: PlotAxis(label: ""),
                                    series: [PlotSeries(name: "s", x: [1, 2, 3], y: [3, 1, 2])], connected: false)
        XCTAssertFalse(scatter.contains("<polyline"))
        XCTAssertEqual(scatter.components(separatedBy: "<circle").count - 1, 3)
        let bars = SVGPlot.bars(title: "t", categories: ["a", "b"], series: [BarSeries(name: "s", values: [0.5, .nan], low: [0.4, 0], high: [0.6, 1])],
                                y: PlotAxis(label: "rate", range: 0...1))
        XCTAssertTrue(XMLParser(data: Data(bars.utf8)).parse())
        XCTAssertEqual(bars.components(separatedBy: "<rect").count - 1, 2) // background + one bar
        XCTAssertFalse(bars.contains(">s</text>"), "no legend for one series")
        // Two series: side by side in each category's slot, half as wide, with a legend.
        let grouped = SVGPlot.bars(title: "t", categories: ["a", "b"], series: [
            BarSeries(name: "run 1", values: [0.5, 0.25]), BarSeries(name: "run 2", values: [1, .nan])], y: PlotAxis(label: "rate", range: 0...1))
        XCTAssertTrue(XMLParser(data: Data(grouped.utf8)).parse())
        XCTAssertEqual(grouped.components(separatedBy: "<rect").count - 1, 4)
        let slot = (SVGPlot.width - SVGPlot.right - SVGPlot.left) / 2
        XCTAssertTrue(grouped.contains("<rect x=\"\(SVGPlot.f(SVGPlot.left + slot * 0.15))\" y=\"\(SVGPlot.f(SVGPlot.top + (bottom - top) * 0.5))\" width=\"\(SVGPlot.f(slot * 0.35))\""), grouped)
        XCTAssertTrue(grouped.contains("<rect x=\"\(SVGPlot.f(SVGPlot.left + slot * 0.5))\" y=\"\(SVGPlot.f(SVGPlot.top))\" width=\"\(SVGPlot.f(slot * 0.35))\""), grouped)
        XCTAssertTrue(grouped.contains(">run 1</text>") && grouped.contains(">run 2</text>"))
        XCTAssertEqual(SVGPlot.Scale.logTicks(1, 1e6), [1, 10, 100, 1000, 1e4, 1e5, 1e6])
        XCTAssertEqual(SVGPlot.Scale.logTicks(10, 100), [10, 20, 50, 100])
        XCTAssertEqual(SVGPlot.Scale.niceStep(0.23), 0.5)
        XCTAssertEqual(SVGPlot.Scale(axis: PlotAxis(label: ""), values: [0.03, 0.97], from: 0, to: 1).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    }
}
