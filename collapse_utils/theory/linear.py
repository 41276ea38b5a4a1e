"""Closed forms of the linear-regression feedback loop (fixed Gaussian design, OLS, fresh noise every iteration).

Setting: a design ``X`` (T x d, rows ~ N(0, I_d)) reused by every iteration, truth ``w*``, label noise
``E_i ~ N(0, sigma^2 I_T)``. Iteration 1 fits ``Y_1 = X w* + E_1``; iteration i fits labels made by model i-1. The
test error is ``E||w_hat_i - w*||^2`` (a fresh ``x ~ N(0, I_d)``, no test noise), averaged over the design with
``E[(X^T X)^{-1}] = I_d / (T - d - 1)`` (finite for T >= d + 2). With ``e_1 = sigma^2 d / (T - d - 1)``:

- replace:           ``e_1 i``                    (Dohmatob et al. 2024's random walk, restated by Gerstgrasser et al.)
- accumulate:        ``e_1 sum_{j<=i} 1/j^2``     (Gerstgrasser et al. 2024, Theorems 1-2; below ``e_1 pi^2/6``)
- replace-multiple:  ``e_1 sum_{j<=i} 1/j = e_1 H_i``   (iteration j fits j stacked copies of X with fresh noise)

Iterations are counted from 1 (iteration 1 = fit on real data only).
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Int, IntArray, Real, fail, validate

BASEL_LIMIT = np.pi**2 / 6
"""sum_{j>=1} 1/j^2 = pi^2/6 (the Basel problem): the accumulate error never exceeds this many first errors."""

_ITER = IntArray(1, ndim=None)
_DESIGN = {"d": Int(1), "T": Int(1), "sigma2": Real(0)}


def _partial_sums(n: np.ndarray, power: int) -> np.ndarray | float:
    top = int(n.max()) if n.size else 0
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1, dtype=float) ** power)])
    out = table[n]
    return float(out) if np.ndim(out) == 0 else out


@validate(n=IntArray(0, ndim=None))
def basel_partial_sum(n) -> np.ndarray | float:
    """``sum_{j=1}^{n} 1/j^2`` for integers ``n >= 0`` (scalar or array; 0 for n = 0)."""
    return _partial_sums(n, 2)


@validate(n=IntArray(0, ndim=None))
def harmonic_number(n) -> np.ndarray | float:
    """``H_n = sum_{j=1}^{n} 1/j`` for integers ``n >= 0`` (scalar or array; 0 for n = 0); grows like ``ln n``."""
    return _partial_sums(n, 1)


@validate(**_DESIGN)
def ols_test_error(d: int, T: int, sigma2: float) -> float:
    """Test error of one OLS fit on T Gaussian rows, ``e_1 = sigma^2 d / (T - d - 1)`` (iteration 1 of every chain)."""
    if T < d + 2:
        fail("T", f">= d + 2 = {d + 2} (the mean of an inverse Wishart matrix, E[(X^T X)^-1] = I/(T-d-1), exists "
                  f"only then)", T)
    return sigma2 * d / (T - d - 1)


@validate(iteration=_ITER)
def replace_test_error(iteration, d: int, T: int, sigma2: float):
    """Replace: ``e_1 i``. Model i is ``w* + sum_{j<=i} X^+ E_j``: a random walk, linear in i."""
    out = ols_test_error(d, T, sigma2) * iteration
    return float(out) if np.ndim(out) == 0 else out


@validate(iteration=_ITER)
def accumulate_test_error(iteration, d: int, T: int, sigma2: float):
    """Accumulate: ``e_1 sum_{j<=i} 1/j^2``. Model i is the running mean of the chunk fits,
    ``w_hat_i = w_hat_{i-1} + X^+ E_i / i``, so the steps' variances add with weights 1/j^2."""
    return ols_test_error(d, T, sigma2) * basel_partial_sum(iteration)


@validate(iteration=_ITER)
def replace_multiple_test_error(iteration, d: int, T: int, sigma2: float):
    """Replace-multiple: ``e_1 H_i``. Iteration j fits j copies of X labelled by model j-1 with fresh noise, i.e.
    ``w_hat_j = w_hat_{j-1} + X^+ mean_k E_{j,k}``: the step of iteration j has 1/j of replace's variance."""
    return ols_test_error(d, T, sigma2) * harmonic_number(iteration)


@validate(iteration=_ITER)
def replace_to_accumulate_ratio(iteration):
    """``i / sum_{j<=i} 1/j^2``: how many times larger the replace error is (independent of d, T, sigma^2)."""
    out = iteration / basel_partial_sum(iteration)
    return float(out) if np.ndim(out) == 0 else out


TEST_ERRORS = {"replace": replace_test_error, "accumulate": accumulate_test_error,
               "replace-multiple": replace_multiple_test_error}
"""The closed form of each policy that has one, by policy name (accumulate-subsample has none)."""
