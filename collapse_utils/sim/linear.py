"""Monte-Carlo simulation of the linear-regression feedback loop (Gerstgrasser et al. 2024, linear model).

Each chain is simulated literally: draw a Gaussian design and a truth, fit ordinary least squares on the
policy's training set, label the same design with the fitted model plus fresh noise, and repeat. Nothing in
here uses the closed forms of :mod:`collapse_utils.theory.linear`; the chapter compares the two.

Vectorized over chains ("seeds"): chain ``s`` draws everything from its own stream
``SeedSequence(seed, spawn_key=(s,))``, so a chain's path does not depend on how many chains run beside it
or how they are batched. The policies share each chain's design, truth and noise draws (common random
numbers), so iteration 1 is identical across policies and their differences are not blurred by noise.

Least squares on a pool is computed from its sufficient statistics, which is exact: Accumulate's pool is
``i`` stacked copies of ``X`` with label sets ``Y_1..Y_i``, whose normal equations are
``i X^T X w = X^T (Y_1 + ... + Y_i)``; Replace-Multiple's training set at iteration ``i`` is ``i`` copies of ``X``
labelled by model ``i-1`` with fresh noise, which enters OLS only through the mean noise, ``N(0, sigma^2 I / i)``,
drawn as ``E_i / sqrt(i)`` (exact in law, and common random numbers with replace); Accumulate-Subsample's pool rows
are gathered and solved by the minimum-norm least-squares solution (the pool repeats design rows, so a subsample
can be rank deficient when T is close to d). ``tests/unit/test_sim_linear.py`` checks them against
``numpy.linalg.lstsq`` on the explicitly stacked pool. The policies' rules come from
:func:`collapse_utils.policies.rule`; a rule without an algorithm here raises ``PolicyNotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from collapse_utils.policies import DataPolicy, PolicyNotImplementedError, rule
from collapse_utils.validation import Instance, Int, IntArray, Real, RealArray, fail, validate

_BATCH = 128  # chains per vectorized batch: bounds memory at about _BATCH * n_iterations * T floats


@dataclass(frozen=True)
class ChainErrors:
    """Test errors of ``n_seeds`` independent chains of one policy and setting.

    ``errors[s, i - 1]`` is ``||w_hat_i - w*||^2`` of chain ``s`` at iteration ``i`` (= the test error
    ``E_x[(x^T w_hat_i - x^T w*)^2]`` for ``x ~ N(0, I_d)``, computed exactly rather than on test points).
    """

    policy: DataPolicy
    d: int
    T: int
    sigma2: float
    errors: np.ndarray

    @property
    def iterations(self) -> np.ndarray:
        """1, 2, ..., n_iterations."""
        return np.arange(1, self.errors.shape[1] + 1)

    @property
    def n_seeds(self) -> int:
        return self.errors.shape[0]

    def mean(self) -> np.ndarray:
        """Monte-Carlo mean test error per iteration."""
        return self.errors.mean(axis=0)

    def sem(self) -> np.ndarray:
        """Standard error of :meth:`mean` (sample standard deviation / sqrt(n_seeds))."""
        return self.errors.std(axis=0, ddof=1) / np.sqrt(self.n_seeds)


@validate(seed=Int(0), chain=Int(0))
def chain_stream(seed: int, chain: int) -> np.random.Generator:
    """The random stream of chain ``chain``: design, truth and noise are drawn from it in that order."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chain,)))


@validate(seed=Int(0), chain=Int(0))
def subsample_stream(seed: int, chain: int) -> np.random.Generator:
    """The stream chain ``chain`` uses to draw Accumulate-Subsample's training rows."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chain, 1)))


@validate(rng=Instance(np.random.Generator), d=Int(1), T=Int(1), n_iterations=Int(1), sigma2=Real(0))
def draw_problem(rng: np.random.Generator, d: int, T: int, n_iterations: int, sigma2: float):
    """Draw one chain's design ``X`` (T x d, N(0,1)), truth ``w*`` (N(0, I/d), so ||w*||^2 ~ 1), and noise.

    Returns ``X, w_star, noise`` with ``noise[i - 1]`` the label noise ``E_i`` of iteration ``i``.
    """
    X = rng.standard_normal((T, d))
    w_star = rng.standard_normal(d) / np.sqrt(d)
    noise = np.sqrt(sigma2) * rng.standard_normal((n_iterations, T))
    return X, w_star, noise


def _min_norm_solve(G: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of the batched normal equations ``G w = b`` (pseudo-inverse via eigh)."""
    vals, vecs = np.linalg.eigh(G)
    tol = vals[:, -1:] * G.shape[-1] * np.finfo(float).eps * 10
    inv = np.where(vals > tol, 1.0 / np.where(vals > tol, vals, 1.0), 0.0)
    coef = (np.swapaxes(vecs, 1, 2) @ b[..., None])[..., 0] * inv
    return (vecs @ coef[..., None])[..., 0]


@validate(d=Int(1), T=Int(1), sigma2=Real(0), n_iterations=Int(1), n_seeds=Int(2), seed=Int(0))
def simulate_linear_chains(
    policies: Iterable[DataPolicy | str],
    *,
    d: int,
    T: int,
    sigma2: float,
    n_iterations: int,
    n_seeds: int,
    seed: int,
) -> dict[DataPolicy, ChainErrors]:
    """Simulate ``n_seeds`` chains of the linear feedback loop for each policy.

    Parameters
    ----------
    policies
        Policies to simulate (names or :class:`DataPolicy`), at least one, no repeats.
    d, T
        Dimension and number of rows of the fixed design; T >= d so that OLS is unique on the real data.
    sigma2
        Label-noise variance, the same at every iteration (>= 0).
    n_iterations
        Number of model fits per chain (iteration 1 = real data).
    n_seeds
        Number of independent chains (>= 2, for a standard error).
    seed
        Root seed (integer >= 0).

    Returns
    -------
    dict
        ``{policy: ChainErrors}`` in the order given.
    """
    pols = [DataPolicy.parse(p) for p in policies]
    if not pols or len(set(pols)) != len(pols):
        fail("policies", "at least one policy and no policy twice", pols)
    if T < d:
        fail("T", f">= d = {d} (a unique OLS fit on the real data)", T)
    algorithms = {p: _algorithm(p) for p in pols}

    errors = {p: np.empty((n_seeds, n_iterations)) for p in pols}
    for start in range(0, n_seeds, _BATCH):
        chains = range(start, min(start + _BATCH, n_seeds))
        drawn = [draw_problem(chain_stream(seed, s), d, T, n_iterations, sigma2) for s in chains]
        X = np.stack([p[0] for p in drawn])
        w_star = np.stack([p[1] for p in drawn])
        noise = np.stack([p[2] for p in drawn])
        Q, R = np.linalg.qr(X)
        R_inv = np.linalg.inv(R)

        def ols(y, Q=Q, R_inv=R_inv):  # least squares on the design X for label vectors y (batch, T)
            return (R_inv @ (np.swapaxes(Q, 1, 2) @ y[..., None]))[..., 0]

        def predict(w, X=X):
            return (X @ w[..., None])[..., 0]

        y1 = predict(w_star) + noise[:, 0]
        w1 = ols(y1)
        for policy in pols:
            out = errors[policy][start : start + len(chains)]
            out[:, 0] = np.sum((w1 - w_star) ** 2, axis=1)
            w = w1
            how = algorithms[policy]
            if how in ("newest", "newest-multiple"):
                for i in range(2, n_iterations + 1):
                    scale = 1.0 / np.sqrt(i) if how == "newest-multiple" else 1.0  # mean of i fresh noise draws
                    w = ols(predict(w) + scale * noise[:, i - 1])
                    out[:, i - 1] = np.sum((w - w_star) ** 2, axis=1)
            elif how == "pool":
                label_sum = y1.copy()
                for i in range(2, n_iterations + 1):
                    label_sum += predict(w) + noise[:, i - 1]
                    w = ols(label_sum) / i
                    out[:, i - 1] = np.sum((w - w_star) ** 2, axis=1)
            else:  # "pool-subsample"
                pool = np.empty((len(chains), n_iterations, T))
                pool[:, 0] = y1
                pickers = [subsample_stream(seed, s) for s in chains]
                for i in range(2, n_iterations + 1):
                    pool[:, i - 1] = predict(w) + noise[:, i - 1]
                    picks = np.stack([g.choice(i * T, size=T, replace=False) for g in pickers])
                    chunk, row = np.divmod(picks, T)
                    # Sufficient statistics of the picked rows: design row j enters the Gram matrix once per
                    # pick (its multiplicity m_j) and the moment vector with the sum of its picked labels u_j.
                    flat = (np.arange(len(chains))[:, None] * T + row).ravel()
                    labels = pool[np.arange(len(chains))[:, None], chunk, row].ravel()
                    size = len(chains) * T
                    m = np.bincount(flat, minlength=size).reshape(len(chains), T)
                    u = np.bincount(flat, weights=labels, minlength=size).reshape(len(chains), T)
                    G = np.swapaxes(X * m[..., None], 1, 2) @ X
                    b = (np.swapaxes(X, 1, 2) @ u[..., None])[..., 0]
                    w = _min_norm_solve(G, b)
                    out[:, i - 1] = np.sum((w - w_star) ** 2, axis=1)
    return {p: ChainErrors(policy=p, d=d, T=T, sigma2=float(sigma2), errors=errors[p]) for p in pols}


def _algorithm(policy: DataPolicy) -> str:
    """The simulator's algorithm for ``policy``'s rule: which set trains the model, and how it is computed."""
    how = rule(policy, "collapse_utils.sim.linear")
    if how.trains_on == "newest" and not how.subsample:
        return "newest-multiple" if how.sample_multiple else "newest"
    if how.trains_on == "pool" and not how.sample_multiple:
        return "pool-subsample" if how.subsample else "pool"
    raise PolicyNotImplementedError(policy, "collapse_utils.sim.linear")


@validate(seed=Int(0))
def setting_seed(seed: int, *key: int) -> int:
    """An independent root seed for one setting of a grid, from the chapter's seed and the setting's key.

    Without it, settings of different ``T`` would share streams (the first rows of a larger design would
    be the whole of a smaller one), and their Monte-Carlo errors would be correlated.
    """
    return int(np.random.SeedSequence([seed, *key]).generate_state(1)[0])


@validate(d=Int(1), Ts=IntArray(1, distinct=True), sigma2s=RealArray(0, ndim=1), n_iterations=Int(1), n_seeds=Int(2),
          seed=Int(0))
def simulate_grid(
    policies: Iterable[DataPolicy | str],
    *,
    d: int,
    Ts: Iterable[int],
    sigma2s: Iterable[float],
    n_iterations: int,
    n_seeds: int,
    seed: int,
) -> dict[tuple[int, float], dict[DataPolicy, ChainErrors]]:
    """:func:`simulate_linear_chains` for every ``(T, sigma2)``, each setting with its own streams.

    The streams depend on the setting's position in the grid (``setting_seed(seed, iT, iS)``), not on the
    policies, so two calls with the same grid and seed share the chains' designs and noise.
    """
    if len(np.unique(sigma2s)) != sigma2s.size:
        fail("sigma2s", "without repeated values", sigma2s)
    Ts, sigma2s = Ts.tolist(), sigma2s.tolist()
    return {
        (T, s2): simulate_linear_chains(policies, d=d, T=T, sigma2=s2, n_iterations=n_iterations,
                                        n_seeds=n_seeds, seed=setting_seed(seed, iT, iS))
        for iT, T in enumerate(Ts)
        for iS, s2 in enumerate(sigma2s)
    }
