// LethePipeline: pipeline.json and the stage folders it names, and the runner that keeps them current.
//
//   Pipeline, PipelineStage, StageResources   pipeline.json, checked with one line per problem
//   StageDescription, Fingerprint             what a stage executable says of itself; a stage's fingerprint
//   StageFolder, StageManifest                a stage's output folder: shards, records, files, manifest.json
//   Runner, LocalExecutor, Explain            `lethe run` / `status`: what is stale and why, running in order
//   SlurmExecutor, SlurmJobScript, SlurmClient   the same through Slurm array jobs, time limits and requeues
//   RunLock                                   one run at a time per stage folder
//   ResourceUsage                             each stage process's peak memory and CPU time
//   Lineage, RunStage                         the stages behind a folder, from the recorded inputs (the report's)
//   Inspect                                   `lethe inspect`: manifests and samples as text
