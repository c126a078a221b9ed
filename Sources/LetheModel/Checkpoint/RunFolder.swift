/// The checkpoint folders inside a lethe-train output folder, named in one place: `final/` (the run's result, what
/// a later stage names as its model), `step-N/` (the weights and optimizer after step N) and `best/` (the lowest
/// validation loss so far, kept while a run with `--final-checkpoint best` trains).
public enum RunFolder {
    public static let final = "final"
    public static let best = "best"
    static let stepPrefix = "step-"

    /// The folder name of the checkpoint after step `n`.
    public static func step(_ n: Int) -> String { stepPrefix + String(n) }

    /// N of a `step-N` name; nil for any other name.
    public static func step(of name: String) -> Int? {
        name.hasPrefix(stepPrefix) ? Int(name.dropFirst(stepPrefix.count)) : nil
    }

    /// `final` or `step-N`: the checkpoints a run keeps.
    public static func isCheckpoint(_ name: String) -> Bool { name == final || step(of: name) != nil }

    /// `final`, `step-N` or `best`: every checkpoint folder a run writes.
    public static func isRunFolder(_ name: String) -> Bool { isCheckpoint(name) || name == best }
}
