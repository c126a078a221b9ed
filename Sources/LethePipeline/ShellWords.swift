import Foundation

/// A word for bash, so that a command line printed by Lethe (the runner's log, `lethe inspect`, a Slurm job script)
/// can be pasted back: as it is when it holds only characters that need no quoting; with a control character (the
/// "\n\n" of a separator) in ANSI-C quotes, `$'\n\n'`; else in single quotes (`''` for the empty word).
public func shellQuoted(_ word: String) -> String {
    let plain = word.unicodeScalars.allSatisfy {
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,".unicodeScalars.contains($0))
    }
    if !word.isEmpty && plain { return word }
    // ASCII's control characters; C1 controls (U+0080–U+009F) stay as they are: bash's \x escapes are bytes, not
    // characters, and would not give back their UTF-8.
    func isASCIIControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || scalar.value == 0x7F }
    guard word.unicodeScalars.contains(where: isASCIIControl) else {
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    var quoted = "$'"
    for scalar in word.unicodeScalars {
        switch scalar {
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        case "\r": quoted += "\\r"
        case "\\": quoted += "\\\\"
        case "'": quoted += "\\'"
        case _ where isASCIIControl(scalar): quoted += String(format: "\\x%02x", scalar.value)
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + "'"
}

/// A command line as bash reads it: `shellQuoted` words joined by spaces.
public func shellCommandLine(_ words: [String]) -> String { words.map(shellQuoted).joined(separator: " ") }
