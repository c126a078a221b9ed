// swift-tools-version: 6.1
// Lethe: measures what a Mamba language model forgets. One library target per concern,
// thin executables on top (see README.md, "Layout").
import PackageDescription

/// Release builds drop overflow and bounds checks in the numeric kernels; every kernel is
/// tested against a naive reference in debug and release.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "Lethe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lethe", targets: ["lethe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries, found with pkg-config (the Makefile installs the Debian packages).
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Libraries, one per concern.
        .target(name: "LetheShards", dependencies: [
            "CArchive", "CZstd", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fast),
        // What a chunk sample holds at each stage (members, dtypes, shapes, KEY.json fields) and each chunk
        // stage's manifest facts, read and written only through these types.
        .target(name: "LetheSamples", dependencies: ["LetheShards"], swiftSettings: fast),
        .target(name: "LetheTokenizer", swiftSettings: fast),
        .target(name: "LetheCorpus", dependencies: ["LetheTokenizer", "LetheSamples", "LetheShards", "CZstd"], swiftSettings: fast),
        // The scan's AVX2+FMA and AVX-512 kernels, chosen at run time (Swift compiles for the baseline ISA).
        .target(name: "CLetheKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "LetheModel", dependencies: ["CBLAS", "CArchive", "CLetheKernels", "LetheShards"],
                swiftSettings: fast),
        .target(name: "LetheTraining", dependencies: ["LetheModel", "LetheSamples", "LetheShards", "CBLAS", "CLetheKernels"], swiftSettings: fast),
        // Text segmentation as NLTK does it (Punkt sentences, Treebank words, nltk.word_tokenize), for the count
        // and annotate stages; the Punkt model is a data file (Resources/), checked by its digest when loaded.
        .target(name: "LetheText", dependencies: ["LetheShards", "CZstd"],
                resources: [.copy("Resources/punkt-english.tsv.zst")], swiftSettings: fast),
        .target(name: "LetheAnalysis", dependencies: ["LetheText", "LethePipeline", "LetheShards"], swiftSettings: fast),
        // The report's prose (report.md) around LetheAnalysis's statistics, tables and plots, and report.html: the
        // same report with every chunk browsable. Its script, style sheet and the paper's published figures are
        // files (Resources/) compiled in.
        .target(name: "LetheReport", dependencies: ["LetheAnalysis", "LethePipeline", "LetheShards"],
                resources: [.embedInCode("Resources/report.js"), .embedInCode("Resources/report.css"),
                            .embedInCode("Resources/paper-figures.json")], swiftSettings: fast),
        // Token and word frequencies of corpus files (the count stage): needs the corpus reader, the BPE
        // tokenizer and the annotate stage's word tokenizer, so it sits above all three.
        .target(name: "LetheCount", dependencies: ["LetheCorpus", "LetheTokenizer", "LetheText", "LetheShards"],
                swiftSettings: fast),
        .target(name: "LethePipeline", dependencies: [
            "LetheShards", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fast),
        .target(name: "LetheCLI", dependencies: [
            "LetheSamples", "LetheShards", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        // The logic of every stage (tokenize, encode, train, reconstruct, count, annotate, report): their executables are options and a call.
        .target(name: "LetheStages", dependencies: [
            "LetheCLI", "LetheCorpus", "LetheCount", "LetheModel", "LetheTraining", "LetheAnalysis", "LetheReport", "LetheText", "LetheTokenizer", "LethePipeline", "LetheSamples", "LetheShards",
        ], swiftSettings: fast),

        // Executables, thin layers over the libraries.
        .executableTarget(name: "lethe", dependencies: [
            "LethePipeline", "LetheCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "lethe-tokenize", dependencies: [
            "LetheStages", "LetheCorpus", "LetheTokenizer", "LetheShards", "LetheCLI", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        // The model stages: a frozen encoder's final states, and the trained decoder's greedy reconstructions.
        .executableTarget(name: "lethe-encode", dependencies: [
            "LetheStages", "LetheModel", "LetheCLI", "LethePipeline", "LetheShards",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .executableTarget(name: "lethe-reconstruct", dependencies: [
            "LetheStages", "LetheModel", "LetheCLI", "LethePipeline", "LetheShards",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .executableTarget(name: "lethe-count", dependencies: [
            "LetheStages", "LetheCLI", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .executableTarget(name: "lethe-annotate", dependencies: [
            "LetheStages", "LetheCLI", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .executableTarget(name: "lethe-report", dependencies: [
            "LetheStages", "LetheCLI", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .executableTarget(name: "lethe-train", dependencies: [
            "LetheStages", "LetheTraining", "LetheModel", "LetheCLI", "LethePipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),

        // A stage built on the harness, for the runner's tests (generates and maps token shards).
        .executableTarget(name: "lethe-test-stage", dependencies: [
            "LetheCLI", "LethePipeline", "LetheShards", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tests/Support/LetheTestStage"),

        // Benchmarks: one subcommand per area, compared with Benchmarks/baselines/<area>.py by Benchmarks/run.py.
        .executableTarget(name: "lethe-bench", dependencies: [
            "LetheAnalysis", "LetheText", "LetheShards", "LetheTokenizer", "LetheCorpus", "LetheCount", "LetheModel", "LetheTraining",
            "CBLAS",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/LetheBench", swiftSettings: fast),

        // Running the built executables from tests (the stage tests of several targets).
        .target(name: "LetheTestSupport", dependencies: ["CBLAS"], path: "Tests/Support/LetheTestSupport"),

        // Tests read committed fixtures under Tests/Fixtures (made by the Python scripts beside them).
        .testTarget(name: "LetheShardsTests", dependencies: ["LetheShards"]),
        .testTarget(name: "LetheSamplesTests", dependencies: ["LetheSamples", "LetheShards"]),
        .testTarget(name: "LetheTokenizerTests", dependencies: ["LetheTokenizer", "LetheShards"]),
        .testTarget(name: "LetheCorpusTests", dependencies: ["LetheCorpus", "LetheSamples", "LetheTokenizer", "LetheShards"]),
        .testTarget(name: "LetheTokenizeStageTests", dependencies: ["LetheCorpus", "LetheTokenizer", "LetheShards", "LethePipeline", "LetheTestSupport"]),
        .testTarget(name: "LetheModelTests", dependencies: ["LetheModel", "LetheShards", "LetheTestSupport"]),
        .testTarget(name: "LetheTrainingTests", dependencies: [
            "LetheTraining", "LetheModel", "LetheShards", "LetheCLI", "LethePipeline", "LetheTestSupport",
        ]),
        .testTarget(name: "LetheAnalysisTests", dependencies: ["LetheAnalysis", "LetheReport", "LetheText", "LethePipeline", "LetheShards", "LetheTokenizer"]),
        .testTarget(name: "LetheCountTests", dependencies: ["LetheCount", "LetheCorpus", "LetheTokenizer", "LetheShards", "LetheTestSupport"]),
        .testTarget(name: "LethePipelineTests", dependencies: ["LethePipeline", "LetheShards", "LetheCLI", "LetheTestSupport"]),
        // Stage executables end to end (run as processes from the build folder) and the expected report.
        .testTarget(name: "LetheStagesTests", dependencies: ["LetheAnalysis", "LetheReport", "LetheModel", "LethePipeline", "LetheShards", "LetheTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
