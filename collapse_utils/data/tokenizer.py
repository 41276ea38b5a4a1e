"""Tokenizers of the language-model chapter: a word-level one for the story grammar, a byte-level BPE for TinyStories.

Both share one interface: ``train(texts, ...)`` builds the vocabulary from **training texts only**;
``encode(text)`` returns token ids **followed by the end-of-story id** (``eos_id``); ``decode(ids)`` stops at the
first end-of-story id and returns the text; ``encode_batch`` / ``decode_batch`` map over lists; ``vocab_size``
counts every id. Round trips are exact: ``decode(encode(text)) == text``.

- :class:`WordTokenizer` splits a text into words and the punctuation marks ``. , ! ? "`` (:func:`split_words`)
  and joins them back with the spacing rule of :func:`join_words`. Every story of
  :mod:`collapse_utils.data.story_grammar` is written in that canonical spacing, so the word tokenizer is lossless on
  the synthetic language, and one token is one word of its grammar. ``<eos>`` has id 0; the other ids follow the
  sorted vocabulary, so the same texts always give the same ids.
- :class:`BPETokenizer` wraps a byte-level BPE of the Hugging Face ``tokenizers`` library (as GPT-2's tokenizer), with
  ``<|endoftext|>`` as the end-of-story token and the vocabulary size 8000 of the accumulate paper's TinyStories runs
  (Gerstgrasser et al. 2024, Section 3) by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from collapse_utils.validation import Instance, Int, Strings, fail, validate

_WORD_RE = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = frozenset(".,!?")


_TEXT = Instance(str)


@validate(text=_TEXT)
def split_words(text: str) -> list[str]:
    """The word tokens of ``text``: runs of letters or digits, and each other non-space character on its own.

    ``"Lily said, \\"Hi!\\""`` gives ``['Lily', 'said', ',', '"', 'Hi', '!', '"']``. Spaces are dropped; the canonical
    spacing is restored by :func:`join_words`.
    """
    return _WORD_RE.findall(text)


@validate(tokens=Strings(nonempty=False))
def join_words(tokens: Sequence[str]) -> str:
    """Join word tokens with single spaces, except before ``. , ! ?`` and inside quotation marks.

    Quotation marks alternate between opening (a space before, none after) and closing (no space before), so
    ``['Lily', 'said', ',', '"', 'Hi', '!', '"']`` gives ``Lily said, "Hi!"``. For tokens of :func:`split_words`,
    ``split_words(join_words(tokens)) == tokens``; a text equal to ``join_words(split_words(text))`` is *canonical*.
    """
    parts: list[str] = []
    quote_open = False
    previous = None
    for token in tokens:
        if previous is not None:
            closing = token == '"' and quote_open
            if not (token in _NO_SPACE_BEFORE or closing or (previous == '"' and quote_open)):
                parts.append(" ")
        if token == '"':
            quote_open = not quote_open
        parts.append(token)
        previous = token
    return "".join(parts)


def _ids_until_eos(ids: Iterable, eos_id: int, vocab_size: int) -> list[int]:
    """The ids before the first end-of-story id, as ints; fails for an id outside ``0 .. vocab_size - 1``."""
    out = []
    for raw in ids:
        i = int(raw)
        if not 0 <= i < vocab_size:
            fail("ids", f"token ids in 0 .. {vocab_size - 1}", i)
        if i == eos_id:
            break
        out.append(i)
    return out


class WordTokenizer:
    """A word-level tokenizer with ``<eos>`` = id 0: lossless on texts in the canonical spacing of :func:`join_words`.

    Build it with :meth:`train`. Encoding a word outside the vocabulary raises a ValueError that names the word (there
    is no ``<unk>``: the synthetic language has a closed vocabulary, see ``StoryGrammar.vocabulary()``).
    """

    EOS = "<eos>"

    @validate(words=Strings(nonempty=False))
    def __init__(self, words: Sequence[str]):
        """A tokenizer with ids ``0 = <eos>`` and ``1, 2, ...`` = ``words`` in the given order (use :meth:`train`)."""
        if self.EOS in words or len(set(words)) != len(words) or any(split_words(w) != [w] for w in words):
            fail("words", f"distinct tokens of split_words, without {self.EOS!r}", words)
        self._id_to_word = [self.EOS, *words]
        self._word_to_id = {w: i for i, w in enumerate(self._id_to_word)}

    @classmethod
    @validate(texts=Strings(), extra_words=Strings(nonempty=False))
    def train(cls, texts: Iterable[str], *, extra_words: Iterable[str] = ()) -> WordTokenizer:
        """The vocabulary of ``texts`` plus ``extra_words``, sorted (so ids are deterministic), after ``<eos>`` = 0.

        Parameters
        ----------
        texts
            Training stories (a non-empty sequence of str).
        extra_words
            Words to include even if the training texts lack them, e.g. ``StoryGrammar.vocabulary()``.
        """
        vocab = set()
        for text in [*texts, *extra_words]:
            vocab.update(split_words(text))
        return cls(sorted(vocab))

    @property
    def vocab_size(self) -> int:
        """Number of ids, ``<eos>`` included."""
        return len(self._id_to_word)

    @property
    def eos_id(self) -> int:
        """The id of the end-of-story token (0)."""
        return 0

    @property
    def words(self) -> tuple[str, ...]:
        """The word of each id (``words[0] == '<eos>'``)."""
        return tuple(self._id_to_word)

    @validate(text=_TEXT)
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` followed by ``eos_id``; a ValueError for an unknown word or non-canonical spacing."""
        tokens = split_words(text)
        if join_words(tokens) != text:
            fail("text", "in the canonical spacing of join_words (so that it round-trips)", text)
        unknown = [t for t in tokens if t not in self._word_to_id]
        if unknown:
            fail("text", f"words of the vocabulary of {self.vocab_size} tokens (unknown word {unknown[0]!r})", text)
        return [*(self._word_to_id[t] for t in tokens), 0]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to (not including) the first ``eos_id``."""
        return join_words([self._id_to_word[i] for i in _ids_until_eos(ids, 0, self.vocab_size)])

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of each text."""
        return [self.encode(t) for t in texts]

    def decode_batch(self, batch: Iterable[Iterable[int]]) -> list[str]:
        """:meth:`decode` of each id sequence."""
        return [self.decode(ids) for ids in batch]


def _import_tokenizers():
    try:
        import tokenizers
    except ImportError as err:
        raise ImportError("BPETokenizer needs the Hugging Face tokenizers library: pip install tokenizers "
                          "(or the package's extra: pip install 'collapse-reproduced[lm]')") from err
    return tokenizers


class BPETokenizer:
    """A byte-level BPE (Hugging Face ``tokenizers``) with ``<|endoftext|>`` as the end-of-story token (id 0).

    Build it with :meth:`train`; the wrapped ``tokenizers.Tokenizer`` is :attr:`backend`. Byte-level BPE covers every
    byte, so any text encodes without an unknown token and decodes back exactly.
    """

    EOS = "<|endoftext|>"

    def __init__(self, backend):
        """Wrap a trained ``tokenizers.Tokenizer`` whose vocabulary holds ``<|endoftext|>`` (use :meth:`train`)."""
        eos = backend.token_to_id(self.EOS)
        if eos is None:
            fail("backend", f"a tokenizer whose vocabulary holds the end-of-story token {self.EOS!r}", backend)
        self.backend = backend
        self._eos_id = int(eos)

    @classmethod
    @validate(texts=Strings(), vocab_size=Int(257), min_frequency=Int(1))
    def train(cls, texts: Iterable[str], *, vocab_size: int = 8000, min_frequency: int = 2) -> BPETokenizer:
        """Train a byte-level BPE of at most ``vocab_size`` tokens on ``texts`` (the training split only).

        Parameters
        ----------
        texts
            Training stories (a non-empty sequence of str).
        vocab_size
            Largest vocabulary, ``<|endoftext|>`` and the 256 byte tokens included: an integer >= 257 (8000 in the
            accumulate paper). A small corpus may stop short of it.
        min_frequency
            A pair merges only if it occurs at least this often, an integer >= 1.
        """
        tk = _import_tokenizers()
        backend = tk.Tokenizer(tk.models.BPE())
        backend.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                         special_tokens=[cls.EOS],
                                         initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())
        backend.train_from_iterator(texts, trainer=trainer, length=len(texts))
        return cls(backend)

    @property
    def vocab_size(self) -> int:
        """Number of ids, ``<|endoftext|>`` included."""
        return self.backend.get_vocab_size()

    @property
    def eos_id(self) -> int:
        """The id of ``<|endoftext|>``."""
        return self._eos_id

    @validate(text=_TEXT)
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` followed by ``eos_id``."""
        return [*self.backend.encode(text, add_special_tokens=False).ids, self._eos_id]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to (not including) the first ``eos_id``."""
        return self.backend.decode(_ids_until_eos(ids, self._eos_id, self.vocab_size), skip_special_tokens=False)

    @validate(texts=Strings(nonempty=False))
    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of each text (the library encodes the batch in parallel)."""
        encodings = self.backend.encode_batch(texts, add_special_tokens=False)
        return [[*e.ids, self._eos_id] for e in encodings]

    def decode_batch(self, batch: Iterable[Iterable[int]]) -> list[str]:
        """:meth:`decode` of each id sequence."""
        return [self.decode(ids) for ids in batch]
