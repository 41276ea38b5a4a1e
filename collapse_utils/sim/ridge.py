"""Monte-Carlo simulation of Dohmatob et al.'s fake-data chain and ridge learner (their §3; Figure 3).

One run: a chain of generators ``w_hat_0 = w0``, ``w_hat_{m+1} = pinv(X_m) (X_m w_hat_m + E_m)`` fit on ``T0`` samples
with noise ``sigma0`` (independent designs ``X_m``, or one shared ``X_0``), then a ridge learner fit on ``T`` fresh
samples labelled by ``w_hat_n`` with noise ``sigma``; its test error is ``||w_pred - w0||_Sigma^2`` computed exactly
(the paper estimates it on 100,000 clean test points). Without loss of generality ``Sigma = diag(eigs)``: the
problem is rotation invariant, so ``w0`` is given in Sigma's eigenbasis.

Speed, with every shortcut exact:

- one chain per run serves every ``n`` (``w_hat_n`` for all n up to ``max(ns)``), and one learner design per run
  and ``T`` serves every ``n`` (common random numbers: the learner's inputs and noise are shared across ``n``);
- one eigendecomposition of the learner's ``Sigma_hat = X^T X / T`` gives the ridge solution for every ``lambda``;
- with ``sampling="sufficient"`` the learner's sufficient statistics ``(X^T X, X^T E)`` are drawn directly (Bartlett
  decomposition of the Wishart matrix, ``X^T E | X ~ N(0, sigma^2 X^T X)``) when ``T >= d``, and an under-parametrized
  generator's step ``pinv(X_m) E_m | X_m ~ N(0, sigma0^2 (X_m^T X_m)^{-1})`` likewise when ``T0 >= d``: O(d^2) random
  numbers instead of O(T d). ``sampling="explicit"`` draws every sample; it consumes the random streams exactly as
  :func:`reference_ridge_collapse` (a slow, straightforward implementation: one solve per lambda, n and run) does, so
  the two agree to rounding (relative 1e-9 or better, which the unit tests and ``bench/ridge_sim.py`` check), except
  for OLS on an ill-conditioned design (T close to d, lambda = 0), where solving through the eigendecomposition of
  ``X^T X / T`` loses about cond(X)^2 * eps (1e-6 relative at cond(X) = 1e5, far below the Monte-Carlo error there).

The error splits exactly as ``w_pred - w0 = (Sigma_hat R - I) w0 + Sigma_hat R (w_hat_n - w0) + R X^T E / T``
(``R = (Sigma_hat + lambda I)^{-1}``): learner bias, collapse (what the fake-data chain adds) and learner variance.
Their cross terms have mean zero, so the three mean squared norms add up to the mean test error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from collapse_utils.validation import Instance, Int, IntArray, OneOf, Real, RealArray, fail, validate

PARTS = ("total", "bias", "variance", "collapse")


@dataclass(frozen=True)
class RidgeRuns:
    """Test errors of ``n_runs`` independent runs on a grid of ``T`` x ``n`` x ``lambda``.

    Each of ``total``, ``bias``, ``variance``, ``collapse`` has shape ``(n_runs, len(Ts), len(ns), len(lams))``.
    """

    Ts: np.ndarray
    ns: np.ndarray
    lams: np.ndarray
    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray

    @property
    def n_runs(self) -> int:
        return self.total.shape[0]

    @validate(part=OneOf(*PARTS))
    def mean(self, part: str = "total") -> np.ndarray:
        """Monte-Carlo mean over runs, shape ``(len(Ts), len(ns), len(lams))``."""
        return getattr(self, part).mean(axis=0)

    @validate(part=OneOf(*PARTS))
    def sem(self, part: str = "total") -> np.ndarray:
        """Standard error of :meth:`mean`."""
        return getattr(self, part).std(axis=0, ddof=1) / np.sqrt(self.n_runs)


_GENERATOR = Instance(np.random.Generator)


@validate(rng=_GENERATOR, d=Int(1), T=Int(1))
def bartlett_factor(rng: np.random.Generator, d: int, T: int) -> np.ndarray:
    """Lower-triangular ``A`` with ``A A^T ~ Wishart_d(I, T)`` (Bartlett decomposition; needs T >= d).

    ``A[i, i] = sqrt(chi2(T - i))``, ``A[i, j] ~ N(0, 1)`` for ``i > j``: the law of the Cholesky factor of
    ``Z^T Z`` for a ``T x d`` standard Gaussian ``Z``.
    """
    if T < d:
        fail("T", f">= d = {d} (the Bartlett decomposition of a Wishart matrix)", T)
    return _bartlett(rng, d, T)


def _bartlett(rng: np.random.Generator, d: int, T: int) -> np.ndarray:
    A = np.tril(rng.standard_normal((d, d)), k=-1)
    A[np.diag_indices(d)] = np.sqrt(rng.chisquare(T - np.arange(d)))
    return A


def _pinv_solve(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm least squares ``pinv(X) y`` for a full-rank Gaussian ``X`` (QR, either shape)."""
    T, d = X.shape
    if T >= d:
        Q, R = np.linalg.qr(X)
        return solve_triangular(R, Q.T @ y)
    Q, R = np.linalg.qr(X.T)  # X = R^T Q^T, pinv(X) = Q R^{-T}
    return Q @ solve_triangular(R, y, trans="T")


_EIGS = RealArray(0, low_open=True, ndim=1)
_SAMPLING = OneOf("sufficient", "explicit")


@validate(rng=_GENERATOR, eigs=_EIGS, w0=RealArray(ndim=1), T0=Int(1), sigma0=Real(0), n_max=Int(0),
          sampling=_SAMPLING)
def generator_chain(rng, eigs, w0, T0, sigma0, n_max, *, shared, sampling) -> np.ndarray:
    """``w_hat_0 .. w_hat_{n_max}`` of one run, shape ``(n_max + 1, d)``; ``w_hat_0 = w0`` (in Sigma's eigenbasis)."""
    if w0.shape != eigs.shape:
        fail("w0", f"of the shape of eigs, {eigs.shape}", w0)
    return _generator_chain(rng, eigs, w0, T0, sigma0, n_max, shared=shared, sampling=sampling)


def _generator_chain(rng, eigs, w0, T0, sigma0, n_max, *, shared, sampling) -> np.ndarray:
    d = len(eigs)
    root = np.sqrt(eigs)
    out = np.empty((n_max + 1, d))
    out[0] = w0
    if n_max == 0:
        return out
    if sampling == "sufficient" and T0 >= d:
        # w_hat_{m+1} = w_hat_m + pinv(X_m) E_m exactly (X_m has full column rank); the step given X_m is
        # N(0, sigma0^2 (X_m^T X_m)^{-1}) = sigma0 D^{-1/2} A^{-T} u with X_m^T X_m = D^{1/2} A A^T D^{1/2}.
        if shared:
            A = _bartlett(rng, d, T0)
            # (n_max, d) draws: step m uses the same numbers whatever n_max is
            steps = solve_triangular(A, rng.standard_normal((n_max, d)).T, trans="T", lower=True).T
        else:
            steps = np.stack([solve_triangular(_bartlett(rng, d, T0), rng.standard_normal(d), trans="T",
                                               lower=True) for _ in range(n_max)])
        out[1:] = w0 + np.cumsum(sigma0 * steps / root, axis=0)
        return out
    X = rng.standard_normal((T0, d)) * root if shared else None
    w = np.asarray(w0, dtype=float)
    for m in range(n_max):
        Xm = X if shared else rng.standard_normal((T0, d)) * root
        w = _pinv_solve(Xm, Xm @ w + sigma0 * rng.standard_normal(T0))
        out[m + 1] = w
    return out


def _learner_stats(rng, eigs, T, sigma, sampling):
    """``(Sigma_hat, X^T E / T)`` of one learner design with ``T`` samples."""
    d = len(eigs)
    root = np.sqrt(eigs)
    if sampling == "sufficient" and T >= d:
        A = _bartlett(rng, d, T)
        ZtE = sigma * (A @ rng.standard_normal(d))
        return (root[:, None] * (A @ A.T) * root[None, :]) / T, root * ZtE / T
    X = rng.standard_normal((T, d)) * root
    E = sigma * rng.standard_normal(T)
    return X.T @ X / T, X.T @ E / T


def _streams(seed: int, run: int):
    chain = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 0)))
    return chain, lambda T: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1, int(T))))


_RUNS = {"eigs": _EIGS, "w0": RealArray(ndim=1), "T0": Int(1), "sigma0": Real(0), "sigma": Real(0),
         "ns": IntArray(0, distinct=True), "Ts": IntArray(1, distinct=True), "lams": RealArray(0, ndim=1),
         "n_runs": Int(2), "seed": Int(0)}


@validate(**_RUNS, sampling=_SAMPLING)
def simulate_ridge_collapse(
    *,
    eigs,
    w0,
    T0: int,
    sigma0: float,
    sigma: float,
    ns: Iterable[int],
    Ts: Iterable[int],
    lams: Iterable[float],
    n_runs: int,
    seed: int,
    shared_design: bool = False,
    sampling: str = "sufficient",
) -> RidgeRuns:
    """Simulate ``n_runs`` runs of the chain and the ridge learner on the grid ``Ts x ns x lams``.

    Parameters
    ----------
    eigs
        Eigenvalues of the input covariance Sigma (d of them, > 0).
    w0
        True parameter in Sigma's eigenbasis, shape ``(d,)``.
    T0, sigma0
        Samples and label-noise standard deviation of every generator.
    sigma
        Label-noise standard deviation of the learner's data.
    ns
        Numbers of generator fits (0 = clean data), distinct integers >= 0.
    Ts
        Learner sample sizes, distinct integers >= 1 (T < d is allowed: ridge, or min-norm at lambda = 0).
    lams
        Ridge penalties >= 0 (0 = OLS, the min-norm interpolator when T < d).
    n_runs
        Independent runs (>= 2).
    seed
        Root seed; run ``r`` draws its chain from ``SeedSequence(seed, spawn_key=(r, 0))`` and its learner at
        sample size ``T`` from ``SeedSequence(seed, spawn_key=(r, 1, T))``, so results do not depend on the grid.
    shared_design
        If True every generator reuses one design ``X_0`` (the paper's "dependent" case).
    sampling
        ``"sufficient"`` (fast, exact in law) or ``"explicit"`` (every sample drawn; matches the reference).
    """
    if w0.shape != eigs.shape:
        fail("w0", f"of the shape of eigs, {eigs.shape}", w0)
    d = eigs.size
    shape = (n_runs, Ts.size, ns.size, lams.size)
    parts = {p: np.empty(shape) for p in PARTS}
    chains = []
    learner_rngs = []
    for r in range(n_runs):
        chain_rng, learner_rng = _streams(seed, r)
        chains.append(_generator_chain(chain_rng, eigs, w0, T0, sigma0, int(ns.max()), shared=shared_design,
                                       sampling=sampling)[ns])
        learner_rngs.append(learner_rng)
    delta = np.stack(chains) - w0  # (R, N, d): w_hat_n - w0
    for k, T in enumerate(Ts):
        stats = [_learner_stats(learner_rngs[r](T), eigs, int(T), sigma, sampling) for r in range(n_runs)]
        G = np.stack([s[0] for s in stats])  # (R, d, d)
        g = np.stack([s[1] for s in stats])  # (R, d)
        s, V = np.linalg.eigh(G)  # batched over runs
        pos = s > s[:, -1:] * d * np.finfo(float).eps * 10
        s = np.where(pos, s, 0.0)
        # Ridge filters per eigenvalue and lambda: r = 1/(s + lam) (pseudo-inverse where s = lam = 0), f = s r.
        denom = s[:, :, None] + lams[None, None, :]  # (R, d, L)
        r_filt = np.where(denom > 0, 1.0 / np.where(denom > 0, denom, 1.0), 0.0)
        f_filt = s[:, :, None] * r_filt
        VtDV = np.swapaxes(V, 1, 2) @ (eigs[None, :, None] * V)  # Sigma in the learner's eigenbasis
        a = np.swapaxes(V, 1, 2) @ w0  # (R, d)
        b = np.einsum("rji,rnj->rni", V, delta)  # (R, N, d)
        c = np.einsum("rji,rj->ri", V, g)  # (R, d)
        bias_vec = (f_filt - 1.0) * a[:, :, None]  # (R, d, L)
        var_vec = r_filt * c[:, :, None]  # (R, d, L)
        col_vec = f_filt[:, None, :, :] * b[:, :, :, None]  # (R, N, d, L)

        def sq_norm(v, VtDV=VtDV):  # v: (R, ..., d, L) in eigen-coordinates -> ||.||_Sigma^2, (R, ..., L)
            Mv = np.einsum("rij,r...jl->r...il", VtDV, v)
            return np.sum(v * Mv, axis=-2)

        tot_vec = bias_vec[:, None] + var_vec[:, None] + col_vec
        parts["total"][:, k] = sq_norm(tot_vec)
        parts["bias"][:, k] = sq_norm(bias_vec)[:, None, :]
        parts["variance"][:, k] = sq_norm(var_vec)[:, None, :]
        parts["collapse"][:, k] = sq_norm(col_vec)
    return RidgeRuns(Ts=Ts, ns=ns, lams=lams, **parts)


@validate(**_RUNS)
def reference_ridge_collapse(
    *, eigs, w0, T0, sigma0, sigma, ns, Ts, lams, n_runs, seed, shared_design=False
) -> np.ndarray:
    """Straightforward reference: every sample drawn, one linear solve per lambda, n and run.

    Draws the same random numbers as ``simulate_ridge_collapse(..., sampling="explicit")`` and returns its
    ``total`` errors, shape ``(n_runs, len(Ts), len(ns), len(lams))``. For benchmarks and tests only.
    """
    if w0.shape != eigs.shape:
        fail("w0", f"of the shape of eigs, {eigs.shape}", w0)
    d = eigs.size
    root = np.sqrt(eigs)
    out = np.empty((n_runs, Ts.size, ns.size, lams.size))
    for r in range(n_runs):
        chain_rng, learner_rng = _streams(seed, r)
        ws = [np.asarray(w0, dtype=float)]
        X0 = chain_rng.standard_normal((T0, d)) * root if shared_design else None
        for _ in range(int(ns.max())):
            Xm = X0 if shared_design else chain_rng.standard_normal((T0, d)) * root
            ym = Xm @ ws[-1] + sigma0 * chain_rng.standard_normal(T0)
            ws.append(np.linalg.lstsq(Xm, ym, rcond=None)[0])
        for k, T in enumerate(Ts):
            rng = learner_rng(T)
            X = rng.standard_normal((int(T), d)) * root
            E = sigma * rng.standard_normal(int(T))
            for j, n in enumerate(ns):
                Y = X @ ws[n] + E
                for i, lam in enumerate(lams):
                    if lam > 0:
                        w = np.linalg.solve(X.T @ X / T + lam * np.eye(d), X.T @ Y / T)
                    else:
                        w = np.linalg.lstsq(X, Y, rcond=None)[0]
                    out[r, k, j, i] = (w - w0) @ (eigs * (w - w0))
    return out


@validate(lams=RealArray(0), Ts=IntArray(1, distinct=True), ns=IntArray(0, distinct=True))
def simulate_penalty_rules(*, lams, Ts: Iterable[int], ns: Iterable[int], **kwargs) -> np.ndarray:
    """Total test errors when every learner size and generation has its own penalties, e.g. ``lambda = T^-ell``.

    Parameters
    ----------
    lams
        Penalties ``(len(Ts), len(ns), K)``: ``lams[t, j, k]`` is rule ``k``'s penalty at ``Ts[t]`` and ``ns[j]``.
    Ts, ns
        Learner sample sizes and numbers of generator fits, as in :func:`simulate_ridge_collapse`.
    **kwargs
        The other arguments of :func:`simulate_ridge_collapse` (``eigs``, ``w0``, ``T0``, ``sigma0``, ``sigma``,
        ``n_runs``, ``seed``, ...).

    Returns
    -------
    numpy.ndarray
        ``(n_runs, len(Ts), len(ns), K)``. One :func:`simulate_ridge_collapse` call per ``T`` on that ``T``'s distinct
        penalties; run ``r`` draws its numbers from ``(seed, r, T)`` only, so the errors equal those of one call on
        the union of all penalties, which costs ``len(Ts)`` times more penalties per ``T``.
    """
    if lams.ndim != 3 or lams.shape[:2] != (Ts.size, ns.size):
        fail("lams", f"of shape (len(Ts), len(ns), K) = ({Ts.size}, {ns.size}, K)", lams.shape)
    out = []
    for t, T in enumerate(Ts):
        grid, col = np.unique(lams[t], return_inverse=True)
        runs = simulate_ridge_collapse(Ts=[T], ns=ns, lams=grid, **kwargs)
        out.append(np.take_along_axis(runs.total[:, 0], col.reshape(1, *lams.shape[1:]).repeat(runs.n_runs, 0), 2))
    return np.stack(out, axis=1)
