"""Closed forms of a Gaussian fitted to its own samples, against independent computations.

Independent means: scipy's special functions, explicit products and recursions written out here, direct Monte Carlo
of chi-square and Wishart variables (not the package's simulator), and the linear chapter's closed forms where the
two models meet (the fitted mean of the Gaussian chain is least squares on an intercept-only design).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from collapse_utils.theory import gaussian as th
from collapse_utils.theory import linear

ESTIMATORS = ("mle", "unbiased")


def divisor(n, estimator):
    return n - 1 if estimator == "unbiased" else n


# ---------------------------------------------------------------------------------------------------------
# digamma and trigamma at half-integers
# ---------------------------------------------------------------------------------------------------------


def test_digamma_half_matches_scipy():
    m = np.arange(1, 3001)
    np.testing.assert_allclose(th.digamma_half(m), special.digamma(m / 2), rtol=0, atol=1e-12)


def test_trigamma_half_matches_scipy():
    m = np.arange(1, 3001)
    np.testing.assert_allclose(th.trigamma_half(m), special.polygamma(1, m / 2), rtol=1e-10)


def test_digamma_half_scalar_and_known_values():
    assert th.digamma_half(2) == pytest.approx(-np.euler_gamma, abs=1e-15)                  # psi(1)
    assert th.digamma_half(1) == pytest.approx(-np.euler_gamma - 2 * math.log(2), abs=1e-15)  # psi(1/2)
    assert th.trigamma_half(1) == pytest.approx(np.pi**2 / 2, rel=1e-15)                       # psi'(1/2)
    assert isinstance(th.digamma_half(7), float)


@pytest.mark.parametrize("bad", [0, -3, 2.5, [1, 0]])
def test_half_integer_functions_reject_bad_arguments(bad):
    with pytest.raises(ValueError, match="m must be"):
        th.digamma_half(bad)


# ---------------------------------------------------------------------------------------------------------
# replace and replace-multiple
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("T", [2, 10, 1000])
def test_replace_variance_ratio_is_a_power(T, estimator):
    i = np.arange(0, 101)
    np.testing.assert_allclose(th.replace_variance_ratio(i, T, estimator), ((T - 1) / divisor(T, estimator)) ** i,
                               rtol=1e-12)


def test_replace_variance_ratio_reference_values():
    # Kazdan et al.'s d = 10 trace ratio at iteration 100 (mle): the theory behind their committed figure
    expected = {10: 2.656e-5, 32: 0.04180, 100: 0.36603, 316: 0.72836, 1000: 0.90479}
    for T, value in expected.items():
        assert th.replace_variance_ratio(100, T) == pytest.approx(value, rel=1e-3)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_replace_multiple_variance_ratio_is_an_explicit_product(estimator):
    T = 7
    expected, value = [1.0], 1.0
    for k in range(1, 61):
        value *= (k * T - 1) / divisor(k * T, estimator)
        expected.append(value)
    got = th.replace_variance_ratio(np.arange(0, 61), T, estimator, policy="replace-multiple")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_replace_multiple_mle_decays_like_a_power_of_i():
    # prod_k (1 - 1/(kT)) ~ C i^(-1/T): the log-log slope tends to -1/T
    T = 10
    i = np.array([10_000, 20_000])
    g = th.replace_variance_ratio(i, T, "mle", policy="replace-multiple")
    assert math.log(g[1] / g[0]) / math.log(2) == pytest.approx(-1 / T, rel=1e-3)


@pytest.mark.parametrize("policy", ["replace", "replace-multiple"])
@pytest.mark.parametrize(("T", "d"), [(4, 1), (12, 3), (25, 10)])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_log_det_moments_equal_scipy_sums(policy, T, d, estimator):
    n = 12
    mean, var = 0.0, 0.0
    expected_mean, expected_var = [0.0], [0.0]
    for k in range(1, n + 1):
        m = k * T if policy == "replace-multiple" else T
        for j in range(1, d + 1):
            mean += special.digamma((m - j) / 2) + math.log(2 / divisor(m, estimator))
            var += special.polygamma(1, (m - j) / 2)
        expected_mean.append(mean)
        expected_var.append(var)
    i = np.arange(0, n + 1)
    np.testing.assert_allclose(th.replace_log_det_mean(i, T, d, estimator, policy), expected_mean, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(th.replace_log_det_var(i, T, d, estimator, policy), expected_var, rtol=1e-10,
                               atol=1e-12)


def test_log_variance_drift_reference_values():
    # per iteration, 1-D: about -2/T (mle) and -1/T (unbiased)
    assert th.replace_log_det_mean(1, 10, 1, "mle") == pytest.approx(-0.2206, abs=5e-5)
    assert th.replace_log_det_mean(1, 10, 1, "unbiased") == pytest.approx(-0.1152, abs=5e-5)
    assert th.replace_log_det_mean(1, 100, 1, "mle") == pytest.approx(-0.0202, abs=5e-5)
    assert th.replace_log_det_mean(1, 100, 1, "unbiased") == pytest.approx(-0.0101, abs=5e-5)


def test_log_det_moments_against_chi_square_monte_carlo():
    # ln det of a product of Wishart(T-1, I)/c factors, drawn directly with numpy's chi-square (Bartlett)
    rng = np.random.default_rng(11)
    T, d, n, runs = 15, 3, 8, 200_000
    dof = T - np.arange(1, d + 1)
    logs = np.log(rng.chisquare(dof, size=(runs, n, d)) / T).sum(axis=(1, 2))
    z = (logs.mean() - th.replace_log_det_mean(n, T, d)) / (logs.std(ddof=1) / math.sqrt(runs))
    assert abs(z) < 4
    assert logs.var(ddof=1) == pytest.approx(th.replace_log_det_var(n, T, d), rel=0.02)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_det_ratio_is_the_bartlett_product(estimator):
    T, d, n = 9, 4, 5
    factor = np.prod([(T - j) / divisor(T, estimator) for j in range(1, d + 1)])
    assert th.replace_det_ratio(n, T, d, estimator) == pytest.approx(factor**n, rel=1e-12)


def test_det_ratio_is_zero_when_T_does_not_exceed_d():
    assert th.replace_det_ratio(1, 10, 10) == 0.0
    assert th.replace_det_ratio(np.array([1, 50]), 5, 10).tolist() == [0.0, 0.0]
    assert th.replace_det_ratio(0, 5, 10) == 1.0


def test_det_ratio_against_wishart_monte_carlo():
    rng = np.random.default_rng(5)
    T, d, runs = 6, 2, 400_000
    x = rng.standard_normal((runs, T, d))
    xc = x - x.mean(axis=1, keepdims=True)
    det = np.linalg.det(np.swapaxes(xc, 1, 2) @ xc / T)
    z = (det.mean() - th.replace_det_ratio(1, T, d)) / (det.std(ddof=1) / math.sqrt(runs))
    assert abs(z) < 4


def test_log_det_rejects_singular_settings():
    with pytest.raises(ValueError, match=r"T must be > d = 10"):
        th.replace_log_det_mean(5, 10, 10)
    with pytest.raises(ValueError, match=r"T must be > d = 3"):
        th.replace_log_det_var(5, 3, 3)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("policy", ["replace", "replace-multiple"])
def test_trace_cv2_in_one_dimension_is_a_product(estimator, policy):
    T, n = 9, 40
    ratio = [(k * T if policy == "replace-multiple" else T) for k in range(1, n + 1)]
    expected = np.cumprod([(m + 1) / (m - 1) for m in ratio]) - 1
    got = th.replace_trace_cv2(np.arange(1, n + 1), T, 1, estimator, policy)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_trace_cv2_against_wishart_product_monte_carlo():
    # two generations of d = 3 replace, drawn literally from Gaussian samples (no Wishart algebra)
    rng = np.random.default_rng(3)
    T, d, runs = 8, 3, 100_000
    root = np.broadcast_to(np.eye(d), (runs, d, d))
    traces = []
    for _ in range(2):
        x = rng.standard_normal((runs, T, d)) @ root
        xc = x - x.mean(axis=1, keepdims=True)
        cov = np.swapaxes(xc, 1, 2) @ xc / T
        vals, vecs = np.linalg.eigh(cov)
        root = (vecs * np.sqrt(np.maximum(vals, 0))[:, None, :]) @ np.swapaxes(vecs, 1, 2)
        traces.append(np.trace(cov, axis1=1, axis2=2))
    for n, tr in enumerate(traces, start=1):
        cv2 = tr.var(ddof=1) / tr.mean() ** 2
        assert cv2 == pytest.approx(th.replace_trace_cv2(n, T, d), rel=0.04)  # about 4 standard errors


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_replace_mean_error_is_a_sum_of_step_variances(estimator):
    T, d, s2 = 12, 3, 2.5
    n = np.arange(1, 41)
    expected = d * s2 / T * np.cumsum(((T - 1) / divisor(T, estimator)) ** (n - 1))
    np.testing.assert_allclose(th.replace_mean_error(n, T, d, s2, estimator), expected, rtol=1e-12)


def test_replace_mean_error_mle_is_bounded_by_the_trace():
    n = np.arange(1, 2001)
    err = th.replace_mean_error(n, 10, 10)
    np.testing.assert_allclose(err, 10 * (1 - 0.9**n), rtol=1e-10)
    assert err[-1] == pytest.approx(10.0, rel=1e-12)  # Kazdan et al.'s T = 10 replace mean error saturates at tr


@pytest.mark.parametrize("T", [10, 50])
def test_unbiased_mean_error_meets_the_linear_chapter(T):
    # With the unbiased variance the mean's random walk has constant expected step sigma^2/T: the linear chapter's
    # replace (i e_1) and replace-multiple (H_i e_1) laws, with e_1 = sigma^2/T (least squares on an intercept).
    n = np.arange(1, 51)
    e1 = linear.ols_test_error(5, 30, 1.0)
    np.testing.assert_allclose(th.replace_mean_error(n, T, 1, 1.0, "unbiased") * T,
                               linear.replace_test_error(n, 5, 30, 1.0) / e1, rtol=1e-12)
    np.testing.assert_allclose(th.replace_mean_error(n, T, 1, 1.0, "unbiased", "replace-multiple") * T,
                               linear.replace_multiple_test_error(n, 5, 30, 1.0) / e1, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# accumulate
# ---------------------------------------------------------------------------------------------------------


def accumulate_by_recursion(n, T, estimator):
    """E Sigma_hat_i / Sigma0 from the expected scatter of the pool, merged chunk by chunk."""
    g = (T - 1) / divisor(T, estimator)
    out = [g]
    for k in range(1, n):
        scatter = divisor(k * T, estimator) * g + (T - 1) * g + (k * T * T / (k * T + T)) * g / T
        g = scatter / divisor((k + 1) * T, estimator)
        out.append(g)
    return np.array(out)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("T", [2, 3, 10, 316])
def test_accumulate_product_equals_the_scatter_recursion(T, estimator):
    n = np.arange(1, 201)
    expected = accumulate_by_recursion(200, T, estimator)
    np.testing.assert_allclose(th.accumulate_variance_ratio(n, T, estimator), expected, rtol=1e-12)


@pytest.mark.parametrize(("T", "limit"), [(10, 0.8434), (32, 0.9494), (100, 0.9836), (316, 0.9948), (1000, 0.9984)])
def test_accumulate_mle_limit_reference_values(T, limit):
    assert th.accumulate_limit(T) == pytest.approx(limit, abs=5e-5)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("T", [3, 4, 10, 100])
def test_accumulate_limit_equals_the_long_product(T, estimator):
    # the product's tail after K factors is exp(-O(1/(K T))): at K = 10^6 it is within 2e-6
    assert th.accumulate_limit(T, estimator) == pytest.approx(th.accumulate_variance_ratio(10**6, T, estimator),
                                                              abs=2e-6)


def test_accumulate_mle_limit_is_eulers_sine_product():
    for T in (5, 50, 500):
        x = 1 / math.sqrt(T)
        k = np.arange(1, 2_000_001, dtype=float)
        assert math.exp(np.sum(np.log1p(-(x**2) / k**2))) == pytest.approx(th.accumulate_limit(T), abs=1e-6)


def test_accumulate_stays_above_its_limit_and_below_replace_decay():
    n = np.arange(1, 101)
    for T in (10, 100):
        g = th.accumulate_variance_ratio(n, T)
        assert np.all(np.diff(g) < 0) and np.all(g > th.accumulate_limit(T))
        assert np.all(g[1:] > th.replace_variance_ratio(n[1:], T))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_accumulate_mean_error_is_a_sum_of_shrinking_steps(estimator):
    T, d, s2, n = 10, 4, 0.5, 30
    g = accumulate_by_recursion(n, T, estimator)
    expected = [d * s2 / T]
    for k in range(1, n):
        expected.append(expected[-1] + d * s2 * g[k - 1] / (T * (k + 1) ** 2))
    np.testing.assert_allclose(th.accumulate_mean_error(np.arange(1, n + 1), T, d, s2, estimator), expected,
                               rtol=1e-12)


def test_accumulate_mean_error_meets_the_linear_chapter_for_large_T():
    # as T grows the fitted variance stays at sigma^2 (g_k -> 1) and the mean error tends to e_1 sum 1/j^2
    n = np.arange(1, 51)
    T = 10**7
    e1 = linear.ols_test_error(5, 30, 1.0)
    np.testing.assert_allclose(th.accumulate_mean_error(n, T) * T, linear.accumulate_test_error(n, 5, 30, 1.0) / e1,
                               rtol=1e-6)
    assert np.all(th.accumulate_mean_error(n, 10) * 10 < linear.basel_partial_sum(n) + 1e-15)


def test_accumulate_mean_error_reference_values():
    # Kazdan et al.'s d = 10 mean error at iteration 100: about 1.6 (T = 10) and 0.017 (T = 1000)
    assert th.accumulate_mean_error(100, 10, 10) == pytest.approx(1.557, abs=5e-4)
    assert th.accumulate_mean_error(100, 1000, 10) == pytest.approx(0.01634, abs=5e-5)


# ---------------------------------------------------------------------------------------------------------
# accumulate-subsample
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("T", "value"), [(10, 0.741), (32, 0.913), (100, 0.971), (316, 0.991), (1000, 0.997)])
def test_subsample_reference_values_at_iteration_100(T, value):
    assert th.subsample_variance_ratio(100, T) == pytest.approx(value, abs=1e-3)  # quoted to 3 decimals


def test_subsample_is_bounded_and_below_accumulate():
    n = np.arange(2, 501)
    for T in (10, 32, 100):
        g = th.subsample_variance_ratio(n, T)
        assert np.all(g < th.accumulate_variance_ratio(n, T))
        assert g[-1] > 0.5 and abs(g[-1] - g[-100]) < 0.01  # levels off


def test_subsample_iteration_1_is_the_real_fit():
    for est in ESTIMATORS:
        assert th.subsample_variance_ratio(1, 10, est) == pytest.approx(th.accumulate_variance_ratio(1, 10, est))
        assert th.subsample_mean_error(1, 10, 3, 2.0, est) == pytest.approx(3 * 2.0 / 10)


def literal_subsample(T, n, runs, estimator, rng):
    """Accumulate-subsample in 1-D, written out with explicit per-run loops (slow, independent of the package)."""
    ratios = np.empty((runs, n))
    errors = np.empty((runs, n))
    for r in range(runs):
        pool = list(rng.standard_normal(T))
        train = np.array(pool)
        for i in range(1, n + 1):
            mu, var = train.mean(), train.var(ddof=1 if estimator == "unbiased" else 0)
            ratios[r, i - 1], errors[r, i - 1] = var, mu**2
            pool.extend(mu + math.sqrt(var) * rng.standard_normal(T))
            train = np.array(pool)[rng.choice(len(pool), size=T, replace=False)]
    return ratios, errors


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_subsample_recursion_against_literal_monte_carlo(estimator):
    T, n, runs = 4, 5, 6_000
    ratios, errors = literal_subsample(T, n, runs, estimator, np.random.default_rng(42))
    it = np.arange(1, n + 1)
    for values, theory in ((ratios, th.subsample_variance_ratio(it, T, estimator)),
                           (errors, th.subsample_mean_error(it, T, 1, 1.0, estimator))):
        z = (values.mean(0) - theory) / (values.std(0, ddof=1) / math.sqrt(runs))
        assert np.all(np.abs(z) < 4), z


# ---------------------------------------------------------------------------------------------------------
# dispatch by name, validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_dispatch_by_policy_name(estimator):
    it = np.arange(1, 21)
    T = 10
    assert np.array_equal(th.variance_ratio("replace", it, T, estimator), th.replace_variance_ratio(it, T, estimator))
    assert np.array_equal(th.variance_ratio("accumulate", it, T, estimator),
                          th.accumulate_variance_ratio(it, T, estimator))
    assert np.array_equal(th.variance_ratio("accumulate-subsample", it, T, estimator),
                          th.subsample_variance_ratio(it, T, estimator))
    assert np.array_equal(th.variance_ratio("replace-multiple", it, T, estimator),
                          th.replace_variance_ratio(it, T, estimator, "replace-multiple"))
    for policy in th.POLICIES:
        assert np.all(th.mean_error(policy, it, T, 2, 1.0, estimator) > 0)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: th.variance_ratio("resample", 3, 10), "policy must be one of"),
    (lambda: th.variance_ratio("replace", 3, 10, "biased"), "estimator must be one of"),
    (lambda: th.variance_ratio("replace", 0, 10), "iteration must be"),
    (lambda: th.accumulate_variance_ratio(3, 1), "T must be an integer >= 2"),
    (lambda: th.accumulate_limit(2), "T must be an integer >= 3"),
    (lambda: th.mean_error("accumulate", 3, 10, sigma2=-1.0), "sigma2 must be"),
    (lambda: th.replace_variance_ratio(3, 10, policy="accumulate"), "policy must be one of"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
