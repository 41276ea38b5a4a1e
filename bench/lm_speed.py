"""Training and sampling speed of our GPT-2-style decoder against Hugging Face ``transformers`` GPT-2 (prints).

    .venv/bin/python bench/lm_speed.py [--config gpt2-d64] [--threads 1] [--vocab 400] ...

Both models have the same configuration (``collapse_utils.models.transformer.CI_CONFIGS``): ``GPT2LMHeadModel`` is
built with the same n_embd, n_layer, n_head, n_inner, n_positions and vocabulary, tied embeddings, no dropout,
exact GELU (``activation_function="gelu"``, ours), LayerNorm eps 1e-5 and ``attn_implementation="sdpa"``; our
weights are copied into it and the script checks that both give the same logits, so both define the same
distribution and the same work.

- **Training**: tokens per second of a full step (forward, cross-entropy, backward, gradient clipping at 1.0, the
  same fused AdamW, ``collapse_utils.models.lm.make_optimizer``, for both) on batches of ``--batch`` random
  sequences of ``--seq`` tokens, the same batches for both. A repeat times ``--steps`` steps; one repeat of
  warm-up is excluded; ours and theirs alternate.
- **Sampling**: story tokens per second of ``--sample-batch`` stories sampled at temperature 1 from the
  beginning-of-story token (the EOS id), each ending at EOS or at ``--sample-len`` tokens: ours with
  ``collapse_utils.models.lm.sample_lm`` (key-value cache), Hugging Face with ``model.generate(do_sample=True,
  temperature=1.0, top_k=0, max_new_tokens=..., use_cache=True, pad_token_id=EOS)`` (top_k=0: the full
  distribution, as ours). Only the tokens of the stories are counted (up to and including the first EOS), for both.

A last table gives the throughput of the chapter's own functions, ``fit_lm`` and ``sample_lm``, for every ci
configuration on ``--pipeline-stories`` random stories of 60 tokens.

Both run in this process under ``collapse_utils.config.set_threads(--threads)``. Each figure is the median over
``--repeats`` timed repeats; the ratio is ours / Hugging Face (> 1: ours is faster). ``transformers`` is needed only
here: ``pip install transformers`` (it does not change torch). Exits 2 with that message when it is missing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import collapse_utils  # noqa: F401 -- first: exports the thread variables before torch loads
from collapse_utils import config

try:
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel
except ImportError:
    print("bench/lm_speed.py compares with Hugging Face transformers, which is not installed:\n"
          "    pip install transformers", file=sys.stderr)
    sys.exit(2)

import numpy as np
import torch
from torch.nn import functional as F

from collapse_utils.models.common import count_parameters
from collapse_utils.models.lm import LMRecipe, fit_lm, init_model, make_optimizer, sample_lm
from collapse_utils.models.transformer import CI_CONFIGS, Decoder, decoder_config


def hf_twin(model: Decoder) -> GPT2LMHeadModel:
    """A ``GPT2LMHeadModel`` with the configuration and the weights of our GPT-2-style ``model``."""
    c = model.config
    hf_config = GPT2Config(vocab_size=c.vocab_size, n_positions=c.max_len, n_embd=c.d_model, n_layer=c.n_layer,
                           n_head=c.n_head, n_inner=c.d_mlp, activation_function="gelu", resid_pdrop=0.0,
                           embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                           bos_token_id=c.eos_id, eos_token_id=c.eos_id, pad_token_id=c.eos_id)
    hf = GPT2LMHeadModel._from_config(hf_config, attn_implementation="sdpa")
    t = hf.transformer
    with torch.no_grad():
        t.wte.weight.copy_(model.tok_emb.weight)
        t.wpe.weight.copy_(model.pos_emb.weight)
        for ours, theirs in zip(model.blocks, t.h, strict=True):
            pairs = [(ours.norm1, theirs.ln_1), (ours.norm2, theirs.ln_2)]
            pairs += [(ours.attn.qkv, theirs.attn.c_attn), (ours.attn.proj, theirs.attn.c_proj),
                      (ours.mlp.c_fc, theirs.mlp.c_fc), (ours.mlp.c_proj, theirs.mlp.c_proj)]
            for a, b in pairs:
                b.weight.copy_(a.weight.T if a.weight.ndim == 2 else a.weight)  # HF's Conv1D stores (in, out)
                b.bias.copy_(a.bias)
        t.ln_f.weight.copy_(model.norm_f.weight)
        t.ln_f.bias.copy_(model.norm_f.bias)
    hf.tie_weights()
    return hf


def train_step(model, logits_of, opt, x: torch.Tensor) -> None:
    """One training step on the sequences ``x``: next-token cross-entropy, backward, clip at 1.0, AdamW."""
    logits = logits_of(x)
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def train_rates(model: Decoder, hf: GPT2LMHeadModel, batches, repeats: int) -> tuple[float, float]:
    """Median training tokens/s of ours and of Hugging Face's model, timed alternately; one warm-up repeat."""
    contenders = [(model, model), (hf, lambda x: hf(x).logits)]
    opts = [make_optimizer(m, LMRecipe(lr=1e-3)) for m, _ in contenders]  # the same fused AdamW for both
    rates: list[list[float]] = [[], []]
    for r in range(repeats + 1):
        for k, (m, logits_of) in enumerate(contenders):
            m.train()
            start = time.perf_counter()
            for x in batches:
                train_step(m, logits_of, opts[k], x)
            if r:
                rates[k].append(sum(x.numel() for x in batches) / (time.perf_counter() - start))
            m.eval()
    return statistics.median(rates[0]), statistics.median(rates[1])


def story_tokens(rows: torch.Tensor, eos: int) -> int:
    """Tokens of generated rows up to and including each row's first EOS (all of a row without EOS)."""
    is_eos = (rows == eos).int()
    first = torch.where(is_eos.any(dim=1), is_eos.argmax(dim=1) + 1, torch.full_like(is_eos[:, 0], rows.shape[1]))
    return int(first.sum())


def sample_rates(model: Decoder, hf: GPT2LMHeadModel, n: int, length: int, repeats: int) -> tuple[float, float]:
    """Median story tokens/s of ours (sample_lm) and of Hugging Face's generate; one warm-up call each."""
    eos = model.config.eos_id
    ours, theirs = [], []
    for r in range(repeats + 1):
        start = time.perf_counter()
        stories = sample_lm(model, n, np.random.default_rng(r), max_len=length, batch_size=n)
        ours.append(sum(len(s) for s in stories) / (time.perf_counter() - start))
        bos = torch.full((n, 1), eos, dtype=torch.long)
        torch.manual_seed(r)
        start = time.perf_counter()
        with torch.inference_mode():
            out = hf.generate(bos, attention_mask=torch.ones_like(bos), do_sample=True, temperature=1.0, top_k=0,
                              top_p=1.0, max_new_tokens=length, use_cache=True, pad_token_id=eos, eos_token_id=eos)
        theirs.append(story_tokens(out[:, 1:], eos) / (time.perf_counter() - start))
    return statistics.median(ours[1:]), statistics.median(theirs[1:])


def pipeline_rates(vocab: int, n_stories: int, length: int) -> None:
    """Print fit_lm and sample_lm throughput of every ci configuration on ``n_stories`` random stories."""
    g = np.random.default_rng(0)
    stories = [np.append(g.integers(1, vocab, length - 1), 0) for _ in range(n_stories)]
    print(f"\nthe chapter's pipeline: fit_lm (LMRecipe(): batches of {LMRecipe().batch_size} stories, one epoch) on "
          f"{n_stories} stories of {length} tokens, sample_lm of {n_stories} stories (batch 256, at most {length} "
          f"tokens), vocabulary {vocab}")
    print(f"{'config':<12}{'parameters':>12}{'fit tokens/s':>15}{'sample tokens/s':>17}")
    for name in sorted(CI_CONFIGS):
        cfg = decoder_config(name, vocab_size=vocab, eos_id=0)
        fit_lm(stories[:64], np.random.default_rng(1), config=cfg)  # warm-up
        start = time.perf_counter()
        model = fit_lm(stories, np.random.default_rng(1), config=cfg)
        fit_rate = n_stories * length / (time.perf_counter() - start)
        start = time.perf_counter()
        sampled = sample_lm(model, n_stories, np.random.default_rng(2), max_len=length)
        sample_rate = sum(len(s) for s in sampled) / (time.perf_counter() - start)
        print(f"{name:<12}{count_parameters(model):>12,}{fit_rate:>15,.0f}{sample_rate:>17,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpt2 = sorted(k for k, c in CI_CONFIGS.items() if c.family == "gpt2")
    parser.add_argument("--config", default="gpt2-d64", choices=gpt2, help="a ci-scale GPT-2-style configuration")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=400)
    parser.add_argument("--batch", type=int, default=32, help="training sequences per step")
    parser.add_argument("--seq", type=int, default=64, help="training sequence length")
    parser.add_argument("--steps", type=int, default=10, help="training steps per timed repeat")
    parser.add_argument("--sample-batch", type=int, default=256, help="stories sampled per call")
    parser.add_argument("--sample-len", type=int, default=64, help="length cap of a sampled story")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pipeline-stories", type=int, default=2000,
                        help="stories for the fit_lm / sample_lm table of all ci configurations (0: skip it)")
    args = parser.parse_args()
    threads = config.set_threads(args.threads)
    transformers.logging.set_verbosity_error()  # its advice on attention masks: our batches hold no padding

    cfg = decoder_config(args.config, vocab_size=args.vocab, eos_id=0)
    model = init_model(cfg, seed=0).eval()
    hf = hf_twin(model).eval()
    probe = torch.randint(0, cfg.vocab_size, (2, args.seq), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        gap = float((model(probe) - hf(probe).logits).abs().max())
    if count_parameters(model) != sum(p.numel() for p in hf.parameters()) or gap > 1e-4:
        raise SystemExit(f"the two models differ: {count_parameters(model)} vs "
                         f"{sum(p.numel() for p in hf.parameters())} parameters, logits differ by {gap:.2g}")

    gen = torch.Generator().manual_seed(2)
    batches = [torch.randint(0, cfg.vocab_size, (args.batch, args.seq), generator=gen) for _ in range(args.steps)]
    ours_train, hf_train = train_rates(model, hf, batches, args.repeats)
    ours_sample, hf_sample = sample_rates(model, hf, args.sample_batch, args.sample_len, args.repeats)

    print(f"{args.config}: d_model {cfg.d_model}, {cfg.n_layer} layers, {cfg.n_head} heads, MLP {cfg.d_mlp}, "
          f"vocabulary {cfg.vocab_size}, {cfg.max_len} positions, tied, {count_parameters(model):,} parameters (both); "
          f"logits agree to {gap:.1e}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {threads} thread(s); "
          f"median of {args.repeats} repeats after one warm-up")
    print(f"training: batches of {args.batch} x {args.seq} tokens, {args.steps} steps per repeat; sampling: "
          f"{args.sample_batch} stories per call, temperature 1, at most {args.sample_len} tokens each\n")
    print(f"{'':<22}{'ours':>12}{'transformers':>14}{'ours / HF':>11}")
    for name, a, b in (("training tokens/s", ours_train, hf_train), ("sampling tokens/s", ours_sample, hf_sample)):
        print(f"{name:<22}{a:>12,.0f}{b:>14,.0f}{a / b:>11.2f}")
    if args.pipeline_stories:
        pipeline_rates(args.vocab, args.pipeline_stories, 60)


if __name__ == "__main__":
    main()
