#!/usr/bin/env python3
"""Baseline for `lethe-bench count`: token counts of the same Pile-style files (.build/bench-count: a .jsonl and
a .jsonl.zst, made by `lethe-bench count --prepare-only` when missing), overall and per meta.pile_set_name, the
usual Python way: lines read with json (the .zst through the `zstd -dc` command in a second process), documents
tokenized by the `tokenizers` package's encode_batch (1 MB of text per batch) on as many threads as Lethe uses
(RAYON_NUM_THREADS), ids counted with numpy.bincount. "check" is the sha256 of the int64 counts, overall then
per subset in name order, as Lethe computes it. Reading, tokenizing and counting are all timed, as in Lethe.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

THREADS = os.cpu_count()
os.environ["RAYON_NUM_THREADS"] = str(THREADS)
os.environ["TOKENIZERS_PARALLELISM"] = "true"
import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402  (after the environment is set)

CORPUS = ".build/bench-count"
FILES = [os.path.join(CORPUS, "pile-a.jsonl"), os.path.join(CORPUS, "pile-b.jsonl.zst")]
BATCH_BYTES = 1 << 20
PASSES = 3


def lines(path):
    if path.endswith(".zst"):
        with subprocess.Popen(["zstd", "-dc", path], stdout=subprocess.PIPE) as zstd:
            for line in zstd.stdout:
                yield line
        return
    with open(path, "rb") as f:
        yield from f


def count(tok, vocabulary):
    totals = {None: np.zeros(vocabulary, dtype=np.int64)}
    documents = text_bytes = tokens = 0

    def flush(texts, subsets):
        nonlocal tokens
        by_subset = {}
        for encoding, subset in zip(tok.encode_batch(texts), subsets):
            by_subset.setdefault(subset, []).append(np.asarray(encoding.ids, dtype=np.int64))
        for subset, arrays in by_subset.items():
            ids = np.concatenate(arrays)
            tokens += len(ids)
            counts = np.bincount(ids, minlength=vocabulary)
            totals[None] += counts
            totals[subset] = totals.get(subset, 0) + counts

    for path in FILES:
        texts, subsets, size = [], [], 0
        for line in lines(path):
            if not line.strip():
                continue
            row = json.loads(line)
            texts.append(row["text"])
            subsets.append(row.get("meta", {}).get("pile_set_name"))
            size += len(texts[-1].encode("utf-8"))
            documents += 1
            if size >= BATCH_BYTES:
                flush(texts, subsets)
                text_bytes += size
                texts, subsets, size = [], [], 0
        if texts:
            flush(texts, subsets)
            text_bytes += size
    return totals, documents, text_bytes, tokens


def main():
    if not all(os.path.exists(f) for f in FILES):
        subprocess.run([".build/release/lethe-bench", "count", "--prepare-only"], check=True)
    tok = Tokenizer.from_file("data/tokenizer/gpt-neox-20b-tokenizer.json")
    vocabulary = tok.get_vocab_size(with_added_tokens=True)
    best = float("inf")
    for _ in range(PASSES):
        start = time.perf_counter()
        totals, documents, text_bytes, tokens = count(tok, vocabulary)
        best = min(best, time.perf_counter() - start)
    digest = hashlib.sha256(totals[None].astype("<i8").tobytes())
    for subset in sorted(s for s in totals if s is not None):
        digest.update(totals[subset].astype("<i8").tobytes())
    print(json.dumps({"area": "count", "name": "count tokens", "seconds": best, "mb_per_s": text_bytes / 1e6 / best,
                      "check": digest.hexdigest(), "bytes": text_bytes, "documents": documents, "tokens": tokens,
                      "threads": THREADS}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
