// LetheText: text cut into sentences and words exactly as NLTK cuts them, for the count stage (word counts) and
// the annotate stage (a chunk's words). No regex engine: Python's character classes are reproduced over Unicode
// scalar properties (PythonCharacters.swift), tested code point by code point against Python.
//
//   WordTokenizer().tokenize(text)            nltk.word_tokenize (NLTK 3.10.4): Punkt, then NLTKWordTokenizer
//   TreebankWordTokenizer().tokenize(s)       NLTKWordTokenizer alone (one sentence)
//   PunktSentenceTokenizer().sentences(text)  Punkt's sentence split with the English punkt_tab model, a data
//                                             file (Resources/punkt-english.tsv.zst) checked by its sha256 when
//                                             first used (PunktModelFile)
