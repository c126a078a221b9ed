import LetheSamples

extension Sample {
    /// The chunk's KEY.json (ChunkMetadata's tokenize fields), labelled with `dataset`.
    public func metadata(dataset: String) -> ChunkMetadata {
        ChunkMetadata(text: text, dataset: dataset, source: source, document: document, line: line, length: tokens.count,
                      documents: documentCount, tokenOffset: tokenOffset, firstWord: firstWord, metadata: metadata, words: words)
    }
}
