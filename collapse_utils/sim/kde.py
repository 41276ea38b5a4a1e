"""Monte-Carlo simulation of a Gaussian kernel density estimator fed its own samples (Kazdan et al. 2024, KDE part).

A Gaussian KDE with bandwidth ``h`` on training points ``x_1..x_N`` has density ``(1/N) sum_j N(x; x_j, h^2 I)``.
Sampling from it picks a training point uniformly and adds ``N(0, h^2 I)`` noise; that is all a model does here. Each
run is simulated literally: draw the real points (and the held-out test points) from the data law, fit (store the
training set), sample, build the next training set under the policy, repeat. Nothing here uses
:mod:`collapse_utils.theory.kde`.

Run ``r`` draws everything from its own stream ``SeedSequence(seed, spawn_key=(r,))``: the law (blob centres), the
real points, the test points, then every sampling step's uniform picks and noise (pre-drawn at once, in stream
order); accumulate-subsample picks its rows from ``spawn_key=(r, 1)``. All policies share each run's law, real and
test points. The held-out metric is Kazdan et al.'s mean negative log-likelihood of the test points (nats), evaluated
at chosen iterations (it costs ``n_test x N`` kernel evaluations for a training set of ``N`` points).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.validation import Int, IntArray, Real, validate

_MAX_FLOATS = 2**22  # floats of the largest per-batch array: sets the batch size of each setting
_BLOCK = 4096        # training points per block of the log-likelihood (bounds the n_test x N kernel matrix)


@dataclass(frozen=True)
class KDEChains:
    """Results of ``n_runs`` runs of one policy and setting.

    ``nll[r, k]``: mean negative log-likelihood of run ``r``'s test points under the KDE of iteration
    ``eval_iterations[k]``. ``snapshots[i][r]``: the training points (the KDE's centres) of model ``i`` in run ``r``,
    for the iterations asked for. ``spread[r, i - 1]``: biased variance (averaged over coordinates) of the points that
    model ``i`` draws for the next training set. ``second_moment[r, i - 1]``: their mean ``||x||^2 / d`` (for a law
    centred at 0, an unbiased estimate of a generation-``i`` point's marginal variance per coordinate).
    """

    policy: DataPolicy
    T: int
    bandwidth: float
    eval_iterations: np.ndarray
    nll: np.ndarray
    spread: np.ndarray
    second_moment: np.ndarray
    snapshots: dict

    @property
    def n_runs(self) -> int:
        return self.spread.shape[0]


def run_stream(seed: int, run: int) -> np.random.Generator:
    """Run ``run``'s stream: law, real points, test points, then the sampling steps' picks and noise."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run,)))


def subsample_stream(seed: int, run: int) -> np.random.Generator:
    """The stream from which run ``run`` picks accumulate-subsample's training rows."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1)))


def _algorithm(policy: DataPolicy) -> str:
    """The simulator's algorithm for ``policy``'s rule."""
    how = rule(policy, "collapse_utils.sim.kde")
    if how.trains_on == "newest" and not how.subsample:
        return "newest-multiple" if how.sample_multiple else "newest"
    if how.trains_on == "pool" and not how.sample_multiple:
        return "pool-subsample" if how.subsample else "pool"
    raise PolicyNotImplementedError(policy, "collapse_utils.sim.kde")


@validate(bandwidth=Real(0, low_open=True))
def log_density(points: np.ndarray, train: np.ndarray, bandwidth: float) -> np.ndarray:
    """Log-density of a Gaussian KDE (training points ``train`` (N, d), bandwidth ``h``) at ``points`` (n, d):
    ``log((1/N) sum_j N(x; x_j, h^2 I))``, by a log-sum-exp over blocks of training points."""
    points, train = np.asarray(points, dtype=float), np.asarray(train, dtype=float)
    n, d = points.shape
    inv_h2 = 1.0 / bandwidth**2
    # -||x - x_j||^2 / (2h^2) = (x.x_j - ||x_j||^2/2)/h^2 - ||x||^2/(2h^2); the last term is added at the end
    total = np.full(n, -np.inf)
    for start in range(0, train.shape[0], _BLOCK):
        block = train[start:start + _BLOCK]
        expo = points @ (block.T * inv_h2)
        expo -= (0.5 * inv_h2) * np.sum(block**2, axis=1)
        top = expo.max(axis=1)
        expo -= top[:, None]
        np.exp(expo, out=expo)
        total = np.logaddexp(total, top + np.log(expo.sum(axis=1)))
    return (total - 0.5 * inv_h2 * np.sum(points**2, axis=1) - math.log(train.shape[0])
            - 0.5 * d * math.log(2 * math.pi * bandwidth**2))


def _draw_sizes(how: str, T: int, n_iterations: int) -> np.ndarray:
    """How many points model ``i`` (1..n_iterations) draws: T, or (i + 1) T for replace-multiple."""
    i = np.arange(1, n_iterations + 1)
    return (i + 1) * T if how == "newest-multiple" else np.full(n_iterations, T)


@validate(T=Int(1), bandwidth=Real(0, low_open=True), n_iterations=Int(1), n_runs=Int(2), seed=Int(0),
          n_test=Int(0))
def simulate_kde_chains(
    policies: Iterable[DataPolicy | str],
    *,
    make_law: Callable,
    T: int,
    bandwidth: float,
    n_iterations: int,
    n_runs: int,
    seed: int,
    n_test: int = 500,
    eval_iterations=None,
    snapshots=(),
) -> dict[DataPolicy, KDEChains]:
    """Simulate ``n_runs`` runs of the KDE feedback loop for each policy.

    Parameters
    ----------
    policies
        Policies to simulate (names or :class:`DataPolicy`), at least one, no repeats.
    make_law
        ``make_law(rng)`` returns the run's data law: an object with ``dim`` and ``sample(rng, n) -> (n, dim)``
        (e.g. ``lambda rng: collapse_utils.data.toy.toy_law("moons", rng)``).
    T
        Real points, and points drawn per iteration (replace-multiple: ``(i + 1) T`` by model ``i``).
    bandwidth
        The kernel's standard deviation ``h`` (> 0).
    n_iterations
        Number of fits per run (iteration 1 = real data).
    n_runs, seed
        Independent runs (>= 2) and the root seed.
    n_test
        Held-out real points per run for the negative log-likelihood (0: no likelihood).
    eval_iterations
        Iterations at which the likelihood is evaluated (default: all; empty when ``n_test`` is 0).
    snapshots
        Iterations whose training points are kept (for figures; default none).

    Returns
    -------
    dict
        ``{policy: KDEChains}`` in the order given.
    """
    pols = [DataPolicy.parse(p) for p in policies]
    if not pols or len(set(pols)) != len(pols):
        raise ValueError(f"policies must name at least one policy and no policy twice, got {pols!r}")
    if n_test == 0:
        evals = np.arange(0)
    else:
        evals = np.arange(1, n_iterations + 1) if eval_iterations is None else \
            IntArray(1, distinct=True)("eval_iterations", eval_iterations)
        if evals.max() > n_iterations:
            raise ValueError(f"eval_iterations must lie in [1, n_iterations = {n_iterations}], got {evals!r}")
        evals = np.sort(evals)
    keep = [] if len(snapshots) == 0 else IntArray(1, distinct=True)("snapshots", snapshots).tolist()
    if keep and max(keep) > n_iterations:
        raise ValueError(f"snapshots must lie in [1, n_iterations = {n_iterations}], got {snapshots!r}")
    algorithms = {p: _algorithm(p) for p in pols}
    out = {}
    for policy in pols:
        how = algorithms[policy]
        sizes = _draw_sizes(how, T, n_iterations)
        kept = {i: [] for i in keep}
        law0 = make_law(run_stream(seed, 0))
        per_run = int(sizes.sum()) * (law0.dim + 1) + (n_iterations + 1) * T * law0.dim
        batch = max(1, min(n_runs, _MAX_FLOATS // per_run))
        nll = np.empty((n_runs, len(evals)))
        spread = np.empty((n_runs, n_iterations))
        second = np.empty((n_runs, n_iterations))
        for start in range(0, n_runs, batch):
            runs = range(start, min(start + batch, n_runs))
            sl = slice(start, start + len(runs))
            nll[sl], spread[sl], second[sl] = _simulate_batch(
                how, [run_stream(seed, r) for r in runs], [subsample_stream(seed, r) for r in runs], make_law,
                T, float(bandwidth), n_iterations, n_test, evals, sizes, kept)
        out[policy] = KDEChains(policy=policy, T=T, bandwidth=float(bandwidth), eval_iterations=evals, nll=nll,
                                spread=spread, second_moment=second, snapshots=kept)
    return out


def _simulate_batch(how, gens, pickers, make_law, T, h, n_iterations, n_test, evals, sizes, kept):
    B = len(gens)
    laws = [make_law(g) for g in gens]
    d = laws[0].dim
    real = np.stack([law.sample(g, T) for law, g in zip(laws, gens, strict=True)])
    test = [law.sample(g, n_test) for law, g in zip(laws, gens, strict=True)] if n_test else None
    total = int(sizes.sum())
    picks_u = np.stack([g.uniform(size=total) for g in gens])  # pick = floor(u N): uniform over N points
    noise = np.stack([g.standard_normal((total, d)) for g in gens])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    nll = np.empty((B, len(evals)))
    spread = np.empty((B, n_iterations))
    second = np.empty((B, n_iterations))
    if how in ("pool", "pool-subsample"):
        pool = np.empty((B, (n_iterations + 1) * T, d))
        pool[:, :T] = real
    train = real
    k_eval = 0
    for i in range(1, n_iterations + 1):
        if i in kept:
            kept[i].extend(train.copy())
        if k_eval < len(evals) and evals[k_eval] == i:
            nll[:, k_eval] = [-np.mean(log_density(test[b], train[b], h)) for b in range(B)]
            k_eval += 1
        lo, hi = offsets[i - 1], offsets[i]
        n_train = train.shape[1]
        idx = np.minimum((picks_u[:, lo:hi] * n_train).astype(np.int64), n_train - 1)
        new = np.take_along_axis(train, idx[:, :, None], axis=1) + h * noise[:, lo:hi]
        spread[:, i - 1] = new.var(axis=1).mean(axis=1)
        second[:, i - 1] = np.mean(new**2, axis=(1, 2))
        if how in ("newest", "newest-multiple"):
            train = new
        elif how == "pool":
            pool[:, i * T:(i + 1) * T] = new
            train = pool[:, :(i + 1) * T]
        else:  # pool-subsample: fit i + 1 uses T of the pool's (i + 1) T rows, without replacement
            pool[:, i * T:(i + 1) * T] = new
            rows = np.stack([g.choice((i + 1) * T, size=T, replace=False) for g in pickers])
            train = np.take_along_axis(pool, rows[:, :, None], axis=1)
    return nll, spread, second


def setting_seed(seed: int, *key: int) -> int:
    """An independent root seed for one setting of a grid (its position ``key``), from the chapter's seed."""
    return int(np.random.SeedSequence([Int(0)("seed", seed), *key]).generate_state(1)[0])
