#!/usr/bin/env python3
"""Baseline for `lethe-bench shards`: the same samples written and read the way a Python user would,
with tarfile streaming through the `zstd` command (level 3) and numpy.save / numpy.load.

Prints one JSON line per measurement (write shard, read shard): seconds, MB of payload per second, and
the payload sha256 as "check", which must equal Lethe's (the same sample bytes).
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time

import numpy as np


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def sample(i):
    j = np.arange(4 * 1536 * 16, dtype=np.uint64)
    h = ((i * 2654435761 + j * 40503) % (1 << 32)).astype(np.uint32)
    state = (np.uint16(0x3C00) | (h >> 22).astype(np.uint16)).view(np.float16).reshape(4, 1536, 16)
    meta = json.dumps({"dataset": "bench", "document": i, "length": 64}, sort_keys=True, separators=(",", ":")).encode()
    tokens = ((i * 7 + np.arange(64)) % 50277).astype(np.int32)
    return f"sample{i:06d}", [("json", meta), ("tokens.npy", npy(tokens)), ("state.npy", npy(state))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", help="folder for the shard (default: a temporary folder)")
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run(args, os.path.join(args.folder or directory, "shard-000000.tar.zst"))


def run(args, path):
    made = [sample(i) for i in range(args.samples)]
    payload = sum(len(data) for _, members in made for _, data in members)
    digest = hashlib.sha256()
    for _, members in made:
        for _, data in members:
            digest.update(data)
    payload_sha = digest.hexdigest()

    best_write = best_read = float("inf")
    for _ in range(args.passes):
        start = time.perf_counter()
        with open(path, "wb") as out:
            zstd = subprocess.Popen(["zstd", "-q", "-3", "-c"], stdin=subprocess.PIPE, stdout=out)
            with tarfile.open(fileobj=zstd.stdin, mode="w|") as tar:
                for key, members in made:
                    for ext, data in members:
                        info = tarfile.TarInfo(f"{key}.{ext}")
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
            zstd.stdin.close()
            assert zstd.wait() == 0
            out.flush()
            os.fsync(out.fileno())
        best_write = min(best_write, time.perf_counter() - start)

        # Timed: decode every member as a stage would (.npy arrays, JSON metadata).
        start = time.perf_counter()
        count, last = 0, None
        unzstd = subprocess.Popen(["zstd", "-q", "-dc", path], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=unzstd.stdout, mode="r|") as tar:
            for member in tar:
                data = tar.extractfile(member).read()
                if member.name.endswith(".npy"):
                    np.load(io.BytesIO(data))
                else:
                    json.loads(data)
                key = member.name.split(".", 1)[0]
                if key != last:
                    count, last = count + 1, key
        assert unzstd.wait() == 0
        best_read = min(best_read, time.perf_counter() - start)
        assert count == args.samples

    # Untimed: the bytes read back are the bytes written.
    read_digest = hashlib.sha256()
    unzstd = subprocess.Popen(["zstd", "-q", "-dc", path], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=unzstd.stdout, mode="r|") as tar:
        for member in tar:
            read_digest.update(tar.extractfile(member).read())
    assert unzstd.wait() == 0 and read_digest.hexdigest() == payload_sha

    size = os.path.getsize(path)
    for name, seconds in (("write shard", best_write), ("read shard", best_read)):
        print(json.dumps({"area": "shards", "name": name, "seconds": seconds, "mb_per_s": payload / 1e6 / seconds,
                          "check": payload_sha, "payload_bytes": payload, "shard_bytes": size,
                          "samples": args.samples}, sort_keys=True))


if __name__ == "__main__":
    main()
