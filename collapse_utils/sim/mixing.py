"""Monte-Carlo loops that mix fresh real data into every round (He, Xu & Cheng 2025; Garg, Bhattacharya & Sur 2025).

How round ``t``'s training set is built is the loop's data policy, read from :func:`collapse_utils.policies.rule`,
plus one parameter, the **real weight** ``w`` of a fresh real sample:

=================  ===============  ===============================================================================
policy             real weights     training set of round ``t >= 1``
=================  ===============  ===============================================================================
``replace``        ``w`` in (0, 1]  fresh real sample (weight ``w``) and the newest synthetic sample (``1 - w``):
                                    He et al.'s scheme
``replace``        ``None``         the newest synthetic sample alone: the replace chain
``accumulate``     ``None``         the pool of the real sample and every synthetic sample, equal weight per point:
                                    the real share is ``1/i`` at fit ``i``
=================  ===============  ===============================================================================

Other policies raise :class:`~collapse_utils.policies.PolicyNotImplementedError`. Round 0 fits ``n`` real points.

Sampling is exact in law and cheap: a Gaussian sample enters the fits only through its mean and scatter matrix, which
are drawn directly (mean ``N(mu, Sigma / m)``, scatter ``L A A^T L^T`` with ``A`` a Bartlett factor of
``Wishart(I, m - 1)``); for regression on a random design the pair ``(X^T X, X^T eps)`` is drawn the same way.
``tests/unit/test_sim_mixing.py`` compares every simulator with a slow one that draws the points themselves. All real
weights of one run share its random draws (common random numbers), so the curves over ``w`` are smooth and their
differences precise. The draws of all runs come from one stream, so they depend on ``n_runs``. Nothing here uses the
closed forms of :mod:`collapse_utils.theory.mixing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.validation import Int, Optional, Real, RealArray, fail, validate


@dataclass(frozen=True)
class MixingErrors:
    """One error metric of a mixing simulation, for every real weight.

    ``stationary[r, j]``: run ``r``'s error at weight ``j`` averaged over rounds ``burn_in .. n_rounds - 1`` (He et
    al.'s summary of a run); ``path_mean[j, t]`` / ``path_sem[j, t]``: the error of round ``t`` averaged over runs and
    its standard error; ``unit``: the error of one fit on ``n`` real points, to express errors in units of it.
    Without real weights (replace, accumulate) ``real_weights`` is ``None`` and the weight axis has length 1.
    """

    real_weights: np.ndarray | None
    stationary: np.ndarray
    path_mean: np.ndarray
    path_sem: np.ndarray
    unit: float

    def mean(self) -> np.ndarray:
        """Stationary error averaged over runs, one value per weight."""
        return self.stationary.mean(axis=0)

    def sem(self) -> np.ndarray:
        """Standard error of :meth:`mean` (runs are independent)."""
        return self.stationary.std(axis=0, ddof=1) / np.sqrt(self.stationary.shape[0])


def wishart_factor(rng: np.random.Generator, shape: tuple, p: int, dof: int) -> np.ndarray:
    """Lower-triangular ``A`` (``shape + (p, p)``) with ``A A^T ~ Wishart_p(I, dof)`` (Bartlett; needs dof >= p)."""
    if dof < p:
        raise ValueError(f"the Bartlett decomposition needs dof >= p, got dof={dof}, p={p}")
    A = np.zeros((*shape, p, p))
    k = np.arange(p)
    A[..., k, k] = np.sqrt(rng.chisquare(dof - k, size=(*shape, p)))
    rows, cols = np.tril_indices(p, -1)
    A[..., rows, cols] = rng.standard_normal((*shape, rows.size))
    return A


def _outer(a: np.ndarray) -> np.ndarray:
    return a[..., :, None] * a[..., None, :]


def _matvec(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (M @ v[..., None])[..., 0]


def _loop(policy, real_weights, where: str) -> str:
    """``"fresh"``, ``"replace"`` or ``"accumulate"``: what the simulators do for ``policy`` and the weights."""
    how = rule(policy, where)
    if how.subsample or how.sample_multiple:
        raise PolicyNotImplementedError(DataPolicy.parse(policy), where)
    if how.trains_on == "newest":
        return "replace" if real_weights is None else "fresh"
    if real_weights is not None:
        fail("real_weights", "None for accumulate (its real share is 1/i by construction)", real_weights)
    return "accumulate"


class _Recorder:
    """Collects per-round means and standard errors, and each run's average over the stationary rounds."""

    def __init__(self, n_runs: int, n_weights: int, n_rounds: int, burn_in: int):
        self.mean = np.zeros((n_weights, n_rounds))
        self.sem = np.zeros((n_weights, n_rounds))
        self.stationary = np.zeros((n_runs, n_weights))
        self.burn_in, self.n_rounds = burn_in, n_rounds

    def add(self, t: int, errors: np.ndarray) -> None:  # errors: (runs, weights)
        self.mean[:, t] = errors.mean(axis=0)
        self.sem[:, t] = errors.std(axis=0, ddof=1) / np.sqrt(errors.shape[0])
        if t >= self.burn_in:
            self.stationary += errors / (self.n_rounds - self.burn_in)

    def result(self, weights, unit: float) -> MixingErrors:
        return MixingErrors(weights, self.stationary, self.mean, self.sem, float(unit))


_COMMON = {"n_rounds": Int(2), "n_runs": Int(2), "seed": Int(0), "synthetic_ratio": Real(0.0, low_open=True),
           "real_weights": Optional(RealArray(0.0, 1.0, low_open=True, ndim=1))}


def _check_rounds(burn_in: int, n_rounds: int) -> None:
    if not 0 <= burn_in < n_rounds:
        fail("burn_in", f"an integer in [0, n_rounds - 1] = [0, {n_rounds - 1}]", burn_in)


@validate(n=Int(2), p=Int(1), burn_in=Int(0), **_COMMON)
def simulate_gaussian_mixing(policy: DataPolicy | str, real_weights=None, *, n: int, p: int, n_rounds: int,
                             burn_in: int, n_runs: int, seed: int, synthetic_ratio: float = 1.0):
    """Fit a Gaussian ``N(mu, Sigma)`` (sample mean, unbiased sample covariance) in a loop; truth ``N(0, I_p)``.

    Parameters
    ----------
    policy
        ``replace`` (with ``real_weights``: He et al.'s fresh-data mixing; without: the replace chain) or
        ``accumulate`` (without ``real_weights``); see the module docstring.
    real_weights
        1-D array of real weights in (0, 1], or ``None``.
    n, p
        Real sample size per round and dimension; synthetic samples have ``m = round(n / synthetic_ratio)`` points.
    n_rounds, burn_in
        Rounds ``0 .. n_rounds - 1`` are simulated; stationary errors average rounds ``burn_in ..``.
    n_runs, seed
        Independent runs and the root seed.
    synthetic_ratio
        ``k = n / m`` (He et al.'s notation); 1 by default.

    Returns
    -------
    dict
        ``{"mean": MixingErrors, "covariance": MixingErrors}``: ``||mu_t - mu||^2`` (unit ``p / n``) and
        ``||Sigma_t - Sigma||_F^2`` (unit ``(p + p^2) / (n - 1)``, one real covariance's error).
    """
    _check_rounds(burn_in, n_rounds)
    loop = _loop(policy, real_weights, "collapse_utils.sim.mixing.simulate_gaussian_mixing")
    m = max(round(n / synthetic_ratio), p + 1)
    weights = None if real_weights is None else np.asarray(real_weights, dtype=float)
    n_w = 1 if weights is None else weights.size
    w = np.ones((1, n_w, 1)) if weights is None else weights[None, :, None]
    rng = np.random.default_rng(seed)
    eye = np.eye(p)

    def real_sample(shape):
        mean = rng.standard_normal((*shape, p)) / np.sqrt(n)
        A = wishart_factor(rng, shape, p, n - 1)
        return mean, A @ np.swapaxes(A, -1, -2)  # mean and scatter of n points of N(0, I)

    mean, scatter = real_sample((n_runs, 1))
    mean = np.broadcast_to(mean, (n_runs, n_w, p)).copy()
    cov = np.broadcast_to(scatter / (n - 1), (n_runs, n_w, p, p)).copy()
    pool_mean, pool_scatter, pool_size = mean.copy(), scatter * np.ones((1, n_w, 1, 1)), n
    rec = {k: _Recorder(n_runs, n_w, n_rounds, burn_in) for k in ("mean", "covariance")}

    def record(t):
        rec["mean"].add(t, np.sum(mean**2, axis=-1))
        rec["covariance"].add(t, np.sum((cov - eye) ** 2, axis=(-2, -1)))

    record(0)
    for t in range(1, n_rounds):
        L = np.linalg.cholesky(cov)
        z = rng.standard_normal((n_runs, 1, p))
        B = wishart_factor(rng, (n_runs, 1), p, m - 1)
        syn_mean = mean + _matvec(L, z) / np.sqrt(m)
        LB = L @ B
        syn_scatter = LB @ np.swapaxes(LB, -1, -2)
        if loop == "fresh":
            real_mean, real_scatter = real_sample((n_runs, 1))
            mean = (1.0 - w) * syn_mean + w * real_mean
            cov = (1.0 - w[..., None]) * syn_scatter / (m - 1) + w[..., None] * real_scatter / (n - 1)
        elif loop == "replace":
            mean, cov = syn_mean, syn_scatter / (m - 1)
        else:  # accumulate: merge the sample into the pool (exact update of the pooled mean and scatter)
            shift = syn_mean - pool_mean
            pool_scatter = pool_scatter + syn_scatter + (pool_size * m / (pool_size + m)) * _outer(shift)
            pool_mean = pool_mean + shift * (m / (pool_size + m))
            pool_size += m
            mean, cov = pool_mean, pool_scatter / (pool_size - 1)
        record(t)
    return {"mean": rec["mean"].result(weights, p / n),
            "covariance": rec["covariance"].result(weights, (p + p * p) / (n - 1))}


@validate(n=Int(2), p=Int(1), sigma=Real(0.0, low_open=True), burn_in=Int(0), **_COMMON)
def simulate_regression_mixing(policy: DataPolicy | str, real_weights, *, n: int, p: int, sigma: float,
                               n_rounds: int, burn_in: int, n_runs: int, seed: int, synthetic_ratio: float = 1.0):
    """Weighted least squares on a fresh real sample and the previous model's synthetic sample (random design).

    He et al.'s random-design linear regression: rows ``x ~ N(0, I_p)``, truth ``beta = (1, ..., 1)``, noise
    ``N(0, sigma^2)``; synthetic labels ``x^T beta_{t-1} + noise`` on fresh synthetic rows; round ``t`` minimizes
    ``(w / n) sum_real (y - x^T b)^2 + ((1 - w) / m) sum_syn (y - x^T b)^2``. Only ``replace`` with real weights is
    defined. Returns ``MixingErrors`` of ``||beta_t - beta||^2`` with unit ``sigma^2 p / n``.
    """
    _check_rounds(burn_in, n_rounds)
    if _loop(policy, real_weights, "collapse_utils.sim.mixing.simulate_regression_mixing") != "fresh":
        fail("real_weights", "a 1-D array of weights (this loop mixes fresh real data)", real_weights)
    m = max(round(n / synthetic_ratio), p)
    weights = np.asarray(real_weights, dtype=float)
    w = weights[None, :, None]
    rng = np.random.default_rng(seed)
    beta = np.ones(p)

    def stats(size, shape):  # X^T X and X^T eps of `size` rows: Wishart factor A, and sigma A z
        A = wishart_factor(rng, shape, p, size)
        return A @ np.swapaxes(A, -1, -2), sigma * _matvec(A, rng.standard_normal((*shape, p)))

    G, Xe = stats(n, (n_runs, 1))
    est = np.broadcast_to(np.linalg.solve(G, (_matvec(G, beta) + Xe)[..., None])[..., 0],
                          (n_runs, weights.size, p)).copy()
    rec = _Recorder(n_runs, weights.size, n_rounds, burn_in)
    rec.add(0, np.sum((est - beta) ** 2, axis=-1))
    for t in range(1, n_rounds):
        Gs, Xes = stats(m, (n_runs, 1))
        Gr, Xer = stats(n, (n_runs, 1))
        lhs = w[..., None] * Gr / n + (1.0 - w[..., None]) * Gs / m
        rhs = w * (_matvec(Gr, beta) + Xer) / n + (1.0 - w) * (_matvec(Gs, est) + Xes) / m
        est = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        rec.add(t, np.sum((est - beta) ** 2, axis=-1))
    return rec.result(weights, sigma**2 * p / n)


@validate(n=Int(1), p=Int(1), sigma=Real(0.0, low_open=True), signal=Real(0), burn_in=Int(0), **_COMMON)
def simulate_label_mixing(policy: DataPolicy | str, real_weights, *, n: int, p: int, sigma: float, signal: float,
                          n_rounds: int, burn_in: int, n_runs: int, seed: int, synthetic_ratio: float = 1.0):
    """Minimum-norm least squares on a fixed design whose labels mix fresh real and synthetic labels.

    Each run draws a design ``X`` (``n x p``, rows ``N(0, I_p)``) and a truth ``beta ~ N(0, signal^2 I_p / p)``, and
    fits ``X^+ y_0`` on real labels; round ``t`` fits ``X^+ y_t`` with ``y_t = (1 - w)(X beta_{t-1} + eps_syn) +
    w (X beta + eps_real)``, fresh ``N(0, sigma^2)`` noise each time (He et al.'s fixed-design regression for
    ``n > p``; Garg et al.'s interpolation for ``p > n``). ``X^+`` is numpy's pseudo-inverse: OLS when ``n >= p``,
    the minimum-norm interpolator when ``p > n``. Only ``replace`` with real weights is defined; ``synthetic_ratio``
    must be 1 (the synthetic labels sit on the same rows).

    Returns
    -------
    dict
        ``{"variance": MixingErrors, "bias": numpy.ndarray}``: ``||beta_t - P beta||^2`` with ``P = X^+ X`` (the
        part that depends on ``w``; unit: one fit's mean variance, ``sigma^2 tr(X^T X)^{-1}`` or
        ``sigma^2 tr(X X^T)^{-1}`` averaged over the runs' designs), and each run's ``||(I - P) beta||^2``.
    """
    _check_rounds(burn_in, n_rounds)
    if synthetic_ratio != 1.0:
        fail("synthetic_ratio", "1 (label mixing relabels the same rows)", synthetic_ratio)
    if _loop(policy, real_weights, "collapse_utils.sim.mixing.simulate_label_mixing") != "fresh":
        fail("real_weights", "a 1-D array of weights (this loop mixes fresh real labels)", real_weights)
    weights = np.asarray(real_weights, dtype=float)
    w = weights[None, None, :]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_runs, n, p))
    beta = signal * rng.standard_normal((n_runs, p)) / np.sqrt(p)
    pinv = np.linalg.pinv(X)  # (runs, p, n)
    proj_beta = _matvec(pinv @ X, beta)
    unit = sigma**2 * float(np.mean(np.sum(pinv**2, axis=(-2, -1))))  # mean of sigma^2 tr(X^+ X^+T)
    signal_rows = _matvec(X, beta)[..., None]  # X beta, (runs, n, 1)
    est = pinv @ (signal_rows + sigma * rng.standard_normal((n_runs, n, 1)))
    est = np.broadcast_to(est, (n_runs, p, weights.size)).copy()
    rec = _Recorder(n_runs, weights.size, n_rounds, burn_in)

    def record(t):
        rec.add(t, np.sum((est - proj_beta[..., None]) ** 2, axis=1))

    record(0)
    for t in range(1, n_rounds):
        noise_syn = sigma * rng.standard_normal((n_runs, n, 1))
        noise_real = sigma * rng.standard_normal((n_runs, n, 1))
        labels = (1.0 - w) * (X @ est + noise_syn) + w * (signal_rows + noise_real)
        est = pinv @ labels
        record(t)
    bias = np.sum((beta - proj_beta) ** 2, axis=-1)
    return {"variance": rec.result(weights, unit), "bias": bias}


@validate(real_weights=RealArray(ndim=1), window=RealArray(ndim=1), degree=Int(2, 6), n_boot=Int(10), seed=Int(0))
def fitted_minimum(real_weights, stationary: np.ndarray, *, window=(0.45, 0.8), degree: int = 3, n_boot: int = 400,
                   seed: int = 0) -> dict:
    """Minimizer and minimum of a simulated error curve, with bootstrap standard errors over runs.

    A polynomial of ``degree`` is fitted to the run-averaged curve at the weights inside ``window``; its minimizer on a
    fine grid is the estimate. Resampling the runs (``stationary`` is ``(n_runs, n_weights)``) ``n_boot`` times gives
    the standard errors. Returns ``{"w_min", "value_min", "se_w", "se_value"}``.
    """
    curves = np.asarray(stationary, dtype=float)
    if curves.ndim != 2 or curves.shape[1] != real_weights.size:
        fail("stationary", f"an array of shape (n_runs, {real_weights.size})", curves.shape)
    inside = (real_weights >= window[0]) & (real_weights <= window[1])
    if inside.sum() < degree + 2:
        fail("window", f"a range holding at least degree + 2 = {degree + 2} weights", tuple(window))
    fine = np.linspace(real_weights[inside].min(), real_weights[inside].max(), 4001)

    def vertex(curve):
        coef = np.polyfit(real_weights[inside], curve[inside], degree)
        values = np.polyval(coef, fine)
        j = int(np.argmin(values))
        return fine[j], values[j]

    w_min, value_min = vertex(curves.mean(axis=0))
    rng = np.random.default_rng(seed)
    boot = np.array([vertex(curves[rng.integers(0, curves.shape[0], curves.shape[0])].mean(axis=0))
                     for _ in range(n_boot)])
    return {"w_min": float(w_min), "value_min": float(value_min), "se_w": float(boot[:, 0].std(ddof=1)),
            "se_value": float(boot[:, 1].std(ddof=1))}
