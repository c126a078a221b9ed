#!/usr/bin/env python3
"""Where a training step's time goes, by kernel: `perf record` of `lethe-bench train --no-on-the-fly` (steps only),
its samples grouped by what the symbol is, as shares of the steps' samples, as the README's profile tables. perf
starts with its events off and lethe-bench turns them on around its timed work only (perf's control FIFO, named to
it in LETHE_PERF_CONTROL and LETHE_PERF_ACK), so model loading, random initialisation, the first touches of new
memory and the warm-up are left out. With `encode` or `reconstruct` first, the same for that lethe-bench area (the
encoding benchmark's forward passes, the reconstruction benchmark's greedy decoding).

    python3 Benchmarks/profile.py --model models/lethe-small --batch-size 32 --length 16 --repeats 30
    python3 Benchmarks/profile.py --model .build/bench-cache/mamba-130m-config --batch-size 4 --length 64 --repeats 12
    python3 Benchmarks/profile.py encode --repeats 6
    python3 Benchmarks/profile.py reconstruct --repeats 1

Needs Linux perf. LETHE_BENCH=path profiles another build of lethe-bench (a copy of an earlier one, for a side by
side). The arguments after the script's own are lethe-bench train's, or encode's or reconstruct's (--threads
defaults to 2 there).
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# LETHE_BENCH: another build of lethe-bench, to profile two builds side by side.
BENCH = os.environ.get("LETHE_BENCH", os.path.join(ROOT, ".build", "release", "lethe-bench"))

# Matched in order against the symbol (Swift symbols mangled: the names still read inside them).
GROUPS = [
    ("setup", r"randomize|Xoshiro|__cos|__sin|__ieee754_log|__log|safetensors|Safetensors|loadOrRandomize"),
    ("matrix products on packed weights (frozen models)", r"packed_linear"),
    ("packing the frozen model's weights", r"PackedWeight"),
    ("sgemm: OpenBLAS's kernel", r"^sgemm_kernel"),
    ("sgemm: packing, beta and driver", r"^sgemm_|^gemm_|blas_"),
    ("output layer's softmax (max, exp, sum; the blocked cross-entropy)", r"softmax|lmHeadCrossEntropy|BlockedLMHead|rowSumOfExp"),
    ("selective scan backward", r"selective_scan_backward|selectiveScanBackward"),
    ("Mamba-2 scan backward", r"ssdScanBackward|ssd_scan_backward"),
    ("Mamba-2 scan forward", r"ssdScanForward|ssd_scan"),
    ("selective scan forward (with the gate, in the fused kernel)", r"selective_scan|selectiveScan"),
    ("causal conv forward and backward (with the SiLU in the fused kernel)", r"causalConv1d|causal_conv1d"),
    ("AdamW update", r"AdamW"),
    ("gradient norm (clipping)", r"globalGradientNorm|GradientNorm|block_sums_of_squares"),
    ("gates, SiLU, RMSNorm, softplus, embedding", r"gate|silu|rmsNorm|softplus|embedding|Embedding"),
    ("memset and memmove (zeroing, copies)", r"memset|memmove|memcpy|clear_page"),
    ("operating system (page faults, scheduling, threads)", r"^\[k\]|dispatch|sched|futex|pthread"),
]


def record(command, window):
    """`perf report` of lethe-bench COMMAND; with `window`, of its timed work only (perf starts with its events off,
    lethe-bench turns them on and off through perf's control FIFO)."""
    with tempfile.TemporaryDirectory() as scratch:
        data, control, ack = (os.path.join(scratch, name) for name in ("perf.data", "control", "ack"))
        options, environment = [], dict(os.environ)
        if window:
            os.mkfifo(control)
            os.mkfifo(ack)
            options = ["-D", "-1", "--control", f"fifo:{control},{ack}"]
            environment.update(LETHE_PERF_CONTROL=control, LETHE_PERF_ACK=ack)
        subprocess.run(["perf", "record"] + options + ["-F", "999", "-o", data, "--", BENCH] + command, cwd=ROOT,
                       env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio", "-g",
                               "none", "--percent-limit", "0"], check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout


def grouped(report):
    """Percent of the samples per group of GROUPS, from `perf report --sort symbol` output."""
    shares = {}
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\[[.k]\])\s+(.*?)\s*$", line)
        if not match:
            continue
        percent, space, symbol = float(match.group(1)), match.group(2), match.group(3)
        name = ("[k] " if space == "[k]" else "") + symbol
        group = next((g for g, pattern in GROUPS if re.search(pattern, name)), "the rest")
        shares[group] = shares.get(group, 0) + percent
    return shares


def main():
    arguments = sys.argv[1:]
    if any(a in ("-h", "--help") for a in arguments):
        print(__doc__)
        return
    # --no-sgemm-limit: the peak measurement's large products would count as the work's.
    command = (arguments if arguments[:1] in (["encode"], ["reconstruct"]) else ["train", "--no-on-the-fly"] + arguments)
    command.append("--no-sgemm-limit")
    try:
        shares = grouped(record(command, window=True))
    except subprocess.CalledProcessError:
        shares = {}  # a perf without -D -1 or --control
    if not shares:
        # An earlier build (LETHE_BENCH) that does not turn perf on, or a perf that cannot be told to: record the
        # whole run, setup left out by name.
        print("no samples of the timed work alone (a lethe-bench before the profiled window, or an older perf): "
              "recording the whole run")
        shares = grouped(record(command, window=False))
    steps = sum(v for g, v in shares.items() if g != "setup")
    print(f"lethe-bench {' '.join(command)}: {shares.get('setup', 0):.0f}% of the samples were setup (left out)\n")
    print("| part of the work | share |")
    print("| --- | ---: |")
    for group, value in sorted(((g, v) for g, v in shares.items() if g != "setup"), key=lambda item: -item[1]):
        print(f"| {group} | {100 * value / steps:.0f}% |")


if __name__ == "__main__":
    main()
