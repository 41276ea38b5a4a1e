"""Scaling laws of ridge regression under power-law spectra, with and without collapse (Dohmatob et al. 2024, §5).

Capacity and source conditions: Sigma has eigenvalues ``lambda_k ~ k^-beta`` (``beta > 1``, the *capacity*), and the
truth's coordinates in Sigma's eigenbasis are ``c_j ~ j^-delta/2`` with ``delta = 1 + beta (2 r - 1)`` (``r > 0``, the
*source* exponent: larger r = smoother target). With ``r_ = min(r, 1)``:

- ``ell_crit = beta / (2 beta r_ + 1)``: the clean-optimal ridge exponent, ``lambda = T^-ell_crit``;
- ``c = 2 beta r_ / (2 beta r_ + 1)``: the clean rate, ``E_test ~ T^-c`` at ``ell_crit``;
- ``ell_star = min((b - a) ell_crit, beta)`` (Corollary 5.2) when ``T0 ~ T^b`` and ``n sigma0^2 ~ T^a``.

Exponents are dimensionless and checked against the paper's values in the unit tests (e.g. (2, 0.375) gives
``ell_crit = 0.8``, ``c = 0.6``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.validation import Int, Optional, Real, RealArray, fail, validate

_BETA = Real(1, low_open=True)  # capacity exponent beta > 1
_R = Real(0, low_open=True)  # source exponent r > 0


@dataclass(frozen=True)
class Exponents:
    """The exponents of §5 for one ``(beta, r)``."""

    beta: float
    r: float
    r_under: float  # min(r, 1): source exponents above 1 saturate (ridge cannot exploit more smoothness)
    delta: float  # decay of the truth's squared coordinates: c_j^2 ~ j^-delta
    ell_crit: float  # clean-optimal ridge exponent
    c: float  # clean rate exponent

    @validate(a=Real(), b=Real())
    def ell_star(self, a: float, b: float) -> float:
        """Corollary 5.2: the optimal exponent ``min((b - a) ell_crit, beta)`` when ``T0 ~ T^b``, ``n sigma0^2 ~ T^a``.

        The printed corollary says "n ~ T^b"; the condition is on ``n sigma0^2 ~ T^a``.
        """
        if b <= a:
            fail("b", f"> a = {a:g} (the generators' data must outgrow their noise)", b)
        return float(min((b - a) * self.ell_crit, self.beta))


@validate(beta=_BETA, r=_R)
def exponents(beta: float, r: float) -> Exponents:
    """Exponents of Dohmatob et al. §5 for capacity ``beta > 1`` and source ``r > 0``."""
    r_under = min(r, 1.0)
    return Exponents(beta=beta, r=r, r_under=r_under, delta=1 + beta * (2 * r - 1),
                     ell_crit=beta / (2 * beta * r_under + 1), c=2 * beta * r_under / (2 * beta * r_under + 1))


@validate(d=Int(1), beta=_BETA, r=_R, w0_norm_sigma=Real(0, low_open=True))
def power_law_problem(d: int, beta: float, r: float, *, w0_norm_sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum and truth of the §5 model: ``lambda_k = k^-beta`` and ``c_j^2 ~ j^-delta``, ``k, j = 1..d``.

    Normalization (the paper leaves it open): ``lambda_1 = 1``, and the truth is scaled so that its signal
    ``||w0||_Sigma^2 = sum_j lambda_j c_j^2`` equals ``w0_norm_sigma`` (default 1).

    Returns
    -------
    eigs, w0_sq
        Eigenvalues (descending) and the truth's squared coordinates in that eigenbasis.
    """
    ex = exponents(beta, r)
    k = np.arange(1, d + 1, dtype=float)
    eigs = k**-ex.beta
    w0_sq = k**-ex.delta
    w0_sq *= w0_norm_sigma / np.sum(eigs * w0_sq)
    return eigs, w0_sq


@validate(T=RealArray(1), ell=Real(0), beta=_BETA, r=_R, n=RealArray(0), sigma2=Real(0), sigma02=Real(0),
          T0=Optional(RealArray(0, low_open=True)), d=Optional(Int(1)))
def theorem51_rate(T, ell, beta, r, *, n=0, sigma2=1.0, sigma02=1.0, T0=None, d=None):
    """Theorem 5.1's rate (up to constants) for ``lambda = T^-ell``:

    ``max(sigma^2, T^(1 - 2 r_ ell - ell/beta)) T^-(1 - ell/beta)
    + n sigma0^2 / (1 - phi0) * max(T / T0, phi0) T^-(1 - ell/beta)``, with ``phi0 = d / T0 < 1``.

    The clean part (``n = 0``) is Cui et al. (2022)'s rate. Only exponents are meaningful: ``~`` hides constants.
    """
    ex = exponents(beta, r)
    if ell >= beta:
        fail("ell", f"< beta = {beta:g}", ell)
    decay = T ** -(1 - ell / ex.beta)
    out = np.maximum(sigma2, T ** (1 - 2 * ex.r_under * ell - ell / ex.beta)) * decay
    if np.any(n > 0):
        if T0 is None or d is None or np.any(T0 <= d):
            fail("T0", "given with d, and > d, for the collapse term (phi0 = d/T0 < 1)", T0)
        phi0 = d / T0
        out = out + n * sigma02 / (1 - phi0) * np.maximum(T / T0, phi0) * decay
    return out


@validate(x=RealArray(0, low_open=True, ndim=1), y=RealArray(0, low_open=True, ndim=1))
def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the fitted exponent of a power law."""
    if x.size < 2:
        fail("x", "at least 2 points", x)
    if y.shape != x.shape:
        fail("y", f"of the shape of x, {x.shape}", y)
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
