// Small, deterministic SVG charts for the report: lines (one per series, optional error bars, linear or
// log x axis) and bars with error bars. Self-contained SVG 1.1, no scripts or external fonts; the same input
// gives the same bytes (coordinates printed with two decimals).

import Foundation

public struct PlotSeries: Equatable, Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// Optional interval per point, drawn as an error bar.
    public var yLow: [Double]?
    public var yHigh: [Double]?
    /// Its colour in the palette (by default its place among the series) and its dash pattern (0 solid): several
    /// runs compared keep one colour per run and one dash per dataset.
    public var colour: Int?
    public var dash = 0

    public init(name: String, x: [Double], y: [Double], yLow: [Double]? = nil, yHigh: [Double]? = nil, colour: Int? = nil, dash: Int = 0) {
        precondition(x.count == y.count && (yLow?.count ?? x.count) == x.count && (yHigh?.count ?? x.count) == x.count,
                     "PlotSeries \(name): x, y and interval lengths differ")
        self.name = name; self.x = x; self.y = y; self.yLow = yLow; self.yHigh = yHigh; self.colour = colour; self.dash = dash
    }
}

/// One series of a bar chart: a value per category (nan for none) and optional intervals.
public struct BarSeries: Equatable, Sendable {
    public var name: String
    public var values: [Double]
    public var low: [Double]?
    public var high: [Double]?

    public init(name: String, values: [Double], low: [Double]? = nil, high: [Double]? = nil) {
        precondition((low?.count ?? values.count) == values.count && (high?.count ?? values.count) == values.count,
                     "BarSeries \(name): values and interval lengths differ")
        self.name = name; self.values = values; self.low = low; self.high = high
    }
}

public struct PlotAxis: Equatable, Sendable {
    public var label: String
    /// Log-scaled (base 10); values <= 0 are left out.
    public var logarithmic: Bool
    /// Fixed range; otherwise the data's, widened to round ticks.
    public var range: ClosedRange<Double>?

    public init(label: String, logarithmic: Bool = false, range: ClosedRange<Double>? = nil) {
        self.label = label; self.logarithmic = logarithmic; self.range = range
    }
}

public enum SVGPlot {
    static let width = 720.0, height = 420.0
    static let left = 72.0, right = 170.0, top = 44.0, bottom = 62.0
    /// Tableau 10: distinguishable colours, cycled when there are more series.
    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    /// A line chart: one polyline with markers per series (broken at nan), legend on the right; with
    /// `connected: false`, a scatter plot (markers only).
    public static func lines(title: String, x: PlotAxis, y: PlotAxis, series: [PlotSeries], connected: Bool = true) -> String {
        let visible = { (s: PlotSeries, i: Int) -> Bool in
            s.x[i].isFinite && s.y[i].isFinite && (!x.logarithmic || s.x[i] > 0) && (!y.logarithmic || s.y[i] > 0)
        }
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            for i in s.x.indices where visible(s, i) {
                xs.append(s.x[i]); ys.append(s.y[i])
                if let l = s.yLow?[i], l.isFinite { ys.append(l) }
                if let h = s.yHigh?[i], h.isFinite { ys.append(h) }
            }
        }
        let xScale = Scale(axis: x, values: xs, from: left, to: width - right)
        let yScale = Scale(axis: y, values: ys, from: height - bottom, to: top)
        var svg = header(title: title) + axes(xScale, yScale, x, y, categoryLabels: nil)
        for (k, s) in series.enumerated() {
            let colour = palette[(s.colour ?? k) % palette.count]
            var segment: [String] = []
            func flush() {
                if connected && segment.count > 1 {
                    svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dashAttribute(s.dash)) points=\"\(segment.joined(separator: " "))\"/>\n"
                }
                segment = []
            }
            for i in s.x.indices {
                guard visible(s, i) else { flush(); continue }
                let px = xScale.map(s.x[i]), py = yScale.map(s.y[i])
                segment.append("\(f(px)),\(f(py))")
                svg += errorBar(px, s.yLow?[i], s.yHigh?[i], yScale, colour)
                svg += "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"3\" fill=\"\(colour)\"/>\n"
            }
            flush()
        }
        svg += legend(series.enumerated().map { k, s in (s.name, s.colour ?? k, s.dash) })
        return svg + "</svg>\n"
    }

    /// A bar chart: per category, one bar of each series side by side, with optional error bars; a legend when
    /// there are several series.
    public static func bars(title: String, categories: [String], series: [BarSeries], y: PlotAxis) -> String {
        precondition(series.allSatisfy { $0.values.count == categories.count }, "bars: \(categories.count) categories, values differ")
        var ys: [Double] = []
        for s in series { ys += s.values.filter(\.isFinite) + (s.low ?? []).filter(\.isFinite) + (s.high ?? []).filter(\.isFinite) }
        if !y.logarithmic { ys.append(0) }
        let yScale = Scale(axis: y, values: ys, from: height - bottom, to: top)
        let slot = (width - right - left) / Double(max(categories.count, 1))
        var svg = header(title: title)
        svg += axes(nil, yScale, PlotAxis(label: ""), y, categoryLabels: categories.enumerated().map { (left + slot * (Double($0.offset) + 0.5), $0.element) })
        let base = yScale.map(y.logarithmic ? yScale.low : max(yScale.low, 0))
        let barWidth = slot * 0.7 / Double(max(series.count, 1))
        for (k, s) in series.enumerated() {
            for (i, v) in s.values.enumerated() where v.isFinite {
                let cx = left + slot * (Double(i) + 0.5) + (Double(k) - Double(series.count - 1) / 2) * barWidth, top = yScale.map(v)
                svg += "<rect x=\"\(f(cx - barWidth / 2))\" y=\"\(f(min(top, base)))\" width=\"\(f(barWidth))\" height=\"\(f(abs(base - top)))\" fill=\"\(palette[k % palette.count])\"/>\n"
                svg += errorBar(cx, s.low?[i], s.high?[i], yScale, "#333333")
            }
        }
        if series.count > 1 { svg += legend(series.enumerated().map { k, s in (s.name, k, 0) }) }
        return svg + "</svg>\n"
    }

    // MARK: - Pieces

    /// Maps data values to pixels; linear or log10, over a range widened to the outer ticks.
    struct Scale {
        var low: Double, high: Double
        var logarithmic: Bool
        var from: Double, to: Double
        var ticks: [Double]

        init(axis: PlotAxis, values: [Double], from: Double, to: Double) {
            logarithmic = axis.logarithmic
            self.from = from; self.to = to
            var lo = axis.range?.lowerBound ?? values.min() ?? 0
            var hi = axis.range?.upperBound ?? values.max() ?? 1
            if logarithmic {
                lo = lo > 0 ? lo : 1; hi = max(hi, lo)
                if axis.range == nil { lo = pow(10, floor(log10(lo))); hi = pow(10, ceil(log10(hi))) }
                if hi <= lo { hi = lo * 10 }
                ticks = Scale.logTicks(lo, hi)
            } else {
                if hi <= lo { lo -= 0.5; hi += 0.5 }
                let step = Scale.niceStep((hi - lo) / 5)
                if axis.range == nil { lo = floor(lo / step) * step; hi = ceil(hi / step) * step }
                // k * step, rounded to the step's decimals, so 3 * 0.2 is 0.6.
                let unit = pow(10, max(0, -floor(log10(step))))
                let first = Int((lo / step - 1e-9).rounded(.up)), last = Int((hi / step + 1e-9).rounded(.down))
                ticks = (first...max(first, last)).map { (Double($0) * step * unit).rounded() / unit }
            }
            low = lo; high = hi
        }

        func map(_ v: Double) -> Double {
            let t = logarithmic ? (log10(v) - log10(low)) / (log10(high) - log10(low)) : (v - low) / (high - low)
            return from + t * (to - from)
        }

        /// 1, 2 or 5 times a power of ten, at least `rough`.
        static func niceStep(_ rough: Double) -> Double {
            let magnitude = pow(10, floor(log10(rough)))
            for m in [1.0, 2, 5, 10] where m * magnitude >= rough * (1 - 1e-12) { return m * magnitude }
            return 10 * magnitude
        }

        /// Powers of ten; with 1, 2 and 5 multiples when the range spans fewer than three decades.
        static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
            let first = Int(floor(log10(lo))), last = Int(ceil(log10(hi)))
            let multiples: [Double] = last - first < 3 ? [1, 2, 5] : [1]
            var ticks: [Double] = []
            for e in first...last {
                for m in multiples {
                    let v = m * pow(10, Double(e))
                    if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { ticks.append(v) }
                }
            }
            return ticks
        }
    }

    static func f(_ v: Double) -> String { String(format: "%.2f", v) }

    static func label(_ v: Double) -> String {
        if v != 0 && (abs(v) >= 1e5 || abs(v) < 1e-3) { return String(format: "%.0e", v) }
        return String(format: "%g", v)
    }

    static func header(title: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="15">\(escapeMarkup(title))</text>

        """
    }

    /// Axis lines, ticks, grid and labels; a category axis when `categoryLabels` is given.
    static func axes(_ x: Scale?, _ y: Scale, _ xAxis: PlotAxis, _ yAxis: PlotAxis, categoryLabels: [(Double, String)]?) -> String {
        let x0 = left, x1 = width - right, y0 = height - bottom, y1 = top
        var svg = "<g stroke=\"#000000\" stroke-width=\"1\"><line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x1))\" y2=\"\(f(y0))\"/>"
            + "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\"/></g>\n"
        for t in y.ticks {
            let py = y.map(t)
            svg += "<line x1=\"\(f(x0))\" y1=\"\(f(py))\" x2=\"\(f(x1))\" y2=\"\(f(py))\" stroke=\"#dddddd\"/>"
            svg += "<text x=\"\(f(x0 - 6))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(escapeMarkup(label(t)))</text>\n"
        }
        if let x = x {
            for t in x.ticks {
                let px = x.map(t)
                svg += "<line x1=\"\(f(px))\" y1=\"\(f(y0))\" x2=\"\(f(px))\" y2=\"\(f(y0 + 5))\" stroke=\"#000000\"/>"
                svg += "<text x=\"\(f(px))\" y=\"\(f(y0 + 18))\" text-anchor=\"middle\">\(escapeMarkup(label(t)))</text>\n"
            }
        }
        for (px, name) in categoryLabels ?? [] {
            svg += "<text x=\"\(f(px))\" y=\"\(f(y0 + 16))\" text-anchor=\"end\" transform=\"rotate(-35 \(f(px)) \(f(y0 + 16)))\">\(escapeMarkup(name))</text>\n"
        }
        svg += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escapeMarkup(xAxis.label))</text>\n"
        svg += "<text x=\"16\" y=\"\(f((y0 + y1) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f((y0 + y1) / 2)))\">\(escapeMarkup(yAxis.label))</text>\n"
        return svg
    }

    static func errorBar(_ px: Double, _ low: Double?, _ high: Double?, _ y: Scale, _ colour: String) -> String {
        guard let low, let high, low.isFinite, high.isFinite, !y.logarithmic || low > 0 else { return "" }
        let a = y.map(low), b = y.map(high)
        return "<path d=\"M\(f(px)) \(f(a))V\(f(b))M\(f(px - 4)) \(f(a))H\(f(px + 4))M\(f(px - 4)) \(f(b))H\(f(px + 4))\" stroke=\"\(colour)\" fill=\"none\"/>\n"
    }

    /// Dash patterns after solid, cycled.
    static let dashes = ["6 3", "2 3", "8 3 2 3", "1 4", "12 4", "4 2 1 2 1 2"]

    static func dashAttribute(_ dash: Int) -> String { dash == 0 ? "" : " stroke-dasharray=\"\(dashes[(dash - 1) % dashes.count])\"" }

    /// Each entry's name beside a line in its colour and dash.
    static func legend(_ entries: [(name: String, colour: Int, dash: Int)]) -> String {
        var svg = ""
        for (k, entry) in entries.enumerated() {
            let (name, colour, dash) = entry
            let y = top + 8 + Double(k) * 18, x = width - right + 14
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 22))\" y2=\"\(f(y))\" stroke=\"\(palette[colour % palette.count])\" stroke-width=\"3\"\(dashAttribute(dash))/>"
            svg += "<text x=\"\(f(x + 28))\" y=\"\(f(y + 4))\">\(escapeMarkup(name))</text>\n"
        }
        return svg
    }
}

/// Text safe in XML and HTML content and attribute values (&, <, > and " escaped).
public func escapeMarkup(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for c in text {
        switch c {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        default: escaped.append(c)
        }
    }
    return escaped
}
