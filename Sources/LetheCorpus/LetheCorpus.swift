// LetheCorpus: documents from corpus files and the chunks cut from them (the tokenize stage's library).
//
//   ByteSource, DocumentReader, JSONLine    .jsonl, .jsonl.zst, .csv, .txt and CoNLL-2003 files as documents
//   DocumentBlocks                          documents in blocks (a stage's units), selection by position
//   Chunking                                fixed lengths (in a cycle), mixed lengths, whole words, or the whole document
//   Sample.metadata                         a chunk's KEY.json (LetheSamples's ChunkMetadata)
