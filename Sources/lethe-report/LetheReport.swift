import ArgumentParser
import LetheCLI
import LethePipeline
import LetheStages

/// The report stage: every table and plot of the analysis, and report.md around them. Its options and a call into
/// LetheStages (runReportStage).
@main
struct LetheReport: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe-report",
        abstract: "Write report.md, report.html and every table (CSV) and plot (SVG) from the output of lethe-annotate.",
        discussion: """
        Reads one or more lethe-annotate output folders and writes into the
        --output folder, each file listed in its manifest.json:
          report.md              readable on its own: what was run (model,
                                 decoder, data, every stage, found through
                                 the manifests upstream), the data, every
                                 table with a one-line reading, the plots
                                 and a few example reconstructions; when the
                                 encoder has the architecture of one of the
                                 paper's models (mamba-130m ... 1.4b), the
                                 paper's published figures beside the run's
          report.html            the same report as one self-contained page
                                 (plots inline, every CSV as a table, no
                                 network) with a browser of every chunk:
                                 reference beside reconstruction, omitted
                                 words struck out, filters by run,
                                 dataset, length, category and F1, text
                                 search
          rouge.csv              ROUGE-1 precision, recall and F1 per dataset
                                 and length bucket (the smallest of the
                                 paper's lengths 4, 8, ..., 256 at or above
                                 the chunk's); 95% bootstrap interval of F1
                                 (--seed picks the resamples)
          omission_pos.csv, omission_ner.csv, omission_class.csv,
          omission_dataset.csv   per category: words, omitted, omission rate
                                 and its 95% Wilson interval
          significance_*.csv     every pair of categories: two-sample t-test
                                 (equal variances), p, Bonferroni-adjusted p,
                                 significant (adjusted p < 0.05)
          omission_position.csv  omission by relative position in the chunk
          frequency.csv          omission by pretraining count, in powers of
                                 ten, with Spearman's rho (empty unless
                                 lethe-annotate had --counts)
          surprisal.csv          omission by the encoder's surprisal, in bins
                                 of 2 nats, with Spearman's rho (empty unless
                                 lethe-encode had --surprisal)
          paired.csv             datasets of the same documents (AAVE and
                                 SAE) compared pair by pair: mean difference,
                                 paired t-test, Wilcoxon signed-rank
          *.svg                  ROUGE-1 F1 by length; omission by category,
                                 by position, by frequency and by surprisal

        Run it in the folder the pipeline runs in: upstream stages are found
        by the paths their manifests recorded.

        Several runs compared (one --label per --input, in the same order):
          tables gain a first column `run`, plots draw each run's series, the
          chunk browser filters by run; the training curve is left out.

        Examples:
          lethe-report --input stages/annotate --output outputs \\
            --title "mamba-130m on CoNLL-2003 and GSM8K"
          lethe-report --input stages/mamba-130m/annotate --label mamba-130m \\
            --input stages/mamba-370m/annotate --label mamba-370m \\
            --output outputs/compare
        """)

    static let stageDescription = StageDescription.stage("lethe-report", format: 13, inputs: ["input"], parallel: false)

    @OptionGroup var stage: StageOptions

    @Option(help: ArgumentHelp("A lethe-annotate output folder; repeat to report on several together.", valueName: "dir"))
    var input: [String] = []

    @Option(help: ArgumentHelp("""
        The run of the --input at the same place (a model's name, say); give one per --input or none. Inputs of the \
        same label are pooled; with two labels or more, the report compares the runs: every table gains a run column \
        and every plot each run's series.
        """, valueName: "text"))
    var label: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the bootstrap resamples behind the ROUGE intervals.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("The report's title (its first line).", valueName: "text"))
    var title = "What the model forgets"

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give at least one --input (a lethe-annotate output folder)") }
        guard label.isEmpty || label.count == input.count else {
            throw ValidationError("give one --label per --input (\(label.count) labels for \(input.count) inputs), or none")
        }
        if let bad = label.first(where: { $0.isEmpty || $0.contains(where: \.isNewline) }) {
            throw ValidationError("--label \"\(bad)\": a label needs a character and no line break")
        }
    }

    func run() throws {
        try runReportStage(try StageRun(description: Self.stageDescription, options: stage), inputs: input, labels: label, title: title,
                           seed: seed, progress: stage.progress)
    }
}
