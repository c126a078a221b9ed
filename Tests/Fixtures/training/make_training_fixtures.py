"""Reference values for LetheTraining, made with PyTorch and transformers' Mamba modules.

Run by hand (CI only reads what this writes):
    /work/venv/bin/python Tests/Fixtures/training/make_training_fixtures.py [NAME ...]
(no names: every fixture and optim.json; names: only those, e.g. `falcon`)

For each small random config (the second has odd sizes and a chunk shorter than the conv kernel; the third an lm_head
not tied to the embeddings, no clipping and a constant schedule; `falcon` is a Falcon-Mamba, FalconMambaForCausalLM,
whose mixer normalises dt, B and C; `mamba2` and `mamba2-odd` are Mamba-2s, Mamba2ForCausalLM: 6 heads in 2 groups
with dt clamped by a time_step_limit, and 5 heads in 1 group, odd sizes, each with a chunk_size shorter than its
sequences, so that the LM gradients come from transformers' chunked scan) it writes
Tests/Fixtures/training/<name>/:
    encoder/config.json, encoder/model.safetensors   the frozen encoder (MambaForCausalLM.save_pretrained)
    decoder/config.json, decoder/model.safetensors   the decoder's initial weights (different from the encoder's)
    tokens.npy              int32 [B, L]                the chunks
    encoder_ssm.npy         float32 [B, n_layer, d_inner, d_state]   the encoder's final ssm state per chunk
    encoder_conv.npy        float32 [B, n_layer, d_inner, conv_kernel] its conv state (transformers' convention:
                            the last conv_kernel pre-conv inputs, zero-padded on the left for short chunks)
    autoencoder_grads.safetensors   d(auto-encoder loss)/d(every decoder parameter), by HF name
    lm_grads.safetensors            d(LM loss)/d(every decoder parameter), by HF name
    autoencoder_state_grads.safetensors   d(auto-encoder loss)/d(encoder states): "ssm" and "conv", shaped as the
                            two .npy files above (make_state_gradients; `state-gradients` writes them alone)
    adamw_final.safetensors         decoder parameters after the 5 AdamW steps
    expected.json           losses, the AdamW run's settings and its per-step loss / lr / grad norm
Tests/Fixtures/training/ssd_scan.safetensors and ssd_scan.json: Mamba-2's scan alone and the gradient of each of its
inputs, its initial state's included, by transformers' chunked scan (make_ssd_scan_fixture);
and Tests/Fixtures/training/optim.json: transformers' schedules, torch.optim.AdamW on two small tensors (one
decayed, one not) and torch.nn.utils.clip_grad_norm_.

The auto-encoder objective is the reference's construction (github.com/dataminr-ai/ouroboros,
src/ouroboros/models/modeling_mamba_decoder.py, MambaDecoderMixer with encoder_cache_params), written here on
transformers' Mamba modules: decoder input [eos] + x + [eos] (eos: the decoder config's eos_token_id, 0 for Mamba,
2 for these Mamba2Configs); in every layer the conv1d sees the encoder's conv state as the inputs before the first
token and the scan starts from the encoder's ssm state (decoder_mixer2 writes the same for Mamba-2's mixer); loss
= mean cross-entropy over the B x (L+1) next-token predictions. The LM objective is transformers'
MambaForCausalLM(input_ids=x, labels=x) from a zero state.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
import sys

from transformers import (FalconMambaConfig, FalconMambaForCausalLM, Mamba2Config, Mamba2ForCausalLM, MambaConfig,
                          MambaForCausalLM, get_scheduler)
from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer

HERE = os.path.dirname(os.path.abspath(__file__))
EOS = 0  # GPT-NeoX's <|endoftext|>: the reconstruct fixtures' eos; the auto-encoder reads its decoder config's

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def decoder_mixer(mixer, x, conv_state, ssm_state):
    """MambaDecoderMixer.forward with encoder_cache_params (sequential scan branch), on a transformers MambaMixer.

    x [B, T, H]; conv_state [B, d_inner, K]; ssm_state [B, d_inner, N]."""
    T = x.shape[1]
    K = mixer.conv_kernel_size
    projected = mixer.in_proj(x).transpose(1, 2)  # [B, 2*d_inner, T]
    hidden, gate = projected.chunk(2, dim=1)
    hidden = torch.cat((conv_state, hidden), dim=-1)
    hidden = mixer.act(mixer.conv1d(hidden)[..., K:K + T])  # [B, d_inner, T]
    time_step, B, C = torch.split(mixer.x_proj(hidden.transpose(1, 2)),
                                  [mixer.time_step_rank, mixer.ssm_state_size, mixer.ssm_state_size], dim=-1)
    if hasattr(mixer, "b_layernorm"):  # Falcon-Mamba's weightless norms
        time_step, B, C = mixer.dt_layernorm(time_step), mixer.b_layernorm(B), mixer.c_layernorm(C)
    dt = F.softplus(mixer.dt_proj(time_step)).transpose(1, 2)  # [B, d_inner, T]
    A = -torch.exp(mixer.A_log)
    dA = torch.exp(A[None, :, None, :] * dt[:, :, :, None])
    dBu = dt[:, :, :, None] * B[:, None, :, :] * hidden[:, :, :, None]
    state = ssm_state
    outputs = []
    for t in range(T):
        state = dA[:, :, t, :] * state + dBu[:, :, t, :]
        outputs.append(torch.matmul(state, C[:, t, :].unsqueeze(-1))[:, :, 0])
    y = torch.stack(outputs, dim=-1) + hidden * mixer.D[None, :, None]
    y = y * mixer.act(gate)
    return mixer.out_proj(y.transpose(1, 2))


def decoder_mixer2(mixer, x, conv_state, ssm_state):
    """The same construction for a Mamba-2 mixer (transformers' Mamba2Mixer.forward with the recurrence written
    out): the conv sees the encoder's conv state as the inputs before the first token, the scan starts from its
    ssm state. x [B, T, H]; conv_state [B, DI + 2GN, K]; ssm_state [B, heads, head_dim, N]."""
    b, T = x.shape[:2]
    K, DI, G, N = mixer.conv_kernel_size, mixer.intermediate_size, mixer.n_groups, mixer.ssm_state_size
    H, P = mixer.num_heads, mixer.head_dim
    gate, xBC, dt = mixer.in_proj(x).split([DI, mixer.conv_dim, H], dim=-1)
    xBC = torch.cat((conv_state, xBC.transpose(1, 2)), dim=-1)
    xBC = mixer.act(mixer.conv1d(xBC)[..., K:K + T]).transpose(1, 2)  # [B, T, DI + 2GN]
    xs, B, C = xBC.split([DI, G * N, G * N], dim=-1)
    xs = xs.reshape(b, T, H, P)
    B = B.reshape(b, T, G, N).repeat_interleave(H // G, dim=2)
    C = C.reshape(b, T, G, N).repeat_interleave(H // G, dim=2)
    dt = torch.clamp(F.softplus(dt + mixer.dt_bias), *mixer.time_step_limit)  # [B, T, H]
    A = -torch.exp(mixer.A_log)
    state, outputs = ssm_state, []
    for t in range(T):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]
        state = state * decay + (dt[:, t, :, None] * B[:, t])[:, :, None, :] * xs[:, t, :, :, None]
        outputs.append((state * C[:, t, :, None, :]).sum(-1) + xs[:, t] * mixer.D[:, None])
    y = torch.stack(outputs, dim=1).reshape(b, T, DI)
    return mixer.out_proj(mixer.norm(y, gate))


def decoder_logits(model, ids, conv_states, ssm_states):
    """The decoder stack from per-layer initial caches (lists of [B, d_inner, K] / [B, d_inner, N]; Mamba-2's
    [B, DI + 2GN, K] / [B, heads, head_dim, N])."""
    h = model.backbone.embeddings(ids)
    for i, block in enumerate(model.backbone.layers):
        mixer = decoder_mixer2 if isinstance(block.mixer, Mamba2Mixer) else decoder_mixer
        h = h + mixer(block.mixer, block.norm(h), conv_states[i], ssm_states[i])
    return model.lm_head(model.backbone.norm_f(h))


def next_token_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def encoder_caches(encoder, ids):
    """The final cache of transformers' own forward: per layer conv [B, d_inner, K] and ssm [B, d_inner, N]."""
    with torch.no_grad():
        out = encoder(input_ids=ids, use_cache=True)
    n = encoder.config.num_hidden_layers
    conv = [out.cache.get_conv_state(i).clone() for i in range(n)]
    ssm = [out.cache.get_recurrent_state(i).clone() for i in range(n)]
    return conv, ssm, out.logits


def autoencoder_loss(decoder, tokens, conv, ssm):
    ids = F.pad(tokens, (1, 1), value=decoder.config.eos_token_id)  # 0 for Mamba; Mamba2Config's default is 2
    return next_token_loss(decoder_logits(decoder, ids, conv, ssm), ids)


def make_config(kwargs):
    """FalconMambaConfig when the fixture names mixer_rms_eps, Mamba2Config when it names num_heads, else MambaConfig."""
    if "mixer_rms_eps" in kwargs:
        return FalconMambaConfig(**kwargs)
    return Mamba2Config(**kwargs) if "num_heads" in kwargs else MambaConfig(**kwargs)


def random_model(config, seed):
    """transformers' own initialisation, then every parameter perturbed so that no gradient is degenerate
    (norm weights not all 1, conv biases not 0, D not 1, A_log not log(1..N))."""
    torch.manual_seed(seed)
    classes = {FalconMambaConfig: FalconMambaForCausalLM, Mamba2Config: Mamba2ForCausalLM, MambaConfig: MambaForCausalLM}
    model = classes[type(config)](config).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log") or name.endswith("D") or "norm" in name:
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.add_(0.05 * torch.randn_like(p))
    return model


def check_construction(encoder, config, rng):
    """Independent check of decoder_mixer: with the encoder's own weights, reading x2 from the cache of x1 must
    reproduce transformers' forward over x1 + x2 (and from zero caches, its forward over x2)."""
    x1 = torch.from_numpy(rng.integers(1, config.vocab_size, size=(2, 5))).long()
    x2 = torch.from_numpy(rng.integers(1, config.vocab_size, size=(2, 6))).long()
    conv, ssm, _ = encoder_caches(encoder, x1)
    with torch.no_grad():
        full = encoder(input_ids=torch.cat([x1, x2], dim=1)).logits[:, 5:]
        resumed = decoder_logits(encoder, x2, conv, ssm)
        zeros = [torch.zeros_like(c) for c in conv], [torch.zeros_like(s) for s in ssm]
        fresh = decoder_logits(encoder, x2, *zeros)
        plain = encoder(input_ids=x2).logits
    err = (full - resumed).abs().max().item()
    err0 = (plain - fresh).abs().max().item()
    assert err < 1e-5 * full.abs().max().item() + 1e-6, f"decoder construction disagrees with transformers: {err}"
    assert err0 < 1e-5 * plain.abs().max().item() + 1e-6, f"zero-cache construction disagrees: {err0}"


def grads_by_name(model):
    return {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}


def no_decay(name):
    """Biases, norm weights, A_log and D are not decayed (as the reference's no_decay groups and _no_weight_decay);
    nor is Mamba-2's dt_bias (mamba_ssm's Mamba2 marks it _no_weight_decay, as A_log and D)."""
    return name.endswith(".bias") or name.endswith("norm.weight") or name.endswith("norm_f.weight") \
        or name.endswith("A_log") or name.endswith(".D") or name.endswith(".dt_bias")


def adamw_run(decoder, tokens, conv, ssm, settings):
    params = list(decoder.named_parameters())
    groups = [
        {"params": [p for n, p in params if not no_decay(n)], "weight_decay": settings["weight_decay"]},
        {"params": [p for n, p in params if no_decay(n)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=settings["lr"], betas=(0.9, 0.999), eps=1e-8)
    sched = get_scheduler(settings["schedule"], opt, num_warmup_steps=settings["warmup"],
                          num_training_steps=settings["total_steps"])
    losses, lrs, norms = [], [], []
    for _ in range(settings["steps"]):
        opt.zero_grad()
        loss = autoencoder_loss(decoder, tokens, conv, ssm)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(decoder.parameters(), settings["clip"] or float("inf"))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(loss.item())
        norms.append(norm.item())
    return losses, lrs, norms


def make_model_fixture(name, config_kwargs, batch, length, settings, seed):
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    config = make_config(config_kwargs)
    rng = np.random.default_rng(seed)
    encoder = random_model(config, seed)
    decoder = random_model(config, seed + 1)
    encoder.eval()
    check_construction(encoder, config, rng)

    tokens = torch.from_numpy(rng.integers(1, config.vocab_size, size=(batch, length))).long()
    conv, ssm, _ = encoder_caches(encoder, tokens)
    encoder.save_pretrained(os.path.join(out, "encoder"))
    decoder.save_pretrained(os.path.join(out, "decoder"))
    np.save(os.path.join(out, "tokens.npy"), tokens.numpy().astype(np.int32))
    np.save(os.path.join(out, "encoder_ssm.npy"), torch.stack(ssm, dim=1).numpy().astype(np.float32))
    np.save(os.path.join(out, "encoder_conv.npy"), torch.stack(conv, dim=1).numpy().astype(np.float32))

    decoder.zero_grad()
    ae_loss = autoencoder_loss(decoder, tokens, conv, ssm)
    ae_loss.backward()
    save_file(grads_by_name(decoder), os.path.join(out, "autoencoder_grads.safetensors"))

    decoder.zero_grad()
    lm = decoder(input_ids=tokens, labels=tokens)  # transformers' own forward and loss: the oracle for --objective lm
    lm.loss.backward()
    save_file(grads_by_name(decoder), os.path.join(out, "lm_grads.safetensors"))

    losses, lrs, norms = adamw_run(decoder, tokens, conv, ssm, settings)
    assert abs(losses[0] - ae_loss.item()) < 1e-6
    final = {n: p.detach().clone().contiguous() for n, p in decoder.named_parameters()}
    save_file(final, os.path.join(out, "adamw_final.safetensors"))

    expected = {
        "autoencoder_loss": ae_loss.item(),
        "lm_loss": lm.loss.item(),
        "adamw": dict(settings, betas=[0.9, 0.999], eps=1e-8, losses=losses, lrs=lrs, grad_norms=norms),
        "no_decay": sorted(n for n, _ in decoder.named_parameters() if no_decay(n)),
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(name, "loss", ae_loss.item(), "lm", lm.loss.item(), "adamw", losses, "norms", norms)


MODEL_FIXTURES = ["small", "odd", "untied", "falcon", "mamba2", "mamba2-odd"]


def make_state_gradients(name):
    """d(auto-encoder loss)/d(the encoder's states), from the fixture's committed decoder, tokens and states (so
    that nothing else of the fixture is rewritten): autoencoder_state_grads.safetensors with "ssm" and "conv",
    shaped as encoder_ssm.npy and encoder_conv.npy."""
    from transformers import AutoModelForCausalLM
    folder = os.path.join(HERE, name)
    decoder = AutoModelForCausalLM.from_pretrained(os.path.join(folder, "decoder"), dtype=torch.float32)
    tokens = torch.from_numpy(np.load(os.path.join(folder, "tokens.npy"))).long()
    ssm_all = torch.from_numpy(np.load(os.path.join(folder, "encoder_ssm.npy")))
    conv_all = torch.from_numpy(np.load(os.path.join(folder, "encoder_conv.npy")))
    ssm = [ssm_all[:, i].clone().requires_grad_(True) for i in range(ssm_all.shape[1])]
    conv = [conv_all[:, i].clone().requires_grad_(True) for i in range(conv_all.shape[1])]
    autoencoder_loss(decoder, tokens, conv, ssm).backward()
    save_file({"ssm": torch.stack([s.grad for s in ssm], dim=1).contiguous(),
               "conv": torch.stack([c.grad for c in conv], dim=1).contiguous()},
              os.path.join(folder, "autoencoder_state_grads.safetensors"))


def make_ssd_scan_fixture():
    """Mamba-2's scan alone against transformers' own chunked scan (mamba2_chunk_scan, with an initial state and its
    final state returned), whose autograd gives the gradient of every input, the initial state's included: two
    cases (2 groups of 3 heads with dt clamped, chunk 4 across a length of 9; 1 group of 2 heads, chunk 16 beyond
    it). Writes ssd_scan.safetensors: per case c, c.x [B, L, H, P], c.dt [B, L, H], c.dt_bias, c.A_log, c.D [H],
    c.B, c.C [B, L, G, N], c.state [B, H, P, N], c.dy [B, L, H, P] (the loss is sum(y · dy)), c.y, c.final
    [B, H, P, N] and c.grad.<input> for every input; ssd_scan.json the sizes."""
    from transformers.models.mamba2.modeling_mamba2 import mamba2_chunk_scan
    g = torch.Generator().manual_seed(59)
    tensors, cases = {}, []
    for name, (b, L, H, P, G, N, chunk, limit) in {"grouped": (2, 9, 6, 3, 2, 5, 4, (0.05, 0.6)),
                                                     "single": (2, 7, 2, 4, 1, 9, 16, (0.0, float("inf")))}.items():
        def rand(*shape, scale=1.0):
            return (scale * torch.randn(*shape, generator=g)).requires_grad_(True)
        inputs = dict(x=rand(b, L, H, P), dt=rand(b, L, H, scale=2.0), dt_bias=rand(H), A_log=rand(H),
                      D=rand(H), B=rand(b, L, G, N), C=rand(b, L, G, N), state=rand(b, H, P, N))
        y, final = mamba2_chunk_scan(inputs["x"], inputs["dt"], -torch.exp(inputs["A_log"]), inputs["B"], inputs["C"],
                                     chunk_size=chunk, D=inputs["D"], dt_bias=inputs["dt_bias"],
                                     initial_states=inputs["state"], dt_softplus=True, dt_limit=limit,
                                     return_final_states=True)
        dy = torch.randn(y.shape, generator=g)
        (y * dy).sum().backward()
        for key, value in inputs.items():
            tensors[f"{name}.{key}"] = value.detach().contiguous()
            tensors[f"{name}.grad.{key}"] = value.grad.contiguous()
        tensors.update({f"{name}.dy": dy, f"{name}.y": y.detach().contiguous(),
                        f"{name}.final": final.detach().contiguous()})
        cases.append(dict(name=name, batch=b, length=L, heads=H, head_dim=P, groups=G, state_size=N,
                          dt_min=limit[0], dt_max=limit[1] if math.isfinite(limit[1]) else None))
    save_file(tensors, os.path.join(HERE, "ssd_scan.safetensors"))
    with open(os.path.join(HERE, "ssd_scan.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


def make_optim_fixture():
    """Schedules (transformers' get_scheduler), AdamW (torch.optim.AdamW) and clip_grad_norm_ on small tensors."""
    schedules = []
    for kind in ["constant_with_warmup", "linear", "cosine"]:
        for warmup, total in [(0, 10), (3, 10), (4, 7)]:
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.AdamW([p], lr=0.3)
            sched = get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total)
            lrs = []
            for _ in range(total + 3):  # a few steps past the end: linear and cosine stay at 0
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
            schedules.append({"schedule": kind, "base_lr": 0.3, "warmup": warmup, "total": total, "lrs": lrs})

    g = torch.Generator().manual_seed(7)
    decayed = torch.nn.Parameter(torch.randn(7, generator=g))
    plain = torch.nn.Parameter(torch.randn(5, generator=g))
    init = [decayed.detach().clone(), plain.detach().clone()]
    opt = torch.optim.AdamW([{"params": [decayed], "weight_decay": 0.1}, {"params": [plain], "weight_decay": 0.0}],
                            lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    lrs = [0.01, 0.02, 0.005, 0.0, 0.01]
    steps = []
    for lr in lrs:
        for group in opt.param_groups:
            group["lr"] = lr
        # gradients spanning magnitudes, including ones far below eps
        decayed.grad = torch.randn(7, generator=g) * torch.tensor([1, 1e-3, 1e-6, 1e-9, 10, 0.5, 2.0])
        plain.grad = torch.randn(5, generator=g)
        opt.step()
        steps.append({"lr": lr, "grads": [decayed.grad.tolist(), plain.grad.tolist()],
                      "params": [decayed.detach().tolist(), plain.detach().tolist()]})
    adamw = {"weight_decay": [0.1, 0.0], "betas": [0.9, 0.999], "eps": 1e-8,
             "init": [t.tolist() for t in init], "steps": steps}

    clips = []
    for max_norm in [0.5, 100.0]:
        a = torch.randn(3, 4, generator=g)
        b = torch.randn(6, generator=g) * 3
        ps = [torch.nn.Parameter(torch.zeros_like(a)), torch.nn.Parameter(torch.zeros_like(b))]
        ps[0].grad, ps[1].grad = a.clone(), b.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        clips.append({"max_norm": max_norm, "grads": [a.flatten().tolist(), b.tolist()], "total_norm": total.item(),
                      "clipped": [ps[0].grad.flatten().tolist(), ps[1].grad.tolist()]})

    with open(os.path.join(HERE, "optim.json"), "w") as f:
        json.dump({"schedules": schedules, "adamw": adamw, "clip": clips}, f, indent=1)


def main():
    small = dict(vocab_size=96, hidden_size=16, state_size=4, num_hidden_layers=2, conv_kernel=4, expand=2,
                 time_step_rank=3, layer_norm_epsilon=1e-5, use_bias=False, use_conv_bias=True,
                 tie_word_embeddings=True, use_mambapy=False, use_associative_scan=False)
    odd = dict(vocab_size=101, hidden_size=13, state_size=5, num_hidden_layers=3, conv_kernel=3, expand=2,
               time_step_rank=2, layer_norm_epsilon=1e-5, use_bias=False, use_conv_bias=True,
               tie_word_embeddings=True, use_mambapy=False, use_associative_scan=False)
    # lm_head not tied to the embeddings, one layer, a conv kernel of 2, a single-token chunk in a batch of 1 each
    untied = dict(vocab_size=40, hidden_size=12, state_size=3, num_hidden_layers=1, conv_kernel=2, expand=2,
                  time_step_rank=2, layer_norm_epsilon=1e-5, use_bias=False, use_conv_bias=True,
                  tie_word_embeddings=False, use_mambapy=False, use_associative_scan=False)
    # Falcon-Mamba with a large mixer_rms_eps (so that it matters), odd sizes, untied
    falcon = dict(vocab_size=53, hidden_size=15, state_size=6, num_hidden_layers=2, conv_kernel=3, expand=2,
                  time_step_rank=3, layer_norm_epsilon=1e-5, mixer_rms_eps=0.01, use_bias=False, use_conv_bias=True,
                  tie_word_embeddings=False, use_mambapy=False, use_associative_scan=False)
    mamba2 = dict(vocab_size=61, hidden_size=12, num_heads=6, head_dim=4, n_groups=2, state_size=5, num_hidden_layers=2,
                  conv_kernel=4, expand=2, layer_norm_epsilon=1e-5, chunk_size=4, time_step_limit=(0.005, 0.3),
                  use_bias=False, use_conv_bias=True, tie_word_embeddings=True)
    mamba2_odd = dict(vocab_size=43, hidden_size=15, num_heads=5, head_dim=6, n_groups=1, state_size=3, num_hidden_layers=3,
                      conv_kernel=3, expand=2, layer_norm_epsilon=1e-6, chunk_size=3, use_bias=False, use_conv_bias=True,
                      tie_word_embeddings=False)
    fixtures = {
        "state-gradients": lambda: [make_state_gradients(name) for name in MODEL_FIXTURES],
        "small": lambda: make_model_fixture("small", small, batch=3, length=9, seed=11, settings=dict(
            lr=5e-3, weight_decay=0.1, clip=1.0, schedule="cosine", warmup=2, total_steps=5, steps=5)),
        "odd": lambda: make_model_fixture("odd", odd, batch=2, length=2, seed=23, settings=dict(
            lr=5e-3, weight_decay=0.05, clip=0.25, schedule="linear", warmup=1, total_steps=5, steps=5)),
        "untied": lambda: make_model_fixture("untied", untied, batch=1, length=3, seed=37, settings=dict(
            lr=1e-2, weight_decay=0.2, clip=None, schedule="constant", warmup=0, total_steps=5, steps=5)),
        "falcon": lambda: make_model_fixture("falcon", falcon, batch=3, length=7, seed=43, settings=dict(
            lr=5e-3, weight_decay=0.1, clip=1.0, schedule="cosine", warmup=2, total_steps=5, steps=5)),
        "mamba2": lambda: make_model_fixture("mamba2", mamba2, batch=3, length=7, seed=47, settings=dict(
            lr=5e-3, weight_decay=0.1, clip=1.0, schedule="cosine", warmup=2, total_steps=5, steps=5)),
        "mamba2-odd": lambda: make_model_fixture("mamba2-odd", mamba2_odd, batch=2, length=2, seed=53, settings=dict(
            lr=5e-3, weight_decay=0.05, clip=0.25, schedule="linear", warmup=1, total_steps=5, steps=5)),
        "ssd-scan": make_ssd_scan_fixture,
        "optim": make_optim_fixture,
    }
    for name in sys.argv[1:] or fixtures:
        fixtures[name]()
        if name in MODEL_FIXTURES:
            make_state_gradients(name)


if __name__ == "__main__":
    main()
