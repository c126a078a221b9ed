// LetheAnalysis: Word tokenizer, alignment, ROUGE, statistics and SVG plots for the annotate and report stages.
