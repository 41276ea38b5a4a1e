"""The linear-regression chapter's page module: its tables, figures, glued numbers and claims on small synthetic
grids (closed-form means times per-chain noise) and a small simulation, and each check failing on inconsistent data."""

import dataclasses
import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils import checks
from collapse_utils.chapter import STATUSES, MarkdownTable, Row, paper_table
from collapse_utils.pages import linear_regression as page
from collapse_utils.policies import DataPolicy
from collapse_utils.sim.linear import ChainErrors, simulate_grid
from collapse_utils.theory import linear as theory

REPLACE, ACCUMULATE = DataPolicy.REPLACE, DataPolicy.ACCUMULATE
MULTIPLE, SUBSAMPLE = DataPolicy.REPLACE_MULTIPLE, DataPolicy.ACCUMULATE_SUBSAMPLE
D, TS, SIGMA2S, N_ITER = 32, (100, 316, 1000), (1.0, 100.0), 50
LEVEL = {100: 1.5, 316: 1.2, 1000: 1.0}  # accumulate-subsample's level (x its first error), falling with T


def curves(T, i):
    """Each policy's mean error / first error: the closed forms, and a subsample curve that levels off."""
    return {REPLACE: i.astype(float), ACCUMULATE: theory.basel_partial_sum(i), MULTIPLE: theory.harmonic_number(i),
            SUBSAMPLE: LEVEL.get(T, 1.0) * (2 - 1 / i)}


def make_grid(shape=curves, *, d=D, Ts=TS, sigma2s=SIGMA2S, n_iter=N_ITER, n=200, n_sub=100, noise=0.05, seed=0,
              policies=(REPLACE, ACCUMULATE, MULTIPLE, SUBSAMPLE)):
    """A grid like simulate_grid's: errors = first error x shape x (1 + noise x standard normal), per chain."""
    rng = np.random.default_rng(seed)
    i = np.arange(1, n_iter + 1)
    grid = {}
    for T in Ts:
        for s2 in sigma2s:
            base, mean = theory.ols_test_error(d, T, s2), shape(T, i)
            grid[(T, s2)] = {
                p: ChainErrors(p, d, T, float(s2),
                               base * mean[p] * (1 + noise * rng.standard_normal((n_sub if p is SUBSAMPLE else n,
                                                                                   n_iter))))
                for p in policies}
    return grid


def raised_run(noise=0.05, n=400, scale=1.0):
    """The resolution check's extra run at T = 100, sigma2 = 1 (errors x ``scale``)."""
    run = make_grid(Ts=(100,), sigma2s=(1.0,), n=n, noise=noise, seed=7, policies=tuple(page.CLOSED_FORM))[(100, 1.0)]
    return {p: dataclasses.replace(r, errors=r.errors * scale) for p, r in run.items()}


@pytest.fixture(scope="module")
def grid():
    return make_grid()


@pytest.fixture(scope="module")
def small():
    return make_grid(d=21, Ts=(28,), sigma2s=(0.1, 1.0, 10.0), n_iter=10, policies=(REPLACE, ACCUMULATE), seed=3)


def test_sums_table_and_glued_theory_ratios():
    iters = np.array([1, 10, 50])
    table = page.sums_table(iters, theory.basel_partial_sum(iters), theory.harmonic_number(iters))
    assert isinstance(table, MarkdownTable)
    assert "| 50 | 1.625 | 4.499 | 30.8 | 2.769 |" in table.text
    assert page.glue_theory_ratios() == {"ratio_50_theory": "30.8", "multiple_50_theory": "2.77",
                                         "growth_multiple": "1.18"}


def test_grid_summary_groups_policies_by_chains(grid):
    assert page.grid_summary(grid) == ("6 settings x 4 policies x 50 iterations; chains per setting: "
                                       "200 (replace, accumulate, replace-multiple), 100 (accumulate-subsample)")


def test_closed_form_z_of_a_simulation_is_calibrated():
    sim = simulate_grid(["replace", "accumulate", "replace-multiple"], d=3, Ts=(8,), sigma2s=(1.0, 2.0),
                        n_iterations=5, n_seeds=200, seed=1)
    z = page.closed_form_z(sim)
    assert z.shape == (2 * 3 * 5,)
    calib = checks.assert_calibrated(z, distribution=False, what="small simulation")
    assert "30 points" in page.calibration_line(calib)


def test_glued_calibration_and_small_base(grid, small):
    calib = checks.assert_calibrated(page.closed_form_z(grid), what="synthetic grid")
    table = page.glue_calibration(calib)
    assert f"| points checked | {calib['points']:,} |" in table.text and calib["points"] == 6 * 3 * 50
    assert page.glue_small_base(small) == pytest.approx(3.5)


def test_late_replace_is_rejected_and_the_check_can_fail(grid):
    late_z, reason = page.assert_late_replace_rejected(grid)
    assert late_z > 10 and "replace drawn one iteration late" in reason

    def late(T, i):  # data that follow the late line
        return {**curves(T, i), REPLACE: i + 1.0}

    with pytest.raises(AssertionError, match="should have been rejected"):
        page.assert_late_replace_rejected(make_grid(late, policies=(REPLACE,), seed=1))


def test_resolution_passes_the_exact_form_and_rejects_the_cruder(grid):
    res = page.resolution(grid, raised_run())
    assert list(res.index) == [f"T = {T}, all two noise levels" for T in TS] + ["T = 100, sigma^2 = 1, raised chains"]
    assert res["chains"].tolist() == [400, 400, 400, 400]
    assert res["gap 1/(T−d)"].iloc[0] == pytest.approx(1 / 68)
    z_rule = page.assert_exact_passes_cruder_fails(res)
    assert z_rule == checks.family_z_threshold(4)
    assert "| T = 100, sigma^2 = 1, raised chains | 400 |" in page.resolution_table(res).text
    glued = page.glue_resolution(res, d=D, n_seeds=200, n_seeds_full=4000)
    assert "| chains per setting, `full` profile | 4,000 |" in glued.text


def test_resolution_check_can_fail(grid):
    cruder = page.resolution(grid, raised_run(scale=(100 - D - 1) / (100 - D)))  # data that follow d/(T-d)
    with pytest.raises(AssertionError, match="exact forms should pass"):
        page.assert_exact_passes_cruder_fails(cruder)
    blurred = page.resolution(grid, raised_run(noise=1.0, n=20))  # too few, too noisy chains to tell them apart
    with pytest.raises(AssertionError, match="rejects d/\\(T-d\\)"):
        page.assert_exact_passes_cruder_fails(blurred)


def test_claims_hold_on_consistent_data(grid):
    page.assert_between(grid)
    assert np.all(page.assert_subsample_not_on_one_scale(grid) > 3)
    page.assert_subsample_levels_off(grid)
    page.assert_multiple_rises(grid)


def test_claim_1_can_fail():
    def above_replace(T, i):
        return {**curves(T, i), SUBSAMPLE: 1.2 * i}

    with pytest.raises(AssertionError, match=re.escape("claim 1, T=100, s2=1.0: accumulate-subsample < replace")):
        page.assert_between(make_grid(above_replace, n=40, n_sub=20))


def test_claim_2_can_fail():
    def one_level(T, i):
        return {**curves(T, i), SUBSAMPLE: 1.2 * (2 - 1 / i)}

    with pytest.raises(AssertionError, match="claim 2"):
        page.assert_subsample_not_on_one_scale(make_grid(one_level, n=40, n_sub=20))


def test_claim_3_can_fail():
    def keeps_rising(T, i):
        return {**curves(T, i), SUBSAMPLE: 0.1 * i}

    with pytest.raises(AssertionError, match="claim 3, T=100"):
        page.assert_subsample_levels_off(make_grid(keeps_rising, n=40, n_sub=20))


def test_claim_4_can_fail():
    def levels_off(T, i):
        return {**curves(T, i), MULTIPLE: theory.harmonic_number(np.minimum(i, 25))}

    with pytest.raises(AssertionError, match=re.escape("claim 4, T=100, s2=1.0")):
        page.assert_multiple_rises(make_grid(levels_off, n=40, n_sub=20))


def test_subsample_table(grid):
    numbers = page.subsample_numbers(grid)
    assert list(numbers.index) == list(TS)
    assert numbers.iloc[:, 0].tolist() == pytest.approx([LEVEL[T] * 1.98 / theory.basel_partial_sum(50)
                                                         for T in TS], rel=0.02)
    assert numbers.iloc[:, 3].tolist() == pytest.approx([theory.harmonic_number(50) / theory.harmonic_number(25)] * 3,
                                                        rel=0.01)
    assert "| T | subsample / accumulate, i = 50 |" in page.subsample_table(grid).text


def test_ratio_se_is_the_delta_method():
    rng = np.random.default_rng(0)
    b = rng.uniform(1, 2, 100_000)
    a = 3 * b + rng.normal(0, 0.1, b.size)
    ratio, se = page.ratio_se(a, b)
    assert ratio == pytest.approx(3, abs=1e-3) and se == pytest.approx(0.1 / np.sqrt(b.size) / 1.5, rel=0.02)


def test_paper_rows(grid, small):
    calib = checks.assert_calibrated(page.closed_form_z(grid))
    rows = page.paper_rows(grid, small, calib=calib, late_z=81.0)
    assert len(rows) == 12 and all(isinstance(r, Row) and r.status in STATUSES for r in rows)
    by_name = {r.quantity: r for r in rows}
    assert by_name["replace / accumulate at $i = 50$"].paper == "30.8"
    assert "(closed form 30.77)" in by_name["replace / accumulate at $i = 50$"].book
    assert by_name["replace-multiple / accumulate at $i = 10$"].source == "none"
    assert "(closed form 2388)" in by_name["replace error at $i = 50$, $T = 100$, $\\sigma^2 = 100$"].book
    assert by_name["accumulate error at $i = 50$ / at $i = 1$"].note == "pooled over the 6 settings"
    assert by_name["small figure: first error / $\\sigma^2$"].note.startswith("$d = 21$, $T = 28$")
    assert "81 s.e. off" in by_name["small figure: dashed replace line"].book
    assert "| replace / accumulate at $i = 10$ |" in paper_table(rows).text


def test_figures(grid, small):
    for fig, n_panels in ((page.figure_large(grid), 6), (page.figure_small(small), 3),
                          (page.figure_subsample(grid, sigma2=1.0), 3)):
        assert len(fig.axes) == n_panels and fig.legends
        plt.close(fig)
