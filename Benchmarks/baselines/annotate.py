#!/usr/bin/env python3
"""Python baseline for `lethe-bench annotate`: per chunk, what lethe-annotate does without counts, done with
NLTK, rouge-score and the plain-Python rules of the report oracle (Tests/Fixtures/report/make_report_fixtures.py):
both texts split by nltk.word_tokenize, retention, word classes, POS/NER classes, the edit-distance alignment of
token ids, ROUGE-1. Prints one JSON line, as lethe-bench does; "check" is the number of retained words.
"""
import argparse
import json
import os
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Tests", "Fixtures", "report"))
import make_report_fixtures as oracle  # noqa: E402  (also installs Lethe's Punkt model into NLTK)
from rouge_score import rouge_scorer  # noqa: E402


def annotate(sample, scorer):
    meta = sample["json"]
    dataset = oracle.dataset_of(meta)
    math_chunk = "math" in dataset.lower() or dataset.lower() == "gsm8k"
    words, gold = oracle.reference_words(sample)
    kept = oracle.retained(words, oracle.word_tokenize(meta["reconstruction"]))
    classes = [oracle.word_class(words, i, math_chunk) for i in range(len(words))]
    if gold:
        labels = [(oracle.POS.get(w["labels"]["pos"]), oracle.ner_class(w["labels"]["ner"])) for w in gold]
    fates = oracle.align(sample["tokens"], sample["recon"])
    rouge = scorer.score(meta["reference"], meta["reconstruction"])["rouge1"]
    return sum(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fixture", default=os.path.join(REPO, "Tests", "Fixtures", "report", "reconstructions.json"))
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    fixture = json.load(open(args.fixture, encoding="utf-8"))
    samples = [s for i in fixture["inputs"] for shard in i["shards"] for s in shard] * args.copies
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    best, retained = float("inf"), 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        retained = sum(annotate(s, scorer) for s in samples)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"area": "annotate", "name": "annotate_chunk", "items": len(samples), "seconds": best,
                      "items_per_second": len(samples) / best, "check": str(retained)}, sort_keys=True))


if __name__ == "__main__":
    main()
