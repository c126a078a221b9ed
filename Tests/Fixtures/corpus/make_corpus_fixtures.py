#!/usr/bin/env python3
"""Writes the LetheCorpus fixtures (oracles: Python's json module, an independent Python reading of CoNLL-2003, and
the `tokenizers` package for chunking). Run by hand from the repository root:
    /work/venv/bin/python Tests/Fixtures/corpus/make_corpus_fixtures.py
Writes, next to this script:
  docs.jsonl / docs.jsonl.zst   JSONL input with escapes, surrogate pairs, U+FEFF after escapes, nested metadata
  docs-expected.jsonl           per line: the text and the other fields as Python's json parses them
  conll-testa.json              data/conll2003/eng.testa read in Python: document/sentence/word counts, an FNV-1a hash of
                                the document texts, and the first document's words with their tags
  chunks.jsonl                  the samples of each chunking of the first 24 CoNLL testa documents in blocks of 8,
                                computed here with `tokenizers` (chunking rules re-implemented independently)
"""
import json
import os
import subprocess

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TOK = Tokenizer.from_file(os.path.join(REPO, "data", "tokenizer", "gpt-neox-20b-tokenizer.json"))
MASK = (1 << 64) - 1


def write_jsonl_inputs():
    rows = [
        {"text": "Plain line.", "meta": {"pile_set_name": "Pile-CC"}},
        {"id": 7, "text": "Tab\tnewline\nquote\" backslash\\ slash/ \u00e9 \U0001F600 \u0000nul"},
        {"text": "BOM after escape \\\ufeff and alone \ufeff", "score": -1.5e-3, "ok": True, "none": None},
        {"meta": {"nested": [1, 2, {"a": []}], "s": "x\"y"}, "text": "metadata first"},
        {"text": ""},
        {"text": "only text"},
        {"text": "caf\u0065\u0301 not NFC", "lang": "fr"},
    ]
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]
    lines[1] = json.dumps(rows[1], ensure_ascii=True, separators=(",", ":"))  # \\u escapes, surrogate pairs
    lines.insert(3, "   ")  # a blank line is skipped
    lines.append('{ "text" : "spaced" ,  "n" : 1 }')
    with open(os.path.join(HERE, "docs.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["zstd", "-q", "-f", "-19", os.path.join(HERE, "docs.jsonl"), "-o",
                    os.path.join(HERE, "docs.jsonl.zst")], check=True)
    expected = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        text = obj.pop("text")
        expected.append({"line": number, "text": text, "meta": obj or None})
    with open(os.path.join(HERE, "docs-expected.jsonl"), "w", encoding="utf-8") as f:
        for row in expected:
            f.write(json.dumps(row, ensure_ascii=True) + "\n")


def read_conll(path):
    """Documents as lists of sentences of (word, pos, chunk, ner)."""
    documents, sentences, sentence = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if sentence:
                    sentences.append(sentence)
                    sentence = []
                if parts and sentences:
                    documents.append(sentences)
                    sentences = []
                continue
            sentence.append(tuple(parts))
    if sentence:
        sentences.append(sentence)
    if sentences:
        documents.append(sentences)
    return documents


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def doc_text(document):
    return " ".join(w[0] for s in document for w in s)


def write_conll_summary(documents):
    texts = [doc_text(d) for d in documents]
    first = [{"text": w[0], "pos": w[1], "chunk": w[2], "ner": w[3], "sentence": i}
             for i, s in enumerate(documents[0]) for w in s]
    summary = {
        "documents": len(documents), "sentences": sum(len(d) for d in documents),
        "words": sum(len(s) for d in documents for s in d),
        "fnv1a64": fnv1a64("\n".join(texts).encode("utf-8")),
        "first_words": first,
        "last_text": texts[-1],
    }
    with open(os.path.join(HERE, "conll-testa.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False)


class SplitMix64:
    def __init__(self, seed, stream=None):
        self.state = seed & MASK
        if stream is not None:
            self.state = (self.next() ^ (stream * 0xD1B54A32D192ED03)) & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            value = self.next()
            if value >= threshold:
                return value % bound


def cut(block, start_index, lengths):
    stream, starts = [], []
    for d in block:
        starts.append(len(stream))
        stream += TOK.encode(doc_text(d)).ids
    samples, start = [], 0
    for length in lengths:
        if start + length > len(stream):
            break
        first = max(i for i, s in enumerate(starts) if s <= start)
        last = max(i for i, s in enumerate(starts) if s < start + length)
        tokens = stream[start:start + length]
        samples.append({"doc": start_index + first, "documents": last - first + 1, "token_offset": start - starts[first],
                        "tokens": tokens, "text": TOK.decode(tokens, skip_special_tokens=False)})
        start += length
    return samples, len(stream) - start


def words_chunks(document, index, max_tokens):
    words = [w for s in document for w in s]
    samples, first, skipped = [], 0, 0
    while first < len(words):
        if len(TOK.encode(words[first][0]).ids) > max_tokens:
            skipped += 1
            first += 1
            continue
        end = first + 1
        while end <= len(words):
            text = " ".join(w[0] for w in words[first:end])
            if len(TOK.encode(text).ids) > max_tokens:
                break
            end += 1
        end -= 1  # the longest prefix that fits
        text = " ".join(w[0] for w in words[first:end])
        encoding = TOK.encode(text)
        spans, char = [], 0
        for k, w in enumerate(words[first:end]):
            start_char = char
            char += (1 if k else 0) + len(w[0])
            # token span from the encoding's offsets (character offsets into text)
            covered = [t for t, (a, b) in enumerate(encoding.offsets) if a < char and b > start_char]
            spans.append([w[0], covered[0], covered[-1] + 1])
        samples.append({"doc": index, "first_word": first, "tokens": encoding.ids, "text": text, "words": spans})
        first = end
    return samples, skipped


def write_chunks(documents):
    docs = documents[:24]
    rows = []
    for block_index in range(3):
        block = docs[8 * block_index:8 * block_index + 8]
        start = 8 * block_index
        samples, dropped = cut(block, start, [16] * 100000)
        rows += [{"chunking": "fixed16", "block": block_index, **s} for s in samples]
        rows.append({"chunking": "fixed16", "block": block_index, "dropped": dropped})
        generator = SplitMix64(7, stream=block_index)
        samples, dropped = cut(block, start, (4 + generator.below(29) for _ in range(100000)))
        rows += [{"chunking": "mixed4-32seed7", "block": block_index, **s} for s in samples]
        rows.append({"chunking": "mixed4-32seed7", "block": block_index, "dropped": dropped})
        skipped = 0
        for i, d in enumerate(block):
            samples, s = words_chunks(d, start + i, 16)
            skipped += s
            rows += [{"chunking": "words16", "block": block_index, **x} for x in samples]
        rows.append({"chunking": "words16", "block": block_index, "skipped": skipped})
    with open(os.path.join(HERE, "chunks.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=True) + "\n")
    print("chunks.jsonl:", len(rows), "rows")


def main():
    write_jsonl_inputs()
    documents = read_conll(os.path.join(REPO, "data", "conll2003", "eng.testa"))
    write_conll_summary(documents)
    write_chunks(documents)


if __name__ == "__main__":
    main()
