#!/usr/bin/env python3
"""A small fixed set of reconstructions for lethe-annotate and lethe-report, and the oracle for their numbers.

Run by hand with the project's virtual environment (tokenizers, nltk, rouge-score, scipy, numpy):

    /work/venv/bin/python Tests/Fixtures/report/make_report_fixtures.py

It writes, next to this script:
  reconstructions.json  what reconstruct stages would have written: per sample the reference tokens (real
                        GPT-NeoX ids of real text from data/), the reconstruction's ids (the reference with words
                        dropped, swapped, changed or repeated, more as chunks get longer) and KEY.json; the stages
                        upstream of them (their manifests are forged by the Swift test); pretraining counts of the
                        tokens and words involved (counted here over a slice of the repository's data)
  oracle.json           every chunk's annotation and every table of the report, computed here independently:
                        nltk.word_tokenize, rouge-score, SciPy (binomtest Wilson intervals, ttest_ind, spearmanr,
                        ttest_rel and wilcoxon for the paired AAVE/SAE sentences),
                        numpy percentiles, the tokenizers package's decoding, and plain Python for the rules
                        (retention, edit-distance alignment, POS/NER classes, word classes, bins).

Tests/LetheStagesTests/ExpectedReportTests.swift turns reconstructions.json into stage folders, runs the real
lethe-annotate and lethe-report, compares every output with expected/ byte for byte, and checks the expected
CSV files and annotations against oracle.json. After a change that is meant to alter the report, regenerate
expected/ with LETHE_BLESS=1 (see that test) and review the diff.
"""
import csv
import json
import math
import os
import random
import sys
import unicodedata
from collections import Counter, defaultdict

import numpy as np
import nltk
import nltk.tokenize
import scipy.stats as st
from nltk.tokenize.punkt import PunktSentenceTokenizer
from rouge_score import rouge_scorer
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(REPO, "data")
sys.path.insert(0, os.path.join(REPO, "Tests", "Fixtures", "analysis"))
from make_analysis_fixtures import (f, omission_rows, read_model, rouge_rows, significance_rows,  # noqa: E402
                                    rouge_can_score, wilson)

TOKENIZER = Tokenizer.from_file(os.path.join(DATA, "tokenizer", "gpt-neox-20b-tokenizer.json"))
PUNKT = PunktSentenceTokenizer()
PUNKT._params = read_model()
nltk.tokenize._get_punkt_tokenizer = lambda language="english": PUNKT
word_tokenize = nltk.word_tokenize


# ---------------------------------------------------------------- the fixed reconstructions

def conll_sentences(path):
    """[(word, pos, chunk, ner)] per sentence, -DOCSTART- left out."""
    sentences, current = [], []
    for line in open(path, encoding="utf-8"):
        parts = line.split()
        if not parts:
            if current:
                sentences.append(current)
            current = []
            continue
        if parts[0] == "-DOCSTART-":
            continue
        current.append(tuple(parts[:4]))
    if current:
        sentences.append(current)
    return sentences


def word_packed_chunks(sentences, max_tokens, count, start):
    """Whole words of consecutive sentences joined by single spaces, at most max_tokens tokens, as the tokenize
    stage's `words` chunking packs them; each word with its labels and its token span (leading space included)."""
    chunks, words, s = [], [], start
    while len(chunks) < count:
        for (w, pos, chunk, ner) in sentences[s]:
            candidate = words + [(w, pos, chunk, ner)]
            if len(TOKENIZER.encode(" ".join(x[0] for x in candidate)).ids) > max_tokens:
                chunks.append(words)
                words = [(w, pos, chunk, ner)]
                if len(chunks) == count:
                    break
            else:
                words = candidate
        s += 1
    out = []
    for words in chunks:
        text = " ".join(w[0] for w in words)
        enc = TOKENIZER.encode(text)
        starts, position = [], 0
        for w in words:
            starts.append(position)
            position += len(w[0]) + 1
        spans = []
        for k, w in enumerate(words):
            lead = starts[k] - 1 if k > 0 else 0
            end = starts[k] + len(w[0])
            ids = [j for j, (a, b) in enumerate(enc.offsets) if a >= lead and a < end]
            assert ids and enc.offsets[ids[-1]][1] <= end, (text, w)
            spans.append([ids[0], ids[-1] + 1])
        for k in range(1, len(spans)):
            assert spans[k][0] == spans[k - 1][1]
        out.append((text, enc.ids, [{"text": w[0], "labels": {"pos": w[1], "chunk": w[2], "ner": w[3]}, "sentence": 0,
                                     "span": span} for w, span in zip(words, spans)]))
    return out


def fixed_chunks(texts, length, count):
    """The first `length` tokens of each of `count` documents, as `fixed` chunking cuts them (text = decode)."""
    out = []
    for text in texts:
        ids = TOKENIZER.encode(text).ids
        if len(ids) < length:
            continue
        ids = ids[:length]
        out.append((TOKENIZER.decode(ids), ids))
        if len(out) == count:
            break
    return out


def corrupt(text, rate, rng, vocabulary):
    """A plausible imperfect reconstruction: words dropped, replaced, repeated or swapped with probability rate."""
    words = text.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < rate * 0.4:
            continue
        if r < rate * 0.7:
            out.append(rng.choice(vocabulary))
        elif r < rate * 0.85:
            out += [w, w]
        else:
            out.append(w)
    for _ in range(int(len(out) * rate * 0.3)):
        i = rng.randrange(max(1, len(out) - 1))
        out[i:i + 2] = out[i:i + 2][::-1]
    return " ".join(out)


def make_reconstructions():
    rng = random.Random(20250)
    surprisal_rng = random.Random(8)
    rate = {4: 0.05, 8: 0.08, 16: 0.2, 32: 0.4}
    vocabulary = ["the", "of", "said", "year", "two", "market", "Smith", "10", "new", "in", ",", "."]
    chunks = []  # (dataset, stage, text, ids, words-or-None, metadata-or-None, source)

    conll = conll_sentences(os.path.join(DATA, "conll2003", "eng.testb"))
    for max_tokens, start in ((16, 40), (32, 200)):
        for text, ids, words in word_packed_chunks(conll, max_tokens, 4, start):
            chunks.append(("conll", "tokenize-conll", text, ids, words, None, "data/conll2003/eng.testb", max_tokens))

    gsm = [json.loads(l)["question"] for l in open(os.path.join(DATA, "gsm8k", "test.jsonl"), encoding="utf-8")]
    prose = [json.loads(l)["text"] for l in open(os.path.join(DATA, "prose", "python-docs.jsonl"), encoding="utf-8")]
    code = [json.loads(l)["text"] for l in open(os.path.join(DATA, "code", "python-stdlib.jsonl"), encoding="utf-8")]
    with open(os.path.join(DATA, "dialects", "aave-sae.csv"), encoding="utf-8", newline="") as fh:
        dialect_pairs = [(row["AAVE"], row["SAE"]) for row in csv.DictReader(fh)]
    for length in (8, 16, 32):
        for text, ids in fixed_chunks(gsm[length * 3:], length, 4):
            chunks.append(("math", "tokenize-math", text, ids, None, None, "data/gsm8k/test.jsonl", length))
        for text, ids in fixed_chunks(prose[length:], length, 4):
            chunks.append(("prose", "tokenize-prose", text, ids, None, None, "data/prose/python-docs.jsonl", length))
    # Whole sentences in both dialects (chunking none), paired by their row: the report compares them pair by pair.
    documents = {}  # chunk index -> its document index, where it is not the chunk's own
    for row in range(100, 106):
        for dataset, text in zip(("aave", "sae"), dialect_pairs[row]):
            documents[len(chunks)] = row
            chunks.append((dataset, "tokenize-" + dataset, text, TOKENIZER.encode(text).ids, None, None,
                           "data/dialects/aave-sae.csv", 16))
    for text, ids in fixed_chunks(code[3:], 32, 2):
        chunks.append(("pile", "tokenize-pile", text, ids, None, {"meta": {"pile_set_name": "Github"}},
                       "data/code/python-stdlib.jsonl", 32))
    # Code cut into consecutive 4-token chunks: two with words, two of only spaces and punctuation ('):\n    '),
    # which ROUGE-1 cannot score and the report leaves out of its averages.
    ids = TOKENIZER.encode(code[5]).ids
    pieces = [(TOKENIZER.decode(ids[i:i + 4]), ids[i:i + 4]) for i in range(0, len(ids) - 3, 4)]
    for text, piece in ([p for p in pieces if rouge_can_score(p[0])][:2] + [p for p in pieces if not rouge_can_score(p[0])][:2]):
        chunks.append(("code", "tokenize-code", text, piece, None, None, "data/code/python-stdlib.jsonl", 4))

    samples = []
    for n, (dataset, stage, text, ids, words, metadata, source, length) in enumerate(chunks):
        key = "%s%04d" % (dataset, n)
        special = n % 13
        stop = "eos"
        if special == 5:
            recon_text = ""  # the decoder stopped at once
        elif special == 9:
            recon_text = text  # perfect
        else:
            recon_text = corrupt(text, rate[length], rng, vocabulary)
        recon = TOKENIZER.encode(recon_text).ids if recon_text else []
        if special == 11:
            recon = (recon + recon)[:len(ids) + 8]  # ran on to the length limit
            stop = "length"
        meta = {"text": text, "dataset": dataset, "source": source, "doc": documents.get(n, n), "length": len(ids), "documents": 1,
                "token_offset": 0, "reference": text, "reconstruction": TOKENIZER.decode(recon), "stop": stop}
        if metadata is not None:
            meta["metadata"] = metadata
        if words is not None:
            meta["words"] = words
            meta["first_word"] = 0
        # The encoder's surprisal of each token as lethe-encode --surprisal stores it (none for the first token):
        # multiples of 1/8 nats, exact in float32, from a generator of their own.
        surprisal = [None] + [surprisal_rng.randrange(0, 120) / 8 for _ in ids[1:]]
        samples.append({"key": key, "tokens": ids, "recon": recon, "json": meta, "surprisal": surprisal})

    # Two reconstruct stages (two --input folders), the first with two shards.
    inputs = [
        {"stage": "reconstruct-a", "shards": [samples[0:12], samples[12:24]]},
        {"stage": "reconstruct-b", "shards": [samples[24:]]},
    ]
    upstream = upstream_stages(chunks)
    return inputs, upstream, [s for i in inputs for shard in i["shards"] for s in shard]


def upstream_stages(chunks):
    """The stages behind the reconstructions, in an order where each comes after those it reads."""
    per_stage = Counter(c[1] for c in chunks)
    settings = {
        "tokenize-conll": ("data/conll2003/eng.testb", {"chunking": ["words"], "chunk-size": ["32"], "dataset": ["conll"], "format": ["conll"]}),
        "tokenize-math": ("data/gsm8k/test.jsonl", {"chunking": ["mixed"], "min-length": ["8"], "max-length": ["32"], "dataset": ["math"]}),
        "tokenize-prose": ("data/prose/python-docs.jsonl", {"chunking": ["mixed"], "min-length": ["8"], "max-length": ["32"], "dataset": ["prose"]}),
        "tokenize-aave": ("data/dialects/aave-sae.csv", {"chunking": ["none"], "text-field": ["AAVE"], "dataset": ["aave"]}),
        "tokenize-sae": ("data/dialects/aave-sae.csv", {"chunking": ["none"], "text-field": ["SAE"], "dataset": ["sae"]}),
        "tokenize-pile": ("data/code/python-stdlib.jsonl", {"chunking": ["fixed"], "chunk-size": ["32"], "dataset": ["pile"]}),
        "tokenize-code": ("data/code/python-stdlib.jsonl", {"chunking": ["fixed"], "chunk-size": ["4"], "dataset": ["code"]}),
    }
    stages = []
    for name in sorted(per_stage):
        path, params = settings[name]
        stages.append({"name": name, "executable": "lethe-tokenize", "parameters": params, "samples": per_stage[name],
                       "files": {"input": [path], "tokenizer": ["data/tokenizer.json"]}, "stages": {}})
    tokenize = sorted(per_stage)
    total = sum(per_stage.values())
    stages.append({"name": "encode", "executable": "lethe-encode", "parameters": {"batch-size": ["16"]}, "samples": total,
                   "files": {"model": ["models/lethe-small"]}, "stages": {"input": tokenize}})
    stages.append({"name": "train", "executable": "lethe-train", "parameters": {"steps": ["300"], "lr": ["0.001"], "seed": ["1"]},
                   "samples": 0, "files": {"init": ["models/lethe-small"]}, "stages": {"input": ["encode"]},
                   "registered": ["final/config.json"]})
    for name in ("reconstruct-a", "reconstruct-b"):
        stages.append({"name": name, "executable": "lethe-reconstruct", "parameters": {"max-new-tokens": ["40"]},
                       "files": {"model": ["stages/train/final"]}, "stages": {"input": ["encode"]}})
    return stages


MODEL_CONFIG = {"model_type": "mamba", "hidden_size": 128, "num_hidden_layers": 4, "state_size": 16, "conv_kernel": 4,
                "expand": 2, "vocab_size": 50280}


def make_counts(samples):
    """Token and word counts over a slice of the repository's text, kept only for what the fixtures need."""
    corpus = []
    for line in list(open(os.path.join(DATA, "gsm8k", "test.jsonl"), encoding="utf-8"))[600:900]:
        obj = json.loads(line)
        corpus += [obj["question"], obj["answer"]]
    for line in list(open(os.path.join(DATA, "prose", "python-docs.jsonl"), encoding="utf-8"))[:40]:
        corpus.append(json.loads(line)["text"])
    corpus += [" ".join(w[0] for w in s) for s in conll_sentences(os.path.join(DATA, "conll2003", "eng.train"))[:3000]]
    token_counts, word_counts = Counter(), Counter()
    for text in corpus:
        token_counts.update(TOKENIZER.encode(text).ids)
        word_counts.update(word_tokenize(text))
    needed_tokens = {t for s in samples for t in s["tokens"]}
    needed_words = set()
    for s in samples:
        needed_words.update(reference_words(s)[0])
    return ({str(t): token_counts[t] for t in sorted(needed_tokens) if token_counts[t]},
            {w: word_counts[w] for w in sorted(needed_words) if word_counts[w]})


# ---------------------------------------------------------------- the oracle: rules

POS = {}
for cls, tags in {"NOUN": "NN NNS NNP NNPS NN|SYM", "VERB": "VB VBD VBG VBN VBP VBZ MD", "ADJ": "JJ JJR JJS",
                  "ADV": "RB RBR RBS WRB EX", "ADP": "IN TO", "DET": "DT PDT WDT", "PRON": "PRP PRP$ WP WP$",
                  "PRT": "POS RP", "CONJ": "CC", "NUM": "CD LS", "SYM": "# $ SYM", "PUNCT": "\" '' `` ( ) , . :",
                  "X": "FW", "INTJ": "UH"}.items():
    for tag in tags.split(" "):
        POS[tag] = cls


def ner_class(tag):
    if tag == "O":
        return "O"
    if tag[:2] in ("B-", "I-") and tag[2:] in ("PER", "ORG", "LOC", "MISC"):
        return tag[2:]
    return None


OPERATORS = set("+=^×÷-/*%<>−")
AMBIGUOUS = set("-/*%")  # a word made only of these is an operator only in a math context
CODE_MARKS = set("_{}[];=<>\\|`~")
PUNCT_SYMBOL = {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"}


def is_url(w):
    low = w.lower()
    if "://" in low or low.startswith("www."):
        return True
    parts = low.split("@")
    return len(parts) == 2 and parts[0] != "" and "." in parts[1] and not parts[1].startswith(".") and not parts[1].endswith(".")


def is_number(s):
    end = len(s)
    if end and s[end - 1] == "%":
        end -= 1
    i = 1 if end and s[0] in "+-" else 0
    if i >= end:
        return False
    saw_digit, previous_separator = False, True
    for c in s[i:end]:
        if c in "0123456789":
            saw_digit, previous_separator = True, False
        elif c in ".,":
            if previous_separator and (saw_digit or c == ","):
                return False
            previous_separator = True
        else:
            return False
    return saw_digit and not previous_separator


def is_operator(c):
    return c in OPERATORS or unicodedata.category(c) == "Sm"


def is_operator_word(s):
    return s != "" and all(is_operator(c) for c in s)


def ascii_letter(c):
    return c.isascii() and c.isalpha()


def is_expression(s):
    operators = operands = 0
    for k, c in enumerate(s):
        if is_operator(c):
            operators += 1
        elif c in "0123456789":
            operands += 1
        elif ascii_letter(c):
            if k > 0 and ascii_letter(s[k - 1]):
                return False
            operands += 1
        elif c not in ".,()":
            return False
    return operators > 0 and operands > 0


def is_code(s):
    if len(s) < 2:
        return False
    alphanumeric = any(c.isalpha() or unicodedata.numeric(c, None) is not None for c in s)
    if alphanumeric and any(c in CODE_MARKS for c in s):
        return True
    return s[0].islower() and any(c.isupper() for c in s[1:])


def word_class(words, i, math_chunk):
    w = words[i]
    if w == "":
        return "word"
    if is_url(w):
        return "url"
    if is_number(w):
        return "number"

    def number_at(j):
        return 0 <= j < len(words) and is_number(words[j])

    def operator_at(j):
        if not 0 <= j < len(words):
            return False
        x = words[j]
        if is_expression(x):
            return True
        return is_operator_word(x) and (not set(x) <= AMBIGUOUS or math_chunk or number_at(j - 1) or number_at(j + 1))
    near_operator = operator_at(i - 1) or operator_at(i + 1)
    near_number = number_at(i - 1) or number_at(i + 1)
    math_context = math_chunk or near_operator or near_number
    if is_operator_word(w) and (not set(w) <= AMBIGUOUS or math_context):
        return "math"
    if is_expression(w):
        return "math"
    if len(w) == 1 and ascii_letter(w):
        if near_operator or (near_number and w not in ("a", "A", "I")):
            return "variable"
    if is_code(w):
        return "code"
    if all(unicodedata.category(c) in PUNCT_SYMBOL for c in w):
        return "punctuation"
    if w[0].isupper():
        return "capitalized"
    return "word"


def retained(reference, reconstruction):
    available = Counter(reconstruction)
    seen = Counter()
    out = []
    for w in reference:
        seen[w] += 1
        out.append(seen[w] <= available[w])
    return out


def align(reference, reconstruction):
    """Levenshtein alignment; the backtrace from the ends prefers the diagonal (kept or substituted), then
    dropping the reference token, then an insertion."""
    n, m = len(reference), len(reconstruction)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        d[i][0] = i
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j - 1] + (reference[i - 1] != reconstruction[j - 1]), d[i - 1][j] + 1, d[i][j - 1] + 1)
    fates, inserted, i, j = ["dropped"] * n, 0, n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (reference[i - 1] != reconstruction[j - 1]):
            fates[i - 1] = "kept" if reference[i - 1] == reconstruction[j - 1] else "substituted"
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            fates[i - 1] = "dropped"
            i -= 1
        else:
            inserted += 1
            j -= 1
    return fates, inserted


def token_pieces(ids):
    """Each token's text: the growth of the decoded prefix (checked to be a prefix, so no character is split)."""
    full = TOKENIZER.decode(ids)
    pieces, previous = [], ""
    for k in range(1, len(ids) + 1):
        prefix = TOKENIZER.decode(ids[:k])
        assert full.startswith(prefix) and prefix.startswith(previous), "a character split between tokens"
        pieces.append(prefix[len(previous):])
        previous = prefix
    return pieces


def locate(words, pieces):
    """The tokens overlapping each word, found left to right in the token texts (whitespace skipped; NLTK's ``
    and '' also match the straight double quote, and `` also '')."""
    text = "".join(pieces)
    owner = [k for k, p in enumerate(pieces) for _ in p]
    cursor, out = 0, []
    for w in words:
        start = cursor
        while start < len(text) and text[start].isspace():
            start += 1
        candidates = ["``", '"', "''"] if w == "``" else (["''", '"'] if w == "''" else [w])
        found = []
        for c in candidates:
            if text.startswith(c, start):
                cursor = start + len(c)
                found = sorted({owner[p] for p in range(start, cursor)})
                break
        out.append(found)
    return out


def dataset_of(meta):
    subset = (meta.get("metadata") or {}).get("meta", {}).get("pile_set_name")
    return subset if subset else meta["dataset"]


def reference_words(sample):
    meta = sample["json"]
    if "words" in meta:
        return [w["text"] for w in meta["words"]], meta["words"]
    return word_tokenize(meta["reference"]), None


# ---------------------------------------------------------------- the oracle: annotations and tables

def annotate(sample, token_counts, word_counts, scorer):
    meta = sample["json"]
    dataset = dataset_of(meta)
    math_chunk = "math" in dataset.lower() or dataset.lower() == "gsm8k"
    words, gold = reference_words(sample)
    kept = retained(words, word_tokenize(meta["reconstruction"]))
    frequencies = [token_counts.get(str(t), 0) for t in sample["tokens"]]
    if gold is not None:
        tokens_of_word = [list(range(*w["span"])) for w in gold]
    else:
        tokens_of_word = locate(words, token_pieces(sample["tokens"]))
    surprisal = sample["surprisal"]
    out_words = []
    for i, w in enumerate(words):
        counts = [frequencies[t] for t in tokens_of_word[i]]
        word_surprisal = [surprisal[t] for t in tokens_of_word[i]]
        out_words.append({
            "word": w, "position": i, "retained": kept[i],
            "pos": POS.get(gold[i]["labels"]["pos"]) if gold else None,
            "ner": ner_class(gold[i]["labels"]["ner"]) if gold else None,
            "class": word_class(words, i, math_chunk),
            "rarest": min(counts) if counts else None,
            "mean": sum(counts) / len(counts) if counts else None,
            "word_count": word_counts.get(w, 0),
            "surprisal": sum(word_surprisal) if word_surprisal and None not in word_surprisal else None})
    fates, inserted = align(sample["tokens"], sample["recon"])
    s = scorer.score(meta["reference"], meta["reconstruction"])["rouge1"]
    whole = meta.get("documents") == 1 and meta.get("token_offset") == 0 and "first_word" not in meta
    return {"key": sample["key"], "dataset": dataset, "document": "%s#%d" % (meta["source"], meta["doc"]) if whole else None,
            "length": len(sample["tokens"]), "reference": meta["reference"],
            "words": out_words,
            "token_fates": fates, "inserted": inserted, "token_frequencies": frequencies, "token_surprisals": surprisal,
            "precision": s.precision, "recall": s.recall, "f1": s.fmeasure, "stop": meta["stop"]}


MASK64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def index(self, n):
        limit = MASK64 - MASK64 % n
        while True:
            r = self.next()
            if r < limit:
                return r % n


def fnv1a(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def bootstrap(values, seed, resamples=1000):
    rng = SplitMix64(seed)
    means = []
    for _ in range(resamples):
        total = 0.0
        for _ in values:
            total += values[rng.index(len(values))]
        means.append(total / len(values))
    low, high = np.percentile(means, [2.5, 97.5], method="linear")
    return float(low), float(high)


def log_bin(count):
    return -1 if count == 0 else len(str(count)) - 1


def make_tables(chunks, seed=0):
    words = [(c, w) for c in chunks for w in c["words"]]
    items = {
        "pos": [(w["pos"], not w["retained"]) for c, w in words if w["pos"] and w["pos"] not in ("X", "INTJ")],
        "ner": [(w["ner"], not w["retained"]) for c, w in words if w["ner"]],
        "class": [(w["class"], not w["retained"]) for c, w in words],
        "dataset": [(c["dataset"], not w["retained"]) for c, w in words],
    }
    omission, significance = {}, {}
    for name, its in items.items():
        rows, groups = omission_rows(its)
        omission[name] = [{**r, "low": f(r["low"]), "high": f(r["high"])} for r in rows]
        significance[name] = significance_rows(rows, groups)

    position = []
    for key in ["all"] + sorted({c["dataset"] for c in chunks}):
        counts = defaultdict(lambda: [0, 0])
        for c in chunks:
            if key != "all" and c["dataset"] != key:
                continue
            for w in c["words"]:
                b = min(int((w["position"] + 0.5) / len(c["words"]) * 10), 9)
                counts[b][0] += 1
                counts[b][1] += 0 if w["retained"] else 1
        for b in sorted(counts):
            n, k = counts[b]
            low, high = wilson(k, n)
            position.append({"dataset": key, "bin": b, "from": b / 10, "to": (b + 1) / 10, "n": n, "omitted": k,
                             "rate": k / n, "low": f(low), "high": f(high)})

    frequency = []
    levels = {
        "token": [(x, fate != "kept") for c in chunks for x, fate in zip(c["token_frequencies"], c["token_fates"])],
        "word": [(w["rarest"], not w["retained"]) for c, w in words if w["rarest"] is not None],
        "word_count": [(w["word_count"], not w["retained"]) for c, w in words],
    }
    for level, its in levels.items():
        r = st.spearmanr([float(x) for x, _ in its], [1.0 if o else 0.0 for _, o in its])
        counts = defaultdict(lambda: [0, 0])
        for x, o in its:
            counts[log_bin(x)][0] += 1
            counts[log_bin(x)][1] += int(o)
        for b in sorted(counts):
            n, k = counts[b]
            low, high = wilson(k, n)
            frequency.append({"level": level, "bin": b, "count_low": 0 if b < 0 else 10 ** b, "count_high": 1 if b < 0 else 10 ** (b + 1),
                              "n": n, "omitted": k, "rate": k / n, "low": f(low), "high": f(high),
                              "rho": f(r.statistic), "p": f(r.pvalue)})

    rouge = rouge_rows(chunks, lambda key, f1: bootstrap(f1, seed ^ fnv1a("%s|%d" % key)))
    return {"rouge": rouge, "omission": omission, "significance": significance, "position": position,
            "frequency": frequency, "paired": paired_rows(chunks, seed), "surprisal": surprisal_rows(chunks)}


def surprisal_rows(chunks, width=2):
    """surprisal.csv: per level, bins of `width` nats, Wilson intervals, Spearman's rho over all the level's items."""
    levels = {
        "token": [(s, fate != "kept") for c in chunks for s, fate in zip(c["token_surprisals"], c["token_fates"]) if s is not None],
        "word": [(w["surprisal"], not w["retained"]) for c in chunks for w in c["words"] if w["surprisal"] is not None],
    }
    rows = []
    for level, items in levels.items():
        r = st.spearmanr([s for s, _ in items], [1.0 if o else 0.0 for _, o in items])
        counts = defaultdict(lambda: [0, 0])
        for s, o in items:
            b = int(math.floor(max(s, 0) / width))
            counts[b][0] += 1
            counts[b][1] += int(o)
        for b in sorted(counts):
            n, k = counts[b]
            low, high = wilson(k, n)
            rows.append({"level": level, "bin": b, "from": b * width, "to": (b + 1) * width, "n": n, "omitted": k,
                         "rate": k / n, "low": f(low), "high": f(high), "rho": f(r.statistic), "p": f(r.pvalue)})
    return rows


def paired_rows(chunks, seed):
    """paired.csv: datasets whose chunks are each one whole, distinct document, paired on the documents they share
    (at least two), per measure the pairs (at least two) where both chunks have a value, in dataset 1's chunk order."""
    by_dataset = defaultdict(list)
    for c in chunks:
        by_dataset[c["dataset"]].append(c)
    eligible = {d: cs for d, cs in by_dataset.items()
                if None not in {c["document"] for c in cs} and len({c["document"] for c in cs}) == len(cs)}
    measures = [("f1", lambda c: c["f1"] if rouge_can_score(c["reference"]) else None),
                ("omission_rate", lambda c: sum(not w["retained"] for w in c["words"]) / len(c["words"]) if c["words"] else None)]
    rows = []
    names = sorted(eligible)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            partner = {c["document"]: c for c in eligible[second]}
            shared = [(c, partner[c["document"]]) for c in eligible[first] if c["document"] in partner]
            if len(shared) < 2:
                continue
            for measure, value in measures:
                pairs = [(value(x), value(y)) for x, y in shared if value(x) is not None and value(y) is not None]
                if len(pairs) < 2:
                    continue
                a, b = [x for x, _ in pairs], [y for _, y in pairs]
                d = [x - y for x, y in pairs]
                low, high = bootstrap(d, seed ^ fnv1a("%s|%s|%s" % (first, second, measure)))
                t = st.ttest_rel(a, b)
                w = st.wilcoxon(a, b, zero_method="wilcox", method="asymptotic", correction=False)
                rows.append({"dataset_1": first, "dataset_2": second, "measure": measure, "pairs": len(pairs),
                             "mean_1": float(np.mean(a)), "mean_2": float(np.mean(b)), "difference": float(np.mean(d)),
                             "difference_low": low, "difference_high": high,
                             "effect_size_dz": f(np.mean(d) / np.std(d, ddof=1)), "t": f(t.statistic), "p_t": f(t.pvalue),
                             "wilcoxon_w": f(w.statistic), "wilcoxon_pairs": sum(1 for x in d if x != 0),
                             "p_wilcoxon": f(w.pvalue)})
    return rows


def main():
    inputs, upstream, samples = make_reconstructions()
    token_counts, word_counts = make_counts(samples)
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    chunks = [annotate(s, token_counts, word_counts, scorer) for s in samples]
    fixture = {"inputs": inputs, "upstream": upstream, "model_config": MODEL_CONFIG,
               "counts": {"vocab_size": TOKENIZER.get_vocab_size(), "tokens": token_counts, "words": word_counts}}
    oracle = {"chunks": chunks, "tables": make_tables(chunks)}
    for name, obj in (("reconstructions.json", fixture), ("oracle.json", oracle)):
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            fh.write("\n")
    print("%d chunks, %d words; %d token counts, %d word counts" % (
        len(chunks), sum(len(c["words"]) for c in chunks), len(token_counts), len(word_counts)))


if __name__ == "__main__":
    main()
