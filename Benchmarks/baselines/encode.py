"""Baseline for `lethe-bench encode`: transformers' own CPU forward of MambaForCausalLM (torch slow path, float32)
encoding chunks to their final cache, with the same number of threads.

Creates the benchmark checkpoint if it is missing: the mamba-130m architecture (hidden 768, 24 layers, state 16,
conv 4, dt rank 48, vocab 50280; 129,135,360 parameters) with random weights from transformers' own init,
saved with save_pretrained (safetensors, float32); for a folder named mamba2-130m-random, the mamba2-130m
architecture (Mamba2ForCausalLM: hidden 768, 24 layers, 24 heads of 64, 1 group, state 128, conv 4, vocab 50288,
tied) the same way. Prints one JSON line.
"""
import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# This folder holds tokenize.py (the tokenize area's baseline), which would shadow the standard library's tokenize
# module that torch imports: take the folder off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, Mamba2Config, Mamba2ForCausalLM, MambaConfig, MambaForCausalLM  # noqa: E402

MAMBA_130M = dict(hidden_size=768, num_hidden_layers=24, state_size=16, conv_kernel=4, time_step_rank=48,
                  vocab_size=50280, expand=2, layer_norm_epsilon=1e-5, tie_word_embeddings=True)


MAMBA2_130M = dict(hidden_size=768, num_hidden_layers=24, num_heads=24, head_dim=64, n_groups=1, state_size=128,
                   conv_kernel=4, expand=2, vocab_size=50288, layer_norm_epsilon=1e-5, chunk_size=256,
                   tie_word_embeddings=True, eos_token_id=0)


def checkpoint(folder):
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        torch.manual_seed(0)
        if os.path.basename(os.path.normpath(folder)) == "mamba2-130m-random":
            model = Mamba2ForCausalLM(Mamba2Config(**MAMBA2_130M))
        else:
            model = MambaForCausalLM(MambaConfig(**MAMBA_130M))
        model.save_pretrained(folder)
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def stop_above_memory(record):
    """Watches this process's resident memory; when it passes 90% of the machine's memory less 1 GB, prints `record`
    with "out_of_memory_gb" (the size reached) and "memory_limit_gb" as its one JSON line and ends the process: a
    baseline that does not fit reports so instead of bringing the machine down."""
    import threading

    def kilobytes(path, key):
        with open(path) as lines:
            return int(next(line for line in lines if line.startswith(key)).split()[1])

    limit = 0.9 * kilobytes("/proc/meminfo", "MemTotal:") - 1024 * 1024

    def watch():
        while True:
            resident = kilobytes("/proc/self/status", "VmRSS:")
            if resident > limit:
                print(json.dumps(dict(record, out_of_memory_gb=round(resident / 1024 ** 2, 1),
                                      memory_limit_gb=round(limit / 1024 ** 2, 1)), sort_keys=True), flush=True)
                os._exit(0)
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()


def chunk_arguments(description):
    """The options of the chunk-batch model baselines (encode, reconstruct), as lethe-bench takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default=".build/bench-cache/mamba-130m-random")
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions; the best is reported")
    return parser.parse_args()


def main():
    args = chunk_arguments(__doc__)
    torch.set_num_threads(args.threads)

    model = checkpoint(args.model)
    parameters = sum(p.numel() for p in model.parameters())
    tokens = torch.randint(0, model.config.vocab_size, (args.chunks, args.length))

    def encode_all():
        with torch.no_grad():
            for start in range(0, args.chunks, args.batch_size):
                out = model(tokens[start:start + args.batch_size], use_cache=True, logits_to_keep=1)
                out.cache.get_recurrent_state(model.config.num_hidden_layers - 1)

    with torch.no_grad():  # warm-up, as the Swift benchmark does
        model(tokens[:args.batch_size], use_cache=True, logits_to_keep=1)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        encode_all()
        times.append(time.perf_counter() - t)
    best = min(times)
    print(json.dumps({
        "area": "encode", "impl": "transformers", "chunks": args.chunks, "length": args.length,
        "batch_size": args.batch_size, "threads": args.threads, "parameters": parameters, "seconds": best,
        "all_seconds": times, "tokens_per_s": args.chunks * args.length / best,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
