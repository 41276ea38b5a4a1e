"""Closed forms of the linear-regression feedback loop of Gerstgrasser et al. (2024), Theorems 1-2.

Setting (reference ``accumulate-vs-replace.md`` §2): fixed Gaussian design ``X`` (T x d, rows ~ N(0, I_d)),
truth ``w*``, fresh label noise ``E_i ~ N(0, sigma^2 I_T)`` at every iteration, ordinary least squares.
Iteration 1 fits ``Y_1 = X w* + E_1``; iteration i fits labels ``Y_i = X w_hat_{i-1} + E_i`` made by the
previous model (replace), or all label sets so far (accumulate). The test error is
``E[(x^T w_hat_i - x^T w*)^2]`` for a fresh ``x ~ N(0, I_d)`` with no test noise, averaged over the design.

With ``E[(X^T X)^{-1}] = I_d / (T - d - 1)`` (mean of an inverse Wishart, finite for T >= d + 2):

- replace:    ``E_test(i) = sigma^2 d i / (T - d - 1)``                      (linear in i, unbounded)
- accumulate: ``E_test(i) = sigma^2 d / (T - d - 1) * sum_{j<=i} 1/j^2``     (<= pi^2/6 times the first)

Iterations are counted from 1 (iteration 1 = fit on real data only), the book's convention and the paper's.
Used by ``notebooks/linear_regression.ipynb``.
"""

from __future__ import annotations

import numpy as np

BASEL_LIMIT = np.pi**2 / 6
"""sum_{j>=1} 1/j^2 = pi^2/6 (the Basel problem): the accumulate error never exceeds this many first errors."""


def _as_iterations(iteration) -> np.ndarray:
    arr = np.asarray(iteration)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise ValueError(f"iteration must hold integers >= 1, got {iteration!r}")
        arr = arr.astype(np.int64)
    if arr.size and arr.min() < 1:
        raise ValueError(f"iteration must hold integers >= 1 (iteration 1 fits the real data), got min {arr.min()}")
    return arr


def _check_noise(sigma2) -> float:
    if isinstance(sigma2, bool) or not np.isscalar(sigma2) or not np.isfinite(sigma2) or sigma2 < 0:
        raise ValueError(f"sigma2 (label-noise variance) must be a finite number >= 0, got {sigma2!r}")
    return float(sigma2)


def _check_design(d, T) -> tuple[int, int]:
    for name, value in (("d", d), ("T", T)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if T < d + 2:
        raise ValueError(
            f"the closed form needs T >= d + 2, got T={T}, d={d}: E[(X^T X)^-1] = I/(T-d-1) "
            "(the mean of an inverse Wishart matrix) exists only for T >= d + 2"
        )
    return int(d), int(T)


def basel_partial_sum(n) -> np.ndarray | float:
    """``sum_{j=1}^{n} 1/j^2`` for integer ``n >= 0`` (scalar or array); 0 for n = 0.

    Computed by one cumulative sum over a table up to ``max(n)``; exact to float rounding (relative 1e-15).
    """
    arr = np.asarray(n)
    if arr.size == 0:
        return arr.astype(float)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0:
        raise ValueError(f"n must hold integers >= 0, got {n!r}")
    top = int(arr.max())
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1, dtype=float) ** 2)])
    out = table[arr]
    return float(out) if out.ndim == 0 else out


def ols_test_error(d: int, T: int, sigma2: float) -> float:
    """Test error of one OLS fit on T Gaussian rows: ``sigma^2 d / (T - d - 1)`` (iteration 1 of both chains)."""
    d, T = _check_design(d, T)
    return _check_noise(sigma2) * d / (T - d - 1)


def replace_test_error(iteration, d: int, T: int, sigma2: float):
    """Replace: ``sigma^2 d i / (T - d - 1)`` at iteration ``i`` (Gerstgrasser et al. 2024, Theorem 1).

    The error of model i is the sum of i independent OLS noise terms: a random walk, linear in i.
    """
    base = ols_test_error(d, T, sigma2)
    out = base * _as_iterations(iteration)
    return float(out) if np.ndim(out) == 0 else out


def accumulate_test_error(iteration, d: int, T: int, sigma2: float):
    """Accumulate: ``sigma^2 d / (T - d - 1) * sum_{j<=i} 1/j^2`` (Gerstgrasser et al. 2024, Theorem 2).

    Model i is the running average of the chunk fits, ``w_hat_i = w_hat_{i-1} + X^+ E_i / i``; the
    variances add with weights 1/j^2 and stay below pi^2/6 times the first error.
    """
    base = ols_test_error(d, T, sigma2)
    out = base * basel_partial_sum(_as_iterations(iteration))
    return float(out) if np.ndim(out) == 0 else out


def accumulate_error_bound(d: int, T: int, sigma2: float) -> float:
    """Upper bound of the accumulate error over all iterations: ``sigma^2 d / (T - d - 1) * pi^2/6``."""
    return ols_test_error(d, T, sigma2) * BASEL_LIMIT


def replace_to_accumulate_ratio(iteration):
    """``i / sum_{j<=i} 1/j^2``: how many times larger the replace error is (independent of d, T, sigma^2)."""
    it = _as_iterations(iteration)
    out = it / basel_partial_sum(it)
    return float(out) if np.ndim(out) == 0 else out
