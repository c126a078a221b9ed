// LetheShards: the files every library reads and writes.
//
//   ShardWriter, ShardReader, ShardSample   shards (tar + zstd) of samples: KEY.json and KEY.NAME.npy members
//                                           (what a chunk sample holds: LetheSamples)
//   NPYArray, JSONValue                     .npy arrays; canonical JSON (sorted keys)
//   DurableFile, SHA256Hex                  writes that survive kill -9 and a full disk; file digests
//   BoundedQueue, SplitMix64                a bounded queue between threads; a seeded generator
