import Foundation
import XCTest
@testable import LetheAnalysis
@testable import LetheReport

/// The parts of report.html that are plain functions: report.md's Markdown as HTML, the packed integers and the
/// chunk data the page's script reads, the CSV and SVG embedding. The page in a browser: LetheStagesTests'
/// ReportPageTests.
final class ReportPageUnitTests: XCTestCase {
    func testMarkdownAsReportMdWritesIt() {
        let markdown = """
        # What *lethe* forgets

        Made from `stages/annotate` (a \\| pipe): **5 chunks**, F1 [0.9, 1.0] and [rouge.csv](rouge.csv).
        A second line, 3 * 4 & <b>.

        - **Encoder:** `models/a`
        - plain

        ![ROUGE-1 F1](rouge.svg)

        ![Missing](missing.svg)

        | dataset | length | note |
        | --- | ---: | :---: |
        | a\\|b | 4 | `x\\|y` |

        ````text
        a ``` b <i>
        ````

        """
        let html = markdownHTML(markdown, image: { source, alt in source == "rouge.svg" ? "<svg>\(alt)</svg>" : nil },
                                link: { "#file-" + $0 })
        XCTAssertEqual(html, """
        <h1 id="section-what-lethe-forgets">What <em>lethe</em> forgets</h1>
        <p>Made from <code>stages/annotate</code> (a | pipe): <strong>5 chunks</strong>, F1 [0.9, 1.0] and <a href="#file-rouge.csv">rouge.csv</a>. A second line, 3 * 4 &amp; &lt;b&gt;.</p>
        <ul>
        <li><strong>Encoder:</strong> <code>models/a</code></li>
        <li>plain</li>
        </ul>
        <figure><svg>ROUGE-1 F1</svg></figure>
        <figure><img src="missing.svg" alt="Missing"></figure>
        <table>
        <thead><tr><th>dataset</th><th class="right">length</th><th class="center">note</th></tr></thead>
        <tbody>
        <tr><td>a|b</td><td class="right">4</td><td class="center"><code>x|y</code></td></tr>
        </tbody>
        </table>
        <pre><code>a ``` b &lt;i&gt;</code></pre>

        """)
    }

    /// Every table row, heading and paragraph kind that report.md has comes through: the fixture report's
    /// Markdown rendered has as many table rows, headings and figures as it has lines of each.
    func testTheFixtureReportRendersWhole() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/report/expected/report.md")
        let markdown = try String(contentsOf: url, encoding: .utf8)
        let html = markdownHTML(markdown, image: { _, alt in "<svg>\(alt)</svg>" })
        let lines = markdown.components(separatedBy: "\n")
        func count(_ text: String, _ part: String) -> Int { text.components(separatedBy: part).count - 1 }
        XCTAssertEqual(count(html, "<tr>"), lines.filter { $0.hasPrefix("|") && !$0.hasPrefix("| ---") }.count)
        XCTAssertEqual(count(html, "<h2 "), lines.filter { $0.hasPrefix("## ") }.count)
        XCTAssertEqual(count(html, "<figure>"), lines.filter { $0.hasPrefix("![") }.count)
        XCTAssertEqual(count(html, "<pre><code>"), lines.filter { $0.hasPrefix("```") }.count / 2)
        XCTAssertFalse(html.contains("**"), "unrendered strong")
        XCTAssertFalse(html.contains("]("), "unrendered link")
    }

    func testPackedIntegers() {
        var text = ""
        for value in [0, 31, 32, 1023, 1024, 123_456_789] { PackedIntegers.append(value, to: &text) }
        // 0 → A; 31 → f; 32 → g (0 with "more"), B (1); 1023 → _ (31 with "more"), f (31).
        XCTAssertTrue(text.hasPrefix("AfgB_f"))
        XCTAssertEqual(PackedIntegers.decode(text), [0, 31, 32, 1023, 1024, 123_456_789])
    }

    func word(_ text: String, _ position: Int, retained: Bool, pos: POSClass? = nil) -> WordAnnotation {
        WordAnnotation(word: text, position: position, retained: retained, pos: pos, ner: nil,
                       wordClass: WordClass.classify([text], at: 0, mathChunk: false))
    }

    func chunk(_ reference: String, _ words: [WordAnnotation]) -> ChunkAnnotation {
        ChunkAnnotation(dataset: "prose", length: 9, reference: reference, reconstruction: "x", rouge1: RougeScore(precision: 1, recall: 0.5, f1: 0.625),
                        words: words, tokenFates: [], insertedTokens: 0, tokenFrequencies: nil)
    }

    /// Each word as (gap, length, tag) in UTF-16 units of the reference, as JavaScript indexes it: 𝔸 is two.
    func testChunkBrowserLocatesWordsInUTF16() throws {
        var browser = ChunkBrowser()
        browser.add(id: "shard-000000/a", chunk: chunk("  𝔸 said \"no\" <", [
            word("𝔸", 0, retained: true, pos: .noun), word("said", 1, retained: false, pos: .verb), word("``", 2, retained: true),
            word("no", 3, retained: false, pos: .x), word("''", 4, retained: true), word("<", 5, retained: false),
        ]))
        let data = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try browser.json(categoryOrder: [:]).utf8)) as? [String: Any])
        let chunks = try XCTUnwrap(data["chunks"] as? [String: Any])
        XCTAssertEqual(chunks["reference"] as? [String], ["  𝔸 said \"no\" <"])
        let packed = PackedIntegers.decode(try XCTUnwrap((chunks["words"] as? [String])?.first))
        let gaps = stride(from: 0, to: packed.count, by: 3).map { packed[$0] }
        let lengths = stride(from: 1, to: packed.count, by: 3).map { packed[$0] }
        XCTAssertEqual(gaps, [2, 1, 1, 0, 0, 1])
        XCTAssertEqual(lengths, [2, 4, 1, 2, 1, 1])
        // Tags: [pos, ner, class, omitted]; X is left out of the POS table as the reference leaves it out.
        let tags = try XCTUnwrap(data["tags"] as? [[Any]])
        let tagOfWord = stride(from: 2, to: packed.count, by: 3).map { packed[$0] }
        XCTAssertEqual(tags[tagOfWord[0]][0] as? String, "NOUN")
        XCTAssertEqual(tags[tagOfWord[0]][3] as? Bool, false)
        XCTAssertEqual(tags[tagOfWord[1]][3] as? Bool, true)
        XCTAssertTrue(tags[tagOfWord[3]][0] is NSNull)
        XCTAssertEqual(chunks["f1"] as? [Double], [0.625])
        XCTAssertEqual(chunks["id"] as? [String], ["shard-000000/a"])
        // No "<" in the JSON, so it can sit in a script element.
        XCTAssertFalse(try browser.json(categoryOrder: [:]).contains("<"))
    }

    /// A word not found in the reference: the reference is shown as its words joined by spaces.
    func testChunkBrowserFallsBackToTheWords() throws {
        var browser = ChunkBrowser()
        browser.add(id: "a", chunk: chunk("one two", [word("one", 0, retained: true), word("three", 1, retained: false)]))
        browser.add(id: "b", chunk: chunk("...", []))
        let data = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try browser.json(categoryOrder: [:]).utf8)) as? [String: Any])
        let chunks = try XCTUnwrap(data["chunks"] as? [String: Any])
        XCTAssertEqual(chunks["reference"] as? [String], ["one three", "..."])
        XCTAssertEqual(PackedIntegers.decode((chunks["words"] as! [String])[0]).enumerated().filter { $0.offset % 3 != 2 }.map(\.element),
                       [0, 3, 1, 5])
        // A word that is not even in the joined text (it starts with a space): kept, empty, where the last ended.
        var spaced = ChunkBrowser()
        spaced.add(id: "c", chunk: chunk("one two", [word("one", 0, retained: true), word(" two", 1, retained: false)]))
        let spacedData = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try spaced.json(categoryOrder: [:]).utf8)) as? [String: Any])
        let spacedWords = PackedIntegers.decode(((spacedData["chunks"] as! [String: Any])["words"] as! [String])[0])
        XCTAssertEqual(spacedWords.enumerated().filter { $0.offset % 3 != 2 }.map(\.element), [0, 3, 0, 0])
        // ROUGE-1 cannot score "...": no F1.
        XCTAssertEqual((chunks["f1"] as? [Any])?.count, 2)
        XCTAssertTrue((chunks["f1"] as! [Any])[1] is NSNull)
    }

    func testCSVTableKeepsEveryCellAsWritten() {
        XCTAssertEqual(csvRows("a,b\n\"x, \"\"y\"\"\",0.1000000000\n,\n"), [["a", "b"], ["x, \"y\"", "0.1000000000"], ["", ""]])
        XCTAssertEqual(csvTableHTML("a,b\n<1>,2\n"), """
        <table class="data">
        <thead><tr><th>a</th><th>b</th></tr></thead>
        <tbody>
        <tr><td>&lt;1&gt;</td><td>2</td></tr>
        </tbody>
        </table>

        """)
    }

    func testInlineSVGDropsTheDeclaration() {
        XCTAssertEqual(inlineSVG("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"x\"><text/></svg>\n", label: "F1 \"by\" length"),
                       "<svg role=\"img\" aria-label=\"F1 &quot;by&quot; length\" xmlns=\"x\"><text/></svg>")
    }
}
