// LetheAnalysis: what the annotate and report stages compute, as library code on plain values: the annotation,
// the statistics, the tables and the plots. The report's prose around them (report.md) is LetheReport's.
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
// Annotation, tables and plots
//   annotateChunk(ChunkInput) -> ChunkAnnotation   one chunk's words with all categories (KEY.words.json)
//   ReportTables(chunks:).files()                   rouge.csv, omission_*.csv, significance_*.csv,
//                                                    omission_position.csv, frequency.csv and the SVG plots
//   ReportTables.files(of: [RunTables])             the same for several runs compared (a run column, each
//                                                    run's series in every plot)
//   TrainingCurve(jsonLines:source:)               the decoder's training curve, its CSV and plots
//   Table(...).csv, SVGPlot.lines / SVGPlot.bars   generic CSV and chart writers
//
// Undefined statistics (a category with one word, constant samples, no data) are nan, as in SciPy; CSV cells
// show them empty and plots leave the point out.
