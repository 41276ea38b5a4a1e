"""Word-level and byte-level BPE tokenizers of the language-model chapter (collapse_utils.data.tokenizer)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from collapse_utils.data.story_grammar import DEFAULT_GRAMMAR
from collapse_utils.data.tinystories import load_tinystories_local
from collapse_utils.data.tokenizer import BPETokenizer, WordTokenizer, join_words, split_words

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tinystories_tiny.jsonl"


@pytest.fixture(scope="module")
def stories() -> list[str]:
    return DEFAULT_GRAMMAR.sample(1000, np.random.default_rng(0))


@pytest.fixture(scope="module")
def word_tok(stories) -> WordTokenizer:
    return WordTokenizer.train(stories)


# ---------------------------------------------------------------------------------------------------------------
# the word rule
# ---------------------------------------------------------------------------------------------------------------


def test_split_and_join_handle_punctuation_and_quotes():
    text = '"Do you want to play with my ball?" Lily asked Tom. Tom said, "Yes, Lily!" The end.'
    tokens = split_words(text)
    assert tokens[:3] == ['"', "Do", "you"]
    assert tokens[9:13] == ["?", '"', "Lily", "asked"]
    assert tokens.count('"') == 4 and tokens.count(",") == 2
    assert join_words(tokens) == text


def test_split_inverts_join_on_any_token_sequence():
    rng = np.random.default_rng(0)
    pool = ["Lily", "ran", "a", ".", ",", "!", "?", '"']
    for _ in range(200):
        tokens = list(rng.choice(pool, size=int(rng.integers(1, 12))))
        assert split_words(join_words(tokens)) == tokens


# ---------------------------------------------------------------------------------------------------------------
# WordTokenizer
# ---------------------------------------------------------------------------------------------------------------


def test_word_tokenizer_round_trips_grammar_stories(word_tok, stories):
    batch = word_tok.encode_batch(stories)
    assert word_tok.decode_batch(batch) == stories
    for text, ids in zip(stories, batch, strict=True):
        assert ids[-1] == word_tok.eos_id == 0
        assert 0 not in ids[:-1]
        assert len(ids) == DEFAULT_GRAMMAR.n_tokens(text)  # one id per word or mark, plus <eos>


def test_word_tokenizer_vocabulary_is_sorted_and_deterministic(word_tok, stories):
    words = word_tok.words
    assert words[0] == "<eos>" and list(words[1:]) == sorted(words[1:])
    assert word_tok.vocab_size == len(words) == len(set().union(*(split_words(t) for t in stories))) + 1
    again = WordTokenizer.train(list(reversed(stories)))
    assert again.words == words


def test_word_tokenizer_extra_words_cover_the_grammar():
    vocab = DEFAULT_GRAMMAR.vocabulary()
    tok = WordTokenizer.train(DEFAULT_GRAMMAR.sample(5, np.random.default_rng(1)), extra_words=vocab)
    assert tok.vocab_size == len(vocab) + 1
    every_word = join_words(list(vocab))
    assert tok.decode(tok.encode(every_word)) == every_word  # every grammar word is known


def test_word_tokenizer_decode_stops_at_eos(word_tok, stories):
    ids = word_tok.encode(stories[0])
    assert word_tok.decode([*ids, 5, 6, 0]) == stories[0]
    assert word_tok.decode(np.array(ids[:3])) == join_words(split_words(stories[0])[:3])
    assert word_tok.decode([]) == ""


# ---------------------------------------------------------------------------------------------------------------
# BPETokenizer
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_splits() -> tuple[list[str], list[str]]:
    return load_tinystories_local(FIXTURE, split="train"), load_tinystories_local(FIXTURE, split="validation")


@pytest.fixture(scope="module")
def bpe(fixture_splits) -> BPETokenizer:
    pytest.importorskip("tokenizers")
    return BPETokenizer.train(fixture_splits[0], vocab_size=400)


def test_bpe_round_trips_seen_and_unseen_stories(bpe, fixture_splits):
    train, validation = fixture_splits
    odd = "  Odd   spacing,\ttabs\nand a café 😀 "
    for text in [*train, *validation, odd]:
        ids = bpe.encode(text)
        assert ids[-1] == bpe.eos_id and bpe.eos_id not in ids[:-1]
        assert bpe.decode(ids) == text
    assert bpe.decode_batch(bpe.encode_batch(validation)) == validation
    assert bpe.encode_batch(validation) == [bpe.encode(t) for t in validation]


def test_bpe_eos_and_vocabulary_size(bpe, fixture_splits):
    assert bpe.eos_id == bpe.backend.token_to_id("<|endoftext|>") == 0
    assert 257 <= bpe.vocab_size <= 400
    # BPE merges: the training stories take fewer tokens than bytes
    text = fixture_splits[0][0]
    assert len(bpe.encode(text)) < 0.5 * len(text.encode())


def test_bpe_training_is_deterministic(bpe, fixture_splits):
    again = BPETokenizer.train(fixture_splits[0], vocab_size=400)
    assert again.backend.get_vocab() == bpe.backend.get_vocab()
    assert again.encode(fixture_splits[1][0]) == bpe.encode(fixture_splits[1][0])


def test_bpe_decode_stops_at_eos(bpe):
    ids = bpe.encode("Lily ran.")
    assert bpe.decode([*ids, *bpe.encode("Tom sat.")]) == "Lily ran."


def test_bpe_without_tokenizers_names_the_install(monkeypatch, fixture_splits):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers now raises ImportError
    with pytest.raises(ImportError, match=re.escape("pip install tokenizers")):
        BPETokenizer.train(fixture_splits[0], vocab_size=300)
