import Foundation
import LetheAnalysis
import LetheCLI
import LethePipeline
import LetheSamples
import LetheShards
import LetheText
import LetheTokenizer

/// The annotate stage (lethe-annotate): each reconstructed chunk's reference words, retained or omitted, with
/// their categories (LetheAnalysis's annotateChunk), one output shard per input shard. `counts`: a lethe-count
/// folder for pretraining frequencies, read with `tokenizer` (the tokenizer.json the chunks were made with).
public func runAnnotateStage(_ run: StageRun, inputs: [String], counts: String?, tokenizer: String?, threads: Int) throws {
    let open = { try StageInput.requiring($0, kind: .reconstruction) }
    try runMapStage(run, inputs: inputs, open: open, concurrency: threads) { _ in
        // The tokenizer only serves to find each word's tokens, for their counts and surprisal.
        let annotator = SampleAnnotator(counts: try counts.map(PretrainingCounts.init(path:)),
                                        tokenizer: try tokenizer.map { try Tokenizer(contentsOf: URL(fileURLWithPath: $0)) })
        return MapWork { reader, writer in
            var facts = AnnotateFacts()
            while let sample = try reader.next() {
                let (annotated, chunk) = try annotator.annotate(sample)
                facts.add(chunk)
                try writer.append(annotated.shardSample())
            }
            return facts.json
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

    func annotate(_ sample: ShardSample) throws -> (ChunkSample, ChunkAnnotation) {
        var chunk = try ChunkSample(sample, as: .reconstruction)
        let origin = chunk.origin
        func text(_ value: String?, _ key: String) throws -> String {
            guard let value else {
                throw StageError("\(origin): KEY.json has no \"\(key)\" text (lethe-reconstruct writes reference and reconstruction)")
            }
            return value
        }
        let tokens = chunk.tokens, recon = chunk.reconstruction!
        guard let dataset = chunk.metadata.reportedDataset else { throw StageError("\(origin): KEY.json has no \"dataset\" label") }
        // Gold words are the corpus's own (CoNLL-2003: tagged); words that `words` chunking split at spaces on
        // untagged text keep punctuation attached, so those chunks are split as the reconstruction is.
        let words: [ChunkWord]?
        do { words = try chunk.metadata.words(tokenCount: tokens.count) } catch { throw StageError("\(origin): \(error)") }
        let gold = words.map { $0.map { GoldWord(word: $0.text, posTag: $0.labels["pos"], nerTag: $0.labels["ner"], tokenSpan: $0.span) } }
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
        }
        if counts != nil || chunk.surprisal != nil, let tokenizer, gold?.allSatisfy({ $0.tokenSpan != nil }) != true {
            tokenTexts = LetheAnalysis.tokenTexts(fromTokenBytes: tokens.map { tokenizer.decodeBytes([$0]) })
        }
        let annotation = annotateChunk(ChunkInput(
            dataset: dataset, referenceTokenIDs: tokens, reconstructionTokenIDs: recon,
            referenceText: try text(chunk.metadata.reference, "reference"),
            reconstructionText: try text(chunk.metadata.reconstruction, "reconstruction"), referenceTokenTexts: tokenTexts,
            goldWords: gold, tokenFrequencies: tokenFrequencies, wordCounts: counts?.words,
            tokenSurprisals: chunk.surprisal.map { $0.map(Double.init) }, isMath: ChunkInput.isMath(dataset: dataset)),
            tokenizer: wordTokenizer)

        var fates = ["inserted": annotation.insertedTokens]
        for fate in TokenFate.allCases { fates["\(fate)"] = annotation.tokenFates.filter { $0 == fate }.count }
        chunk.metadata.setScores(rouge1: annotation.rouge1.precision, recall: annotation.rouge1.recall, f1: annotation.rouge1.f1,
                                 referenceWords: annotation.words.count, retainedWords: annotation.words.filter(\.retained).count,
                                 tokenFates: fates)
        chunk.words = [UInt8](try annotation.jsonData())
        return (chunk, annotation)
    }
}

extension AnnotateFacts {
    mutating func add(_ chunk: ChunkAnnotation) {
        chunks += 1
        referenceWords += chunk.words.count
        retainedWords += chunk.words.filter(\.retained).count
        referenceTokens += chunk.tokenFates.count
        keptTokens += chunk.tokenFates.filter { $0 == .kept }.count
    }
}
