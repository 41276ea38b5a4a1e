"""Monte-Carlo simulator of Dohmatob et al.'s fake-data chain + ridge learner (their §3 and Figure 3).

Checked against the slow reference (exactly, with ``sampling="explicit"``), against itself in law (the sufficient-
statistics shortcuts), against exact per-run facts, and against Theorem 4.1 written out inline (no theory module).
"""

from __future__ import annotations

import numpy as np
import pytest

from collapse_utils.sim.ridge import (
    PARTS,
    RidgeRuns,
    bartlett_factor,
    generator_chain,
    reference_ridge_collapse,
    simulate_penalty_rules,
    simulate_ridge_collapse,
)

SAMPLINGS = ("explicit", "sufficient")


def _problem(d: int, *, isotropic: bool = False, seed: int = 0) -> dict:
    """``eigs`` and a unit-Sigma-norm-ish ``w0`` (a fixed random direction) for dimension ``d``."""
    eigs = np.ones(d) if isotropic else np.linspace(0.4, 2.5, d)
    w0 = np.random.default_rng(seed).standard_normal(d)
    return {"eigs": eigs, "w0": w0 / np.linalg.norm(w0)}


def _two_sample_z(a: RidgeRuns, b: RidgeRuns, part: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 where a part is identically 0 (masked by callers)
        return (a.mean(part) - b.mean(part)) / np.sqrt(a.sem(part) ** 2 + b.sem(part) ** 2)


# ---------------------------------------------------------------------------------------------------------
# (1) sampling="explicit" equals the straightforward reference
# ---------------------------------------------------------------------------------------------------------


def _explicit_and_reference(d, T0, shared, Ts):
    kw = {**_problem(d), "T0": T0, "sigma0": 0.3, "sigma": 0.2, "ns": [3, 0, 1], "Ts": Ts,
          "lams": [0.0, 1e-3, 0.4], "n_runs": 3, "seed": 11, "shared_design": shared}
    return simulate_ridge_collapse(**kw, sampling="explicit").total, reference_ridge_collapse(**kw)


@pytest.mark.parametrize("shared", [False, True], ids=["independent", "shared"])
@pytest.mark.parametrize(("d", "T0"), [(6, 14), (6, 6), (6, 3), (20, 31), (20, 12)])
def test_explicit_equals_reference(d, T0, shared):
    # T < d, T = d and T > d; lambda = 0 (OLS / min-norm) and > 0; n = 0 and unsorted ns.
    Ts = [d - 2, d, 2 * d + 5]
    total, ref = _explicit_and_reference(d, T0, shared, Ts)
    assert ref.shape == total.shape == (3, 3, 3, 3)
    square_ols = np.zeros(ref.shape, dtype=bool)
    square_ols[:, 1, :, 0] = True  # T = d, lambda = 0: see test_explicit_equals_reference_for_square_ols
    np.testing.assert_allclose(total[~square_ols], ref[~square_ols], rtol=1e-9, atol=0)
    np.testing.assert_allclose(total[square_ols], ref[square_ols], rtol=1e-4, atol=0)


@pytest.mark.parametrize(
    ("d", "T0"),
    [(6, 14), (20, 31)])
def test_explicit_equals_reference_for_square_ols(d, T0):
    # T = d, lambda = 0: the learner interpolates a square, possibly ill-conditioned design. The simulator solves
    # through eigh(X^T X / T), whose relative error grows like cond(X)^2 eps (documented in ridge.py): for d = 20,
    # run 0's design has cond(X) = 1.3e5 and the simulator is off by 2.6e-6 (a 50-digit solve; lstsq: 6e-12).
    total, ref = _explicit_and_reference(d, T0, False, [d])
    np.testing.assert_allclose(total[..., 0], ref[..., 0], rtol=1e-4, atol=0)


def test_reference_comparison_is_informative():
    # the grid points the comparison above covers really differ from one another
    kw = {**_problem(6), "T0": 14, "sigma0": 0.3, "sigma": 0.2, "ns": [0, 1, 3], "Ts": [4, 6, 17],
          "lams": [0.0, 1e-3, 0.4], "n_runs": 3, "seed": 11}
    ref = reference_ridge_collapse(**kw)
    assert np.unique(np.round(ref, 12)).size == ref.size


# ---------------------------------------------------------------------------------------------------------
# (2) sampling="sufficient" agrees with "explicit" in law (two-sample z per grid point, independent seeds)
# ---------------------------------------------------------------------------------------------------------

LAW_RUNS = 2000
Z_MAX = 4.0


def _law_pair(**kw) -> tuple[RidgeRuns, RidgeRuns]:
    explicit = simulate_ridge_collapse(**kw, n_runs=LAW_RUNS, seed=101, sampling="explicit")
    sufficient = simulate_ridge_collapse(**kw, n_runs=LAW_RUNS, seed=202, sampling="sufficient")
    return explicit, sufficient


@pytest.fixture(scope="module")
def learner_law():
    # T0 < d: both samplings draw the generators explicitly, so only the learner's shortcut (T >= d) differs.
    return _law_pair(**_problem(8), T0=5, sigma0=0.3, sigma=0.5, ns=[0, 2], Ts=[8, 14, 40],
                     lams=[0.0, 0.05, 0.5])


@pytest.fixture(scope="module", params=[False, True], ids=["independent", "shared"])
def generator_law(request):
    # T0 >= d: the generators' shortcut; T = 4 < d keeps one learner explicit in both samplings.
    kw = {**_problem(8), "T0": 16, "sigma0": 0.3, "sigma": 0.2, "ns": [0, 1, 2, 5], "Ts": [4, 30],
          "lams": [0.0, 0.1]}
    return kw, _law_pair(**kw, shared_design=request.param)


def _testable(runs: RidgeRuns, part: str, d: int = 8) -> np.ndarray:
    """Grid points where ``part`` is random with a finite variance, so a two-sample z-test makes sense."""
    T, n, lam = runs.Ts[:, None, None], runs.ns[None, :, None], runs.lams[None, None, :]
    keep = ~((lam == 0) & (T >= d) & (T < d + 5))  # OLS with d <= T < d + 5: infinite variance (T = d: mean)
    if part == "bias":
        keep = keep & ~((lam == 0) & (T >= d))  # zero up to rounding
    if part == "collapse":
        keep = keep & (n > 0)  # exactly zero at n = 0
    return np.broadcast_to(keep, runs.total.shape[1:])


@pytest.mark.parametrize("part", PARTS)
def test_sufficient_learner_agrees_in_law_with_explicit(learner_law, part):
    explicit, sufficient = learner_law
    z = _two_sample_z(explicit, sufficient, part)[_testable(explicit, part)]
    assert z.size >= 5
    assert np.all(np.isfinite(z))
    assert np.max(np.abs(z)) < Z_MAX


@pytest.mark.parametrize("part", PARTS)
def test_sufficient_generator_agrees_in_law_with_explicit(generator_law, part):
    _, (explicit, sufficient) = generator_law
    z = _two_sample_z(explicit, sufficient, part)[_testable(explicit, part)]
    assert z.size >= 5
    assert np.all(np.isfinite(z))
    assert np.max(np.abs(z)) < Z_MAX


def test_law_comparison_is_informative(generator_law):
    # the collapse part grows with n clearly beyond the z tolerance, so a shortcut with a wrong law would show
    _, (explicit, sufficient) = generator_law
    for runs in (explicit, sufficient):
        growth = np.diff(runs.mean("collapse"), axis=1)
        assert np.all(growth > 10 * runs.sem("collapse")[:, 1:])


# ---------------------------------------------------------------------------------------------------------
# (3) exact facts per run
# ---------------------------------------------------------------------------------------------------------

EXACT = {"T0": 13, "sigma0": 0.3, "sigma": 0.2, "ns": [0, 1, 3], "Ts": [5, 8, 20], "lams": [0.0, 0.01, 1.0],
         "n_runs": 4, "seed": 5}


@pytest.mark.parametrize("shared", [False, True], ids=["independent", "shared"])
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_no_generation_means_no_collapse(sampling, shared):
    runs = simulate_ridge_collapse(**_problem(8), **EXACT, shared_design=shared, sampling=sampling)
    assert np.all(runs.collapse[:, :, 0] == 0)
    assert np.all(runs.collapse[:, :, 1:] > 0)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_noiseless_learner_has_no_variance(sampling):
    runs = simulate_ridge_collapse(**_problem(8), **{**EXACT, "sigma": 0.0}, sampling=sampling)
    assert np.all(runs.variance == 0)
    assert np.all(runs.bias[:, :, :, 1:] > 0)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_ols_learner_with_enough_samples_has_no_bias(sampling):
    # lambda = 0, T >= d: Sigma_hat R = I, so the learner's bias vanishes (up to rounding)
    runs = simulate_ridge_collapse(**_problem(8), **EXACT, sampling=sampling)
    assert np.max(runs.bias[:, 1:, :, 0]) < 1e-20
    assert np.all(runs.bias[:, 0, :, 0] > 1e-3)  # T = 5 < d: min-norm interpolation misses part of w0


@pytest.mark.parametrize("shared", [False, True], ids=["independent", "shared"])
@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("T0", [8, 13])
def test_noiseless_underparametrized_chain_is_exact(T0, sampling, shared):
    # sigma0 = 0 and T0 >= d: every generator refits w0 exactly, w_hat_n = w0 and the collapse part vanishes
    kw = {**EXACT, "T0": T0, "sigma0": 0.0, "ns": [0, 1, 5]}
    runs = simulate_ridge_collapse(**_problem(8), **kw, shared_design=shared, sampling=sampling)
    assert np.max(runs.collapse) < 1e-20
    # common random numbers: the learner sees the same data at every n, labelled by the same w_hat_n = w0
    np.testing.assert_allclose(runs.total, np.broadcast_to(runs.total[:, :, :1], runs.total.shape), rtol=1e-9)


@pytest.mark.parametrize("d", [6, 15])
def test_noiseless_overparametrized_shared_chain_is_the_projection_of_w0(d):
    # Section 4.5 / Theorem 4.5: sigma0 = 0, T0 < d, X_m = X_0: w_hat_n = P_0 w0 for every n >= 1
    prob = _problem(d)
    T0, n_max, seed = d // 2, 6, 42
    chain = generator_chain(np.random.default_rng(seed), prob["eigs"], prob["w0"], T0, 0.0, n_max, shared=True,
                            sampling="explicit")
    X0 = np.random.default_rng(seed).standard_normal((T0, d)) * np.sqrt(prob["eigs"])  # replay the first draw
    projected = np.linalg.pinv(X0) @ (X0 @ prob["w0"])
    assert chain.shape == (n_max + 1, d)
    np.testing.assert_array_equal(chain[0], prob["w0"])
    for n in range(1, n_max + 1):
        np.testing.assert_allclose(chain[n], projected, rtol=0, atol=1e-12)
    assert np.linalg.norm(projected - prob["w0"]) > 0.1  # informative: the projection loses part of w0


# ---------------------------------------------------------------------------------------------------------
# (4) Monte Carlo against exact theory and the mean decomposition
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sampling", "shared"), [("sufficient", False), ("explicit", True)],
                         ids=["sufficient-independent", "explicit-shared"])
def test_ols_mean_error_matches_theorem_4_1(sampling, shared):
    # lambda = 0, T, T0 >= d + 2, Sigma = I: E_test = sigma^2 d/(T - d - 1) + n sigma0^2 d/(T0 - d - 1), exactly.
    # T >= d + 5 and T0 >= d + 5 keep the error's variance finite (inverse-Wishart second moments), so the SE is valid.
    d, T0, sigma, sigma0 = 10, 30, 0.5, 0.4
    ns, Ts = np.array([0, 1, 3]), np.array([16, 25, 60])
    runs = simulate_ridge_collapse(**_problem(d, isotropic=True), T0=T0, sigma0=sigma0, sigma=sigma, ns=ns, Ts=Ts,
                                   lams=[0.0], n_runs=4000, seed=2402, shared_design=shared, sampling=sampling)
    theory = sigma**2 * d / (Ts[:, None] - d - 1) + ns[None, :] * sigma0**2 * d / (T0 - d - 1)
    z = (runs.mean()[:, :, 0] - theory) / runs.sem()[:, :, 0]
    assert np.max(np.abs(z)) < 4, z


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_parts_add_up_to_the_mean_error(generator_law, sampling):
    # T0 >= d: the chain's offset w_hat_n - w0 has mean zero, so every cross term has mean zero
    _, pair = generator_law
    runs = pair[SAMPLINGS.index(sampling)]
    cross = runs.total - runs.bias - runs.variance - runs.collapse  # per run: the cross terms
    mean, sem = cross.mean(axis=0), cross.std(axis=0, ddof=1) / np.sqrt(runs.n_runs)
    assert np.all(np.abs(mean) <= 4 * sem + 1e-12 * runs.mean())
    assert np.max(np.abs(cross)) > 1e-3 * runs.total.mean()  # informative: per run the cross terms are not zero


# ---------------------------------------------------------------------------------------------------------
# (5) determinism and independence from the grid
# ---------------------------------------------------------------------------------------------------------

GRID = {"T0": 13, "sigma0": 0.3, "sigma": 0.2, "n_runs": 3}
BOTH = [("explicit", False), ("explicit", True), ("sufficient", False), ("sufficient", True)]
BOTH_IDS = ["explicit-independent", "explicit-shared", "sufficient-independent", "sufficient-shared"]


def _grid_run(sampling, shared, *, ns=(0, 2), Ts=(5, 20), lams=(0.0, 0.1), seed=3, n_runs=3) -> RidgeRuns:
    return simulate_ridge_collapse(**_problem(8), **{**GRID, "n_runs": n_runs}, ns=list(ns), Ts=list(Ts),
                                   lams=list(lams), seed=seed, shared_design=shared, sampling=sampling)


@pytest.mark.parametrize(("sampling", "shared"), BOTH, ids=BOTH_IDS)
def test_same_seed_same_results_different_seed_different(sampling, shared):
    a, b, c = _grid_run(sampling, shared), _grid_run(sampling, shared), _grid_run(sampling, shared, seed=4)
    for part in PARTS:
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    for part in ("total", "variance"):
        assert np.all(getattr(a, part) != getattr(c, part))
    assert np.all(a.bias[..., 1] != c.bias[..., 1])  # lambda > 0 (at lambda = 0, T >= d it is 0 up to rounding)
    assert np.all(a.collapse[:, :, 1:] != c.collapse[:, :, 1:])


@pytest.mark.parametrize(("sampling", "shared"), BOTH, ids=BOTH_IDS)
def test_results_do_not_depend_on_the_T_grid(sampling, shared):
    alone = _grid_run(sampling, shared, Ts=[20])
    wide = _grid_run(sampling, shared, Ts=[7, 20, 3])
    for part in PARTS:
        np.testing.assert_array_equal(getattr(alone, part)[:, 0], getattr(wide, part)[:, 1])


@pytest.mark.parametrize(
    ("sampling", "shared"),
    BOTH,
    ids=BOTH_IDS)
def test_results_do_not_depend_on_the_n_grid(sampling, shared):
    alone = _grid_run(sampling, shared, ns=[1])
    wide = _grid_run(sampling, shared, ns=[0, 1, 6])
    for part in PARTS:
        # the same draws; only the batched triangular solve of the shared chain's steps rounds differently
        np.testing.assert_allclose(getattr(alone, part)[:, :, 0], getattr(wide, part)[:, :, 1], rtol=1e-12, atol=0)


@pytest.mark.parametrize(("sampling", "shared"), BOTH, ids=BOTH_IDS)
def test_results_do_not_depend_on_the_lambda_grid(sampling, shared):
    # same random numbers; the batched Sigma-norm contractions may sum in another order, so equal up to rounding
    alone = _grid_run(sampling, shared, lams=[0.1])
    wide = _grid_run(sampling, shared, lams=[2.0, 0.1, 0.0, 1e-3])
    for part in PARTS:
        np.testing.assert_allclose(getattr(alone, part)[..., 0], getattr(wide, part)[..., 1], rtol=1e-13, atol=0)


@pytest.mark.parametrize(("sampling", "shared"), BOTH, ids=BOTH_IDS)
def test_results_do_not_depend_on_the_number_of_runs(sampling, shared):
    few, many = _grid_run(sampling, shared, n_runs=2), _grid_run(sampling, shared, n_runs=5)
    for part in PARTS:
        np.testing.assert_allclose(getattr(few, part), getattr(many, part)[:2], rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------------------------------------
# (6) bartlett_factor and RidgeRuns
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "T"), [(5, 5), (5, 9), (1, 3)])
def test_bartlett_factor_is_lower_triangular_with_positive_diagonal(d, T):
    rng = np.random.default_rng(0)
    for _ in range(20):
        A = bartlett_factor(rng, d, T)
        assert A.shape == (d, d)
        assert np.all(np.triu(A, k=1) == 0)
        assert np.all(np.diag(A) > 0)


def test_bartlett_factor_gives_the_wishart_mean():
    # E[A A^T] = T I; Var(W_ii) = 2T, Var(W_ij) = T: over N draws the tolerance below is 5 standard errors
    d, T, N = 4, 7, 20000
    rng = np.random.default_rng(1)
    W = np.stack([(A := bartlett_factor(rng, d, T)) @ A.T for _ in range(N)])
    tol = 5 * np.sqrt(np.where(np.eye(d, dtype=bool), 2 * T, T) / N)
    assert np.all(np.abs(W.mean(axis=0) - T * np.eye(d)) < tol)
    # second moment of a diagonal entry: E[W_11^2] = 2T + T^2 (chi2(T)) -- checks the law, not just the mean
    assert abs(np.mean(W[:, 0, 0] ** 2) - (2 * T + T**2)) < 5 * np.std(W[:, 0, 0] ** 2) / np.sqrt(N)


def test_ridge_runs_mean_and_sem_shapes():
    runs = _grid_run("sufficient", False, ns=(0, 1, 2), Ts=(5, 20), lams=(0.0, 0.1, 1.0, 2.0), n_runs=4)
    assert runs.n_runs == 4
    for part in PARTS:
        assert getattr(runs, part).shape == (4, 2, 3, 4)
        assert runs.mean(part).shape == runs.sem(part).shape == (2, 3, 4)
    np.testing.assert_array_equal(runs.mean(), runs.total.mean(axis=0))
    np.testing.assert_allclose(runs.sem("bias"), runs.bias.std(axis=0, ddof=1) / 2)
    np.testing.assert_array_equal(runs.Ts, [5, 20])
    np.testing.assert_array_equal(runs.ns, [0, 1, 2])
    np.testing.assert_array_equal(runs.lams, [0.0, 0.1, 1.0, 2.0])


# ---------------------------------------------------------------------------------------------------------
# (7) accepted inputs (refused ones: test_contracts.py)
# ---------------------------------------------------------------------------------------------------------


def test_valid_inputs_pass():
    valid = {**_problem(6), "T0": 10, "sigma0": 0.3, "sigma": 0.2, "ns": [0, 1], "Ts": [8.0], "lams": [0.1],
             "n_runs": 2, "seed": 0}
    runs = simulate_ridge_collapse(**valid)
    assert runs.total.shape == (2, 1, 2, 1)
    assert runs.Ts.dtype == np.int64  # whole-number floats are sample sizes


# ---------------------------------------------------------------------------------------------------------
# penalties per learner size and generation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_penalty_rules_equal_one_simulation_on_the_union_of_all_penalties(sampling):
    Ts, ns = [8, 30, 100], [0, 2, 5]
    lams = np.random.default_rng(1).uniform(0.0, 1.0, (3, 3, 2))
    lams[0, :, 0] = 0.0  # a ridgeless entry and a penalty shared by several (T, n)
    lams[2, :, 1] = lams[1, 0, 0]
    kw = {**_problem(12), "T0": 20, "sigma0": 0.3, "sigma": 0.2, "n_runs": 3, "seed": 5, "sampling": sampling}
    out = simulate_penalty_rules(lams=lams, Ts=Ts, ns=ns, **kw)
    grid = np.unique(lams)
    union = simulate_ridge_collapse(Ts=Ts, ns=ns, lams=grid, **kw).total
    expected = np.take_along_axis(union, np.searchsorted(grid, lams)[None].repeat(3, 0), axis=3)
    assert out.shape == (3, 3, 3, 2)
    np.testing.assert_array_equal(out, expected)
