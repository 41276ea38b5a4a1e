"""Verifier-filtered retraining: the population map against large literal samples, and the simulator against an
explicit per-run loop with numpy.linalg.lstsq."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import verification as sim
from collapse_utils.theory import verification as th

SC = math.sqrt(2 / math.pi)


def literal_round(s, r, sigma_c, sigma, d, n, rng):
    """One population-size round, literally: delta = s e_1, fresh x, labels, acceptance, OLS on the kept points."""
    X = rng.standard_normal((n, d))
    z = X[:, 0] * s + sigma * rng.standard_normal(n)  # y - x^T theta_c
    keep = np.abs(z) <= r * np.linalg.norm(X, axis=1) + sigma_c
    coef = np.linalg.lstsq(X[keep], z[keep], rcond=None)[0]
    return keep.mean(), coef


@pytest.mark.parametrize(("s", "r", "d"), [(0.0, 0.5, 5), (0.7, 0.5, 5), (1.5, 0.25, 3), (0.4, 1.0, 1)])
def test_population_map_and_acceptance_against_a_large_literal_sample(s, r, d):
    rng = np.random.default_rng(int(10 * s + d))
    accept, coef = literal_round(s, r, SC, 1.0, d, 2_000_000, rng)
    assert th.acceptance_rate(s, r, SC, 1.0, d) == pytest.approx(accept, abs=2e-3)
    assert th.contraction_map(s, r, SC, 1.0, d) == pytest.approx(coef[0], abs=5e-3)
    assert np.all(np.abs(coef[1:]) < 5e-3)  # no drift orthogonal to delta


def test_contraction_factor_is_the_slope_of_the_map_at_the_fixed_point():
    for r in (0.05, 0.5, 2.0):
        eps = 1e-5
        assert th.contraction_factor(r, SC, 1.0, 5) == pytest.approx(th.contraction_map(eps, r, SC, 1.0, 5) / eps,
                                                                     rel=1e-6)
    assert th.contraction_map(0.0, 0.5, SC, 1.0, 5) == 0.0  # theta_c is a fixed point
    # a wider ball filters less: slower contraction, and no contraction without a filter
    rhos = [th.contraction_factor(r, SC, 1.0, 5) for r in (0.05, 0.25, 0.5, 1.0, 4.0)]
    assert np.all(np.diff(rhos) > 0) and 0 < rhos[0] and rhos[-1] == pytest.approx(1.0, abs=1e-4)


def test_the_map_contracts_most_slowly_at_the_fixed_point():
    s = np.linspace(0.05, 4.0, 40)
    ratio = th.contraction_map(s, 0.5, SC, 1.0, 5) / s
    assert np.all(ratio <= th.contraction_factor(0.5, SC, 1.0, 5) + 1e-12)
    assert np.all(np.diff(ratio) < 0)


def test_round_noise_against_replicated_rounds():
    # the spread of the kept-point OLS fit over 3,000 replicated rounds of N = 400 points, at s = 0 and s = 1
    rng = np.random.default_rng(7)
    d, n = 4, 400
    for s in (0.0, 1.0):
        fits = np.array([literal_round(s, 0.5, SC, 1.0, d, n, rng)[1] for _ in range(3000)])
        total = np.sum(fits.var(axis=0, ddof=1))
        assert th.round_noise(s, 0.5, SC, 1.0, d, n) == pytest.approx(total, rel=0.08)
    m = th._moments(0.0, 0.5, SC, 1.0, 5)
    x, q, w = th._nodes(5)
    u = (0.5 * np.sqrt(x * x + q) + SC) / 1.0
    ex2p0 = float(np.sum(w * x * x * (2 * th.ndtr(u) - 1)))
    rho = th.contraction_factor(0.5, SC, 1.0, 5)
    assert (m["noise_par"] + m["noise_perp"]) == pytest.approx(5 * rho / ex2p0, rel=1e-8)


def test_linearised_error_limits_and_population_path():
    e0, v_args = 5 / 14, (0.5, SC, 1.0, 5, 2000)
    k = np.arange(0, 400)
    for delta in (0.0, 0.3, 1.5):
        lin = th.linearised_error(k, delta, e0, *v_args)
        assert lin[0] == pytest.approx(e0, rel=1e-12)
        assert lin[-1] == pytest.approx(th.limit_error(delta, *v_args), rel=1e-9)
    path = th.population_path(np.arange(60), 1.5, 0.5, SC, 1.0, 5)
    assert path[0] == 0.0 and np.all(np.diff(path) > 0) and path[-1] == pytest.approx(2.25, rel=1e-6)
    bound, rho_bar, v_bar = th.contraction_bound(np.arange(5), 1.0, 0.5, SC, 1.0, 5, 2000, s_max=2.0)
    assert rho_bar == pytest.approx(th.contraction_factor(0.5, SC, 1.0, 5), rel=1e-9)
    assert v_bar >= th.round_noise(0.0, 0.5, SC, 1.0, 5, 2000)
    assert bound[0] == 1.0 and np.all(np.diff(bound) < 0)


# ---------------------------------------------------------------------------------------------------------
# the simulator against an explicit loop that replays its draws
# ---------------------------------------------------------------------------------------------------------


def explicit_loop(policy, verifier, *, d, n_real, n_synthetic, sigma, n_rounds, n_runs, seed):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n_runs, d)) / np.sqrt(d)
    u = rng.standard_normal((n_runs, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    center = theta + (0.0 if verifier is None else verifier.bias) * u
    X0 = rng.standard_normal((n_runs, n_real, d))
    y0 = np.einsum("rnd,rd->rn", X0, theta) + sigma * rng.standard_normal((n_runs, n_real))
    draws = [(rng.standard_normal((n_runs, n_synthetic, d)), sigma * rng.standard_normal((n_runs, n_synthetic)))
             for _ in range(n_rounds)]
    errors = np.empty((n_runs, n_rounds + 1))
    for r in range(n_runs):
        A, b = [X0[r]], [y0[r]]
        fit = np.linalg.lstsq(X0[r], y0[r], rcond=None)[0]
        errors[r, 0] = np.sum((fit - theta[r]) ** 2)
        for k, (X, noise) in enumerate(draws, start=1):
            y = X[r] @ fit + noise[r]
            if verifier is None:
                keep = np.ones(n_synthetic, dtype=bool)
            else:
                keep = np.abs(y - X[r] @ center[r]) <= verifier.radius * np.linalg.norm(X[r], axis=1) + \
                    verifier.allowance
            if policy == "replace":
                A, b = [X[r][keep]], [y[keep]]
            else:
                A, b = [*A, X[r][keep]], [*b, y[keep]]
            fit = np.linalg.lstsq(np.vstack(A), np.concatenate(b), rcond=None)[0]
            errors[r, k] = np.sum((fit - theta[r]) ** 2)
    return errors


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_simulator_equals_an_explicit_loop_for_each_verifier(policy):
    verifiers = [None, sim.Verifier(0.5, SC, 0.0), sim.Verifier(0.3, 0.5, 1.2)]
    kw = {"d": 3, "n_real": 8, "n_synthetic": 40, "sigma": 1.0, "n_rounds": 4, "n_runs": 3, "seed": 11}
    runs = sim.simulate_verified_regression(policy, verifiers, **kw)
    for verifier, run in zip(verifiers, runs, strict=True):
        np.testing.assert_allclose(run.error, explicit_loop(policy, verifier, **kw), rtol=1e-8)
        assert run.accepted.shape == (3, 4) and run.to_center.shape == (3, 5)
        if verifier is None:
            assert np.all(run.accepted == 1.0)
            np.testing.assert_allclose(run.to_center, run.error)


def test_without_a_verifier_replace_is_a_random_walk():
    # fresh inputs each round: every round adds sigma^2 d / (N - d - 1) to the error of the real fit
    run = sim.simulate_verified_regression("replace", [None], d=4, n_real=12, n_synthetic=20, sigma=1.0, n_rounds=6,
                                           n_runs=20000, seed=3)[0]
    expected = 4 / 7 + np.arange(7) * 4 / 15
    z = (run.mean() - expected) / run.sem()
    assert np.max(np.abs(z)) < 4


def test_policy_and_verifier_errors():
    kw = {"d": 3, "n_real": 8, "n_synthetic": 40, "sigma": 1.0, "n_rounds": 2, "n_runs": 2, "seed": 0}
    for policy in (DataPolicy.ACCUMULATE_SUBSAMPLE, DataPolicy.REPLACE_MULTIPLE):
        with pytest.raises(PolicyNotImplementedError, match=r"is not implemented in collapse_utils\.sim\.verification"):
            sim.simulate_verified_regression(policy, [None], **kw)
    with pytest.raises(ValueError, match="verifiers must be a non-empty sequence"):
        sim.simulate_verified_regression("replace", ["strict"], **kw)
    with pytest.raises(ValueError, match="radius must be a finite number >= 0"):
        sim.Verifier(-1.0, 0.5)
    with pytest.raises(RuntimeError, match="kept fewer than d = 3 points"):
        sim.simulate_verified_regression("replace", [sim.Verifier(0.0, 1e-9, 5.0)], **kw)
