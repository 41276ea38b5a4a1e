"""The scaling-laws chapter's page module: its figures, tables, glued numbers and checks on synthetic sweeps over the
learner's sample size, and each check failing on inconsistent data."""

import functools

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from collapse_utils.pages import ridge_collapse
from collapse_utils.pages import scaling_laws as page
from collapse_utils.sim.ridge import RidgeRuns
from collapse_utils.theory import scaling

pytestmark = pytest.mark.usefixtures("close_figures")

EX = scaling.exponents(2.0, 0.375)  # ell_crit = 0.8, c = 0.6
TS = np.geomspace(100, 1e5, 16).round(-1)
NS = np.array([0, 1, 2])
T0, N_RUNS = 600, 20


def sweep(theory, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """Per-run errors ``(N_RUNS, T, n, rule)`` scattering around ``theory`` by a relative ``noise``."""
    rng = np.random.default_rng(seed)
    return theory[None] * (1 + noise * rng.standard_normal((N_RUNS, *theory.shape)))


def power_laws(rise: float = EX.ell_crit / EX.beta) -> np.ndarray:
    """Errors ``(T, n, rule)`` with the chapter's exponents: ``T^-c`` for n = 0 (every rule), a U that bottoms out
    near ``T = 1000`` and then rises like ``T^rise`` under ``ell_crit`` for n >= 1, and floors under the other two
    rules (``ell_star`` 10% above the best)."""
    theory = np.empty((TS.size, NS.size, 3))
    theory[:, 0, :] = TS[:, None] ** -EX.c
    for j, n in enumerate(NS[1:], start=1):
        theory[:, j, 0] = 0.1 * n * (TS / 1000) ** rise + 0.1 * n * (TS / 1000) ** -1.0
        theory[:, j, 1], theory[:, j, 2] = 0.022 * n, 0.02 * n
    return theory


def test_mean_sem_and_exponents_table():
    mean, sem = page.mean_sem(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert np.allclose(mean, [2, 3]) and np.allclose(sem, [1, 1])
    table = page.exponents_table({"Figure 1b": (2.0, 0.375), "other": (1.2, 0.15)})
    assert table.text.splitlines()[2] == "| Figure 1b | 2.0000 | 0.3750 | 0.5000 | 0.8000 | 0.6000 |"


def test_glue_penalties_and_the_shared_lambda_figure(glued):
    table = page.glue_penalties([7.6e-4, 0.01, 0.047], [1.0, 0.1, 0.022], 0.321, T=10_000, ell_crit=0.8)
    assert glued == {"lam_opt_0": "0.00076", "lam_crit_T": "0.00063", "lam_opt_5": "0.047", "lam_star_5": "0.022",
                     "worst_left": "0.32"}
    assert len(table.text.splitlines()) == 2 + 5
    lams = np.logspace(-6, 1, 8)
    parts = {p: np.full((1, NS.size, lams.size), 0.1) for p in ridge_collapse.PARTS}
    left = RidgeRuns(Ts=np.array([10_000]), ns=NS, lams=lams, total=np.stack([sum(parts.values())] * 3), **{
        p: np.stack([v] * 3) for p, v in parts.items()})
    fig = page.figure_penalty_sweep(left, lams, lams, np.ones((NS.size, lams.size)), [1e-3] * 3, [0.3] * 3,
                                    T=10_000, T0=T0, ell_crit=0.8)
    x = [line.get_xdata()[0] for line in fig.axes[0].lines[:2]]
    assert np.allclose(x, [10_000**-0.8, T0**-0.8])


def test_rules_against_theory():
    theory = power_laws()
    errors = sweep(theory)
    page.check_rules_against_theory(TS, errors, theory, d=300)
    worse_below_d = theory * np.where(TS < 300, 1.2, 1.0)[:, None, None]
    page.check_rules_against_theory(TS, sweep(worse_below_d), theory, d=300)  # 20% off below d: allowed (30%)
    with pytest.raises(AssertionError, match="differs from theory"):
        page.check_rules_against_theory(TS, sweep(theory * 1.2), theory, d=300)  # 20% off above d: not (10%)
    fig = page.figure_rules(TS, errors, theory, NS, T0)
    assert [ax.get_title() for ax in fig.axes] == list(page.TITLES)


def test_u_turn_bottom_glue_and_table(glued):
    theory = power_laws()
    errors = sweep(theory)
    bottom = page.check_same_bottom(TS, errors, theory, NS, rng=np.random.default_rng(0))
    assert list(bottom) == [1, 2] and all(abs(np.log(sim / at)) < 0.2 for at, sim, _ in bottom.values())
    shifted = theory.copy()
    shifted[:, 1:, 0] = power_laws()[np.clip(np.arange(TS.size) - 3, 0, None)][:, 1:, 0]  # bottom at larger T
    with pytest.raises(AssertionError, match="n = 1: simulated minimum"):
        page.check_same_bottom(TS, sweep(shifted), theory, NS, rng=np.random.default_rng(0))
    k = int(np.argmin(theory[:, 1, 0]))
    turn = {n: (int(TS[k]), float(theory[k, j, 0])) for j, n in enumerate(NS[1:], start=1)}
    page.glue_u_turn(TS, errors, theory, turn)
    assert glued["turn_theory"] == f"{int(TS[k])}, {int(TS[k])}"
    assert float(glued["flat_lo"]) <= TS[k] <= float(glued["flat_hi"])
    mean = errors.mean(0)
    assert glued["rise_1"] == f"{mean[-1, 1, 0] / mean[:, 1, 0].min():.1f}"
    rows = page.u_turn_table(TS, errors, turn, bottom).text.splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| 1", "| 2"]


def test_mitigation():
    theory = power_laws()
    page.check_mitigation(TS, sweep(theory), T0)
    no_gain = theory.copy()
    no_gain[..., 1] = no_gain[..., 0]
    with pytest.raises(AssertionError, match="l_star over l_crit"):
        page.check_mitigation(TS, sweep(no_gain), T0)
    far_from_best = theory.copy()
    far_from_best[:, 1:, 1] = 2 * far_from_best[:, 1:, 2]
    with pytest.raises(AssertionError, match="near the best"):
        page.check_mitigation(TS, sweep(far_from_best), T0)
    table = page.last_size_table(TS, sweep(theory), NS)
    assert table.text.splitlines()[0].endswith("best $\\lambda$, $T = 100000$ |")


def test_slopes(glued):
    theory = power_laws()
    slopes = page.check_slopes(TS, sweep(theory, noise=0.001), theory, NS, EX)
    assert len(slopes) == 1 + 3 * (NS.size - 1)
    assert np.allclose(slopes["fitted: Cor. 4.4"], slopes["predicted"], atol=0.05)
    with pytest.raises(AssertionError, match="predicted exponents"):
        page.check_slopes(TS, sweep(power_laws(rise=0.2), noise=0.001), theory, NS, EX)
    page.glue_slope_far(lambda lam, T, n: n * T**0.3, EX.ell_crit)
    assert glued == {"slope_far": "0.30"}
    assert "−0.600" in page.slopes_table(slopes).text  # the typographic minus


def test_crossover(monkeypatch):
    coarse = functools.partial(scaling.theorem51_best_exponent, n_ell=40)  # 10 times fewer ell than the page's
    monkeypatch.setattr(scaling, "theorem51_best_exponent", coarse)
    bs = np.array([0.5, 2.0])
    fitted, stated = page.check_crossover(2.0, 0.375, bs)
    assert np.allclose(stated[0], [0.3, 1.2]) and np.allclose(stated[1], [0.3, 0.6])
    fig = page.figure_crossover(bs, fitted, stated, fast=1.5)
    assert len(fig.axes[0].lines) == 5
    monkeypatch.setattr(scaling, "optimal_rate_exponent", lambda *a, **k: 0.0)
    with pytest.raises(AssertionError, match="crossover"):
        page.check_crossover(2.0, 0.375, bs)


def test_paper_table(monkeypatch):
    monkeypatch.delenv("COLLAPSE_STORE", raising=False)
    theory = power_laws()
    errors = sweep(theory)
    slopes = page.check_slopes(TS, sweep(theory, noise=0.001), theory, NS, EX)
    bottom = {1: (1000.0, 1100.0, 0.1), 2: (800.0, 700.0, 0.1)}
    table = page.paper_table(slopes=slopes, Ts=TS, errors=errors, turn={1: (1069, 0.2), 2: (731, 0.3)},
                             bottom=bottom, lam_opt=[7.6e-4, 0.047])
    lines = table.text.splitlines()
    assert len(lines) == 2 + 7
    assert "Corollary 4.4: 1069, 731; simulation: 1100, 700" in lines[4]
    assert "slope −0.60" in lines[2]
