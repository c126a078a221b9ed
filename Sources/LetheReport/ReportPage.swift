// report.html: one self-contained page (no network: a Content-Security-Policy forbids every load) with
// report.md rendered, each plot's SVG inline, every CSV as a table, and a browser of the chunks
// (Resources/report.js over ChunkBrowser's data). Plain values in, the same bytes out.

import Foundation
import LetheAnalysis

/// The page for a report: `markdown` is report.md; `files` the report's CSV and SVG files by name, in the order the
/// data tables should appear; `chunks` the browser's data (ChunkBrowser.json).
public func reportHTML(title: String, markdown: String, files: [(name: String, contents: String)], chunks: String) -> String {
    let contents = Dictionary(files, uniquingKeysWith: { first, _ in first })
    let report = markdownHTML(markdown, image: { source, alt in
        guard let svg = contents[source], source.hasSuffix(".svg") else { return nil }
        return inlineSVG(svg, label: alt)
    }, link: { target in contents[target] != nil && target.hasSuffix(".csv") ? "#" + fileAnchor(target) : target })
    var tables = ""
    for (name, csv) in files where name.hasSuffix(".csv") {
        tables += "<details id=\"\(fileAnchor(name))\"><summary>\(escapeMarkup(name))</summary>\n" + csvTableHTML(csv) + "</details>\n"
    }
    let script = String(decoding: PackageResources.report_js, as: UTF8.self)
    let style = String(decoding: PackageResources.report_css, as: UTF8.self)
    return """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
    <title>\(escapeMarkup(title))</title>
    <style>
    \(style)</style>
    </head>
    <body>
    <nav><a href="#report">Report</a> <a href="#chunks">Chunks</a> <a href="#files">Data files</a></nav>
    <div id="errors" role="alert" hidden></div>
    <main>
    <article id="report">
    \(report)</article>
    <section id="chunks">
    <h2>Chunks</h2>
    <p>Every chunk of the report, its reference beside its reconstruction. Omitted reference words are
    <span class="w omitted">struck out</span>; words of the chosen category are <span class="w kept in-category">outlined</span>.
    Filters combine (the run filter when the report compares runs); the count beside each choice is what it would show with the other filters as they are.
    The length is the chunk's bucket (the smallest of the paper's lengths at or above its own), F1 is ROUGE-1 F1
    (a chunk whose reference ROUGE-1 cannot score has none, and a set F1 range leaves it out), and the search finds
    text in the reference or the reconstruction, in any case. The address keeps the filters and the chosen chunk.</p>
    <form id="filters">
    <label>Run <select id="f-run"></select></label>
    <label>Dataset <select id="f-dataset"></select></label>
    <label>Length <select id="f-bucket"></select></label>
    <label>Category <select id="f-category"></select></label>
    <label>F1 from <input id="f-f1min" type="number" min="0" max="1" step="0.01" placeholder="0"></label>
    <label>to <input id="f-f1max" type="number" min="0" max="1" step="0.01" placeholder="1"></label>
    <label>Search <input id="f-q" type="search" placeholder="text"></label>
    </form>
    <p id="summary"></p>
    <div id="chunk-list"><div class="spacer"></div></div>
    <div id="chunk-detail"></div>
    </section>
    <section id="files">
    <h2>Data files</h2>
    <p>Every table of the report as its CSV file holds it.</p>
    \(tables)</section>
    </main>
    <script type="application/json" id="lethe-chunks">\(chunks)</script>
    <script>
    \(script)</script>
    </body>
    </html>

    """
}

func fileAnchor(_ name: String) -> String { "file-" + name }

/// An SVG file as inline markup: its XML declaration dropped, labelled for screen readers.
func inlineSVG(_ svg: String, label: String) -> String {
    var body = Substring(svg)
    if body.hasPrefix("<?xml"), let end = body.range(of: "?>") { body = body[end.upperBound...] }
    let markup = body.trimmingCharacters(in: .whitespacesAndNewlines)
    return markup.replacingOccurrences(of: "<svg ", with: "<svg role=\"img\" aria-label=\"\(escapeMarkup(label))\" ",
                                       options: [.anchored])
}

/// A CSV file (RFC 4180: quoted fields, doubled quotes) as an HTML table, its cells exactly as in the file.
func csvTableHTML(_ csv: String) -> String {
    let rows = csvRows(csv)
    guard let header = rows.first else { return "<p>(empty)</p>\n" }
    var html = "<table class=\"data\">\n<thead><tr>" + header.map { "<th>\(escapeMarkup($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
    for row in rows.dropFirst() { html += "<tr>" + row.map { "<td>\(escapeMarkup($0))</td>" }.joined() + "</tr>\n" }
    return html + "</tbody>\n</table>\n"
}

func csvRows(_ text: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false, atFieldStart = true
    var characters = Array(text)[...]
    while let c = characters.popFirst() {
        if quoted {
            if c == "\"" {
                if characters.first == "\"" { field.append("\""); characters.removeFirst() } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" && atFieldStart {
            quoted = true; atFieldStart = false
        } else if c == "," {
            row.append(field); field = ""; atFieldStart = true
        } else if c == "\n" || c == "\r\n" {
            row.append(field); rows.append(row); row = []; field = ""; atFieldStart = true
        } else {
            field.append(c); atFieldStart = false
        }
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}
