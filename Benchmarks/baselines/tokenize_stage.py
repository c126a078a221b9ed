#!/usr/bin/env python3
"""Baseline for `lethe-bench tokenize`: the tokenize stage written plainly in Python on the Hugging Face `tokenizers`
package, doing what lethe-tokenize does for `--chunking fixed --chunk-size 64 --documents-per-shard 50`: read the
JSONL inputs with Python's json module, tokenize each block of 50 documents with `encode_batch`, cut the block's
concatenated ids into 64-token chunks (remainder dropped), decode each chunk's text (`decode_batch`), and write each
block as a WebDataset shard (tarfile: KEY.json + KEY.tokens.npy with numpy, compressed by the `zstd` command at
level 3) to a temporary name, fsync, rename. Timed from loading the tokenizer to the last shard.

"stage 1 thread": RAYON_NUM_THREADS=1; "stage all cores": the package's own thread pool, in a second process.
"check" counts the samples and hashes every id in shard order (FNV-1a), as Lethe does.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ALL_CORES = "--all-cores" in sys.argv
if not ALL_CORES:
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402  (after the environment is set)

INPUTS = ["data/prose/python-docs.jsonl", "data/code/python-stdlib.jsonl"] * 3
CHUNK, PER_SHARD, PASSES = 64, 50, 3


def documents():
    for path in INPUTS:
        with open(path, encoding="utf-8") as f:
            index = 0
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                text = row.pop("text")
                yield {"text": text, "source": path, "doc": index, "line": number, "metadata": row or None}
                index += 1


def blocks():
    block = []
    for document in documents():
        block.append(document)
        if len(block) == PER_SHARD:
            yield block
            block = []
    if block:
        yield block


def member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shard(folder, index, samples):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, value, ids in samples:
            member(tar, key + ".json", json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                  ensure_ascii=False).encode("utf-8"))
            array = io.BytesIO()
            np.save(array, np.asarray(ids, dtype="<i4"))
            member(tar, key + ".tokens.npy", array.getvalue())
    final = os.path.join(folder, f"shard-{index:06d}.tar.zst")
    temporary = final + f".tmp.{os.getpid()}"
    subprocess.run(["zstd", "-q", "-3", "-f", "-o", temporary], input=buffer.getvalue(), check=True)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.rename(temporary, final)


def stage(folder):
    """Returns (samples, FNV-1a of every id in order)."""
    tok = Tokenizer.from_file("data/tokenizer/gpt-neox-20b-tokenizer.json")
    h, count = 0xCBF29CE484222325, 0
    for block_index, block in enumerate(blocks()):
        stream, starts = [], []
        for document, encoding in zip(block, tok.encode_batch([d["text"] for d in block])):
            starts.append(len(stream))
            stream += encoding.ids
        chunks = [stream[s:s + CHUNK] for s in range(0, len(stream) - CHUNK + 1, CHUNK)]
        texts = tok.decode_batch(chunks, skip_special_tokens=False)
        samples = []
        first = 0
        for k, (ids, text) in enumerate(zip(chunks, texts)):
            start = k * CHUNK
            while first + 1 < len(block) and starts[first + 1] <= start:
                first += 1
            last = first
            while last + 1 < len(block) and starts[last + 1] < start + CHUNK:
                last += 1
            document = block[first]
            value = {"text": text, "dataset": os.path.basename(document["source"])[:-len(".jsonl")],
                     "source": document["source"], "doc": document["doc"], "line": document["line"],
                     "length": len(ids), "documents": last - first + 1, "token_offset": start - starts[first]}
            if document["metadata"] is not None:
                value["metadata"] = document["metadata"]
            samples.append((f"b{block_index:06d}-s{k:06d}", value, ids))
            for i in ids:
                h = ((h ^ i) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        count += len(samples)
        write_shard(folder, block_index, samples)
    return count, h


def best_of_runs():
    best, check = float("inf"), None
    for _ in range(PASSES):
        folder = tempfile.mkdtemp(prefix="lethe-baseline-tokenize-")
        try:
            start = time.perf_counter()
            count, h = stage(folder)
            best = min(best, time.perf_counter() - start)
            check = f"{count} samples, fnv1a {h:x}"
        finally:
            shutil.rmtree(folder)
    return best, check


def main():
    size = sum(os.path.getsize(p) for p in INPUTS)
    if ALL_CORES:
        seconds, check = best_of_runs()
        print(json.dumps({"seconds": seconds, "check": check}))
        return
    one, check = best_of_runs()
    output = subprocess.run([sys.executable, __file__, "--all-cores"], check=True, capture_output=True, text=True).stdout
    all_cores = json.loads(output)
    for name, seconds, how in [("stage 1 thread", one, "RAYON_NUM_THREADS=1"),
                               ("stage all cores", all_cores["seconds"], f"{os.cpu_count()} cores")]:
        print(json.dumps({"area": "tokenize", "name": name, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
                          "check": check, "implementation": how}, sort_keys=True))


if __name__ == "__main__":
    main()
