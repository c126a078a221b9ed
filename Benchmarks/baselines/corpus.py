#!/usr/bin/env python3
"""Baseline for `lethe-bench corpus`: the GSM8K test file read 10 times line by line with Python's json module
(the usual way to read JSONL), "question" taken as the text and the other fields kept."""
import json
import os
import time

PATH = "data/gsm8k/test.jsonl"


def main():
    best = float("inf")
    for _ in range(3):
        documents = text_bytes = 0
        start = time.perf_counter()
        for _ in range(10):
            with open(PATH, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    text = row.pop("question")
                    documents += 1
                    text_bytes += len(text.encode("utf-8"))
        best = min(best, time.perf_counter() - start)
    size = os.path.getsize(PATH)
    print(json.dumps({"area": "corpus", "name": "read jsonl", "seconds": best, "mb_per_s": 10 * size / 1e6 / best,
                      "check": f"{documents} documents, {text_bytes} text bytes"}, sort_keys=True))


if __name__ == "__main__":
    main()
