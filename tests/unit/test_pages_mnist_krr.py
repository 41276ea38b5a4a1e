"""The kernel ridge MNIST chapter's page module: its tables, figures and checks on small synthetic inputs (exact
power-law spectra, learning curves built to satisfy or break each claim), and each check failing on inconsistent
data."""

import dataclasses

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils import kernels
from collapse_utils.chapter import MarkdownTable
from collapse_utils.pages import mnist_krr as page
from collapse_utils.sim.kernel import KRRRuns, simulate_krr_collapse
from collapse_utils.spectrum import PowerLawFit
from collapse_utils.theory.scaling import exponents

PAPER = {"RBF": (1.65, 0.097), "polynomial": (1.2, 0.15)}
FITTED = {"RBF": (1.65, 0.045), "polynomial": (1.53, 0.087)}
TS, NS, T0 = np.array([1, 10, 100, 200, 1000]), np.array([0, 1, 2, 5]), 200
I_T0, I_MAX = 3, 4


def power_law_fit(beta: float, r: float, N: int = 400) -> PowerLawFit:
    """A fit whose spectrum and residual are exact power laws (every refit recovers ``beta`` and ``r``)."""
    k = np.arange(1, N + 1, dtype=float)
    return PowerLawFit(beta=beta, r=r, delta=1 + beta * (2 * r - 1), k_range=(10, 200), eigenvalues=k**-beta,
                       residual=k ** (-2 * beta * r), log_scale_eig=0.0, log_scale_res=0.0)


def learning_curves(c: float, *, n_runs: int = 8, seed: int = 0, collapse: float = 0.05) -> KRRRuns:
    """Runs that behave as the page says: clean error ``T^-c``; for ``n >= 1`` the ``ell_crit`` error grows by
    ``collapse * n * T / T0`` and the ``ell_star`` error by only ``collapse * n``; generators err by ``n``."""
    rng = np.random.default_rng(seed)
    clean = TS[:, None].astype(float) ** -c * np.ones(NS.size)
    crit = clean + collapse * NS * TS[:, None] / T0
    star = 1.1 * clean + collapse * NS
    errors = np.stack([crit, star], axis=-1)[None] * (1 + 1e-3 * rng.standard_normal((n_runs, TS.size, NS.size, 2)))
    gen = np.tile(NS.astype(float), (n_runs, 1)) * (1 + 1e-3 * rng.standard_normal((n_runs, NS.size)))
    return KRRRuns(Ts=TS, ns=NS, lams=np.ones((TS.size, 2)), errors=errors, generator_errors=gen)


@pytest.fixture(scope="module")
def fits():
    return {name: power_law_fit(*FITTED[name]) for name in PAPER}


@pytest.fixture(scope="module")
def runs():
    return {"RBF": learning_curves(exponents(*PAPER["RBF"]).c, seed=1),
            "polynomial": learning_curves(exponents(*FITTED["polynomial"]).c, seed=2)}


@pytest.fixture(scope="module")
def slopes(runs):
    return page.clean_slopes(runs, np.random.default_rng(3), n_boot=100)


@pytest.fixture(scope="module")
def K():
    X = np.random.default_rng(4).uniform(size=(60, 30))
    return {"RBF": kernels.rbf_kernel(X, gamma=1e-2), "polynomial": kernels.polynomial_kernel(X, gamma=1e-2)}


def test_kernel_scale_table(K):
    table = page.kernel_scale_table(K, {"RBF": 1e-2, "polynomial": 1e-2}, np.arange(20))
    probe = K["RBF"][:20, :20][~np.eye(20, dtype=bool)]
    assert isinstance(table, MarkdownTable)
    lines = table.text.splitlines()
    assert lines[0] == "|  | pixels in [0, 1] | raw pixels, 0–255 |" and len(lines) == 4
    assert lines[2].startswith(f"| RBF: median $k(x, x')$ between two digits | {np.median(probe):.3f} |")


def test_exponents_table_recovers_exact_power_laws(fits):
    text = page.exponents_table(fits, PAPER, ((10, 100), (20, 300))).text
    assert "| $\\beta$: fit | 1.65 | 1.53 |" in text
    assert "| $r$: other ranges | 0.045–0.045 | 0.087–0.087 |" in text
    assert "| $\\beta$: paper (Cui et al.) | 1.65 | 1.2 |" in text


def test_figure_spectrum(fits):
    fig = page.figure_spectrum(fits, PAPER, (10, 200))
    assert len(fig.axes) == 2 and all(len(ax.lines) == 6 for ax in fig.axes)  # per kernel: data, fit, paper slope
    plt.close(fig)


def test_chain_table(K):
    text = page.chain_table(K, PAPER, np.arange(20), lam0=1e-6).text
    assert "| RBF | 1.2499 | 0.2425 |" in text and "| polynomial | 0.8824 | 0.2647 |" in text
    assert f"{20**-exponents(*PAPER['RBF']).ell_crit:.3g}" in text


def test_figure_learning_curves(runs):
    fig = page.figure_learning_curves(runs, T0, constant=0.25)
    assert [ax.get_title() for ax in fig.axes] == ["RBF kernel", "polynomial kernel"]
    plt.close(fig)


def test_claims_hold_and_can_fail(runs):
    claims = page.check_claims(runs, I_T0, I_MAX)
    assert all(len(c) == 4 for c in claims.values())
    assert np.all(claims["RBF"][2][2] > 3)  # z of claim 3, per n >= 1
    flat = {name: learning_curves(0.24, collapse=0.0) for name in PAPER}  # no collapse: claims 2 and 3 fail
    with pytest.raises(AssertionError, match="claim 2"):
        page.check_claims(flat, I_T0, I_MAX)


def test_clean_slopes_and_rates(runs, slopes, fits):
    assert slopes["RBF"][0] == pytest.approx(-exponents(*PAPER["RBF"]).c, abs=0.01)
    assert 0 < slopes["RBF"][1] < 0.01
    page.check_clean_rates(slopes, PAPER, fits)
    with pytest.raises(AssertionError, match="RBF's clean slope"):
        page.check_clean_rates({**slopes, "RBF": slopes["polynomial"]}, PAPER, fits)
    with pytest.raises(AssertionError, match="polynomial kernel's clean slope"):  # agrees with the paper's rate
        page.check_clean_rates({**slopes, "polynomial": (-exponents(*PAPER["polynomial"]).c, 0.01)}, PAPER, fits)


def test_learner_beats_generator_can_fail(runs):
    page.check_learner_beats_generator(runs, I_T0)
    weak = {name: dataclasses.replace(r, generator_errors=0.01 * r.generator_errors) for name, r in runs.items()}
    with pytest.raises(AssertionError, match="generator"):
        page.check_learner_beats_generator(weak, I_T0)


def test_error_table(runs):
    lines = page.error_table(runs, I_T0, I_MAX).text.splitlines()
    assert len(lines) == 2 + 2 * NS.size
    assert lines[2].startswith("| RBF | 0 | 0 | ")


def test_glue_numbers(runs, slopes, fits):
    claims = page.check_claims(runs, I_T0, I_MAX)
    text = page.glue_numbers(slopes, PAPER, fits, claims).text
    assert "| RBF: $c$ of the paper's exponents | 0.2425 |" in text
    assert f"| polynomial: $c$ of our exponents | {exponents(*FITTED['polynomial']).c:.3f} |" in text


def test_sweep_table_checks_and_glue(runs, monkeypatch):
    pair = {name: dataclasses.replace(r, Ts=TS[[I_T0, I_MAX]], errors=r.errors[:, [I_T0, I_MAX]])
            for name, r in runs.items()}
    sweep = {(name, label): pair[name] for name in PAPER for label in ("a", "b")}
    page.check_synthetic_gains_less(sweep)
    lines = page.sweep_table(sweep).text.splitlines()
    assert lines[0].startswith("| kernel, $\\lambda_0$ | $f_1$ error | $f_5$ error |") and len(lines) == 6
    assert lines[2].startswith("| RBF, a | 1.00 | 5.00 |")
    glued = {}
    monkeypatch.setattr(page, "glue", lambda name, value, display: glued.update({name: value}))
    page.glue_sensitivity(sweep, label="b")
    assert set(glued) == {"sens_z1_rbf", "sens_z1_poly"} and glued["sens_z1_rbf"].startswith("−")  # l_star better
    flat = {key: dataclasses.replace(r, errors=r.errors[:, :, [0, 0, 0, 0]]) for key, r in sweep.items()}
    with pytest.raises(AssertionError, match="lambda0 = a"):
        page.check_synthetic_gains_less(flat)


def test_paper_table(runs, slopes, fits, monkeypatch):
    monkeypatch.delenv("COLLAPSE_STORE", raising=False)
    lines = page.paper_table(runs, fits, slopes, PAPER, I_T0, I_MAX).text.splitlines()
    assert len(lines) == 2 + 8
    assert "| Clean learning curve, RBF ($n = 0$) |" in lines[4] and lines[4].endswith("| reproduced |")
    assert lines[5].endswith("| not reproduced |") and "our exponents' $-c$" in lines[5]
    assert "grows ×" in lines[6] and "($n = 1, 2, 5$)" in lines[6]


def test_on_a_small_simulation(K):
    """The page's functions accept what the simulator returns."""
    truth = np.arange(60) % 2.0
    ex = {name: exponents(*PAPER[name]) for name in PAPER}
    Ts = np.array([2, 5, 10])
    sim = {name: simulate_krr_collapse(K[name], truth, pool_idx=np.arange(40), test_idx=np.arange(40, 60), T0=5,
                                       ns=np.array([0, 1, 2]), Ts=Ts, lams=np.c_[Ts**-e.ell_crit, np.full(3, 0.1)],
                                       lam0=1e-6, sigma0=1.0, sigma=1.0, n_runs=3, rng=np.random.default_rng(5))
           for name, e in ex.items()}
    slopes = page.clean_slopes(sim, np.random.default_rng(6), band=(2, 10), n_boot=20)
    assert all(np.isfinite(s) and se >= 0 for s, se in slopes.values())
    assert len(page.error_table(sim, 1, 2).text.splitlines()) == 2 + 6
    plt.close(page.figure_learning_curves(sim, 5, constant=0.25))
