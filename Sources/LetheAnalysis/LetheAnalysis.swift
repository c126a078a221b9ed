// LetheAnalysis: what the annotate and report stages compute, as library code on plain values.
//
// Words come from LetheText (nltk.word_tokenize's split).
// Retention
//   retainedWords(reference:reconstruction:)  the reference's (word, k-th occurrence) rule, case-sensitive
//   alignTokens(reference:reconstruction:)    Levenshtein alignment of token ids: kept / substituted / dropped
// Scores and statistics (each matching the SciPy / rouge-score function named in its comment)
//   Rouge.rouge1(reference:prediction:), twoSampleTTest, bonferroni, spearman, wilsonInterval,
//   bootstrapMeanInterval (SplitMix64, seeded), percentile, regularizedIncompleteBeta, studentTCDF, normalQuantile
// Categories
//   POSClass(pennTag:), NERClass(tag:), WordClass.classify(words, at:, mathChunk:), positionBin, logBin
// Frequencies
//   WordCounts(tsv:source:)                        the count stage's words.tsv (word -> pretraining count)
//   tokenTexts(fromTokenBytes:)                    each token's text, to find a word's tokens
// Annotation and report
//   annotateChunk(ChunkInput) -> ChunkAnnotation   one chunk's words with all categories (KEY.words.json)
//   ReportTables(chunks:).write(to:)                rouge.csv, omission_*.csv, significance_*.csv,
//                                                    omission_position.csv, frequency.csv and the SVG plots
//   reportMarkdown(ReportContext, tables:)          report.md: the run, the data, each table with a reading
//   Table(...).csv, SVGPlot.lines / SVGPlot.bars   generic CSV and chart writers
//
// Undefined statistics (a category with one word, constant samples, no data) are nan, as in SciPy; CSV cells
// show them empty and plots leave the point out.
