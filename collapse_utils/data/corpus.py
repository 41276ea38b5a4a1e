"""One switch between the two story corpora of the language-model chapter, with the same pipeline after it.

``"synthetic"`` (the default, offline)
    Stories sampled from :data:`collapse_utils.data.story_grammar.DEFAULT_GRAMMAR`, a stochastic grammar whose exact
    log-probability is known, so the chapter can report the true entropy per token and each model's excess loss.
    Word-level tokenizer (:class:`~collapse_utils.data.tokenizer.WordTokenizer`) trained on the training split.
``"tinystories"`` (online)
    The real TinyStories (Eldan & Li 2023) through Hugging Face ``datasets``
    (:func:`~collapse_utils.data.tinystories.load_tinystories`; fails fast when offline), with a byte-level BPE of
    8000 tokens (the paper's vocabulary size) trained on the training split. No known law: ``grammar`` is ``None``.
``"auto"``
    TinyStories when ``huggingface.co`` is reachable and ``datasets`` is installed, else the synthetic language.

Either way the result is a :class:`StoryCorpus`: texts, the tokenizer, and the token corpora the models train on
(lists of int64 arrays, each story ending with the end-of-story id; see :mod:`collapse_utils.models.lm`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from collapse_utils.data import tinystories
from collapse_utils.data.story_grammar import DEFAULT_GRAMMAR, StoryGrammar
from collapse_utils.data.tokenizer import BPETokenizer, WordTokenizer, split_words
from collapse_utils.validation import Instance, Int, OneOf, fail, validate

CORPORA = ("synthetic", "tinystories", "auto")


@dataclass(frozen=True, eq=False)
class StoryCorpus:
    """Training and test stories of one corpus, as texts and as token arrays, with their tokenizer."""

    name: str  # "synthetic" or "tinystories"
    train_texts: list[str]
    test_texts: list[str]
    tokenizer: Any  # WordTokenizer or BPETokenizer
    train: list[np.ndarray]  # token ids per story, ending with tokenizer.eos_id
    test: list[np.ndarray]
    grammar: StoryGrammar | None  # the known law (synthetic only)
    n_dropped: int  # stories longer than max_len tokens, left out of both splits

    def decode(self, story: np.ndarray) -> str:
        """The text of a token story (its end-of-story token dropped)."""
        ids = [int(t) for t in story]
        if ids and ids[-1] == self.tokenizer.eos_id:
            ids = ids[:-1]
        return self.tokenizer.decode(ids)

    def true_nll(self, stories) -> np.ndarray:
        """Exact ``-log p(story)`` (nats) of token stories under the synthetic grammar; ``inf`` outside the language."""
        if self.grammar is None:
            raise ValueError(f"the {self.name!r} corpus has no known law; true_nll needs the synthetic corpus")
        return self.grammar.true_nll([self.decode(s) for s in stories])

    def valid_words(self, stories) -> np.ndarray:
        """Number of words of each token story that the synthetic grammar reads before its first error."""
        if self.grammar is None:
            raise ValueError(f"the {self.name!r} corpus has no known law; valid_words needs the synthetic corpus")
        return np.array([self.grammar.valid_prefix(self.decode(story)) for story in stories], dtype=float)


def _encode(tokenizer, texts: list[str], max_len: int) -> tuple[list[str], list[np.ndarray]]:
    kept_texts, kept = [], []
    for text, ids in zip(texts, tokenizer.encode_batch(texts), strict=True):
        if len(ids) <= max_len:
            kept_texts.append(text)
            kept.append(np.asarray(ids, dtype=np.int64))
    return kept_texts, kept


@validate(name=OneOf(*CORPORA), n_train=Int(1), n_test=Int(1), seed=Int(0), max_len=Int(2), vocab_size=Int(257),
          grammar=Instance(StoryGrammar))
def load_corpus(name: str = "synthetic", *, n_train: int, n_test: int, seed: int, max_len: int = 256,
                vocab_size: int = 8000, grammar: StoryGrammar = DEFAULT_GRAMMAR) -> StoryCorpus:
    """Load (or sample) a story corpus and tokenize it.

    Parameters
    ----------
    name
        ``"synthetic"``, ``"tinystories"`` or ``"auto"`` (see the module docstring); ``COLLAPSE_CORPUS`` is not read
        here, the chapter passes its choice.
    n_train, n_test
        Numbers of training and test stories (integers >= 1). Synthetic stories are drawn from independent seeded
        streams; TinyStories takes the first stories of its ``train`` and ``validation`` splits.
    seed
        Seed of the synthetic samples (integer >= 0).
    max_len
        Longest story in tokens, end-of-story included (integer >= 2); longer stories are dropped from both splits and
        counted in ``n_dropped`` (none in the synthetic language, whose longest story is ~110 words).
    vocab_size
        BPE vocabulary for TinyStories (integer >= 257: the byte alphabet plus merges).
    grammar
        The synthetic language.
    """
    if name == "auto":
        name = "tinystories" if _tinystories_available() else "synthetic"
    if name == "synthetic":
        train_texts = grammar.sample(n_train, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,))))
        test_texts = grammar.sample(n_test, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))))
        tokenizer = WordTokenizer.train(train_texts)
        known = {tokenizer.decode([i]) for i in range(1, tokenizer.vocab_size)}
        missing = sorted({w for t in test_texts for w in split_words(t)} - known)
        if missing:  # a rare word of the test split never drawn for training: give it an id rather than fail
            tokenizer = WordTokenizer.train(train_texts, extra_words=missing)
    else:
        train_texts = tinystories.load_tinystories("train", n=n_train)
        test_texts = tinystories.load_tinystories("validation", n=n_test)
        tokenizer = BPETokenizer.train(train_texts, vocab_size=vocab_size)
        grammar = None
    n_before = len(train_texts) + len(test_texts)
    train_texts, train = _encode(tokenizer, train_texts, max_len)
    test_texts, test = _encode(tokenizer, test_texts, max_len)
    if not train or not test:
        fail("max_len", "long enough to keep a story of each split", max_len)
    return StoryCorpus(name, train_texts, test_texts, tokenizer, train, test, grammar,
                       n_before - len(train_texts) - len(test_texts))


def _tinystories_available() -> bool:
    try:
        import datasets  # noqa: F401
    except ImportError:
        return False
    if os.environ.get("HF_DATASETS_OFFLINE") or os.environ.get("HF_HUB_OFFLINE"):
        return False
    return tinystories.hub_reachable()
