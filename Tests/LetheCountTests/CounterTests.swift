import Foundation
import LetheCorpus
import LetheShards
import XCTest
@testable import LetheCount
import LetheTestSupport

/// CorpusCounter against the `tokenizers` package and nltk (Tests/Fixtures/count/expected.json): exact counts.
final class CounterTests: XCTestCase {
    let pile = try! SubsetField("meta.pile_set_name")

    func counter(threads: Int = 3, batchBytes: Int = 2_000, words: Bool = true, skipBad: Bool = false,
                 maxSubsets: Int = 1000) -> CorpusCounter {
        CorpusCounter(tokenizer: neoxTokenizer,
                      settings: CountSettings(threads: threads, subsetField: pile, countWords: words, skipBadLines: skipBad,
                                              batchBytes: batchBytes, maxSubsets: maxSubsets))
    }

    func testEveryFileCountsAsTheTokenizersPackageAndNLTK() throws {
        let expected = Expected.shared
        XCTAssertEqual(neoxTokenizer.vocabularySize, expected.vocabularySize)
        XCTAssertEqual(expected.groups.count, 4)
        // Small batches: each file goes through the queue in dozens of pieces on 3 threads.
        let fileCounter = counter()
        for (name, groups) in expected.groups.sorted(by: { $0.key < $1.key }) {
            let counts = try fileCounter.count(file: Repository.input(name))
            XCTAssertEqual(counts.vocabularySize, expected.vocabularySize)
            XCTAssertEqual(counts.groups.map(\.subset), groups.map(\.subset), name)
            for (got, want) in zip(counts.groups, groups) {
                let label = "\(name) subset \(want.subset ?? "(none)")"
                XCTAssertEqual(got.documents, want.documents, label)
                XCTAssertEqual(got.tokens, want.tokens, label)
                XCTAssertEqual(got.bytes, want.bytes, label)
                XCTAssertEqual(got.counts.count, want.counts.count, label)
                let differing = (0..<want.counts.count).filter { got.counts[$0] != want.counts[$0] }
                XCTAssertEqual(differing, [], "\(label): token ids whose counts differ")
            }
            XCTAssertEqual(counts.words, WordCountTable(expected.words[name]!), name)
            XCTAssertEqual(counts.skippedLines, 0)
        }
    }

    func testSpellingsThatSwiftCallsEqualAreCountedApart() throws {
        var words = WordCountTable()
        words.add("caf\u{E9}")
        words.add("cafe\u{301}")
        words.add("caf\u{E9}")
        XCTAssertEqual(words.distinct, 2)
        XCTAssertEqual(words.sortedByCount().map(\.count), [2, 1])
        // The fixture's unicode.txt has both spellings; nltk counts them apart, and so does the counter.
        let counts = try counter().count(file: Repository.input("unicode.txt"))
        XCTAssertEqual(counts.words!.counts[ExactString("caf\u{E9}")], 2)
        XCTAssertEqual(counts.words!.counts[ExactString("cafe\u{301}")], 1)
    }

    func testThreadsAndBatchSizesGiveTheSameCounts() throws {
        let file = Repository.input("gsm8k-pile.jsonl.zst")
        let reference = try counter(threads: 1, batchBytes: 1 << 20).count(file: file)
        for (threads, batchBytes) in [(2, 1), (5, 700)] {
            XCTAssertEqual(try counter(threads: threads, batchBytes: batchBytes).count(file: file), reference,
                           "\(threads) threads, batches of \(batchBytes) bytes")
        }
    }

    func testUnitShardRoundTrip() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        var counts = try counter().count(file: Repository.input("gsm8k-pile.jsonl"))
        counts.skippedLines = 2
        counts.skippedExamples = ["a.jsonl:3: not JSON", "a.jsonl:9: invalid UTF-8"]
        let url = URL(fileURLWithPath: sandbox.path("shard-000000.tar.zst").path)
        let writer = try ShardWriter(url: url)
        for sample in counts.shardSamples() { try writer.append(sample) }
        _ = try writer.finish()
        let samples = try ShardReader.readAll(url)
        XCTAssertEqual(samples.map(\.key), ["file", "group0000", "group0001", "group0002", "group0003", "words"])
        XCTAssertEqual(try FileCounts(shardSamples: samples, origin: url.path), counts)

        let damaged = Array(samples.dropLast())
        XCTAssertThrowsError(try FileCounts(shardSamples: damaged, origin: "x.tar.zst")) { error in
            XCTAssertEqual("\(error)", "x.tar.zst: file.json promises words but there is no \"words\" sample; not a count stage shard")
        }
    }

    func testMergeIsTheSameInAnyOrder() throws {
        let fileCounter = counter()
        let files = try ["gsm8k-pile.jsonl", "gsm8k-pile.jsonl.zst", "conll-testa.txt", "unicode.txt"].map {
            try fileCounter.count(file: Repository.input($0))
        }
        func merged(_ files: [FileCounts]) throws -> [String] {
            var merge = CountMerge(vocabularySize: neoxTokenizer.vocabularySize, countWords: true)
            for file in files { try merge.add(file) }
            return merge.outputFiles(subsetField: pile).map { $0.path + " " + SHA256Hex.of($0.bytes) }
        }
        let forward = try merged(files)
        XCTAssertEqual(try merged(files.reversed()), forward)
        XCTAssertEqual(try merged([files[2], files[0], files[3], files[1]]), forward)
        XCTAssertEqual(forward.map { $0.split(separator: " ")[0] },
                       ["counts.npy", "subsets/DM_Mathematics.npy", "subsets/Gutenberg_PG-19.npy", "subsets/Pile-CC.npy",
                        "subsets.json", "words.tsv"])

        var withoutWords = try self.counter(words: false).count(file: Repository.input("unicode.txt"))
        var merge = CountMerge(vocabularySize: neoxTokenizer.vocabularySize, countWords: true)
        XCTAssertThrowsError(try merge.add(withoutWords))
        withoutWords.vocabularySize = 7
        XCTAssertThrowsError(try merge.add(withoutWords))
    }

    // MARK: Bad input

    func testBadLineNamesFileAndLineOrIsSkippedAndCounted() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let good = try String(contentsOfFile: Repository.input("gsm8k-pile.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(12).map { $0 + "\n" }
        try sandbox.write("good.jsonl", Array(good.joined().utf8))
        var lines = good.map { Array($0.utf8) }
        lines.insert(Array("{\"text\": \"unterminated\n".utf8), at: 2)                  // line 3: not JSON
        lines.insert([0x7B, 0x22, 0x74, 0xFF, 0x22, 0x7D, 0x0A], at: 5)                 // line 6: invalid UTF-8
        lines.insert(Array("{\"text\": \"a\", \"meta\": {\"pile_set_name\": 3}}\n".utf8), at: 8)  // line 9: subset not a string
        try sandbox.write("bad.jsonl", Array(lines.joined()))

        let bad = sandbox.path("bad.jsonl").path
        XCTAssertThrowsError(try counter(skipBad: false).count(file: bad)) { error in
            XCTAssertEqual(error as? CorpusError, CorpusError(file: bad, line: 3, problem: "not JSON: unterminated string at byte 23"))
        }
        let skipping = try counter(skipBad: true).count(file: bad)
        XCTAssertEqual(skipping.skippedLines, 3)
        XCTAssertEqual(skipping.skippedExamples, [
            "\(bad):3: not JSON: unterminated string at byte 23", "\(bad):6: invalid UTF-8",
            "\(bad):9: meta.pile_set_name is a number, not a string",
        ])
        var withoutBadLines = try counter(skipBad: true).count(file: sandbox.path("good.jsonl").path)
        withoutBadLines.source = bad
        withoutBadLines.skippedLines = 3
        withoutBadLines.skippedExamples = skipping.skippedExamples
        XCTAssertEqual(skipping, withoutBadLines)

        // Without --skip-bad, the subset problem alone is an error naming its line.
        try sandbox.write("subset.jsonl", Array((good[0] + "{\"text\": \"a\", \"meta\": [1]}\n").utf8))
        XCTAssertThrowsError(try counter().count(file: sandbox.path("subset.jsonl").path)) { error in
            XCTAssertEqual("\(error)", "\(sandbox.path("subset.jsonl").path):2: meta.pile_set_name: meta is an array, not an object")
        }
    }

    func testTruncatedZstdIsAnErrorOrCountsWhatCameBefore() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let whole = try Data(contentsOf: URL(fileURLWithPath: Repository.input("gsm8k-pile.jsonl.zst")))
        try sandbox.write("cut.jsonl.zst", Array(whole.prefix(whole.count * 3 / 4)))
        let cut = sandbox.path("cut.jsonl.zst").path
        XCTAssertThrowsError(try counter().count(file: cut)) { error in
            guard let error = error as? CorpusError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.file, cut)
            XCTAssertNotNil(error.line)
            XCTAssertTrue(error.problem.contains("truncated"), error.problem)
        }
        let skipping = try counter(skipBad: true).count(file: cut)
        XCTAssertEqual(skipping.skippedLines, 1)
        XCTAssertTrue(skipping.skippedExamples[0].contains("truncated"), skipping.skippedExamples[0])
        // The first frame (150 lines) was read; the cut second frame gives nothing or part of its lines.
        XCTAssertGreaterThanOrEqual(skipping.documents, 150)
        XCTAssertLessThan(skipping.documents, 300)
    }

    func testTooManySubsetNamesMeansTheFieldIsWrong() throws {
        let file = Repository.input("gsm8k-pile.jsonl")
        XCTAssertThrowsError(try counter(maxSubsets: 2).count(file: file)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file):3: more than 2 distinct subset names"), "\(error)")
        }
    }

    // MARK: Parts

    /// Several text fields: each field of every line is a document of its own, so the counts are the sums of
    /// counting each field alone; lines may lack some fields (files of different kinds counted together), but a
    /// file in which no line has any is an error naming the file.
    func testSeveralTextFieldsCountAsTheSumOfEachAlone() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let lines = try String(contentsOfFile: Repository.root.appendingPathComponent("data/gsm8k/test.jsonl").path, encoding: .utf8)
            .split(separator: "\n").prefix(40)
        try sandbox.write("qa.jsonl", Array((lines.joined(separator: "\n") + "\n").utf8))
        func count(_ fields: [String]) throws -> FileCounts {
            try CorpusCounter(tokenizer: neoxTokenizer, settings: CountSettings(threads: 2, countWords: true, textFields: fields,
                                                                               batchBytes: 1_000))
                .count(file: sandbox.path("qa.jsonl").path)
        }
        let both = try count(["question", "answer"]), question = try count(["question"]), answer = try count(["answer"])
        XCTAssertEqual(both.documents, 80)
        XCTAssertEqual(both.tokens, question.tokens + answer.tokens)
        XCTAssertEqual(both.bytes, question.bytes + answer.bytes)
        XCTAssertEqual(both.groups.count, 1)
        XCTAssertEqual(both.groups[0].counts, zip(question.groups[0].counts, answer.groups[0].counts).map { $0 + $1 })
        var words = question.words!
        words.add(answer.words!)
        XCTAssertEqual(both.words, words)
        XCTAssertGreaterThan(question.tokens, 0)
        XCTAssertGreaterThan(answer.tokens, question.tokens)

        XCTAssertEqual(try count(["question", "rationale"]).groups[0].counts, question.groups[0].counts)
        XCTAssertThrowsError(try count(["rationale", "solution"])) { error in
            XCTAssertEqual("\(error)", "\(sandbox.path("qa.jsonl").path): no line has any of the text fields \"rationale\", \"solution\"")
        }

        // A line of another kind among them: its field is counted, the others pass it over.
        try sandbox.write("qa.jsonl", Array((lines.joined(separator: "\n") + "\n{\"text\": \"Another kind of line.\"}\n").utf8))
        let mixed = try count(["question", "answer", "text"])
        XCTAssertEqual(mixed.documents, 81)
        XCTAssertEqual(mixed.tokens, both.tokens + neoxTokenizer.encode("Another kind of line.").count)
        // A bad line is the same bad line in every field's pass: skipped (and counted) once.
        try sandbox.write("bad.jsonl", Array((lines.prefix(3).joined(separator: "\n") + "\n{not json\n").utf8))
        let skipping = try CorpusCounter(tokenizer: neoxTokenizer, settings: CountSettings(threads: 2, skipBadLines: true,
                                                                                         textFields: ["question", "answer"]))
            .count(file: sandbox.path("bad.jsonl").path)
        XCTAssertEqual(skipping.documents, 6)
        XCTAssertEqual(skipping.skippedLines, 1)
        XCTAssertEqual(skipping.skippedExamples.count, 1)

        // A CSV file: its two columns; one it lacks is passed over.
        try sandbox.write("pairs.csv", Array("AAVE,SAE\nhe be working,he is usually working\n\"she done ate, y'all\",she has eaten\n".utf8))
        let pairs = try CorpusCounter(tokenizer: neoxTokenizer, settings: CountSettings(threads: 2, textFields: ["AAVE", "SAE", "text"]))
            .count(file: sandbox.path("pairs.csv").path)
        XCTAssertEqual(pairs.documents, 4)
        XCTAssertEqual(pairs.tokens, ["he be working", "she done ate, y'all", "he is usually working", "she has eaten"]
            .map { neoxTokenizer.encode($0).count }.reduce(0, +))
        XCTAssertThrowsError(try count(["text"])) { error in
            XCTAssertEqual("\(error)", "\(sandbox.path("qa.jsonl").path):1: no \"text\" field")
        }

        // Files without fields (plain text, CoNLL) are read once, whatever the fields: counted as with none given.
        try sandbox.write("plain.txt", Array("One line of plain text.\nAnd another.\n".utf8))
        for path in [sandbox.path("plain.txt").path, Repository.root.appendingPathComponent("data/conll2003/eng.testb").path] {
            func countFile(_ fields: [String]) throws -> FileCounts {
                try CorpusCounter(tokenizer: neoxTokenizer, settings: CountSettings(threads: 2, countWords: true, textFields: fields))
                    .count(file: path)
            }
            let once = try countFile(["text"]), several = try countFile(["question", "answer", "AAVE"])
            XCTAssertEqual(several.documents, once.documents, path)
            XCTAssertEqual(several.tokens, once.tokens, path)
            XCTAssertTrue(several.groups[0].counts == once.groups[0].counts, path)
            XCTAssertTrue(several.words == once.words, path)
            XCTAssertGreaterThan(once.tokens, 0, path)
        }
    }

    func testSubsetField() throws {
        let field = try SubsetField("meta.pile_set_name")
        XCTAssertEqual(try field.subset(inMetadata: JSONValue.parse(#"{"meta":{"pile_set_name":"Pile-CC"}}"#)), "Pile-CC")
        XCTAssertEqual(try field.subset(inMetadata: nil), nil)
        XCTAssertEqual(try field.subset(inMetadata: JSONValue.parse(#"{"id":3}"#)), nil)
        XCTAssertEqual(try field.subset(inMetadata: JSONValue.parse(#"{"meta":{"pile_set_name":null}}"#)), nil)
        XCTAssertThrowsError(try field.subset(inMetadata: JSONValue.parse(#"{"meta":"x"}"#))) { error in
            XCTAssertEqual("\(error)", "meta.pile_set_name: meta is a string, not an object")
        }
        XCTAssertThrowsError(try field.subset(inMetadata: JSONValue.parse(#"{"meta":{"pile_set_name":{"a":1}}}"#))) { error in
            XCTAssertEqual("\(error)", "meta.pile_set_name is an object, not a string")
        }
        XCTAssertEqual(try SubsetField("source").subset(inMetadata: JSONValue.parse(#"{"source":"gsm8k"}"#)), "gsm8k")
        for bad in ["", "meta.", ".a", "a..b"] { XCTAssertThrowsError(try SubsetField(bad), bad) }
    }

    func testSubsetFileNamesAreSafeUniqueAndStable() {
        let stems = SubsetFileNames.stems(for: [
            "Gutenberg (PG-19)", "Wikipedia (en)", "Pile-CC", "a b", "A b", "a_b", "...", "", "Ünïcode/names",
            "caf\u{E9}", "cafe\u{301}", String(repeating: "x", count: 300),
        ])
        let byName = Dictionary(uniqueKeysWithValues: stems.map { ($0.key.text.unicodeScalars.map(\.value), $0.value) })
        func stem(_ name: String) -> String? { byName[name.unicodeScalars.map(\.value)] }
        XCTAssertEqual(stem("Gutenberg (PG-19)"), "Gutenberg_PG-19")
        XCTAssertEqual(stem("Wikipedia (en)"), "Wikipedia_en")
        XCTAssertEqual(stem("Pile-CC"), "Pile-CC")
        XCTAssertEqual(stem("A b"), "A_b")
        XCTAssertEqual(stem("a b"), "a_b-2")
        XCTAssertEqual(stem("a_b"), "a_b-3")
        XCTAssertEqual(stem(""), "subset")
        XCTAssertEqual(stem("..."), "subset-2")
        XCTAssertEqual(stem("Ünïcode/names"), "n_code_names")
        XCTAssertEqual(stem("caf\u{E9}"), "caf")
        XCTAssertEqual(stem("cafe\u{301}"), "cafe")
        XCTAssertEqual(stem(String(repeating: "x", count: 300)), String(repeating: "x", count: 100))
        XCTAssertEqual(Set(stems.values.map { $0.lowercased() }).count, stems.count)
    }

    func testCorpusFilesExpandFoldersInSortedOrder() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        for name in ["b/2.jsonl", "b/10.jsonl.zst", "a.txt", "b/notes.md", ".hidden/x.jsonl", "b/.x.jsonl", "B.jsonl"] {
            try sandbox.write(name, [])
        }
        let (files, ignored) = try CorpusFiles.expand([sandbox.path("").path, ])
        let root = sandbox.path("").path + "/"
        XCTAssertEqual(files, ["B.jsonl", "a.txt", "b/10.jsonl.zst", "b/2.jsonl"].map { root + $0 })
        XCTAssertEqual(ignored, [root + "b/notes.md"])
        XCTAssertThrowsError(try CorpusFiles.expand([sandbox.path("a.txt").path, sandbox.path("").path])) { error in
            XCTAssertEqual("\(error)", "\(root)a.txt: the same file as \(sandbox.path("a.txt").path); each file may be counted once")
        }
        XCTAssertThrowsError(try CorpusFiles.expand([sandbox.path("missing.jsonl").path])) { error in
            XCTAssertEqual("\(error)", "\(sandbox.path("missing.jsonl").path): no such file or folder")
        }
    }
}
