// LetheStages: the logic of every stage, so that each executable is its options and a call.
//
//   runTokenizeStage     lethe-tokenize: corpus files (DocumentBlocks) cut into chunks (BlockChunker), a block of
//                        documents a unit, each sample labelled with its dataset (DatasetLabels)
//   runEncodeStage       lethe-encode: chunks batched by length to their final states (ShardEncoder), written in
//                        input order with early samples spilled to disk
//   runTrainStage        lethe-train: a TrainingRun in the stage folder (LetheTraining), resumed for the same
//                        configuration, checkpointed and stopped on SIGTERM, its progress (StepReporter)
//   runReconstructStage  lethe-reconstruct: greedy reconstruction from the states (ShardReconstructor), the
//                        decoder's state shapes checked against the encoder's first
//   runCountStage        lethe-count: token and word frequencies, a corpus file a unit (CorpusCounter), merged
//                        into counts.npy, words.tsv and the subset files (CountMerge)
//   runAnnotateStage     lethe-annotate: each chunk's words and categories (SampleAnnotator over LetheAnalysis),
//                        with pretraining counts (PretrainingCounts)
//   runReportStage       lethe-report: the annotations streamed into the tables and plots (AnnotationCollector,
//                        ReportTables), the training curve and report.md, with the stages behind them (Lineage)
// The map stages run on LetheCLI's driver (runMapStage). Every chunk stage reads and writes its samples as
// LetheSamples's ChunkSample of its kind and its manifest facts as that kind's StageFacts; an input of the wrong
// kind is refused up front (StageInput.requiring).

import Foundation
import LetheCLI
import LetheModel
import LetheShards

/// The model in the folder at `path` and how stage metadata names it (modelIdentity).
func loadModel(_ path: String) throws -> (model: MambaModel, identity: JSONValue) {
    let url = URL(fileURLWithPath: path)
    let model = try MambaModel.load(from: url)
    return (model, modelIdentity(folder: url, config: model.config))
}
