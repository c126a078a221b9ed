"""Reference fixtures for LetheModel, made by transformers' MambaForCausalLM, FalconMambaForCausalLM and
Mamba2ForCausalLM (torch slow path, float32).

Run by hand:  /work/venv/bin/python Tests/Fixtures/model/make_model_fixtures.py [mamba] [falcon] [mamba2]
(no names: all three families; a family rewrites only its own folders)
(it needs torch + transformers + safetensors; mamba_ssm and causal_conv1d must NOT be installed, so that
transformers runs its reference torch code). The tests read only the files written here.

Models (random weights, perturbed from their init so that no A_log, D, dt bias or norm weight is trivial):
  even/            hidden 48, 3 layers, state 16, conv 4, dt rank 8, vocab 192, tied lm_head, model.safetensors (F32)
  even-f16/        the same model stored as F16, even-bf16/ as BF16 (transformers save_pretrained)
  odd-sharded/     hidden 37, 2 layers, state 5, conv 3, dt rank 3, vocab 101, untied lm_head, sharded + index
  odd-decoder/     same sizes as odd-sharded, other weights, tied: the auto-encoder's decoder
  orig/            state-spaces layout: d_model 24, 2 layers, d_state 4, d_conv 2, dt_rank 5, vocab 50 padded to 56,
                   pytorch_model.bin (torch.save of the state dict, original tensor names) + original config.json
  broken/          pytorch_model.bin variants the loader must reject (missing tensor, legacy non-zip format)
  falcon/          Falcon-Mamba (FalconMambaForCausalLM: weightless RMSNorm of dt, B, C): hidden 29, 2 layers,
                   state 6, conv 3, dt rank 4, vocab 83, mixer_rms_eps 0.01 (large, so that reading it matters),
                   untied lm_head
  falcon-decoder/  same sizes, other weights, tied
  mamba2/          Mamba-2 (Mamba2ForCausalLM): hidden 24, 2 layers, 6 heads of 8, 2 groups, state 5, conv 3,
                   vocab 71, chunk_size 8 (so that lengths 1..40 run transformers' chunked scan over one chunk and
                   several, padded or not), untied lm_head
  mamba2-odd/      hidden 21, 3 layers, 7 heads of 6, 1 group, state 4, conv 4, vocab 53, chunk_size 5,
                   time_step_limit (0.01, 0.5) (dt clamped), tied, eos_token_id 0
  mamba2-decoder/  mamba2-odd's sizes, other weights, no time_step_limit (transformers' one-token step ignores it)
  mamba2-orig/     mamba2/ in the original state-spaces layout (ssm_cfg.layer Mamba2, pytorch_model.bin)

Expected outputs in expected/<model>/ (float32 .npy; tokens int32):
  len<L>.tokens.npy [B, L]; len<L>.logits.npy [B, L, V]; len<L>.ssm.npy [B, n_layer, d_inner, d_state];
  len<L>.conv.npy [B, n_layer, d_inner, conv_kernel]   (full forward from an empty cache, transformers' cache)
  even-f16/, even-bf16/: the same for one chunk, computed from the F16/BF16-rounded weights.
  decode/: odd-sharded encodes prefix.tokens [B, P]; odd-decoder then decodes greedily from that cache with
  transformers' own one-token cached steps, first input eos (0): fed.tokens [B, S] (the inputs of each step),
  fed.logits [B, S, V], final.ssm / final.conv (decoder cache after the last step).
  falcon/: as even/ for the falcon model; falcon-decode/: as decode/, falcon encoding and falcon-decoder decoding.
  mamba2/, mamba2-odd/: as even/ (ssm [B, n_layer, heads, head_dim, state], conv [B, n_layer, DI + 2·G·N, K]);
  mamba2-continue/: as continue/ for mamba2, plus batched.logits [B, S, V]: transformers' multi-token forward over the
  prefix's cache (its chunked scan takes the initial state, unlike Mamba-1's); mamba2-decode/: as decode/,
  mamba2-odd encoding and mamba2-decoder decoding.
  continue/: the even model reads prefix.tokens [B, P], then steps through next.tokens [B, S] one token at a time
  (transformers cached decoding): next.logits [B, S, V], final.ssm, final.conv.
"""
import collections
import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
from transformers import (FalconMambaConfig, FalconMambaForCausalLM, Mamba2Config, Mamba2ForCausalLM, MambaConfig,
                          MambaForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")
torch.set_num_threads(1)

EVEN = dict(hidden_size=48, num_hidden_layers=3, state_size=16, conv_kernel=4, time_step_rank=8, vocab_size=192,
            expand=2, layer_norm_epsilon=1e-5, tie_word_embeddings=True)
ODD = dict(hidden_size=37, num_hidden_layers=2, state_size=5, conv_kernel=3, time_step_rank=3, vocab_size=101,
           expand=2, layer_norm_epsilon=1e-6, tie_word_embeddings=False)
ODD_DECODER = dict(ODD, tie_word_embeddings=True)
FALCON = dict(hidden_size=29, num_hidden_layers=2, state_size=6, conv_kernel=3, time_step_rank=4, vocab_size=83,
              expand=2, layer_norm_epsilon=1e-5, mixer_rms_eps=0.01, tie_word_embeddings=False)
FALCON_DECODER = dict(FALCON, tie_word_embeddings=True)
MAMBA2 = dict(hidden_size=24, num_hidden_layers=2, num_heads=6, head_dim=8, n_groups=2, state_size=5, conv_kernel=3,
              expand=2, vocab_size=71, layer_norm_epsilon=1e-5, chunk_size=8, tie_word_embeddings=False, eos_token_id=0)
MAMBA2_ODD = dict(hidden_size=21, num_hidden_layers=3, num_heads=7, head_dim=6, n_groups=1, state_size=4, conv_kernel=4,
                  expand=2, vocab_size=53, layer_norm_epsilon=1e-6, chunk_size=5, time_step_limit=(0.01, 0.5),
                  tie_word_embeddings=True, eos_token_id=0)
# transformers' one-token step (mamba2_selective_state_update, as mamba_ssm's Mamba2.step) does not clamp dt to
# time_step_limit, its chunked scan does: cached decoding agrees with the full forward only without a limit.
MAMBA2_DECODER = dict(MAMBA2_ODD, time_step_limit=(0.0, float("inf")))
ORIG_VOCAB, ORIG_PADDED_VOCAB = 50, 56
ORIG = dict(hidden_size=24, num_hidden_layers=2, state_size=4, conv_kernel=2, time_step_rank=5,
            vocab_size=ORIG_PADDED_VOCAB, expand=2, layer_norm_epsilon=1e-5, tie_word_embeddings=True)


def build(kwargs, seed):
    torch.manual_seed(seed)
    if "mixer_rms_eps" in kwargs:
        model = FalconMambaForCausalLM(FalconMambaConfig(**kwargs)).eval()
    elif "num_heads" in kwargs:
        model = Mamba2ForCausalLM(Mamba2Config(**kwargs)).eval()
    else:
        model = MambaForCausalLM(MambaConfig(**kwargs)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log"):
                p.add_(0.5 * torch.randn_like(p))
            elif name.endswith(".D"):
                p.copy_(1 + 0.5 * torch.randn_like(p))
            elif name.endswith("dt_proj.bias") or name.endswith("dt_bias"):
                p.add_(0.7 * torch.randn_like(p))
            elif name.endswith("norm.weight") or name.endswith("norm_f.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("conv1d.bias"):
                p.copy_(0.3 * torch.randn_like(p))
    return model


def states(cache, n_layer):
    """[B, n_layer, d_inner, d_state] and [B, n_layer, d_inner, conv_kernel] from a transformers cache."""
    ssm = torch.stack([cache.get_recurrent_state(i) for i in range(n_layer)], dim=1)
    conv = torch.stack([cache.get_conv_state(i) for i in range(n_layer)], dim=1)
    return ssm.float().numpy(), conv.float().numpy()


def save(folder, name, array):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, name + ".npy"), array)


def dump_chunks(model, folder, lengths, batch, seed):
    gen = torch.Generator().manual_seed(seed)
    n_layer, vocab = model.config.num_hidden_layers, model.config.vocab_size
    for length in lengths:
        tokens = torch.randint(0, vocab, (batch, length), generator=gen)
        with torch.no_grad():
            out = model(tokens, use_cache=True)
        ssm, conv = states(out.cache, n_layer)
        save(folder, f"len{length}.tokens", tokens.numpy().astype(np.int32))
        save(folder, f"len{length}.logits", out.logits.float().numpy())
        save(folder, f"len{length}.ssm", ssm)
        save(folder, f"len{length}.conv", conv)


def step(model, token_column, cache):
    with torch.no_grad():
        return model(token_column, cache=cache, use_cache=True).logits[:, -1].float()


def dump_continue(model, folder, seed):
    """Prefix by a full forward, then transformers' one-token cached steps (its path that uses both states)."""
    gen = torch.Generator().manual_seed(seed)
    vocab, n_layer = model.config.vocab_size, model.config.num_hidden_layers
    prefix = torch.randint(0, vocab, (2, 5), generator=gen)
    following = torch.randint(0, vocab, (2, 6), generator=gen)
    with torch.no_grad():
        cache = model(prefix, use_cache=True).cache
    logits = torch.stack([step(model, following[:, i:i + 1], cache) for i in range(following.shape[1])], dim=1)
    ssm, conv = states(cache, n_layer)
    save(folder, "prefix.tokens", prefix.numpy().astype(np.int32))
    save(folder, "next.tokens", following.numpy().astype(np.int32))
    save(folder, "next.logits", logits.numpy())
    save(folder, "final.ssm", ssm)
    save(folder, "final.conv", conv)

    # Mamba-1: transformers' multi-token forward over a non-empty cache restarts its ssm state from zero (its slow
    # path has no initial state); record that here so nobody uses it as an oracle for "forward from a cache".
    # Mamba-2's chunked scan takes the initial state: there it is an oracle, saved.
    with torch.no_grad():
        cache2 = model(prefix, use_cache=True).cache
        batched = model(following, cache=cache2, use_cache=True).logits.float()
    gap = (batched - logits).abs().max().item()
    print(f"{type(model).__name__}: multi-token forward over a cache vs its own steps: max |diff| = {gap:.3g}")
    if isinstance(model, Mamba2ForCausalLM):
        save(folder, "batched.logits", batched.numpy())


def dump_decode(encoder, decoder, folder, seed, steps=12):
    gen = torch.Generator().manual_seed(seed)
    vocab, n_layer = encoder.config.vocab_size, encoder.config.num_hidden_layers
    prefix = torch.randint(1, vocab, (2, 7), generator=gen)
    with torch.no_grad():
        cache = encoder(prefix, use_cache=True).cache
    token = torch.zeros(2, 1, dtype=torch.long)  # eos starts the reconstruction
    fed, logits = [], []
    for _ in range(steps):
        out = step(decoder, token, cache)
        fed.append(token[:, 0])
        logits.append(out)
        token = out.argmax(dim=-1, keepdim=True)
    ssm, conv = states(cache, n_layer)
    save(folder, "prefix.tokens", prefix.numpy().astype(np.int32))
    save(folder, "fed.tokens", torch.stack(fed, dim=1).numpy().astype(np.int32))
    save(folder, "fed.logits", torch.stack(logits, dim=1).numpy())
    save(folder, "final.ssm", ssm)
    save(folder, "final.conv", conv)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def original_config(path):
    config = {"d_model": ORIG["hidden_size"], "d_intermediate": 0, "n_layer": ORIG["num_hidden_layers"],
              "vocab_size": ORIG_VOCAB,
              "ssm_cfg": {"layer": "Mamba1", "d_state": ORIG["state_size"], "d_conv": ORIG["conv_kernel"],
                          "expand": 2, "dt_rank": ORIG["time_step_rank"]},
              "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
              "fused_add_norm": True, "pad_vocab_size_multiple": 8, "tie_embeddings": True}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def original_state_dict(model, drop=None):
    """The state dict as mamba_ssm's MambaLMHeadModel saves it: backbone.embedding.weight and a tied lm_head."""
    sd = model.state_dict()
    out = collections.OrderedDict()
    for k, v in sd.items():
        if k == "lm_head.weight":
            continue
        out[k.replace("backbone.embeddings.", "backbone.embedding.")] = v
    out["lm_head.weight"] = out["backbone.embedding.weight"]  # tied: one storage, two names
    out._metadata = collections.OrderedDict((k.replace("embeddings", "embedding"), v) for k, v in sd._metadata.items())
    if drop:
        del out[drop]
    return out


def make_mamba():
    for name in ["even", "even-f16", "even-bf16", "continue", "odd-sharded", "decode", "orig"]:
        shutil.rmtree(os.path.join(EXPECTED, name), ignore_errors=True)
    even = build(EVEN, 10)
    even.save_pretrained(fresh(os.path.join(HERE, "even")))
    dump_chunks(even, os.path.join(EXPECTED, "even"), [1, 3, 4, 9, 40], 2, 11)
    dump_continue(even, os.path.join(EXPECTED, "continue"), 12)
    for dtype, name in [(torch.float16, "even-f16"), (torch.bfloat16, "even-bf16")]:
        copy.deepcopy(even).to(dtype).save_pretrained(fresh(os.path.join(HERE, name)))
        reference = MambaForCausalLM(MambaConfig(**EVEN)).eval()
        reference.load_state_dict({k: v.to(dtype).float() for k, v in even.state_dict().items()}, strict=False)
        reference.tie_weights()
        dump_chunks(reference, os.path.join(EXPECTED, name), [6], 1, 13)

    odd = build(ODD, 20)
    odd.save_pretrained(fresh(os.path.join(HERE, "odd-sharded")), max_shard_size="50KB")
    dump_chunks(odd, os.path.join(EXPECTED, "odd-sharded"), [1, 2, 3, 5, 13, 40], 3, 21)
    decoder = build(ODD_DECODER, 30)
    decoder.save_pretrained(fresh(os.path.join(HERE, "odd-decoder")))
    dump_decode(odd, decoder, os.path.join(EXPECTED, "decode"), 31)

    orig = build(ORIG, 40)
    path = fresh(os.path.join(HERE, "orig"))
    torch.save(original_state_dict(orig), os.path.join(path, "pytorch_model.bin"))
    original_config(path)
    dump_chunks(orig, os.path.join(EXPECTED, "orig"), [1, 2, 6, 17], 2, 41)

    broken = fresh(os.path.join(HERE, "broken"))
    missing = os.path.join(broken, "orig-missing-tensor")
    os.makedirs(missing)
    torch.save(original_state_dict(orig, drop="backbone.layers.1.mixer.x_proj.weight"),
               os.path.join(missing, "pytorch_model.bin"))
    original_config(missing)
    legacy = os.path.join(broken, "orig-legacy-format")
    os.makedirs(legacy)
    torch.save(original_state_dict(orig), os.path.join(legacy, "pytorch_model.bin"),
               _use_new_zipfile_serialization=False)
    original_config(legacy)


def make_falcon():
    for name in ["falcon", "falcon-decode"]:
        shutil.rmtree(os.path.join(EXPECTED, name), ignore_errors=True)
    falcon = build(FALCON, 50)
    falcon.save_pretrained(fresh(os.path.join(HERE, "falcon")))
    dump_chunks(falcon, os.path.join(EXPECTED, "falcon"), [1, 2, 5, 40], 3, 51)
    falcon_decoder = build(FALCON_DECODER, 60)
    falcon_decoder.save_pretrained(fresh(os.path.join(HERE, "falcon-decoder")))
    dump_decode(falcon, falcon_decoder, os.path.join(EXPECTED, "falcon-decode"), 61)


def make_mamba2():
    for name in ["mamba2", "mamba2-continue", "mamba2-odd", "mamba2-decode"]:
        shutil.rmtree(os.path.join(EXPECTED, name), ignore_errors=True)
    mamba2 = build(MAMBA2, 70)
    mamba2.save_pretrained(fresh(os.path.join(HERE, "mamba2")))
    dump_chunks(mamba2, os.path.join(EXPECTED, "mamba2"), [1, 2, 7, 8, 9, 40], 3, 71)
    dump_continue(mamba2, os.path.join(EXPECTED, "mamba2-continue"), 72)
    mamba2_odd = build(MAMBA2_ODD, 80)
    mamba2_odd.save_pretrained(fresh(os.path.join(HERE, "mamba2-odd")))
    dump_chunks(mamba2_odd, os.path.join(EXPECTED, "mamba2-odd"), [1, 3, 5, 6, 13], 2, 81)
    # The same model in the original state-spaces layout: ssm_cfg.layer Mamba2, pytorch_model.bin with
    # backbone.embedding.weight (it reads back as mamba2/, so expected/mamba2/ is its oracle too)
    path = fresh(os.path.join(HERE, "mamba2-orig"))
    state = collections.OrderedDict((k.replace("backbone.embeddings.", "backbone.embedding."), v)
                                    for k, v in mamba2.state_dict().items())
    torch.save(state, os.path.join(path, "pytorch_model.bin"))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"d_model": MAMBA2["hidden_size"], "d_intermediate": 0, "n_layer": MAMBA2["num_hidden_layers"],
                   "vocab_size": MAMBA2["vocab_size"],
                   "ssm_cfg": {"layer": "Mamba2", "d_state": MAMBA2["state_size"], "d_conv": MAMBA2["conv_kernel"],
                               "expand": 2, "headdim": MAMBA2["head_dim"], "ngroups": MAMBA2["n_groups"],
                               "chunk_size": MAMBA2["chunk_size"]},
                   "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
                   "fused_add_norm": True, "pad_vocab_size_multiple": 1, "tie_embeddings": False}, f, indent=2)
    mamba2_decoder = build(MAMBA2_DECODER, 90)
    mamba2_decoder.save_pretrained(fresh(os.path.join(HERE, "mamba2-decoder")))
    dump_decode(mamba2_odd, mamba2_decoder, os.path.join(EXPECTED, "mamba2-decode"), 91)


def main():
    families = {"mamba": make_mamba, "falcon": make_falcon, "mamba2": make_mamba2}
    for name in sys.argv[1:] or families:
        families[name]()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs)
    print(f"fixtures: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
