"""Reference greedy reconstructions for LetheModel's GreedyDecoder and the lethe-encode / lethe-reconstruct stages.

Run by hand (CI only reads what this writes):
    /work/venv/bin/python Tests/Fixtures/reconstruct/make_reconstruct_fixtures.py [NAME ...]
(no names: every fixture; names: only those, e.g. `falcon`)

The auto-encoder construction is the train stage's, imported from Tests/Fixtures/training/make_training_fixtures.py
(the reference's MambaDecoderMixer with encoder_cache_params, written on transformers' Mamba modules): the decoder
starts from the encoder's final cache, its conv sees the encoder's conv state as the inputs before the first token
and its scan starts from the encoder's ssm state.

For each small config (the second one with odd sizes, conv kernel 3 and chunks shorter than the kernel; the third a
Falcon-Mamba, FalconMambaForCausalLM, untied; the fourth a Mamba-2, Mamba2ForCausalLM, 6 heads in 2 groups) a decoder
is first trained for 1500 AdamW steps as an auto-encoder of random chunks (that construction, teacher
forcing on [eos] + x + [eos]), so that its greedy output is varied text that often ends with eos rather than one
token repeated. Then every chunk is greedy-decoded twice and the two must agree token for token:
  1. transformers' own cached decoding, as the reference's decoder_utils.reconstruct does it: the encoder's cache
     object handed to the decoder, first input eos (0), one token at a time, argmax;
  2. the construction over the growing sequence: at step t the decoder reads [eos] + generated[:t] from the
     encoder's cache (training's decoder_logits) and the argmax of its last position is the next token.
A chunk stops at its first eos or after max_new_tokens = length + 8 tokens. Only chunks whose top-2 logit gap
along the whole greedy path is well above float error are kept (ties must not be a coin flip between float
paths); the script says how many it dropped.

Writes Tests/Fixtures/reconstruct/<name>/:
    encoder/, decoder/      config.json + model.safetensors (save_pretrained, float32)
    encoder_ssm.npy         float32 [C, n_layer, d_inner, d_state]    transformers' final cache of each chunk
    encoder_conv.npy        float32 [C, n_layer, d_inner, conv_kernel]
    first_logits.npy        float32 [C, S, V]   the decoder's logits at the first S steps of the greedy path
    chunks.json             per chunk: tokens, generated (every argmax, including a stopping eos), recon (without
                            it), stop ("eos" or "length"), max_new_tokens, min_relative_gap (smallest top-2 gap
                            along the path, relative to the step's largest |logit|), and text / recon_text: tokens
                            and recon decoded by `tokenizers` with the repository's GPT-NeoX tokenizer.json (the
                            stages' default tokenizer; no clean-up of spaces)
"""

import json
import os
import sys

import numpy as np
import torch
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
from make_training_fixtures import (  # noqa: E402  the train stage's construction, shared
    EOS, autoencoder_loss, check_construction, decoder_logits, encoder_caches, make_config, random_model)

TOKENIZER = Tokenizer.from_file(os.path.join(HERE, "..", "..", "..", "data", "tokenizer", "gpt-neox-20b-tokenizer.json"))
FIRST_STEPS = 3
MIN_RELATIVE_GAP = 1e-3  # float32 paths differ by ~1e-6 of the largest logit; this leaves three decades


def train_decoder(encoder, decoder, config, rng, steps, max_length):
    """Teacher-forced auto-encoder training on random chunks (one length per batch), AdamW."""
    opt = torch.optim.AdamW(decoder.parameters(), lr=4e-3, weight_decay=0.0)
    for step in range(steps):
        length = int(rng.integers(1, max_length + 1))
        tokens = torch.from_numpy(rng.integers(1, config.vocab_size, size=(32, length))).long()
        conv, ssm, _ = encoder_caches(encoder, tokens)
        opt.zero_grad()
        loss = autoencoder_loss(decoder, tokens, conv, ssm)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step} length {length} loss {loss.item():.3f}")
    decoder.eval()


def greedy_transformers(encoder, decoder, tokens, max_new):
    """The reference's reconstruct loop on one chunk: transformers' cached one-token steps from the encoder's cache."""
    with torch.no_grad():
        cache = encoder(tokens[None], use_cache=True).cache
        token = torch.full((1, 1), EOS, dtype=torch.long)
        generated, logits = [], []
        for _ in range(max_new):
            out = decoder(token, cache=cache, use_cache=True).logits[0, -1].float()
            token = out.argmax().view(1, 1)
            generated.append(int(token))
            logits.append(out)
            if generated[-1] == EOS:
                break
    return generated, logits


def greedy_growing(encoder, decoder, tokens, max_new):
    """The train stage's decoder over the growing sequence [eos] + generated, from the encoder's cache."""
    conv, ssm, _ = encoder_caches(encoder, tokens[None])
    generated, logits = [], []
    with torch.no_grad():
        for _ in range(max_new):
            ids = torch.tensor([[EOS] + generated], dtype=torch.long)
            out = decoder_logits(decoder, ids, [c.clone() for c in conv], [s.clone() for s in ssm])[0, -1].float()
            generated.append(int(out.argmax()))
            logits.append(out)
            if generated[-1] == EOS:
                break
    return generated, logits


def relative_gap(logits):
    top = torch.topk(logits.double(), 2).values
    return ((top[0] - top[1]) / logits.double().abs().max()).item()


def make_fixture(name, config_kwargs, seed, lengths, train_steps):
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    config = make_config(config_kwargs)
    rng = np.random.default_rng(seed)
    encoder = random_model(config, seed).eval()
    decoder = random_model(config, seed + 1)
    check_construction(encoder, config, rng)
    print(name)
    train_decoder(encoder, decoder, config, rng, train_steps, max(lengths))

    chunks, ssm_states, conv_states, first_logits = [], [], [], []
    dropped = 0
    for length in lengths:
        tokens = torch.from_numpy(rng.integers(1, config.vocab_size, size=length)).long()
        max_new = length + 8
        generated, logits = greedy_transformers(encoder, decoder, tokens, max_new)
        grown, grown_logits = greedy_growing(encoder, decoder, tokens, max_new)
        assert generated == grown, f"{name}: transformers' cached steps {generated} != growing sequence {grown}"
        for a, b in zip(logits, grown_logits):
            assert (a - b).abs().max().item() <= 1e-5 * a.abs().max().item(), "cached vs growing logits differ"
        gap = min(relative_gap(step) for step in logits)
        if gap < MIN_RELATIVE_GAP:
            dropped += 1
            continue
        conv, ssm, _ = encoder_caches(encoder, tokens[None])
        ssm_states.append(torch.stack(ssm, dim=1)[0].numpy().astype(np.float32))
        conv_states.append(torch.stack(conv, dim=1)[0].numpy().astype(np.float32))
        steps = torch.stack(logits[:FIRST_STEPS])
        padded = torch.zeros(FIRST_STEPS, config.vocab_size)
        padded[:steps.shape[0]] = steps
        first_logits.append(padded.numpy().astype(np.float32))
        stop = "eos" if generated[-1] == EOS else "length"
        recon = generated[:-1] if stop == "eos" else generated
        chunks.append({"tokens": tokens.tolist(), "generated": generated, "recon": recon, "stop": stop,
                       "max_new_tokens": max_new, "min_relative_gap": gap,
                       "text": TOKENIZER.decode(tokens.tolist(), skip_special_tokens=False),
                       "recon_text": TOKENIZER.decode(recon, skip_special_tokens=False)})

    encoder.save_pretrained(os.path.join(out, "encoder"))
    decoder.save_pretrained(os.path.join(out, "decoder"))
    np.save(os.path.join(out, "encoder_ssm.npy"), np.stack(ssm_states))
    np.save(os.path.join(out, "encoder_conv.npy"), np.stack(conv_states))
    np.save(os.path.join(out, "first_logits.npy"), np.stack(first_logits))
    with open(os.path.join(out, "chunks.json"), "w") as f:
        json.dump({"first_steps": FIRST_STEPS, "chunks": chunks}, f, indent=1)
    stops = [c["stop"] for c in chunks]
    exact = sum(c["recon"] == c["tokens"] for c in chunks)
    print(f"{name}: {len(chunks)} chunks kept, {dropped} dropped for a near tie; stops: {stops.count('eos')} eos, "
          f"{stops.count('length')} length; {exact} reconstructed exactly")


def main():
    small = dict(vocab_size=32, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4, expand=2,
                 time_step_rank=4, layer_norm_epsilon=1e-5, use_bias=False, use_conv_bias=True,
                 tie_word_embeddings=True, use_mambapy=False, use_associative_scan=False)
    odd = dict(vocab_size=29, hidden_size=21, state_size=5, num_hidden_layers=3, conv_kernel=3, expand=2,
               time_step_rank=2, layer_norm_epsilon=1e-6, use_bias=False, use_conv_bias=True,
               tie_word_embeddings=True, use_mambapy=False, use_associative_scan=False)
    falcon = dict(vocab_size=31, hidden_size=19, state_size=6, num_hidden_layers=2, conv_kernel=3, expand=2,
                  time_step_rank=3, layer_norm_epsilon=1e-5, mixer_rms_eps=0.01, use_bias=False, use_conv_bias=True,
                  tie_word_embeddings=False, use_mambapy=False, use_associative_scan=False)
    mamba2 = dict(vocab_size=37, hidden_size=18, num_heads=6, head_dim=6, n_groups=2, state_size=5, num_hidden_layers=2,
                  conv_kernel=3, expand=2, layer_norm_epsilon=1e-5, chunk_size=4, use_bias=False, use_conv_bias=True,
                  tie_word_embeddings=True, eos_token_id=0)
    fixtures = {
        "small": lambda: make_fixture("small", small, seed=5, lengths=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 4, 7, 9, 20, 24],
                                      train_steps=1500),
        "odd": lambda: make_fixture("odd", odd, seed=6, lengths=[1, 2, 2, 3, 5, 6, 8, 11, 3, 1], train_steps=1500),
        "falcon": lambda: make_fixture("falcon", falcon, seed=7, lengths=[1, 2, 3, 4, 6, 8, 10, 12, 5, 9], train_steps=1500),
        "mamba2": lambda: make_fixture("mamba2", mamba2, seed=8, lengths=[1, 2, 3, 4, 5, 7, 9, 11, 6, 3], train_steps=1500),
    }
    for name in sys.argv[1:] or fixtures:
        fixtures[name]()


if __name__ == "__main__":
    main()
