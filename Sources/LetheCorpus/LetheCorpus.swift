// LetheCorpus: document readers and chunkers.
