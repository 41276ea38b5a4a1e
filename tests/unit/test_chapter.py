"""The chapters' helpers: numbers at the precision of their seeds, per-seed tables, claims, the paper-vs-book table."""

import json

import numpy as np
import pandas as pd
import pytest

from collapse_utils import chapter, checks


@pytest.mark.parametrize(("mean", "se", "kw", "text"), [
    (0.782, 0.031, {"percent": True, "signed": True}, "+78 ± 3%"),
    (1.43712, 0.0123, {}, "1.437 ± 0.012"),
    (-0.0004, 0.002, {"percent": True, "signed": True}, "0.0 ± 0.2%"),  # never "-0"
    (-0.052, 0.004, {"percent": True}, "−5.2 ± 0.4%"),
    (12.3, 1.8, {}, "12.3 ± 1.8"),
    (12.3, 2.6, {}, "12 ± 3"),
])
def test_fmt_mean_se_rounds_to_the_standard_error(mean, se, kw, text):
    assert chapter.fmt_mean_se(mean=mean, se=se, **kw) == text


def test_fmt_mean_se_from_seeds_and_fmt_value():
    assert chapter.fmt_mean_se([1.0, 2.0, 3.0]) == "2.0 ± 0.6"
    assert chapter.fmt_value(-0.0001, 2) == "0.00" and chapter.fmt_value(-1.5, 1, signed=True) == "−1.5"
    with pytest.raises(ValueError, match="at least 2 finite numbers"):
        chapter.mean_se([1.0])


RECORDS = pd.DataFrame([{"policy": p, "seed": s, "iteration": i, "loss": 1.0 + (0.3 if p == "replace" else 0.0)
                         * (i - 1) + 0.01 * s} for p in ("replace", "accumulate") for s in (0, 1, 2)
                        for i in (1, 2, 3)])


def test_per_seed_change_table_and_claims():
    np.testing.assert_allclose(chapter.per_seed(RECORDS, "loss", policy="replace", iteration=3), [1.6, 1.61, 1.62])
    with pytest.raises(ValueError, match="exactly one row per seed"):
        chapter.per_seed(RECORDS, "loss", policy="replace")
    table = chapter.change_table(RECORDS, "loss", ["policy"])
    assert table.loc["replace", "change"].startswith("+59") and table.loc["accumulate", "change"] == "0.000 ± 0.000%"
    claims = checks.Claims()
    chapter.claim_rises(claims, RECORDS, "loss", "replace", policy="replace")
    chapter.claim_order(claims, RECORDS, "loss", ["accumulate", "replace"], "loss")
    chapter.claim_within(claims, RECORDS, "loss", "accumulate", 0.05, "loss")
    assert claims.table()["holds"].all() and len(claims.rows) == 4
    bad = checks.Claims()
    chapter.claim_rises(bad, RECORDS, "loss", "accumulate", policy="accumulate")  # flat: zero differences
    with pytest.raises(AssertionError, match="2 of 2 claims do not hold"):
        bad.assert_all()


def test_change_fmt_seeds_and_claims_table():
    np.testing.assert_allclose(chapter.change(RECORDS, "loss", policy="replace"), [0.6 / 1.0, 0.6 / 1.01, 0.6 / 1.02])
    np.testing.assert_allclose(chapter.change(RECORDS, "loss", to=2, policy="accumulate"), 0.0)
    assert chapter.fmt_seeds(RECORDS, "loss", policy="replace", iteration=3) == "1.610 ± 0.006"
    claims = checks.Claims()
    chapter.claim_order(claims, RECORDS, "loss", ["accumulate", "replace"], "loss")
    text = chapter.claims_table(claims)._repr_markdown_()
    assert "| loss: replace above accumulate at iteration 3 | 0.6 | 0 | inf | 3/3 | True |" in text


def test_paper_table_labels_every_source_and_stores_rows_for_the_scorecard(tmp_path, monkeypatch):
    monkeypatch.setattr(chapter, "RESULTS_DIR", tmp_path)
    rows = [chapter.Row("replace rises", "+56%", "figure", "+50 ± 2%", "reproduced"),
            chapter.Row("a new metric", "", "none", "0.3", "beyond the paper", "a note")]
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    text = chapter.paper_table(rows, chapter="demo", section="paper-vs-this-book")._repr_markdown_()
    assert "+56% <br>*(read off a figure)*" in text and "*not in the paper*" in text and "a note" in text
    assert not (tmp_path / "scorecard").exists()
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    chapter.paper_table(rows, chapter="demo", section="paper-vs-this-book")
    saved = json.loads((tmp_path / "scorecard" / "demo.json").read_text())
    assert saved["section"] == "paper-vs-this-book" and saved["rows"][0]["status"] == "reproduced"
    assert list(chapter.stored_scorecard(tmp_path)["status"]) == ["reproduced", "beyond the paper"]
    with pytest.raises(ValueError, match="source must be one of"):
        chapter.Row("x", "1", "rumour", "1", "reproduced")
    with pytest.raises(ValueError, match="status must be one of"):
        chapter.Row("x", "1", "reported", "1", "sort of")


def test_markdown_table_escapes_pipes():
    text = chapter.markdown_table(pd.DataFrame({"a": ["x|y"]}, index=pd.Index(["r"], name="k")))._repr_markdown_()
    assert text.splitlines() == ["| k | a |", "|---|---|", "| r | x\\|y |"]
