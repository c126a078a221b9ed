"""Baseline for `lethe-bench reconstruct`: the reference's greedy reconstruction loop (ouroboros'
decoder_utils.reconstruct) on transformers' MambaForCausalLM, CPU float32, with the same number of threads.

The mamba-130m checkpoint with random weights (made by encode.py if missing) is both encoder and decoder. The
chunks are the Swift side's (a fixed formula). Each batch is encoded first (not timed); then, from the encoder's
cache: first input eos, one cached step at a time, argmax; a chunk stops at its first eos or after length + 8
tokens; the batch runs until every chunk has stopped (finished chunks keep stepping, masked, as in the reference).
Tokens counted: every chunk's steps until it stopped (a stopping eos included). Prints one JSON line.
"""
import importlib.util
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# This folder holds tokenize.py (the tokenize area's baseline), which would shadow the standard library's tokenize
# module that torch imports: take the folder off the import path, and load encode.py by its file name.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

# OpenMP threads that sleep instead of spinning at barriers (as the train baseline): on a machine shared with other
# work, spinning threads slow PyTorch down; this keeps the comparison about the code, in PyTorch's favour.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after OMP_WAIT_POLICY)

_spec = importlib.util.spec_from_file_location("encode_baseline", os.path.join(HERE, "encode.py"))
encode_baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(encode_baseline)
checkpoint = encode_baseline.checkpoint  # the shared random mamba-130m checkpoint

EOS = 0


def main():
    args = encode_baseline.chunk_arguments(__doc__)
    torch.set_num_threads(args.threads)

    model = checkpoint(args.model)
    vocab = model.config.vocab_size
    tokens = torch.tensor([[(i * 131 + t * 7919) % (vocab - 1) + 1 for t in range(args.length)]
                           for i in range(args.chunks)])
    max_new = args.length + 8

    def reconstruct(batch):
        """Returns (steps until each chunk stopped, chunks stopped at eos, seconds of decoding)."""
        with torch.no_grad():
            cache = model(batch, use_cache=True, logits_to_keep=1).cache
            start = time.perf_counter()
            token = torch.full((batch.shape[0], 1), EOS, dtype=torch.long)
            finished = torch.zeros(batch.shape[0], dtype=torch.bool)
            steps = torch.zeros(batch.shape[0], dtype=torch.long)
            for _ in range(max_new):
                logits = model(token, cache=cache, use_cache=True).logits[:, -1]
                token = logits.argmax(dim=-1, keepdim=True)
                steps += (~finished).long()
                finished |= token[:, 0] == EOS
                if finished.all():
                    break
            return int(steps.sum()), int(finished.sum()), time.perf_counter() - start

    times = []
    for _ in range(args.repeats):
        total, seconds, eos = 0, 0.0, 0
        for begin in range(0, args.chunks, args.batch_size):
            steps, stopped, spent = reconstruct(tokens[begin:begin + args.batch_size])
            total, eos, seconds = total + steps, eos + stopped, seconds + spent
        times.append(seconds)
    best = min(times)
    print(json.dumps({
        "area": "reconstruct", "impl": "transformers", "chunks": args.chunks, "length": args.length,
        "batch_size": args.batch_size, "threads": args.threads, "seconds": best, "all_seconds": times,
        "tokens": total, "tokens_per_s": total / best, "check": f"{total} tokens", "stopped_at_eos": eos,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
