// LetheSamples: what a chunk sample holds at each stage, declared once and read and written only through it.
//
//   ChunkKind         tokens → states → reconstruction → annotation: each stage's members (MemberDescription:
//                     extension, dtypes, shape), the KEY.json fields it adds, its producer
//   ChunkSample       a sample of any kind read from a shard (checked: members, dtypes, ranks, token ids) and
//                     written back in the kind's member order; EncoderStates for the ssm and conv arrays
//   ChunkMetadata     KEY.json as typed fields (text, dataset, encoder, reference, stop, scores...), any other
//                     field kept; ChunkWord for its `words`
//   StageFacts        each chunk stage's manifest "extra", typed (TokenizeFacts, EncodeFacts, ...)
