"""The (beta, r) estimator of collapse_utils.spectrum on spectra whose exponents are known."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from collapse_utils.spectrum import estimate_power_law
from collapse_utils.theory.scaling import exponents


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small eigendecompositions: a spin-waiting multi-threaded BLAS is 10x slower on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


def _rotation(N: int, seed: int) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((N, N)))
    return Q


@pytest.mark.parametrize(("beta", "r"), [(1.65, 0.097), (1.2, 0.15), (2.0, 0.375)])
def test_exact_power_laws_are_recovered_to_rounding(beta, r):
    # G / N has eigenvalues k^-beta in a random basis; y's energy beyond k telescopes to exactly k^(-2 beta r).
    N = 300
    k = np.arange(1, N + 1, dtype=float)
    s = 2 * beta * r
    a2 = k**-s - (k + 1) ** -s
    a2[-1] = N**-s
    Q = _rotation(N, seed=1)
    G = N * (Q * k**-beta) @ Q.T
    y = np.sqrt(N) * Q @ np.sqrt(a2)
    fit = estimate_power_law(G, y, k_range=(10, 200))
    assert fit.beta == pytest.approx(beta, rel=1e-9)
    assert fit.r == pytest.approx(r, rel=1e-7)
    assert fit.delta == pytest.approx(exponents(beta, r).delta, rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(fit.residual[9:200], k[9:200] ** -s, rtol=1e-7)
    np.testing.assert_allclose(fit.eigenvalue_law(k[9:200]), k[9:200] ** -beta, rtol=1e-8)
    np.testing.assert_allclose(fit.residual_law(k[9:200]), k[9:200] ** -s, rtol=1e-6)
    assert fit.k_range == (10, 200)
    other = fit.refit((20, 150))  # exact laws: the same exponents over any range
    assert other.k_range == (20, 150)
    assert other.beta == pytest.approx(beta, rel=1e-9) and other.r == pytest.approx(r, rel=1e-7)
    assert other.eigenvalues is fit.eigenvalues


@pytest.mark.parametrize(("beta", "r"), [(2.0, 0.75), (1.5, 0.3)])
def test_a_gaussian_sample_with_power_law_covariance_gives_the_exponents(beta, r):
    # x ~ N(0, diag(k^-beta)) in d = 3000 dimensions, target y = x^T w0 with w0_k^2 = k^-delta (the paper's source
    # condition), N = 1000 samples, linear kernel: the sample estimates are within 0.05 of the truth.
    N, d = 1000, 3000
    rng = np.random.default_rng(0)
    k = np.arange(1, d + 1, dtype=float)
    X = rng.standard_normal((N, d)) * k ** (-beta / 2)
    y = X @ k ** (-exponents(beta, r).delta / 2)
    fit = estimate_power_law(X @ X.T, y, k_range=(5, 100))
    assert abs(fit.beta - beta) < 0.05
    assert abs(fit.r - r) < 0.05
