// report.md as HTML, for report.html: the report's prose has one home (MarkdownReport), and the page shows the
// same words. Only the Markdown that MarkdownReport writes is rendered: ATX headings, paragraphs, "- " lists,
// pipe tables with alignment, fenced code blocks, and inline code, links, images, **strong**, *emphasis* and
// backslash escapes. Anything else stays as text.

import Foundation
import LetheAnalysis

/// Renders `markdown` as HTML. An image's place gets `image(source, alt)` when that returns markup (report.html
/// puts each plot's SVG inline), else an <img>; a link's target is `link(target)`.
public func markdownHTML(_ markdown: String, image: @escaping (String, String) -> String? = { _, _ in nil },
                         link: @escaping (String) -> String = { $0 }) -> String {
    var renderer = MarkdownHTMLRenderer(image: image, link: link)
    return renderer.render(markdown.components(separatedBy: "\n"))
}

struct MarkdownHTMLRenderer {
    let image: (String, String) -> String?
    let link: (String) -> String
    var out = ""

    mutating func render(_ lines: [String]) -> String {
        var i = 0
        func isBlank(_ k: Int) -> Bool { lines[k].trimmingCharacters(in: .whitespaces).isEmpty }
        while i < lines.count {
            let line = lines[i]
            if isBlank(i) { i += 1; continue }
            if let fence = Self.fence(line) {
                var body: [String] = []
                i += 1
                while i < lines.count && lines[i] != fence { body.append(lines[i]); i += 1 }
                i += 1
                out += "<pre><code>" + escapeMarkup(body.joined(separator: "\n")) + "</code></pre>\n"
            } else if let (level, text) = Self.heading(line) {
                out += "<h\(level) id=\"section-\(Self.anchor(text))\">\(inline(text))</h\(level)>\n"
                i += 1
            } else if line.hasPrefix("|"), i + 1 < lines.count, let alignments = Self.alignments(lines[i + 1]) {
                var rows: [[String]] = []
                var k = i + 2
                while k < lines.count && lines[k].hasPrefix("|") { rows.append(Self.cells(lines[k])); k += 1 }
                table(header: Self.cells(line), alignments: alignments, rows: rows)
                i = k
            } else if line.hasPrefix("- ") {
                out += "<ul>\n"
                while i < lines.count && lines[i].hasPrefix("- ") {
                    out += "<li>" + inline(String(lines[i].dropFirst(2))) + "</li>\n"
                    i += 1
                }
                out += "</ul>\n"
            } else {
                var paragraph: [String] = []
                while i < lines.count && !isBlank(i) && Self.fence(lines[i]) == nil && Self.heading(lines[i]) == nil
                        && !lines[i].hasPrefix("- ") && !lines[i].hasPrefix("|") {
                    paragraph.append(lines[i]); i += 1
                }
                if paragraph.isEmpty { paragraph.append(line); i += 1 }
                let text = paragraph.joined(separator: " ")
                let rendered = inline(text)
                // A paragraph that is one image is a figure.
                out += Self.soleImage(text) != nil ? "<figure>\(rendered)</figure>\n" : "<p>\(rendered)</p>\n"
            }
        }
        return out
    }

    mutating func table(header: [String], alignments: [String?], rows: [[String]]) {
        func cellTag(_ tag: String, _ column: Int, _ text: String) -> String {
            let align = column < alignments.count ? alignments[column].map { " class=\"\($0)\"" } ?? "" : ""
            return "<\(tag)\(align)>\(inline(text))</\(tag)>"
        }
        out += "<table>\n<thead><tr>" + header.enumerated().map { cellTag("th", $0, $1) }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows { out += "<tr>" + row.enumerated().map { cellTag("td", $0, $1) }.joined() + "</tr>\n" }
        out += "</tbody>\n</table>\n"
    }

    /// The closing fence of a line that opens a fenced block (three or more backticks, then an info string).
    static func fence(_ line: String) -> String? {
        let ticks = line.prefix { $0 == "`" }
        return ticks.count >= 3 && !line.dropFirst(ticks.count).contains("`") ? String(ticks) : nil
    }

    static func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix { $0 == "#" }
        guard (1...6).contains(hashes.count), line.dropFirst(hashes.count).first == " " else { return nil }
        return (hashes.count, String(line.dropFirst(hashes.count + 1)))
    }

    /// A heading's id, after "section-" (so that no title takes an id of the page's own): lowercase letters and
    /// digits, other runs as one hyphen.
    static func anchor(_ text: String) -> String {
        var id = "", pendingHyphen = false
        for c in text.lowercased() {
            if c.isLetter || c.isNumber {
                if pendingHyphen && !id.isEmpty { id += "-" }
                id.append(c); pendingHyphen = false
            } else { pendingHyphen = true }
        }
        return id
    }

    /// A table's delimiter row ("| --- | ---: |"): each column's alignment, nil for the default.
    static func alignments(_ line: String) -> [String?]? {
        guard line.hasPrefix("|") else { return nil }
        let columns = cells(line)
        guard !columns.isEmpty, columns.allSatisfy({ $0.range(of: "^:?-+:?$", options: .regularExpression) != nil }) else { return nil }
        return columns.map { $0.hasSuffix(":") ? ($0.hasPrefix(":") ? "center" : "right") : nil }
    }

    /// A table row's cells, split at pipes that are not escaped, trimmed; an escaped pipe is a pipe, in code spans
    /// too (as GitHub renders tables).
    static func cells(_ line: String) -> [String] {
        var cells: [String] = [], current = "", escaped = false
        func finish() { cells.append(current.trimmingCharacters(in: .whitespaces)) }
        for c in line.dropFirst() {
            if c == "|" {
                if escaped { current.removeLast(); current.append(c); escaped = false; continue }
                finish(); current = ""; continue
            }
            escaped = c == "\\" && !escaped
            current.append(c)
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { finish() }
        return cells
    }

    /// The image a paragraph consists of, if it is nothing else.
    static func soleImage(_ text: String) -> (alt: String, source: String)? {
        guard text.hasPrefix("!["), text.hasSuffix(")"), let close = text.range(of: "]("),
              !text[close.upperBound...].dropLast().contains(")") else { return nil }
        return (String(text[text.index(text.startIndex, offsetBy: 2)..<close.lowerBound]),
                String(text[close.upperBound..<text.index(before: text.endIndex)]))
    }

    /// Inline markup: code spans, images, links, **strong**, *emphasis*, backslash escapes; the rest escaped.
    func inline(_ text: String) -> String {
        let c = Array(text)
        var html = "", i = 0
        func find(_ target: [Character], from start: Int) -> Int? {
            var k = start
            while k + target.count <= c.count {
                if c[k] == "\\" && target != ["`"] { k += 2; continue }
                if Array(c[k..<(k + target.count)]) == target { return k }
                k += 1
            }
            return nil
        }
        while i < c.count {
            let ch = c[i]
            if ch == "\\", i + 1 < c.count, c[i + 1].isASCII, c[i + 1].isPunctuation || c[i + 1].isSymbol {
                html += escapeMarkup(String(c[i + 1])); i += 2
            } else if ch == "`" {
                var ticks = 0
                while i + ticks < c.count && c[i + ticks] == "`" { ticks += 1 }
                let marker = Array(repeating: Character("`"), count: ticks)
                if let end = find(marker, from: i + ticks) {
                    html += "<code>" + escapeMarkup(String(c[(i + ticks)..<end])) + "</code>"
                    i = end + ticks
                } else { html += String(marker); i += ticks }
            } else if ch == "[" || (ch == "!" && i + 1 < c.count && c[i + 1] == "["),
                      let close = find(["]"], from: i + (ch == "!" ? 2 : 1)), close + 1 < c.count, c[close + 1] == "(",
                      let end = find([")"], from: close + 2) {
                let label = String(c[(ch == "!" ? i + 2 : i + 1)..<close]), target = String(c[(close + 2)..<end])
                if ch == "!" {
                    html += image(target, label) ?? "<img src=\"\(escapeMarkup(target))\" alt=\"\(escapeMarkup(label))\">"
                } else {
                    html += "<a href=\"\(escapeMarkup(link(target)))\">" + inline(label) + "</a>"
                }
                i = end + 1
            } else if ch == "*" {
                let strong = i + 1 < c.count && c[i + 1] == "*"
                let marker: [Character] = strong ? ["*", "*"] : ["*"]
                let start = i + marker.count
                if start < c.count, !c[start].isWhitespace, let end = find(marker, from: start + 1),
                   !c[end - 1].isWhitespace {
                    let tag = strong ? "strong" : "em"
                    html += "<\(tag)>" + inline(String(c[start..<end])) + "</\(tag)>"
                    i = end + marker.count
                } else { html += String(marker); i += marker.count }
            } else {
                html += escapeMarkup(String(ch)); i += 1
            }
        }
        return html
    }
}
