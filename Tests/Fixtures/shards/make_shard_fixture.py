#!/usr/bin/env python3
"""Writes shards with Python's tarfile + numpy + the `zstd` command, for LetheShardsTests to read.

The oracle for the Swift ShardReader: shards made by the tools researchers use (tarfile in its
default PAX format and in GNU format, numpy.save), plus expected.json, which lists for every
shard its samples in order, each member's extension and sha256, and for .npy members the dtype,
shape and values as numpy reads them. Run from anywhere with python3 (needs numpy and zstd):

    python3 Tests/Fixtures/shards/make_shard_fixture.py
"""
import hashlib
import io
import json
import os
import subprocess
import tarfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def samples():
    rng = np.random.default_rng(7)
    out = []
    for i in range(3):
        tokens = rng.integers(0, 50277, size=8 + i, dtype=np.int32)
        meta = {"dataset": "fixture", "document": i, "words": ["Caf\u00e9", "na\u00efve", "\u6771\u4eac"], "score": 0.25 * i}
        out.append((f"doc{i:04d}", [
            ("json", json.dumps(meta, sort_keys=True).encode()),
            ("tokens.npy", npy_bytes(tokens)),
            ("state.npy", npy_bytes(rng.standard_normal((2, 3)).astype(np.float16))),
        ]))
    out.append(("every-dtype", [
        ("f4.npy", npy_bytes(np.array([[1.5, -2.0], [np.inf, 3e-8]], dtype=np.float32))),
        ("f8.npy", npy_bytes(np.array([1e300, -1e-300, 0.1], dtype=np.float64))),
        ("i8.npy", npy_bytes(np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64))),
        ("u1.npy", npy_bytes(np.arange(5, dtype=np.uint8))),
        ("b1.npy", npy_bytes(np.array([True, False, True]))),
        ("scalar.npy", npy_bytes(np.float32(42.0))),
        ("empty.npy", npy_bytes(np.zeros((0, 4), dtype=np.int32))),
        ("txt", "plain text member\n".encode()),
    ]))
    # A key longer than 100 bytes needs a PAX path record (or a GNU long-name member).
    out.append(("k" * 120, [("json", b'{"long": true}')]))
    return out


def write_shard(name, tar_format):
    tar_path = os.path.join(HERE, name[: -len(".zst")])
    with tarfile.open(tar_path, "w", format=tar_format) as tar:
        directory = tarfile.TarInfo("somedir")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
        for key, members in samples():
            for ext, data in members:
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                info.mtime = 1700000000
                tar.addfile(info, io.BytesIO(data))
    subprocess.run(["zstd", "-q", "-f", "--rm", "-19", tar_path, "-o", os.path.join(HERE, name)], check=True)


def describe():
    listing = []
    for key, members in samples():
        entry = {"key": key, "members": []}
        for ext, data in members:
            member = {"ext": ext, "sha256": hashlib.sha256(data).hexdigest()}
            if ext.endswith(".npy"):
                array = np.load(io.BytesIO(data))
                member["dtype"] = array.dtype.name
                member["shape"] = list(array.shape)
                member["values"] = [v if np.isfinite(v) else str(v) for v in array.astype(np.float64).ravel().tolist()]
            entry["members"].append(member)
        listing.append(entry)
    return listing


def main():
    write_shard("python-pax.tar.zst", tarfile.PAX_FORMAT)
    write_shard("python-gnu.tar.zst", tarfile.GNU_FORMAT)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"shards": ["python-pax.tar.zst", "python-gnu.tar.zst"], "samples": describe()}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
