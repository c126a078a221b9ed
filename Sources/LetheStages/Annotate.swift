import Foundation
import LetheAnalysis
import LetheCLI
import LethePipeline
import LetheShards
import LetheText
import LetheTokenizer

/// The annotate stage (lethe-annotate): each reconstructed chunk's reference words, retained or omitted, with
/// their categories (LetheAnalysis's annotateChunk), one output shard per input shard. `counts`: a lethe-count
/// folder for pretraining frequencies, read with `tokenizer` (the tokenizer.json the chunks were made with).
public func runAnnotateStage(_ run: StageRun, inputs: [String], counts: String?, tokenizer: String?, threads: Int) throws {
    let open = { try StageInput.requiring($0, producer: "lethe-reconstruct", member: "recon.npy", expected: "a reconstruct output") }
    try runMapStage(run, inputs: inputs, open: open, concurrency: threads) { _ in
        // The tokenizer only serves to find each word's tokens, for their counts.
        let annotator = SampleAnnotator(counts: try counts.map(PretrainingCounts.init(path:)),
                                        tokenizer: counts == nil ? nil : try tokenizer.map { try Tokenizer(contentsOf: URL(fileURLWithPath: $0)) })
        return MapWork { reader, writer in
            var totals = ChunkTotals()
            while let sample = try reader.next() {
                let (annotated, chunk) = try annotator.annotate(sample)
                totals.add(chunk)
                try writer.append(annotated)
            }
            return totals.json
        }
    }
}

/// Pretraining counts from a lethe-count folder.
struct PretrainingCounts {
    let tokens: [Int64]
    let words: WordCounts?

    init(path: String) throws {
        let input = try StageInput(path: path)
        let url = try input.fileURL("counts.npy")
        let array = try NPYArray.read(contentsOf: url)
        guard array.shape.count == 1 else {
            throw StageError("\(path)/counts.npy: expected one count per token id (a 1-d array), found shape \(array.shape)")
        }
        do { tokens = try array.int64s() } catch { throw StageError("\(path)/counts.npy: \(error)") }
        if input.manifest.files.contains(where: { $0.name == "words.tsv" }) {
            let bytes = try [UInt8](Data(contentsOf: try input.fileURL("words.tsv")))
            words = try WordCounts(tsv: bytes, source: "\(path)/words.tsv")
        } else {
            words = nil
        }
    }
}

/// Turns a reconstruct sample into an annotate sample.
struct SampleAnnotator {
    let counts: PretrainingCounts?
    let tokenizer: Tokenizer?
    let wordTokenizer = WordTokenizer()

    func annotate(_ sample: ShardSample) throws -> (ShardSample, ChunkAnnotation) {
        let origin = "\(sample.source ?? "sample"): sample \(sample.key)"
        guard sample.data("recon.npy") != nil else {
            throw StageError("\(origin) has no KEY.recon.npy: not a reconstruct output (it has: \(sample.members.map(\.ext).joined(separator: ", ")))")
        }
        var meta = try sample.json()
        guard meta.objectValue != nil else { throw StageError("\(origin): KEY.json is not an object") }
        func text(_ key: String) throws -> String {
            guard let value = meta[key]?.stringValue else {
                throw StageError("\(origin): KEY.json has no \"\(key)\" text (lethe-reconstruct writes reference and reconstruction)")
            }
            return value
        }
        let tokens: [Int32], recon: [Int32]
        do { (tokens, recon) = (try sample.tokenIDs(allowEmpty: true), try sample.tokenIDs("recon", allowEmpty: true)) } catch {
            throw StageError("\(origin): \(error)")
        }
        guard let dataset = ChunkInput.dataset(ofSampleJSON: meta) else { throw StageError("\(origin): KEY.json has no \"dataset\" label") }
        // Gold words are the corpus's own (CoNLL-2003: tagged); words that `words` chunking split at spaces on
        // untagged text keep punctuation attached, so those chunks are split as the reconstruction is.
        let gold = try meta["words"].map { try Self.goldWords($0, tokenCount: tokens.count, origin: origin) }
            .flatMap { words in words.contains { $0.posTag != nil || $0.nerTag != nil } ? words : nil }
        var tokenFrequencies: [Int64]? = nil
        var tokenTexts: [String]? = nil
        if let counts {
            tokenFrequencies = try tokens.map { id in
                guard id >= 0, Int(id) < counts.tokens.count else {
                    throw StageError("\(origin): token id \(id) is beyond the \(counts.tokens.count) entries of counts.npy (another tokenizer?)")
                }
                return counts.tokens[Int(id)]
            }
            if let tokenizer, gold?.allSatisfy({ $0.tokenSpan != nil }) != true {
                tokenTexts = LetheAnalysis.tokenTexts(fromTokenBytes: tokens.map { tokenizer.decodeBytes([$0]) })
            }
        }
        let chunk = annotateChunk(ChunkInput(
            dataset: dataset, referenceTokenIDs: tokens, reconstructionTokenIDs: recon, referenceText: try text("reference"),
            reconstructionText: try text("reconstruction"), referenceTokenTexts: tokenTexts, goldWords: gold,
            tokenFrequencies: tokenFrequencies, wordCounts: counts?.words, isMath: ChunkInput.isMath(dataset: dataset)), tokenizer: wordTokenizer)

        meta["rouge1"] = ["precision": .double(chunk.rouge1.precision), "recall": .double(chunk.rouge1.recall), "f1": .double(chunk.rouge1.f1)]
        meta["reference_words"] = .int(chunk.words.count)
        meta["retained_words"] = .int(chunk.words.filter(\.retained).count)
        var fates: [String: JSONValue] = ["inserted": .int(chunk.insertedTokens)]
        for fate in TokenFate.allCases { fates["\(fate)"] = .int(chunk.tokenFates.filter { $0 == fate }.count) }
        meta["token_fates"] = .object(fates)

        var out = ShardSample(key: sample.key)
        out.setJSON(meta)
        out.set("tokens.npy", data: sample.data("tokens.npy")!)
        out.set("recon.npy", data: sample.data("recon.npy")!)
        out.set("words.json", data: [UInt8](try chunk.jsonData()))
        return (out, chunk)
    }

    /// The tokenize stage's word list: [{"text", "labels": {"pos", "ner", ...}, "span": [start, end]}].
    static func goldWords(_ value: JSONValue, tokenCount: Int, origin: String) throws -> [GoldWord] {
        guard let words = value.arrayValue else { throw StageError("\(origin): KEY.json \"words\" is not an array") }
        return try words.enumerated().map { index, word in
            guard let text = word["text"]?.stringValue else { throw StageError("\(origin): words[\(index)] has no \"text\"") }
            var span: Range<Int>? = nil
            if let bounds = word["span"] {
                guard let start = bounds[0]?.intValue, let end = bounds[1]?.intValue, bounds.arrayValue?.count == 2,
                      0 <= start, start <= end, end <= tokenCount else {
                    throw StageError("\(origin): words[\(index)].span must be [start, end] within the chunk's \(tokenCount) tokens")
                }
                span = start..<end
            }
            return GoldWord(word: text, posTag: word["labels"]?["pos"]?.stringValue, nerTag: word["labels"]?["ner"]?.stringValue,
                            tokenSpan: span)
        }
    }
}

/// Facts about a shard's chunks for the manifest's "extra" (summed over shards).
struct ChunkTotals {
    var chunks = 0, referenceWords = 0, retainedWords = 0, referenceTokens = 0, keptTokens = 0

    mutating func add(_ chunk: ChunkAnnotation) {
        chunks += 1
        referenceWords += chunk.words.count
        retainedWords += chunk.words.filter(\.retained).count
        referenceTokens += chunk.tokenFates.count
        keptTokens += chunk.tokenFates.filter { $0 == .kept }.count
    }

    var json: JSONValue {
        ["chunks": .int(chunks), "reference_words": .int(referenceWords), "retained_words": .int(retainedWords),
         "reference_tokens": .int(referenceTokens), "kept_tokens": .int(keptTokens)]
    }
}
