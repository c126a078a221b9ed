#!/usr/bin/env python3
"""Baseline for `lethe-bench tokenizer`: the Hugging Face `tokenizers` package encoding the same texts (GSM8K test
questions + answers, CoNLL-2003 train documents with words joined by single spaces).

"encode 1 thread": the faster of `encode` called in a loop and `encode_batch`, both on one thread
(RAYON_NUM_THREADS=1 is set before the import); "encode first pass": the first `encode` loop after loading (the
package's word cache empty); "encode all cores": `encode_batch` on the package's own thread pool, measured in a
second process without RAYON_NUM_THREADS. "check" is an FNV-1a hash of every id in order, as Lethe computes it.
"""
import json
import os
import subprocess
import sys
import time

ALL_CORES = "--all-cores" in sys.argv
if not ALL_CORES:
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402  (after the environment is set)

PASSES = 5


def texts():
    result = []
    with open("data/gsm8k/test.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            result.append(row["question"] + "\n" + row["answer"])
    words = []
    with open("data/conll2003/eng.train", encoding="utf-8") as f:
        for line in f:
            columns = line.split()
            if columns and columns[0] == "-DOCSTART-":
                if words:
                    result.append(" ".join(words))
                words = []
            elif columns:
                words.append(columns[0])
    if words:
        result.append(" ".join(words))
    return result


def best_of(run):
    best = float("inf")
    for _ in range(PASSES):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    corpus = texts()
    start = time.perf_counter()
    tok = Tokenizer.from_file("data/tokenizer/gpt-neox-20b-tokenizer.json")
    load = time.perf_counter() - start
    if ALL_CORES:
        print(json.dumps({"seconds": best_of(lambda: tok.encode_batch(corpus))}))
        return
    size = sum(len(t.encode("utf-8")) for t in corpus)
    start = time.perf_counter()
    encoded = [tok.encode(t).ids for t in corpus]
    first = time.perf_counter() - start
    h = 0xCBF29CE484222325
    for ids in encoded:
        for i in ids:
            h = ((h ^ i) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    tokens = sum(len(ids) for ids in encoded)
    loop = best_of(lambda: [tok.encode(t).ids for t in corpus])
    batch = best_of(lambda: [e.ids for e in tok.encode_batch(corpus)])
    output = subprocess.run([sys.executable, __file__, "--all-cores"], check=True, capture_output=True, text=True).stdout
    all_cores = json.loads(output)["seconds"]
    figures = [("encode 1 thread", min(loop, batch), "encode loop" if loop <= batch else "encode_batch, 1 thread"),
               ("encode first pass", first, "encode loop"),
               ("encode all cores", all_cores, f"encode_batch, {os.cpu_count()} cores")]
    for name, seconds, how in figures:
        print(json.dumps({"area": "tokenizer", "name": name, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
                          "check": format(h, "x"), "bytes": size, "tokens": tokens, "texts": len(corpus),
                          "implementation": how}, sort_keys=True))
    print(json.dumps({"area": "tokenizer", "name": "load tokenizer.json", "seconds": load}, sort_keys=True))


if __name__ == "__main__":
    main()
