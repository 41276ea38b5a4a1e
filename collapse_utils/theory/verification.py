"""Closed forms of verifier-filtered retraining in linear regression (after Yi, Liu, Cheng & Xu 2026).

Model: ``y = x^T theta* + xi`` with ``x ~ N(0, I_d)`` and ``xi ~ N(0, sigma^2)``. Round 0 fits OLS on real data; round
``k`` labels ``N`` fresh inputs with the previous fit plus noise, keeps a point only if the verifier accepts it, and
refits OLS on the kept points. The verifier has a *knowledge center* ``theta_c`` and accepts ``(x, y)`` iff some
``theta`` in the ball ``B(theta_c, r)`` explains ``y`` within ``sigma_c``, i.e. iff

    |y - x^T theta_c| <= r ||x|| + sigma_c                      (Cauchy-Schwarz: max over the ball of x^T theta).

The radius ``r`` is its selectivity and ``sigma_c`` its noise allowance (the authors' simulation code uses
``sigma_c = sigma sqrt(2/pi) = E|xi|``). Write ``delta = theta_hat - theta_c``, ``s = ||delta||``.

**Population map.** With ``N -> infinity`` the next fit is ``theta_c + H(delta)``; by isotropy
``H(delta) = h(s) delta / s`` with ``h(s) = E[x_1 g] / E[x_1^2 P]``, where ``x_1`` is the coordinate of ``x`` along
``delta``, ``z = x_1 s + xi`` is the label's offset from the verifier's prediction, ``tau = r ||x|| + sigma_c``,
``P = P(|z| <= tau | x)`` and ``g = E[z 1{|z| <= tau} | x]``. The expectations over ``x_1 ~ N(0, 1)`` and
``||x_perp||^2 ~ chi^2_{d-1}`` are computed by Gauss quadrature. At ``delta = 0`` the kept labels are symmetric about
``x^T theta_c``, so ``theta_c`` is a fixed point.

**Contraction.** ``rho = h'(0) = 1 - 2 E[x_1^2 u phi(u)] / E[x_1^2 P_0(u)]`` with ``u = tau / sigma`` and
``P_0(u) = 2 Phi(u) - 1``: truncating the noise pulls every fit toward ``theta_c``. Near the fixed point each round adds
independent noise of trace ``v(s) / N`` (the OLS sandwich on the kept points), so with ``e_0 = E||theta_hat_0 -
theta*||^2`` and ``Delta = ||theta_c - theta*||`` the linearised error is

    E ||theta_hat_k - theta*||^2 ~= Delta^2 (1 - rho^k)^2 + rho^{2k} e_0 + v (1 - rho^{2k}) / (1 - rho^2),

whose limit ``Delta^2 + v / (1 - rho^2)`` does not depend on how fast ``rho^k`` dies: the radius sets the speed, the
center the limit. Since ``h(s) / s <= rho`` wherever it is checked, the contraction bound

    E ||theta_hat_k - theta_c||^2 <= rho_bar^{2k} E ||theta_hat_0 - theta_c||^2 + v_bar sum_{j<k} rho_bar^{2j}

holds with ``rho_bar = sup h(s)/s`` and ``v_bar = sup v(s)``: a contraction toward ``theta_c`` plus accumulated round
noise, the book's counterpart of the paper's Theorem 4.1 (whose form and constants were not available to the book).
Everything in this module is the book's derivation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import ndtr, roots_genlaguerre, roots_hermitenorm

from collapse_utils.validation import Int, IntArray, Real, RealArray, validate

_N_HERMITE, _N_LAGUERRE = 96, 64
_VERIFIER = {"r": Real(0), "sigma_c": Real(0), "sigma": Real(0.0, low_open=True), "d": Int(1)}


@lru_cache(maxsize=16)
def _nodes(d: int):
    """Quadrature nodes and weights for ``x_1 ~ N(0, 1)`` (rows) and ``q = ||x_perp||^2 ~ chi^2_{d-1}`` (columns)."""
    x, wx = roots_hermitenorm(_N_HERMITE)
    if d == 1:
        q, wq = np.zeros(1), np.ones(1)
    else:
        u, wq = roots_genlaguerre(_N_LAGUERRE, (d - 1) / 2.0 - 1.0)  # chi^2_{d-1} = 2 Gamma((d-1)/2, 1)
        q = 2.0 * u
    return x[:, None], q[None, :], (wx / wx.sum())[:, None] * (wq / wq.sum())[None, :]


def _phi(t):
    return np.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)


def _moments(s: float, r: float, sigma_c: float, sigma: float, d: int) -> dict:
    """Quadrature of the population quantities at ``||delta|| = s``."""
    x, q, w = _nodes(d)
    tau = r * np.sqrt(x * x + q) + sigma_c
    mu = x * s
    a, b = (-tau - mu) / sigma, (tau - mu) / sigma
    P = ndtr(b) - ndtr(a)
    g = mu * P + sigma * (_phi(a) - _phi(b))  # E[z 1{|z| <= tau} | x]
    ez2 = (mu * mu + sigma**2) * P + 2.0 * mu * sigma * (_phi(a) - _phi(b)) + sigma**2 * (a * _phi(a) - b * _phi(b))
    h = float(np.sum(w * x * g) / np.sum(w * x * x * P))
    resid2 = ez2 - 2.0 * (x * h) * g + (x * h) ** 2 * P  # E[(z - x_1 h)^2 1{kept} | x]
    out = {"accept": float(np.sum(w * P)), "h": h,
           "noise_par": float(np.sum(w * x * x * resid2) / np.sum(w * x * x * P) ** 2)}
    if d > 1:
        q1 = q / (d - 1)  # E[x_j^2 | q] for one of the d - 1 orthogonal coordinates
        out["noise_perp"] = float((d - 1) * np.sum(w * q1 * resid2) / np.sum(w * q1 * P) ** 2)
    else:
        out["noise_perp"] = 0.0
    return out


@validate(s=Real(0), **_VERIFIER)
def acceptance_rate(s: float, r: float, sigma_c: float, sigma: float, d: int) -> float:
    """Population share of synthetic points the verifier keeps when ``||theta_hat - theta_c|| = s``."""
    return _moments(s, r, sigma_c, sigma, d)["accept"]


@validate(s=RealArray(0, ndim=None), **_VERIFIER)
def contraction_map(s, r: float, sigma_c: float, sigma: float, d: int):
    """``h(s)``: the distance to ``theta_c`` of the next population fit when the current one is at distance ``s``."""
    out = np.array([_moments(float(v), r, sigma_c, sigma, d)["h"] for v in np.ravel(s)]).reshape(np.shape(s))
    return float(out) if out.ndim == 0 else out


@validate(**_VERIFIER)
def contraction_factor(r: float, sigma_c: float, sigma: float, d: int) -> float:
    """``rho = h'(0) = 1 - 2 E[x_1^2 u phi(u)] / E[x_1^2 P_0(u)]``, ``u = (r ||x|| + sigma_c) / sigma``."""
    x, q, w = _nodes(d)
    u = (r * np.sqrt(x * x + q) + sigma_c) / sigma
    return float(1.0 - 2.0 * np.sum(w * x * x * u * _phi(u)) / np.sum(w * x * x * (2.0 * ndtr(u) - 1.0)))


@validate(s=Real(0), n_synthetic=Int(1), **_VERIFIER)
def round_noise(s: float, r: float, sigma_c: float, sigma: float, d: int, n_synthetic: int) -> float:
    """Trace of the covariance one round adds around the population fit at distance ``s`` (OLS sandwich on the kept
    points, ``n_synthetic`` synthetic points per round). At ``s = 0`` it equals ``d sigma^2 rho / (N E[x_1^2 P_0])``."""
    m = _moments(s, r, sigma_c, sigma, d)
    return (m["noise_par"] + m["noise_perp"]) / n_synthetic


@validate(delta=Real(0), n_synthetic=Int(1), **_VERIFIER)
def limit_error(delta: float, r: float, sigma_c: float, sigma: float, d: int, n_synthetic: int) -> float:
    """The long-run ``E ||theta_hat_k - theta*||^2``: ``Delta^2 + v / (1 - rho^2)`` (``v`` at the fixed point)."""
    rho = contraction_factor(r, sigma_c, sigma, d)
    return delta**2 + round_noise(0.0, r, sigma_c, sigma, d, n_synthetic) / (1.0 - rho**2)


@validate(rounds=IntArray(0, ndim=None), delta=Real(0), e0=Real(0), n_synthetic=Int(1), **_VERIFIER)
def linearised_error(rounds, delta: float, e0: float, r: float, sigma_c: float, sigma: float, d: int,
                     n_synthetic: int):
    """``E ||theta_hat_k - theta*||^2 ~= Delta^2 (1 - rho^k)^2 + rho^{2k} e_0 + v (1 - rho^{2k}) / (1 - rho^2)``.

    Exact for the map linearised at ``theta_c`` (module docstring); accurate once ``theta_hat`` is near ``theta_c``.
    """
    rho = contraction_factor(r, sigma_c, sigma, d)
    v = round_noise(0.0, r, sigma_c, sigma, d, n_synthetic)
    rk = rho ** rounds.astype(float)
    out = delta**2 * (1.0 - rk) ** 2 + rk**2 * e0 + v * (1.0 - rk**2) / (1.0 - rho**2)
    return float(out) if np.ndim(out) == 0 else out


@validate(rounds=IntArray(0, ndim=None), start=Real(0), n_synthetic=Int(1), s_max=Real(0.0, low_open=True),
          **_VERIFIER)
def contraction_bound(rounds, start: float, r: float, sigma_c: float, sigma: float, d: int, n_synthetic: int,
                      s_max: float):
    """Contraction bound on ``E ||theta_hat_k - theta_c||^2`` (the book's counterpart of Yi et al.'s Theorem 4.1).

    ``rho_bar^{2k} start + v_bar (1 - rho_bar^{2k}) / (1 - rho_bar^2)`` with ``start = E ||theta_hat_0 - theta_c||^2``,
    ``rho_bar = max h(s)/s`` and ``v_bar = max v(s)`` over ``s`` in ``(0, s_max]`` (a grid of 60 points, and ``rho`` at
    ``s -> 0``). Returns ``(bound, rho_bar, v_bar)``.
    """
    grid = np.linspace(s_max / 60.0, s_max, 60)
    rho_bar = max(contraction_factor(r, sigma_c, sigma, d), float(np.max(contraction_map(grid, r, sigma_c, sigma, d)
                                                                         / grid)))
    v_bar = max(round_noise(float(s), r, sigma_c, sigma, d, n_synthetic) for s in np.concatenate([[0.0], grid]))
    rk2 = rho_bar ** (2.0 * rounds.astype(float))
    bound = rk2 * start + v_bar * (1.0 - rk2) / (1.0 - rho_bar**2)
    return (float(bound) if np.ndim(bound) == 0 else bound), rho_bar, v_bar


@validate(rounds=IntArray(0, ndim=None), delta=Real(0), **_VERIFIER)
def population_path(rounds, delta: float, r: float, sigma_c: float, sigma: float, d: int):
    """``||theta_hat_k - theta*||^2`` of the population loop started at the truth: ``(Delta - s_k)^2`` with
    ``s_0 = Delta`` and ``s_k = h(s_{k-1})`` (infinitely many real and synthetic points)."""
    top = int(np.max(rounds))
    s = np.empty(top + 1)
    s[0] = delta
    for k in range(1, top + 1):
        s[k] = contraction_map(s[k - 1], r, sigma_c, sigma, d) if s[k - 1] > 0 else 0.0
    out = (delta - s[rounds]) ** 2
    return float(out) if np.ndim(out) == 0 else out
