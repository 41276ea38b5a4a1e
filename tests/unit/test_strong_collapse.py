"""Strong model collapse: the closed forms against explicit least squares, and the simulators against explicit data."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_utils.sim import strong_collapse as sim
from collapse_utils.theory import strong_collapse as th


def explicit_mixed_ols(n, p, d, sigma, delta_norm, runs, seed):
    """Explicit rows and numpy.linalg.lstsq; returns ||w_hat - w_1||^2 per run."""
    rng = np.random.default_rng(seed)
    n2 = round(p * n)
    out = np.empty(runs)
    for r in range(runs):
        w1 = rng.standard_normal(d) / np.sqrt(d)
        delta = rng.standard_normal(d)
        delta *= delta_norm / np.linalg.norm(delta)
        X = rng.standard_normal((n, d))
        y = X @ w1 + sigma * rng.standard_normal(n)
        y[:n2] += X[:n2] @ delta
        out[r] = np.sum((np.linalg.lstsq(X, y, rcond=None)[0] - w1) ** 2)
    return out


@pytest.mark.parametrize(("n", "p"), [(40, 0.0), (40, 0.25), (200, 0.1), (200, 0.5)])
def test_mixed_ols_error_against_explicit_least_squares(n, p):
    # leading order in 1/n: within 4 standard errors plus 4% (n = 8 d is the smallest size the chapter fits)
    errs = explicit_mixed_ols(n, p, 5, 0.7, 1.0, runs=6000, seed=int(100 * p) + n)
    theory = th.mixed_ols_error(n, 5, p, 1.0, 0.49)
    assert abs(errs.mean() - theory) <= 4 * errs.std(ddof=1) / np.sqrt(errs.size) + 0.04 * theory


def test_clean_error_is_the_exact_inverse_wishart_formula_and_the_floor_is_the_limit():
    assert th.mixed_ols_error(100, 10, 0.0, 5.0, 2.0) == pytest.approx(2.0 * 10 / 89, rel=1e-15)
    assert th.floor(0.1, 4.0) == pytest.approx(0.04)
    assert th.mixed_ols_error(1e12, 10, 0.1, 4.0, 2.0) == pytest.approx(th.floor(0.1, 4.0), rel=1e-8)
    out = th.mixed_ols_error(np.array([100.0, 1000.0]), 10, 0.1, 1.0, 1.0)
    assert out.shape == (2,) and out[1] < out[0]
    with pytest.raises(ValueError, match="n must be >= d \\+ 2"):
        th.mixed_ols_error(11, 10, 0.1, 1.0, 1.0)


def test_slope_is_the_derivative_of_log_error():
    n = np.geomspace(100, 1e7, 9)
    h = 1e-6
    up = np.log(th.mixed_ols_error(n * np.exp(h), 50, 0.05, 1.0, 0.25))
    down = np.log(th.mixed_ols_error(n * np.exp(-h), 50, 0.05, 1.0, 0.25))
    np.testing.assert_allclose(th.mixed_ols_slope(n, 50, 0.05, 1.0, 0.25), (up - down) / (2 * h), rtol=1e-6)
    assert th.mixed_ols_slope(1e4, 50, 0.0, 1.0, 0.25) == pytest.approx(-1.0, abs=0.01)  # clean: exponent -1
    assert th.mixed_ols_slope(1e9, 50, 0.05, 1.0, 0.25) > -1e-3  # floor: exponent 0


def test_crossover_is_where_the_decaying_part_equals_the_floor():
    n_star = th.crossover_sample_size(50, 0.1, 1.0, 0.25)
    assert th.mixed_ols_error(n_star, 50, 0.1, 1.0, 0.25) == pytest.approx(2 * th.floor(0.1, 1.0), rel=1e-12)
    assert th.crossover_sample_size(50, 0.01, 1.0, 0.25) > 50 * th.crossover_sample_size(50, 0.1, 1.0, 0.25)


def test_sufficient_statistic_simulator_matches_explicit_data():
    ns, ps = np.array([30, 120]), np.array([0.0, 0.2])
    sim_err = sim.simulate_mixed_ols(ns, ps, d=4, sigma=0.5, delta_norm=1.5, n_runs=5000, seed=2)
    for i, p in enumerate(ps):
        for j, n in enumerate(ns):
            explicit = explicit_mixed_ols(int(n), p, 4, 0.5, 1.5, runs=5000, seed=7 + j)
            se = np.hypot(sim_err[i, j].std() / np.sqrt(5000), explicit.std() / np.sqrt(5000))
            assert abs(sim_err[i, j].mean() - explicit.mean()) < 4 * se


def test_simulator_handles_fewer_synthetic_rows_than_dimensions_and_refuses_too_few_real_rows():
    # n2 = 2 < d = 4: no Bartlett factor; the explicit rows are used instead
    small = sim.simulate_mixed_ols(np.array([40]), np.array([0.05]), d=4, sigma=0.5, delta_norm=1.0, n_runs=4000,
                                   seed=3)
    explicit = explicit_mixed_ols(40, 0.05, 4, 0.5, 1.0, runs=4000, seed=4)
    assert abs(small.mean() - explicit.mean()) < 4 * np.hypot(small.std(), explicit.std()) / np.sqrt(4000)
    with pytest.raises(ValueError, match="at least d = 4 real points"):
        sim.simulate_mixed_ols(np.array([10]), np.array([0.9]), d=4, sigma=0.5, delta_norm=1.0, n_runs=2, seed=0)


def test_random_projection_equals_an_explicit_pseudo_inverse_fit():
    widths = np.array([3, 7, 12, 40])
    d, n, p, sigma, dn, seed = 10, 9, 1 / 3, 0.3, 0.8, 4
    out = sim.simulate_random_projection(widths, d=d, n=n, p=p, sigma=sigma, delta_norm=dn, n_runs=2, seed=seed)
    rng = np.random.default_rng(seed)  # replay the simulator's draws for run 0
    w1, delta = sim._truth(rng, 1, d, dn)
    X = rng.standard_normal((n, d))
    S = rng.standard_normal((widths.max(), d)) / np.sqrt(d)
    noise = sigma * rng.standard_normal(n)
    for j, m in enumerate(widths):
        y = X @ w1[0] + noise
        v_clean = np.linalg.pinv(X @ S[:m].T) @ y
        y[:3] += X[:3] @ delta[0]
        v_mixed = np.linalg.pinv(X @ S[:m].T) @ y
        assert out.clean[0, j] == pytest.approx(np.sum((S[:m].T @ v_clean - w1[0]) ** 2), rel=1e-8)
        assert out.mixed[0, j] == pytest.approx(np.sum((S[:m].T @ v_mixed - w1[0]) ** 2), rel=1e-8)
    np.testing.assert_allclose(out.extra, out.mixed - out.clean)
    with pytest.raises(ValueError, match="widths different from n = 9"):
        sim.simulate_random_projection(np.array([9]), d=d, n=n, p=p, sigma=sigma, delta_norm=dn, n_runs=2, seed=0)
