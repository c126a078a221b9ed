import Foundation
import XCTest
@testable import LetheAnalysis
import LethePipeline
@testable import LetheReport

/// Word counts, token texts, gold token spans, and the readings of report.md. The report's numbers are checked
/// against SciPy and rouge-score in LetheStagesTests (ExpectedReportTests); here, the rules and the wording.
final class ReportDocumentTests: XCTestCase {
    func testTokenTextsGiveEachCharacterToTheTokenOfItsFirstByte() {
        // "é" = C3 A9 split over two tokens; "€" = E2 82 AC over three; a lone FF is invalid.
        let pieces: [[UInt8]] = [[0x43, 0x61, 0x66, 0xC3], [0xA9, 0x20], [0xE2], [0x82], [0xAC, 0x21], [0xFF], [0x61]]
        let texts = tokenTexts(fromTokenBytes: pieces)
        XCTAssertEqual(texts, ["Café", " ", "€", "", "!", "\u{FFFD}", "a"])
        XCTAssertEqual(texts.joined(), String(decoding: pieces.flatMap { $0 }, as: UTF8.self))
        XCTAssertEqual(tokenTexts(fromTokenBytes: []), [])
        // A truncated sequence at the end becomes one replacement character, as String(decoding:) has it.
        XCTAssertEqual(tokenTexts(fromTokenBytes: [[0x61], [0xE2, 0x82]]), ["a", "\u{FFFD}"])
    }

    func testWordCountsFromTSV() throws {
        let counts = try WordCounts(tsv: Array("the\t120\nThe\t7\r\nx y\t0\n".utf8), source: "words.tsv")
        XCTAssertEqual([counts.count(of: "the"), counts.count(of: "The"), counts.count(of: "x y"), counts.count(of: "cat")], [120, 7, 0, 0])
        XCTAssertEqual(counts.wordCount, 3)
        XCTAssertEqual(try WordCounts(tsv: Array("a\t1".utf8), source: "w").count(of: "a"), 1, "the last line may lack its newline")
        XCTAssertEqual(try WordCounts(tsv: [], source: "w").wordCount, 0)
        let spellings = try WordCounts(tsv: Array("caf\u{E9}\t5\ncafe\u{301}\t2\n".utf8), source: "w")
        XCTAssertEqual(spellings.count(of: "caf\u{E9}"), 7, "canonically equivalent spellings are one word")
        for (text, message) in [("a\t1\nb 2\n", "w.tsv:2: expected word<TAB>count"), ("a\t1\n\n", "w.tsv:2: expected word<TAB>count"),
                                ("a\tmany\n", "w.tsv:1: the count is not a non-negative integer"),
                                ("a\t-3\n", "w.tsv:1: the count is not a non-negative integer"),
                                ("\t3\n", "w.tsv:1: the word is empty or not UTF-8"),
                                ("a\t1\na\t2\n", "w.tsv:2: the word \"a\" is listed twice")] {
            XCTAssertThrowsError(try WordCounts(tsv: Array(text.utf8), source: "w.tsv"), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// Gold spans decide a word's tokens (the token texts are not needed); word counts come from the table.
    func testGoldTokenSpansAndWordCounts() {
        let gold = [GoldWord(word: "Stimpson", posTag: "NNP", nerTag: "I-PER", tokenSpan: 0..<3),
                    GoldWord(word: "scored", posTag: "VBD", nerTag: "O", tokenSpan: 3..<4)]
        let input = ChunkInput(dataset: "conll", referenceTokenIDs: [10, 11, 12, 13], reconstructionTokenIDs: [13],
                               referenceText: "Stimpson scored", reconstructionText: "scored", goldWords: gold,
                               tokenFrequencies: [50, 4, 900, 70], wordCounts: WordCounts(["scored": 31]))
        let chunk = annotateChunk(input)
        XCTAssertEqual(chunk.words.map(\.rarestTokenFrequency), [4, 70])
        XCTAssertEqual(chunk.words.map(\.meanTokenFrequency), [318, 70])
        XCTAssertEqual(chunk.words.map(\.wordFrequency), [0, 31])
        XCTAssertEqual(chunk.words.map(\.retained), [false, true])
        // Without counts nothing is filled in; a span beyond the counts gives no frequency rather than a crash.
        var without = input
        without.tokenFrequencies = nil
        without.wordCounts = nil
        XCTAssertEqual(annotateChunk(without).words.map(\.rarestTokenFrequency), [nil, nil])
        XCTAssertEqual(annotateChunk(without).words.map(\.wordFrequency), [nil, nil])
        var short = input
        short.tokenFrequencies = [50, 4, 900]
        XCTAssertEqual(annotateChunk(short).words.map(\.rarestTokenFrequency), [4, nil])
    }

    func row(_ category: String, _ n: Int, _ omitted: Int) -> OmissionRow {
        omissionRow(category: category, n: n, omitted: omitted)
    }

    func testReadings() {
        func rouge(_ dataset: String, _ length: Int, _ f1: Double) -> RougeRow {
            RougeRow(dataset: dataset, length: length, n: 3, precision: f1, recall: f1, f1: f1, f1Low: f1, f1High: f1)
        }
        XCTAssertEqual(rougeReading([rouge("prose", 4, 0.914), rouge("prose", 64, 0.5), rouge("prose", 256, 0.3204)]),
                       "ROUGE-1 F1 falls from 0.91 at 4 tokens to 0.32 at 256 (prose).")
        XCTAssertEqual(rougeReading([rouge("a", 8, 0.5), rouge("a", 16, 0.502), rouge("b", 8, 0.2), rouge("b", 32, 0.4), rouge("c", 16, 1)]),
                       "ROUGE-1 F1 by dataset: a stays at 0.50 from 8 to 16 tokens; b rises from 0.20 at 8 tokens to 0.40 at 32; c is 1.00 at 16 tokens.")
        XCTAssertEqual(rougeReading([]), "No chunks.")
        // A bucket is named by the lengths it holds.
        var bucket = rouge("aave", 8, 0.85)
        (bucket.minLength, bucket.maxLength) = (5, 8)
        var single = rouge("aave", 64, 0.4)
        (single.minLength, single.maxLength) = (40, 40)
        XCTAssertEqual(rougeReading([bucket, single]), "ROUGE-1 F1 falls from 0.85 at 5–8 tokens to 0.40 at 40 (aave).")
        // Varying lengths: the ends are the lengths with at least 5 chunks, when two lengths have that many.
        func sized(_ length: Int, _ n: Int, _ f1: Double) -> RougeRow {
            RougeRow(dataset: "aave", length: length, n: n, precision: f1, recall: f1, f1: f1, f1Low: f1, f1High: f1)
        }
        XCTAssertEqual(rougeReading([sized(2, 1, 0), sized(3, 14, 0.72), sized(9, 20, 0.4), sized(25, 5, 0.28), sized(46, 1, 0.5)]),
                       "ROUGE-1 F1 falls from 0.72 at 3 tokens to 0.28 at 25 (lengths with at least 5 chunks) (aave).")
        XCTAssertEqual(rougeReading([sized(1, 7, 0), sized(3, 14, 0.72)]),
                       "ROUGE-1 F1 rises from 0.00 at 1 token to 0.72 at 3 (aave).")
        XCTAssertEqual(rougeReading([sized(2, 1, 0), sized(3, 14, 0.72), sized(46, 1, 0.5)]),
                       "ROUGE-1 F1 rises from 0.00 at 2 tokens to 0.50 at 46 (aave).")

        // Categories under 10 words do not make the headline while two larger ones exist.
        let rows = [row("SYM", 3, 3), row("NUM", 40, 20), row("NOUN", 200, 50), row("DET", 100, 5)]
        XCTAssertEqual(omissionReading(rows, unit: "words"),
                       "Most often omitted: NUM (50.0% of 40 words, 95% interval 35.2%–64.8%); least: DET (5.0% of 100), among the categories with at least 10 words.")
        XCTAssertEqual(omissionReading([row("SYM", 3, 3), row("NUM", 4, 1)], unit: "words"),
                       "Most often omitted: SYM (100.0% of 3 words, 95% interval 43.9%–100.0%); least: NUM (25.0% of 4).")
        XCTAssertEqual(omissionReading([row("conll", 12, 3)], unit: "words"), "All 12 words are conll: 25.0% omitted.")

        let pairs = [SignificanceRow(category1: "NUM", category2: "DET", t: -6.5, p: 1e-9, pBonferroni: 6e-9, significant: true),
                     SignificanceRow(category1: "NUM", category2: "NOUN", t: -3.1, p: 0.002, pBonferroni: 0.012, significant: true),
                     SignificanceRow(category1: "NOUN", category2: "DET", t: .nan, p: .nan, pBonferroni: .nan, significant: false)]
        XCTAssertEqual(significanceReading(pairs),
                       "2 of 3 pairs differ significantly (Bonferroni-adjusted p < 0.05); the clearest: NUM vs DET (t = -6.50, adjusted p = 6e-09).")
        XCTAssertEqual(significanceReading([pairs[2]]), "No pair of categories differs significantly (1 pair, Bonferroni-adjusted p < 0.05).")

        func position(_ bin: Int, _ n: Int, _ omitted: Int) -> PositionRow {
            PositionRow(dataset: "all", bin: bin, from: Double(bin) / 10, to: Double(bin + 1) / 10, omission: row("\(bin)", n, omitted))
        }
        XCTAssertEqual(positionReading([position(0, 100, 40), position(5, 100, 30), position(9, 100, 10)]),
                       "Over all datasets, 40.0% of the words at positions 0–10% of a chunk are omitted and 10.0% at 90–100%: words late in a chunk are omitted less often.")
        XCTAssertEqual(positionReading([position(0, 10, 4), position(9, 10, 5)]).hasSuffix("the difference is within the 95% intervals."), true)

        func frequency(_ bin: Int, _ n: Int, _ omitted: Int, rho: Double, p: Double) -> FrequencyRow {
            let bounds = logBinBounds(bin)
            return FrequencyRow(level: "token", bin: bin, countLow: bounds.low, countHigh: bounds.high,
                                omission: row("\(bin)", n, omitted), rho: rho, p: p)
        }
        XCTAssertEqual(frequencyReading([frequency(3, 50, 10, rho: -0.2, p: 1e-5), frequency(-1, 20, 12, rho: -0.2, p: 1e-5)],
                                        label: "Tokens", noun: "tokens"),
                       "Tokens: 60.0% omitted at count 0 and 20.0% at counts 1,000–9,999; Spearman's rho = -0.200 (p = 1e-05): rarer tokens are omitted more often.")
        XCTAssertTrue(frequencyReading([frequency(1, 5, 1, rho: 0.01, p: 0.9)], label: "Words", noun: "words")
            .hasSuffix("all 5 words have counts 10–99, 20.0% omitted; Spearman's rho = 0.010 (p = 0.9): no significant monotone relation."))
    }

    /// Parameter values in the stage table read as typed: empty values and line-break separators quoted.
    func testParameterValuesStayVisible() {
        XCTAssertEqual(argumentText("fixed"), "fixed")
        XCTAssertEqual(argumentText("0.003"), "0.003")
        XCTAssertEqual(argumentText(""), "\"\"")
        XCTAssertEqual(argumentText("\n\n"), "\"\\n\\n\"")
        XCTAssertEqual(argumentText("a b"), "\"a b\"")
        XCTAssertEqual(argumentText("say \"hi\"\t\\"), "\"say \\\"hi\\\"\\t\\\\\"")
        XCTAssertEqual(argumentText("\u{1}"), "\"\\u0001\"")
        let stage = RunStage(path: "stages/t", name: "t", executable: "lethe-tokenize",
                             parameters: ["separator": ["\n\n"], "subset-field": [""], "chunk-size": ["4", "8"]])
        let context = ReportContext(title: "T", version: "9.9", inputs: ["stages/annotate"], seed: 7, stages: [stage],
                                    datasets: [])
        let md = reportMarkdown(context, runs: [RunTables(label: "", tables: ReportTables(chunks: [], seed: 7))])
        XCTAssertTrue(md.contains("| t | lethe-tokenize | --chunk-size 4 8 --separator \"\\n\\n\" --subset-field \"\" |"), md)
    }

    /// A run without gold labels and without counts says so instead of showing empty tables.
    func testReportMarkdownExplainsMissingTables() {
        let chunk = annotateChunk(ChunkInput(dataset: "prose", referenceTokenIDs: [1, 2, 3], reconstructionTokenIDs: [1, 2],
                                             referenceText: "The cat sat.", reconstructionText: "The cat."))
        let context = ReportContext(title: "T", version: "9.9", inputs: ["stages/annotate"], seed: 7,
                                    datasets: [DatasetSummary(name: "prose", chunks: 1, words: 4, lengths: [3], cutAtLengthLimit: 0)])
        let md = reportMarkdown(context, runs: [RunTables(label: "", tables: ReportTables(chunks: [chunk], seed: 7))])
        XCTAssertTrue(md.hasPrefix("# T\n\nMade by lethe-report 9.9 from the annotations in `stages/annotate`: 1 chunk and 4 reference words."), md)
        XCTAssertTrue(md.contains("No words with gold part-of-speech labels (only CoNLL-2003 chunks carry them)."))
        XCTAssertTrue(md.contains("No words with gold named-entity labels"))
        XCTAssertTrue(md.contains("No pretraining counts were given"))
        XCTAssertTrue(md.contains("**Encoder (frozen):** not recorded"))
        XCTAssertTrue(md.contains("All 4 words are prose: 25.0% omitted."), md)
        XCTAssertFalse(md.contains("omission_pos.svg"), "no link to a plot that is not drawn")
        XCTAssertEqual(md, reportMarkdown(context, runs: [RunTables(label: "", tables: ReportTables(chunks: [chunk], seed: 7))]), "the same input gives the same text")
    }

    /// The paper's figures as shipped: the four models' architectures, and the figures quoted in README.md
    /// (mamba-130m: F1 0.986 at 4 tokens, 0.95 at 64, 0.67 at 256).
    func testPaperFiguresAsShipped() throws {
        let figures = PaperFigures.published
        XCTAssertEqual(figures.model(layers: 24, dModel: 768), "mamba-130m")
        XCTAssertEqual(figures.model(layers: 48, dModel: 1024), "mamba-370m")
        XCTAssertEqual(figures.model(layers: 48, dModel: 1536), "mamba-790m")
        XCTAssertEqual(figures.model(layers: 48, dModel: 2048), "mamba-1.4b")
        XCTAssertNil(figures.model(layers: 6, dModel: 128))
        let all = try XCTUnwrap(figures.rouge1F1["all"])
        XCTAssertEqual(Set(all.keys), ["mamba-130m", "mamba-370m", "mamba-790m", "mamba-1.4b"])
        for byLength in all.values { XCTAssertEqual(Set(byLength.keys), Set(ChunkLengthBucket.paperLengths.map(String.init))) }
        XCTAssertEqual(all["mamba-130m"]!["4"]!, 0.986, accuracy: 0.0005)
        XCTAssertEqual(all["mamba-130m"]!["64"]!, 0.95, accuracy: 0.005)
        XCTAssertEqual(all["mamba-130m"]!["256"]!, 0.67, accuracy: 0.005)
        XCTAssertEqual(Set(figures.omissionNER["mamba-130m"]!.keys), Set(NERClass.allCases.map(\.rawValue)))
        // One figure of each dataset and model, as the plot scripts have them (percent), at 256 tokens: a swapped or
        // mistyped series shows here.
        let at256: [String: [String: Double]] = [
            "all": ["mamba-130m": 66.57035469270886, "mamba-370m": 77.87970159536167, "mamba-790m": 87.38561062483873, "mamba-1.4b": 85.93911660059561],
            "DM Mathematics": ["mamba-130m": 41.63264603075177, "mamba-1.4b": 36.70329355813639],
            "ArXiv": ["mamba-130m": 70.26335097910294, "mamba-1.4b": 88.46574968971002],
            "FreeLaw": ["mamba-130m": 64.68701490849533, "mamba-1.4b": 83.41605843258718],
            "StackExchange": ["mamba-130m": 66.32271778275349, "mamba-1.4b": 87.37930253059493],
            "NIH ExPorter": ["mamba-130m": 69.7077027433285, "mamba-1.4b": 90.94997908398244],
            "PubMed Central": ["mamba-130m": 67.1138562402175, "mamba-1.4b": 87.1376068026357],
            "Enron Emails": ["mamba-130m": 65.04356658034244, "mamba-1.4b": 88.06988403078071],
            "Github": ["mamba-130m": 69.28481439118632, "mamba-1.4b": 86.83884464555469],
            "Pile-CC": ["mamba-130m": 69.72167879838855, "mamba-1.4b": 91.70950856588955],
            "aave": ["mamba-130m": 59.73628687418131, "mamba-1.4b": 86.13592011143739],
            "sae": ["mamba-130m": 65.27160837039116, "mamba-1.4b": 89.50576633009611],
        ]
        XCTAssertEqual(Set(figures.rouge1F1.keys), Set(at256.keys))
        for (dataset, models) in at256 {
            XCTAssertEqual(Set(figures.rouge1F1[dataset]!.keys), Set(models.keys), dataset)
            for (model, percent) in models { XCTAssertEqual(figures.rouge1F1[dataset]![model]!["256"]!, percent / 100, accuracy: 1e-12, "\(dataset) \(model)") }
        }
        XCTAssertEqual(figures.omissionPOS["mamba-130m"]!["NUM"]!, 0.515, accuracy: 1e-12)
        XCTAssertEqual(figures.omissionPOS["mamba-1.4b"]!["PUNCT"]!, 0.117, accuracy: 1e-12)
        XCTAssertEqual(figures.omissionNER["mamba-1.4b"]!["ORG"]!, 0.113, accuracy: 1e-12)
        XCTAssertTrue(figures.source.contains("github.com/dataminr-ai/ouroboros"))
    }

    /// The mean over every scored chunk of a length, from rouge.csv's rows: weighted by their chunks.
    func testPooledF1WeighsEachDatasetByItsChunks() {
        let rows = [RougeRow(dataset: "a", length: 4, minLength: 4, maxLength: 4, n: 2, unscored: 0, precision: 0, recall: 0, f1: 0.5, f1Low: 0, f1High: 1),
                    RougeRow(dataset: "b", length: 4, minLength: 4, maxLength: 4, n: 1, unscored: 0, precision: 0, recall: 0, f1: 1, f1Low: 0, f1High: 1),
                    RougeRow(dataset: "b", length: 8, minLength: 8, maxLength: 8, n: 3, unscored: 1, precision: 0, recall: 0, f1: 0.25, f1Low: 0, f1High: 1)]
        let pooled = pooledF1(rows)
        XCTAssertEqual(pooled.map(\.length), [4, 8])
        XCTAssertEqual(pooled[0].f1, 2.0 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(pooled[1].f1, 0.25)
    }

    /// A run whose encoder is one of the paper's models gets the paper's figures beside its own.
    func testReportSetsThePapersFiguresBesideTheRuns() {
        let chunk = annotateChunk(ChunkInput(dataset: "aave", referenceTokenIDs: [1, 2, 3, 4], reconstructionTokenIDs: [1, 2],
                                             referenceText: "we was there yesterday", reconstructionText: "we was"))
        var context = ReportContext(title: "T", version: "9.9", inputs: ["stages/annotate"], seed: 7,
                                    datasets: [DatasetSummary(name: "aave", chunks: 1, words: 4, lengths: [4], cutAtLengthLimit: 0)])
        let runs = [RunTables(label: "", tables: ReportTables(chunks: [chunk], seed: 7))]
        XCTAssertFalse(reportMarkdown(context, runs: runs).contains("## Beside the paper"))
        context.paperModels[""] = "mamba-130m"
        let md = reportMarkdown(context, runs: runs)
        XCTAssertTrue(md.contains("## Beside the paper\n\nThe encoder has the architecture of mamba-130m (24 layers, d_model 768)"), md)
        XCTAssertTrue(md.contains("| all (the paper's chunks) | paper, mamba-130m | 98.6% | 99.7% | 99.2% | 97.8% | 95.2% | 85.0% | 66.6% |"), md)
        XCTAssertTrue(md.contains("| aave | paper, mamba-130m | 99.6% | 99.5% | 98.9% | 96.9% | 94.7% | 82.2% | 59.7% |"), md)
        XCTAssertTrue(md.contains("| aave | this run | 66.7% |  |  |  |  |  |  |"), md)
        XCTAssertTrue(md.contains("| all (this report's chunks) | this run | 66.7% |  |  |  |  |  |  |"), md)
        XCTAssertTrue(md.contains("| ORG | 40.4% |  |"), md)
        XCTAssertTrue(md.contains("Source: Hossain"), md)
    }
}
