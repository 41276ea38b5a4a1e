"""Training, evaluation and sampling of the decoders (collapse_utils.models.lm) on tiny corpora.

The models here have a few thousand parameters and the corpora a few hundred stories, so every fit takes well under
a second; the facts tested do not depend on size.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported before torch starts
from collapse_utils import config

torch = pytest.importorskip("torch")

from scipy import stats  # noqa: E402

from collapse_utils.models.lm import (  # noqa: E402
    LMRecipe,
    check_stories,
    evaluate_lm,
    fit_lm,
    init_model,
    pad_batch,
    sample_lm,
    story_nll,
)
from collapse_utils.models.transformer import Decoder, DecoderConfig  # noqa: E402

EOS = 0
V = 12
FAMILIES = ("gpt2", "llama")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)
    yield


def cfg(family: str = "gpt2", **changes) -> DecoderConfig:
    base = DecoderConfig(family, vocab_size=V, n_layer=1, n_head=2, d_model=16, d_mlp=32, max_len=24, eos_id=EOS)
    return replace(base, **changes)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def story(*ids: int) -> np.ndarray:
    return np.array([*ids, EOS], dtype=np.int64)


def two_kinds(n: int) -> list[np.ndarray]:
    """A repetitive corpus: "1 2 3 4 5 EOS" and "6 7 8 EOS", alternating. Entropy: ln 2 nats per story."""
    return [story(1, 2, 3, 4, 5) if i % 2 == 0 else story(6, 7, 8) for i in range(n)]


def random_stories(n: int, seed: int = 0, max_len: int = 15) -> list[np.ndarray]:
    g = rng(seed)
    return [np.append(g.integers(1, V, g.integers(0, max_len)), EOS) for _ in range(n)]


def same_params(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


class Scripted(Decoder):
    """A decoder whose next-token logits are ``table[current token]`` (ignores the context); logs every input width."""

    def __init__(self, table: torch.Tensor, max_len: int = 24):
        super().__init__(cfg(vocab_size=table.shape[1], max_len=max_len))
        self.table = table
        self.widths: list[int] = []

    def forward(self, idx, cache=None):
        self.widths.append(idx.shape[0])
        if cache is not None:
            cache.pos += idx.shape[1]
        return self.table[idx]


def counting_table(k: int, vocab: int = V) -> torch.Tensor:
    """Logits that force BOS -> 1 -> 2 -> ... -> k -> EOS (a margin of 1e4 nats)."""
    table = torch.zeros(vocab, vocab)
    for current in range(vocab):
        table[current, current + 1 if current < k else EOS] = 1e4
    return table


# ---------------------------------------------------------------------------------------------------------
# LMRecipe
# ---------------------------------------------------------------------------------------------------------


def test_recipe_defaults_are_the_documented_recipe():
    r = LMRecipe()
    assert (r.lr, r.batch_size, r.epochs, r.warmup_fraction, r.final_lr_fraction) == (8e-3, 16, 1, 0.05, 0.1)
    assert (r.weight_decay, r.betas, r.grad_clip) == (0.1, (0.9, 0.95), 1.0)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lr", 0.0, r"lr must be a finite number > 0, got 0.0"),
    ("lr", float("nan"), r"lr must be a finite number > 0, got nan"),
    ("batch_size", 0, r"batch_size must be an integer >= 1, got 0"),
    ("epochs", 1.0, r"epochs must be an integer >= 1, got 1.0"),
    ("warmup_fraction", 1.0, r"warmup_fraction must be a finite number in \[0, 1\), got 1.0"),
    ("final_lr_fraction", 1.5, r"final_lr_fraction must be a finite number in \[0, 1\], got 1.5"),
    ("weight_decay", -0.1, r"weight_decay must be a finite number >= 0, got -0.1"),
    ("grad_clip", True, r"grad_clip must be a finite number > 0, got True"),
    ("betas", (0.9, 1.0), r"betas must be a pair of numbers in \[0, 1\), got \(0.9, 1.0\)"),
    ("betas", [0.9, 0.95], r"betas must be a pair of numbers in \[0, 1\), got \[0.9, 0.95\]"),
])
def test_recipe_rejects_bad_fields(field, value, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        LMRecipe(**{field: value})


def test_learning_rate_warms_up_linearly_then_decays_by_a_cosine_to_ten_percent():
    r = LMRecipe(lr=1.0, warmup_fraction=0.1, final_lr_fraction=0.1)
    lrs = [r.lr_at(s, 102) for s in range(102)]  # warm-up: ceil(10.2) = 11 steps; then 91 steps of decay
    assert lrs[:11] == pytest.approx([(s + 1) / 11 for s in range(11)])
    assert lrs[11] == 1.0 and lrs[-1] == pytest.approx(0.1)
    assert lrs[11 + 45] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the decay: the mean of 1 and 0.1
    assert all(a >= b for a, b in itertools.pairwise(lrs[11:]))
    assert LMRecipe(lr=0.5, warmup_fraction=0.0).lr_at(0, 7) == 0.5


# ---------------------------------------------------------------------------------------------------------
# corpora
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stories", "message"), [
    ([], r"stories must be a non-empty list of 1-D integer arrays, got list of length 0"),
    (np.zeros((3, 4), dtype=int), r"stories must be a non-empty list of 1-D integer arrays, got ndarray"),
    ([story(1), np.zeros((2, 2), dtype=int)], r"stories\[1\] must be a non-empty 1-D integer array, got shape \(2, 2"),
    ([story(1), np.array([], dtype=np.int64)], r"stories\[1\] must be a non-empty 1-D integer array, got shape \(0,\)"),
    ([np.array([1.0, 0.0])], r"stories\[0\] must be a non-empty 1-D integer array, got shape \(2,\) and dtype float64"),
    ([story(1), story(2, 12)], r"stories\[1\] holds token id 12, outside \[0, 11\]"),
    ([story(-1)], r"stories\[0\] holds token id -1, outside \[0, 11\]"),
    ([story(1), np.array([3, 4])], r"stories\[1\] must end with the end-of-story id 0, got 4"),
    ([story(1), story(2), story(3, 0, 3)], r"stories\[2\] holds the end-of-story id 0 before its end"),
    ([story(1), story(*([5] * 24))], r"stories\[1\] has 25 tokens, more than the model's context of max_len = 24"),
])
def test_corpora_are_validated(stories, message):
    with pytest.raises(ValueError, match=message):
        check_stories(stories, cfg())
    with pytest.raises(ValueError, match=message):
        fit_lm(stories, rng(), config=cfg())
    with pytest.raises(ValueError, match=message):
        evaluate_lm(init_model(cfg(), 0), stories)


def test_check_stories_accepts_lists_and_tuples_of_any_integer_dtype():
    out = check_stories((np.array([3, 0], dtype=np.int8), [5, 5, 0], story()), cfg())
    assert [a.dtype for a in out] == [np.int64] * 3 and [len(a) for a in out] == [2, 3, 1]


def test_pad_batch_shifts_right_and_masks_padding():
    inputs, targets = pad_batch([story(4, 5, 6), story(7)], EOS)
    assert inputs.tolist() == [[0, 4, 5, 6], [0, 7, 0, 0]]  # BOS (= EOS) first; padding with EOS ids
    assert targets.tolist() == [[4, 5, 6, 0], [7, 0, -100, -100]]


# ---------------------------------------------------------------------------------------------------------
# fit_lm
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_fit_learns_a_repetitive_corpus_far_below_the_uniform_loss(family):
    """Two story types alternate: the best model pays ln 2 for the first token and ~0 for the rest, i.e.
    ln 2 / 5 = 0.14 nats per token on average; uniform guessing costs ln 12 = 2.48. One epoch of 800 stories
    (100 steps of 8) gets below 0.3 nats, while a lr-1e-9 fit stays near the uniform loss."""
    data = two_kinds(800)
    trained = fit_lm(data, rng(), config=cfg(family), recipe=LMRecipe(lr=1e-2, batch_size=8))
    frozen = fit_lm(data, rng(), config=cfg(family), recipe=LMRecipe(lr=1e-9, batch_size=8))
    assert evaluate_lm(frozen, data[:10])["cross_entropy"] == pytest.approx(math.log(V), abs=0.15)
    ce = evaluate_lm(trained, data[:10])["cross_entropy"]
    assert math.log(2) / 5 - 1e-6 < ce < 0.3


def test_fit_is_deterministic_for_a_generator_and_ignores_global_torch_state():
    data = random_stories(60)
    a = fit_lm(data, rng(7), config=cfg(), recipe=LMRecipe(batch_size=8))
    torch.manual_seed(123)
    torch.rand(5)
    b = fit_lm(data, rng(7), config=cfg(), recipe=LMRecipe(batch_size=8))
    c = fit_lm(data, rng(8), config=cfg(), recipe=LMRecipe(batch_size=8))
    assert same_params(a, b) and not same_params(a, c)
    assert not a.training


@pytest.mark.parametrize("family", FAMILIES)
def test_every_fit_starts_from_a_fresh_initialization_drawn_from_rng(family):
    """With a negligible learning rate a fit stays at its initialization: init_model(config, seed) of the seed that
    fit_lm draws from the generator (its first draw)."""
    frozen = LMRecipe(lr=1e-12)
    data = random_stories(20)
    a = fit_lm(data, rng(1), config=cfg(family), recipe=frozen)
    again = fit_lm(data, rng(1), config=cfg(family), recipe=frozen)
    other = fit_lm(data, rng(2), config=cfg(family), recipe=frozen)
    start = init_model(cfg(family), int(rng(1).integers(2**62)))
    assert same_params(a, again)
    assert all(torch.allclose(p, q, atol=1e-9) for p, q in zip(a.parameters(), start.parameters(), strict=True))
    assert not torch.allclose(a.blocks[0].attn.qkv.weight, other.blocks[0].attn.qkv.weight)


@pytest.mark.parametrize(("n", "batch_size", "epochs"), [(50, 8, 1), (50, 8, 2), (7, 16, 1)])
def test_fit_takes_ceil_n_over_batch_steps_per_epoch_on_the_recipes_schedule(monkeypatch, n, batch_size, epochs):
    """Each step's learning rate is recipe.lr_at(step, total), total = epochs * ceil(n / batch_size)."""
    from collapse_utils.models import lm

    seen: list[float] = []
    make = lm.make_optimizer

    def spying(model, recipe):
        opt = make(model, recipe)
        step = opt.step
        def logged_step(*args, **kwargs):
            seen.append(opt.param_groups[0]["lr"])
            assert opt.param_groups[1]["lr"] == seen[-1]
            return step(*args, **kwargs)
        opt.step = logged_step
        return opt

    monkeypatch.setattr(lm, "make_optimizer", spying)
    recipe = LMRecipe(batch_size=batch_size, epochs=epochs, warmup_fraction=0.2)
    fit_lm(random_stories(n), rng(), config=cfg(), recipe=recipe)
    total = epochs * math.ceil(n / batch_size)
    assert seen == [recipe.lr_at(k, total) for k in range(total)]


def test_batches_cover_every_story_once_and_group_similar_lengths():
    from collapse_utils.models.lm import SORT_CHUNK, _length_batches

    lengths = rng(0).integers(1, 100, 1000)
    order = rng(1).permutation(1000)
    batches = _length_batches(lengths, 8, order)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert [len(b) for b in batches] == [8] * 125
    chunk = np.concatenate(batches[:SORT_CHUNK])  # the first chunk: the first 256 stories of the order, by length
    assert sorted(chunk.tolist()) == sorted(order[:8 * SORT_CHUNK].tolist())
    assert (np.diff(lengths[chunk]) >= 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_more_epochs_mean_more_steps(family):
    """64 stories, batches of 8: one epoch is 8 steps (cross-entropy about 2.0 nats), three are 24 (about 1.1-1.3)."""
    data, c = two_kinds(64), cfg(family)
    one = evaluate_lm(fit_lm(data, rng(), config=c, recipe=LMRecipe(lr=1e-2, batch_size=8)), data)
    three = evaluate_lm(fit_lm(data, rng(), config=c, recipe=LMRecipe(lr=1e-2, batch_size=8, epochs=3)), data)
    assert three["cross_entropy"] < one["cross_entropy"] - 0.5


# ---------------------------------------------------------------------------------------------------------
# story_nll / evaluate_lm
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=FAMILIES)
def model(request) -> Decoder:
    torch.manual_seed(0)
    m = Decoder(cfg(request.param)).eval()
    with torch.no_grad():  # logits 40x sharper than at init, so that stories have clearly different probabilities
        m.norm_f.weight.mul_(40.0)
    return m


def test_story_nll_is_minus_the_log_probability_of_the_whole_story(model):
    s = story(3, 9, 9, 1)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([[EOS, 3, 9, 9, 1]])), dim=-1)[0]
    by_hand = -sum(float(logp[t, tok]) for t, tok in enumerate(s))
    assert story_nll(model, [s])[0] == pytest.approx(by_hand, rel=1e-6)


def test_padding_does_not_change_a_storys_nll(model):
    stories = random_stories(30, seed=3)
    alone = np.array([story_nll(model, [s])[0] for s in stories])
    batched = story_nll(model, stories, batch_size=7)  # batches of mixed lengths, right-padded
    np.testing.assert_allclose(batched, alone, rtol=1e-5)
    assert batched.dtype == np.float64 and batched.shape == (30,)
    np.testing.assert_allclose(story_nll(model, stories[::-1], batch_size=30), alone[::-1], rtol=1e-5)


def test_evaluate_reports_cross_entropy_per_token_and_its_totals(model):
    stories = random_stories(25, seed=4)
    m = evaluate_lm(model, stories, batch_size=4)
    n_tokens = sum(len(s) for s in stories)
    nll = story_nll(model, stories, batch_size=4)  # the same batches as evaluate_lm's
    assert list(m) == ["cross_entropy", "nll_per_story", "total_nll", "n_tokens"]
    assert all(type(v) is float for v in m.values())
    assert m["n_tokens"] == n_tokens
    assert m["total_nll"] == pytest.approx(nll.sum(), rel=1e-9)
    assert m["cross_entropy"] == pytest.approx(nll.sum() / n_tokens, rel=1e-9)
    assert m["nll_per_story"] == pytest.approx(nll.mean(), rel=1e-9)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_model_with_zero_logits_pays_ln_v_per_token(family):
    m = init_model(cfg(family), 0).eval()
    with torch.no_grad():
        m.head.weight.zero_()
    out = evaluate_lm(m, random_stories(10))
    assert out["cross_entropy"] == pytest.approx(math.log(V), rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# sample_lm
# ---------------------------------------------------------------------------------------------------------


def greedy_by_hand(model: Decoder, max_len: int) -> np.ndarray:
    """Greedy decoding with a full forward pass per token (no cache)."""
    seq = [EOS]
    with torch.no_grad():
        for _ in range(max_len):
            nxt = int(model(torch.tensor([seq]))[0, -1].argmax())
            seq.append(nxt)
            if nxt == EOS:
                break
    out = np.array(seq[1:])
    if out[-1] != EOS:
        out[-1] = EOS
    return out


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("max_len", [5, 24])
def test_temperature_zero_is_greedy_decoding(family, max_len):
    torch.manual_seed(1)
    m = Decoder(cfg(family)).eval()
    with torch.no_grad():
        m.norm_f.weight.mul_(40.0)  # sharp logits: far from uniform
    expected = greedy_by_hand(m, max_len)
    got = sample_lm(m, 3, rng(), temperature=0.0, max_len=max_len)
    assert len(expected) > 1
    assert all(np.array_equal(s, expected) for s in got)


def test_a_story_stops_at_its_first_eos_which_it_includes():
    m = Scripted(counting_table(4))
    got = sample_lm(m, 5, rng(), temperature=1.0)
    assert all(s.tolist() == [1, 2, 3, 4, EOS] for s in got)
    assert len(m.widths) == 5  # the batch stopped when every story had ended, after 5 steps (not max_len = 24)


def test_a_story_without_eos_is_cut_at_max_len_and_ends_with_eos():
    m = Scripted(counting_table(20, vocab=24))
    for max_len in (1, 3, 7):
        got = sample_lm(m, 2, rng(), max_len=max_len)
        assert all(s.tolist() == [*range(1, max_len), EOS] for s in got)


def test_stories_are_int64_arrays_and_batches_of_any_size_cover_n():
    m = Scripted(counting_table(2))
    got = sample_lm(m, 10, rng(), batch_size=4)
    assert len(got) == 10 and all(s.dtype == np.int64 and s.ndim == 1 for s in got)
    assert m.widths[:3] == [4, 4, 4] and m.widths[-1] == 2  # 4 + 4 + 2 stories


def test_sampling_follows_the_temperature_scaled_distribution():
    """First-token frequencies of 6000 stories match softmax(logits / T) (chi-square test, p > 1e-4 at a fixed seed)."""
    table = torch.zeros(4, 4)
    table[EOS] = torch.tensor([0.0, 1.0, 2.0, -1.0])  # the first token: EOS, 1, 2 or 3
    table[1:, EOS] = 1e4  # then the story ends
    for temperature in (1.0, 0.5, 2.0):
        first = [int(s[0]) if len(s) > 1 else EOS for s in sample_lm(Scripted(table), 6000, rng(5),
                                                                     temperature=temperature)]
        counts = np.bincount(first, minlength=4)
        p = torch.softmax(table[EOS].double() / temperature, dim=0).numpy()
        expected = 6000 * p / p.sum()
        assert stats.chisquare(counts, expected).pvalue > 1e-4, (temperature, counts, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_cached_batched_sampling_draws_stories_from_the_model(family):
    """All 15 stories of a 3-token vocabulary capped at 4 tokens, their exact probabilities from full forward passes,
    against the frequencies of 3000 sampled stories (batches of 64 that drop finished stories as they go)."""
    torch.manual_seed(2)
    m = Decoder(cfg(family, vocab_size=3, max_len=4)).eval()
    with torch.no_grad():
        m.norm_f.weight.mul_(3.0)  # probabilities of the 15 stories from about 0.02 to 0.45
    probs = {}
    with torch.no_grad():
        for n_words in range(4):
            for words in np.ndindex(*([2] * n_words)):
                words = [w + 1 for w in words]
                logp = torch.log_softmax(m(torch.tensor([[EOS, *words]])), dim=-1)[0].double()
                lp = sum(float(logp[t, w]) for t, w in enumerate(words))
                if n_words < 3:
                    lp += float(logp[n_words, EOS])  # natural end; at 3 words the story is cut (any 4th token)
                probs[(*words, EOS)] = math.exp(lp)
    total = sum(probs.values())
    assert total == pytest.approx(1.0, abs=1e-6)  # the 15 stories are all there is
    probs = {k: p / total for k, p in probs.items()}
    got = sample_lm(m, 3000, rng(9), batch_size=64)
    counts = {k: 0 for k in probs}
    for s in got:
        counts[tuple(s.tolist())] += 1
    keys = [k for k in probs if probs[k] * 3000 >= 5]  # chi-square needs expected counts >= 5; pool the rest
    observed = [counts[k] for k in keys] + [3000 - sum(counts[k] for k in keys)]
    expected = [3000 * probs[k] for k in keys] + [3000 * (1 - sum(probs[k] for k in keys))]
    assert len(keys) == 15
    assert stats.chisquare(observed, expected).pvalue > 1e-4, (observed, expected)


def test_sampling_is_deterministic_for_a_generator():
    torch.manual_seed(3)
    m = Decoder(cfg("llama")).eval()
    a = sample_lm(m, 20, rng(4), max_len=10, batch_size=8)
    torch.manual_seed(99)
    b = sample_lm(m, 20, rng(4), max_len=10, batch_size=8)
    c = sample_lm(m, 20, rng(5), max_len=10, batch_size=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert all(len(s) <= 10 and s[-1] == EOS and (s[:-1] != EOS).all() for s in a + c)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0}, r"n must be an integer >= 1, got 0"),
    ({"n": 2.0}, r"n must be an integer >= 1, got 2.0"),
    ({"temperature": -0.1}, r"temperature must be a finite number >= 0, got -0.1"),
    ({"temperature": float("inf")}, r"temperature must be a finite number >= 0, got inf"),
    ({"max_len": 0}, r"max_len must be an integer >= 1, got 0"),
    ({"max_len": 25}, r"max_len must be in \[1, 24\] \(the model's context\), got 25"),
    ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
])
def test_sample_rejects_bad_arguments(kwargs, message):
    args = {"n": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample_lm(init_model(cfg(), 0), args.pop("n"), rng(), **args)


# ---------------------------------------------------------------------------------------------------------
# the language model in the feedback loop
# ---------------------------------------------------------------------------------------------------------
