"""The real-data-mixing chapter's page module: its tables, figures, glued numbers and checks on small simulations and
on synthetic error curves built around the closed forms, and each check failing on inconsistent data."""

import dataclasses

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils.chapter import MarkdownTable, Row
from collapse_utils.pages import real_data_mixing as page
from collapse_utils.sim import mixing as sim_mix
from collapse_utils.sim import strong_collapse as sim_sc
from collapse_utils.theory import mixing as mix

WS = np.sort(np.append(np.round(np.arange(0.20, 0.79, 0.02), 2), mix.GOLDEN_WEIGHT))
ROUNDS = {"n_rounds": 25, "burn_in": 15}
NS = np.array([100, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000])
PS = np.array([0.0, 0.01, 0.1])
RATIOS = np.array([0.25, 0.5, 0.75, 0.9, 1.1, 1.5, 2.0, 4.0, 8.0])


def synthetic_errors(weights, theory, *, sd: float, n_runs: int, unit: float = 1.0, seed: int = 0):
    """Per-run stationary errors around ``theory`` with independent noise of relative ``sd``."""
    rng = np.random.default_rng(seed)
    runs = theory * (1 + sd * rng.standard_normal((n_runs, len(weights))))
    return sim_mix.MixingErrors(np.asarray(weights), runs, np.zeros((len(weights), 2)), np.ones((len(weights), 2)),
                                unit)


@pytest.fixture(scope="module")
def golden():
    """Small fresh-data simulations of the four estimators, and the accumulate loop."""
    gauss = sim_mix.simulate_gaussian_mixing("replace", WS, n=100, p=2, n_runs=100, seed=1, **ROUNDS)
    reg = sim_mix.simulate_regression_mixing("replace", WS, n=100, p=2, sigma=1.0, n_runs=100, seed=2, **ROUNDS)
    interp = sim_mix.simulate_label_mixing("replace", WS, n=10, p=20, sigma=1.0, signal=1.0, n_runs=100, seed=3,
                                           **ROUNDS)
    acc = sim_mix.simulate_gaussian_mixing("accumulate", None, n=100, p=2, n_rounds=20, burn_in=19, n_runs=200,
                                           seed=4)
    curves = page.golden_curves(WS, gauss, interp, reg, n=100, p=2)
    return curves, page.check_curves_on_theory(WS, curves, n_boot=20), page.check_accumulate(acc, n=100)


@pytest.fixture(scope="module")
def ols():
    strong = sim_sc.simulate_mixed_ols(NS, PS, d=50, sigma=0.5, delta_norm=1.0, n_runs=30, seed=7)
    return page.check_mixed_ols(strong, NS, PS, d=50, sigma=0.5, delta=1.0)


def projection(peaked: bool = True, n_runs: int = 30, seed: int = 0) -> sim_sc.ProjectionErrors:
    """Random-projection errors whose extra error peaks at the threshold (or is flat), plus noise."""
    rng = np.random.default_rng(seed)
    shape = 1 / (0.2 + np.abs(np.log(RATIOS))) if peaked else np.ones(RATIOS.size)
    clean = np.ones((n_runs, RATIOS.size))
    return sim_sc.ProjectionErrors(RATIOS, clean + shape + 0.01 * rng.standard_normal(clean.shape), clean)


def test_weights_table():
    table = page.weights_table({"half": 0.5, "golden": mix.GOLDEN_WEIGHT, "real": 1.0}).text
    assert "| half | 0.500 | 0.6667 |" in table and "| golden | 0.618 | 0.6180 |" in table
    assert "| real | 1.000 | 1.0000 |" in table


def test_curves_on_theory_and_their_minima(golden):
    curves, minima, _ = golden
    assert list(curves) == list(minima) == ["Gaussian mean", "interpolation (labels)", "Gaussian covariance",
                                            "regression (random design)"]
    assert curves["Gaussian mean"].runs.shape == (100, WS.size) and not curves["regression (random design)"].exact
    assert abs(minima["Gaussian mean"]["ref"]["w_min"] - mix.GOLDEN_WEIGHT) < 0.01
    table = page.minima_table(minima).text
    assert table.count("\n") == 5 and "(4% allowed)" in table


def test_curves_check_fails_off_theory(golden):
    curves = golden[0]
    biased = {"Gaussian mean": curves["Gaussian mean"]._replace(theory=1.2 * curves["Gaussian mean"].theory)}
    with pytest.raises(AssertionError, match="Gaussian mean"):
        page.check_curves_on_theory(WS, biased, n_boot=20)
    regression = curves["regression (random design)"]
    with pytest.raises(AssertionError, match="regression"):
        page.check_curves_on_theory(WS, {"regression": regression._replace(runs=1.3 * regression.runs)}, n_boot=20)


def test_exact_covariance_minimiser():
    grid = np.linspace(0.5, 0.8, 31)
    assert page.exact_covariance_minimiser(10_000, 2, grid) == pytest.approx(0.62)  # 1/phi as n grows
    assert page.exact_covariance_minimiser(10, 2, grid) > 0.63


def test_accumulate_and_glued_numbers(golden, monkeypatch):
    curves, _, accumulate = golden
    monkeypatch.setattr(page, "exact_covariance_minimiser", lambda n, p: {100: 0.62, 10: 0.637}[n])
    assert accumulate["fit"].tolist() == list(range(1, 21))
    assert accumulate["theory"][0] == pytest.approx(1.0) and accumulate["theory"][-1] < page.BASEL
    table = page.glue_golden_numbers(accumulate, curves, p=2).text
    assert "| the real weight at which $f_1(w) = \\pi^2/6$ | 0.22 |" in table
    assert "| covariance, exact minimiser, $n = 10$ | 0.637 |" in table


def test_accumulate_check_fails_against_another_sample_size():
    acc = sim_mix.simulate_gaussian_mixing("accumulate", None, n=100, p=2, n_rounds=20, burn_in=19, n_runs=200,
                                           seed=4)
    wrong = dataclasses.replace(acc["mean"], path_mean=2 * acc["mean"].path_mean)
    with pytest.raises(AssertionError, match="accumulate"):
        page.check_accumulate({"mean": wrong}, n=100)


def test_small_covariance_above_the_golden_ratio(monkeypatch):
    theory = np.array([mix.covariance_stationary_error(w, 10, 10, 2) for w in WS])
    small = page.check_small_covariance(WS, synthetic_errors(WS, theory, sd=0.05, n_runs=400), n=10, p=2, n_boot=20)
    assert small["sim"]["w_min"] > mix.GOLDEN_WEIGHT + 0.01
    monkeypatch.setattr(page, "exact_covariance_minimiser", lambda n, p: 0.637)
    assert "| the exact fixed point's minimiser |" in page.glue_small_covariance(small, n=10, p=2).text
    noisy = synthetic_errors(WS, theory, sd=1.0, n_runs=20)  # too few runs to tell it from 1/phi
    with pytest.raises(AssertionError, match="above 1/phi"):
        page.check_small_covariance(WS, noisy, n=10, p=2, n_boot=20)
    with pytest.raises(AssertionError, match="covariance at n = 10"):  # the n = 100 fixed point is not n = 10's
        page.check_small_covariance(WS, synthetic_errors(WS, theory, sd=0.05, n_runs=400), n=100, p=2, n_boot=20)


def test_optimal_weight_beats_naive_and_golden():
    k_runs = {k: sim_mix.simulate_gaussian_mixing("replace", page.compared_weights(k), n=100, p=2, synthetic_ratio=k,
                                                  n_runs=200, seed=6, **ROUNDS)["mean"] for k in (0.05, 0.25)}
    table = page.check_optimal_weight_wins(k_runs).text
    assert table.count("\n") == 7 and "| 0.05 | optimal w*(k) | 0.200 |" in table
    w3 = page.compared_weights(0.25)
    noisy = {0.25: synthetic_errors(w3, mix.stationary_error_factor(w3, 0.25), sd=1.0, n_runs=10)}
    with pytest.raises(AssertionError, match=r"w\*\(k\) over"):
        page.check_optimal_weight_wins(noisy)


def test_mixed_least_squares_and_its_exponents(ols):
    assert ols.note.startswith("9 sizes n >= 4d per fraction; worst:")
    slopes = page.check_scaling_exponents(ols)
    assert len(slopes) == 12
    table = page.exponents_table(slopes).text
    assert table.splitlines()[0] == "| p | n = 1e+03 to 10× | n = 1e+04 to 10× | n = 1e+05 to 10× | n = 1e+06 to 10× |"
    assert [line.split(" |")[0] for line in table.splitlines()[2:]] == ["| 0%", "| 1%", "| 10%"]
    floors = page.glue_floors(ols).text
    assert "| 10% | 1,769 | 0.01000 |" in floors and "simulation at n = 1e+07" in floors


def test_mixed_least_squares_checks_fail(ols):
    strong = sim_sc.simulate_mixed_ols(NS, PS, d=50, sigma=0.5, delta_norm=1.0, n_runs=30, seed=7)
    with pytest.raises(AssertionError, match="mixed least squares"):
        page.check_mixed_ols(strong, NS, PS, d=50, sigma=0.5, delta=2.0)
    flat = dataclasses.replace(ols, mean=np.stack([ols.mean[0], ols.mean[0], ols.mean[2]]))  # 1% as if clean
    with pytest.raises(AssertionError, match="p = 1%"):
        page.check_scaling_exponents(flat)


def test_model_size_claims():
    claims = page.check_model_size(projection(), RATIOS)
    assert list(claims)[-1] == "not prevented: 8n over 0" and min(claims.values()) >= 3
    assert page.claims_table(claims).text.count("\n") == 7
    assert "| largest extra error, near $m = n$ |" in page.glue_model_size(projection()).text
    with pytest.raises(AssertionError, match=r"grows: 0\.5n over 0\.25n"):
        page.check_model_size(projection(peaked=False), RATIOS)


def test_figures(golden, ols):
    curves, _, accumulate = golden
    for fig, n_axes in ((page.figure_golden_ratio(WS, curves, accumulate), 2), (page.figure_strong_collapse(ols), 1),
                        (page.figure_model_size(projection(), RATIOS), 2)):
        assert len(fig.axes) == n_axes
        plt.close(fig)


def test_paper_rows(golden, ols):
    _, minima, accumulate = golden
    small = {"sim": minima["Gaussian covariance"]["sim"]}
    rows = page.paper_rows(n_runs=100, minima=minima, small=small, accumulate=accumulate, ols=ols,
                           slopes=page.check_scaling_exponents(ols), proj=projection())
    assert len(rows) == 9 and all(isinstance(r, Row) for r in rows)
    assert "100 runs" in rows[0].note and "at $n = 10^7$; floors 0.01 / 0.0001" in rows[6].book
    assert rows[7].book.count("−") >= 2 and isinstance(page.claims_table({"c": 3.0}), MarkdownTable)
