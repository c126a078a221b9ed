// LetheReport: report.md, the report's prose around LetheAnalysis's tables and plots.
//
//   reportMarkdown(ReportContext, tables:)   what was run (the stages behind the annotations, their models), the
//                                            data, and every table with a one-line reading computed from its
//                                            numbers, linking the CSV files and plots
//   DatasetSummary, ReconstructionExample    what report.md says of each dataset and shows of its chunks
