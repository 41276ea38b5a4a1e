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

from collapse_utils.validation import Int, IntArray, Optional, Real, RealArray, fail, validate

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


@validate(ell=Real(0), n=Int(0), T0=Int(1), eigs=RealArray(0, low_open=True, ndim=1), w0_sq=RealArray(0),
          sigma2=Real(0), sigma02=Real(0), T_range=IntArray(1, ndim=1))
def u_turn_sample_size(ell: float, n: int, T0: int, eigs, w0_sq, sigma2: float, sigma02: float, *,
                       T_range: tuple[int, int]) -> tuple[int, float]:
    """The learner's sample size at which Corollary 4.4's error under ``lambda = T^-ell`` is smallest, and that error.

    The bottom of the U-turn of Dohmatob et al. (2024), Figure 1b (right): the error of
    :func:`collapse_utils.theory.ridge.collapse_test_error` with ``lambda = T^-ell`` on a geometric grid of 64 sample
    sizes over ``T_range``, then an integer ternary search between the grid neighbours of the smallest value.

    Parameters
    ----------
    ell : float
        Exponent of the penalty rule, >= 0.
    n : int
        Number of generator fits.
    T0 : int
        Generators' sample size (> d).
    eigs, w0_sq : array_like
        Eigenvalues of Sigma and squared coordinates of w0 in its eigenbasis.
    sigma2, sigma02 : float
        Noise variances of the learner and of the generators.
    T_range : tuple of int
        ``(low, high)``, 1 <= low < high: where to search. A minimum at either end raises ValueError.

    Returns
    -------
    T_star, error_star : int, float
    """
    from collapse_utils.theory.ridge import collapse_test_error

    if T_range.size != 2 or T_range[0] >= T_range[1]:
        fail("T_range", "a pair of integers (low, high) with 1 <= low < high", T_range.tolist())
    lo, hi = int(T_range[0]), int(T_range[1])

    def error(T: int) -> float:
        return collapse_test_error(float(T) ** -ell, int(T), n, T0, eigs, w0_sq, sigma2, sigma02)

    grid = np.unique(np.geomspace(lo, hi, 64).round().astype(int))
    i = int(np.argmin([error(T) for T in grid]))
    a, b = int(grid[max(i - 1, 0)]), int(grid[min(i + 1, grid.size - 1)])
    while b - a > 2:  # unimodal between the grid neighbours of the smallest grid value
        m1, m2 = a + (b - a) // 3, b - (b - a) // 3
        if error(m1) <= error(m2):
            b = m2
        else:
            a = m1
    T_star = min(range(a, b + 1), key=error)
    if T_star in (lo, hi):
        raise ValueError(f"T_range must hold the minimum inside it, got {T_range!r}: the error is smallest at T = "
                         f"{T_star}")
    return T_star, error(T_star)


@validate(beta=_BETA, r=_R, a=Real(), b=Real())
def optimal_rate_exponent(beta: float, r: float, a: float, b: float, *, noiseless: bool) -> float:
    """``e`` in "the best test error decays like ``T^-e``" when ``T0 ~ T^b`` and ``n sigma0^2 ~ T^a`` (Dohmatob et al.
    2024, Corollary 5.2 and Appendix G), optimizing the exponent ``ell`` of ``lambda = T^-ell``.

    Both follow from Theorem 5.1 with ``r_ = min(r, 1)``:

    - noiseless learner (``sigma = 0``, Corollary 5.2): ``e = min((b - a) c, 2 beta r_)``. The clean noiseless
      rate is the fast ``2 beta r_``; synthetic data bring the slow ``(b - a) c`` while ``ell_star = (b - a) ell_crit``
      stays below ``beta``: a crossover from fast to slow rates;
    - noisy learner (``sigma > 0``, Appendix G): ``e = min(b - a, 1) c``, the clean rate ``c`` once ``b - a >= 1``.

    Parameters
    ----------
    beta, r : float
        Capacity (> 1) and source (> 0) exponents.
    a, b : float
        Growth exponents of the generators' total noise and sample size, with b > a.
    noiseless : bool
        Whether the learner's labels are noiseless.

    Returns
    -------
    float
    """
    ex = exponents(beta, r)
    if b <= a:
        fail("b", f"> a = {a:g} (the generators' data must outgrow their noise)", b)
    if noiseless:
        return float(min((b - a) * ex.c, 2 * ex.beta * ex.r_under))
    return float(min(b - a, 1.0) * ex.c)


@validate(x=RealArray(0, low_open=True, ndim=1), y=RealArray(0, low_open=True, ndim=1))
def loglog_vertex(x, y) -> float:
    """Where a parabola fitted by least squares to ``log y`` against ``log x`` is lowest (the location of a minimum).

    Parameters
    ----------
    x, y : array_like
        Positive arrays of one shape, at least 3 points.

    Returns
    -------
    float
        ``exp(-c1 / (2 c2))`` for the fit ``log y = c0 + c1 log x + c2 log^2 x``; ValueError if ``c2 <= 0``.
    """
    if x.size < 3:
        fail("x", "at least 3 points", x.tolist())
    if y.shape != x.shape:
        fail("y", f"of the shape of x, {x.shape}", y.tolist())
    c2, c1, _ = np.polyfit(np.log(x), np.log(y), 2)
    if c2 <= 0:
        raise ValueError(f"y must curve upwards in log-log (a minimum); the fitted curvature is {c2:.3g}")
    return float(np.exp(-c1 / (2 * c2)))


@validate(beta=_BETA, r=_R, a=Real(), b=Real(), sigma2=Real(0), Ts=RealArray(1, ndim=1), n_ell=Int(2))
def theorem51_best_exponent(beta: float, r: float, a: float, b: float, *, sigma2: float,
                            Ts=(1e8, 1e11, 1e14), n_ell: int = 400) -> float:
    """The decay exponent of Theorem 5.1's rate at its best ``ell``, when ``T0 = T^b`` and ``n sigma0^2 = T^a``.

    At each ``T`` of ``Ts``, :func:`theorem51_rate` (with ``d = 2``, so that ``T > d`` and ``T0 > d``) is minimized over
    ``n_ell`` values of ``ell`` evenly spaced in ``[0, beta)``; the result is minus the log-log slope of those minima.
    An independent, numerical route to :func:`optimal_rate_exponent` (Corollary 5.2 and Appendix G).
    """
    ex = exponents(beta, r)
    ells = np.linspace(0.0, ex.beta, n_ell + 1)[:-1]
    best = [min(float(theorem51_rate(T, ell, ex.beta, ex.r, n=1, sigma2=sigma2, sigma02=float(T) ** a, T0=T**b, d=2))
                for ell in ells) for T in Ts]
    return -loglog_slope(Ts, best)
