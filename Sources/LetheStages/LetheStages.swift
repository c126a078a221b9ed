// LetheStages: the logic of the map stages, so that their executables are options and a call.
//
//   runEncodeStage       lethe-encode: chunks batched by length to their final states (ShardEncoder), written in
//                        input order with early samples spilled to disk
//   runReconstructStage  lethe-reconstruct: greedy reconstruction from the states (ShardReconstructor), the
//                        decoder's state shapes checked against the encoder's first
//   runAnnotateStage     lethe-annotate: each chunk's words and categories (SampleAnnotator over LetheAnalysis),
//                        with pretraining counts (PretrainingCounts)
// All three run on LetheCLI's map-stage driver (runMapStage) and read token ids with ShardSample.tokenIDs.
