import Foundation
import LetheCorpus
import LethePipeline
import LetheShards
import LetheTokenizer
import XCTest

/// lethe-tokenize as a researcher runs it: workers and threads, kills, bad input, selection, labels, the runner.
final class StageTests: StageTestCase {
    static var neox: Tokenizer { OracleTests.neox }
    let gsm8k = ["--input", "data/gsm8k/test.jsonl", "--text-field", "question"]

    func texts(_ output: String) throws -> [String] { try samples(output).map { try $0.sample.json()["text"]!.stringValue! } }

    func lengths(_ output: String) throws -> [Int] { try samples(output).map { try $0.sample.json()["length"]!.intValue! } }

    // MARK: Same bytes however the work is shared

    func testThreadsAndWorkersWriteTheSameBytes() throws {
        let arguments = gsm8k + ["--chunking", "mixed", "--min-length", "8", "--max-length", "40", "--seed", "5",
                                 "--documents-per-shard", "300"]
        try tokenize(arguments + ["--threads", "1"], output: "one")
        try tokenize(arguments + ["--threads", "4"], output: "four")
        // Three workers, run one after another in an odd order: only the last one writes the manifest.
        for (step, worker) in [2, 0, 1].enumerated() {
            try tokenize(arguments + ["--num-shards", "3", "--shard-index", "\(worker)", "--threads", "2"], output: "workers")
            XCTAssertEqual(FileManager.default.fileExists(atPath: path("workers/manifest.json")), step == 2)
        }
        let reference = try shardDigests("one")
        XCTAssertEqual(reference.count, 5)
        XCTAssertEqual(try shardDigests("four"), reference)
        XCTAssertEqual(try shardDigests("workers"), reference)
        XCTAssertEqual(try manifest("workers").shards, try manifest("one").shards)
        XCTAssertEqual(try manifest("workers").extra, try manifest("one").extra)
        XCTAssertEqual(try manifest("workers").fingerprint, try manifest("one").fingerprint)
        XCTAssertEqual(try manifest("one").extra["documents"], 1319)
    }

    /// kill -9 midway, then the same command again: the finished shards are kept and the result is byte for byte
    /// that of an uninterrupted run.
    func testKilledRunResumesToIdenticalOutput() throws {
        let arguments = ["--input", "data/conll2003/eng.testa", "--chunking", "words", "--chunk-size", "16",
                         "--documents-per-shard", "16"]
        try tokenize(arguments, output: "reference")
        let units = try manifest("reference").shards.count
        XCTAssertEqual(units, 14)

        let victim = try start(arguments + ["--output", path("victim"), "--threads", "1", "--progress", "off"])
        let folder = StageFolder(url: URL(fileURLWithPath: path("victim")))
        XCTAssertTrue(waitUntil(seconds: 30) { folder.recordedUnits().count >= 2 }, "the stage never got going")
        kill(victim.process.processIdentifier, SIGKILL)
        victim.process.waitUntilExit()
        XCTAssertEqual(victim.process.terminationReason, .uncaughtSignal)
        XCTAssertNil(try folder.manifest())
        let fingerprint = try XCTUnwrap(folder.record(unit: 0)?.fingerprint)
        let done = (0..<units).filter { folder.completedUnit($0, fingerprint: fingerprint, checkContent: true) != nil }
        XCTAssertTrue(done.count >= 2 && done.count < units, "\(done)")

        let resumed = try run(arguments + ["--output", path("victim"), "--progress", "lines"])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.error.contains("victim: 14 units in all, 14 of them this worker's: \(units - done.count) done now, \(done.count) already done"),
                      resumed.error)
        XCTAssertEqual(try shardDigests("victim"), try shardDigests("reference"))
        XCTAssertEqual(try manifest("victim").shards, try manifest("reference").shards)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("victim")).filter { $0.contains(".tmp") }, [])
    }

    // MARK: Bad input

    /// Each problem is one line `lethe-tokenize: FILE:LINE: problem` and a non-zero exit.
    func testBadInputGivesOneLine() throws {
        let good = #"{"text": "fine"}"# + "\n"
        let cases: [(name: String, bytes: [UInt8], extra: [String], line: String)] = [
            ("utf8.jsonl", Array(good.utf8) + [0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A], [],
             "utf8.jsonl:2: invalid UTF-8"),
            ("notjson.jsonl", Array((good + "{\"text\": \"a\",}\n").utf8), [],
             "notjson.jsonl:2: not JSON: expected a key at byte 14"),
            ("field.jsonl", Array((good + good + "{\"body\": \"a\"}\n").utf8), [], "field.jsonl:3: no \"text\" field"),
            ("types.jsonl", Array((good + "{\"text\": 3}\n").utf8), [], "types.jsonl:2: field \"text\" is not a string"),
            ("bad.conll", Array("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ\n".utf8), [],
             "bad.conll:4: expected 4 columns (word POS chunk NER), found 2"),
            ("quote.csv", Array("text,n\n\"a, b\",1\nsay \"hi\",2\n".utf8), [],
             "quote.csv:3: a quote inside an unquoted field (quote the whole field and double the quote)"),
            ("fields.csv", Array("text,n\na,1\nb,2,3\n".utf8), [], "fields.csv:3: expected 2 fields (text, n), found 3"),
            ("open.csv", Array("text,n\n\"never closed,1\nb,2\n".utf8), [],
             "open.csv:2: a quoted field of the record starting here is never closed"),
            ("column.csv", Array("body,n\na,1\n".utf8), [], "column.csv:1: no column \"text\" (the columns are \"body\", \"n\")"),
            ("name.dat", Array(good.utf8), [],
             "name.dat: cannot tell the format from the file name; name it (one of jsonl, jsonl.zst, txt, conll, csv)"),
        ]
        for (name, bytes, extra, line) in cases {
            let file = try write(name, bytes)
            let result = try run(["--input", file, "--output", path("out-" + name), "--progress", "off"] + extra)
            XCTAssertEqual(result.status, 1, name)
            XCTAssertEqual(result.error, "lethe-tokenize: \(path(line))\n", name)
            XCTAssertNil(try StageFolder(url: URL(fileURLWithPath: path("out-" + name))).manifest(), name)
        }

        // A folder (lethe-count reads folders; lethe-tokenize reads files, in the order given).
        try FileManager.default.createDirectory(atPath: path("corpus"), withIntermediateDirectories: true)
        let folderResult = try run(["--input", path("corpus"), "--output", path("out-folder"), "--progress", "off"])
        XCTAssertEqual(folderResult.status, 1)
        XCTAssertEqual(folderResult.error, "lethe-tokenize: \(path("corpus")): a folder; give the corpus files in it\n")

        // A truncated .zst names the line where the stream breaks off.
        let text = (0..<3000).map { #"{"text": "document \#($0) with a few words in it"}"# }.joined(separator: "\n") + "\n"
        let whole = try write("whole.jsonl", text)
        let compress = Process()
        compress.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compress.arguments = ["zstd", "-q", "-f", whole, "-o", path("whole.jsonl.zst")]
        try compress.run()
        compress.waitUntilExit()
        let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path("whole.jsonl.zst"))))
        let truncated = try write("cut.jsonl.zst", Array(compressed.prefix(compressed.count - 20)))
        let result = try run(["--input", truncated, "--output", path("out-zst"), "--progress", "off"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.hasPrefix("lethe-tokenize: \(truncated):"), result.error)
        XCTAssertTrue(result.error.hasSuffix(": zstd stream is truncated (ends inside a frame)\n"), result.error)
        XCTAssertEqual(result.error.filter { $0 == "\n" }.count, 1)

        // Missing files are named with the option that gave them.
        for (option, missing) in [("input", "nowhere.jsonl"), ("tokenizer", "nowhere.json")] {
            var arguments = ["--input", whole, "--output", path("out-missing"), "--progress", "off"]
            arguments += option == "input" ? ["--input", missing] : ["--tokenizer", missing]
            let result = try run(arguments)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.error, "lethe-tokenize: \(missing): no such file or folder (input --\(option))\n")
        }
    }

    /// A bad line late in a file: the shards before it are finished and kept, none is half-written, and the same
    /// command again resumes them; --skip-bad skips and counts the line. Output of an earlier run is never lost.
    func testBadLineMidwayKeepsFinishedShards() throws {
        var lines = (0..<40).map { #"{"text": "line \#($0) of forty"}"# }
        lines[33] = #"{"text": "broken"#
        let file = try write("late.jsonl", lines.joined(separator: "\n") + "\n")
        let arguments = ["--input", file, "--documents-per-shard", "10", "--chunk-size", "4", "--threads", "1"]
        let failed = try run(arguments + ["--output", path("out"), "--progress", "lines"])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.error.hasSuffix("lethe-tokenize: \(file):34: not JSON: unterminated string at byte 17\n"), failed.error)
        let folder = StageFolder(url: URL(fileURLWithPath: path("out")))
        let fingerprint = try XCTUnwrap(folder.record(unit: 0)?.fingerprint)
        XCTAssertEqual((0..<4).filter { folder.completedUnit($0, fingerprint: fingerprint, checkContent: true) != nil }, [0, 1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("out")).filter { $0.contains(".tmp") }, [])
        let again = try run(arguments + ["--output", path("out"), "--progress", "lines"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.error.contains("\(file):34: not JSON"), again.error)

        // --skip-bad is another configuration: it may not take over the folder without --force.
        let other = try run(arguments + ["--skip-bad", "--output", path("out"), "--progress", "off"])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.error.contains("holds partial output of a different configuration (3 shards); pass --force to replace it"), other.error)
        try tokenize(arguments + ["--skip-bad"], output: "skipped")
        let extra = try manifest("skipped").extra
        XCTAssertEqual(extra["skipped_lines"], 1)
        XCTAssertEqual(extra["skipped_line_examples"], [.string("\(file):34: not JSON: unterminated string at byte 17")])
        XCTAssertEqual(extra["documents"], 39)

        // A finished stage whose input goes bad: the rerun refuses and leaves the finished output alone.
        let good = try write("good.jsonl", lines.enumerated().filter { $0.offset != 33 }.map(\.element).joined(separator: "\n") + "\n")
        try tokenize(["--input", good, "--chunk-size", "4"], output: "done")
        let before = try shardDigests("done"), manifestBefore = try SHA256Hex.ofFile(atPath: path("done/manifest.json"))
        try write("good.jsonl", lines.joined(separator: "\n") + "\n")
        let refused = try run(["--input", good, "--chunk-size", "4", "--output", path("done"), "--progress", "off"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.error.contains("holds the output of a different configuration (input file \(good) changed)"), refused.error)
        XCTAssertEqual(try shardDigests("done"), before)
        XCTAssertEqual(try SHA256Hex.ofFile(atPath: path("done/manifest.json")), manifestBefore)
    }

    func testCommandLineMistakesAreRefusedBeforeWork() throws {
        let cases: [([String], String)] = [
            (["--chunking", "mixed"], "--chunking mixed needs --min-length and --max-length"),
            (["--chunking", "mixed", "--min-length", "9", "--max-length", "4"], "need 1 <= --min-length <= --max-length, got 9 and 4"),
            (["--chunking", "none", "--chunk-size", "8"], "--chunk-size applies to --chunking fixed and words"),
            (["--seed", "3"], "--min-length, --max-length and --seed apply to --chunking mixed"),
            (["--documents-per-shard", "0"], "--documents-per-shard must be at least 1"),
            (["--dataset-field", "meta..name"], "--dataset-field must be field names joined by dots, like meta.pile_set_name"),
            (["--format", "xml"], "The value 'xml' is invalid for '--format <format>'"),
        ]
        for (arguments, message) in cases {
            let result = try run(gsm8k + arguments + ["--output", path("out")])
            XCTAssertEqual(result.status, 64, "\(arguments)")
            XCTAssertTrue(result.error.contains(message), result.error)
        }
        let noInput = try run(["--output", path("out")])
        XCTAssertTrue(noInput.error.contains("give at least one --input file"), noInput.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))
    }

    // MARK: Selection, CSV, labels

    /// Documents 0..<50 for training and 50..<80 for evaluation from one file; a selection past the end is empty.
    func testHeldOutSplitsFromOneFile() throws {
        try tokenize(gsm8k + ["--chunking", "none", "--max-documents", "50", "--documents-per-shard", "20"], output: "train")
        try tokenize(gsm8k + ["--chunking", "none", "--skip-documents", "50", "--max-documents", "30"], output: "eval")
        let train = try samples("train").map { try $0.sample.json()["doc"]!.intValue! }
        let evaluation = try samples("eval").map { try $0.sample.json()["doc"]!.intValue! }
        XCTAssertEqual(train, Array(0..<50))
        XCTAssertEqual(evaluation, Array(50..<80))
        XCTAssertEqual(try manifest("train").shards.count, 3)
        XCTAssertEqual(try manifest("eval").extra["documents_skipped"], 50)
        let questions = try String(contentsOfFile: Repository.data("gsm8k/test.jsonl"), encoding: .utf8).split(separator: "\n")
        let line50 = try JSONValue.parse(String(questions[50]))
        XCTAssertEqual(try texts("eval").first, line50["question"]?.stringValue)

        try tokenize(gsm8k + ["--skip-documents", "5000"], output: "beyond")
        XCTAssertEqual(try manifest("beyond").shards, [])
        XCTAssertEqual(try manifest("beyond").extra["documents"], 0)
        XCTAssertEqual(try manifest("beyond").extra["documents_skipped"], 1319)
    }

    /// The AAVE/SAE pairs as two datasets, one per column: sample k of one carries sample k of the other as metadata.
    func testCSVColumnsAsDatasets() throws {
        let csv = ["--input", "data/dialects/aave-sae.csv", "--chunking", "none", "--max-documents", "25"]
        try tokenize(csv + ["--text-field", "AAVE", "--dataset", "aave"], output: "aave")
        try tokenize(csv + ["--text-field", "SAE", "--dataset", "sae"], output: "sae")
        let aave = try samples("aave").map { try $0.sample.json() }, sae = try samples("sae").map { try $0.sample.json() }
        XCTAssertEqual(aave.count, 25)
        for (a, s) in zip(aave, sae) {
            XCTAssertEqual(a["metadata"]?["SAE"], s["text"])
            XCTAssertEqual(s["metadata"]?["AAVE"], a["text"])
            XCTAssertEqual(a["line"], s["line"])
        }
        XCTAssertEqual(aave[0]["text"], "not live, live. no that's about it.")
        XCTAssertEqual(aave[0]["line"], 2)
        XCTAssertEqual(try manifest("sae").extra["samples_per_dataset"], ["sae": 25])

        // Quoting as RFC 4180 has it: commas, doubled quotes and line breaks inside quotes, CRLF line ends.
        let tricky = try write("tricky.csv", "id,text\r\n1,\"a, \"\"quoted\"\" word\"\r\n2,\"two\r\nlines\"\r\n\r\n3,plain\r\n")
        try tokenize(["--input", tricky, "--chunking", "none"], output: "tricky")
        let rows = try samples("tricky").map { try $0.sample.json() }
        XCTAssertEqual(rows.map { $0["text"]!.stringValue! }, ["a, \"quoted\" word", "two\r\nlines", "plain"])
        XCTAssertEqual(rows.map { $0["line"]!.intValue! }, [2, 3, 6])
        XCTAssertEqual(rows.map { $0["metadata"]!["id"]!.stringValue! }, ["1", "2", "3"])
        XCTAssertEqual(rows.map { $0["dataset"]!.stringValue! }, ["tricky", "tricky", "tricky"])
    }

    func testDatasetFieldWithFallbacks() throws {
        let file = try write("mixed.jsonl", """
            {"text": "from the web", "meta": {"pile_set_name": "Pile-CC"}}
            {"text": "no label here"}
            {"text": "numbered", "meta": {"pile_set_name": 7}}
            {"text": "wrong type", "meta": {"pile_set_name": ["a"]}}
            {"text": "from arxiv", "meta": {"pile_set_name": "ArXiv"}}

            """)
        let arguments = ["--input", file, "--chunking", "none", "--dataset-field", "meta.pile_set_name"]
        try tokenize(arguments + ["--dataset", "pile"], output: "labelled")
        XCTAssertEqual(try samples("labelled").map { try $0.sample.json()["dataset"]!.stringValue! },
                       ["Pile-CC", "pile", "7", "pile", "ArXiv"])
        XCTAssertEqual(try manifest("labelled").extra["samples_per_dataset"], ["Pile-CC": 1, "pile": 2, "7": 1, "ArXiv": 1])
        try tokenize(arguments, output: "default")
        XCTAssertEqual(try samples("default").map { try $0.sample.json()["dataset"]!.stringValue! },
                       ["Pile-CC", "mixed", "7", "mixed", "ArXiv"])
    }

    // MARK: Tokens and chunks

    /// Plain text: a sample per paragraph whose tokens are the tokenizer's ids for it; `fixed` texts decode exactly.
    func testTokensAreTheTokenizersAndTextsDecodeExactly() throws {
        let paragraphs = ["Caf\u{E9} cre\u{300}me: 42 \u{1F600} emoji,  two spaces\tand a tab.",
                          "    indented code()\n  second line", "\u{5E9}\u{5DC}\u{5D5}\u{5DD} \u{4E16}\u{754C} <|endoftext|> end"]
        let file = try write("book.txt", paragraphs.joined(separator: "\n\n") + "\n")
        try tokenize(["--input", file, "--chunking", "none"], output: "none")
        let none = try samples("none")
        XCTAssertEqual(none.count, 3)
        for ((_, sample), paragraph) in zip(none, paragraphs) {
            XCTAssertEqual(try sample.npy("tokens").int32s(), Self.neox.encode(paragraph))
            XCTAssertEqual(try sample.json()["text"]?.stringValue.map { Array($0.unicodeScalars) }, Array(paragraph.unicodeScalars))
        }
        try tokenize(["--input", file, "--chunking", "fixed", "--chunk-size", "5"], output: "fixed")
        let all = paragraphs.flatMap { Self.neox.encode($0) }
        let fixed = try samples("fixed")
        XCTAssertEqual(fixed.count, all.count / 5)
        XCTAssertEqual(try fixed.flatMap { try $0.sample.npy("tokens").int32s() }, Array(all.prefix(all.count / 5 * 5)))
        for (_, sample) in fixed {
            let text = try XCTUnwrap(sample.json()["text"]?.stringValue)
            XCTAssertEqual(Array(text.unicodeScalars), Array(Self.neox.decode(try sample.npy("tokens").int32s()).unicodeScalars))
        }
        XCTAssertEqual(try manifest("fixed").extra["dropped_tokens"]?.intValue, all.count % 5)

        // --separator: each document's text ends with it before the documents' tokens are joined.
        try tokenize(["--input", file, "--chunking", "fixed", "--chunk-size", "5", "--separator", "<|endoftext|>"],
                     output: "separated")
        let separated = paragraphs.flatMap { Self.neox.encode($0 + "<|endoftext|>") }
        XCTAssertEqual(try samples("separated").flatMap { try $0.sample.npy("tokens").int32s() },
                       Array(separated.prefix(separated.count / 5 * 5)))
        XCTAssertEqual(separated.filter { $0 == 0 }.count, all.filter { $0 == 0 }.count + 3, "one more <|endoftext|> after each paragraph")
    }

    func testMixedLengthsStayInBoundsAndFollowTheSeed() throws {
        let mixed = gsm8k + ["--max-documents", "200", "--chunking", "mixed", "--min-length", "5", "--max-length", "9",
                             "--documents-per-shard", "100"]
        try tokenize(mixed + ["--seed", "1"], output: "a")
        try tokenize(mixed + ["--seed", "1", "--threads", "1"], output: "b")
        try tokenize(mixed + ["--seed", "2"], output: "c")
        let a = try lengths("a")
        XCTAssertTrue(a.allSatisfy { (5...9).contains($0) })
        XCTAssertEqual(Set(a), Set(5...9))
        XCTAssertEqual(try shardDigests("b"), try shardDigests("a"))
        XCTAssertNotEqual(try lengths("c"), a)
    }

    // MARK: Runs

    /// Without --tokenizer, from a folder outside the checkout: the shipped tokenizer is found above the executable.
    /// A second run finds the output up to date and leaves it alone.
    func testDefaultTokenizerAndUpToDate() throws {
        let file = try write("short.jsonl", #"{"text": "Hello world, hello tokens."}"# + "\n")
        let first = try run(["--input", file, "--output", "out", "--chunk-size", "2", "--progress", "lines"], in: folder)
        XCTAssertEqual(first.status, 0, first.error)
        XCTAssertEqual(try manifest("out").extra["tokenizer"]?["path"]?.stringValue, "data/tokenizer/gpt-neox-20b-tokenizer.json")
        XCTAssertEqual(try manifest("out").totals.samples, Self.neox.encode("Hello world, hello tokens.").count / 2)
        let manifestBefore = try SHA256Hex.ofFile(atPath: path("out/manifest.json"))
        let second = try run(["--input", file, "--output", "out", "--chunk-size", "2", "--progress", "lines"], in: folder)
        XCTAssertEqual(second.status, 0, second.error)
        XCTAssertTrue(second.error.hasPrefix("out: up to date in out (fingerprint "), second.error)
        XCTAssertEqual(try SHA256Hex.ofFile(atPath: path("out/manifest.json")), manifestBefore)
    }

    /// The runner drives the stage from pipeline.json: it runs, is skipped when current, and `lethe status`
    /// counts the shards of an incomplete output (the total is known only once the input is read through).
    func testRunnerRunsTheStage() throws {
        try write("docs.jsonl", (0..<30).map { #"{"text": "document number \#($0) for the runner"}"# }.joined(separator: "\n") + "\n")
        try write("pipeline.json", """
            {"version": 1, "stages": {"tokenize": {"run": "lethe-tokenize", "files": {"input": "docs.jsonl"},
              "params": {"chunk-size": 8, "documents-per-shard": 10}}}}
            """)
        let first = try run(["run"], product: "lethe", in: folder)
        XCTAssertEqual(first.status, 0, first.error + first.output)
        XCTAssertEqual(try manifest("stages/tokenize").shards.count, 3)
        let second = try run(["run"], product: "lethe", in: folder)
        XCTAssertEqual(second.output, "Nothing to do: all 1 stages are up to date.\n")

        try FileManager.default.removeItem(atPath: path("stages/tokenize/manifest.json"))
        try FileManager.default.removeItem(atPath: path("stages/tokenize/shard-000001.tar.zst"))
        let status = try run(["status"], product: "lethe", in: folder)
        XCTAssertTrue(status.output.contains("output incomplete (2 shards done)"), status.output)
        let rerun = try run(["run"], product: "lethe", in: folder)
        XCTAssertEqual(rerun.status, 0, rerun.error + rerun.output)
        XCTAssertTrue(rerun.output.contains("3 units in all, 3 of them this worker's: 1 done now, 2 already done"), rerun.output)
    }
}
