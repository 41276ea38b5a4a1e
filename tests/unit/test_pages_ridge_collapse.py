"""The ridge-collapse chapter's page module: its figures, tables, glued numbers and checks on small simulations and
synthetic runs, and each check failing on inconsistent data."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from collapse_utils.chapter import MarkdownTable
from collapse_utils.pages import ridge_collapse as page
from collapse_utils.sim.ridge import RidgeRuns, simulate_ridge_collapse
from collapse_utils.theory import ridge as theory

pytestmark = pytest.mark.usefixtures("close_figures")

D, T0, SIGMA, SIGMA0 = 10, 30, 0.1, 0.2
EIGS, W0 = np.ones(D), np.full(D, D**-0.5)  # ||w0|| = 1
PROBLEM = dict(T0=T0, eigs=EIGS, w0_sq=W0**2, sigma2=SIGMA**2, sigma02=SIGMA0**2)


def runs_from(means: dict, n_runs: int = 40, noise: float = 0.01, seed: int = 0, **axes) -> RidgeRuns:
    """Synthetic runs whose parts scatter around ``means`` (each ``(T, n, lam)``) and whose total is their sum plus a
    zero-mean cross term."""
    rng = np.random.default_rng(seed)
    parts = {p: means[p][None] * (1 + noise * rng.standard_normal((n_runs, *means[p].shape))) for p in page.PARTS}
    cross = noise * rng.standard_normal(parts["bias"].shape) * means["bias"].mean()
    return RidgeRuns(**axes, total=sum(parts.values()) + cross, **parts)


def linear_ols(slope: float = 0.2, n_max: int = 10, n_runs: int = 30) -> RidgeRuns:
    """Synthetic OLS runs at one T and lambda = 0 whose mean error is 0.1 + slope * n."""
    ns = np.arange(n_max + 1)
    total = (0.1 + slope * ns)[None, None, :, None] + 0.01 * np.random.default_rng(1).standard_normal(
        (n_runs, 1, ns.size, 1))
    zero = np.zeros_like(total)
    return RidgeRuns(Ts=np.array([100]), ns=ns, lams=np.array([0.0]), total=total, bias=zero, variance=zero,
                     collapse=zero)


def test_theorem41_check_passes_on_a_simulation_and_fails_on_a_wrong_formula():
    ns, T = np.arange(6), 40
    ols = simulate_ridge_collapse(eigs=EIGS, w0=W0, T0=T0, sigma0=SIGMA0, sigma=SIGMA, ns=ns, Ts=[T], lams=[0.0],
                                  n_runs=100, seed=3)
    exact = theory.ols_collapse_error(ns, D, T, T0, SIGMA**2, SIGMA0**2)
    calib = page.check_theorem41(ols, exact)
    assert calib["max_abs_z"] < calib["threshold"]
    with pytest.raises(AssertionError, match=r"Theorem 4\.1"):
        page.check_theorem41(ols, 1.3 * exact)
    fig = page.figure_null(ols, exact, n_star=3.5)
    assert len(fig.axes) == 1 and len(fig.axes[0].get_legend().get_texts()) == 4


def test_null_crossover_is_the_first_n_above_the_null_error():
    ols = linear_ols()  # 0.1 + 0.2 n crosses 1 at n = 4.5
    assert page.check_null_crossover(ols, n_star=4.5) == 5
    with pytest.raises(AssertionError, match="crossover"):
        page.check_null_crossover(ols, n_star=8.2)
    with pytest.raises(AssertionError, match="no simulated n"):
        page.check_null_crossover(linear_ols(slope=0.01), n_star=4.5)


def test_glue_null_predictor(glued):
    table = page.glue_null_predictor({"max_abs_z": 1.234, "threshold": 3.67}, 24.81, 26, d=300, T=1000, T0=600,
                                     sigma02=0.04)
    assert isinstance(table, MarkdownTable)
    # n* for T -> infinity, sigma -> 0: SNR0 (1/phi0 - 1) = 25 * (2 - 1)
    assert glued == {"ols_max_z": "1.23", "n_star": "24.8", "n_star_sim": 26, "n_star_asym": "25"}
    assert "threshold 3.67" in table.text


def test_error_parts_and_cross_term_checks():
    ns, lams, T = np.array([0, 1, 2]), np.array([1e-3, 1.0]), 50
    parts = theory.collapse_terms(lams, T, ns[:, None], **PROBLEM)
    stack = runs_from({p: parts[p][None] for p in page.PARTS}, Ts=np.array([T]), ns=ns, lams=lams)
    worst = page.check_error_parts(stack, parts)
    assert set(worst) == set(page.PARTS) and max(worst.values()) < 1
    assert page.check_cross_terms(stack)["max_abs_z"] < 4
    wrong = {**parts, "collapse": 1.5 * parts["collapse"]}
    with pytest.raises(AssertionError, match="collapse"):
        page.check_error_parts(stack, wrong)
    biased = RidgeRuns(Ts=stack.Ts, ns=ns, lams=lams, total=stack.total + 0.01, bias=stack.bias,
                       variance=stack.variance, collapse=stack.collapse)
    with pytest.raises(AssertionError, match="cross terms"):
        page.check_cross_terms(biased)
    fig = page.figure_error_parts(stack, parts)
    assert [ax.get_title() for ax in fig.axes] == ["$T = 50$, $\\lambda = 0.001$", "$T = 50$, $\\lambda = 1$"]
    table = page.per_generation_table(parts, SIGMA0**2 * theory.rho_eq19(list(lams), T, T0, EIGS), list(lams))
    assert len(table.text.splitlines()) == 2 + lams.size


def test_retuned_penalty_gain_and_sweet_spot_table():
    ns, lam_opt = np.array([0, 1, 2]), np.array([0.01, 0.1, 1.0])
    grid = np.unique(np.r_[np.logspace(-3, 1, 5), lam_opt])
    # error of n at lambda: smallest at lam_opt[n]
    mean = 0.1 * ns[:, None] + (np.log(grid)[None, :] - np.log(lam_opt)[:, None]) ** 2 / 10 + 0.01
    runs = runs_from({"bias": mean[None], "variance": 0 * mean[None], "collapse": 0 * mean[None]},
                     Ts=np.array([1000]), ns=ns, lams=grid)
    g_mean, g_se, g_z = page.check_retuned_penalty(runs, lam_opt)
    assert g_mean.shape == (2,) and np.all(g_z >= 3)
    with pytest.raises(AssertionError, match="re-tuned penalty"):
        page.check_retuned_penalty(runs, np.array([1.0, 0.01, 0.01]))  # "re-tuned" penalties worse than lam 1
    table = page.sweet_spot_table(ns, lam_opt, mean.min(1), (g_mean, g_se, g_z))
    rows = table.text.splitlines()[2:]
    assert len(rows) == 3 and rows[0].endswith("| – | – |")


def test_figures_draw_what_they_are_given():
    ns, lams, Ts = np.array([0, 1]), np.logspace(-3, 0, 4), np.array([10, 100, 1000])
    errors = {p: np.full((1, ns.size, lams.size), 0.1) for p in page.PARTS}
    left = runs_from(errors, Ts=np.array([1000]), ns=ns, lams=lams)
    fine = np.logspace(-3, 0, 20)
    fig = page.figure_lambda_sweep(left, lams[:3], fine, np.ones((ns.size, fine.size)), [0.01, 0.1], [0.2, 0.3],
                                   marks=[(0.5, ":", "mark")])
    ax = fig.axes[0]
    assert ax.lines[0].get_xdata()[0] == 0.5 and ax.get_xscale() == "log"
    right = runs_from({p: np.full((Ts.size, ns.size, 1), 0.1) for p in page.PARTS}, Ts=Ts, ns=ns,
                      lams=np.array([1e-3]))
    fig = page.figure_sample_sizes(right, Ts, np.ones((Ts.size, ns.size)), d=100)
    assert fig.axes[0].get_xlabel() == "learner sample size $T$"
    over = {shared: right for shared in (True, False)}
    fig = page.figure_overparam(Ts, over, {shared: np.ones((Ts.size, ns.size)) for shared in over})
    assert [ax.get_title() for ax in fig.axes] == ["(a) one shared design", "(b) independent designs"]
    assert len(page.figure_kappa(np.logspace(-2, 1, 10), phis=(2, 0.5)).axes[0].lines) == 3
    assert len(page.figure_chain().axes) == 1


def test_glue_learner_numbers(glued):
    Ts, ns = np.array([100, 10**6]), np.array([0, 1, 20])
    right = runs_from({p: np.full((Ts.size, ns.size, 1), 0.1) for p in page.PARTS}, Ts=Ts, ns=ns,
                      lams=np.array([1e-3]))
    right_theory = np.full((Ts.size, ns.size), 0.798)
    table = page.glue_learner_numbers(right, right_theory, lam=1e-3, **PROBLEM)
    plateau = SIGMA0**2 * theory.rho_isotropic(1e-3, D / 10**6, D / T0)
    assert glued["plateau"] == f"{plateau:.4f}" and glued["plateau_20_theory"] == "0.798"
    assert glued["plateau_n"].data == f"${plateau:.4f}\\,n$"
    assert glued["bias_200"] == f"{theory.ridge_bias(1e-3, 200, EIGS, W0**2):.3f}"
    assert len(table.text.splitlines()) == 2 + 6


def test_paper_table(monkeypatch):
    monkeypatch.delenv("COLLAPSE_STORE", raising=False)
    Ts, ns = np.array([1000, 10**6]), np.array([0, 1, 2, 10])
    right = runs_from({p: np.full((Ts.size, ns.size, 1), 0.01) for p in page.PARTS}, Ts=Ts, ns=ns,
                      lams=np.array([1e-3]))
    over = {True: right, False: right}
    table = page.paper_table(calib={"max_abs_z": 1.97, "threshold": 3.67}, n_star=24.8, n_star_sim=26,
                             right=right, lam_opt=[0.003, 0.65], gain_z=np.array([7.6, 9.0]), over=over,
                             clean=np.array([0.5, 0.0]))
    lines = table.text.splitlines()
    assert len(lines) == 2 + 6
    assert "24.8 (Theorem 4.1); simulated: 26" in lines[3] and "$z \\ge$ 7.6" in lines[5]
