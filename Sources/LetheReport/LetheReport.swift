// LetheReport: report.md, the report's prose around LetheAnalysis's tables and plots, and report.html.
//
//   reportMarkdown(ReportContext, runs:)     what was run (the stages behind the annotations, their models; the
//                                            runs compared, when several), the data, and every table with a
//                                            one-line reading computed from its numbers, linking the CSV files and
//                                            plots
//   DatasetSummary, ReconstructionExample    what report.md says of each dataset and shows of its chunks
//   reportHTML(title:markdown:files:chunks:) report.html: report.md as HTML (markdownHTML) with the plots inline,
//                                            every CSV as a table, and the chunk browser (Resources/report.js)
//   ChunkBrowser                             every chunk's texts, words and their fates, as the page embeds them
//   PaperFigures.published                   the paper's published figures (Resources/paper-figures.json), set
//                                            beside a run whose encoder has one of the paper's architectures
