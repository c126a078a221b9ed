import ArgumentParser
import Foundation
import LethePipeline
#if canImport(Glibc)
import Glibc
#endif

public enum ProgressMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// `bar` when standard error is a terminal, `lines` otherwise.
    case auto
    /// One line redrawn in place, at most five times a second.
    case bar
    /// A plain line every few seconds (logs, pipes, cluster jobs).
    case lines
    case off
}

/// Progress of long work on standard error: done/total, percentage, rate and time left.
///
///     encode: 1,234/5,000 samples (24.7%), 310.2 samples/s, ETA 12s
///     tokenize: 12.3 MB/45.6 MB of input (27.0%), 30.1 MB/s, ETA 1s         (unit "bytes of input")
///
/// `advance` may be called from several threads; output is throttled so it costs nothing to call per sample.
public final class Progress: @unchecked Sendable {
    public let label: String
    /// What is counted ("samples"); a unit starting with "bytes" shows the counts as KB, MB, GB.
    public let unit: String
    public let total: Int?
    private let line: ProgressLine
    private let start = Date()
    private var done = 0
    private var finished = false
    private let lock = NSLock()

    /// `lineInterval` is the time between lines in `lines` mode. A live line shows at once; plain lines start after
    /// the first interval (short work prints one line).
    public init(label: String, total: Int?, unit: String = "samples", mode: ProgressMode, lineInterval: TimeInterval = 10) {
        self.label = label
        self.total = total
        self.unit = unit
        line = ProgressLine(mode: mode, lineInterval: lineInterval, firstLineAtOnce: false)
    }

    public func advance(by count: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += count
        let now = Date()
        if line.isDue(now) { line.show(describe(now: now), now: now) }
    }

    /// Prints the final count (and ends the live line).
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished, line.mode != .off else { return }
        finished = true
        line.show(describe(now: Date()), now: Date())
        line.finish()
    }

    public var text: String { lock.lock(); defer { lock.unlock() }; return describe(now: Date()) }

    func describe(now: Date) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        var line = "\(label): "
        if unit.hasPrefix("bytes") {
            // "12.3 MB/45.6 MB of input", "30.1 MB/s"
            let rest = unit.dropFirst("bytes".count)
            line += Inspect.formatBytes(done) + (total.map { "/" + Inspect.formatBytes($0) } ?? "") + rest
            if let total, total > 0 { line += String(format: " (%.1f%%)", 100 * Double(done) / Double(total)) }
            line += ", " + Inspect.formatBytes(Int(rate)) + "/s"
        } else {
            line += Self.grouped(done)
            if let total {
                line += "/\(Self.grouped(total)) \(unit)"
                if total > 0 { line += String(format: " (%.1f%%)", 100 * Double(done) / Double(total)) }
            } else {
                line += " \(unit)"
            }
            line += ", " + String(format: "%.1f", rate) + " \(unit)/s"
        }
        if let total, done > 0, done < total { line += ", ETA " + Self.duration(Double(total - done) / rate) }
        if let total, done >= total { line += ", " + Self.duration(elapsed) }
        return line
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    /// "45s", "12m05s", "3h07m"; "?" when unknown.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}

/// The terminal side of progress: a live line redrawn in place at most five times a second (`bar`), a plain line at
/// most every `lineInterval` (`lines`), or nothing (`off`). Its owner serialises the calls.
public final class ProgressLine {
    /// `bar`, `lines` or `off` (`auto` resolved).
    public let mode: ProgressMode
    private let interval: TimeInterval
    private var lastShown: Date
    private var liveLineOpen = false

    /// `firstLineAtOnce`: whether the first line may show at once in `lines` mode (else after the first interval).
    public init(mode: ProgressMode, lineInterval: TimeInterval = 10, firstLineAtOnce: Bool) {
        switch mode {
        case .auto: self.mode = isatty(STDERR_FILENO) != 0 ? .bar : .lines
        default: self.mode = mode
        }
        interval = self.mode == .bar ? 0.2 : lineInterval
        lastShown = self.mode == .bar || firstLineAtOnce ? .distantPast : Date()
    }

    /// Whether a line is due: not off, and the interval since the last one has passed.
    public func isDue(_ now: Date = Date()) -> Bool { mode != .off && now.timeIntervalSince(lastShown) >= interval }

    /// Shows `text`: redraws the live line, or prints a line.
    public func show(_ text: String, now: Date = Date()) {
        guard mode != .off else { return }
        lastShown = now
        if mode == .bar {
            write("\r\u{1B}[K" + text)
            liveLineOpen = true
        } else {
            write(text + "\n")
        }
    }

    /// A line that stays (an event between the progress lines), after ending a live line.
    public func say(_ text: String) {
        guard mode != .off else { return }
        finish()
        write(text + "\n")
    }

    /// Ends a live line.
    public func finish() {
        if liveLineOpen { write("\n") }
        liveLineOpen = false
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
