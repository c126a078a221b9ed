#!/usr/bin/env python3
"""Runs each area's Python baseline (Benchmarks/baselines/AREA.py) and Swift benchmark (`lethe-bench AREA`) in one
go and prints a table: Swift and Python seconds per measurement and the speed-up (Python / Swift), with tokens/s
and peak memory where the area reports them. A measurement may carry a "check" value (e.g. a digest of the data
processed); Swift's and Python's must match. The baseline runs first: it creates any checkpoint the area needs
(encode and train use /work/bench-cache/mamba-130m-random). Areas that take threads use 2 on both sides.

    make bench PYTHON=/work/venv/bin/python          # every area that has a baseline
    python Benchmarks/run.py train encode
"""
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(REPO, ".build", "release", "lethe-bench")


def lines(area, cmd):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.PIPE, text=True).stdout
    records = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return {r.get("name", area): r for r in records}


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
    subprocess.run(["swift", "build", "-c", "release", "--product", "lethe-bench"], cwd=REPO, check=True)
    baselines = os.path.join(REPO, "Benchmarks", "baselines")
    areas = sys.argv[1:] or sorted(f[:-3] for f in os.listdir(baselines) if f.endswith(".py"))
    rows = []
    for area in areas:
        python = lines(area, [sys.executable, os.path.join(baselines, area + ".py")])
        swift = lines(area, [BENCH, area])
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
