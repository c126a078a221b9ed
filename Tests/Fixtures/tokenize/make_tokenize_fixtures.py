#!/usr/bin/env python3
"""Writes the lethe-tokenize oracle: what the stage must write for a few command lines over the shipped data,
computed here independently of Lethe: files read with Python's json and csv modules and a CoNLL-2003 reader written
here, token ids and decoded text from the `tokenizers` package, and the chunking rules (Sources/LetheCorpus/
Chunking.swift, `BlockChunker`) re-implemented from their description. Run by hand from the repository root:
    /work/venv/bin/python Tests/Fixtures/tokenize/make_tokenize_fixtures.py
Writes next to this script:
  csv-cases.csv / csv-expected.json   RFC 4180 corner cases and the records Python's csv.DictReader reads from them
                                      (LetheCorpusTests.CSVReaderTests)
  expected.jsonl                      per configuration one line {"name", "args", "samples", "extra"}, where
args is the stage's command line without --output, samples lists every sample in shard order (shard j = block j)
as {"shard", "key", "tokens", "json"} with json the sample's KEY.json as a value, and extra the manifest's "extra"
without "tokenizer". LetheTokenizeStageTests runs the built stage on each command line and compares sample by
sample (ids and JSON exactly).
"""
import csv
import json
import os
import sys
import unicodedata

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "corpus"))
from make_corpus_fixtures import SplitMix64  # noqa: E402  (the stage's mixed lengths; checked by the corpus tests)

TOK = Tokenizer.from_file(os.path.join(REPO, "data", "tokenizer", "gpt-neox-20b-tokenizer.json"))

CONFIGURATIONS = [
    ("gsm8k-fixed", ["--input", "data/gsm8k/test.jsonl", "--text-field", "question", "--skip-documents", "1000",
                     "--max-documents", "120", "--chunking", "fixed", "--chunk-size", "48",
                     "--documents-per-shard", "64"]),
    ("sae-mixed", ["--input", "data/dialects/aave-sae.csv", "--text-field", "SAE", "--dataset", "sae",
                   "--max-documents", "400", "--chunking", "mixed", "--min-length", "4", "--max-length", "24",
                   "--seed", "11", "--documents-per-shard", "100"]),
    ("conll-words", ["--input", "data/conll2003/eng.testb", "--max-documents", "6", "--chunking", "words",
                     "--chunk-size", "24", "--documents-per-shard", "4"]),
    ("conll-sentences-none", ["--input", "data/conll2003/eng.testa", "--conll-unit", "sentence", "--skip-documents",
                              "5", "--max-documents", "40", "--chunking", "none", "--documents-per-shard", "16"]),
    # A selection across two files: block 1 holds the last page of the documentation and the first module of the
    # code, so a chunk spans both files; labels from a metadata field.
    ("python-two-files", ["--input", "data/prose/python-docs.jsonl", "--input", "data/code/python-stdlib.jsonl",
                          "--skip-documents", "69", "--max-documents", "4", "--chunking", "fixed",
                          "--chunk-size", "256", "--dataset-field", "meta.source", "--documents-per-shard", "2"]),
]


def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def options(args, name):
    return [args[i + 1] for i, a in enumerate(args) if a == name]


# Reading: each document as {"text", "source", "doc", "line", "metadata", "words"}.

def read_jsonl(path, field):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        index = 0
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text = row.pop(field)
            yield {"text": text, "source": path, "doc": index, "line": number, "metadata": row or None, "words": None}
            index += 1


def read_csv(path, field):
    with open(os.path.join(REPO, path), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        index = 0
        for row in reader:
            # DictReader's line_num is the last line of the record read; the records here are one line each.
            text = row.pop(field)
            yield {"text": text, "source": path, "doc": index, "line": reader.line_num, "metadata": row or None,
                   "words": None}
            index += 1


def read_conll(path, unit):
    """Documents (articles, or sentences with unit == "sentence") with their words and tags."""
    documents, words, sentence, first_line, in_sentence = [], [], 0, 0, False

    def flush():
        nonlocal words, sentence, first_line
        if words:
            documents.append({"text": " ".join(w["text"] for w in words), "line": first_line, "words": words})
        words, sentence, first_line = [], 0, 0

    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if in_sentence:
                    in_sentence = False
                    sentence += 1
                    if unit == "sentence":
                        flush()
                if parts and words:
                    flush()
                continue
            if not words:
                first_line = number
            in_sentence = True
            words.append({"text": parts[0], "labels": {"pos": parts[1], "chunk": parts[2], "ner": parts[3]},
                          "sentence": 0 if unit == "sentence" else sentence})
    flush()
    for index, document in enumerate(documents):
        yield {**document, "source": path, "doc": index, "metadata": None}


def read(path, args):
    if path.endswith(".jsonl"):
        return read_jsonl(path, option(args, "--text-field", "text"))
    if path.endswith(".csv"):
        return read_csv(path, option(args, "--text-field", "text"))
    return read_conll(path, option(args, "--conll-unit", "document"))


def selection(args):
    documents = [d for path in options(args, "--input") for d in read(path, args)]
    skip = int(option(args, "--skip-documents", "0"))
    limit = option(args, "--max-documents")
    return documents[skip:skip + int(limit) if limit else None], min(skip, len(documents))


# Chunking, block by block.

def encode(text):
    return TOK.encode(text).ids


def decode(ids):
    return TOK.decode(ids, skip_special_tokens=False)


def sample(tokens, text, document, **more):
    value = {"text": text, "source": document["source"], "doc": document["doc"], "line": document["line"],
             "length": len(tokens), "documents": 1, "token_offset": 0}
    value.update(more)
    if document["metadata"] is not None:
        value["metadata"] = document["metadata"]
    return tokens, value


def word_spans(words, encoding):
    """Each word's token span in the encoding of the words joined by single spaces (leading space included)."""
    spans, end = [], 0
    for k, word in enumerate(words):
        start = end
        end = start + (1 if k else 0) + len(word["text"])
        covered = [t for t, (a, b) in enumerate(encoding.offsets) if a < end and b > start]
        entry = {"text": word["text"], "labels": word["labels"], "span": [covered[0], covered[-1] + 1]}
        if word.get("sentence") is not None:
            entry["sentence"] = word["sentence"]
        spans.append(entry)
    return spans


def chunk_none(block, counts):
    for document in block:
        encoding = TOK.encode(document["text"])
        if not encoding.ids:
            counts["empty_documents"] += 1
            continue
        more = {}
        if document["words"]:
            words = [{**w, "text": unicodedata.normalize("NFC", w["text"])} for w in document["words"]]
            more["words"] = word_spans(words, encoding)
        yield sample(encoding.ids, document["text"], document, **more)


def chunk_cut(block, counts, lengths):
    stream, starts = [], []
    for document in block:
        starts.append(len(stream))
        ids = encode(document["text"])
        if not ids:
            counts["empty_documents"] += 1
        stream += ids
    start = 0
    for length in lengths:
        if start + length > len(stream):
            break
        first = max(i for i, s in enumerate(starts) if s <= start)
        last = max(i for i, s in enumerate(starts) if s < start + length)
        tokens = stream[start:start + length]
        yield sample(tokens, decode(tokens), block[first], documents=last - first + 1,
                     token_offset=start - starts[first])
        start += length
    counts["dropped_tokens"] += len(stream) - start


def chunk_words(block, counts, max_tokens):
    for document in block:
        words = document["words"] or [{"text": w, "labels": {}} for w in document["text"].split()]
        words = [{**w, "text": unicodedata.normalize("NFC", w["text"])} for w in words]
        if not words:
            counts["empty_documents"] += 1
            continue
        first = 0
        while first < len(words):
            if len(encode(words[first]["text"])) > max_tokens:
                counts["skipped_words"] += 1
                first += 1
                continue
            end = first + 1  # the longest run of whole words whose joined text fits
            while end < len(words) and len(encode(" ".join(w["text"] for w in words[first:end + 1]))) <= max_tokens:
                end += 1
            encoding = TOK.encode(" ".join(w["text"] for w in words[first:end]))
            yield sample(encoding.ids, decode(encoding.ids), document, first_word=first,
                         words=word_spans(words[first:end], encoding))
            first = end


def chunk(block, block_index, args, counts):
    rule = option(args, "--chunking", "fixed")
    size = int(option(args, "--chunk-size", "64"))
    if rule == "none":
        return chunk_none(block, counts)
    if rule == "fixed":
        return chunk_cut(block, counts, iter(lambda: size, None))
    if rule == "mixed":
        low, high = int(option(args, "--min-length")), int(option(args, "--max-length"))
        generator = SplitMix64(int(option(args, "--seed", "0")), stream=block_index)
        return chunk_cut(block, counts, iter(lambda: low + generator.below(high - low + 1), None))
    return chunk_words(block, counts, size)


def label(value, args):
    field = option(args, "--dataset-field")
    if field:
        found = value.get("metadata")
        for key in field.split("."):
            found = found.get(key) if isinstance(found, dict) else None
        if isinstance(found, str):
            return found
    if option(args, "--dataset"):
        return option(args, "--dataset")
    name = os.path.basename(value["source"])
    for suffix in (".jsonl", ".csv"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def expected(name, args):
    documents, skipped = selection(args)
    size = int(option(args, "--documents-per-shard", "1000"))
    counts = {"empty_documents": 0, "dropped_tokens": 0, "skipped_words": 0}
    samples, per_dataset = [], {}
    for block_index in range((len(documents) + size - 1) // size):
        block = documents[block_index * size:(block_index + 1) * size]
        for k, (tokens, value) in enumerate(chunk(block, block_index, args, counts)):
            value["dataset"] = label(value, args)
            per_dataset[value["dataset"]] = per_dataset.get(value["dataset"], 0) + 1
            samples.append({"shard": block_index, "key": f"b{block_index:06d}-s{k:06d}", "tokens": tokens,
                            "json": value})
    extra = {"documents": len(documents), "documents_skipped": skipped, "skipped_lines": 0,
             "tokens": sum(len(s["tokens"]) for s in samples), "samples_per_dataset": per_dataset, **counts}
    print(f"{name}: {len(documents)} documents, {len(samples)} samples, {extra['tokens']} tokens")
    return {"name": name, "args": args, "samples": samples, "extra": extra}


def write_csv_cases():
    """Quoting corner cases; blank lines between records are skipped, as by DictReader."""
    lines = [
        "\ufefftext,label,note\r\n",                      # byte order mark, CRLF line ends
        "plain,a,\r\n",                                    # an empty last field
        "\"with, comma\",b,\"\"\r\n",                        # an empty quoted field
        "\"doubled \"\"quotes\"\" inside\",c,x\n",              # LF line end
        "\"two\nlines\",d,\"and\r\nCRLF\"\r\n",               # line breaks inside quotes, kept as they are
        "\r\n",                                            # a blank line between records
        "\n",
        "  spaces kept  ,e,\u00e9t\u00e9 \U0001F600\n",       # spaces and non-ASCII
        "\"\",f,empty text\n",                               # an empty text
        "last,g,no line end",
    ]
    with open(os.path.join(HERE, "csv-cases.csv"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(lines))
    with open(os.path.join(HERE, "csv-cases.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(HERE, "csv-expected.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=True, indent=1)
    print(f"csv-cases.csv: {len(rows)} records")


def main():
    write_csv_cases()
    with open(os.path.join(HERE, "expected.jsonl"), "w", encoding="utf-8") as f:
        for name, args in CONFIGURATIONS:
            f.write(json.dumps(expected(name, args), ensure_ascii=True, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
