"""Monte-Carlo simulation of a Gaussian fitted to its own samples (Shumailov et al. 2024; Kazdan et al. 2024).

Each run is simulated literally: draw ``T`` real points from ``N(0, sigma^2 I_d)``, fit the sample mean and the
sample covariance (scatter divided by ``N``, "mle", or ``N - 1``, "unbiased"), draw the next points from the fitted
Gaussian (mean plus standard normals times the fit's symmetric square root, which also handles singular fits), build
the next training set under the policy, and repeat. Nothing in here uses :mod:`collapse_utils.theory.gaussian`; the
chapter compares the two.

Runs are vectorized in batches; run ``r`` draws everything from its own stream ``SeedSequence(seed,
spawn_key=(r,))`` (accumulate-subsample's row choices from ``spawn_key=(r, 1)``), so a run does not depend on the
number of runs beside it, and all policies share each run's real data and standard-normal draws (common random
numbers: iteration 1 is identical across policies). Accumulate keeps the pool's running sums of ``x`` and ``x x^T``
(exact, and ``tests/unit/test_sim_gaussian.py`` compares it with the explicitly stacked pool); accumulate-subsample
stores the pool and fits the rows it picks. The policies' rules come from :func:`collapse_utils.policies.rule`; a rule
without an algorithm here raises ``PolicyNotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.validation import Int, OneOf, Real, validate

_MAX_FLOATS = 2**22  # floats of the largest per-batch array (32 MB): sets the batch size of each setting


@dataclass(frozen=True)
class GaussianChains:
    """Fits of ``n_runs`` independent runs of one policy and setting, at iterations ``1..n_iterations``.

    ``means[r, i - 1]`` is the fitted mean (length ``d``) of run ``r`` at iteration ``i``; ``traces`` and
    ``log_dets`` hold ``tr Sigma_hat_i / tr Sigma0`` and ``ln(det Sigma_hat_i / det Sigma0)`` (``-inf`` when the
    fit is singular, i.e. its training set has at most ``d`` points or lies in a lower-dimensional subspace).
    In 1-D, ``traces`` is ``sigma_hat_i^2 / sigma^2``.
    """

    policy: DataPolicy
    estimator: str
    d: int
    T: int
    sigma2: float
    means: np.ndarray
    traces: np.ndarray
    log_dets: np.ndarray

    @property
    def iterations(self) -> np.ndarray:
        """1, 2, ..., n_iterations."""
        return np.arange(1, self.traces.shape[1] + 1)

    @property
    def n_runs(self) -> int:
        return self.traces.shape[0]

    @property
    def mean_errors(self) -> np.ndarray:
        """``||mu_hat_i - mu0||^2`` per run and iteration (``mu0 = 0``)."""
        return np.sum(self.means**2, axis=2)


def run_stream(seed: int, run: int) -> np.random.Generator:
    """The random stream of run ``run``: its real data first, then the standard normals of every later draw."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run,)))


def subsample_stream(seed: int, run: int) -> np.random.Generator:
    """The stream from which run ``run`` picks accumulate-subsample's training rows."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1)))


def _algorithm(policy: DataPolicy) -> str:
    """The simulator's algorithm for ``policy``'s rule."""
    how = rule(policy, "collapse_utils.sim.gaussian")
    if how.trains_on == "newest" and not how.subsample:
        return "newest-multiple" if how.sample_multiple else "newest"
    if how.trains_on == "pool" and not how.sample_multiple:
        return "pool-subsample" if how.subsample else "pool"
    raise PolicyNotImplementedError(policy, "collapse_utils.sim.gaussian")


def _root_logdet_from_cov(cov: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric square roots ``(B, d, d)`` of well-conditioned covariances, and their ``ln det`` (eigh)."""
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, 0.0)
    root = (vecs * np.sqrt(vals)[:, None, :]) @ np.swapaxes(vecs, 1, 2)
    # points drawn from a singular fit stay in its affine subspace, so a pool started from a singular fit stays
    # singular; its eigenvalues in the missing directions are rounding errors (relative 1e-16, not 1e-10)
    singular = (n_points - 1 < cov.shape[-1]) | (vals[:, 0] <= 1e-10 * vals[:, -1])
    with np.errstate(divide="ignore"):
        logdet = np.sum(np.log(vals), axis=1)
    return root, np.where(singular, -np.inf, logdet)


def _fit_points(points: np.ndarray, estimator: str):
    """Mean, covariance, symmetric square root and ``ln det`` of the fits to a batch of training sets.

    The root and ``ln det`` come from the singular values of the centred points, accurate to a relative ``eps``
    of each singular value's square: under replace the fitted covariance's eigenvalues drift apart exponentially
    (condition numbers beyond 10^12 after 100 iterations at d = 10, T = 32), beyond what eigh of the covariance
    resolves.
    """
    n, d = points.shape[1], points.shape[2]
    c = n - 1 if estimator == "unbiased" else n
    mu = points.mean(axis=1)
    centred = points - mu[:, None, :]
    if d == 1:
        var = np.sum(centred[:, :, 0] ** 2, axis=1) / c
        with np.errstate(divide="ignore"):
            return mu, var[:, None, None], np.sqrt(var)[:, None, None], np.log(var)
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    v = np.swapaxes(vt, 1, 2)
    cov = (v * (sing**2 / c)[:, None, :]) @ vt
    root = (v * (sing / np.sqrt(c))[:, None, :]) @ vt
    with np.errstate(divide="ignore"):
        logdet = np.sum(np.log(sing**2 / c), axis=1)
    singular = (n - 1 < d) | (sing[:, -1] <= 1e-12 * sing[:, 0])  # a subspace inherited from a singular fit
    return mu, cov, root, np.where(singular, -np.inf, logdet)


def _draw(gens, n: int, d: int) -> np.ndarray:
    """``(B, n, d)`` standard normals, ``n x d`` from each run's stream."""
    return np.stack([g.standard_normal((n, d)) for g in gens])


@validate(d=Int(1), T=Int(2), n_iterations=Int(1), n_runs=Int(2), seed=Int(0), sigma2=Real(0, low_open=True),
          estimator=OneOf("mle", "unbiased"))
def simulate_gaussian_chains(
    policies: Iterable[DataPolicy | str],
    *,
    d: int,
    T: int,
    n_iterations: int,
    n_runs: int,
    seed: int,
    estimator: str = "mle",
    sigma2: float = 1.0,
) -> dict[DataPolicy, GaussianChains]:
    """Simulate ``n_runs`` runs of the Gaussian feedback loop for each policy.

    Parameters
    ----------
    policies
        Policies to simulate (names or :class:`DataPolicy`), at least one, no repeats.
    d, T
        Dimension, and number of real points (= points drawn per iteration; replace-multiple draws ``i T`` for fit
        ``i``); ``T >= 2``.
    n_iterations
        Number of fits per run (iteration 1 = real data).
    n_runs
        Number of independent runs (>= 2, for a standard error).
    seed
        Root seed (integer >= 0).
    estimator
        ``"mle"`` (scatter / N, Kazdan et al.'s fit) or ``"unbiased"`` (scatter / (N - 1), Shumailov et al.'s).
    sigma2
        Variance of each coordinate of the real data (> 0); the real mean is 0.

    Returns
    -------
    dict
        ``{policy: GaussianChains}`` in the order given.
    """
    pols = [DataPolicy.parse(p) for p in policies]
    if not pols or len(set(pols)) != len(pols):
        raise ValueError(f"policies must name at least one policy and no policy twice, got {pols!r}")
    algorithms = {p: _algorithm(p) for p in pols}
    out = {}
    for policy in pols:
        how = algorithms[policy]
        stored = n_iterations * T * d  # the pre-drawn normals (or replace-multiple's largest draw)
        batch = max(1, min(n_runs, _MAX_FLOATS // stored))
        means = np.empty((n_runs, n_iterations, d))
        traces = np.empty((n_runs, n_iterations))
        logdets = np.empty((n_runs, n_iterations))
        for start in range(0, n_runs, batch):
            runs = range(start, min(start + batch, n_runs))
            sl = slice(start, start + len(runs))
            m, t, ld = _simulate_batch(how, [run_stream(seed, r) for r in runs],
                                       [subsample_stream(seed, r) for r in runs], d, T, n_iterations, estimator,
                                       float(sigma2))
            means[sl], traces[sl], logdets[sl] = m, t, ld
        out[policy] = GaussianChains(policy=policy, estimator=estimator, d=d, T=T, sigma2=float(sigma2),
                                     means=means, traces=traces, log_dets=logdets)
    return out


def _simulate_batch(how, gens, pickers, d, T, n_iterations, estimator, sigma2):
    """One batch of runs of one algorithm: fitted means, trace ratios and log-det ratios per iteration."""
    B = len(gens)
    means = np.empty((B, n_iterations, d))
    traces = np.empty((B, n_iterations))
    logdets = np.empty((B, n_iterations))
    if how == "newest-multiple":  # draws grow as (i + 1) T: drawn per iteration, in the same stream order
        z = None
        real = np.sqrt(sigma2) * _draw(gens, T, d)
    else:  # the real data and every later chunk of T standard normals, drawn at once (same stream order)
        z = _draw(gens, n_iterations * T, d).reshape(B, n_iterations, T, d)
        real = np.sqrt(sigma2) * z[:, 0]
    if how == "pool":
        total, squares, count = real.sum(axis=1), np.swapaxes(real, 1, 2) @ real, T
    if how == "pool-subsample":
        pool = np.empty((B, n_iterations * T, d))
        pool[:, :T] = real
    train = real
    for i in range(1, n_iterations + 1):
        if how == "pool":  # mean and scatter from the pool's running sums of x and x x^T
            mu = total / count
            scatter = squares - count * mu[:, :, None] * mu[:, None, :]
            cov = scatter / (count - 1 if estimator == "unbiased" else count)
            root, logdet = _root_logdet_from_cov(cov, count)
        else:
            mu, cov, root, logdet = _fit_points(train, estimator)
        means[:, i - 1] = mu
        traces[:, i - 1] = np.trace(cov, axis1=1, axis2=2) / (d * sigma2)
        logdets[:, i - 1] = logdet - d * np.log(sigma2)
        if i == n_iterations:
            break
        noise = _draw(gens, (i + 1) * T, d) if z is None else z[:, i]
        new = mu[:, None, :] + noise @ root
        if how in ("newest", "newest-multiple"):
            train = new
        elif how == "pool":
            total, squares, count = total + new.sum(axis=1), squares + np.swapaxes(new, 1, 2) @ new, count + T
        else:  # pool-subsample: fit i + 1 uses T of the pool's (i + 1) T rows, without replacement
            pool[:, i * T:(i + 1) * T] = new
            picks = np.stack([g.choice((i + 1) * T, size=T, replace=False) for g in pickers])
            train = np.take_along_axis(pool, picks[:, :, None], axis=1)
    return means, traces, logdets


def setting_seed(seed: int, *key: int) -> int:
    """An independent root seed for one setting of a grid (its position ``key``), from the chapter's seed."""
    return int(np.random.SeedSequence([Int(0)("seed", seed), *key]).generate_state(1)[0])
