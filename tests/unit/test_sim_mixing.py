"""Mixing simulators (sufficient statistics) against slow simulators that draw every point, and their policy rules."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import mixing as sim


def agree(a: np.ndarray, b: np.ndarray, n_se: float = 4.0) -> None:
    """Two Monte-Carlo means (per-run values along axis 0) agree within n_se combined standard errors."""
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    z = np.abs(a.mean(axis=0) - b.mean(axis=0)) / se
    assert np.all(z < n_se), z


def explicit_gaussian_loop(loop, w, n, p, m, rounds, runs, seed):
    """Every point drawn; returns the errors of the mean and covariance at the last round, per run."""
    rng = np.random.default_rng(seed)

    def stats(points):
        mean = points.mean(axis=1)
        centred = points - mean[:, None]
        return mean, np.swapaxes(centred, 1, 2) @ centred / (points.shape[1] - 1)

    pool = rng.standard_normal((runs, n, p))
    mean, cov = stats(pool)
    for _ in range(rounds):
        draw = mean[:, None] + rng.standard_normal((runs, m, p)) @ np.swapaxes(np.linalg.cholesky(cov), 1, 2)
        if loop == "fresh":
            syn_mean, syn_cov = stats(draw)
            real_mean, real_cov = stats(rng.standard_normal((runs, n, p)))
            mean, cov = (1 - w) * syn_mean + w * real_mean, (1 - w) * syn_cov + w * real_cov
        elif loop == "replace":
            mean, cov = stats(draw)
        else:
            pool = np.concatenate([pool, draw], axis=1)
            mean, cov = stats(pool)
    return np.sum(mean**2, axis=1), np.sum((cov - np.eye(p)) ** 2, axis=(1, 2))


@pytest.mark.parametrize(("policy", "weights", "loop"), [("replace", [0.3], "fresh"), ("replace", None, "replace"),
                                                         ("accumulate", None, "accumulate")])
def test_gaussian_simulator_matches_explicit_samples(policy, weights, loop):
    n, p, rounds, runs = 6, 2, 8, 6000
    out = sim.simulate_gaussian_mixing(policy, weights, n=n, p=p, n_rounds=rounds + 1, burn_in=rounds,
                                       n_runs=runs, seed=1, synthetic_ratio=n / 5)  # m = 5 synthetic points
    mean_err, cov_err = explicit_gaussian_loop(loop, 0.3, n, p, 5, rounds, runs, seed=2)
    agree(out["mean"].stationary[:, 0], mean_err)
    agree(out["covariance"].stationary[:, 0], cov_err)


def test_gaussian_simulator_shapes_units_and_burn_in():
    ws = np.array([0.2, 0.5, 1.0])
    out = sim.simulate_gaussian_mixing("replace", ws, n=10, p=3, n_rounds=6, burn_in=2, n_runs=5, seed=0)
    res = out["mean"]
    assert res.stationary.shape == (5, 3) and res.path_mean.shape == (3, 6)
    assert res.unit == pytest.approx(3 / 10) and out["covariance"].unit == pytest.approx(12 / 9)
    # round 0 is the same real fit for every weight (common random numbers)
    assert np.all(res.path_mean[:, 0] == res.path_mean[0, 0])
    # the stationary average is the mean of the rounds burn_in..n_rounds-1 (per run; checked on the run mean)
    np.testing.assert_allclose(res.mean(), res.path_mean[:, 2:].mean(axis=1), rtol=1e-12)
    assert res.sem().shape == (3,)


def explicit_regression_loop(w, n, p, m, sigma, rounds, runs, seed):
    rng = np.random.default_rng(seed)
    beta = np.ones(p)
    X = rng.standard_normal((runs, n, p))
    y = X @ beta + sigma * rng.standard_normal((runs, n))
    est = np.linalg.solve(np.swapaxes(X, 1, 2) @ X, (np.swapaxes(X, 1, 2) @ y[..., None]))[..., 0]
    for _ in range(rounds):
        Xs = rng.standard_normal((runs, m, p))
        ys = (Xs @ est[..., None])[..., 0] + sigma * rng.standard_normal((runs, m))
        Xr = rng.standard_normal((runs, n, p))
        yr = Xr @ beta + sigma * rng.standard_normal((runs, n))
        weights = np.concatenate([np.full(n, w / n), np.full(m, (1 - w) / m)])
        A = np.concatenate([Xr, Xs], axis=1) * np.sqrt(weights)[:, None]
        b = np.concatenate([yr, ys], axis=1) * np.sqrt(weights)
        est = np.stack([np.linalg.lstsq(A[r], b[r], rcond=None)[0] for r in range(runs)])
    return np.sum((est - beta) ** 2, axis=1)


def test_regression_simulator_matches_explicit_weighted_least_squares():
    n, p, m, rounds, runs = 8, 2, 4, 6, 4000
    out = sim.simulate_regression_mixing("replace", [0.4], n=n, p=p, sigma=1.0, n_rounds=rounds + 1,
                                         burn_in=rounds, n_runs=runs, seed=3, synthetic_ratio=2.0)
    explicit = explicit_regression_loop(0.4, n, p, m, 1.0, rounds, runs, seed=4)
    agree(out.stationary[:, 0], explicit)
    assert out.unit == pytest.approx(2 / 8)


def explicit_label_loop(w, n, p, sigma, rounds, runs, seed):
    rng = np.random.default_rng(seed)
    out = np.empty(runs)
    for r in range(runs):
        X = rng.standard_normal((n, p))
        beta = rng.standard_normal(p) / np.sqrt(p)
        est = np.linalg.lstsq(X, X @ beta + sigma * rng.standard_normal(n), rcond=None)[0]
        for _ in range(rounds):
            y = (1 - w) * (X @ est + sigma * rng.standard_normal(n)) + w * (X @ beta + sigma * rng.standard_normal(n))
            est = np.linalg.lstsq(X, y, rcond=None)[0]
        proj = np.linalg.lstsq(X, X @ beta, rcond=None)[0]
        out[r] = np.sum((est - proj) ** 2)
    return out


@pytest.mark.parametrize(("n", "p"), [(12, 3), (4, 9)])
def test_label_mixing_simulator_matches_an_explicit_lstsq_loop(n, p):
    runs, rounds = 1500, 10
    out = sim.simulate_label_mixing("replace", [0.6], n=n, p=p, sigma=1.0, signal=1.0, n_rounds=rounds + 1,
                                    burn_in=rounds, n_runs=runs, seed=5)
    agree(out["variance"].stationary[:, 0], explicit_label_loop(0.6, n, p, 1.0, rounds, runs, seed=6))
    if p > n:  # the bias ||(I - P) beta||^2 averages (1 - n/p) ||beta||^2 = 1 - n/p
        assert out["bias"].mean() == pytest.approx(1 - n / p, abs=4 * out["bias"].std() / np.sqrt(runs))
    else:
        np.testing.assert_allclose(out["bias"], 0.0, atol=1e-20)


@pytest.mark.parametrize("policy", [DataPolicy.ACCUMULATE_SUBSAMPLE, DataPolicy.REPLACE_MULTIPLE])
def test_policies_without_an_algorithm_raise(policy):
    kw = {"n": 10, "p": 2, "n_rounds": 3, "burn_in": 1, "n_runs": 2, "seed": 0}
    with pytest.raises(PolicyNotImplementedError, match=f"'{policy.value}' is not implemented in collapse_utils"):
        sim.simulate_gaussian_mixing(policy, None, **kw)
    with pytest.raises(PolicyNotImplementedError):
        sim.simulate_regression_mixing(policy, [0.5], sigma=1.0, **kw)


def test_weights_must_match_the_policy():
    kw = {"n": 10, "p": 2, "n_rounds": 3, "burn_in": 1, "n_runs": 2, "seed": 0}
    with pytest.raises(ValueError, match="real_weights must be None for accumulate"):
        sim.simulate_gaussian_mixing("accumulate", [0.5], **kw)
    with pytest.raises(ValueError, match="real_weights must be a 1-D array of weights"):
        sim.simulate_regression_mixing("replace", None, sigma=1.0, **kw)
    with pytest.raises(ValueError, match=r"real_weights must be None or a 1-D array .* in \(0, 1\]"):
        sim.simulate_gaussian_mixing("replace", [0.0, 0.5], **kw)
    with pytest.raises(ValueError, match="burn_in must be an integer in"):
        sim.simulate_gaussian_mixing("replace", [0.5], **{**kw, "burn_in": 3})
    with pytest.raises(ValueError, match="synthetic_ratio must be 1"):
        sim.simulate_label_mixing("replace", [0.5], sigma=1.0, signal=1.0, synthetic_ratio=2.0, **kw)


def test_wishart_factor_has_the_wishart_mean():
    rng = np.random.default_rng(0)
    A = sim.wishart_factor(rng, (20000,), 3, 7)
    assert np.allclose(np.triu(A[0], 1), 0.0)
    mean = (A @ np.swapaxes(A, 1, 2)).mean(axis=0)
    np.testing.assert_allclose(mean, 7 * np.eye(3), atol=0.15)
    with pytest.raises(ValueError, match="dof >= p"):
        sim.wishart_factor(rng, (2,), 3, 2)


def test_fitted_minimum_recovers_a_known_vertex():
    ws = np.linspace(0.3, 0.9, 25)
    rng = np.random.default_rng(1)
    curves = 2.0 + 5.0 * (ws - 0.61) ** 2 + 0.01 * rng.standard_normal((200, ws.size))
    out = sim.fitted_minimum(ws, curves, window=(0.4, 0.85), degree=2, n_boot=100)
    assert out["w_min"] == pytest.approx(0.61, abs=4 * out["se_w"] + 1e-3)
    assert out["value_min"] == pytest.approx(2.0, abs=4 * out["se_value"] + 1e-3)
    assert 0 < out["se_w"] < 0.01
    with pytest.raises(ValueError, match="window must be a range holding at least"):
        sim.fitted_minimum(ws, curves, window=(0.4, 0.42), degree=3)
    with pytest.raises(ValueError, match=r"stationary must be an array of shape \(n_runs, 25\)"):
        sim.fitted_minimum(ws, curves[:, :3])
