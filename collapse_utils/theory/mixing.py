"""Closed forms of loops that mix fresh real data into every round (He, Xu & Cheng 2025; Garg, Bhattacharya & Sur 2025).

Round ``t >= 1`` fits a model on two samples: ``n`` fresh real points and ``m = n / k`` points drawn from the model of
round ``t - 1``; round 0 fits the real sample alone. With real weight ``w`` the fit is the convex combination
``theta_t = (1 - w) theta_hat(synthetic) + w theta_hat(real)`` (or, for least squares on a fixed design, the fit to the
mixed labels ``(1 - w) y_syn + w y_real``). For any estimator that is unbiased and whose noise is additive with
variance ``v / sample size``, the error is the AR(1) recursion

    e_t = (1 - w) (e_{t-1} + eps_syn) + w eps_real,   Var(eps_syn) = k v / n,   Var(eps_real) = v / n,

whose stationary mean square is ``(v / n) f_k(w)`` with ``f_k(w) = (k (1 - w)^2 + w^2) / (1 - (1 - w)^2)``. At ``k = 1``
it is smallest at ``w = 1/phi = 0.618...`` (phi the golden ratio), where ``f = 1/phi``: He et al.'s golden-ratio weight.

Also here: the exact stationary error of the sample covariance (whose noise scales with the estimate itself, so the
golden ratio holds only as ``n -> infinity``), the risk of label mixing for least squares and minimum-norm
interpolation on a Gaussian design, and the accumulate loop without fresh data, whose real share falls like ``1/i``.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_utils.validation import Int, IntArray, Real, RealArray, fail, validate

GOLDEN_WEIGHT = (math.sqrt(5.0) - 1.0) / 2.0
"""``1/phi = (sqrt 5 - 1)/2 = 0.6180...``: the optimal real weight at ``k = 1`` and the minimum of ``f_1``."""

_WEIGHTS = RealArray(0.0, 1.0, low_open=True, ndim=None)
_RATIO = Real(0.0, low_open=True)


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


@validate(w=_WEIGHTS, k=_RATIO)
def stationary_error_factor(w, k: float = 1.0):
    """Stationary error of fresh-data mixing in units of one real fit's error ``v / n``.

    Parameters
    ----------
    w
        Real weight(s) in (0, 1] (scalar or array).
    k
        Ratio ``n / m`` of real to synthetic sample sizes (> 0); ``k = 1``: equal sizes.

    Returns
    -------
    float or numpy.ndarray
        ``f_k(w) = (k (1 - w)^2 + w^2) / (1 - (1 - w)^2)``: the fixed point of
        ``E e_t^2 = (1 - w)^2 (E e_{t-1}^2 + k v / n) + w^2 v / n`` divided by ``v / n`` (He, Xu & Cheng 2025, the
        stationary MSE of their weighted estimator; the AR(1) derivation is the book's). ``f_k(1) = 1``.
    """
    q = (1.0 - w) ** 2
    return _out((k * q + w**2) / (1.0 - q))


@validate(k=_RATIO)
def optimal_real_weight(k: float = 1.0) -> float:
    """The real weight minimizing :func:`stationary_error_factor`: ``w*(k) = (sqrt(k^2 + 4k) - k) / 2``.

    Setting the derivative of ``f_k`` to zero gives ``w^2 + k w - k = 0``. At ``k = 1``, ``w* = 1/phi``. The minimum
    value equals ``w*(k)`` itself (He, Xu & Cheng 2025; the same closed form is their code's "optimal weighting").
    """
    return (math.sqrt(k * k + 4.0 * k) - k) / 2.0


@validate(k=_RATIO)
def naive_real_weight(k: float = 1.0) -> float:
    """The real weight of pooling both samples with equal per-point weights: ``n / (n + m) = k / (1 + k)``."""
    return k / (1.0 + k)


@validate(rounds=IntArray(0, ndim=None), w=Real(0.0, 1.0, low_open=True), k=_RATIO)
def mixing_error_path(rounds, w: float, k: float = 1.0):
    """Mean error of round ``t`` in units of ``v / n``, starting from one real fit (error 1 at round 0).

    ``E e_t^2 = f + (1 - w)^{2t} (1 - f)`` with ``f = f_k(w)``: the transient dies like ``(1 - w)^{2t}``, which is why
    the stationary error can be read off after a burn-in (He et al.'s code averages rounds 150 to 199).
    """
    f = stationary_error_factor(w, k)
    return _out(f + (1.0 - w) ** (2.0 * rounds) * (1.0 - f))


@validate(w=Real(0.0, 1.0, low_open=True), n=Int(2), m=Int(2), p=Int(1))
def covariance_stationary_error(w: float, n: int, m: int, p: int) -> float:
    """Exact stationary ``E ||Sigma_t - Sigma||_F^2 / sigma^4`` of the mixed sample covariance, ``Sigma = sigma^2 I_p``.

    ``Sigma_t = (1 - w) S_syn + w S_real`` with unbiased sample covariances (``ddof = 1``) of ``m`` points drawn from
    ``N(., Sigma_{t-1})`` and ``n`` fresh real points. The synthetic noise scales with the estimate itself:
    ``E[||S - V||_F^2 | V] = (tr V^2 + (tr V)^2) / (m - 1)`` and ``Var(tr S | V) = 2 tr V^2 / (m - 1)``, so
    ``a = E||E_t||_F^2`` and ``b = E (tr E_t)^2`` obey a closed 2x2 linear recursion whose fixed point is returned
    (derived by the book for He, Xu & Cheng's covariance estimator). Its minimizer tends to ``1/phi`` only as
    ``n, m -> infinity``.
    """
    q = (1.0 - w) ** 2
    tr2, trsq = float(p), float(p) ** 2  # tr Sigma^2 and (tr Sigma)^2 for Sigma = I_p
    iteration = q * np.array([[1.0 + 1.0 / (m - 1), 1.0 / (m - 1)], [2.0 / (m - 1), 1.0]])
    if np.max(np.abs(np.linalg.eigvals(iteration))) >= 1.0:
        fail("w", f"large enough for the covariance recursion to contract at m = {m} (it diverges)", w)
    rhs = np.array([q * (tr2 + trsq) / (m - 1) + w**2 * (tr2 + trsq) / (n - 1),
                    2.0 * q * tr2 / (m - 1) + 2.0 * w**2 * tr2 / (n - 1)])
    a, _ = np.linalg.solve(np.eye(2) - iteration, rhs)
    return float(a)


@validate(iteration=IntArray(1, ndim=None), n=Int(2), ddof=Int(0, 1))
def accumulate_mean_error(iteration, n: int, ddof: int = 1):
    """Accumulate without fresh data: ``E ||mu_hat_i - mu||^2`` in units of one real fit's error ``tr Sigma / n``.

    Fit ``i`` uses the pool of the real sample and ``i - 1`` synthetic samples, ``n`` points each, so its real share is
    ``1/i``. Merging a sample ``B`` drawn from ``N(mu_i, Sigma_i)`` into the pool of ``i n`` points moves the mean by
    ``(m_B - mu_i) / (i + 1)`` and adds ``S_B + (i / (i + 1)) n (m_B - mu_i)(m_B - mu_i)^T`` to the scatter, whence
    ``r_{i+1} = r_i + s_i / (i + 1)^2`` and ``P_{i+1} = P_i + (n - 1 / (i + 1)) s_i`` (traces relative to
    ``tr Sigma``; ``s_i = P_i / (i n - ddof)``, ``P_1 = n - 1``). With ``ddof = 1`` (the unbiased covariance)
    ``s_i <= 1``, so the error stays below ``pi^2/6`` (the book's derivation, after Gerstgrasser et al. 2024).
    """
    top = int(np.max(iteration))
    r = np.empty(top)
    r[0], scatter = 1.0, n - 1.0
    for i in range(1, top):
        s = scatter / (i * n - ddof)
        r[i] = r[i - 1] + s / (i + 1) ** 2
        scatter += (n - 1.0 / (i + 1)) * s
    return _out(r[iteration - 1])


@validate(w=_WEIGHTS, n=Int(1), p=Int(1), sigma2=Real(0), signal2=Real(0))
def label_mixing_risk(w, n: int, p: int, sigma2: float, signal2: float = 0.0):
    """Stationary ``E ||beta_t - beta||^2`` of minimum-norm least squares on mixed labels, Gaussian design.

    A fixed design ``X`` (``n x p``, rows ``N(0, I_p)``) is relabelled every round with
    ``(1 - w)(X beta_{t-1} + eps_syn) + w (X beta + eps_real)``. The fit ``X^+ y`` is linear in the labels and
    ``X^+ X`` projects onto the row space, so the projected error obeys the AR(1) recursion exactly and the variance is
    ``f_1(w)`` times that of one fit: ``sigma^2 tr (X^T X)^{-1} = sigma^2 p / (n - p - 1)`` for OLS (``n >= p + 2``),
    ``sigma^2 tr (X X^T)^{-1} = sigma^2 n / (p - n - 1)`` for interpolation (``p >= n + 2``), averaged over the
    design. Interpolation adds the bias ``||(I - P) beta||^2``, on average ``signal2 (1 - n / p)`` for a rotation-
    invariant ``beta`` with ``E||beta||^2 = signal2``; it does not depend on ``w``, so the minimizer stays ``1/phi``
    (Garg, Bhattacharya & Sur 2025 state the limit ``1/phi`` for interpolation; the finite-sample form is the book's).
    """
    if n >= p + 2:
        variance, bias = sigma2 * p / (n - p - 1), 0.0
    elif p >= n + 2:
        variance, bias = sigma2 * n / (p - n - 1), signal2 * (1.0 - n / p)
    else:
        fail("n", f"<= p - 2 or >= p + 2 (p = {p}; the mean inverse Wishart is infinite in between)", n)
    return _out(bias + stationary_error_factor(w) * variance)
