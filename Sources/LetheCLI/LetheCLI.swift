// LetheCLI: what every stage executable shares, so that an executable is its options and a call.
//
//   LetheCommand, StageCommand            one-line errors, exit status, --lethe-describe (the stage's format)
//   StageOptions, WorkerOptions           --output, --stage, --force, --threads, --progress; a shard-parallel
//                                         stage's --shard-index/--num-shards
//   StageRun                              the harness: fingerprint, refusal to clobber, this worker's share of the
//                                         units, resume by unit, the manifest; one worker loop (units handed over
//                                         in order to threads) under runUnits (units counted: files, input shards)
//                                         and runStreamedUnits (units found while reading: tokenize's blocks);
//                                         runWhole for a stage of one piece (train, report)
//   runMapStage + MapWork                 the map-stage driver (encode, reconstruct, annotate): input shard j of the
//                                         input stage folders becomes output shard j
//   InOrderWriter (+ SpillFile)           output in input order when the work finishes samples out of order
//   StageInput                            a complete input stage folder (manifest, shards, registered files)
//   Progress, ProgressLine                progress on standard error (bar, lines or off)
//   DefaultTokenizer                      the shipped tokenizer.json, found above the executable or here
