import Foundation

/// A word for bash, so that a command line printed by Lethe (the runner's log, `lethe inspect`, a Slurm job script)
/// can be pasted back: as it is when it holds only characters that need no quoting; with a control character (the
/// "\n\n" of a separator) in ANSI-C quotes, `$'\n\n'`; else in single quotes (`''` for the empty word).
public func shellQuoted(_ word: String) -> String {
    let plain = word.unicodeScalars.allSatisfy {
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,".unicodeScalars.contains($0))
    }
    if !word.isEmpty && plain { return word }
    guard word.unicodeScalars.contains(where: isASCIIControl) else {
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    // ASCII's control characters as bytes; C1 controls (U+0080–U+009F) stay as they are: bash's \x escapes are
    // bytes, not characters, and would not give back their UTF-8.
    return "$'" + backslashEscaped(word, quote: "'", control: { String(format: "\\x%02x", $0) }) + "'"
}

/// ASCII's control characters (below space, and DEL).
func isASCIIControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || scalar.value == 0x7F }

/// `text` with C's backslash escapes: `quote` and the backslash escaped, line feed, tab and carriage return as
/// `\n`, `\t`, `\r`, the other ASCII control characters as `control(code)`. Bash's `$'...'` words (shellQuoted) and
/// the report's quoted values (pipeline.json's notation) both read it.
public func backslashEscaped(_ text: String, quote: Unicode.Scalar, control: (UInt32) -> String) -> String {
    var escaped = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case quote, "\\": escaped += "\\" + String(scalar)
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        case "\r": escaped += "\\r"
        case _ where isASCIIControl(scalar): escaped += control(scalar.value)
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped
}

/// A command line as bash reads it: `shellQuoted` words joined by spaces.
public func shellCommandLine(_ words: [String]) -> String { words.map(shellQuoted).joined(separator: " ") }
