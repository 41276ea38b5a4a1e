"""Closed forms of a Gaussian KDE fed its own samples, against explicit recursions and direct Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collapse_utils.theory import kde as th
from collapse_utils.theory import linear


def test_replace_marginal_variance_is_linear():
    i = np.arange(0, 101)
    np.testing.assert_allclose(th.replace_marginal_variance(i, 2.0, 0.5), 2.0 + 0.25 * i, rtol=1e-15)


def test_accumulate_marginal_variance_solves_the_ancestor_recursion():
    # D_i = 1 + (1/i) sum_{j<i} D_j with D_0 = 0: the expected number of noise draws on a point's ancestry
    D = [0.0]
    for i in range(1, 201):
        D.append(1.0 + sum(D) / i)
    i = np.arange(0, 201)
    np.testing.assert_allclose(th.accumulate_marginal_variance(i, 1.0, 0.3), 1.0 + 0.09 * np.array(D), rtol=1e-12)
    np.testing.assert_allclose(np.array(D), linear.harmonic_number(i), rtol=1e-12)


def test_marginal_variance_reference_values():
    # 1-D N(0, 1) data, h = 0.5: replace 3.5 and 26.0, accumulate 1.732 and 2.297 at iterations 10 and 100
    assert th.marginal_variance("replace", 10, 1.0, 0.5) == pytest.approx(3.5)
    assert th.marginal_variance("replace-multiple", 100, 1.0, 0.5) == pytest.approx(26.0)
    assert th.marginal_variance("accumulate", 10, 1.0, 0.5) == pytest.approx(1.732, abs=5e-4)
    assert th.marginal_variance("accumulate-subsample", 100, 1.0, 0.5) == pytest.approx(2.297, abs=5e-4)


def test_replace_spread_closed_form():
    T, s2, h = 100, 1.0, 0.5
    i = np.arange(0, 301)
    a = (T - 1) / T
    expected = (T - 1) * h**2 + a**i * (a * s2 - (T - 1) * h**2)
    np.testing.assert_allclose(th.replace_spread(i, T, s2, h), expected, rtol=1e-12)
    assert th.replace_spread(10, T, s2, h) == pytest.approx(3.262, abs=5e-4)
    assert th.replace_spread(100, T, s2, h) == pytest.approx(16.05, abs=5e-3)


def test_replace_spread_saturates_while_the_marginal_variance_does_not():
    T, h = 20, 1.0
    assert th.replace_spread(2000, T, 1.0, h) == pytest.approx((T - 1) * h**2, rel=1e-12)
    assert th.replace_marginal_variance(2000, 1.0, h) > 100 * th.replace_spread(2000, T, 1.0, h)


def literal_kde_chain(T, n, runs, h, multiple, rng):
    """Replace or replace-multiple KDE chains, all runs at once: resample with replacement, add noise."""
    spreads = np.empty((runs, n))
    train = rng.standard_normal((runs, T))
    for i in range(1, n + 1):
        m = (i + 1) * T if multiple else T
        picks = rng.integers(0, train.shape[1], size=(runs, m))
        train = np.take_along_axis(train, picks, axis=1) + h * rng.standard_normal((runs, m))
        spreads[:, i - 1] = train.var(axis=1)
    return spreads


@pytest.mark.parametrize("policy", ["replace", "replace-multiple"])
def test_replace_spread_against_literal_monte_carlo(policy):
    T, n, runs, h = 5, 8, 20_000, 0.7
    spreads = literal_kde_chain(T, n, runs, h, policy == "replace-multiple", np.random.default_rng(7))
    theory = th.replace_spread(np.arange(1, n + 1), T, 1.0, h, policy)
    z = (spreads.mean(0) - theory) / (spreads.std(0, ddof=1) / math.sqrt(runs))
    assert np.all(np.abs(z) < 4), z


def test_replace_multiple_spread_keeps_growing():
    s = th.replace_spread(np.array([100, 1000, 10_000]), 10, 1.0, 1.0, "replace-multiple")
    assert np.all(np.diff(s) > 0) and s[-1] > 10 * th.replace_spread(10_000, 10, 1.0, 1.0)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: th.marginal_variance("resample", 3, 1.0, 0.5), "policy must be one of"),
    (lambda: th.replace_marginal_variance(-1, 1.0, 0.5), "iteration must be"),
    (lambda: th.accumulate_marginal_variance(3, -1.0, 0.5), "sigma0_2 must be"),
    (lambda: th.replace_spread(3, 0, 1.0, 0.5), "T must be an integer >= 1"),
    (lambda: th.replace_spread(3, 10, 1.0, 0.5, policy="accumulate"), "policy must be one of"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
