"""Spread of a Gaussian refitted to its own (selected) samples (after Qiao et al. 2026).

Qiao et al.'s loop starts from the true law ``N(mu*, Sigma*)`` itself (iteration 0); iteration ``t`` draws a batch from
the current fit, optionally keeps only part of it, and refits the maximum-likelihood Gaussian (plus ``epsilon I``) on
the newest batch (*replace*) or on every batch so far (*accumulate*). The metric is ``S_t = tr Sigma_t / tr Sigma*``.

Without selection the expected spread is exact (batches of ``N`` points, ``a = (N - 1) / N``, ``eps = epsilon d /
tr Sigma*``):

- replace: ``E S_t = a^t + eps (1 - a^t) / (1 - a)``;
- accumulate: with ``P_t`` the expected pooled scatter (relative to ``tr Sigma*``), merging a batch drawn from the fit
  adds its scatter ``(N - 1) S_t`` and ``(t / (t + 1)) S_t`` for the shift of its mean, so
  ``P_{t+1} = P_t + (N - 1 / (t + 1)) E S_t`` with ``E S_t = P_t / (t N) + eps``; without ``epsilon`` this is
  ``prod_{k <= t} (1 - 1 / (k^2 N))``.

With selection, the same scatter decomposition is an identity for each batch: if the kept batch has spread
``c_t S_{t-1}`` about its own mean and that mean sits ``kappa_t S_{t-1}`` (squared, relative) from the fit's mean, then
under accumulate

    S_t / S_{t-1} = 1 - (1 - c_t) / t + kappa_t (t - 1) / t^2 .

If ``c_t -> c`` and ``kappa_t -> kappa`` settle, ``S_t`` decays like the **power law** ``t^{-(1 - c - kappa)}``; under
replace ``S_t = c_t S_{t-1}`` decays geometrically. A first heuristic takes ``kappa = 0`` and ``c`` from the first step.
These are the book's derivations; Qiao et al. prove power-law decay in their own model.
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Int, IntArray, Real, validate


@validate(t=IntArray(0, ndim=None), n=Int(2), eps=Real(0))
def replace_spread(t, n: int, eps: float = 0.0):
    """``E tr Sigma_t / tr Sigma*`` of the replace loop without selection: ``a^t + eps (1 - a^t)/(1 - a)``."""
    a = (n - 1) / n
    at = a ** t.astype(float)
    out = at + eps * (1.0 - at) / (1.0 - a)
    return float(out) if np.ndim(out) == 0 else out


@validate(t=IntArray(0, ndim=None), n=Int(2), eps=Real(0))
def accumulate_spread(t, n: int, eps: float = 0.0):
    """``E tr Sigma_t / tr Sigma*`` of the accumulate loop without selection (the pooled-scatter recursion)."""
    top = int(np.max(t))
    out = np.empty(top + 1)
    out[0] = 1.0
    scatter = 0.0
    for k in range(1, top + 1):  # batch k is drawn from fit k - 1, whose spread is out[k - 1]
        scatter += (n - 1.0) * out[k - 1] + ((k - 1) / k) * out[k - 1]
        out[k] = scatter / (k * n) + eps
    res = out[t]
    return float(res) if np.ndim(res) == 0 else res


@validate(t=IntArray(0, ndim=None), c=Real(0.0, 1.0), kappa=Real(0))
def accumulate_selection_spread(t, c: float, kappa: float = 0.0):
    """``S_t`` of accumulate with selection if ``c_t = c`` and ``kappa_t = kappa`` for all ``t``:
    ``prod_{j <= t} (1 - (1 - c)/j + kappa (j - 1)/j^2)``."""
    j = np.arange(1, int(np.max(t)) + 1, dtype=float)
    path = np.concatenate([[1.0], np.cumprod(1.0 - (1.0 - c) / j + kappa * (j - 1.0) / j**2)])
    res = path[t]
    return float(res) if np.ndim(res) == 0 else res


@validate(c=Real(0.0, 1.0), kappa=Real(0))
def power_law_exponent(c: float, kappa: float = 0.0) -> float:
    """The exponent of accumulate's decay under selection, ``-(1 - c - kappa)``."""
    return -(1.0 - c - kappa)
