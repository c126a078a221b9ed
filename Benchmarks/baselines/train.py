"""Baseline for `lethe-bench train`: the auto-encoder's training steps in PyTorch on CPU, with the same threads.

The decoder is the reference's construction (ouroboros' MambaDecoderMixer with encoder_cache_params, sequential
scan) written on transformers' Mamba modules, exactly as Tests/Fixtures/training/make_training_fixtures.py builds
it; each step: forward over [eos] + x + [eos] from the encoder's cache, mean cross-entropy, backward,
clip_grad_norm_, torch.optim.AdamW (with the no-decay groups) and a transformers schedule. The encoder caches are
computed once beforehand with transformers' forward (the training stage reads them from shards). One warm-up
step, then --repeats timed steps; "seconds" is the fastest step. The checkpoint is
the mamba-130m architecture with random weights (created by Benchmarks/baselines/encode.py's recipe if missing),
or the mamba2-130m one: a Mamba-2 decoder runs transformers' own Mamba2ForCausalLM forward from a copy of the
encoder's cache object (its chunked scan starts from the cache's state: the same construction, checked equal by
make_training_fixtures.py). Prints one JSON line.
"""
import argparse
import copy
import importlib.util
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Tests", "Fixtures", "training"))

# OpenMP threads that sleep instead of spinning at barriers: on a machine shared with other work, spinning threads
# made PyTorch's steps 3-4x slower (measured); this keeps the comparison about the code, in PyTorch's favour.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after OMP_WAIT_POLICY)
import torch.nn.functional as F  # noqa: E402
from transformers import Mamba2ForCausalLM, get_scheduler  # noqa: E402

from make_training_fixtures import autoencoder_loss, encoder_caches, next_token_loss, no_decay  # noqa: E402

torch.use_deterministic_algorithms(False)  # the fixture module turns it on; the baseline runs as users do

_spec = importlib.util.spec_from_file_location("encode_baseline", os.path.join(HERE, "encode.py"))
encode_baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(encode_baseline)
checkpoint = encode_baseline.checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=".build/bench-cache/mamba-130m-random")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps; the fastest is reported")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encode_baseline.stop_above_memory({"area": "train", "impl": "pytorch", "objective": "autoencoder",
                                       "batch_size": args.batch_size, "length": args.length, "threads": args.threads})

    decoder = checkpoint(args.model)
    encoder = checkpoint(args.model)
    decoder.train()
    torch.manual_seed(0)
    tokens = torch.randint(1, decoder.config.vocab_size, (args.batch_size, args.length))
    if isinstance(decoder, Mamba2ForCausalLM):
        with torch.no_grad():
            cache = encoder(input_ids=tokens, use_cache=True).cache
        ids = F.pad(tokens, (1, 1), value=decoder.config.eos_token_id)

        def loss_of_batch():
            return next_token_loss(decoder(input_ids=ids, cache=copy.deepcopy(cache)).logits, ids)
    else:
        conv, ssm, _ = encoder_caches(encoder, tokens)

        def loss_of_batch():
            return autoencoder_loss(decoder, tokens, conv, ssm)
    del encoder

    params = list(decoder.named_parameters())
    groups = [{"params": [p for n, p in params if not no_decay(n)], "weight_decay": 0.01},
              {"params": [p for n, p in params if no_decay(n)], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=1, num_training_steps=args.repeats + 1)

    def step():
        optimizer.zero_grad()
        loss = loss_of_batch()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        return loss.item()

    step()  # warm-up (allocates AdamW's moments), as the Swift benchmark does
    times, losses = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t)
    seconds = min(times)  # the fastest step, as lethe-bench train reports
    print(json.dumps({
        "area": "train", "impl": "pytorch", "objective": "autoencoder", "batch_size": args.batch_size,
        "length": args.length, "steps": args.repeats, "threads": args.threads, "seconds": seconds,
        "step_seconds": times, "losses": losses, "tokens_per_s": args.batch_size * args.length / seconds,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
