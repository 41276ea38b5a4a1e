"""The language-model chapter's page (collapse_utils.pages.language_models) on small synthetic records.

The records are shaped like the chapter's (model, temperature, policy, seed, iteration and its metrics) but written
down, not trained: each check is shown to hold on records where its claim is true and to fail where it is not.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from collapse_utils.chapter import MarkdownTable, Row
from collapse_utils.data import story_grammar as sg
from collapse_utils.data.corpus import load_corpus
from collapse_utils.pages import language_models as page

matplotlib.use("Agg")

SMALL, LARGE = "GPT-2-style d=64", "Llama-style d=96"
ALL = ("replace", "accumulate", "accumulate-subsample", "replace-multiple")
SEEDS, LAST = (0, 1, 2), 5
# per policy: relative rise of the cross-entropy per iteration, of the excess loss, and the words lost per iteration
RISE = {"replace": (0.2, 0.5, 2.0), "accumulate": (0.005, 0.01, 0.5), "accumulate-subsample": (0.05, 0.1, 1.0),
        "replace-multiple": (0.1, 0.3, 1.5)}
COLD_RISE = {"replace": (1.0, 2.0, 2.0), "accumulate": (0.01, 0.02, 0.5)}
LAW = page.KnownLaw(entropy=0.6, entropy_se=0.001, n_stories=100, floor=0.61, uniform=5.86)


def fake_records(rise=RISE, cold_rise=COLD_RISE) -> pd.DataFrame:
    """Records whose claims hold: replace rises fastest, accumulate stays within 5%, the others in between."""
    rows = []
    runs = [(SMALL, 1.0, rise), (LARGE, 1.0, {p: rise[p] for p in ("replace", "accumulate")}), (SMALL, 0.3, cold_rise)]
    for model, temperature, rises in runs:
        for policy, (ce, excess, words) in rises.items():
            for seed in SEEDS:
                def grown(rate, it, seed=seed):  # the seeds' rates differ by 5%
                    return 1 + rate * (1 + 0.05 * seed) * (it - 1)

                for it in range(1, LAST + 1):
                    rows.append({"model": model, "temperature": temperature, "policy": policy, "seed": seed,
                                 "iteration": it, "cross_entropy": (1.6 + 0.01 * seed) * grown(ce, it),
                                 "excess": grown(excess, it), "distinct_3": 0.7 + 0.01 * it,
                                 "vocab_used": 300.0 - 5 * it - seed,
                                 "mean_length": 60.0 + seed - 4 * words * (1 + 0.05 * seed) * (it - 1),
                                 "valid_words": 10.0 + 0.1 * seed - words * (it - 1)})
    return pd.DataFrame(rows)


RECORDS = fake_records()
MAIN, COLD = RECORDS[RECORDS["temperature"] == 1.0], RECORDS[RECORDS["temperature"] != 1.0]
REAL = {"distinct_3": 0.5, "vocab_used": 301.0, "mean_length": 67.8, "valid_words": 66.8, "grammatical": 1.0}


@pytest.fixture
def glued(monkeypatch) -> dict[str, str]:
    """What the page glues, recorded instead of displayed."""
    numbers: dict[str, str] = {}
    monkeypatch.setattr(page, "_glue", numbers.update)
    return numbers


@pytest.fixture(scope="module")
def tiny_corpus():
    """A corpus of a tiny story language (few words: its tokenizer knows every word of the language)."""
    lex = sg.DEFAULT_LEXICON
    keep = {"go", "meet", "hug", "lose", "search", "find", "help"}
    events = tuple(replace(e, follows=None if e.follows is None else tuple(k for k in e.follows if k in keep))
                   for e in lex.events if e.key in keep)
    tiny = sg.StoryLexicon(
        girl_names=("Lily", "Sue"), boy_names=("Tom", "Ben"), animals=(), traits=("little",), toys=("ball", "kite"),
        colours=("red",), places=("park", "beach"), feelings=("happy",), sads=("sad",), joys=("happy", "glad"),
        spots=("bed", "tree"), foods=("cake",), games=("tag",), parents=("mom",), fixers=("glue",),
        weathers=("rain",), answers=("Yes",), moves=("went", "ran"), times=("day",), hows=("happily",),
        things=("castle",), materials=("sand",), tastes=("yummy",), openings=lex.openings[:2], setups=lex.setups[:2],
        events=events, endings=lex.endings[:2], max_events=2, end_prob=0.4, zipf=1.0, pronoun_prob=0.6,
        colour_prob=0.3)
    return load_corpus("synthetic", n_train=300, n_test=40, seed=0, grammar=sg.StoryGrammar(tiny))


# ----------------------------------------------------------------------------------------------------------------
# The corpus, its law and the models
# ----------------------------------------------------------------------------------------------------------------


def test_corpus_summary_and_known_law(tiny_corpus, glued):
    text = page.corpus_summary(tiny_corpus)
    head, first, second = text.split("\n\n")
    assert head.startswith("corpus 'synthetic': 300 training and 40 test stories, vocabulary ")
    assert first == textwrap.fill(tiny_corpus.train_texts[0], 88)
    assert second.splitlines()[0] in tiny_corpus.train_texts[1]

    law = page.known_law(tiny_corpus, n_stories=300)
    assert law.uniform == pytest.approx(np.log(tiny_corpus.tokenizer.vocab_size))
    # the test floor and the entropy both estimate the language's entropy per token
    assert abs(law.floor - law.entropy) < 5 * law.entropy_se + 0.05
    lines = page.glue_known_law(law).splitlines()
    assert lines[0].startswith("true entropy per token (300 stories): ") and len(lines) == 3
    assert glued == {"entropy": f"{law.entropy:.3f} ± {law.entropy_se:.3f}", "test_floor": f"{law.floor:.3f}",
                     "uniform": f"{law.uniform:.2f}"}
    assert page.known_law(replace(tiny_corpus, grammar=None)) is None

    real = page.real_story_stats(tiny_corpus, 10)
    assert {"distinct_3", "vocab_used", "mean_length", "valid_words"} <= set(real)
    assert real["grammatical"] == 1.0  # real stories of the language parse in full


def test_model_tables():
    configs = {"tiny": SimpleNamespace(family="gpt2", d_model=8, n_layer=1, n_head=2, d_mlp=32)}
    text = page.paper_models_table(configs, {"tiny": 1234}, {"tiny": 1234}).text
    assert text.splitlines()[2] == "| tiny | gpt2 | 8 | 1 | 2 | 32 | 1,234 | 1,234 |"
    job = SimpleNamespace(model="m", policies=("replace", "accumulate"), temperature=0.3, seeds=(0, 1), n_train=600,
                          batch_size=4, lr=0.006)
    text = page.jobs_table([job], {"m": "Model M"}, lambda j: 12345).text
    assert text.splitlines()[2] == "| Model M | 12,345 | replace, accumulate | 0.3 | 2 | 600 | 4 | 0.006 |"


def test_labelled_records_names_the_models():
    runs = {1: SimpleNamespace(records=pd.DataFrame({"model": ["a"], "x": [1]})),
            2: SimpleNamespace(records=pd.DataFrame({"model": ["b"], "x": [2]}))}
    out = page.labelled_records(runs, {"a": "A", "b": "B"})
    assert list(out["model"]) == ["A", "B"] and list(out.index) == [0, 1]


# ----------------------------------------------------------------------------------------------------------------
# Tables, glued numbers and figures
# ----------------------------------------------------------------------------------------------------------------


def test_loss_tables_and_glued_changes(glued):
    lines = page.loss_change_table(MAIN, LAW).text.splitlines()
    assert lines[0] == "| model | policy | iteration 1 | iteration 5 | change | excess loss, it. 5 / it. 1 |"
    assert len(lines) == 2 + 4 + 2 and lines[2].startswith(f"| {SMALL} | replace | ")
    assert lines[2].endswith("| +84 ± 2% | 3.10 ± 0.06 |")  # per seed +80, +84, +88%; excess ×3.0, 3.1, 3.2
    assert "excess" not in page.loss_change_table(MAIN, None).text
    page.glue_changes(MAIN)
    assert set(glued) == {f"change_0_{p}" for p in ALL} | {"change_1_replace", "change_1_accumulate"}
    assert glued["change_0_replace"] == "+84 ± 2%"
    text = page.glue_cold_table(COLD).text
    assert glued["cold_last_replace"].startswith("8.") and text.count("\n") == 3


def test_diversity_table_and_glued_words(glued):
    table = page.diversity_table(MAIN, REAL, ALL)
    assert list(table.index) == [*ALL, "real test stories", "iteration 1"] and table.index.name == "iteration 5"
    assert list(table.columns) == list(page.DIVERSITY.values())
    assert table.loc["real test stories", "words before the first error"] == "66.8"
    assert isinstance(page.glue_diversity_table(MAIN, REAL, ALL), MarkdownTable)
    assert set(glued) == {"valid_words_first", "valid_words_replace", "valid_words_accumulate"}
    assert glued["valid_words_replace"] == "2.10 ± 0.06"  # 10.0, 10.1, 10.2 less 2 * 4 words
    glued.clear()
    unknown = {k: v for k, v in REAL.items() if k != "valid_words"}  # a corpus without a known law
    assert "error" not in page.glue_diversity_table(MAIN, unknown, ALL).text and not glued


def test_shown_stories_marks_stories_of_the_language(tiny_corpus):
    good, bad = tiny_corpus.train_texts[0], "Once upon a time time."
    illustrations = {(p, 0, it): [good if p == "accumulate" else bad] for p in ALL for it in range(1, LAST + 1)}
    text = page.shown_stories(illustrations, 0, tiny_corpus.grammar)
    heads = [line for line in text.splitlines() if line.startswith("--- ")]
    assert heads == ["--- iteration 1 (every policy)", "--- replace, iteration 5", "--- replace-multiple, iteration 5",
                     "--- accumulate, iteration 5 [a story of the language]"]
    assert "[a story" not in page.shown_stories(illustrations, 0, None)


def test_figures_draw_one_band_per_policy():
    import matplotlib.pyplot as plt

    fig = page.loss_figure(MAIN, LAW)
    left, right = fig.axes
    assert left.get_title() == SMALL and right.get_title() == LARGE
    assert [t.get_text() for t in left.get_legend().get_texts()][-1] == "true law"
    assert len(left.lines) == 4 + 1 and len(right.lines) == 2 + 1
    fig2 = page.diversity_figure(MAIN, REAL, ALL)
    assert [ax.get_ylabel() for ax in fig2.axes] == list(page.DIVERSITY.values())
    fig3 = page.temperature_figure(RECORDS, LAW)
    assert fig3.axes[0].get_yscale() == "log" and len(fig3.axes[0].lines) == 4 + 1
    assert "Replace, T = 0.3" in [t.get_text() for t in fig3.axes[0].get_legend().get_texts()]
    plt.close("all")


# ----------------------------------------------------------------------------------------------------------------
# Checks: they hold on consistent records and fail on inconsistent ones
# ----------------------------------------------------------------------------------------------------------------


def test_asserted_claims_hold_on_consistent_records():
    claims = page.asserted_claims(MAIN, COLD, LAW)
    claims.assert_all()
    names = claims.table().index
    assert len(names) == 2 * (4 + 1 + 1) + 1 + 2 * 2 + (4 + 1) + 1
    assert f"{SMALL}: accumulate less than 5% above iteration 1 at iteration 5" in names
    assert len(page.asserted_claims(MAIN, COLD, None).table()) == len(names) - 3  # no law: no excess, no words


@pytest.mark.parametrize(("policy", "rises", "claim"), [
    ("accumulate", (0.02, 0.01, 0.5), "accumulate less than 5% above iteration 1"),
    ("replace", (0.0, 0.5, 2.0), "replace: iteration 2 above iteration 1"),
    ("replace", (0.2, 0.1, 2.0), "replace's excess loss at least doubles"),
    ("replace-multiple", (0.3, 0.3, 1.5), "replace above replace-multiple"),
    ("replace", (0.2, 0.5, 0.1), "words before an error"),
])
def test_asserted_claims_fail_on_inconsistent_records(policy, rises, claim):
    records = fake_records(rise={**RISE, policy: rises})
    main, cold = records[records["temperature"] == 1.0], records[records["temperature"] != 1.0]
    with pytest.raises(AssertionError, match=claim):
        page.asserted_claims(main, cold, LAW).assert_all()


def test_cold_claims_fail_when_low_temperature_replace_stays_flat():
    records = fake_records(cold_rise={"replace": (0.0, 0.0, 0.0), "accumulate": (0.01, 0.02, 0.5)})
    with pytest.raises(AssertionError, match=r"T = 0\.3, replace: iteration 2 above iteration 1"):
        page.asserted_claims(MAIN, records[records["temperature"] != 1.0], LAW).assert_all()


def test_claims_hold_when_one_seed_takes_off_but_fail_below_the_noise_of_one_fit():
    """One seed's replace chain rising 10x faster inflates the standard error (z < 3) but not the noise floor; a
    rise of half the first models' spread fails however consistent it is."""
    takes_off = RECORDS.copy()
    late = (takes_off["policy"] == "replace") & (takes_off["seed"] == 2) & (takes_off["iteration"] == LAST)
    takes_off.loc[late, "cross_entropy"] *= 3
    claims = page.asserted_claims(takes_off[takes_off["temperature"] == 1.0], COLD, LAW)
    row = claims.table().loc[f"{SMALL}, replace: iteration {LAST} above iteration {LAST - 1}"]
    assert row["z"] < 3 and row["smallest / noise"] > 3 and row["holds"]
    claims.assert_all()
    noise = page.fit_noise(MAIN, "cross_entropy", SMALL)
    assert noise == pytest.approx(np.std([1.6, 1.61, 1.62], ddof=1))
    creeping = RECORDS.copy()
    rep = (creeping["policy"] == "replace") & (creeping["model"] == SMALL) & (creeping["temperature"] == 1.0)
    creeping.loc[rep, "cross_entropy"] = 1.6 + 0.01 * creeping.loc[rep, "seed"] + 0.5 * noise * (
        creeping.loc[rep, "iteration"] - 1)
    with pytest.raises(AssertionError, match="replace: iteration 2 above iteration 1"):
        page.asserted_claims(creeping[creeping["temperature"] == 1.0], COLD, LAW).assert_all()


def test_reported_claims_and_length_gap(glued):
    reported = page.reported_claims(MAIN, COLD)
    assert list(reported.table().index) == [
        f"{LARGE}: accumulate less than 5% above iteration 1 at iteration {LAST}",
        f"{SMALL}: replace's stories are shorter at iteration {LAST} than at 1"]
    assert reported.table()["holds"].all()
    flat = fake_records(rise={**RISE, "accumulate": (0.05, 0.01, 0.5)})
    assert not page.reported_claims(flat[flat["temperature"] == 1.0], COLD).table()["holds"].iloc[0]
    gap = 4 * (2.0 - 0.5) * np.array([1.0, 1.05, 1.1]) * (LAST - 1)  # accumulate's stories longer than replace's
    assert page.length_gap_z(MAIN) == pytest.approx(gap.mean() / (gap.std(ddof=1) / np.sqrt(3)))
    page.glue_length_gap_z(MAIN)
    assert set(glued) == {"length_z"}


def test_check_against_stored_passes_on_the_same_run_and_fails_on_another(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    page.check_against_stored(RECORDS, directory=tmp_path)  # writes the table
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    assert page.check_against_stored(RECORDS, directory=tmp_path)["agrees"].all()
    moved = RECORDS.assign(cross_entropy=RECORDS["cross_entropy"] * 2)
    with pytest.raises(AssertionError, match="moved beyond the seed spread"):
        page.check_against_stored(moved, directory=tmp_path)


# ----------------------------------------------------------------------------------------------------------------
# Paper vs this book
# ----------------------------------------------------------------------------------------------------------------


def test_paper_rows_and_first_excess(glued):
    rows = page.paper_rows(MAIN, COLD, LAW)
    assert all(isinstance(r, Row) for r in rows) and len(rows) == 8
    assert rows[0].book.count("±") == 2  # one change per model that ran replace
    assert rows[4].book.count("±") == 1  # accumulate-subsample: the small model only
    assert " / " in rows[6].book and rows[7].book == "×3.10 ± 0.06, 3.10 ± 0.06"
    assert len(page.paper_rows(MAIN, COLD, None)) == 7
    page.glue_first_excess(MAIN)
    assert glued["excess_first"].count(" and ") == 1
