#!/usr/bin/env python3
"""Runs each area's Swift benchmark (`lethe-bench AREA`) beside its Python baseline (Benchmarks/baselines/AREA.py)
in one run and prints a table of speed-ups.

    make bench PYTHON=/path/to/venv/bin/python        # every area that has a baseline
    python Benchmarks/run.py encode train --rounds 3

Both sides print JSON lines. A line with "seconds" is a timing (lower is better; speed-up = Python / Swift); a
line with "tokens_per_s" is a rate (higher is better; speed-up = Swift / Python). Lines are paired by "name" (or
by position when there is none). A line may carry a "check" value (e.g. a digest of what was processed): Swift's
and Python's must be equal, so the two sides provably did the same work.

The model areas (encode, train, reconstruct) take --threads and run for --rounds alternating rounds, each side
keeping its best, so that a busy moment on a shared machine does not fall on one side only. Their baselines need
torch and transformers, and create the random mamba-130m checkpoint they share in /work/bench-cache if missing.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINES = os.path.join(ROOT, "Benchmarks", "baselines")
BENCH = os.path.join(ROOT, ".build", "release", "lethe-bench")
MODEL_AREAS = {"encode", "train", "reconstruct"}


def json_lines(command):
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def better(a, b):
    if "tokens_per_s" in a:
        return a if a["tokens_per_s"] >= b["tokens_per_s"] else b
    return a if a["seconds"] <= b["seconds"] else b


def best_of(rounds):
    best = rounds[0]
    for other in rounds[1:]:
        best = [better(a, b) for a, b in zip(best, other)]
    return best


def pair(swift, python):
    keyed = {line.get("name"): line for line in python}
    for index, line in enumerate(swift):
        yield line, (keyed.get(line["name"]) if "name" in line else (python[index] if index < len(python) else None))


def describe(line):
    if "tokens_per_s" in line:
        return f"{line['tokens_per_s']:.0f} tok/s"
    return f"{line['seconds']:.4f} s"


def notes(swift, python):
    out = []
    if "fraction_of_sgemm_peak" in swift:
        out.append(f"{swift['matmul_gflops']:.0f} GFLOPS = {100 * swift['fraction_of_sgemm_peak']:.0f}% of sgemm peak "
                   f"{swift['sgemm_peak_gflops']:.0f}")
    if "tokens_per_s_on_the_fly" in swift:
        out.append(f"on the fly {swift['tokens_per_s_on_the_fly']:.0f} tok/s, encoder {100 * swift['encoder_share']:.0f}% of a step")
    if "max_rss_mb" in swift:
        out.append(f"max RSS {swift['max_rss_mb']:.0f} MB" + (f" vs {python['max_rss_mb']:.0f} MB"
                                                             if python and "max_rss_mb" in python else ""))
    return "; ".join(out)


def main():
    areas_available = sorted(f[:-3] for f in os.listdir(BASELINES) if f.endswith(".py"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", default=areas_available, help="of: " + ", ".join(areas_available))
    parser.add_argument("--threads", type=int, default=2, help="threads of the model areas, both sides")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the model areas; best kept")
    args = parser.parse_args()
    unknown = sorted(set(args.areas) - set(areas_available))
    if unknown:
        parser.error(f"no baseline for {', '.join(unknown)} (areas: {', '.join(areas_available)})")
    # Always build (a no-op when current), so a stale binary is never measured.
    subprocess.run(["swift", "build", "-c", "release", "--product", "lethe-bench"], cwd=ROOT, check=True)

    rows = []
    for area in args.areas:
        baseline = [sys.executable, os.path.join(BASELINES, area + ".py")]
        swift = [BENCH, area]
        if area in MODEL_AREAS:
            options = ["--threads", str(args.threads), "--repeats", "1"]
            python_rounds, swift_rounds = [], []
            for _ in range(args.rounds):  # the baseline first: it creates the checkpoint both sides use
                python_rounds.append(json_lines(baseline + options))
                swift_rounds.append(json_lines(swift + options))
            python_lines, swift_lines = best_of(python_rounds), best_of(swift_rounds)
        else:
            swift_lines, python_lines = json_lines(swift), json_lines(baseline)
        for mine, theirs in pair(swift_lines, python_lines):
            if theirs and mine.get("check") != theirs.get("check"):
                sys.exit(f"{area} {mine.get('name', '')}: Swift and Python did not process the same data "
                         f"({mine.get('check')} != {theirs.get('check')})")
            if theirs is None:
                ratio = "-"
            elif "tokens_per_s" in mine:
                ratio = f"{mine['tokens_per_s'] / theirs['tokens_per_s']:.2f}x"
            else:
                ratio = f"{theirs['seconds'] / mine['seconds']:.2f}x"
            rows.append((area, mine.get("name", area), describe(mine), describe(theirs) if theirs else "-", ratio,
                         notes(mine, theirs)))

    print(f"\n{'area':<12} {'measurement':<22} {'lethe':>14} {'python':>14} {'speed-up':>9}  notes")
    for area, name, mine, theirs, ratio, note in rows:
        print(f"{area:<12} {name:<22} {mine:>14} {theirs:>14} {ratio:>9}  {note}")


if __name__ == "__main__":
    main()
