"""Monte Carlo of strong model collapse: one fit on a fixed fraction of synthetic data (Dohmatob et al. 2025).

Not a loop: a learner is trained once on ``n`` points, ``n_2 = round(p n)`` of them labelled by a generator
``w_2 = w_1 + Delta`` and the rest by the truth ``w_1``, and is tested on the real law. Two learners:

- :func:`simulate_mixed_ols`: least squares on ``x ~ N(0, I_d)``. The fit depends on the data only through
  ``G_k = X_k^T X_k`` and ``X_k^T eps_k``, drawn exactly in law (Bartlett factors, ``X_k^T eps_k = sigma A_k z``), so
  ``n = 10^7`` costs what ``n = 100`` does; ``tests/unit/test_sim_strong_collapse.py`` checks it against explicit data.
- :func:`simulate_random_projection`: the paper's model of network size, ``f(x) = v^T S x`` with a fixed Gaussian
  ``S`` (``m x d``) and ``v`` fitted by minimum-norm least squares on the features ``S x``, drawn literally. Widths are
  nested (the first ``m`` rows of one ``S``), and every run also fits the same features on clean labels (same noise),
  so the extra error due to synthetic data is a paired difference.

Nothing here uses :mod:`collapse_utils.theory.strong_collapse`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.sim.mixing import wishart_factor
from collapse_utils.validation import Int, IntArray, Real, RealArray, fail, validate


def _truth(rng: np.random.Generator, n_runs: int, d: int, delta_norm: float):
    """``w_1 ~ N(0, I_d / d)`` and ``Delta`` of norm ``delta_norm`` in a uniformly random direction."""
    w1 = rng.standard_normal((n_runs, d)) / np.sqrt(d)
    delta = rng.standard_normal((n_runs, d))
    delta *= delta_norm / np.linalg.norm(delta, axis=1, keepdims=True)
    return w1, delta


@validate(ns=IntArray(1, distinct=True), ps=RealArray(0.0, 1.0, ndim=1), d=Int(1), sigma=Real(0),
          delta_norm=Real(0), n_runs=Int(2), seed=Int(0))
def simulate_mixed_ols(ns, ps, *, d: int, sigma: float, delta_norm: float, n_runs: int, seed: int) -> np.ndarray:
    """Test errors ``||w_hat - w_1||^2`` of least squares on mixed data, shape ``(len(ps), len(ns), n_runs)``.

    Parameters
    ----------
    ns
        Total sample sizes (each with ``n - round(p n) >= d`` real points, so that the fit is unique).
    ps
        Synthetic fractions in [0, 1].
    d, sigma, delta_norm
        Dimension, label-noise standard deviation (real and synthetic), and ``||Delta||`` of the generator's error.
    n_runs, seed
        Independent runs per setting (each with its own truth and ``Delta``) and the root seed.
    """
    out = np.empty((ps.size, ns.size, n_runs))
    for i, p in enumerate(ps):
        for j, n in enumerate(ns):
            n2 = round(p * n)
            n1 = int(n) - n2
            if n1 < d:
                fail("ns", f"sizes with at least d = {d} real points at p = {p:g}", int(n))
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, j]))
            w1, delta = _truth(rng, n_runs, d, delta_norm)
            A1 = wishart_factor(rng, (n_runs,), d, n1)
            G1 = A1 @ np.swapaxes(A1, 1, 2)
            rhs = G1 @ w1[..., None] + sigma * A1 @ rng.standard_normal((n_runs, d, 1))
            G = G1
            if n2 > 0:
                A2 = wishart_factor(rng, (n_runs,), d, n2) if n2 >= d else \
                    _explicit_factor(rng, n_runs, d, n2)
                G2 = A2 @ np.swapaxes(A2, 1, 2)
                G = G1 + G2
                rhs = rhs + G2 @ (w1 + delta)[..., None] + sigma * A2 @ rng.standard_normal((n_runs, A2.shape[2], 1))
            w_hat = np.linalg.solve(G, rhs)[..., 0]
            out[i, j] = np.sum((w_hat - w1) ** 2, axis=1)
    return out


def _explicit_factor(rng, n_runs, d, rows):
    """``X^T`` of ``rows < d`` Gaussian rows: ``X^T X`` is rank deficient and has no Bartlett factor."""
    return np.swapaxes(rng.standard_normal((n_runs, rows, d)), 1, 2)


@dataclass(frozen=True)
class ProjectionErrors:
    """Test errors of the random-projection learner: ``mixed`` and ``clean`` are ``(n_runs, len(widths))``."""

    widths: np.ndarray
    mixed: np.ndarray
    clean: np.ndarray

    @property
    def extra(self) -> np.ndarray:
        """Per run and width: the error added by the synthetic data (mixed minus clean, same features and noise)."""
        return self.mixed - self.clean


@validate(widths=IntArray(1, distinct=True), d=Int(1), n=Int(1), p=Real(0.0, 1.0), sigma=Real(0),
          delta_norm=Real(0), n_runs=Int(2), seed=Int(0))
def simulate_random_projection(widths, *, d: int, n: int, p: float, sigma: float, delta_norm: float, n_runs: int,
                               seed: int) -> ProjectionErrors:
    """Random-projection regression ``f(x) = v^T S x`` on ``n`` points, ``round(p n)`` of them synthetic.

    ``S`` has ``N(0, 1/d)`` entries; for width ``m`` the features are ``Z = X S_m^T`` with ``S_m`` the first ``m`` rows
    of ``S``, and ``v = Z^+ y`` (least squares for ``m < n``, the minimum-norm interpolator for ``m > n``). The test
    error on the real law is ``E_x (v^T S_m x - w_1^T x)^2 = ||S_m^T v - w_1||^2``. Each run fits two label vectors
    on the same features: mixed (synthetic rows labelled by ``w_1 + Delta``) and clean (every row by ``w_1``), with
    the same noise. A width equal to ``n`` is refused (the ridgeless fit has infinite variance there).
    """
    if np.any(widths == n):
        fail("widths", f"widths different from n = {n} (the interpolation threshold)", widths.tolist())
    rng = np.random.default_rng(seed)
    n2 = round(p * n)
    m_max = int(widths.max())
    mixed = np.empty((n_runs, widths.size))
    clean = np.empty((n_runs, widths.size))
    for r in range(n_runs):
        w1, delta = _truth(rng, 1, d, delta_norm)
        w1, delta = w1[0], delta[0]
        X = rng.standard_normal((n, d))
        S = rng.standard_normal((m_max, d)) / np.sqrt(d)
        noise = sigma * rng.standard_normal(n)
        y_clean = X @ w1 + noise
        y_mixed = y_clean.copy()
        y_mixed[:n2] += X[:n2] @ delta
        Y = np.stack([y_mixed, y_clean], axis=1)
        Z_all = X @ S.T
        for j, m in enumerate(widths):
            Z = Z_all[:, :m]
            if m < n:
                V = np.linalg.solve(Z.T @ Z, Z.T @ Y)
            else:
                V = Z.T @ np.linalg.solve(Z @ Z.T, Y)
            err = np.sum((S[:m].T @ V - w1[:, None]) ** 2, axis=0)
            mixed[r, j], clean[r, j] = err
    return ProjectionErrors(widths=widths, mixed=mixed, clean=clean)
