"""Closed forms of strong model collapse in the simplest case (Dohmatob, Feng, Subramonian & Kempe 2025).

One least-squares fit (no loop) on ``n`` points, a fraction ``p`` of them synthetic: ``n_1 = (1 - p) n`` real points
``y = x^T w_1 + eps`` and ``n_2 = p n`` synthetic points ``y = x^T w_2 + eps`` from a generator that is off by
``Delta = w_2 - w_1``; ``x ~ N(0, I_d)``, ``eps ~ N(0, sigma^2)``, the test error ``||w_hat - w_1||^2`` is measured on
the real law. With ``G_k = X_k^T X_k`` and ``G = G_1 + G_2``,

    w_hat - w_1 = G^{-1} G_2 Delta + G^{-1} X^T eps = p Delta + G^{-1} (G_2 - p G) Delta + G^{-1} X^T eps,

where ``G_2 - p G = sum_i c_i x_i x_i^T`` has mean zero (``c_i = 1 - p`` on synthetic rows, ``-p`` on real rows) and
``sum_i c_i^2 = n p (1 - p)``. Hence the error tends to the **floor** ``p^2 ||Delta||^2`` as ``n -> infinity``,
whatever the amount of data, and at finite ``n``

    E ||w_hat - w_1||^2 ~= sigma^2 d / (n - d - 1) + ||Delta||^2 [p^2 + p (1 - p) (d + 2) / (n - d - 1)]

(the noise term is exact, ``E (X^T X)^{-1} = I / (n - d - 1)``; the second uses ``E[(x^T Delta)^2 x x^T] =
||Delta||^2 I + 2 Delta Delta^T`` and is exact to leading order in ``1 / n``). These are the book's derivations for the
isotropic case; the paper's general theory (and its random-projection model) is not implemented here.
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Int, Real, RealArray, fail, validate

_P = Real(0.0, 1.0)


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


@validate(p=_P, delta_norm2=Real(0))
def floor(p: float, delta_norm2: float) -> float:
    """The limit of the mixed least-squares error as ``n -> infinity``: ``p^2 ||Delta||^2``."""
    return p * p * delta_norm2


def _decaying(d, p, delta_norm2, sigma2):
    return sigma2 * d + p * (1.0 - p) * (d + 2) * delta_norm2


@validate(n=RealArray(0, ndim=None), d=Int(1), p=_P, delta_norm2=Real(0), sigma2=Real(0))
def mixed_ols_error(n, d: int, p: float, delta_norm2: float, sigma2: float):
    """``E ||w_hat - w_1||^2`` of least squares on ``n`` points, a fraction ``p`` from a generator off by ``Delta``.

    ``sigma^2 d / (n - d - 1) + ||Delta||^2 [p^2 + p (1 - p)(d + 2) / (n - d - 1)]`` for ``n >= d + 2`` (module
    docstring). At ``p = 0`` it is the exact clean error ``sigma^2 d / (n - d - 1)``: a scaling law with exponent -1.
    """
    if np.any(n < d + 2):
        fail("n", f">= d + 2 = {d + 2} everywhere (the mean of an inverse Wishart matrix exists only then)", n)
    return _out(p * p * delta_norm2 + _decaying(d, p, delta_norm2, sigma2) / (n - d - 1.0))


@validate(n=RealArray(0, ndim=None), d=Int(1), p=_P, delta_norm2=Real(0), sigma2=Real(0))
def mixed_ols_slope(n, d: int, p: float, delta_norm2: float, sigma2: float):
    """Local scaling exponent ``d log E / d log n`` of :func:`mixed_ols_error`: -1 at small ``n``, 0 at the floor.

    ``-(n A / (n - d - 1)^2) / E(n)`` with ``A = sigma^2 d + p (1 - p)(d + 2) ||Delta||^2``.
    """
    error = mixed_ols_error(n, d, p, delta_norm2, sigma2)
    return _out(-n * _decaying(d, p, delta_norm2, sigma2) / (n - d - 1.0) ** 2 / error)


@validate(d=Int(1), p=Real(0.0, 1.0, low_open=True), delta_norm2=Real(0.0, low_open=True), sigma2=Real(0))
def crossover_sample_size(d: int, p: float, delta_norm2: float, sigma2: float) -> float:
    """The ``n`` at which the decaying part of :func:`mixed_ols_error` equals the floor; beyond it more data stops
    helping: ``n* = d + 1 + (sigma^2 d + p (1 - p)(d + 2) ||Delta||^2) / (p^2 ||Delta||^2)``."""
    return d + 1.0 + _decaying(d, p, delta_norm2, sigma2) / (p * p * delta_norm2)
