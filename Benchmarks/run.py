#!/usr/bin/env python3
"""Runs each area's Swift benchmark (`lethe-bench AREA`) and its Python baseline (Benchmarks/baselines/AREA.py) on
the same inputs, one after the other in one run, and prints a table: figure, Lethe, baseline, ratio.

    make bench PYTHON=/work/venv/bin/python            # all areas
    /work/venv/bin/python Benchmarks/run.py shards     # one area (after `swift build -c release --product lethe-bench`)
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


def shards_area(directory):
    """Write and read one shard of 400 encoder-like samples (~79 MB of .npy payload), MB of payload per second."""
    lethe = json_lines([BENCH, "shards", "--folder", directory])
    python = json_lines([sys.executable, os.path.join(ROOT, "Benchmarks", "baselines", "shards.py"), "--folder", directory])
    rows = []
    for figure, baseline in zip(lethe, python):
        if figure["payload_sha256"] != baseline["payload_sha256"]:
            sys.exit("shards: Lethe and the baseline did not write the same sample bytes")
        rows.append((f"{figure['name']} shard, MB/s (zstd -3)", figure["mb_per_s"], baseline["mb_per_s"], baseline["implementation"]))
    return rows


AREAS = {"shards": shards_area}


def main():
    areas = sys.argv[1:] or list(AREAS)
    print(f"{'area':<10} {'figure':<42} {'lethe':>10} {'baseline':>10} {'ratio':>7}  baseline is")
    with tempfile.TemporaryDirectory() as directory:
        for area in areas:
            for figure, lethe, baseline, implementation in AREAS[area](directory):
                print(f"{area:<10} {figure:<42} {lethe:>10.2f} {baseline:>10.2f} {lethe / baseline:>6.2f}x  {implementation}")


if __name__ == "__main__":
    main()
