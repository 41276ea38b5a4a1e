"""The synthetic story language of the language-model chapter (collapse_utils.data.story_grammar).

Exact facts are checked on a tiny lexicon, whose ~10^4 stories can all be listed; the default language is checked on
samples (round trips, reference consistency, the size of its vocabulary and stories, its entropy per token).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from collapse_utils.data import story_grammar as sg
from collapse_utils.data.tokenizer import WordTokenizer, join_words, split_words

G = sg.DEFAULT_GRAMMAR
LEX = sg.DEFAULT_LEXICON
# 300 stories of seed 0: their texts and derivations hashed (exact on any machine), and the sum of their
# log-probabilities (np.log's last bit differs between CPUs' SIMD paths, so that is compared to 1e-12, not hashed).
# Both were computed with the language as it was before its words moved to story_words.py: unchanged by the move.
STORIES_SHA256 = "b4df1a59ed181db0"
STORIES_LOG_PROB = -12482.544390135517


def tiny_lexicon(max_events: int = 2) -> sg.StoryLexicon:
    """A small lexicon whose stories can all be listed (:meth:`StoryGrammar.enumerate_stories`).

    It keeps the default templates of the lost-toy and friend events (so the Markov chain, ``can_end`` and the friend
    rules are exercised), one or two words per list, and at most ``max_events`` events.
    """
    keep = {"go", "meet", "hug", "lose", "search", "find", "help"}
    events = tuple(replace(e, follows=None if e.follows is None else tuple(k for k in e.follows if k in keep))
                   for e in LEX.events if e.key in keep)
    return sg.StoryLexicon(
        girl_names=("Lily", "Sue"), boy_names=("Tom", "Ben"), animals=(), traits=("little",), toys=("ball", "kite"),
        colours=("red",), places=("park", "beach"), feelings=("happy",), sads=("sad",), joys=("happy", "glad"),
        spots=("bed", "tree"), foods=("cake",), games=("tag",), parents=("mom",), fixers=("glue",),
        weathers=("rain",), answers=("Yes",), moves=("went", "ran"), times=("day",), hows=("happily",),
        things=("castle",), materials=("sand",), tastes=("yummy",),
        openings=LEX.openings[:2], setups=LEX.setups[:2], events=events, endings=LEX.endings[:2],
        max_events=max_events, end_prob=0.4, zipf=1.0, pronoun_prob=0.6, colour_prob=0.3,
    )


@pytest.fixture(scope="module")
def tiny() -> sg.StoryGrammar:
    return sg.StoryGrammar(tiny_lexicon(max_events=2))


@pytest.fixture(scope="module")
def tiny_stories(tiny) -> list[tuple[str, float]]:
    return tiny.enumerate_stories()


@pytest.fixture(scope="module")
def samples() -> list[tuple[str, sg.Derivation]]:
    return G.sample_with_derivations(2000, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------------------------
# exact facts on the tiny language
# ---------------------------------------------------------------------------------------------------------------


def test_tiny_language_probabilities_sum_to_one_and_texts_are_distinct(tiny_stories):
    probs = np.array([p for _, p in tiny_stories])
    texts = [t for t, _ in tiny_stories]
    assert len(texts) > 1000  # big enough to exercise every rule (the count is ~11,000)
    assert math.fsum(probs) == pytest.approx(1.0, abs=1e-12)
    assert np.all(probs > 0)
    assert len(set(texts)) == len(texts)  # unambiguous: no text has two derivations


def test_tiny_language_log_prob_parse_and_generate_agree_with_the_enumeration(tiny, tiny_stories):
    for text, p in tiny_stories:
        assert tiny.log_prob(text) == pytest.approx(math.log(p), rel=1e-12, abs=1e-12)
        assert tiny.generate(tiny.parse(text)) == text


def test_tiny_language_exercises_the_event_chain(tiny_stories):
    texts = [t for t, _ in tiny_stories]
    # a lost toy is never the last event: after "Suddenly ... !" comes a search, a find or a friend's help
    assert any("Suddenly" in t for t in texts)
    assert not any(re.search(r"could not find \w+ (\w+ )?\w+! (In the end|From that day)", t) for t in texts)
    # a friend's events come only after the friend is introduced, and an ending may then name both
    for t in texts:
        if "But " in t or "best friends" in t or "With a smile" in t:
            assert " named " in t.split(".", 1)[1]  # introduced after the opening sentence
    assert any("best friends" in t for t in texts)


def test_fewer_events_give_fewer_stories_that_still_sum_to_one():
    one = sg.StoryGrammar(tiny_lexicon(max_events=1)).enumerate_stories()
    assert 10 < len(one) < 2000
    assert math.fsum(p for _, p in one) == pytest.approx(1.0, abs=1e-12)


def test_monte_carlo_entropy_matches_the_exact_entropy_of_the_tiny_language(tiny, tiny_stories):
    probs = np.array([p for _, p in tiny_stories])
    lengths = np.array([tiny.n_tokens(t) for t, _ in tiny_stories])
    exact = -np.sum(probs * np.log(probs)) / np.sum(probs * lengths)
    est = sg.entropy_per_token(tiny.sample(6000, np.random.default_rng(3)), grammar=tiny)
    assert 0 < est.se < 0.01
    assert abs(est.per_token - exact) < 4 * est.se


def test_sampling_frequencies_match_the_probabilities(tiny, tiny_stories):
    n = 6000
    texts = tiny.sample(n, np.random.default_rng(4))
    text, p = max(tiny_stories, key=lambda tp: tp[1])
    freq = texts.count(text) / n
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------------------------------------------------------
# the default language, on samples
# ---------------------------------------------------------------------------------------------------------------


def test_the_default_language_is_the_one_the_chapter_was_built_with():
    """300 stories of seed 0 and their log-probabilities: a change of a word, weight or rule shows here."""
    h, log_probs = hashlib.sha256(), []
    for text, deriv in G.sample_with_derivations(300, np.random.default_rng(0)):
        h.update(f"{text}|{deriv}".encode())
        log_probs.append(G.log_prob(text))
    assert h.hexdigest()[:16] == STORIES_SHA256
    assert np.sum(log_probs) == pytest.approx(STORIES_LOG_PROB, rel=1e-12, abs=0)


def test_samples_parse_back_to_their_derivations_and_regenerate(samples):
    for text, deriv in samples:
        assert G.parse(text) == deriv
        assert G.generate(deriv) == text
        assert math.isfinite(G.log_prob(text)) and G.log_prob(text) < 0


def test_sampling_is_deterministic_given_the_seed():
    a = G.sample(50, np.random.default_rng(7))
    assert a == G.sample(50, np.random.default_rng(7))
    assert a != G.sample(50, np.random.default_rng(8))
    assert len(set(a)) > 45  # varied stories


def test_references_stay_consistent(samples):
    names = set(LEX.girl_names + LEX.boy_names)
    toys = set(LEX.toys)
    places = set(LEX.places)
    for text, _ in samples:
        tokens = split_words(text)
        hero = re.match(r"[^.]*named (\w+) \.", " ".join(tokens)).group(1)
        female = hero in LEX.girl_names
        # every pronoun is the hero's (the friend is always named)
        pronouns = {t.lower() for t in tokens} & {"he", "his", "him", "she", "her"}
        assert pronouns <= ({"she", "her"} if female else {"he", "his", "him"}), text
        # one toy, named in the setup, and at most one place throughout
        first, second = tokens.index("."), tokens.index(".", tokens.index(".") + 1)
        setup_toy = {t for t in tokens[first:second] if t in toys}
        assert len(setup_toy) == 1 and {t for t in tokens if t in toys} == setup_toy, text
        assert len({b for a, b in itertools.pairwise(tokens) if a == "the" and b in places}) <= 1, text
        # at most two characters: the hero and the friend introduced by "named"
        introduced = re.findall(r"named (\w+)", text)
        assert introduced[0] == hero and len(introduced) <= 2
        assert {t for t in tokens if t in names} <= set(introduced), text
        if len(introduced) == 2:
            assert introduced[1] != hero


def test_the_hero_appears_again_after_the_opening(samples):
    for text, _ in samples:
        hero = re.search(r"named (\w+)", text).group(1)
        rest = text.split(".", 1)[1]
        female = hero in LEX.girl_names
        assert hero in rest or re.search(r"\b(She|she|Her|her)\b" if female else r"\b(He|he|His|his)\b", rest)


def test_size_of_the_vocabulary_and_of_the_stories(samples):
    vocab = set(G.vocabulary())
    assert 250 <= len(vocab) <= 500
    lengths = np.array([G.n_tokens(t) for t, _ in samples])
    assert 40 <= lengths.mean() <= 90 and lengths.max() < 256
    used = set().union(*(split_words(t) for t, _ in samples))
    assert used <= vocab
    assert len(used) > 0.8 * len(vocab)  # the vocabulary is in use, not padding


def test_entropy_per_token_is_moderately_high(samples):
    est = sg.entropy_per_token([t for t, _ in samples])
    assert 0.5 < est.per_token < 1.5
    assert est.se < 0.01 and est.n_stories == len(samples)
    nll = G.true_nll([t for t, _ in samples])
    assert est.mean_nll == pytest.approx(nll.mean())


def test_entropy_counts_tokens_with_a_tokenizer(samples):
    texts = [t for t, _ in samples[:300]]
    tok = WordTokenizer.train(texts)
    by_words = sg.entropy_per_token(texts)
    by_tokenizer = sg.entropy_per_token(texts, tokenizer=tok)  # one word = one token, plus <eos>
    assert by_tokenizer.per_token == pytest.approx(by_words.per_token, rel=1e-14)
    assert by_tokenizer.mean_tokens == by_words.mean_tokens


# ---------------------------------------------------------------------------------------------------------------
# rejection of texts outside the language
# ---------------------------------------------------------------------------------------------------------------


def _mutations(text: str) -> dict[str, str]:
    tokens = split_words(text)
    hero = re.search(r"named (\w+)", text).group(1)
    other = "Tom" if hero != "Tom" else "Ben"
    return {
        "word dropped": join_words(tokens[:5] + tokens[6:]),
        "word added at the end": text + " Lily",
        "sentence cut": join_words(tokens[:-1]),
        "hero renamed later": text[: text.index(".") + 1] + text[text.index(".") + 1:].replace(hero, other),
        "double space": text.replace(" ", "  ", 1),
        "unknown word": text.replace("named", "called", 1),
        "empty": "",
    }


@pytest.mark.parametrize("kind", ["word dropped", "word added at the end", "sentence cut", "hero renamed later",
                                  "double space", "unknown word", "empty"])
def test_mutated_stories_are_rejected(kind):
    for text in G.sample(20, np.random.default_rng(11)):
        bad = _mutations(text)[kind]
        if bad == text:
            continue
        assert G.log_prob(bad) == -math.inf
        with pytest.raises(ValueError, match="not a story of this grammar"):
            G.parse(bad)


def test_wrong_pronoun_is_rejected():
    text = "Once upon a time, there was a little girl named Lily. Lily had a red ball. " \
           "One day, she went to the park with her ball. In the end, Lily was very happy."
    assert math.isfinite(G.log_prob(text))
    assert G.log_prob(text.replace("with her ball", "with his ball")) == -math.inf
    with pytest.raises(ValueError, match=r"expected 'her', got 'his'"):
        G.parse(text.replace("with her ball", "with his ball"))


def test_a_lost_toy_must_be_found_before_the_end():
    ok = "Once upon a time, there was a little girl named Lily. Lily had a red ball. " \
         "Suddenly, she could not find her ball! At last, she found her ball near the bed. " \
         "In the end, Lily was very happy."
    assert math.isfinite(G.log_prob(ok))
    cut = ok.replace(" At last, she found her ball near the bed.", "")
    assert G.log_prob(cut) == -math.inf


def test_valid_prefix_counts_the_words_before_the_first_error(samples):
    text = samples[0][0]
    words = split_words(text)
    assert G.valid_prefix(text) == len(words)
    wrong = text.replace(" her ", " his ", 1) if " her " in text else text.replace(" his ", " her ", 1)
    first_change = next(k for k, (a, b) in enumerate(zip(split_words(wrong), words, strict=True)) if a != b)
    assert G.valid_prefix(wrong) == first_change
    assert G.valid_prefix(text + " " + samples[1][0]) == len(words)  # a story followed by more words
    assert G.valid_prefix("Lily") == 0


def test_true_nll_is_inf_outside_the_language():
    nll = G.true_nll(["Once upon a time.", G.sample(1, np.random.default_rng(0))[0]])
    assert nll[0] == math.inf and 0 < nll[1] < math.inf


def test_story_grammar_returns_the_default():
    assert sg.story_grammar() is sg.DEFAULT_GRAMMAR
