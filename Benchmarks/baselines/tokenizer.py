#!/usr/bin/env python3
"""Baseline for `lethe-bench tokenizer`: the Hugging Face `tokenizers` package encoding the same texts on one thread.

Two ways, both single-threaded (RAYON_NUM_THREADS=1 is set before the import, so encode_batch runs on one thread):
`encode` called in a loop, and `encode_batch` over all texts. With --all-cores, only `encode_batch` on the package's
own thread pool (all cores). Prints JSON lines like the Swift benchmark; Benchmarks/run.py prints every pairing.
"""
import argparse
import json
import os
import sys
import time

ALL_CORES = "--all-cores" in sys.argv
if not ALL_CORES:
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402  (after the environment is set)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", required=True, help="JSON array of strings")
    parser.add_argument("--tokenizer", default="data/tokenizer/gpt-neox-20b-tokenizer.json")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--all-cores", action="store_true", help="encode_batch on all cores instead")
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    start = time.perf_counter()
    tok = Tokenizer.from_file(args.tokenizer)
    load = time.perf_counter() - start
    size = sum(len(t.encode("utf-8")) for t in texts)
    tokens = sum(len(tok.encode(t).ids) for t in texts)  # warm-up pass (fills the package's word cache)

    def best_of(run):
        best = float("inf")
        for _ in range(args.passes):
            start = time.perf_counter()
            count = run()
            best = min(best, time.perf_counter() - start)
            assert count == tokens
        return best

    batch = best_of(lambda: sum(len(e.ids) for e in tok.encode_batch(texts)))
    if ALL_CORES:
        figures = [("encode all cores (warm)", f"encode_batch {os.cpu_count()} cores", batch)]
    else:
        loop = best_of(lambda: sum(len(tok.encode(t).ids) for t in texts))
        figures = [("encode 1 thread (warm)", "encode loop", loop),
                   ("encode 1 thread (warm)", "encode_batch RAYON_NUM_THREADS=1", batch)]
    for name, implementation, seconds in figures:
        print(json.dumps({"area": "tokenizer", "name": name, "implementation": f"tokenizers {implementation}",
                          "mb_per_s": size / 1e6 / seconds, "seconds": seconds, "bytes": size, "texts": len(texts),
                          "tokens": tokens}, sort_keys=True))
    print(json.dumps({"area": "tokenizer", "name": "load tokenizer.json", "implementation": "tokenizers",
                      "seconds": load}, sort_keys=True))


if __name__ == "__main__":
    main()
