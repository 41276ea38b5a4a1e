"""Simple diversity and quality statistics of a set of token stories (generated or real).

The accumulate paper reports only test cross-entropy; the language-model chapter adds what a reader sees in the
samples themselves: how long the stories are, how many distinct words and word pairs/triples they use, and, for the
synthetic language whose law is known, how many generated stories are grammatical at all and how likely they are
under the true law. Compare sets of the **same size**: distinct-n-gram ratios fall as a set grows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from collapse_utils.validation import Int, fail, validate


@validate(n=Int(1), eos_id=Int(0))
def distinct_ngrams(stories: Sequence[np.ndarray], n: int, *, eos_id: int = 0) -> float:
    """Number of distinct ``n``-grams divided by the number of ``n``-grams in ``stories`` (Li et al. 2016's distinct-n).

    The end-of-story token is removed first; n-grams do not cross story boundaries. Returns NaN when no story has
    ``n`` tokens.
    """
    seen, total = set(), 0
    for story in stories:
        s = np.asarray(story)
        s = s[s != eos_id]
        if len(s) < n:
            continue
        grams = np.lib.stride_tricks.sliding_window_view(s, n)
        seen.update(map(tuple, grams.tolist()))
        total += len(grams)
    return len(seen) / total if total else float("nan")


@validate(eos_id=Int(0))
def story_stats(stories: Sequence[np.ndarray], *, eos_id: int = 0,
                true_nll: Callable[[list[np.ndarray]], np.ndarray] | None = None,
                valid_words: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> dict[str, float]:
    """Length, vocabulary and n-gram diversity of ``stories``; with ``true_nll``, their quality under the true law.

    Parameters
    ----------
    stories
        Token stories (each ending with ``eos_id``), a non-empty sequence.
    eos_id
        The end-of-story id (not counted as a word).
    true_nll
        Maps the stories to their exact negative log-likelihoods under the true law (``inf`` for a story outside the
        language), e.g. the synthetic grammar's ``true_nll`` after decoding.

    Returns
    -------
    dict of str to float
        ``mean_length`` (tokens, end-of-story included), ``vocab_used`` (distinct token ids), ``distinct_2`` and
        ``distinct_3``; with ``true_nll`` also ``grammatical`` (share of stories in the language) and
        ``true_nll_per_token`` (mean over the grammatical stories of their NLL per token: lower = more typical,
        the entropy per token of the language is the value for its own samples); with ``valid_words`` (the number
        of each story's words the grammar reads before its first error) their mean, ``valid_words``.
    """
    if len(stories) == 0:
        fail("stories", "a non-empty sequence of token stories", stories)
    lengths = np.array([len(s) for s in stories], dtype=float)
    tokens = np.concatenate([np.asarray(s) for s in stories])
    out = {"mean_length": float(lengths.mean()), "vocab_used": float(len(np.unique(tokens[tokens != eos_id]))),
           "distinct_2": distinct_ngrams(stories, 2, eos_id=eos_id),
           "distinct_3": distinct_ngrams(stories, 3, eos_id=eos_id)}
    if true_nll is not None:
        nll = np.asarray(true_nll(list(stories)), dtype=float)
        ok = np.isfinite(nll)
        out["grammatical"] = float(ok.mean())
        out["true_nll_per_token"] = float(nll[ok].sum() / lengths[ok].sum()) if ok.any() else float("nan")
    if valid_words is not None:
        out["valid_words"] = float(np.mean(valid_words(list(stories))))
    return out
