#!/usr/bin/env python3
"""Fixtures for the count stage (LetheCountTests): real text in the formats the stage reads, and the counts the
reference implementations give for it.

Run by hand with the project's virtual environment (tokenizers, nltk):

    /work/venv/bin/python Tests/Fixtures/count/make_count_fixtures.py

It reads the repository's data/ (GSM8K test, CoNLL-2003 testa, the GPT-NeoX-20B tokenizer.json) and writes, next to
this script:
  input/gsm8k-pile.jsonl      GSM8K test problems 0-299 as Pile lines {"text": question "\\n" answer,
                              "meta": {"pile_set_name": ...}} over three subsets, some lines without a subset,
                              one blank line and one CRLF line
  input/gsm8k-pile.jsonl.zst  problems 300-599 the same way, zstd-compressed (`zstd` command) as two frames
  input/conll-testa.txt       the first 80 CoNLL-2003 testa documents, a sentence a line (words joined by
                              spaces), documents separated by a blank line (a paragraph is a document)
  input/unicode.txt           hand-written paragraphs: NFC and NFD spellings of the same word, CJK, emoji,
                              runs of spaces and tabs, right-to-left text
  expected.json               per file: each subset group's documents, tokens, UTF-8 text bytes and token counts
                              (`tokenizers` Tokenizer.encode(text).ids, sparse [id, count] pairs), and the word
                              counts (`nltk.word_tokenize`, as a Counter); and the word counts of all four files
                              sorted as words.tsv is (count descending, then the word in code point order).

Documents are cut as Lethe's DocumentReader cuts them: a JSONL line's "text"; a .txt paragraph (non-blank lines
joined by "\\n"). nltk.word_tokenize uses Punkt's English model as Lethe ships it, read from
Sources/LetheText/Resources/punkt-english.tsv.zst by the analysis fixture script (NLTK's punkt_tab cannot be
downloaded here).
"""
import collections
import importlib.util
import json
import os
import subprocess
import unicodedata

import nltk
import nltk.tokenize
import tokenizers
from nltk.tokenize.punkt import PunktSentenceTokenizer
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "data")
INPUT = os.path.join(HERE, "input")
SUBSETS = ["Pile-CC", "Gutenberg (PG-19)", "DM Mathematics"]


def analysis_module():
    path = os.path.join(REPO, "Tests", "Fixtures", "analysis", "make_analysis_fixtures.py")
    spec = importlib.util.spec_from_file_location("make_analysis_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pile_line(index, problem):
    """A Pile-style line; every tenth pattern leaves the subset out in two ways."""
    row = {"text": problem["question"] + "\n" + problem["answer"]}
    if index % 10 == 7:
        pass  # no metadata at all
    elif index % 10 == 8:
        row["meta"] = {"source": "gsm8k"}  # metadata without the subset field
    else:
        row["meta"] = {"pile_set_name": SUBSETS[index % 3]}
    return json.dumps(row, ensure_ascii=index % 2 == 0)


def write_inputs():
    os.makedirs(INPUT, exist_ok=True)
    with open(os.path.join(DATA, "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        problems = [json.loads(line) for line in f]

    lines = [pile_line(i, p) + "\n" for i, p in enumerate(problems[:300])]
    lines[20] = "   \n" + lines[20]          # a blank line: not a document
    lines[41] = lines[41][:-1] + "\r\n"      # CRLF: JSON whitespace after the object
    with open(os.path.join(INPUT, "gsm8k-pile.jsonl"), "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)

    lines = [pile_line(i, p) + "\n" for i, p in enumerate(problems[300:600], start=300)]
    frames = []
    for part in (lines[:150], lines[150:]):
        frames.append(subprocess.run(["zstd", "-q", "-19", "-c"], input="".join(part).encode("utf-8"),
                                     check=True, capture_output=True).stdout)
    with open(os.path.join(INPUT, "gsm8k-pile.jsonl.zst"), "wb") as f:
        f.write(b"".join(frames))

    documents, sentences, sentence = [], [], []
    with open(os.path.join(DATA, "conll2003", "eng.testa"), encoding="utf-8") as f:
        for line in f:
            columns = line.split()
            if not columns or columns[0] == "-DOCSTART-":
                if sentence:
                    sentences.append(" ".join(sentence))
                    sentence = []
                if columns and sentences:
                    documents.append(sentences)
                    sentences = []
            else:
                sentence.append(columns[0])
    with open(os.path.join(INPUT, "conll-testa.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(doc) for doc in documents[:80]) + "\n")

    cafe_nfd = unicodedata.normalize("NFD", "café")
    paragraphs = [
        f"The café opened at 9 a.m. on Jan. 3rd; the {cafe_nfd} next door (also a café) did not.\nCafé owners said: \"It's fine.\"",
        "def f(x):\n    return x  *  2\n\n\n\tindented\twith\ttabs",
        "北京是中国的首都。 東京は日本の首都です。 서울은 한국의 수도입니다.",
        "Emoji: 👍🏽 🇩🇪 👨‍👩‍👧 — naïve coöperation, ½ + ¼ = ¾, x² ≥ 0.",
        "مرحبا بالعالم. שלום עולם. Привет, мир! Γειά σου Κόσμε.",
        "Mr. Smith paid $1,234.56 (approx. 1.2k) to U.S.A. Inc., didn't he? Yes -- he did...",
    ]
    with open(os.path.join(INPUT, "unicode.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n  \n".join(paragraphs) + "\n")


def documents(path):
    """(text, subset) of each document, cut as DocumentReader cuts them."""
    name = os.path.basename(path)
    if name.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout.decode("utf-8")
    else:
        with open(path, encoding="utf-8", newline="") as f:
            data = f.read()
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if ".jsonl" in name:
        for line in lines:
            if not line.strip(" \t\r"):
                continue
            row = json.loads(line)
            meta = row.get("meta")
            yield row["text"], meta.get("pile_set_name") if isinstance(meta, dict) else None
        return
    paragraph = []
    for line in lines:
        line = line[:-1] if line.endswith("\r") else line
        if line.strip() == "":
            if paragraph:
                yield "\n".join(paragraph), None
            paragraph = []
        else:
            paragraph.append(line)
    if paragraph:
        yield "\n".join(paragraph), None


def count_file(path, tokenizer):
    groups = {}
    words = collections.Counter()
    for text, subset in documents(path):
        ids = tokenizer.encode(text).ids
        group = groups.setdefault(subset, {"subset": subset, "documents": 0, "tokens": 0, "bytes": 0,
                                           "counts": collections.Counter()})
        group["documents"] += 1
        group["tokens"] += len(ids)
        group["bytes"] += len(text.encode("utf-8"))
        group["counts"].update(ids)
        words.update(nltk.word_tokenize(text))
    ordered = sorted(groups.values(), key=lambda g: (g["subset"] is not None, g["subset"] or ""))
    for group in ordered:
        group["counts"] = sorted(group["counts"].items())
    return {"groups": ordered, "words": sorted(words.items())}, words


def main():
    analysis = analysis_module()
    punkt = PunktSentenceTokenizer()
    punkt._params = analysis.read_model_swift()
    nltk.tokenize._get_punkt_tokenizer = lambda language="english": punkt

    write_inputs()
    tokenizer = Tokenizer.from_file(os.path.join(DATA, "tokenizer", "gpt-neox-20b-tokenizer.json"))
    files, words = {}, collections.Counter()
    for name in sorted(os.listdir(INPUT)):
        files[name], file_words = count_file(os.path.join(INPUT, name), tokenizer)
        words += file_words
    expected = {
        "tokenizers_version": tokenizers.__version__,
        "nltk_version": nltk.__version__,
        "vocabulary_size": tokenizer.get_vocab_size(with_added_tokens=True),
        "files": files,
        "words_by_count": sorted(words.items(), key=lambda item: (-item[1], item[0])),
    }
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    for name, counts in files.items():
        print(name, [(g["subset"], g["documents"], g["tokens"]) for g in counts["groups"]], len(counts["words"]), "words")


if __name__ == "__main__":
    main()
