// LetheCount: token and word frequencies of corpus files (the count stage's library).
//
//   CorpusCounter, FileCounts   one file's token counts (and words, split by LetheText), overall and per subset
//   CorpusFiles, SubsetField    which files a count reads; the subset of a line (the Pile's meta.pile_set_name)
//   CountMerge, Counts          per-file units merged into counts.npy and words.tsv (word tables, group counts)
