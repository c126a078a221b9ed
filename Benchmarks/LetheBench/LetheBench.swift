import ArgumentParser

/// `lethe-bench AREA ...`: one subcommand per area, each printing one JSON object per line with its figures.
/// Benchmarks/run.py runs these beside the Python baselines and prints the ratios (`make bench`).
@main
struct LetheBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-bench",
        abstract: "Lethe's benchmarks; each prints JSON lines. Run `make bench` to compare them with Python.",
        subcommands: [ShardsBench.self])
}
