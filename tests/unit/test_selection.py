"""Selection-biased refitting of a Gaussian: closed forms against literal loops, the simulator against an explicit
replay of its draws, and the scatter identity behind the power law."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import selection as sim
from collapse_utils.theory import selection as th


def literal_spread(policy, d, n, iterations, seeds, seed, eps=0.0):
    """Every point drawn (vectorized over seeds), truth N(0, I_d): tr Sigma_t / d per seed and iteration."""
    rng = np.random.default_rng(seed)
    mean, cov = np.zeros((seeds, d)), np.tile(np.eye(d), (seeds, 1, 1))
    pool = np.empty((seeds, 0, d))
    out = np.empty((seeds, iterations + 1))
    out[:, 0] = 1.0
    for t in range(1, iterations + 1):
        X = mean[:, None] + rng.standard_normal((seeds, n, d)) @ np.swapaxes(np.linalg.cholesky(cov), 1, 2)
        pool = X if policy == "replace" else np.concatenate([pool, X], axis=1)
        mean = pool.mean(axis=1)
        centred = pool - mean[:, None]
        cov = np.swapaxes(centred, 1, 2) @ centred / pool.shape[1] + eps * np.eye(d)
        out[:, t] = np.trace(cov, axis1=1, axis2=2) / d
    return out


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_spread_without_selection_against_literal_loops(policy):
    eps = 0.05  # large enough to be seen: eps d / tr Sigma* = eps for Sigma* = I
    sims = literal_spread(policy, 2, 5, 8, seeds=40000, seed=1, eps=eps)
    theory = (th.replace_spread if policy == "replace" else th.accumulate_spread)(np.arange(9), 5, eps=eps)
    z = (sims.mean(0) - theory)[1:] / (sims.std(0, ddof=1)[1:] / math.sqrt(sims.shape[0]))
    assert np.max(np.abs(z)) < 4


def test_accumulate_spread_is_the_product_formula_without_ridge():
    t = np.arange(0, 60)
    product = np.concatenate([[1.0], np.cumprod(1 - 1 / (np.arange(1, 60) ** 2 * 7))])
    np.testing.assert_allclose(th.accumulate_spread(t, 7), product, rtol=1e-12)
    assert th.replace_spread(10, 7) == pytest.approx((6 / 7) ** 10)


def test_constant_selection_gives_a_power_law():
    # with kappa = 0 the product is Gamma(t + c) / (Gamma(c) Gamma(t + 1)) ~ t^(c - 1) / Gamma(c)
    t = np.array([1, 10, 1000])
    c = 0.35
    exact = np.exp(gammaln(t + c) - gammaln(c) - gammaln(t + 1))
    np.testing.assert_allclose(th.accumulate_selection_spread(t, c), exact, rtol=1e-10)
    big = np.array([10**4, 10**5])
    path = th.accumulate_selection_spread(big, 0.3, kappa=0.05)
    slope = np.diff(np.log(path)) / np.diff(np.log(big))
    assert slope[0] == pytest.approx(th.power_law_exponent(0.3, 0.05), abs=1e-3)
    assert th.power_law_exponent(0.65) == pytest.approx(-0.35)


def replay_selection(policy, selection, *, d, n_iterations, n_per_iteration, n_seeds, seed, ridge):
    """The simulator's draws replayed seed by seed, with an explicit inverse and a full sort."""
    mu, cov_star, ref = sim._truths(seed, n_seeds, d, selection.shift_scale)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    n, n_draw = n_per_iteration, int(n_per_iteration / selection.alpha)
    precision = np.linalg.inv(selection.cov_scale * cov_star)
    means, covs = mu.copy(), cov_star.copy()
    pools = [np.empty((0, d)) for _ in range(n_seeds)]
    out = np.empty((n_seeds, n_iterations + 1))
    out[:, 0] = 1.0
    for t in range(1, n_iterations + 1):
        Z = rng.standard_normal((n_seeds, n_draw, d))
        for s in range(n_seeds):
            X = means[s] + Z[s] @ np.linalg.cholesky(covs[s]).T
            diff = X - ref[s]
            dist = np.einsum("ni,ij,nj->n", diff, precision[s], diff)
            kept = X[np.argsort(dist)[:n]]
            pools[s] = kept if policy == "replace" else np.vstack([pools[s], kept])
            means[s] = pools[s].mean(axis=0)
            covs[s] = np.cov(pools[s], rowvar=False, bias=True) + ridge * np.eye(d)
            out[s, t] = np.trace(covs[s]) / np.trace(cov_star[s])
    return out


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_selection_simulator_equals_an_explicit_replay(policy):
    kw = {"d": 4, "n_iterations": 5, "n_per_iteration": 10, "n_seeds": 3, "seed": 5, "ridge": 1e-6}
    selection = sim.BiasedSelection(alpha=0.2)
    run = sim.simulate_selection(policy, selection, **kw)
    np.testing.assert_allclose(run.spread, replay_selection(policy, selection, **kw), rtol=1e-8)


def test_scatter_identity_behind_the_power_law():
    run = sim.simulate_selection("accumulate", sim.BiasedSelection(alpha=0.1), d=5, n_iterations=30,
                                 n_per_iteration=20, n_seeds=4, seed=2, ridge=0.0)
    t = np.arange(1, 31)
    ratio = run.spread[:, 1:] / run.spread[:, :-1]
    predicted = 1 - (1 - run.batch_spread) / t + run.batch_shift * (t - 1) / t**2
    np.testing.assert_allclose(ratio, predicted, rtol=1e-9)


def test_sufficient_statistics_without_selection_match_the_closed_form():
    run = sim.simulate_selection("replace", None, d=3, n_iterations=6, n_per_iteration=6, n_seeds=40000, seed=3,
                                 ridge=0.0)
    z = (run.spread.mean(0) - th.replace_spread(np.arange(7), 6))[1:] / (
        run.spread.std(0, ddof=1)[1:] / math.sqrt(40000))
    assert np.max(np.abs(z)) < 4


def test_policy_and_selection_errors():
    kw = {"d": 3, "n_iterations": 2, "n_per_iteration": 5, "n_seeds": 2, "seed": 0}
    for policy in (DataPolicy.ACCUMULATE_SUBSAMPLE, DataPolicy.REPLACE_MULTIPLE):
        with pytest.raises(PolicyNotImplementedError, match=r"is not implemented in collapse_utils\.sim\.selection"):
            sim.simulate_selection(policy, None, **kw)
    with pytest.raises(ValueError, match="selection must be a BiasedSelection or None"):
        sim.simulate_selection("replace", 0.05, **kw)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \(0, 1\]"):
        sim.BiasedSelection(alpha=0.0)
