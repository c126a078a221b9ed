#!/usr/bin/env python3
"""How report.html copes with many chunks: the default run's annotations (make run) given to lethe-report COPIES
times over (symbolic links to stages/annotate, so every copy is a separate input), then the page opened in headless
chromium, with no filter and with the costliest (a search and a category), REPEATS times each.

    python3 Benchmarks/report_page.py            # 20 copies: 103,660 chunks

Prints, as JSON lines and a summary: chunks, the page's size, lethe-report's wall time and peak memory, and for each
load the time from navigation to the page being ready (its script done: data read, counts beside every choice, the
rows in view drawn) and the time the filtering itself took, both as the page records them on <body>
(data-ready-ms, data-update-ms). Chromium's own start and the serialisation of the DOM are not counted.
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build", "report-page-bench")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    annotate = os.path.join(ROOT, "stages", "annotate")
    if not os.path.exists(os.path.join(annotate, "manifest.json")):
        sys.exit("report_page.py: stages/annotate has no manifest.json: run `make run` first")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    inputs = []
    for k in range(args.copies):
        link = os.path.join(WORK, f"annotate-{k:02d}")
        os.symlink(annotate, link)
        inputs += ["--input", os.path.relpath(link, ROOT)]
    output = os.path.join(WORK, "outputs")
    started = time.monotonic()
    subprocess.run([os.path.join(ROOT, ".build", "release", "lethe-report"), *inputs, "--output", output,
                    "--progress", "off"], cwd=ROOT, check=True)
    report_seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    page = os.path.join(output, "report.html")
    chunks = json.load(open(os.path.join(output, "manifest.json")))["extra"]["chunks"]
    print(json.dumps({"name": "lethe-report", "chunks": chunks, "seconds": round(report_seconds, 1),
                      "peak_mb": round(peak_mb), "page_mb": round(os.path.getsize(page) / 1e6, 1)}))
    for label, fragment in [("no filter", ""), ("search 'the' and category POS NOUN", "#q=the&category=pos:NOUN")]:
        ready, update = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as profile:
                dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                      "--dump-dom", "file://" + page + fragment],
                                     check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
            body = re.search(r'<body data-update-ms="(\d+)" data-ready-ms="(\d+)"', dom)
            if body is None:
                sys.exit("report_page.py: the page did not record its times (a script error?)")
            update.append(int(body.group(1)))
            ready.append(int(body.group(2)))
        print(json.dumps({"name": label, "ready_ms": ready, "filter_ms": update}))
        print(f"{label}: ready {min(ready)}–{max(ready)} ms after navigation, filtering {min(update)}–{max(update)} ms",
              file=sys.stderr)
    print(f"{chunks:,} chunks, report.html {os.path.getsize(page) / 1e6:.1f} MB; lethe-report {report_seconds:.0f} s, "
          f"peak {peak_mb:.0f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
