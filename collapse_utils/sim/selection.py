"""Monte Carlo of a Gaussian refitted to its own samples with biased top-alpha selection (Qiao et al. 2026).

The setting of the authors' script (``subexperiments/Gaussian_Modeling/gaussian_correct.py``): per seed, a truth
``N(mu*, Sigma*)`` with ``mu* ~ N(0, I_d)`` and ``Sigma* = A A^T + 0.1 I`` (``A`` with ``N(0, 1)`` entries); iteration 0
*is* the truth. Iteration ``t`` draws a batch from the current fit and refits the maximum-likelihood Gaussian plus
``ridge I`` on the newest batch (``replace``) or on every batch so far (``accumulate``), the policy's rule
(:func:`collapse_utils.policies.rule`; other policies raise
:class:`~collapse_utils.policies.PolicyNotImplementedError`). There is no real sample in the pool: the loop starts from
the true law.

The **filter** is :class:`BiasedSelection`: draw ``N / alpha`` points and keep the ``N`` closest to a biased reference
``u`` in Mahalanobis distance under ``cov_scale Sigma*``, where ``u`` is ``mu*`` with half of its coordinates (chosen at
random) shifted by ``N(0, shift_scale^2)``: a verifier that sees only a biased slice of the target. Batches are drawn
literally under selection; without it a batch enters the fit only through its mean and scatter, which are drawn
exactly in law (``N(mu, Sigma / N)`` and ``L W L^T`` with ``W ~ Wishart(I, N - 1)``), so thousands of seeds are cheap.
The truths depend only on ``seed``, so runs with and without selection share them. Nothing here uses
:mod:`collapse_utils.theory.selection`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.sim.mixing import wishart_factor
from collapse_utils.validation import Int, Real, check_fields, validate


@dataclass(frozen=True)
class BiasedSelection:
    """Top-``alpha`` selection toward a biased reference (Qiao et al.'s defaults: shift 3, covariance 0.3 Sigma*)."""

    alpha: float = 0.05
    shift_scale: float = 3.0
    cov_scale: float = 0.3

    def __post_init__(self):
        check_fields(self, alpha=Real(0.0, 1.0, low_open=True), shift_scale=Real(0),
                     cov_scale=Real(0.0, low_open=True))


@dataclass(frozen=True)
class SelectionRun:
    """Per seed: ``spread[:, t] = tr Sigma_t / tr Sigma*`` for ``t = 0 .. n_iterations``; for each iteration
    ``t >= 1`` the kept batch's ``batch_spread`` (its maximum-likelihood covariance's trace over ``tr Sigma_{t-1}``) and
    ``batch_shift`` (``||batch mean - mu_{t-1}||^2 / tr Sigma_{t-1}``)."""

    policy: DataPolicy
    selection: BiasedSelection | None
    spread: np.ndarray
    batch_spread: np.ndarray
    batch_shift: np.ndarray


def _truths(seed: int, n_seeds: int, d: int, shift_scale: float):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    mu = rng.standard_normal((n_seeds, d))
    A = rng.standard_normal((n_seeds, d, d))
    cov = A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(d)
    reference = mu.copy()
    for s in range(n_seeds):
        shifted = rng.choice(d, size=d // 2, replace=False)
        reference[s, shifted] += shift_scale * rng.standard_normal(d // 2)
    return mu, cov, reference


@validate(d=Int(2), n_iterations=Int(1), n_per_iteration=Int(2), n_seeds=Int(2), seed=Int(0), ridge=Real(0))
def simulate_selection(policy: DataPolicy | str, selection: BiasedSelection | None, *, d: int, n_iterations: int,
                       n_per_iteration: int, n_seeds: int, seed: int, ridge: float = 1e-6) -> SelectionRun:
    """Simulate ``n_seeds`` independent loops (module docstring); returns a :class:`SelectionRun`."""
    how = rule(policy, "collapse_utils.sim.selection")
    if how.subsample or how.sample_multiple:
        raise PolicyNotImplementedError(DataPolicy.parse(policy), "collapse_utils.sim.selection")
    if selection is not None and not isinstance(selection, BiasedSelection):
        raise ValueError(f"selection must be a BiasedSelection or None, got {selection!r}")
    n = n_per_iteration
    shift_scale = 3.0 if selection is None else selection.shift_scale
    mu_star, cov_star, reference = _truths(seed, n_seeds, d, shift_scale)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    if selection is not None:
        n_draw = int(n / selection.alpha)
        whitener = np.linalg.cholesky(np.linalg.inv(selection.cov_scale * cov_star))  # ||(x - u) W||^2: Mahalanobis
    mean, cov = mu_star.copy(), cov_star.copy()
    tr_star = np.trace(cov_star, axis1=1, axis2=2)
    spread = np.empty((n_seeds, n_iterations + 1))
    spread[:, 0] = 1.0
    batch_spread = np.empty((n_seeds, n_iterations))
    batch_shift = np.empty((n_seeds, n_iterations))
    pool_mean, pool_scatter, pool_size = np.zeros((n_seeds, d)), np.zeros((n_seeds, d, d)), 0
    eye = np.eye(d)
    for t in range(1, n_iterations + 1):
        L = np.linalg.cholesky(cov)
        if selection is None:
            b_mean = mean + (L @ rng.standard_normal((n_seeds, d, 1)))[..., 0] / np.sqrt(n)
            LW = L @ wishart_factor(rng, (n_seeds,), d, n - 1)
            b_scatter = LW @ np.swapaxes(LW, 1, 2)
        else:
            Z = rng.standard_normal((n_seeds, n_draw, d))
            offset = (mean - reference)[:, None, :] @ whitener  # (seeds, 1, d)
            to_white = np.swapaxes(L, 1, 2) @ whitener  # x - u = (mean - u) + z L^T, whitened by W
            dist = np.sum((offset + np.einsum("snj,sjk->snk", Z, to_white)) ** 2, axis=2)
            keep = np.argpartition(dist, n - 1, axis=1)[:, :n]
            X = mean[:, None, :] + np.einsum("snj,sij->sni", np.take_along_axis(Z, keep[..., None], axis=1), L)
            b_mean = X.mean(axis=1)
            centred = X - b_mean[:, None, :]
            b_scatter = np.swapaxes(centred, 1, 2) @ centred
        tr_prev = np.trace(cov, axis1=1, axis2=2)
        batch_spread[:, t - 1] = np.trace(b_scatter, axis1=1, axis2=2) / n / tr_prev
        batch_shift[:, t - 1] = np.sum((b_mean - mean) ** 2, axis=1) / tr_prev
        if how.trains_on == "newest":
            mean, cov = b_mean, b_scatter / n + ridge * eye
        else:  # merge the batch into the pool: exact update of the pooled mean and scatter
            shift = b_mean - pool_mean
            weight = pool_size * n / (pool_size + n)
            pool_scatter = pool_scatter + b_scatter + weight * shift[:, :, None] * shift[:, None, :]
            pool_mean = pool_mean + shift * (n / (pool_size + n))
            pool_size += n
            mean, cov = pool_mean.copy(), pool_scatter / pool_size + ridge * eye
        spread[:, t] = np.trace(cov, axis1=1, axis2=2) / tr_star
    return SelectionRun(DataPolicy.parse(policy), selection, spread, batch_spread, batch_shift)
