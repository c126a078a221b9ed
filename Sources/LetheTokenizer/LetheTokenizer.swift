// LetheTokenizer: Hugging Face tokenizer.json (byte-level BPE, GPT-NeoX family): normalizer, pre-tokenizer, BPE model, decoder.
