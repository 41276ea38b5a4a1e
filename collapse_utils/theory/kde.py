"""Closed forms of a Gaussian kernel density estimator fed its own samples (Kazdan et al. 2024's KDE setting).

A Gaussian KDE with bandwidth ``h`` samples by picking one of its training points uniformly and adding
``N(0, h^2 I)``. So a point drawn by model ``i`` is a real point plus ``K_i`` independent noise draws, where ``K_i``
counts the sampling steps on its line of ancestors; per coordinate its marginal variance is
``sigma0^2 + h^2 E K_i`` (the noise is independent of the ancestor and of ``K_i``, and has mean 0):

- replace and replace-multiple: every training point of model ``i`` was drawn by model ``i - 1``, so ``K_i = i``:
  ``sigma0^2 + i h^2``, unbounded and linear;
- accumulate and accumulate-subsample: model ``i``'s pick is uniform over the pool of chunks ``0..i-1`` (a uniform
  row of a uniform subsample is a uniform row of the pool), so ``D_i = E K_i = 1 + (1/i) sum_{j<i} D_j``, ``D_0 = 0``,
  whose solution is the harmonic number ``H_i``: ``sigma0^2 + h^2 H_i``, unbounded but logarithmic.

The within-run spread behaves differently from the marginal variance. Under replace the biased variance ``V`` of a
set of ``T`` points drawn from a KDE on a set of variance ``V'`` has ``E[V | V'] = ((T - 1)/T)(V' + h^2)``, so
``E V`` saturates at ``(T - 1) h^2`` while the cloud's centre keeps wandering.
Iterations are counted from 1: model 1 is the KDE on the real data.
"""

from __future__ import annotations

import numpy as np

from collapse_utils.theory.linear import harmonic_number
from collapse_utils.validation import Int, IntArray, OneOf, Real, validate

POLICIES = ("replace", "accumulate", "accumulate-subsample", "replace-multiple")

_ITER = IntArray(0, ndim=None)


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


@validate(iteration=_ITER, sigma0_2=Real(0), h=Real(0))
def replace_marginal_variance(iteration, sigma0_2: float, h: float):
    """``sigma0^2 + i h^2``: marginal variance per coordinate of a point drawn by model ``i`` under replace and
    replace-multiple (``i`` noise draws on top of a real point)."""
    return _out(sigma0_2 + iteration * h**2)


@validate(iteration=_ITER, sigma0_2=Real(0), h=Real(0))
def accumulate_marginal_variance(iteration, sigma0_2: float, h: float):
    """``sigma0^2 + h^2 H_i``: marginal variance per coordinate of a point drawn by model ``i`` under accumulate and
    accumulate-subsample (``H_i`` noise draws on average, ``H_i`` the harmonic number)."""
    return _out(sigma0_2 + h**2 * np.asarray(harmonic_number(iteration)))


@validate(policy=OneOf(*POLICIES), iteration=_ITER, sigma0_2=Real(0), h=Real(0))
def marginal_variance(policy: str, iteration, sigma0_2: float, h: float):
    """Marginal variance per coordinate of a point drawn by model ``i`` under ``policy``, by name."""
    if policy in ("replace", "replace-multiple"):
        return replace_marginal_variance(iteration, sigma0_2, h)
    return accumulate_marginal_variance(iteration, sigma0_2, h)


@validate(iteration=_ITER, T=Int(1), sigma0_2=Real(0), h=Real(0), policy=OneOf("replace", "replace-multiple"))
def replace_spread(iteration, T: int, sigma0_2: float, h: float, policy: str = "replace"):
    """``E V_i``: expected biased variance (per coordinate) of the points drawn by model ``i``, with real data of
    variance ``sigma0^2`` per coordinate (``V_0``: the real data's, ``E V_0 = ((T-1)/T) sigma0^2``).

    A set of ``m`` draws from a KDE on a set of variance ``V'`` has ``E[V | V'] = ((m - 1)/m)(V' + h^2)``: the KDE's
    variance is ``V' + h^2`` and ``m`` iid draws have biased variance ``(m-1)/m`` of it. Replace (``m = T``):
    ``E V_i = (T - 1) h^2 + a^i (E V_0 - (T - 1) h^2)``, ``a = (T - 1)/T``, which saturates at ``(T - 1) h^2``.
    Replace-multiple (model ``i`` draws ``m = (i + 1) T``): the same recursion with growing ``m``, which does not
    saturate (the factor ``(m - 1)/m`` tends to 1).
    """
    top = int(iteration.max())
    v = (T - 1.0) / T * sigma0_2
    values = [v]
    for i in range(1, top + 1):
        m = (i + 1) * T if policy == "replace-multiple" else T
        v = (m - 1.0) / m * (v + h**2)
        values.append(v)
    return _out(np.asarray(values)[iteration])
