#!/usr/bin/env python3
"""Baseline for `lethe-bench corpus`: reading a JSONL file line by line with Python's json module (the usual
way, e.g. the Pile's own readers), keeping the text and the other fields. Prints JSON lines like the Swift bench."""
import argparse
import json
import os
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    size = os.path.getsize(args.input)
    best = float("inf")
    for _ in range(args.passes):
        start = time.perf_counter()
        documents = characters = 0
        with open(args.input, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                row = json.loads(line)
                text = row.pop("text")
                documents += 1
                characters += len(text.encode("utf-8"))
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"area": "corpus", "name": f"read {os.path.basename(args.input)}", "implementation": "python json",
                      "mb_per_s": size / 1e6 / best, "seconds": best, "documents": documents,
                      "text_bytes": characters}, sort_keys=True))


if __name__ == "__main__":
    main()
