#!/usr/bin/env python3
"""Python baseline for `lethe-bench analysis`: the same work with NLTK, rouge-score and SciPy.

Prints one JSON line per measurement, as lethe-bench does. The Punkt English model is read from Lethe's data file
Sources/LetheText/Resources/punkt-english.tsv.zst (NLTK's punkt_tab data cannot be downloaded here).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import nltk
import nltk.tokenize
import scipy.stats as st
from nltk.tokenize.punkt import PunktSentenceTokenizer
from rouge_score import rouge_scorer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Tests", "Fixtures", "analysis"))
from make_analysis_fixtures import read_model  # noqa: E402


def fastest(repeats, body):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        best = min(best, time.perf_counter() - start)
    return best


def report(name, items, seconds):
    print(json.dumps({"area": "analysis", "name": name, "items": items, "seconds": seconds,
                      "items_per_second": items / seconds}, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gsm8k", default=os.path.join(REPO, "data", "gsm8k", "test.jsonl"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    texts = []
    for line in open(args.gsm8k, encoding="utf-8"):
        obj = json.loads(line)
        texts += [obj["question"], obj["answer"]]
    punkt = PunktSentenceTokenizer()
    punkt._params = read_model()
    nltk.tokenize._get_punkt_tokenizer = lambda language="english": punkt
    report("word_tokenize", len(texts), fastest(args.repeats, lambda: [nltk.word_tokenize(t) for t in texts]))

    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts) - 1, 2)]
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    report("rouge1", len(pairs), fastest(args.repeats, lambda: [scorer.score(r, p) for r, p in pairs]))

    rng = np.random.default_rng(1)
    a = (rng.random(100_000) < 0.3).astype(float)
    b = (rng.random(100_000) < 0.4).astype(float)
    freq = rng.integers(0, 1_000_000, 200_000).astype(float)
    report("ttest_ind_200k", 1, fastest(args.repeats, lambda: st.ttest_ind(a, b, equal_var=True)))
    both = np.concatenate([a, b])
    report("spearman_200k", 1, fastest(args.repeats, lambda: st.spearmanr(freq, both)))


if __name__ == "__main__":
    main()
