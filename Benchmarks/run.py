"""Runs Lethe's benchmarks beside their Python baselines, in one run, and prints a table of ratios.

    make bench PYTHON=/work/venv/bin/python          (or: python Benchmarks/run.py [--areas encode])

Each area has a `lethe-bench <area>` subcommand and a Benchmarks/baselines/<area>.py script; both print JSON
lines with "tokens_per_s". The baseline runs first (it also creates any checkpoint the area needs).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AREAS = ["encode", "train"]


def json_lines(command):
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--areas", nargs="*", default=AREAS, choices=AREAS)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "lethe-bench"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, ".build", "release", "lethe-bench")
    rows = []
    for area in args.areas:
        threads = ["--threads", str(args.threads)]
        baseline = json_lines([sys.executable, os.path.join("Benchmarks", "baselines", f"{area}.py")] + threads)
        lethe = json_lines([binary, area] + threads)
        for mine, theirs in zip(lethe, baseline):
            print(json.dumps(mine, sort_keys=True))
            print(json.dumps(theirs, sort_keys=True))
            rows.append((area, mine, theirs))

    print(f"\n{'area':<8} {'lethe tok/s':>12} {'baseline tok/s':>18} {'ratio':>7}  notes")
    for area, mine, theirs in rows:
        ratio = mine["tokens_per_s"] / theirs["tokens_per_s"]
        notes = []
        if "fraction_of_sgemm_peak" in mine:
            notes.append(f"{mine['matmul_gflops']:.0f} GFLOPS = {100 * mine['fraction_of_sgemm_peak']:.0f}% of "
                         f"sgemm peak {mine['sgemm_peak_gflops']:.0f}")
        notes.append(f"max RSS lethe {mine['max_rss_mb']:.0f} MB, baseline {theirs['max_rss_mb']:.0f} MB")
        print(f"{area:<8} {mine['tokens_per_s']:>12.0f} {theirs['tokens_per_s']:>18.0f} {ratio:>6.2f}x  "
              + "; ".join(notes))


if __name__ == "__main__":
    main()
