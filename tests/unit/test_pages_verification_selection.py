"""The verification-and-selection chapter's page module: its tables, figures, glued numbers and checks on small
simulations and on synthetic selection runs that follow an exact power law, and each check failing on inconsistent
data."""

import dataclasses
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils.chapter import Row
from collapse_utils.pages import verification_selection as page
from collapse_utils.sim import selection as sim_sel
from collapse_utils.sim import verification as sim_ver

SC = float(np.sqrt(2 / np.pi))
LOOP = page.LinearLoop(d=5, n_real=20, n_synthetic=500, sigma=1.0, sigma_c=SC)
BIASES = {"unbiased": 0.0, "slightly biased": 0.3, "strongly biased": 1.5}
R_GRID, B_GRID = np.array([0.1, 0.5, 2.0]), np.array([0.0, 0.5, 1.0])
LOGS = {"spread_1": (0.687, 0.044), "spread_300": (0.0802, 0.0223), "exponent": (-0.594, 0.028)}


@pytest.fixture(scope="module")
def verified():
    """The loop without a verifier and the three regimes, 60 runs of 30 rounds with N = 500."""
    verifiers = [None] + [sim_ver.Verifier(0.5, SC, bias) for bias in BIASES.values()]
    runs = sim_ver.simulate_verified_regression("replace", verifiers, d=5, n_real=20, n_synthetic=500, sigma=1.0,
                                                n_rounds=30, n_runs=60, seed=1)
    return runs[0], page.check_limits_and_bound(dict(zip(BIASES, runs[1:], strict=True)), LOOP)


@pytest.fixture(scope="module")
def vmap():
    grid = [sim_ver.Verifier(r, SC, b) for b in B_GRID for r in R_GRID]
    maps = sim_ver.simulate_verified_regression("replace", grid, d=5, n_real=20, n_synthetic=500, sigma=1.0,
                                                n_rounds=10, n_runs=30, seed=2)
    return maps, page.check_converged_cells(maps, R_GRID, B_GRID, LOOP)


@pytest.fixture(scope="module")
def loops():
    """Qiao et al.'s 2 x 2 at a small size: d = 4, 40 iterations of 50 points."""
    sel, q = sim_sel.BiasedSelection(alpha=0.1), {"d": 4, "n_iterations": 40, "n_per_iteration": 50, "seed": 1}
    return {("replace", "none"): sim_sel.simulate_selection("replace", None, n_seeds=200, **q),
            ("accumulate", "none"): sim_sel.simulate_selection("accumulate", None, n_seeds=200, **q),
            ("replace", "selection"): sim_sel.simulate_selection("replace", sel, n_seeds=5, **q),
            ("accumulate", "selection"): sim_sel.simulate_selection("accumulate", sel, n_seeds=5, **q)}


def power_law_run(exponent: float, c: float, kappa: float, *, n_seeds: int = 6, n_iterations: int = 300,
                  scale: float = 1.0, seed: int = 0) -> SimpleNamespace:
    """A selection run whose spread decays exactly as ``t^exponent`` (seed-wise jitter of 0.002 in the exponent),
    with constant selection constants ``c`` and ``kappa``; ``scale`` is the spread at the last iteration."""
    rng = np.random.default_rng(seed)
    t = np.maximum(np.arange(n_iterations + 1), 1)
    slopes = exponent + 0.002 * rng.standard_normal(n_seeds)
    spread = scale * (t / n_iterations) ** slopes[:, None] * np.exp(0.1 * rng.standard_normal((n_seeds, 1)))
    constant = np.ones((n_seeds, n_iterations))
    return SimpleNamespace(spread=spread, batch_spread=c * constant, batch_shift=kappa * constant)


def test_linear_loop_and_speed_table():
    assert LOOP.e0 == pytest.approx(5 / 14) and 0 < LOOP.rho(0.1) < LOOP.rho(0.5) < LOOP.rho(2.0) < 1
    assert LOOP.limit(1.5, 0.5) > 1.5**2 and LOOP.path(0, 0.3, 0.5) == pytest.approx(LOOP.e0)
    table = page.speed_table(LOOP, [0.1, 0.5]).text
    assert table.count("\n") == 3 and f"| r = 0.5 | {LOOP.rho(0.5):.3f} |" in table


def test_random_walk_without_a_verifier(verified):
    plain, _ = verified
    walk = page.check_random_walk(plain, LOOP)
    assert walk.shape == (31,) and walk[0] == pytest.approx(LOOP.e0)
    with pytest.raises(AssertionError, match="no verifier"):
        page.check_random_walk(plain, dataclasses.replace(LOOP, n_synthetic=50))


def test_regimes(verified):
    _, regimes = verified
    page.check_three_regimes(regimes, LOOP.e0)
    assert regimes["strongly biased"].limit == pytest.approx(LOOP.limit(1.5, 0.5))
    table = page.regimes_table(regimes).text
    assert "| round 30 |" in table.splitlines()[0] and "| strongly biased | 1.5 |" in table
    glued = page.glue_contraction(LOOP, 0.5).text
    assert "| $e_0 = \\sigma^2 d/(n_0 - d - 1)$, the real fit's error | 0.357 |" in glued


def test_regime_checks_fail(verified):
    regimes = verified[1]
    with pytest.raises(AssertionError, match="unbiased"):  # its limit is not that of a verifier 10 times as wide
        page.check_limits_and_bound({"unbiased": regimes["unbiased"].run}, dataclasses.replace(LOOP, sigma_c=10 * SC))
    swapped = {"unbiased": regimes["strongly biased"], "slightly biased": regimes["slightly biased"],
               "strongly biased": regimes["unbiased"]}
    with pytest.raises(AssertionError, match="unbiased verifier"):
        page.check_three_regimes(swapped, LOOP.e0)
    with pytest.raises(AssertionError, match="strongly biased verifier"):
        page.check_three_regimes({**regimes, "strongly biased": regimes["slightly biased"]}, LOOP.e0)


def test_converged_cells(vmap):
    maps, checked = vmap
    assert checked.rounds == 10 and checked.after.shape == (3, 3) and checked.converged.tolist() == [True, False, False]
    assert checked.note == "converged radii: [0.1]; 3 cells on their limit"
    with pytest.raises(AssertionError, match="converged cells"):
        page.check_converged_cells(maps, R_GRID, B_GRID, dataclasses.replace(LOOP, n_synthetic=20))


def test_selection_without_and_with(loops):
    exact = page.check_no_selection(loops, n=50)
    assert exact["replace"][-1] == pytest.approx((49 / 50) ** 40)
    claims = page.check_selection_claims(loops, n_seeds=5)
    assert claims.table()["holds"].all()
    assert page.selection_claims_table(claims).text.count("| 5/5 |") == 3
    longer = {**loops, ("replace", "selection"): power_law_run(-2.0, 0.5, 0.0, n_iterations=60)}
    assert "| replace with selection: geometric-mean spread at $t = 50$ |" in page.glue_selection(longer).text


def test_selection_checks_fail(loops):
    with pytest.raises(AssertionError, match="replace without selection"):
        page.check_no_selection(loops, n=5)
    swapped = {**loops, ("replace", "none"): loops[("replace", "selection")],
               ("replace", "selection"): loops[("replace", "none")]}
    with pytest.raises(AssertionError, match="replace: selection lowers the spread"):
        page.check_selection_claims(swapped, n_seeds=5)


def test_power_law():
    power = page.check_power_law(power_law_run(-0.6, 0.3, 0.1))
    assert power["fitted"] == pytest.approx(-0.6, abs=0.005) and power["settled"] == pytest.approx(-0.6)
    assert power["first_step"] == pytest.approx(-0.7) and abs(power["early"] - power["late"]) < 0.01
    assert "| settled c and κ | −0.600 |" in page.power_table(power).text
    with pytest.raises(AssertionError, match="settled"):
        page.check_power_law(power_law_run(-0.6, 0.5, 0.1))


def test_against_the_authors_logs():
    first = np.random.default_rng(1).normal(0.687, 0.5, 300)
    ours = page.check_against_logs(LOGS, first, power_law_run(-0.594, 0.3, 0.1, n_seeds=10, scale=0.08))
    assert ours["exponent"][0] == pytest.approx(-0.594, abs=0.005)
    assert page.logs_table(LOGS, ours).text.count("\n") == 4
    with pytest.raises(AssertionError, match="exponent"):
        page.check_against_logs({**LOGS, "exponent": (-0.3, 0.028)}, first,
                                power_law_run(-0.594, 0.3, 0.1, n_seeds=10, scale=0.08))


def test_figures_and_paper_rows(verified, vmap, loops):
    plain, regimes = verified
    power = {"fitted": -0.6, "fitted_se": 0.01, "settled": -0.59, "first_step": -0.3}
    exact = page.check_no_selection(loops, n=50)
    full = {**loops, ("replace", "selection"): power_law_run(-2.0, 0.5, 0.0, n_iterations=60)}
    for fig, n_axes in ((page.figure_regimes(plain, page.check_random_walk(plain, LOOP), regimes, LOOP), 2),
                        (page.figure_verifier_map(vmap[1], LOOP), 2), (page.figure_selection(loops, exact, power), 4)):
        assert len(fig.axes) == n_axes
        plt.close(fig)
    rows = page.paper_rows(loop=LOOP, regimes=regimes, vmap=vmap[1], loops=full, power=power, logs=LOGS, ours=LOGS)
    assert len(rows) == 9 and all(isinstance(r, Row) for r in rows)
    assert "3 converged cells" in rows[4].book and "at $r = 0.5$" in rows[3].book
