#!/usr/bin/env python3
"""Runs each area's Swift benchmark (`lethe-bench AREA`) and Python baseline (Benchmarks/baselines/AREA.py)
in one go and prints a table: Swift and Python seconds per measurement, and the speed-up (Python / Swift).
A measurement may carry a "check" value (e.g. a digest of the data processed); Swift's and Python's must match.

    make bench                      # all areas that have a baseline
    python Benchmarks/run.py analysis
"""
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(REPO, ".build", "release", "lethe-bench")


def lines(cmd):
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return {r["name"]: r for r in (json.loads(l) for l in out.splitlines() if l.startswith("{"))}


def main():
    baselines = os.path.join(REPO, "Benchmarks", "baselines")
    areas = sys.argv[1:] or sorted(f[:-3] for f in os.listdir(baselines) if f.endswith(".py"))
    print(f"{'area':<10} {'measurement':<18} {'swift s':>10} {'python s':>10} {'speed-up':>9}")
    for area in areas:
        swift = lines([BENCH, area])
        python = lines([sys.executable, os.path.join(baselines, area + ".py")])
        for name, s in swift.items():
            p = python.get(name)
            if p and s.get("check") != p.get("check"):
                sys.exit(f"{area} {name}: Swift and Python did not process the same data ({s.get('check')} != {p.get('check')})")
            ratio = f"{p['seconds'] / s['seconds']:.1f}x" if p else "-"
            ps = f"{p['seconds']:.4f}" if p else "-"
            print(f"{area:<10} {name:<18} {s['seconds']:>10.4f} {ps:>10} {ratio:>9}")


if __name__ == "__main__":
    main()
