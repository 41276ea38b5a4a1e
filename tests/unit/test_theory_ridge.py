"""Closed forms of ridge-regression collapse, Dohmatob et al. 2024, against identities, limits and Monte Carlo."""

from __future__ import annotations

import ast
import decimal
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from collapse_utils.theory import ridge as rt

D = 300
ISO = np.ones(D)
POWER = np.arange(1, D + 1, dtype=float) ** -2.0  # λ_k = k^-2, d = 300 (the paper's Figure 1 setting)
LAMS = np.logspace(-8, 3, 45)
TS = [1, 2, 10, 150, 299, 300, 301, 302, 600, 1000, 10**4, 10**5, 10**6]

# spectra for the property tests: isotropic of several sizes, power laws up to d = 2000
SPECTRA = {
    "iso1": np.ones(1),
    "iso50": np.ones(50),
    "iso300": ISO,
    "power300": POWER,
    "power2000": np.arange(1, 2001, dtype=float) ** -1.5,
}


def residual(k, lam, T, eigs):
    """|κ − λ − κ df_1(κ)/T| / κ, the relative residual of the κ equation."""
    return np.abs(k - lam - k * rt.df(1, k, eigs) / T) / np.maximum(k, 1e-300)


# ---------------------------------------------------------------------------------------------------------
# module hygiene
# ---------------------------------------------------------------------------------------------------------


def test_module_imports_only_numpy_and_the_validation_layer():
    tree = ast.parse(inspect.getsource(rt))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module if node.module.startswith("collapse_utils") else node.module.split(".")[0])
    assert modules <= {"__future__", "numpy", "scipy", "collapse_utils.validation"}


def test_package_exports_ridge():
    import collapse_utils.theory as theory

    assert "ridge" in theory.__all__
    assert theory.ridge is rt


# ---------------------------------------------------------------------------------------------------------
# df_m
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2, 3])
def test_df_isotropic_is_d_over_one_plus_t_to_the_m(m):
    t = np.array([0.0, 1e-6, 0.5, 3.0, 1e4])
    np.testing.assert_allclose(rt.df(m, t, ISO), D / (1 + t) ** m, rtol=1e-13)


def test_df_at_zero_is_d_and_decreases_to_zero():
    t = np.logspace(-6, 6, 50)
    for m in (1, 2):
        assert rt.df(m, 0.0, POWER) == pytest.approx(D, rel=1e-14)
        vals = rt.df(m, t, POWER)
        assert np.all(np.diff(vals) < 0)
        assert rt.df(m, np.inf, POWER) == 0.0
    assert np.all(rt.df(2, t, POWER) <= rt.df(1, t, POWER))


def test_df_returns_float_for_scalar_and_keeps_shape():
    assert isinstance(rt.df(1, 0.3, POWER), float)
    assert rt.df(2, np.ones((3, 4)), POWER).shape == (3, 4)


# ---------------------------------------------------------------------------------------------------------
# κ: identities
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", TS)
def test_isotropic_closed_form_kappa_equals_solved_kappa(T):
    # φ = d/T spans 3e-4 … 300, including φ = 1 (T = d) and its neighbours
    k_solved = rt.kappa(LAMS, T, ISO)
    k_closed = rt.kappa_isotropic(LAMS, D / T)
    np.testing.assert_allclose(k_solved, k_closed, rtol=1e-8, atol=0)


@pytest.mark.parametrize("phi", [1e-6, 0.01, 0.5, 1 - 1e-9, 1.0, 1 + 1e-9, 2.0, 300.0])
def test_kappa_isotropic_matches_a_60_digit_evaluation(phi):
    # the textbook form (b + sqrt(b² + 4λ))/2, b = λ + φ − 1, loses ~8 digits for λ = 1e-8 and φ < 1, and b = λ + φ − 1
    # loses digits near φ = 1 unless formed as (φ − 1) + λ; the module's evaluation must stay within 1e-13 of the
    # same formula computed with 60 significant digits
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ref = []
        for lam in LAMS:
            lam_d, phi_d = decimal.Decimal(float(lam)), decimal.Decimal(phi)
            b = lam_d + phi_d - 1
            ref.append(float((b + (b * b + 4 * lam_d).sqrt()) / 2))
    k = rt.kappa_isotropic(LAMS, phi)
    assert np.all(k >= LAMS)
    np.testing.assert_allclose(k, ref, rtol=1e-13)


@pytest.mark.parametrize(("phi", "expected"), [(0.3, 0.0), (1.0, 0.0), (1.5, 0.5), (300.0, 299.0)])
def test_kappa_isotropic_at_lambda_zero_is_max_phi_minus_one_zero(phi, expected):
    assert rt.kappa_isotropic(0.0, phi) == pytest.approx(expected, abs=1e-15)


def test_kappa_isotropic_broadcasts_lam_and_phi():
    out = rt.kappa_isotropic(np.array([0.1, 1.0]), np.array([[0.5], [2.0]]))
    assert out.shape == (2, 2)
    assert out[1, 0] == rt.kappa_isotropic(0.1, 2.0)


@pytest.mark.parametrize("eigs", [ISO, POWER], ids=["iso", "power"])
def test_kappa_at_lambda_zero_on_both_sides_of_T_equal_d(eigs):
    for T in (D, D + 1, 10 * D, 10**6):
        assert rt.kappa(0.0, T, eigs) == 0.0
    for T in (1, 2, 150, D - 1):
        k = rt.kappa(0.0, T, eigs)
        assert k > 0
        assert rt.df(1, k, eigs) == pytest.approx(T, rel=1e-10)
    # continuity in λ: κ(λ) → κ(0) as λ → 0⁺ on both sides, with the paper's slope dκ/dλ = 1/(1 − df_2(κ)/T) at 0
    # (≈ 300 for the power law at T = 299)
    assert rt.kappa(1e-12, D + 1, eigs) < 1e-9
    k0 = rt.kappa(0.0, D - 1, eigs)
    slope = 1.0 / (1.0 - rt.df(2, k0, eigs) / (D - 1))
    assert rt.kappa(1e-12, D - 1, eigs) - k0 == pytest.approx(1e-12 * slope, rel=1e-3)


def test_kappa_vectorized_over_lam_matches_scalar_calls_and_mixes_zero():
    lam = np.array([[0.0, 1e-8], [1.0, 1e3]])
    for T in (100, 1000):
        out = rt.kappa(lam, T, POWER)
        assert out.shape == (2, 2)
        for idx in np.ndindex(lam.shape):
            assert out[idx] == pytest.approx(rt.kappa(float(lam[idx]), T, POWER), rel=1e-14)
    assert isinstance(rt.kappa(0.5, 10, POWER), float)


def test_kappa_handles_thousands_of_dimensions_and_lambdas():
    eigs = SPECTRA["power2000"]
    lam = np.logspace(-8, 3, 200)
    for T in (1, 1999, 2000, 10**6):
        k = rt.kappa(lam, T, eigs)
        assert np.all(residual(k, lam, T, eigs) < 1e-11)


def test_kappa_never_returns_silently_unconverged(monkeypatch):
    monkeypatch.setattr(rt, "_BISECTION_STEPS", 3)
    with pytest.raises(RuntimeError, match=r"lam=.*T=1000"):
        rt.kappa(np.array([1e-3, 1.0]), 1000, POWER)


# ---------------------------------------------------------------------------------------------------------
# κ: properties over λ ∈ [1e-8, 1e3], T ∈ [1, 1e6]
# ---------------------------------------------------------------------------------------------------------

lams = st.floats(min_value=-8, max_value=3).map(lambda u: 10.0**u)
sizes = st.floats(min_value=0, max_value=6).map(lambda u: round(10.0**u))
spectra = st.sampled_from(sorted(SPECTRA))


@settings(max_examples=60, deadline=None, database=None)
@given(lam=lams, T=sizes, name=spectra)
def test_property_kappa_is_in_its_bracket_and_solves_its_equation(lam, T, name):
    eigs = SPECTRA[name]
    k = rt.kappa(lam, T, eigs)
    assert lam <= k <= lam + eigs.sum() / T * (1 + 1e-12)
    assert residual(k, lam, T, eigs) < 1e-11


@settings(max_examples=60, deadline=None, database=None)
@given(lam1=lams, lam2=lams, T=sizes, name=spectra)
def test_property_kappa_increases_in_lambda_at_least_as_fast_as_lambda(lam1, lam2, T, name):
    eigs = SPECTRA[name]
    lo, hi = sorted((lam1, lam2))
    k_lo, k_hi = rt.kappa(np.array([lo, hi]), T, eigs)
    # dκ/dλ >= 1, so κ(hi) − κ(lo) >= hi − lo (up to rounding of κ)
    assert k_hi - k_lo >= (hi - lo) - 1e-12 * k_hi


@settings(max_examples=60, deadline=None, database=None)
@given(lam=lams, T1=sizes, T2=sizes, name=spectra)
def test_property_kappa_decreases_in_T(lam, T1, T2, name):
    eigs = SPECTRA[name]
    small, large = sorted((T1, T2))
    assert rt.kappa(lam, large, eigs) <= rt.kappa(lam, small, eigs) * (1 + 1e-12)


@settings(max_examples=40, deadline=None, database=None)
@given(name=spectra, frac=st.floats(min_value=0.0, max_value=3.0))
def test_property_ridgeless_kappa_on_both_sides_of_T_equal_d(name, frac):
    eigs = SPECTRA[name]
    T = max(1, round(frac * eigs.size))
    k = rt.kappa(0.0, T, eigs)
    if T >= eigs.size:
        assert k == 0.0
    else:
        assert k > 0
        assert rt.df(1, k, eigs) == pytest.approx(T, rel=1e-10)


# ---------------------------------------------------------------------------------------------------------
# Proposition 4.2, eq. (18), eq. (19), Corollary 4.4: identities
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [1, 10, 150, 299, 300, 301, 600, 1000, 10**6])
def test_prop_4_2_at_identity_equals_isotropic_closed_form(T):
    # Σ = I: the bias depends on w0 only through ‖w0‖² = Σ c_j², whatever the split over coordinates
    w0_sq = np.random.default_rng(1).exponential(size=D)
    w0_sq *= 2.5 / w0_sq.sum()
    total = rt.ridge_bias(LAMS, T, ISO, w0_sq) + rt.ridge_variance(LAMS, T, ISO, 0.3)
    np.testing.assert_allclose(total, rt.ridge_clean_isotropic(LAMS, D / T, 2.5, 0.3), rtol=1e-8)


def test_ridge_clean_isotropic_at_lambda_zero_reduces_to_ols_and_ridgeless_forms():
    assert rt.ridge_clean_isotropic(0.0, 0.5, 2.0, 0.3) == pytest.approx(0.3 * 0.5 / 0.5)
    # φ > 1: bias ‖w0‖²(1 − 1/φ), variance σ²/(φ − 1)
    assert rt.ridge_clean_isotropic(0.0, 2.0, 2.0, 0.3) == pytest.approx(2.0 * 0.5 + 0.3 / 1.0)
    assert rt.ridge_clean_isotropic(0.0, 1.0, 2.0, 0.3) == np.inf


@pytest.mark.parametrize("T", [1, 150, 299, 300, 301, 1000, 10**6])
@pytest.mark.parametrize("T0", [301, 302, 450, 600, 3000, 10**5])
def test_rho_eq19_at_identity_equals_rho_isotropic_exactly(T, T0):
    # At Σ = I, (19) is d/((1+κ)²(T0 − d)) · [1 + κ² (d/(1+κ)²)/(T − d/(1+κ)²)], and d/(T0 − d) = φ0/(1 − φ0)
    # exactly for φ0 = d/T0: the two forms agree at every finite d (no O(1/d) gap), so the tolerance is rounding.
    np.testing.assert_allclose(rt.rho_eq19(LAMS, T, T0, ISO), rt.rho_isotropic(LAMS, D / T, D / T0), rtol=1e-8)


def test_rho_eq19_low_dimensional_limit_is_df2_lambda_over_T0_minus_d():
    eigs = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    for lam in (1e-3, 0.1, 1.0):
        expected = rt.df(2, lam, eigs) / (20 - 5)
        assert rt.rho_eq19(lam, 10**6, 20, eigs) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("eigs", [ISO, POWER], ids=["iso", "power"])
@pytest.mark.parametrize(("T", "T0"), [(301, 302), (400, 600), (1000, 600), (10**6, 10**4)])
def test_collapse_error_at_lambda_zero_is_asymptotic_theorem_4_1(eigs, T, T0):
    # What holds exactly, for any Σ: at λ = 0 and T > d, κ = 0, so Bias = 0, Var = σ² d/(T − d) and
    # ρ = d/(T0 − d): Cor. 4.4 equals σ²φ/(1 − φ) + n σ0² φ0/(1 − φ0), i.e. Theorem 4.1 with T − d, T0 − d in place
    # of T − d − 1, T0 − d − 1.
    n = np.arange(6)
    w0_sq = np.full(D, 1.0 / D)
    cor = rt.collapse_test_error(0.0, T, n, T0, eigs, w0_sq, 0.01, 0.04)
    np.testing.assert_allclose(cor, rt.ols_collapse_error_asymptotic(n, D / T, D / T0, 0.01, 0.04), rtol=1e-12)
    np.testing.assert_allclose(cor, 0.01 * D / (T - D) + n * 0.04 * D / (T0 - D), rtol=1e-12)
    exact = rt.ols_collapse_error(n, D, T, T0, 0.01, 0.04) if min(T, T0) >= D + 2 else None
    if exact is not None:
        # each term differs from the exact one by the factor (T − d − 1)/(T − d), resp. (T0 − d − 1)/(T0 − d)
        assert np.all(cor <= exact)
        np.testing.assert_allclose(
            cor, 0.01 * D / (T - D - 1) * (T - D - 1) / (T - D) + n * 0.04 * D / (T0 - D - 1) * (T0 - D - 1) / (T0 - D)
        )


def test_collapse_terms_broadcast_and_sum_to_collapse_test_error():
    lam = np.logspace(-3, 1, 7)
    n = np.arange(4)[:, None]
    w0_sq = np.arange(1, D + 1, dtype=float) ** -0.5
    terms = rt.collapse_terms(lam, 1000, n, 600, POWER, w0_sq, 1.0, 1.0)
    assert set(terms) == {"bias", "variance", "collapse"}
    for value in terms.values():
        assert isinstance(value, np.ndarray)
        assert value.shape == (4, 7)
    total = rt.collapse_test_error(lam, 1000, n, 600, POWER, w0_sq, 1.0, 1.0)
    np.testing.assert_allclose(total, terms["bias"] + terms["variance"] + terms["collapse"], rtol=1e-15)
    np.testing.assert_allclose(terms["bias"][2], rt.ridge_bias(lam, 1000, POWER, w0_sq), rtol=1e-15)
    np.testing.assert_allclose(terms["variance"][0], rt.ridge_variance(lam, 1000, POWER, 1.0), rtol=1e-15)
    np.testing.assert_allclose(terms["collapse"], n * rt.rho_eq19(lam, 1000, 600, POWER), rtol=1e-15)
    assert np.all(terms["collapse"][0] == 0)
    # the collapse term n σ0² ρ is linear in n and in σ0² (not σ0, as eq. (1) prints)
    twice = rt.collapse_terms(lam, 1000, n, 600, POWER, w0_sq, 1.0, 2.0)["collapse"]
    np.testing.assert_allclose(twice, 2 * terms["collapse"], rtol=1e-15)


def test_collapse_test_error_scalar_inputs_give_float_and_numpy_ints_are_accepted():
    w0_sq = np.full(D, 1.0 / D)
    value = rt.collapse_test_error(0.1, np.int64(1000), np.int32(2), np.int64(600), ISO, w0_sq, 0.01, 0.04)
    assert isinstance(value, float)
    assert value == pytest.approx(rt.collapse_test_error(0.1, 1000, 2, 600, ISO, w0_sq, 0.01, 0.04), rel=1e-15)


def test_figure_1a_plateau_is_0_04_n():
    # Fig. 1(a) right: d = 300, T0 = 600, σ0 = 0.2, λ = 1e-3, T ≫ d: error ≈ n σ0² φ0/(1 − φ0) = 0.04 n
    n = np.arange(1, 6)
    err = rt.collapse_test_error(1e-3, 10**6, n, 600, ISO, np.full(D, 1.0 / D), 0.01, 0.04)
    np.testing.assert_allclose(err, 0.04 * n, rtol=0.01)
    assert rt.rho_isotropic(1e-3, 300 / 10**6, 0.5) == pytest.approx(1.0, rel=0.01)


# ---------------------------------------------------------------------------------------------------------
# Theorem 4.1 (exact OLS) and the null predictor
# ---------------------------------------------------------------------------------------------------------


def test_ols_collapse_error_values():
    # Fig. 1(a) setting at T = 1000: 0.01·300/699 + n·0.04·300/299
    n = np.arange(4)
    np.testing.assert_allclose(rt.ols_collapse_error(n, 300, 1000, 600, 0.01, 0.04), 3 / 699 + n * 12 / 299)
    assert isinstance(rt.ols_collapse_error(2, 300, 1000, 600, 0.01, 0.04), float)
    assert rt.ols_collapse_error(0, 5, 7, 7, 1.0, 1.0) == pytest.approx(5.0)


def test_ols_collapse_error_asymptotic_values():
    assert rt.ols_collapse_error_asymptotic(3, 0.3, 0.5, 0.01, 0.04) == pytest.approx(0.01 * 0.3 / 0.7 + 3 * 0.04)


def test_null_predictor_crossover_is_where_the_ols_error_reaches_the_null_error():
    d, T, T0, s2, s02, null = 50, 400, 120, 0.1, 0.2, 3.0
    n_star = rt.null_predictor_crossover(d, T, T0, s2, s02, null)
    base = rt.ols_collapse_error(0, d, T, T0, s2, s02)
    slope = rt.ols_collapse_error(1, d, T, T0, s2, s02) - base
    assert base + n_star * slope == pytest.approx(null, rel=1e-13)
    assert n_star == pytest.approx((3.0 - 0.1 * 50 / 349) / (0.2 * 50 / 69), rel=1e-14)
    # negative when the clean learner already loses to 0
    assert rt.null_predictor_crossover(d, 53, T0, 10.0, s02, 0.1) < 0


def test_null_predictor_crossover_asymptotics_is_snr0_times_one_over_phi0_minus_one():
    # σ = 0, d large: n* → SNR0 (1 − φ0)/φ0 = SNR0 (1/φ0 − 1) (not SNR0/(1/φ0 − 1): with φ0 = 1/4
    # that would be SNR0/3 instead of 3 SNR0)
    d, snr0, s02 = 10_000, 5.0, 0.1
    for phi0 in (0.25, 0.5, 0.8):
        T0 = round(d / phi0)
        n_star = rt.null_predictor_crossover(d, 10 * d, T0, 0.0, s02, snr0 * s02)
        assert n_star == pytest.approx(snr0 * (1 / phi0 - 1), rel=1e-3)


# ---------------------------------------------------------------------------------------------------------
# Theorems 4.5 and 4.6 (noiseless over-parametrized generators)
# ---------------------------------------------------------------------------------------------------------


def test_theorem_4_5_shared_design_phi0_2_gives_half_the_norm_for_every_n():
    n = np.arange(0, 11)
    out = rt.delta_bias_shared(n, 2.0, 3.0)
    np.testing.assert_allclose(out, np.where(n >= 1, 1.5, 0.0), rtol=1e-15)
    assert rt.delta_bias_shared(4, 0.5, 3.0) == 0.0
    assert rt.delta_bias_shared(4, 1.0, 3.0) == 0.0
    assert isinstance(rt.delta_bias_shared(1, 4.0, 1.0), float)
    assert rt.delta_bias_shared(1, 4.0, 1.0) == pytest.approx(0.75)


def test_theorem_4_6_independent_designs_phi0_2_gives_one_minus_two_to_the_minus_n():
    n = np.arange(0, 21)
    np.testing.assert_allclose(rt.delta_bias_independent(n, 2.0, 3.0), (1 - 2.0**-n) * 3.0, rtol=1e-15)
    assert rt.delta_bias_independent(7, 0.9, 1.0) == 0.0
    # one fit: shared and independent designs are the same experiment
    assert rt.delta_bias_independent(1, 3.0, 2.0) == pytest.approx(rt.delta_bias_shared(1, 3.0, 2.0))


def test_theorems_4_5_and_4_6_against_random_projections():
    # ŵ_n = P_{n−1}…P_0 w0 with P_m the projection on the row span of X_m (T0 × d Gaussian); ΔBias = ‖ŵ_n − w0‖².
    # One draw fluctuates by ~sqrt(p(1 − p)/(d/2)) ≈ 0.035 ‖w0‖² (p = 1/φ0, ‖P0 w0‖² ~ Beta); averaged over 40
    # repetitions the standard error is ~0.006, so a 0.03 ‖w0‖² tolerance is ~5 standard errors.
    rng = np.random.default_rng(2024)
    d, T0, reps, n_max = 400, 200, 40, 4

    def project(x, w):  # onto the row span of x (T0 < d): xᵀ(xxᵀ)⁻¹x w
        return x.T @ np.linalg.solve(x @ x.T, x @ w)

    with threadpool_limits(1):  # small BLAS calls: threads only add overhead on a loaded machine
        shared = np.zeros(n_max)
        indep = np.zeros(n_max)
        for _ in range(reps):
            w0 = rng.standard_normal(d)
            w0 /= np.linalg.norm(w0)
            x0 = rng.standard_normal((T0, d))
            w_s = w_i = w0
            for m in range(n_max):
                w_s = project(x0, w_s)
                w_i = project(x0 if m == 0 else rng.standard_normal((T0, d)), w_i)
                shared[m] += np.sum((w_s - w0) ** 2) / reps
                indep[m] += np.sum((w_i - w0) ** 2) / reps
    n = np.arange(1, n_max + 1)
    np.testing.assert_allclose(shared, rt.delta_bias_shared(n, d / T0, 1.0), atol=0.03)
    np.testing.assert_allclose(indep, rt.delta_bias_independent(n, d / T0, 1.0), atol=0.03)


# ---------------------------------------------------------------------------------------------------------
# Monte Carlo: the identity behind Theorem 4.1, the exact theorem, and Corollary 4.4 at moderate d
# ---------------------------------------------------------------------------------------------------------


def _rotated_cov(rng, eigs):
    q = np.linalg.qr(rng.standard_normal((eigs.size, eigs.size)))[0]
    return (q * eigs) @ q.T


def test_mean_of_inverse_sample_covariance_monte_carlo():
    # E[Σ̂0⁻¹] = T0/(T0 − d − 1) Σ⁻¹ (inverse Wishart) with d = 5, T0 = 20, 20000 draws, fixed seed. Each entry of the
    # Monte-Carlo mean must lie within 5 of its own standard errors (≈ 0.3% of the diagonal) of the formula, and the
    # whole matrix within 2% in Frobenius norm.
    rng = np.random.default_rng(12345)
    d, T0, draws = 5, 20, 20_000
    sigma = _rotated_cov(rng, np.array([0.5, 1.0, 2.0, 3.0, 4.0]))
    chol = np.linalg.cholesky(sigma)
    x = rng.standard_normal((draws, T0, d)) @ chol.T
    inv = np.linalg.inv(np.einsum("rti,rtj->rij", x, x) / T0)
    mean, se = inv.mean(axis=0), inv.std(axis=0) / np.sqrt(draws)
    expected = T0 / (T0 - d - 1) * np.linalg.inv(sigma)
    assert np.all(np.abs(mean - expected) <= 5 * se)
    assert np.linalg.norm(mean - expected) <= 0.02 * np.linalg.norm(expected)


def test_theorem_4_1_exact_ols_collapse_monte_carlo():
    # The chain of the module docstring with OLS generators and learner, d = 5, T0 = 12, T = 15, n = 0…3, 20000 runs:
    # the mean error must lie within 5 standard errors of σ² d/(T − d − 1) + n σ0² d/(T0 − d − 1).
    rng = np.random.default_rng(7)
    d, T0, T, runs, s2, s02 = 5, 12, 15, 20_000, 0.5, 0.3
    eigs = np.array([0.3, 0.7, 1.0, 2.0, 5.0])  # Σ diagonal: the problem is rotation invariant
    w0 = rng.standard_normal(d)
    w = np.broadcast_to(w0, (runs, d))
    for n in range(4):
        if n:
            x = rng.standard_normal((runs, T0, d)) * np.sqrt(eigs)
            y = np.einsum("rti,ri->rt", x, w) + np.sqrt(s02) * rng.standard_normal((runs, T0))
            w = np.linalg.solve(x.transpose(0, 2, 1) @ x, np.einsum("rti,rt->ri", x, y)[..., None])[..., 0]
        x = rng.standard_normal((runs, T, d)) * np.sqrt(eigs)
        y = np.einsum("rti,ri->rt", x, w) + np.sqrt(s2) * rng.standard_normal((runs, T))
        w_pred = np.linalg.solve(x.transpose(0, 2, 1) @ x, np.einsum("rti,rt->ri", x, y)[..., None])[..., 0]
        err = np.sum(eigs * (w_pred - w0) ** 2, axis=1)
        expected = rt.ols_collapse_error(n, d, T, T0, s2, s02)
        assert abs(err.mean() - expected) <= 5 * err.std() / np.sqrt(runs), (n, err.mean(), expected)


def test_corollary_4_4_ridge_collapse_monte_carlo():
    # Deterministic equivalents at d = 40, T = 80, T0 = 120, λ = 0.1, n = 2, 2000 runs: they carry O(1/d) finite-size
    # corrections (e.g. (19) has T0 − d where the exact form has T0 − d − 1, 1.3% here), so the tolerance is 5%
    # (the Monte-Carlo standard error is ~0.6%).
    rng = np.random.default_rng(11)
    d, T, T0, n, lam, s2, s02, runs = 40, 80, 120, 2, 0.1, 0.25, 0.5, 2000
    eigs = np.linspace(0.5, 2.0, d)
    w0 = rng.standard_normal(d) / np.sqrt(d)
    w = np.broadcast_to(w0, (runs, d))
    for _ in range(n):
        x = rng.standard_normal((runs, T0, d)) * np.sqrt(eigs)
        y = np.einsum("rti,ri->rt", x, w) + np.sqrt(s02) * rng.standard_normal((runs, T0))
        w = np.linalg.solve(x.transpose(0, 2, 1) @ x, np.einsum("rti,rt->ri", x, y)[..., None])[..., 0]
    x = rng.standard_normal((runs, T, d)) * np.sqrt(eigs)
    y = np.einsum("rti,ri->rt", x, w) + np.sqrt(s2) * rng.standard_normal((runs, T))
    gram = x.transpose(0, 2, 1) @ x / T + lam * np.eye(d)
    w_pred = np.linalg.solve(gram, np.einsum("rti,rt->ri", x, y)[..., None] / T)[..., 0]
    err = np.sum(eigs * (w_pred - w0) ** 2, axis=1)
    assert err.mean() == pytest.approx(rt.collapse_test_error(lam, T, n, T0, eigs, w0**2, s2, s02), rel=0.05)


# ---------------------------------------------------------------------------------------------------------
# edge values
# ---------------------------------------------------------------------------------------------------------


def test_interpolation_threshold_values():
    w0_sq = np.full(D, 1.0 / D)
    assert rt.ridge_bias(0.0, D, ISO, w0_sq) == 0.0
    assert rt.ridge_variance(0.0, D, ISO, 0.1) == np.inf
    assert rt.ridge_variance(0.0, D, ISO, 0.0) == 0.0
    assert rt.ridge_bias(0.0, D + 1, POWER, w0_sq) == 0.0


def test_zero_noise_and_zero_signal():
    assert np.all(rt.ridge_variance(LAMS, 100, POWER, 0.0) == 0.0)
    assert np.all(rt.ridge_bias(LAMS, 100, POWER, np.zeros(D)) == 0.0)


# ---------------------------------------------------------------------------------------------------------
# accepted inputs (the refused ones are tested for every public function in test_contracts.py)
# ---------------------------------------------------------------------------------------------------------


def test_integer_valued_float_n_is_accepted():
    assert rt.ols_collapse_error(2.0, 5, 10, 10, 1.0, 1.0) == rt.ols_collapse_error(2, 5, 10, 10, 1.0, 1.0)


@pytest.mark.parametrize(("eigs", "T", "T0", "s2", "s02"), [(ISO, 1000, 600, 0.01, 0.04), (POWER, 10**4, 600, 1.0, 1.0),
                                                            (ISO, 200, 900, 0.01, 0.04)], ids=["fig1a", "fig1b", "T<d"])
def test_optimal_lambda_beats_a_dense_grid_and_sits_at_a_stationary_point(eigs, T, T0, s2, s02):
    ns = np.array([0, 1, 5, 20])
    w0_sq = np.full(D, 1.0 / D) if eigs is ISO else np.arange(1, D + 1, dtype=float) ** -0.5 / 20
    lam_star, err_star = rt.optimal_lambda(T, ns, T0, eigs, w0_sq, s2, s02)
    coarse = np.logspace(-8, 3, 1101)  # steps of 0.023 in log λ, then steps of 1e-4 around the coarse minimum
    start = coarse[np.argmin(rt.collapse_test_error(coarse, T, ns[:, None], T0, eigs, w0_sq, s2, s02), axis=1)]
    fine = start[:, None] * np.exp(np.linspace(-0.05, 0.05, 1001))
    curves = np.stack([rt.collapse_test_error(f, T, n, T0, eigs, w0_sq, s2, s02)
                       for f, n in zip(fine, ns, strict=True)])
    best = fine[np.arange(ns.size), np.argmin(curves, axis=1)]
    np.testing.assert_allclose(np.log(lam_star), np.log(best), atol=2e-4)
    assert np.all(err_star <= curves.min(axis=1) * (1 + 1e-12))
    for lam, n in zip(lam_star, ns, strict=True):  # d error / d log λ = 0 at λ*, relative to the error's scale
        up, down = (rt.collapse_test_error(lam * np.exp(h), T, n, T0, eigs, w0_sq, s2, s02) for h in (1e-4, -1e-4))
        assert abs(up - down) / 2e-4 < 1e-4 * rt.collapse_test_error(lam, T, n, T0, eigs, w0_sq, s2, s02)


def test_optimal_lambda_grows_with_n_in_the_papers_figure_1a_setting():
    lam_star, err_star = rt.optimal_lambda(1000, np.arange(0, 21), 600, ISO, np.full(D, 1.0 / D), 0.01, 0.04)
    assert np.all(np.diff(lam_star) > 0) and np.all(np.diff(err_star) > 0)
    assert lam_star[-1] == pytest.approx(0.652, abs=1e-3)  # n = 20
    assert isinstance(rt.optimal_lambda(1000, 3, 600, ISO, np.full(D, 1.0 / D), 0.01, 0.04)[0], float)


@pytest.mark.parametrize("lam_range", [(1.0, 10.0), (1e-9, 1e-5)])
def test_optimal_lambda_refuses_a_minimum_at_the_end_of_the_range(lam_range):
    with pytest.raises(ValueError, match=r"^lam_range must hold the minimum inside it"):
        rt.optimal_lambda(1000, 0, 600, ISO, np.full(D, 1.0 / D), 0.01, 0.04, lam_range=lam_range)
