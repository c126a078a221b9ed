#!/usr/bin/env python3
"""Runs each area's Swift benchmark (`lethe-bench AREA`) beside its Python baseline (Benchmarks/baselines/AREA.py)
in one run and prints a table of speed-ups.

    make bench PYTHON=/path/to/venv/bin/python        # every area that has a baseline
    python Benchmarks/run.py encode train --rounds 3
    python Benchmarks/run.py encode train --only mamba2     # the model cases whose name contains "mamba2"

Both sides print JSON lines. A line with "seconds" is a timing (lower is better; speed-up = Python / Swift); a
line with "tokens_per_s" is a rate (higher is better; speed-up = Swift / Python). Lines are paired by "name" (or
by position when there is none). A line may carry a "check" value (e.g. a digest of what was processed): Swift's
and Python's must be equal, so the two sides provably did the same work.

The model areas (encode, train, reconstruct) run their cases (CASES: the model and batch shapes) with --threads
and --repeats, for --rounds alternating rounds, each side keeping its best, so that a busy moment on a shared
machine does not fall on one side only; the spread is the range of every timed repeat of every round. Their
baselines need torch and transformers, and create the random mamba-130m checkpoint they share in
.build/bench-cache if missing. Lethe's side also reports the share of the sgemm peak that its matrix products
reach (the peak measured in the same process).

The run ends with a markdown table (the README's), also written with every JSON line to .build/bench-results.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINES = os.path.join(ROOT, "Benchmarks", "baselines")
BENCH = os.path.join(ROOT, ".build", "release", "lethe-bench")
RESULTS = os.path.join(ROOT, ".build", "bench-results.json")
# The cases of the model areas: a name and the options both sides take (the default model is the random mamba-130m).
MAMBA2 = ["--model", ".build/bench-cache/mamba2-130m-random"]
CASES = {
    "encode": [("mamba-130m, 64 chunks x 64 tokens, batch 64", []),
               ("mamba2-130m, 64 chunks x 64 tokens, batch 64", MAMBA2)],
    "train": [
        ("lethe-small, batch 32 x 16", ["--model", "models/lethe-small", "--batch-size", "32", "--length", "16"]),
        ("mamba-130m, batch 4 x 64", ["--batch-size", "4", "--length", "64"]),
        ("mamba-130m, batch 8 x 256", ["--batch-size", "8", "--length", "256"]),
        ("mamba2-130m, batch 4 x 64", MAMBA2 + ["--batch-size", "4", "--length", "64"]),
    ],
    "reconstruct": [("mamba-130m, 64 chunks x 64 tokens, batch 64", [])],
}


def json_lines(command):
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def better(a, b):
    if "out_of_memory_gb" in a or "out_of_memory_gb" in b:
        return b if "out_of_memory_gb" in a else a
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


def rates(line):
    """Every timed repeat of a line as a rate (tok/s) or a time (s)."""
    if "out_of_memory_gb" in line:
        return []
    times = line.get("step_seconds") or line.get("all_seconds") or [line["seconds"]]
    if "tokens_per_s" in line:
        work = line["tokens_per_s"] * line["seconds"]
        return [work / t for t in times]
    return list(times)


def describe(line, spread=None):
    if "out_of_memory_gb" in line:
        return f"out of memory: stopped at {line['out_of_memory_gb']} GB (limit {line['memory_limit_gb']} GB)"
    unit = (lambda v: f"{v:,.0f} tok/s") if "tokens_per_s" in line else (lambda v: f"{v:.4f} s")
    text = unit(line["tokens_per_s"] if "tokens_per_s" in line else line["seconds"])
    if spread and len(spread) > 1:
        text += f" ({unit(min(spread)).split()[0]}-{unit(max(spread))})"
    return text


def notes(swift, python):
    out = []
    if "fraction_of_sgemm_peak" in swift:
        out.append(f"{100 * swift['fraction_of_sgemm_peak']:.0f}% of the sgemm limit ({swift['matmul_gflops']:.0f} of "
                   f"{swift['sgemm_peak_gflops']:.0f} GFLOPS; limit "
                   f"{swift['tokens_per_s'] / swift['fraction_of_sgemm_peak']:,.0f} tok/s)")
    if "tokens_per_s_on_the_fly" in swift:
        out.append(f"on the fly {swift['tokens_per_s_on_the_fly']:,.0f} tok/s, encoder {100 * swift['encoder_share']:.0f}% of a step")
    if "max_rss_mb" in swift:
        out.append(f"peak memory {swift['max_rss_mb']:,.0f} MB" + (f" against {python['max_rss_mb']:,.0f} MB"
                                                                   if python and "max_rss_mb" in python else ""))
    if python and "out_of_memory_gb" in python:
        out.append("PyTorch's resident memory passed the limit; the step was not finished")
    return "; ".join(out)


def run_model_case(area, name, options, args):
    """Both sides of one case for --rounds alternating rounds: each side's best line (with the case's name) and the
    rates of every timed repeat."""
    baseline = [sys.executable, os.path.join(BASELINES, area + ".py")]
    common = options + ["--threads", str(args.threads), "--repeats", str(args.repeats)]
    python_rounds, swift_rounds = [], []
    for _ in range(args.rounds):  # the baseline first: it creates the checkpoint both sides use
        if not python_rounds or "out_of_memory_gb" not in python_rounds[-1][0]:  # once out of memory, always
            python_rounds.append(json_lines(baseline + common))
        swift_rounds.append(json_lines([BENCH, area] + common))
    sides = []
    for rounds in (swift_rounds, python_rounds):
        best = best_of(rounds)[0]
        best["name"] = name
        sides.append((best, [r for lines in rounds for r in rates(lines[0])]))
    return sides


def main():
    areas_available = sorted(f[:-3] for f in os.listdir(BASELINES) if f.endswith(".py"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", default=areas_available, help="of: " + ", ".join(areas_available))
    parser.add_argument("--threads", type=int, default=2, help="threads of the model areas, both sides")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the model areas; best kept")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats of the model areas per round")
    parser.add_argument("--only", metavar="TEXT", help="run only the model cases whose name contains TEXT (e.g. mamba2)")
    args = parser.parse_args()
    unknown = sorted(set(args.areas) - set(areas_available))
    if unknown:
        parser.error(f"no baseline for {', '.join(unknown)} (areas: {', '.join(areas_available)})")
    # Always build (a no-op when current), so a stale binary is never measured.
    subprocess.run(["swift", "build", "-c", "release", "--product", "lethe-bench"], cwd=ROOT, check=True)

    rows, lines = [], []
    for area in args.areas:
        if area in CASES:
            pairs = []
            for name, options in CASES[area]:
                if args.only and args.only not in name:
                    continue
                (mine, my_spread), (theirs, their_spread) = run_model_case(area, name, options, args)
                pairs.append((mine, theirs, my_spread, their_spread))
        else:
            swift_lines, python_lines = json_lines([BENCH, area]), json_lines([sys.executable, os.path.join(BASELINES, area + ".py")])
            pairs = [(mine, theirs, None, None) for mine, theirs in pair(swift_lines, python_lines)]
        for mine, theirs, my_spread, their_spread in pairs:
            if theirs and mine.get("check") != theirs.get("check"):
                sys.exit(f"{area} {mine.get('name', '')}: Swift and Python did not process the same data "
                         f"({mine.get('check')} != {theirs.get('check')})")
            if theirs is None or "out_of_memory_gb" in theirs:
                ratio = "-"
            elif "tokens_per_s" in mine:
                ratio = f"{mine['tokens_per_s'] / theirs['tokens_per_s']:.1f}x"
            else:
                ratio = f"{theirs['seconds'] / mine['seconds']:.1f}x"
            lines += [mine] + ([theirs] if theirs else [])
            rows.append((area, mine.get("name", area), describe(mine, my_spread),
                         describe(theirs, their_spread) if theirs else "-", ratio, notes(mine, theirs)))

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(RESULTS, "w") as out:
        json.dump({"date": started, "threads": args.threads, "rounds": args.rounds, "repeats": args.repeats,
                   "lines": lines}, out, indent=1, sort_keys=True)
    print(f"\n`make bench`, {started}; model areas: {args.threads} threads, best of {args.rounds} rounds x "
          f"{args.repeats} repeats (range over all of them in brackets)\n")
    print("| area | measurement | Lethe | Python | speed-up | notes |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
