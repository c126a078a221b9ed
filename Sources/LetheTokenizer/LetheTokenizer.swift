// LetheTokenizer: tokenizer.json's byte-level BPE as the tokenizers crate runs it (GPT-NeoX-20B).
//
//   Tokenizer, TokenizerFile    loading and the public API: encode, decode, decodeBytes
//   NFC, PreTokenizer, ByteLevel, CharacterClass   normalisation and the pre-tokenizer's split
//   BPE, MergeTable, WordCache, AddedTokens        the merges, a word cache, special tokens
