"""The corpus switch (collapse_utils.data.corpus) and the story statistics (collapse_utils.text_metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collapse_utils.data import corpus as corpus_mod
from collapse_utils.data.corpus import load_corpus
from collapse_utils.data.story_grammar import DEFAULT_GRAMMAR
from collapse_utils.text_metrics import distinct_ngrams, story_stats


@pytest.fixture(scope="module")
def small():
    return load_corpus("synthetic", n_train=300, n_test=100, seed=3)


def test_synthetic_corpus_tokens_round_trip_and_end_with_eos(small):
    assert small.name == "synthetic" and small.grammar is DEFAULT_GRAMMAR and small.n_dropped == 0
    assert len(small.train) == 300 and len(small.test) == 100
    eos = small.tokenizer.eos_id
    for text, ids in zip(small.train_texts + small.test_texts, small.train + small.test, strict=True):
        assert ids.dtype == np.int64 and ids[-1] == eos and (ids[:-1] != eos).all()
        assert small.decode(ids) == text


def test_synthetic_corpus_is_deterministic_and_its_splits_differ(small):
    again = load_corpus("synthetic", n_train=300, n_test=100, seed=3)
    assert again.train_texts == small.train_texts and again.test_texts == small.test_texts
    assert small.train_texts[:100] != small.test_texts  # independent streams, not one sample split twice
    other = load_corpus("synthetic", n_train=300, n_test=100, seed=4)
    assert other.train_texts != small.train_texts


def test_true_law_of_real_stories_is_finite_and_of_garbage_infinite(small):
    nll = small.true_nll(small.test)
    assert np.isfinite(nll).all() and (nll > 0).all()
    garbage = [[*small.test[0][::-1][1:].tolist(), small.tokenizer.eos_id]]
    assert small.true_nll([np.array(g) for g in garbage])[0] == math.inf
    assert small.valid_words(small.test[:20]).tolist() == [len(s) - 1 for s in small.test[:20]]  # all words
    assert small.valid_words([np.array(g) for g in garbage])[0] < 5


def test_long_stories_are_dropped_and_counted(small):
    lengths = [len(s) for s in small.train + small.test]
    cap = int(np.median(lengths))
    capped = load_corpus("synthetic", n_train=300, n_test=100, seed=3, max_len=cap)
    assert capped.n_dropped == sum(n > cap for n in lengths)
    assert max(len(s) for s in capped.train + capped.test) <= cap


def test_auto_falls_back_to_the_synthetic_language_offline(monkeypatch):
    monkeypatch.setattr(corpus_mod, "_tinystories_available", lambda: False)
    assert load_corpus("auto", n_train=5, n_test=5, seed=0).name == "synthetic"


def test_tinystories_corpus_goes_through_the_loader_and_a_bpe(monkeypatch):
    texts = {"train": [f"Tom saw a {c} dog. The dog was happy." for c in ("red", "big", "small", "brown")] * 10,
             "validation": ["Tom saw a red dog. The dog was sad."] * 3}
    monkeypatch.setattr(corpus_mod.tinystories, "load_tinystories", lambda split, n: texts[split][:n])
    got = load_corpus("tinystories", n_train=40, n_test=3, seed=0, vocab_size=300)
    assert got.name == "tinystories" and got.grammar is None and got.tokenizer.vocab_size <= 300
    assert [got.decode(s) for s in got.test] == texts["validation"]
    with pytest.raises(ValueError, match="no known law"):
        got.true_nll(got.test)


def test_distinct_ngrams_counts_within_stories_only():
    a, b = np.array([1, 2, 3, 1, 2, 0]), np.array([3, 1, 0])
    # bigrams of a: 12 23 31 12 -> 3 distinct of 4; of b: 31 (seen) -> 3 distinct of 5
    assert distinct_ngrams([a, b], 2) == pytest.approx(3 / 5)
    assert distinct_ngrams([a], 1) == pytest.approx(3 / 5)
    assert math.isnan(distinct_ngrams([np.array([5, 0])], 2))


def test_story_stats_of_real_stories(small):
    stats = story_stats(small.test, eos_id=small.tokenizer.eos_id, true_nll=small.true_nll,
                        valid_words=small.valid_words)
    assert stats["grammatical"] == 1.0 and stats["valid_words"] == pytest.approx(stats["mean_length"] - 1)
    assert stats["mean_length"] == pytest.approx(np.mean([len(s) for s in small.test]))
    assert 0.3 < stats["true_nll_per_token"] < 1.0
    assert 100 < stats["vocab_used"] < small.tokenizer.vocab_size
    repeated = story_stats([small.test[0]] * 50, eos_id=small.tokenizer.eos_id)
    assert repeated["distinct_3"] < stats["distinct_3"] and "grammatical" not in repeated
