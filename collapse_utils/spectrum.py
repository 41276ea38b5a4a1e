"""Capacity and source exponents ``(beta, r)`` of a kernel and a target, estimated from a sample Gram matrix.

Dohmatob et al. 2024, §5 (after Cui et al. 2022): the kernel's eigenvalues decay as ``lambda_k ~ k^-beta`` (capacity)
and the target's coordinates in the feature eigenbasis as ``c_k^2 ~ k^-delta`` with ``delta = 1 + beta (2 r - 1)``
(source). In the orthonormal eigenfunction basis the target's coefficients are ``a_k = sqrt(lambda_k) c_k``, so
``a_k^2 ~ k^-(beta + delta)`` and the energy of the target beyond the first ``k`` eigenfunctions is

    ``R(k) = sum_{j >= k} a_j^2 ~ k^(1 - beta - delta) = k^(-2 beta r)``.

:func:`estimate_power_law` fits both laws on a sample of ``N`` points: the eigenvalues of ``G / N`` estimate the
``lambda_k``, and ``a_k = v_k^T y / sqrt(N)`` (``v_k`` the unit eigenvectors of ``G``) the target's coefficients. The
residual energy ``R(k)`` is read off the sample directly (``||y||^2 / N`` minus the energy in the first ``k - 1``
eigenvectors), which is much less noisy than single coefficients ``a_k^2``, and it has no truncation bias: the sample
basis is complete, so the energy the top eigenvectors miss is all counted. Sample eigenvalues track the population
ones only for ``k << N``; the fit range is the caller's stated choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.validation import IntArray, RealArray, fail, validate

_RANGE = IntArray(1)  # k_range: (k_lo, k_hi), 1-based eigen-indices


@dataclass(frozen=True)
class PowerLawFit:
    """Fitted exponents and the curves they were fitted to (index ``k - 1`` holds eigen-index ``k``)."""

    beta: float  # capacity: lambda_k ~ k^-beta
    r: float  # source: R(k) ~ k^(-2 beta r)
    delta: float  # 1 + beta (2 r - 1): c_k^2 ~ k^-delta
    k_range: tuple[int, int]  # inclusive range of eigen-indices used by both fits
    eigenvalues: np.ndarray  # of G / N, descending, shape (N,)
    residual: np.ndarray  # R(k) for k = 1..N
    log_scale_eig: float  # intercept: log lambda_k ~ log_scale_eig - beta log k
    log_scale_res: float  # intercept: log R(k) ~ log_scale_res - 2 beta r log k

    def eigenvalue_law(self, k) -> np.ndarray:
        """The fitted ``lambda_k = exp(log_scale_eig) k^-beta``."""
        return np.exp(self.log_scale_eig) * np.asarray(k, dtype=float) ** -self.beta

    def residual_law(self, k) -> np.ndarray:
        """The fitted ``R(k) = exp(log_scale_res) k^(-2 beta r)``."""
        return np.exp(self.log_scale_res) * np.asarray(k, dtype=float) ** (-2 * self.beta * self.r)

    @validate(k_range=_RANGE)
    def refit(self, k_range: tuple[int, int]) -> PowerLawFit:
        """The same spectrum and target fitted over another ``k_range`` (no new eigendecomposition)."""
        return _fit_laws(self.eigenvalues, self.residual, k_range)


def _fit(k: np.ndarray, values: np.ndarray, what: str, k_range) -> tuple[float, float]:
    if np.any(values <= 0):
        fail("k_range", f"a range where {what} is > 0 to fit a power law (shrink it)", k_range)
    slope, intercept = np.polyfit(np.log(k), np.log(values), 1)
    return float(-slope), float(intercept)


def _pair(k_range: np.ndarray, N: int) -> tuple[int, int]:
    """``(k_lo, k_hi)``; fails unless ``1 <= k_lo < k_hi < N``."""
    if k_range.size != 2 or not k_range[0] < k_range[1] < N:
        fail("k_range", f"a pair (k_lo, k_hi) with 1 <= k_lo < k_hi < N = {N}", k_range)
    return int(k_range[0]), int(k_range[1])


def _fit_laws(evals: np.ndarray, residual: np.ndarray, k_range: np.ndarray) -> PowerLawFit:
    k_lo, k_hi = _pair(k_range, evals.size)
    k = np.arange(k_lo, k_hi + 1, dtype=float)
    rows = slice(k_lo - 1, k_hi)
    beta, log_scale_eig = _fit(k, evals[rows], "the eigenvalues of G / N", k_range)
    s, log_scale_res = _fit(k, residual[rows], "the residual energy of y", k_range)
    if beta < 1e-6:
        fail("k_range", f"a range where the eigenvalues decay (fitted beta = {beta:.3g})", k_range)
    r = s / (2 * beta)
    return PowerLawFit(beta=beta, r=r, delta=1 + beta * (2 * r - 1), k_range=(k_lo, k_hi), eigenvalues=evals,
                       residual=residual, log_scale_eig=log_scale_eig, log_scale_res=log_scale_res)


@validate(G=RealArray(square=True), y=RealArray(ndim=1), k_range=_RANGE)
def estimate_power_law(G, y, *, k_range: tuple[int, int] = (10, 200)) -> PowerLawFit:
    """Estimate ``(beta, r)`` from the Gram matrix ``G`` of ``N`` sample points and the target ``y`` there.

    Parameters
    ----------
    G
        ``K(X, X)`` for ``N`` points, symmetric positive semi-definite, ``(N, N)``.
    y
        The (clean) target at the same points, ``(N,)``.
    k_range
        ``(k_lo, k_hi)``, inclusive eigen-indices (1-based) of both log-log least-squares fits;
        ``1 <= k_lo < k_hi < N``.

    Returns
    -------
    PowerLawFit
        ``beta`` from ``log lambda_k`` against ``log k``; ``r = s / (2 beta)`` with ``s`` the decay exponent of the
        residual energy ``R(k)``; ``delta = 1 + beta (2 r - 1)`` (Dohmatob et al. 2024, §5, the source condition
        ``c_j ~ j^-delta/2``).
    """
    N = G.shape[0]
    if y.shape != (N,):
        fail("y", f"one target value per point of G, shape ({N},)", y)
    _pair(k_range, N)  # before the eigendecomposition
    evals, evecs = np.linalg.eigh(G / N)
    evals, evecs = np.ascontiguousarray(evals[::-1]), evecs[:, ::-1]
    a2 = (evecs.T @ y) ** 2 / N
    residual = np.cumsum(a2[::-1])[::-1]  # R(k) = sum_{j >= k} a_j^2
    return _fit_laws(evals, residual, k_range)
