"""Train, evaluate and sample the decoders of :mod:`collapse_utils.models.transformer` (the language-model loop).

A **corpus** is a Python list of 1-D integer numpy arrays, one per story: token ids in ``[0, vocab_size)``, every story
ending with the end-of-story id ``config.eos_id`` and holding it nowhere else, at most ``config.max_len`` tokens. The
model conditions on a beginning-of-story token that is the EOS id itself: a story ``(t_1, ..., t_L)`` with
``t_L = EOS`` is fed as ``(EOS, t_1, ..., t_{L-1})`` and predicts ``(t_1, ..., t_L)``, so the model's negative
log-likelihood of a story is the whole ``-log q(story)``, EOS prediction included, comparable with the exact
log-probability of a story under a known grammar.

Recipe (:class:`LMRecipe`): AdamW (betas 0.9, 0.95; weight decay 0.1 on weight matrices and embeddings, none on
biases and norm gains), linear warm-up over the first 5% of steps to the peak learning rate, then cosine decay to 10%
of it at the end of the run, gradient clipping at norm 1.0, one epoch over the training set per fit (as in the
accumulate paper: an accumulated pool costs proportionally more compute), a fresh initialization every fit. Batches
hold ``batch_size`` stories, right-padded (a causal model never looks right, so padding needs no attention mask; the
loss ignores padded positions); stories are sorted by length within shuffled chunks of 32 batches to limit padding.

Models train on ``models.common.torch_device()``; randomness comes from a numpy Generator (initialization and batch
order; sampling through a local ``torch.Generator``), so results are deterministic on the CPU with one thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from collapse_utils.models.common import device_of, seeded, torch_device, torch_seed
from collapse_utils.models.transformer import Decoder, DecoderConfig
from collapse_utils.validation import Int, Real, check_fields, check_int

IGNORE = -100  # target of a padded position (F.cross_entropy's ignore_index)
SORT_CHUNK = 32  # batches per shuffled chunk that is sorted by story length


@dataclass(frozen=True)
class LMRecipe:
    """Optimizer and batching settings of :func:`fit_lm` (see the module docstring for the schedule)."""

    lr: float = 8e-3  # peak learning rate (tuned for the ci models; models of the paper's size want ~5e-4)
    batch_size: int = 16  # stories per optimizer step
    epochs: int = 1
    warmup_fraction: float = 0.05  # share of the steps spent warming up linearly
    final_lr_fraction: float = 0.1  # the cosine decays to this fraction of the peak
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0

    def __post_init__(self):
        check_fields(self, lr=Real(0, low_open=True), batch_size=Int(1), epochs=Int(1),
                     warmup_fraction=Real(0, 1, high_open=True), final_lr_fraction=Real(0, 1), weight_decay=Real(0),
                     grad_clip=Real(0, low_open=True))
        betas = self.betas
        if not (isinstance(betas, tuple) and len(betas) == 2 and all(
                not isinstance(b, bool) and isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")

    def lr_at(self, step: int, total_steps: int) -> float:
        """Learning rate of optimizer step ``step`` (0-based) of ``total_steps``: linear warm-up, cosine decay."""
        warmup = math.ceil(self.warmup_fraction * total_steps)
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - 1 - warmup)  # 0 at the peak, 1 at the last step
        cosine = 0.5 * (1 + math.cos(math.pi * progress))  # 1 -> 0 over the steps after the warm-up
        return self.lr * (self.final_lr_fraction + (1 - self.final_lr_fraction) * cosine)


# ---------------------------------------------------------------------------------------------------------
# corpora
# ---------------------------------------------------------------------------------------------------------


def check_stories(stories, config: DecoderConfig, name: str = "stories") -> list[np.ndarray]:
    """``stories`` as a list of int64 arrays, or a ValueError naming the first bad story and what is wrong."""
    if isinstance(stories, np.ndarray) or not isinstance(stories, Sequence) or len(stories) == 0:
        raise ValueError(f"{name} must be a non-empty list of 1-D integer arrays, got {type(stories).__name__} "
                         f"of length {len(stories) if hasattr(stories, '__len__') else '?'}")
    out = []
    for i, s in enumerate(stories):
        a = np.asarray(s)
        if a.ndim != 1 or len(a) == 0 or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name}[{i}] must be a non-empty 1-D integer array, got shape {a.shape} "
                             f"and dtype {a.dtype}")
        if len(a) > config.max_len:
            raise ValueError(f"{name}[{i}] has {len(a)} tokens, more than the model's context of "
                             f"max_len = {config.max_len}")
        out.append(a.astype(np.int64, copy=False))
    flat = np.concatenate(out)
    ends = np.cumsum([len(a) for a in out]) - 1
    bad = np.flatnonzero((flat < 0) | (flat >= config.vocab_size))
    if len(bad):
        i = int(np.searchsorted(ends, bad[0]))
        raise ValueError(f"{name}[{i}] holds token id {int(flat[bad[0]])}, outside [0, {config.vocab_size - 1}]")
    is_eos = flat == config.eos_id
    if not is_eos[ends].all():
        i = int(np.flatnonzero(~is_eos[ends])[0])
        raise ValueError(f"{name}[{i}] must end with the end-of-story id {config.eos_id}, got {int(out[i][-1])}")
    if is_eos.sum() != len(out):
        i = int(np.searchsorted(ends, np.flatnonzero(is_eos & ~np.isin(np.arange(len(flat)), ends))[0]))
        raise ValueError(f"{name}[{i}] holds the end-of-story id {config.eos_id} before its end")
    return out


def pad_batch(stories: Sequence[np.ndarray], eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded inputs ``(EOS, t_1, ..., t_{L-1})`` and targets ``(t_1, ..., t_L)``; padded targets are -100."""
    T = max(len(s) for s in stories)
    inputs = np.full((len(stories), T), eos_id, dtype=np.int64)
    targets = np.full((len(stories), T), IGNORE, dtype=np.int64)
    for i, s in enumerate(stories):
        inputs[i, 1:len(s)] = s[:-1]
        targets[i, :len(s)] = s
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def _length_batches(lengths: np.ndarray, batch_size: int, order: np.ndarray) -> list[np.ndarray]:
    """Split ``order`` into batches of stories of similar length: sort chunks of SORT_CHUNK batches by length."""
    batches = []
    step = batch_size * SORT_CHUNK
    for lo in range(0, len(order), step):
        chunk = order[lo:lo + step]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    return batches


# ---------------------------------------------------------------------------------------------------------
# fit / evaluate / sample
# ---------------------------------------------------------------------------------------------------------


def init_model(config: DecoderConfig, seed: int) -> Decoder:
    """A freshly initialized decoder (on the CPU), seeded without touching torch's global random state."""
    return seeded(lambda: Decoder(config), seed)


def make_optimizer(model: torch.nn.Module, recipe: LMRecipe) -> torch.optim.AdamW:
    """AdamW of ``recipe``: weight decay on weight matrices and embeddings (dim >= 2), none on biases and gains.

    The fused implementation (one kernel for all parameters; deterministic) is a few percent faster than the default.
    """
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr, betas=recipe.betas,
                             fused=True)


def fit_lm(stories, rng: np.random.Generator, *, config: DecoderConfig, recipe: LMRecipe = LMRecipe()) -> Decoder:
    """Train a freshly initialized decoder on ``stories`` for ``recipe.epochs`` epochs (the loop's ``fit``).

    Parameters
    ----------
    stories
        The training corpus (see the module docstring).
    rng
        Seeds the initialization (:func:`init_model` with the generator's first draw) and the batch order.
    config, recipe
        Architecture (:class:`~collapse_utils.models.transformer.DecoderConfig`) and optimizer settings
        (:class:`LMRecipe`).

    Returns
    -------
    Decoder
        The trained model, in eval mode, on ``models.common.torch_device()``.
    """
    stories = check_stories(stories, config)
    seed = torch_seed(rng)
    device = torch_device()
    model = init_model(config, seed).to(device)  # initialized on the CPU: identical on every device
    lengths = np.array([len(s) for s in stories])
    order_rng = np.random.default_rng(seed)
    batches = []
    for _ in range(recipe.epochs):
        epoch = _length_batches(lengths, recipe.batch_size, order_rng.permutation(len(stories)))
        batches += [epoch[k] for k in order_rng.permutation(len(epoch))]
    opt = make_optimizer(model, recipe)
    model.train()
    for step, batch in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(step, len(batches))
        inputs, targets = pad_batch([stories[k] for k in batch], config.eos_id)
        logits = model(inputs.to(device))
        loss = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        opt.step()
    return model.eval()


@torch.inference_mode()
def story_nll(model: Decoder, stories, *, batch_size: int = 64) -> np.ndarray:
    """Negative log-likelihood ``-log q(story)`` in nats of every story, EOS prediction included.

    Parameters
    ----------
    model
        A decoder; ``stories`` must fit its vocabulary, end-of-story id and context.
    stories
        A corpus (see the module docstring).
    batch_size
        Stories per forward pass (sorted by length, right-padded; padding does not change a story's NLL).

    Returns
    -------
    numpy.ndarray
        float64, shape (n,), in the order of ``stories``.
    """
    stories = check_stories(stories, model.config)
    check_int("batch_size", batch_size, 1)
    device = device_of(model)
    order = np.argsort([len(s) for s in stories], kind="stable")
    nll = np.empty(len(stories))
    for lo in range(0, len(order), batch_size):
        rows = order[lo:lo + batch_size]
        inputs, targets = pad_batch([stories[k] for k in rows], model.config.eos_id)
        logits = model(inputs.to(device)).float()
        per_token = F.cross_entropy(logits.transpose(1, 2), targets.to(device), ignore_index=IGNORE, reduction="none")
        nll[rows] = per_token.double().sum(dim=1).cpu().numpy()
    return nll


def evaluate_lm(model: Decoder, stories, *, batch_size: int = 64) -> dict[str, float]:
    """Test metrics on real ``stories`` (the loop's ``evaluate``): cross-entropy per token and the totals behind it.

    Returns
    -------
    dict of str to float
        ``cross_entropy`` (total NLL / number of predicted tokens, EOS predictions included: the accumulate paper's
        metric, nats per token), ``nll_per_story`` (mean NLL of a story), ``total_nll`` and ``n_tokens``. The excess
        loss over a known grammar is ``(total_nll - true NLL of the same stories) / n_tokens``.
    """
    nll = story_nll(model, stories, batch_size=batch_size)
    n_tokens = sum(len(s) for s in stories)
    total = float(nll.sum())
    return {"cross_entropy": total / n_tokens, "nll_per_story": total / len(nll), "total_nll": total,
            "n_tokens": float(n_tokens)}


@torch.inference_mode()
def sample_lm(model: Decoder, n: int, rng: np.random.Generator, *, temperature: float = 1.0,
              max_len: int | None = None, batch_size: int = 256) -> list[np.ndarray]:
    """``n`` stories sampled from ``model`` at ``temperature``, batched with a key-value cache (the loop's ``sample``).

    Parameters
    ----------
    model
        A decoder.
    n
        Number of stories (>= 1).
    rng
        Seeds the ``torch.Generator`` of the draws.
    temperature
        >= 0; the logits are divided by it (1: the model's own distribution; 0: greedy argmax).
    max_len
        Length cap of a story, EOS included, in [1, ``config.max_len``] (default ``config.max_len``).
    batch_size
        Stories decoded together (256 was fastest for the ci models on one CPU thread).

    Returns
    -------
    list of numpy.ndarray
        ``n`` int64 stories, each ending with its only EOS.

    Notes
    -----
    Each story starts from the beginning-of-story token (the EOS id) and ends at its first EOS, which it includes. A
    story that reaches ``max_len`` tokens (default ``config.max_len``) without EOS is cut: its first ``max_len - 1``
    tokens followed by EOS, so every story is a valid corpus item of at most ``max_len`` tokens. ``temperature = 0``
    decodes greedily (argmax). A batch stops when all its stories have ended; finished stories are dropped from the
    batch as it goes. The draws come from a ``torch.Generator`` seeded by ``rng``: the same ``rng`` state and
    ``batch_size`` give the same stories.
    """
    config = model.config
    n = check_int("n", n, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    max_len = config.max_len if max_len is None else check_int("max_len", max_len, 1)
    if max_len > config.max_len:
        raise ValueError(f"max_len must be in [1, {config.max_len}] (the model's context), got {max_len}")
    temperature = Real(0)("temperature", temperature)
    device = device_of(model)
    gen = torch.Generator(device=device).manual_seed(torch_seed(rng))
    stories: list[np.ndarray] = []
    for lo in range(0, n, batch_size):
        stories += _sample_batch(model, min(batch_size, n - lo), gen, temperature, max_len)
    return stories


def _draw(probs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One token per row of ``probs`` (batch, vocab) by inverse-CDF sampling: the first token whose cumulative
    probability exceeds a uniform draw (15-20x faster on a CPU than ``torch.multinomial``, which draws one
    exponential variate per vocabulary entry)."""
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(len(probs), 1, generator=gen, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=probs.shape[-1] - 1)


def _sample_batch(model: Decoder, b: int, gen: torch.Generator, temperature: float, max_len: int) -> list[np.ndarray]:
    eos, device = model.config.eos_id, device_of(model)
    cache = model.new_cache(b, max_len)
    tokens = torch.full((b, max_len), eos, dtype=torch.long, device=device)
    lengths = torch.full((b,), max_len, dtype=torch.long, device=device)  # max_len: no EOS (yet)
    rows = torch.arange(b, device=device)  # the original rows of the unfinished stories still in the batch
    done = torch.zeros(b, dtype=torch.bool, device=device)  # ended, among the rows still in the batch
    x = torch.full((b, 1), eos, dtype=torch.long, device=device)
    for t in range(max_len):
        logits = model(x, cache)[:, -1]
        if temperature == 0:
            nxt = logits.argmax(dim=-1)
        else:
            nxt = _draw(torch.softmax(logits.float() / temperature, dim=-1), gen)
        tokens[rows, t] = nxt
        ended = (nxt == eos) & ~done
        if bool(ended.any()):
            lengths[rows[ended]] = t + 1
            done |= ended
            n_done = int(done.sum())
            if n_done == len(rows):
                break
            if 4 * n_done >= len(rows):  # drop the ended stories once they are a quarter of the batch
                alive = ~done
                rows, nxt, done = rows[alive], nxt[alive], done[alive]
                cache.keep(alive)
        x = nxt[:, None]
    tokens, lengths = tokens.cpu().numpy(), lengths.cpu().numpy()
    tokens[:, -1] = eos  # a story cut at max_len ends with EOS
    return [tokens[i, :lengths[i]].copy() for i in range(b)]


@dataclass
class DecoderFamily:
    """A decoder language model as a model family of the feedback loop (:class:`collapse_utils.protocol.ModelFamily`).

    ``fit`` trains a fresh decoder of ``config`` with ``recipe`` (:func:`fit_lm`), ``evaluate`` scores it on the real
    ``test`` stories (:func:`evaluate_lm`), ``sample`` draws stories at ``temperature`` (:func:`sample_lm`).
    """

    config: DecoderConfig
    recipe: LMRecipe
    test: list
    temperature: float = 1.0

    def fit(self, train, ctx) -> Decoder:
        return fit_lm(train, ctx.rng("fit"), config=self.config, recipe=self.recipe)

    def evaluate(self, model: Decoder, ctx) -> dict[str, float]:
        return evaluate_lm(model, self.test)

    def sample(self, model: Decoder, n: int, ctx) -> list[np.ndarray]:
        return sample_lm(model, n, ctx.rng("sample"), temperature=self.temperature)
