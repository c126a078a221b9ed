#!/usr/bin/env python3
"""Runs each area's Swift benchmark (`lethe-bench AREA`) and its Python baseline (Benchmarks/baselines/AREA.py) on
the same inputs, one after the other in one run, and prints a table: figure, Lethe, baseline, ratio.

    make bench PYTHON=/work/venv/bin/python            # all areas
    /work/venv/bin/python Benchmarks/run.py tokenizer  # one area (after `swift build -c release --product lethe-bench`)
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, ".build", "release", "lethe-bench")


def json_lines(command):
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def tokenizer_texts(directory):
    """The benchmark corpus: CoNLL-2003 train documents (sentences one per line), GSM8K test question + answer,
    AAVE/SAE pairs in blocks of 20 lines. About 2.4 MB of mostly English text."""
    texts, document, sentence = [], [], []
    with open(os.path.join(ROOT, "data", "conll2003", "eng.train"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("-DOCSTART-") or not line.strip():
                if sentence:
                    document.append(" ".join(sentence))
                    sentence = []
                if line.startswith("-DOCSTART-") and document:
                    texts.append("\n".join(document))
                    document = []
            else:
                sentence.append(line.split(" ")[0])
    if sentence:
        document.append(" ".join(sentence))
    if document:
        texts.append("\n".join(document))
    with open(os.path.join(ROOT, "data", "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.append(row["question"] + "\n" + row["answer"])
    with open(os.path.join(ROOT, "data", "dialects", "aave-sae.csv"), encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    texts += ["\n".join(lines[i:i + 20]) for i in range(0, len(lines), 20)]
    path = os.path.join(directory, "tokenizer-texts.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    return path


def tokenizer_area(directory):
    texts = tokenizer_texts(directory)
    lethe = json_lines([BENCH, "tokenizer", "--texts", texts])
    baseline = os.path.join(ROOT, "Benchmarks", "baselines", "tokenizer.py")
    python = json_lines([sys.executable, baseline, "--texts", texts])
    python += json_lines([sys.executable, baseline, "--texts", texts, "--all-cores"])
    rows = []
    for figure in lethe:
        if "mb_per_s" not in figure:
            continue
        # Each Lethe figure against the package's figures of the same kind (the first pass against the warm ones).
        kind = "encode all cores (warm)" if "all cores" in figure["name"] else "encode 1 thread (warm)"
        for baseline in python:
            if baseline["name"] != kind:
                continue
            if figure["tokens"] != baseline["tokens"]:
                sys.exit(f"tokenizer: Lethe made {figure['tokens']} tokens, {baseline['implementation']} "
                         f"{baseline['tokens']}: not the same ids")
            rows.append((f"{figure['name']}, MB/s", figure["mb_per_s"], baseline["mb_per_s"],
                         baseline["implementation"]))
    load = [f for f in lethe if f["name"] == "load tokenizer.json"][0]["seconds"]
    python_load = min(p["seconds"] for p in python if p["name"] == "load tokenizer.json")
    rows.append(("load tokenizer.json, 1/s", 1 / load, 1 / python_load, "tokenizers"))
    return rows


def corpus_area(directory):
    """A JSONL file of about 50 MB: the GSM8K test set's lines repeated, with a metadata field."""
    path = os.path.join(directory, "corpus.jsonl")
    with open(os.path.join(ROOT, "data", "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    lines = [json.dumps({"text": r["question"] + "\n" + r["answer"], "meta": {"pile_set_name": "GSM8K"}},
                        ensure_ascii=False) for r in rows]
    with open(path, "w", encoding="utf-8") as f:
        size = 0
        while size < 50_000_000:
            block = "\n".join(lines) + "\n"
            f.write(block)
            size += len(block.encode("utf-8"))
    lethe = json_lines([BENCH, "corpus", "--input", path])
    python = json_lines([sys.executable, os.path.join(ROOT, "Benchmarks", "baselines", "corpus.py"), "--input", path])
    rows = []
    for figure in lethe:
        for baseline in python:
            if figure["documents"] != baseline["documents"] or figure["text_bytes"] != baseline["text_bytes"]:
                sys.exit(f"corpus: Lethe read {figure['documents']} documents, Python {baseline['documents']}")
            rows.append((f"{figure['name']}, MB/s", figure["mb_per_s"], baseline["mb_per_s"], baseline["implementation"]))
    return rows


AREAS = {"tokenizer": tokenizer_area, "corpus": corpus_area}


def main():
    areas = sys.argv[1:] or list(AREAS)
    print(f"{'area':<10} {'figure':<42} {'lethe':>10} {'baseline':>10} {'ratio':>7}  baseline is")
    with tempfile.TemporaryDirectory() as directory:
        for area in areas:
            for figure, lethe, baseline, implementation in AREAS[area](directory):
                print(f"{area:<10} {figure:<42} {lethe:>10.2f} {baseline:>10.2f} {lethe / baseline:>6.2f}x  {implementation}")


if __name__ == "__main__":
    main()
