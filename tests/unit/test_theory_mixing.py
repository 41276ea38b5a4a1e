"""Closed forms of fresh-data mixing, each against an independent computation (iteration, brute force, Monte Carlo)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from collapse_utils.theory import linear
from collapse_utils.theory import mixing as th


def iterate_ar1(w, k, rounds=5000):
    """E e_t^2 / (v/n) by iterating the recursion E e_t^2 = (1-w)^2 (E e_{t-1}^2 + k) + w^2 from E e_0^2 = 1."""
    e = 1.0
    for _ in range(rounds):
        e = (1 - w) ** 2 * (e + k) + w**2
    return e


@pytest.mark.parametrize("k", [0.05, 0.25, 1.0, 4.0])
@pytest.mark.parametrize("w", [0.1, 0.3, 0.618, 0.9, 1.0])
def test_stationary_factor_is_the_fixed_point_of_the_recursion(w, k):
    assert th.stationary_error_factor(w, k) == pytest.approx(iterate_ar1(w, k), rel=1e-12)


def test_stationary_factor_at_known_points():
    assert th.stationary_error_factor(1.0) == 1.0  # real data only
    assert th.stationary_error_factor(0.5) == pytest.approx(2 / 3, rel=1e-15)
    assert th.stationary_error_factor(th.GOLDEN_WEIGHT) == pytest.approx(th.GOLDEN_WEIGHT, rel=1e-14)
    out = th.stationary_error_factor(np.array([0.25, 0.5, 0.75]))
    assert out.shape == (3,)


def test_golden_weight_solves_the_golden_equation():
    x = th.GOLDEN_WEIGHT
    assert x * x + x - 1 == pytest.approx(0.0, abs=1e-15)
    assert 1 / x == pytest.approx((1 + math.sqrt(5)) / 2, rel=1e-15)


@pytest.mark.parametrize("k", [0.01, 0.05, 0.25, 1.0, 3.0])
def test_optimal_weight_minimizes_the_factor_and_equals_its_minimum(k):
    res = minimize_scalar(lambda w: th.stationary_error_factor(w, k), bounds=(1e-6, 1.0), method="bounded",
                          options={"xatol": 1e-12})
    w_star = th.optimal_real_weight(k)
    assert w_star == pytest.approx(res.x, abs=1e-6)
    assert th.stationary_error_factor(w_star, k) == pytest.approx(w_star, rel=1e-12)


def test_optimal_weight_at_k_one_is_golden_and_small_k_behaves_like_sqrt_k():
    assert th.optimal_real_weight(1.0) == pytest.approx(th.GOLDEN_WEIGHT, rel=1e-15)
    assert th.optimal_real_weight(1e-6) == pytest.approx(1e-3, rel=1e-3)


def test_naive_weight_is_the_real_share_of_the_pooled_sample():
    assert th.naive_real_weight(1.0) == 0.5
    assert th.naive_real_weight(0.25) == pytest.approx(100 / (100 + 400))


@pytest.mark.parametrize("w", [0.2, 0.618, 0.9])
def test_mixing_path_matches_the_iterated_recursion(w):
    e, path = 1.0, [1.0]
    for _ in range(40):
        e = (1 - w) ** 2 * (e + 1) + w**2
        path.append(e)
    np.testing.assert_allclose(th.mixing_error_path(np.arange(41), w), path, rtol=1e-12)


def test_invalid_weights_are_rejected():
    with pytest.raises(ValueError, match=r"w must be .*\(0, 1\]"):
        th.stationary_error_factor(0.0)
    with pytest.raises(ValueError, match="k must be"):
        th.optimal_real_weight(-1.0)


# ---------------------------------------------------------------------------------------------------------
# the covariance estimator: exact fixed point against a literal Monte Carlo with explicit samples
# ---------------------------------------------------------------------------------------------------------


def literal_covariance_loop(w, n, m, p, rounds, runs, seed):
    """Explicit samples (vectorized over runs), unbiased covariances; ||Sigma_t - I||_F^2 of the last round."""
    rng = np.random.default_rng(seed)

    def sample_stats(points):
        mean = points.mean(axis=1)
        centred = points - mean[:, None]
        return mean, np.swapaxes(centred, 1, 2) @ centred / (points.shape[1] - 1)

    mean, cov = sample_stats(rng.standard_normal((runs, n, p)))
    for _ in range(rounds):
        L = np.linalg.cholesky(cov)
        syn_mean, syn_cov = sample_stats(mean[:, None] + rng.standard_normal((runs, m, p)) @ np.swapaxes(L, 1, 2))
        real_mean, real_cov = sample_stats(rng.standard_normal((runs, n, p)))
        mean = (1 - w) * syn_mean + w * real_mean
        cov = (1 - w) * syn_cov + w * real_cov
    return np.sum((cov - np.eye(p)) ** 2, axis=(1, 2))


def test_covariance_fixed_point_against_explicit_samples():
    # n = m = 8, p = 2, w = 0.5: 30 rounds reach stationarity ((1-w)^60 ~ 1e-18); 20,000 runs; 4 standard errors
    errs = literal_covariance_loop(0.5, 8, 8, 2, rounds=30, runs=20000, seed=11)
    theory = th.covariance_stationary_error(0.5, 8, 8, 2)
    assert abs(errs.mean() - theory) < 4 * errs.std(ddof=1) / np.sqrt(errs.size)


def test_covariance_error_limits():
    # real data only: one unbiased covariance's error (tr Sigma^2 + (tr Sigma)^2) / (n - 1)
    assert th.covariance_stationary_error(1.0, 100, 100, 3) == pytest.approx((3 + 9) / 99, rel=1e-12)
    # large samples: minimizer -> 1/phi, minimum -> (1/phi) x the real-only error
    grid = np.linspace(0.55, 0.7, 1501)
    big = np.array([th.covariance_stationary_error(w, 10**6, 10**6, 2) for w in grid])
    assert grid[np.argmin(big)] == pytest.approx(th.GOLDEN_WEIGHT, abs=2e-4)
    small = np.array([th.covariance_stationary_error(w, 10, 10, 2) for w in grid])
    assert grid[np.argmin(small)] > th.GOLDEN_WEIGHT + 0.01  # finite samples push the optimum up


def test_covariance_recursion_that_diverges_is_rejected():
    with pytest.raises(ValueError, match="covariance recursion to contract"):
        th.covariance_stationary_error(0.001, 100, 3, 2)


# ---------------------------------------------------------------------------------------------------------
# accumulate without fresh data
# ---------------------------------------------------------------------------------------------------------


def literal_accumulate_means(n, p, iterations, runs, seed, ddof=1):
    """Explicit pools (vectorized over runs): fit i uses the real sample and i - 1 synthetic samples."""
    rng = np.random.default_rng(seed)
    out = np.empty((runs, iterations))
    pool = rng.standard_normal((runs, n, p))
    for i in range(iterations):
        mean = pool.mean(axis=1)
        out[:, i] = np.sum(mean**2, axis=1)
        centred = pool - mean[:, None]
        cov = np.swapaxes(centred, 1, 2) @ centred / (pool.shape[1] - ddof)
        draw = mean[:, None] + rng.standard_normal((runs, n, p)) @ np.swapaxes(np.linalg.cholesky(cov), 1, 2)
        pool = np.concatenate([pool, draw], axis=1)
    return out / (p / n)


@pytest.mark.parametrize("ddof", [0, 1])
def test_accumulate_mean_error_against_explicit_pools(ddof):
    sim = literal_accumulate_means(5, 2, 12, runs=20000, seed=3 + ddof, ddof=ddof)
    theory = th.accumulate_mean_error(np.arange(1, 13), 5, ddof=ddof)
    z = (sim.mean(0) - theory) / (sim.std(0, ddof=1) / np.sqrt(sim.shape[0]))
    assert np.max(np.abs(z)) < 4


def test_accumulate_mean_error_is_bounded_by_basel():
    err = th.accumulate_mean_error(np.arange(1, 2001), 10)
    assert err[0] == 1.0
    assert np.all(np.diff(err) > 0)
    assert np.all(err <= linear.basel_partial_sum(np.arange(1, 2001)) + 1e-12)
    assert err[-1] < linear.BASEL_LIMIT


# ---------------------------------------------------------------------------------------------------------
# label mixing for least squares and interpolation
# ---------------------------------------------------------------------------------------------------------


def test_label_mixing_variance_of_one_design_by_explicit_loop():
    # one fixed design, explicit labels refitted each round (minimum-norm lstsq solution, computed once as the
    # solution operator), many runs: the variance part is f(w) sigma^2 tr(X+ X+^T)
    rng = np.random.default_rng(5)
    n, p, w, runs = 6, 12, 0.4, 10000
    X = rng.standard_normal((n, p))
    pinv = np.linalg.pinv(X)
    solve = np.linalg.lstsq(X, np.eye(n), rcond=None)[0]  # p x n: minimum-norm solution for each unit label vector
    beta = rng.standard_normal(p)
    est = np.tile(pinv @ (X @ beta), (runs, 1)) + (pinv @ rng.standard_normal((n, runs))).T
    for _ in range(40):  # (1 - w)^80 ~ 1e-18: stationary
        y = (1 - w) * (est @ X.T + rng.standard_normal((runs, n))) + w * (X @ beta + rng.standard_normal((runs, n)))
        est = y @ solve.T
    var = np.sum((est - pinv @ X @ beta) ** 2, axis=1)
    expected = th.stationary_error_factor(w) * np.trace(pinv @ pinv.T)
    assert abs(var.mean() - expected) < 4 * var.std(ddof=1) / np.sqrt(runs)


def test_label_mixing_risk_averages_the_inverse_wishart_over_designs():
    rng = np.random.default_rng(9)
    traces = [np.trace(np.linalg.inv(x.T @ x)) for x in rng.standard_normal((20000, 40, 5))]
    assert th.label_mixing_risk(1.0, 40, 5, 1.0) == pytest.approx(5 / 34)
    assert np.mean(traces) == pytest.approx(th.label_mixing_risk(1.0, 40, 5, 1.0), rel=0.02)
    risk = th.label_mixing_risk(th.GOLDEN_WEIGHT, 20, 50, 2.0, signal2=3.0)
    assert risk == pytest.approx(3.0 * (1 - 20 / 50) + th.GOLDEN_WEIGHT * 2.0 * 20 / 29, rel=1e-12)
    with pytest.raises(ValueError, match=r"n must be <= p - 2 or >= p \+ 2"):
        th.label_mixing_risk(0.5, 10, 11, 1.0)
