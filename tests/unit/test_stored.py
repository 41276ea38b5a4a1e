"""The stored per-seed tables of the torch chapters and the statistical check of a fresh run against them."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from collapse_utils import stored


def runs(shift=0.0, sd=0.1, seeds=(0, 1, 2), seed=0, constant=1.0):
    """A tidy table: two policies x three iterations x seeds, metric 'loss' ~ N(level + shift, sd), 'n' constant."""
    g = np.random.default_rng(seed)
    rows = [{"policy": p, "iteration": i, "seed": s, "loss": i * (2 if p == "replace" else 1) + shift +
             sd * g.standard_normal(), "n": constant} for p in ("replace", "accumulate") for i in (1, 2, 3)
            for s in seeds]
    return pd.DataFrame(rows)


def check(tmp_path, fresh, **kw):
    return stored.check_against_stored("demo", fresh, by=["policy", "iteration"], metrics=["loss", "n"],
                                       directory=tmp_path, **kw)


def test_storing_writes_the_table_and_a_rerun_compares_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    out = check(tmp_path, runs())
    assert (tmp_path / "demo.csv").exists() and out["agrees"].all() and (out["t"] == 0).all()
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    again = check(tmp_path, runs())
    assert again["agrees"].all() and (again["t"] == 0).all()  # the same machine: the same digits


def test_an_independent_run_of_the_same_law_agrees_and_a_shifted_one_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    check(tmp_path, runs(seed=0))
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    assert check(tmp_path, runs(seed=1))["agrees"].all()  # other kernels: new draws of the same law
    with pytest.raises(AssertionError, match=r"moved beyond the seed spread; worst: loss at policy="):
        check(tmp_path, runs(seed=1, shift=1.5))  # 1.5 / (0.1 sqrt(2/3)) = 18 standard errors


def test_numbers_without_spread_must_match_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    check(tmp_path, runs())
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    with pytest.raises(AssertionError, match="worst: n at"):
        check(tmp_path, runs(constant=1.0 + 1e-6))


def test_the_threshold_is_welch_t_with_bonferroni_and_has_the_stated_false_alarm_rate():
    assert stored.t_threshold(1, 4) == pytest.approx(stats.t.isf(0.005, 4))
    assert stored.t_threshold(50, 4) == pytest.approx(stats.t.isf(0.0001, 4))
    # under the null, a family of 12 comparisons of 3 vs 3 normal seeds fails with probability <= 1% (Bonferroni)
    g = np.random.default_rng(7)
    thr = stored.t_threshold(12, 4)
    a, b = g.standard_normal((20000, 12, 3)), g.standard_normal((20000, 12, 3))
    t = np.abs(a.mean(-1) - b.mean(-1)) / np.sqrt(a.var(-1, ddof=1) / 3 + b.var(-1, ddof=1) / 3)
    assert (t > thr).any(axis=1).mean() < 0.012


def test_missing_table_and_mismatched_groups_are_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    with pytest.raises(AssertionError, match=r"no stored results at demo\.csv: execute the chapter with `make execute"):
        check(tmp_path, runs())
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    check(tmp_path, runs())
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    fewer = runs()
    with pytest.raises(AssertionError, match="groups"):
        check(tmp_path, fewer[fewer["iteration"] < 3])
    monkeypatch.setenv("COLLAPSE_STORE", "yes")
    with pytest.raises(ValueError, match="COLLAPSE_STORE must be '0' or '1'"):
        stored.storing()
