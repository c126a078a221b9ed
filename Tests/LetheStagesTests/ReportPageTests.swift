import Foundation
import XCTest
@testable import LetheAnalysis
import LethePipeline
@testable import LetheReport
import LetheShards
import LetheTestSupport

/// report.html in a real browser: the fixture report (ExpectedReportTests.produce) opened in headless Chromium
/// (Debian's chromium; `make test` installs it when missing), the page's state set through its address
/// (#dataset=...&bucket=...), and the DOM Chromium serialises after the page's script ran read back. Every count
/// the browser shows is held against the CSV files lethe-report wrote beside it, or, where no CSV has it (an F1
/// range, a search), against the annotations themselves; means against the CSVs' ten significant digits.
final class ReportPageTests: XCTestCase {
    struct Report {
        let sandbox: Sandbox
        let csv: [String: [[String: String]]]
        let plots: Int
        /// Every annotated chunk, by its id in the page (shard and key).
        let chunks: [(id: String, annotation: ChunkAnnotation)]
        var page: URL { sandbox.path("outputs/report.html") }
    }

    nonisolated(unsafe) static var shared: Report?

    /// The fixture's report, made once for the class.
    func report() throws -> Report {
        if let shared = Self.shared { return shared }
        let sandbox = try Sandbox()
        let files = try ExpectedReportTests.produce(in: sandbox)
        var csv: [String: [[String: String]]] = [:]
        for (name, bytes) in files where name.hasSuffix(".csv") {
            let rows = try parseCSV(String(decoding: bytes, as: UTF8.self))
            csv[name] = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
        }
        let annotate = sandbox.path("stages/annotate")
        let manifest = try XCTUnwrap(try StageFolder(url: annotate).manifest())
        var chunks: [(String, ChunkAnnotation)] = []
        for shard in manifest.shards {
            for sample in try ShardReader.readAll(annotate.appendingPathComponent(shard.name)) {
                let id = shard.name.replacingOccurrences(of: ".tar.zst", with: "") + "/" + sample.key
                chunks.append((id, try ChunkAnnotation(jsonData: Data(sample.data("words.json")!), source: id)))
            }
        }
        let report = Report(sandbox: sandbox, csv: csv, plots: files.keys.filter { $0.hasSuffix(".svg") }.count, chunks: chunks)
        Self.shared = report
        return report
    }

    override class func tearDown() {
        shared?.sandbox.cleanUp()
        shared = nil
    }

    // MARK: - Loading

    func testPageLoadsWithNoConsoleMessageAndNothingFromTheNetwork() throws {
        let report = try report()
        let page = try Chromium.load(report.page)
        XCTAssertEqual(page.console, [], "the page wrote to the console")
        XCTAssertTrue(page.dom.contains("<div id=\"errors\" role=\"alert\" hidden=\"\"></div>"), "the page reported an error")
        let html = try String(contentsOf: report.page, encoding: .utf8)
        // Every load is forbidden, so a self-contained page loads with no console message (a blocked load gives one).
        XCTAssertTrue(html.contains("content=\"default-src 'none';"))
        XCTAssertEqual(page.summary["s-chunks"], Double(report.chunks.count))
        // Every plot is inline, every CSV a table.
        for name in report.csv.keys { XCTAssertTrue(page.dom.contains("<details id=\"file-\(name)\">"), name) }
        XCTAssertEqual(page.dom.components(separatedBy: "<svg role=\"img\"").count - 1, report.plots, "inline plots")
    }

    // MARK: - Counts beside each choice and in the summary

    func testEachDatasetAndLengthShowsTheCountsOfTheCSVs() throws {
        let report = try report()
        let rouge = try XCTUnwrap(report.csv["rouge.csv"]), omission = try XCTUnwrap(report.csv["omission_dataset.csv"])
        let all = try Chromium.load(report.page)
        let datasets = all.options("f-dataset")
        XCTAssertEqual(Set(datasets.keys), Set(report.chunks.map(\.annotation.dataset)))
        for (dataset, option) in datasets {
            let rows = rouge.filter { $0["dataset"] == dataset }
            let words = try XCTUnwrap(omission.first { $0["category"] == dataset }, dataset)
            XCTAssertEqual(option["chunks"], Double(report.chunks.filter { $0.annotation.dataset == dataset }.count), dataset)
            XCTAssertEqual(option["scored"], rows.reduce(0) { $0 + Double($1["n"]!)! }, dataset)
            XCTAssertEqual(option["words"], Double(words["n"]!), dataset)
            XCTAssertEqual(option["omitted"], Double(words["omitted"]!), dataset)

            let page = try Chromium.load(report.page, fragment: "dataset=\(dataset)")
            XCTAssertEqual(page.console, [])
            XCTAssertEqual(page.summary["s-words"], Double(words["n"]!), dataset)
            XCTAssertEqual(page.summary["s-omitted"], Double(words["omitted"]!), dataset)
            let buckets = page.options("f-bucket")
            for row in rows {
                let bucket = try XCTUnwrap(buckets[row["length"]!], "\(dataset) \(row["length"]!)")
                XCTAssertEqual(bucket["scored"], Double(row["n"]!), "\(dataset) \(row["length"]!)")
                XCTAssertEqual(bucket["chunks"], Double(row["n"]!)! + Double(row["unscored"]!)!, "\(dataset) \(row["length"]!)")
                assertTenDigits(bucket["f1"], row["f1"]!, "\(dataset) \(row["length"]!)")
            }
            // Buckets without a row have no scored chunk.
            for (length, bucket) in buckets where !rows.contains(where: { $0["length"] == length }) {
                XCTAssertEqual(bucket["scored"], 0, "\(dataset) \(length)")
            }
        }
        // One row through the summary, precision and recall included.
        let row = try XCTUnwrap(rouge.first { Int($0["n"]!)! > 1 })
        let page = try Chromium.load(report.page, fragment: "dataset=\(row["dataset"]!)&bucket=\(row["length"]!)")
        XCTAssertEqual(page.summary["s-scored"], Double(row["n"]!))
        for measure in ["precision", "recall", "f1"] { assertTenDigits(page.summary["s-\(measure)"], row[measure]!, measure) }
    }

    func testEachCategoryShowsTheCountsOfItsCSV() throws {
        let report = try report()
        let options = try Chromium.load(report.page).options("f-category")
        var expected: Set<String> = []
        for table in ChunkBrowser.categoryTables {
            for row in try XCTUnwrap(report.csv["omission_\(table).csv"]) {
                let key = table + ":" + row["category"]!
                expected.insert(key)
                let option = try XCTUnwrap(options[key], key)
                XCTAssertEqual(option["words"], Double(row["n"]!), key)
                XCTAssertEqual(option["omitted"], Double(row["omitted"]!), key)
            }
        }
        XCTAssertEqual(Set(options.keys), expected)
        // A chosen category: its words in the summary, and only chunks holding one.
        let row = try XCTUnwrap(report.csv["omission_ner.csv"]?.first)
        let page = try Chromium.load(report.page, fragment: "category=ner:\(row["category"]!)")
        XCTAssertEqual(page.summary["s-category-words"], Double(row["n"]!))
        XCTAssertEqual(page.summary["s-category-omitted"], Double(row["omitted"]!))
        XCTAssertEqual(page.summary["s-chunks"], Double(report.chunks.filter { $0.annotation.words.contains { $0.ner?.rawValue == row["category"]! } }.count))
    }

    func testF1RangeAndSearchCountTheChunksTheAnnotationsGive() throws {
        let report = try report()
        let range = try Chromium.load(report.page, fragment: "f1min=0.5&f1max=0.95")
        XCTAssertEqual(range.summary["s-chunks"], Double(report.chunks.filter {
            Rouge.canScore(reference: $0.annotation.reference) && (0.5...0.95).contains($0.annotation.rouge1.f1)
        }.count))
        for query in ["the", "Of"] {
            let page = try Chromium.load(report.page, fragment: "q=\(query)")
            let found = report.chunks.filter {
                $0.annotation.reference.lowercased().contains(query.lowercased()) || $0.annotation.reconstruction.lowercased().contains(query.lowercased())
            }
            XCTAssertGreaterThan(found.count, 0)
            XCTAssertEqual(page.summary["s-chunks"], Double(found.count), query)
        }
    }

    // MARK: - One chunk

    /// The chosen chunk's reference shows each word once, marked omitted exactly when annotate said so; its
    /// reconstruction is the annotated text. Checked on the first chunk of each dataset with both kinds of word,
    /// and on the first and last chunk.
    func testAChunkShowsExactlyTheWordsAnnotateMarkedOmitted() throws {
        let report = try report()
        let mixed = report.chunks.filter { c in c.annotation.words.contains { $0.retained } && c.annotation.words.contains { !$0.retained } }
        let chosen = Dictionary(grouping: mixed, by: \.annotation.dataset).values.map { $0[0] }
        XCTAssertGreaterThan(chosen.count, 4)
        for (id, annotation) in chosen + [report.chunks.first!, report.chunks.last!] {
            let page = try Chromium.load(report.page, fragment: "chunk=\(id)")
            XCTAssertEqual(page.console, [], id)
            let shown = page.detailWords()
            XCTAssertEqual(shown.count, annotation.words.count, id)
            for (word, (text, omitted)) in zip(annotation.words, shown) {
                XCTAssertEqual(omitted, !word.retained, "\(id): \(word.word)")
                XCTAssertTrue(text == word.word || (["``", "''"].contains(word.word) && ["\"", "``", "''"].contains(text)),
                              "\(id): shown \(text) for \(word.word)")
            }
            XCTAssertEqual(page.element("pre", id: "detail-reconstruction").map(unescapeHTML), annotation.reconstruction, id)
        }
    }

    // MARK: - Size

    /// With 100,000 chunks only the rows in view are in the document.
    func testOnlyTheRowsInViewAreDrawn() throws {
        var browser = ChunkBrowser()
        let sentence = "the committee said on Tuesday that 42 members of the ORG voted"
        for i in 0..<100_000 {
            let words = sentence.split(separator: " ").enumerated().map { k, word in
                WordAnnotation(word: String(word), position: k, retained: (i + k) % 3 != 0, pos: nil, ner: nil, wordClass: .word)
            }
            browser.add(id: "chunk-\(i)", chunk: ChunkAnnotation(
                dataset: i % 2 == 0 ? "prose" : "news", length: 14, reference: sentence, reconstruction: "the committee said",
                rouge1: RougeScore(precision: 1, recall: 0.25, f1: 0.4), words: words, tokenFates: [], insertedTokens: 0,
                tokenFrequencies: nil))
        }
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let html = reportHTML(title: "100,000 chunks", markdown: "# 100,000 chunks\n", files: [],
                              chunks: try browser.json(categoryOrder: ["class": ["word"]]))
        try sandbox.write("report.html", html)
        let page = try Chromium.load(sandbox.path("report.html"), fragment: "dataset=news")
        XCTAssertEqual(page.console, [])
        XCTAssertEqual(page.summary["s-chunks"], 50_000)
        var omitted = 0
        for i in stride(from: 1, to: 100_000, by: 2) { omitted += (0..<12).filter { (i + $0) % 3 == 0 }.count }
        XCTAssertEqual(page.summary["s-omitted"], Double(omitted))
        let rows = page.dom.components(separatedBy: "<div class=\"row").count - 1
        XCTAssertGreaterThan(rows, 0)
        XCTAssertLessThan(rows, 60, "rows drawn out of view")
    }

    /// Texts, dataset names and the title are shown as written, never run as markup; filters the address gives
    /// that are none of the choices are dropped.
    func testTextIsShownAsWrittenNeverAsMarkup() throws {
        let reference = "a </script> <img src=x onerror=\"document.title='hacked'\"> &amp; \"q\""
        let words = ["a", "</script>", "<img", "src=x", "onerror=\"document.title='hacked'\">", "&amp;", "\"q\""]
        var browser = ChunkBrowser()
        browser.add(id: "shard-000000/<k>", chunk: ChunkAnnotation(
            dataset: "<i>d&\"", length: 9, reference: reference, reconstruction: "<b>not bold</b>",
            rouge1: RougeScore(precision: 1, recall: 0.125, f1: 0.25),
            words: words.enumerated().map { WordAnnotation(word: $1, position: $0, retained: $0 % 2 == 0, pos: nil, ner: nil, wordClass: .word) },
            tokenFates: [], insertedTokens: 0, tokenFrequencies: nil))
        // A chunk ROUGE-1 cannot score: an F1 bound that is not a number must not leave it out.
        browser.add(id: "shard-000000/unscored", chunk: ChunkAnnotation(
            dataset: "<i>d&\"", length: 1, reference: "...", reconstruction: "", rouge1: RougeScore(precision: 0, recall: 0, f1: 0),
            words: [], tokenFates: [], insertedTokens: 0, tokenFrequencies: nil))
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let title = "</title><script>document.title='hacked'</script>"
        try sandbox.write("report.html", reportHTML(title: title, markdown: "# <Title> & co\n",
                                                    files: [], chunks: try browser.json(categoryOrder: [:])))
        let page = try Chromium.load(sandbox.path("report.html"), fragment: "chunk=shard-000000/<k>&dataset=nope&f1min=abc&bucket=7")
        XCTAssertEqual(page.console, [])
        XCTAssertTrue(page.dom.contains("<title>&lt;/title&gt;&lt;script&gt;document.title='hacked'&lt;/script&gt;</title>"), "the title ran")
        XCTAssertFalse(page.dom.contains("<img src"), "a text became an element")
        XCTAssertEqual(page.detailWords().map(\.0), words)
        XCTAssertEqual(page.detailWords().map(\.1), words.indices.map { $0 % 2 == 1 })
        XCTAssertEqual(page.element("pre", id: "detail-reconstruction").map(unescapeHTML), "<b>not bold</b>")
        XCTAssertNotNil(page.options("f-dataset")["<i>d&\""])
        XCTAssertTrue(page.dom.contains("&lt;Title&gt; &amp; co</h1>"))
        // The unknown dataset, bound and bucket were dropped: both chunks show.
        XCTAssertEqual(page.summary["s-chunks"], 2)
    }

    func assertTenDigits(_ shown: Double?, _ csv: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let shown, let expected = Double(csv) else { return XCTFail("\(what): no value (CSV \(csv))", file: file, line: line) }
        // The CSV holds ten significant digits (%.10g).
        XCTAssertEqual(shown, expected, accuracy: 5e-10 * max(abs(expected), 1e-300) + 1e-15, what, file: file, line: line)
    }
}

/// Headless Chromium: a page loaded, its script run, its DOM serialised.
enum Chromium {
    struct Page {
        let dom: String
        /// What the page wrote to the console (Chromium logs each message as a CONSOLE line), errors included.
        let console: [String]

        /// The summary's numbers by element id (their data-value).
        var summary: [String: Double] {
            var values: [String: Double] = [:]
            for match in dom.matches(of: #/<span id="(s-[a-z0-9-]+)" data-value="([^"]*)">/#) {
                values[String(match.1)] = Double(String(match.2))
            }
            return values
        }

        /// A select's options (bar "all"), each with its data-* numbers.
        func options(_ select: String) -> [String: [String: Double]] {
            guard let body = element("select", id: select) else { return [:] }
            var options: [String: [String: Double]] = [:]
            for match in body.matches(of: #/<option value="([^"]+)"([^>]*)>/#) {
                var numbers: [String: Double] = [:]
                for attribute in String(match.2).matches(of: #/data-([a-z0-9]+)="([^"]*)"/#) {
                    numbers[String(attribute.1)] = Double(String(attribute.2))
                }
                options[unescapeHTML(String(match.1))] = numbers
            }
            return options
        }

        /// The inner HTML of the element `<tag id="id">`.
        func element(_ tag: String, id: String) -> String? {
            guard let start = dom.range(of: "<\(tag) id=\"\(id)\"") else { return nil }
            guard let open = dom[start.upperBound...].range(of: ">"),
                  let close = dom[open.upperBound...].range(of: "</\(tag)>") else { return nil }
            return String(dom[open.upperBound..<close.lowerBound])
        }

        /// The chosen chunk's reference words as shown: text and whether marked omitted.
        func detailWords() -> [(String, Bool)] {
            (element("pre", id: "detail-reference") ?? "").matches(of: #/<span class="w (kept|omitted)[^"]*"[^>]*>([^<]*)</span>/#).map {
                (unescapeHTML(String($0.2)), $0.1 == "omitted")
            }
        }
    }

    static func executable() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let url = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
        }
        throw ChromiumError("no chromium on PATH: `make test` installs Debian's chromium (make deps)")
    }

    /// Loads `file` with `fragment` as the address's fragment, in a fresh profile; fails after two minutes.
    static func load(_ file: URL, fragment: String = "") throws -> Page {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let output = profile.appendingPathComponent("dom.html"), log = profile.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        var address = URLComponents(url: file, resolvingAgainstBaseURL: false)!
        if !fragment.isEmpty { address.fragment = fragment }
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
                             "--enable-logging=stderr", "--v=0", "--dump-dom", address.url!.absoluteString]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            throw ChromiumError("chromium did not finish loading \(file.lastPathComponent) in two minutes")
        }
        let dom = try String(contentsOf: output, encoding: .utf8)
        let console = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        guard process.terminationStatus == 0, dom.contains("</html>") else {
            throw ChromiumError("chromium exited with \(process.terminationStatus): \(try String(contentsOf: log, encoding: .utf8).suffix(2000))")
        }
        return Page(dom: dom, console: console)
    }

    struct ChromiumError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// Text as the DOM serialiser escapes it, unescaped.
func unescapeHTML(_ text: String) -> String {
    text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&nbsp;", with: "\u{a0}")
        .replacingOccurrences(of: "&amp;", with: "&")
}
