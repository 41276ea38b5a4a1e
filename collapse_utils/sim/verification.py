"""Monte Carlo of retraining on verified synthetic data in linear regression (Yi, Liu, Cheng & Xu 2026).

Round 0 fits OLS on ``n_real`` real points ``y = x^T theta* + xi``. Round ``k`` draws ``n_synthetic`` fresh inputs
``x ~ N(0, I_d)``, labels them with the previous fit plus noise, and passes them through a **filter**, the
:class:`Verifier` (or none). What the next fit trains on is the data policy's rule
(:func:`collapse_utils.policies.rule`): ``replace`` fits the kept points of the newest round (the paper's loop),
``accumulate`` fits the pool of the real data and every round's kept points; other policies raise
:class:`~collapse_utils.policies.PolicyNotImplementedError`.

Every point is drawn literally. All verifiers passed to one call see the same truth, inputs and noise (common random
numbers), so their differences are not blurred by noise. Nothing here uses :mod:`collapse_utils.theory.verification`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.validation import Int, Real, check_fields, validate


@dataclass(frozen=True)
class Verifier:
    """Keeps ``(x, y)`` iff ``|y - x^T theta_c| <= radius ||x|| + allowance``: iff some ``theta`` in the ball
    ``B(theta_c, radius)`` explains ``y`` within ``allowance``.

    The knowledge center sits at distance ``bias`` from the truth, ``theta_c = theta* + bias u`` with a uniformly random
    direction ``u`` drawn per run. The rule is the one in the authors' simulation code (radius ``gamma``, allowance
    ``sigma sqrt(2/pi)``).
    """

    radius: float
    allowance: float
    bias: float = 0.0

    def __post_init__(self):
        check_fields(self, radius=Real(0), allowance=Real(0), bias=Real(0))

    def accepts(self, X: np.ndarray, y: np.ndarray, center: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """Boolean mask of kept points: ``X`` (runs, N, d), ``y`` and ``norms`` (runs, N), ``center`` (runs, d)."""
        return np.abs(y - (X @ center[..., None])[..., 0]) <= self.radius * norms + self.allowance


@dataclass(frozen=True)
class VerifiedRun:
    """Per run and round ``0 .. n_rounds``: ``error`` = ``||theta_hat_k - theta*||^2``, ``to_center`` =
    ``||theta_hat_k - theta_c||^2``; ``accepted``: share of synthetic points kept in rounds ``1 .. n_rounds``."""

    verifier: Verifier | None
    error: np.ndarray
    to_center: np.ndarray
    accepted: np.ndarray

    def mean(self, what: str = "error") -> np.ndarray:
        return getattr(self, what).mean(axis=0)

    def sem(self, what: str = "error") -> np.ndarray:
        values = getattr(self, what)
        return values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])


def _solve(G: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(G, b[..., None])[..., 0]


@validate(d=Int(1), n_real=Int(1), n_synthetic=Int(1), sigma=Real(0.0, low_open=True), n_rounds=Int(1),
          n_runs=Int(2), seed=Int(0))
def simulate_verified_regression(policy: DataPolicy | str, verifiers, *, d: int, n_real: int, n_synthetic: int,
                                 sigma: float, n_rounds: int, n_runs: int, seed: int) -> list[VerifiedRun]:
    """Run the verified retraining loop for each verifier (``None``: keep every synthetic point).

    Parameters
    ----------
    policy
        ``replace`` or ``accumulate`` (module docstring).
    verifiers
        A sequence of :class:`Verifier` or ``None``, simulated on the same draws.
    d, n_real, n_synthetic, sigma
        Dimension, real sample size (``>= d``), synthetic points per round, label-noise standard deviation.
    n_rounds, n_runs, seed
        Rounds after the real fit, independent runs, root seed.

    Returns
    -------
    list of VerifiedRun
        One per verifier, in order.
    """
    how = rule(policy, "collapse_utils.sim.verification")
    if how.subsample or how.sample_multiple:
        raise PolicyNotImplementedError(DataPolicy.parse(policy), "collapse_utils.sim.verification")
    verifiers = list(verifiers)
    if not verifiers or not all(v is None or isinstance(v, Verifier) for v in verifiers):
        raise ValueError(f"verifiers must be a non-empty sequence of Verifier or None, got {verifiers!r}")
    if n_real < d:
        raise ValueError(f"n_real must be >= d = {d} for a unique real fit, got {n_real}")
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n_runs, d)) / np.sqrt(d)
    direction = rng.standard_normal((n_runs, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    centers = [theta + (0.0 if v is None else v.bias) * direction for v in verifiers]
    X0 = rng.standard_normal((n_runs, n_real, d))
    y0 = (X0 @ theta[..., None])[..., 0] + sigma * rng.standard_normal((n_runs, n_real))
    G_real, b_real = np.swapaxes(X0, 1, 2) @ X0, (np.swapaxes(X0, 1, 2) @ y0[..., None])[..., 0]
    fit0 = _solve(G_real, b_real)
    fits = [fit0.copy() for _ in verifiers]
    pools = [(G_real.copy(), b_real.copy()) for _ in verifiers]
    error = np.empty((len(verifiers), n_runs, n_rounds + 1))
    to_center = np.empty_like(error)
    accepted = np.empty((len(verifiers), n_runs, n_rounds))
    for j in range(len(verifiers)):
        error[j, :, 0] = np.sum((fit0 - theta) ** 2, axis=1)
        to_center[j, :, 0] = np.sum((fit0 - centers[j]) ** 2, axis=1)
    for k in range(1, n_rounds + 1):
        X = rng.standard_normal((n_runs, n_synthetic, d))
        noise = sigma * rng.standard_normal((n_runs, n_synthetic))
        norms = np.linalg.norm(X, axis=2)
        for j, verifier in enumerate(verifiers):
            y = (X @ fits[j][..., None])[..., 0] + noise
            keep = np.ones(y.shape, dtype=bool) if verifier is None else verifier.accepts(X, y, centers[j], norms)
            if np.any(keep.sum(axis=1) < d):
                raise RuntimeError(f"round {k}: the verifier {verifier} kept fewer than d = {d} points in some run")
            Xk = X * keep[..., None]
            G, b = np.swapaxes(Xk, 1, 2) @ X, (np.swapaxes(Xk, 1, 2) @ y[..., None])[..., 0]
            if how.trains_on == "pool":
                pools[j] = (pools[j][0] + G, pools[j][1] + b)
                G, b = pools[j]
            fits[j] = _solve(G, b)
            accepted[j, :, k - 1] = keep.mean(axis=1)
            error[j, :, k] = np.sum((fits[j] - theta) ** 2, axis=1)
            to_center[j, :, k] = np.sum((fits[j] - centers[j]) ** 2, axis=1)
    return [VerifiedRun(v, error[j], to_center[j], accepted[j]) for j, v in enumerate(verifiers)]
