"""The Gaussian and KDE chapter's page module: its tables, figures and checks on small simulations, and each check
failing on inconsistent data."""

import dataclasses
from functools import partial

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils.chapter import MarkdownTable, Row
from collapse_utils.data import toy
from collapse_utils.pages import gaussian_kde as page
from collapse_utils.policies import DataPolicy
from collapse_utils.sim.gaussian import simulate_gaussian_chains
from collapse_utils.sim.kde import simulate_kde_chains

N = 100  # iterations: the page's tables read iteration 100
TS = (10, 32)
RUNS = {"replace": 60, "accumulate": 60, "accumulate-subsample": 15, "replace-multiple": 15}  # the last two are slow


@pytest.fixture(scope="module")
def one_d():
    return {(est, T): {p: c for name, runs in RUNS.items()
                       for p, c in simulate_gaussian_chains([name], d=1, T=T, n_iterations=N, n_runs=runs,
                                                            estimator=est, seed=k).items()}
            for est in ("mle", "unbiased") for k, T in enumerate(TS)}


@pytest.fixture(scope="module")
def ten_d():
    pols = ["replace", "accumulate", "accumulate-subsample"]
    return {("mle", T): simulate_gaussian_chains(pols, d=10, T=T, n_iterations=N, n_runs=8, seed=10 + k)
            for k, T in enumerate(TS)}


@pytest.fixture(scope="module")
def kde():
    law = partial(toy.toy_law, "moons")
    return {("moons", h, 20): simulate_kde_chains(["replace", "accumulate"], make_law=law, T=20, bandwidth=h,
                                                 n_iterations=N, n_runs=4, n_test=50, eval_iterations=(1, 10, N),
                                                 seed=30 + b)
            for b, h in enumerate((0.1, 1.0))}


@pytest.fixture(scope="module")
def kde_var():
    return simulate_kde_chains(["replace", "accumulate"], make_law=lambda rng: toy.GaussianLaw(), T=8, bandwidth=0.5,
                               n_iterations=30, n_runs=200, seed=20, n_test=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_closed_form_check_passes_on_simulations_and_fails_on_a_biased_one(one_d):
    table = page.check_closed_forms(one_d, d=1, what="test")
    assert list(table.index) == ["log variance", "variance", "mean error"]
    assert (table["max_abs_z"] < table["threshold"]).all()
    # accumulate's fitted variance, doubled: its z-scores explode
    chains = dict(one_d[("mle", 10)])
    chains[DataPolicy.ACCUMULATE] = dataclasses.replace(chains[DataPolicy.ACCUMULATE],
                                                        traces=2 * chains[DataPolicy.ACCUMULATE].traces)
    wrong = {("mle", 10): chains}
    with pytest.raises(AssertionError, match="test, variance"):
        page.check_closed_forms(wrong, d=1, what="test")


def test_tables_show_every_T(one_d):
    drift = page.drift_table(TS)
    assert isinstance(drift, MarkdownTable) and drift.text.count("\n") == 1 + len(TS)
    assert "−" in drift.text  # negative drifts with the typographic minus
    acc = page.accumulate_table(one_d, TS)
    assert "accumulate, exact n = 100" in acc.text and acc.text.count("±") == 2 * len(TS)


def test_unbiased_demo_checks_and_glue(one_d):
    demo = simulate_gaussian_chains(["replace"], d=1, T=10, n_iterations=N, n_runs=1000, estimator="unbiased",
                                    seed=3)[DataPolicy.REPLACE]
    table = page.unbiased_demo(demo, at=(1, 50, 100))
    assert list(table.index) == [1, 50, 100] and (table["exact E σ̂²ₙ/σ²"] == 1).all()
    assert "share below 10⁻³" in page.demo_table(table).text
    summary = page.check_unbiased_demo(demo, table)
    assert summary["max_abs_z"] < summary["threshold"]
    shown = page.glue_demo(demo, table, summary)
    assert "1,000" in shown.text
    # a table where most runs have not collapsed contradicts the claim
    bad = table.copy()
    bad["share below 10⁻³"] = 0.1
    with pytest.raises(AssertionError, match="collapsed"):
        page.check_unbiased_demo(demo, bad)
    bad = table.copy()
    bad["naive z"] = 0.0
    with pytest.raises(AssertionError, match="naive test"):
        page.check_unbiased_demo(demo, bad)


def test_a_constant_guess_is_rejected_but_the_truth_is_not(ten_d):
    acc = ten_d[("mle", 10)][DataPolicy.ACCUMULATE]
    assert "accumulate without drift" in page.rejection_of_constant(acc, 0.5)
    flat = dataclasses.replace(acc, traces=np.repeat(acc.traces[:, -1:], N, axis=1))  # no drift at all
    with pytest.raises(AssertionError, match="should have been rejected"):
        page.rejection_of_constant(flat, float(flat.traces.mean()))


def test_kde_variance_laws_pass_and_fail(kde_var):
    summary = page.check_kde_variance_laws(kde_var, T=8, h=0.5)
    assert summary["max_abs_z"] < summary["threshold"] and summary.name == "KDE variance laws"
    with pytest.raises(AssertionError, match="KDE variance laws"):
        page.check_kde_variance_laws(kde_var, T=8, h=0.8)  # the wrong bandwidth


def test_kde_claims_hold_and_fail_when_the_policies_swap(kde):
    claims = page.claim_kde_collapse(kde)
    assert len(claims.rows) == 2 * len(kde)
    claims.assert_all()
    swapped = {key: {DataPolicy.REPLACE: res[DataPolicy.ACCUMULATE], DataPolicy.ACCUMULATE: res[DataPolicy.REPLACE]}
               for key, res in kde.items()}
    with pytest.raises(AssertionError, match="claims do not hold"):
        page.claim_kde_collapse(swapped).assert_all()
    table = page.nll_table(kde)
    assert table.text.count("→") == 2 + 2 * len(kde)  # one per policy in the header and in every row


def test_panel_table_and_paper_rows(ten_d, kde):
    panel = {h: res for (_, h, _), res in kde.items()}
    assert "follow-up, n = 100" in page.panel_table(panel).text
    demo = simulate_gaussian_chains(["replace"], d=1, T=10, n_iterations=N, n_runs=50, estimator="unbiased",
                                    seed=3)[DataPolicy.REPLACE]
    ten = {("mle", T): ten_d[("mle", T if T in TS else 32)] for T in (10, 32, 100)}
    rows = page.paper_rows(ten, page.unbiased_demo(demo), panel, (10, 32, 100))
    assert all(isinstance(r, Row) for r in rows) and len(rows) == 13
    assert rows[0].book.startswith("$\\mathbb E\\ln\\hat\\sigma^2_n$ drifts by −0.")


def test_figures_have_their_panels(one_d, ten_d, kde, kde_var):
    look = {p: one_d[("mle", 32)][p] for p in (DataPolicy.REPLACE, DataPolicy.ACCUMULATE)}
    assert len(page.figure_densities(look).axes) == 2
    assert len(page.figure_replace_log_variance(one_d, Ts=TS).axes) == 4
    assert len(page.figure_policies(one_d, Ts=TS).axes) == 4
    ten = {("mle", T): ten_d[("mle", T if T in TS else 32)] for T in (10, 32, 100, 316, 1000)}
    assert len(page.figure_kazdan(ten, (10, 32, 100, 316, 1000)).axes) == 2
    assert len(page.figure_kde_variance(kde_var, T=8, h=0.5).axes) == 2
    clouds = simulate_kde_chains(["replace", "accumulate"], make_law=partial(toy.toy_law, "moons"), T=20,
                                 bandwidth=0.1, n_iterations=10, n_runs=2, n_test=0, seed=21, snapshots=(1, 10))
    assert len(page.figure_kde_clouds(clouds, models=(1, 10)).axes) == 4
    assert len(page.figure_kde_nll(kde, T=20).axes) == 2
