#!/usr/bin/env python3
"""Runs each area's Python baseline (Benchmarks/baselines/AREA.py) and Swift benchmark (`lethe-bench AREA`) in one
go and prints a table: Swift and Python seconds per measurement and the speed-up (Python / Swift), with tokens/s
and peak memory where the area reports them. A measurement may carry a "check" value (e.g. a digest of the data
processed); Swift's and Python's must match. The baseline runs first: it creates any checkpoint the area needs
(encode and train use /work/bench-cache/mamba-130m-random). Both sides use their defaults (2 threads where they
take threads). The two sides alternate for --rounds rounds and each keeps its fastest, so that a busy moment on
a shared machine does not fall on one side only.

    make bench PYTHON=/work/venv/bin/python          # every area that has a baseline
    python Benchmarks/run.py train encode --rounds 1
"""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(REPO, ".build", "release", "lethe-bench")
BASELINES = os.path.join(REPO, "Benchmarks", "baselines")


def lines(area, cmd):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.PIPE, text=True).stdout
    records = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return {r.get("name", area): r for r in records}


def fastest(runs):
    """Measurement by measurement, the run with the fewest seconds."""
    return {name: min((run[name] for run in runs if name in run), key=lambda r: r["seconds"]) for name in runs[0]}


def notes(s, p):
    parts = []
    if "tokens_per_s" in s and p and "tokens_per_s" in p:
        parts.append(f"{s['tokens_per_s']:.1f} vs {p['tokens_per_s']:.1f} tok/s")
    if "max_rss_mb" in s:
        parts.append(f"peak RSS {s['max_rss_mb']:.0f} MB" + (f" vs {p['max_rss_mb']:.0f} MB" if p and "max_rss_mb" in p else ""))
    if "fraction_of_sgemm_peak" in s:
        parts.append(f"{s['matmul_gflops']:.0f} GFLOPS = {100 * s['fraction_of_sgemm_peak']:.0f}% of sgemm peak")
    return "; ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", help="default: every Benchmarks/baselines/AREA.py")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each side; the fastest is kept")
    args = parser.parse_args()
    areas = args.areas or sorted(f[:-3] for f in os.listdir(BASELINES) if f.endswith(".py"))

    subprocess.run(["swift", "build", "-c", "release", "--product", "lethe-bench"], cwd=REPO, check=True)
    rows = []
    for area in areas:
        pythons, swifts = [], []
        for _ in range(args.rounds):
            pythons.append(lines(area, [sys.executable, os.path.join(BASELINES, area + ".py")]))
            swifts.append(lines(area, [BENCH, area]))
        python, swift = fastest(pythons), fastest(swifts)
        for name, s in swift.items():
            p = python.get(name)
            if p and s.get("check") != p.get("check"):
                sys.exit(f"{area} {name}: Swift and Python did not process the same data ({s.get('check')} != {p.get('check')})")
            print(json.dumps(s, sort_keys=True))
            if p:
                print(json.dumps(p, sort_keys=True))
            rows.append((area, name, s, p))
    print(f"\n{'area':<10} {'measurement':<18} {'swift s':>10} {'python s':>10} {'speed-up':>9}  notes")
    for area, name, s, p in rows:
        ratio = f"{p['seconds'] / s['seconds']:.1f}x" if p else "-"
        ps = f"{p['seconds']:.4f}" if p else "-"
        print(f"{area:<10} {name:<18} {s['seconds']:>10.4f} {ps:>10} {ratio:>9}  {notes(s, p)}")


if __name__ == "__main__":
    main()
