"""Dohmatob et al.'s fake-data chain with kernel ridge generators and a kernel ridge learner (their Figure 4, App. D.2).

Everything runs on one precomputed Gram matrix ``K`` over a finite set of points (e.g. the 5,000 MNIST digits):

- **truth**: ``f_0`` is a fixed function known at every point (``truth``, e.g. label mod 2);
- **generators**: for ``m = 0 .. n-1``, a fresh design ``X_m`` of ``T0`` points is drawn from the pool, labelled
  ``y_m = f_m(X_m) + N(0, sigma0^2)``, and ``f_{m+1}`` is kernel ridge regression on it,
  ``f_{m+1}(x) = K(X_m, x)^T (K(X_m, X_m) + lam0 T0 I)^{-1} y_m``. A generator labels new points by this kernel
  prediction; its values at any points come from rows of ``K``;
- **learner**: ``T`` further pool points labelled ``f_n(X) + N(0, sigma^2)``; kernel ridge with
  ``c_hat = (G + lam T I)^{-1} Y``; its test error is the mean squared error against the clean ``truth`` on the
  test points.

Speed (every shortcut exact): ``K`` is computed once and indexed; one chain per run serves every ``n`` and one learner
design per run serves every ``n`` and every penalty (common random numbers: the learner's points and noise are shared
across ``n``, and its designs are nested across ``T``); one eigendecomposition of the learner's Gram matrix per run
and ``T`` gives every penalty (:class:`collapse_utils.kernels.KernelRidgePath`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.kernels import KernelRidgePath, krr_solve
from collapse_utils.validation import Instance, Int, IntArray, Real, RealArray, fail, validate


@dataclass(frozen=True)
class KRRRuns:
    """Test errors of ``n_runs`` runs.

    ``errors``: learner, shape ``(n_runs, len(Ts), len(ns), n_penalties)``; ``generator_errors``: the generator
    ``f_n`` itself on the test points, shape ``(n_runs, len(ns))`` (0 for ``n = 0``, the truth).
    """

    Ts: np.ndarray
    ns: np.ndarray
    lams: np.ndarray  # (len(Ts), n_penalties)
    errors: np.ndarray
    generator_errors: np.ndarray

    @property
    def n_runs(self) -> int:
        return self.errors.shape[0]

    def mean(self) -> np.ndarray:
        """Mean learner test error over runs, ``(len(Ts), len(ns), n_penalties)``."""
        return self.errors.mean(axis=0)

    def sem(self) -> np.ndarray:
        """Standard error of :meth:`mean`."""
        return self.errors.std(axis=0, ddof=1) / np.sqrt(self.n_runs)


_GRAM = RealArray(square=True)
_INDICES = IntArray(0, distinct=True)
_GENERATOR = Instance(np.random.Generator)


def _within(N: int, **indices: np.ndarray) -> None:
    """Fail unless every index array lies in ``[0, N)``, the points of the Gram matrix."""
    for name, idx in indices.items():
        if idx.size and idx.max() >= N:
            fail(name, f"indices into the N = {N} points of K (< {N})", idx)


@validate(K=_GRAM, truth=RealArray(ndim=1), designs=IntArray(0, ndim=2, nonempty=False), eval_idx=_INDICES,
          lam0=Real(0, low_open=True), sigma0=Real(0), rng=_GENERATOR)
def generator_chain(K, truth, designs, eval_idx, *, lam0: float, sigma0: float, rng: np.random.Generator) -> np.ndarray:
    """Values of the generators ``f_0 .. f_n`` at the points ``eval_idx``, shape ``(n + 1, len(eval_idx))``.

    Parameters
    ----------
    K
        Gram matrix over all points, ``(N, N)``.
    truth
        ``f_0`` at every point, ``(N,)``.
    designs
        ``(n, T0)`` point indices: row ``m`` is the design ``X_m`` on which ``f_{m+1}`` is fit.
    eval_idx
        Indices of the points at which every generator is evaluated.
    lam0
        The generators' ridge penalty > 0 (``c = (K(X_m, X_m) + lam0 T0 I)^{-1} y_m``).
    sigma0
        Standard deviation of the label noise each generator's training data receive.
    rng
        Source of the label noise: ``sigma0 * rng.standard_normal(T0)`` per generation, in order.

    Notes
    -----
    Dohmatob et al. 2024, §3 and Appendix D.2 (Figure 4): the chain ``w_hat_{m+1} = fit(X_m, X_m w_hat_m + E_m)``
    with least squares replaced by kernel ridge regression.
    """
    if truth.shape != (K.shape[0],):
        fail("truth", f"one value per point of K, shape ({K.shape[0]},)", truth)
    _within(K.shape[0], designs=designs, eval_idx=eval_idx)
    return _generator_chain(K, truth, designs, eval_idx, lam0=lam0, sigma0=sigma0, rng=rng)


def _generator_chain(K, truth, designs, eval_idx, *, lam0, sigma0, rng) -> np.ndarray:
    n, T0 = designs.shape
    out = np.empty((n + 1, eval_idx.size))
    out[0] = truth[eval_idx]
    if n == 0:
        return out
    f_design = truth[designs[0]]
    for m, Xm in enumerate(designs):
        y = f_design + sigma0 * rng.standard_normal(T0)
        c = krr_solve(K[np.ix_(Xm, Xm)], y, lam0)
        out[m + 1] = K[np.ix_(eval_idx, Xm)] @ c
        if m + 1 < n:
            f_design = K[np.ix_(designs[m + 1], Xm)] @ c
    return out


@validate(K=_GRAM, labels=RealArray(ndim=2), learner_idx=_INDICES, test_idx=_INDICES, test_target=RealArray(ndim=1),
          Ts=IntArray(1, distinct=True), lams=RealArray(0, low_open=True, ndim=2), sigma=Real(0), rng=_GENERATOR)
def learner_test_errors(K, labels, learner_idx, test_idx, test_target, *, Ts, lams, sigma: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Test MSE of kernel ridge learners on nested designs, shape ``(len(Ts), n_label_sets, n_penalties)``.

    Parameters
    ----------
    K
        Gram matrix over all points, ``(N, N)``.
    labels
        Noiseless labels at ``learner_idx``, one row per label set (e.g. per generator ``f_n``),
        ``(n_label_sets, len(learner_idx))``.
    learner_idx
        Learner points; the learner with ``T`` samples uses the first ``T`` of them.
    test_idx, test_target
        Test points and the clean target there.
    Ts
        Learner sample sizes, each <= ``len(learner_idx)``.
    lams
        Penalties, ``(len(Ts), n_penalties)``: row ``t`` holds the penalties used at ``Ts[t]``.
    sigma
        Label-noise standard deviation; one draw ``sigma * rng.standard_normal(len(learner_idx))`` is shared by
        every label set and every ``T`` (nested).

    Notes
    -----
    Kernel ridge in Dohmatob et al.'s form, ``c_hat = (G + lam T I)^{-1} Y`` (Appendix C), one eigendecomposition of
    ``G`` per ``T`` for every penalty and label set.
    """
    _within(K.shape[0], learner_idx=learner_idx, test_idx=test_idx)
    if labels.shape[1] != learner_idx.size:
        fail("labels", f"of shape (n_label_sets, len(learner_idx) = {learner_idx.size})", labels)
    if test_target.shape != test_idx.shape:
        fail("test_target", f"one value per test point, shape {test_idx.shape}", test_target)
    if Ts.max() > learner_idx.size:
        fail("Ts", f"<= len(learner_idx) = {learner_idx.size}", Ts)
    if lams.shape[0] != Ts.size:
        fail("lams", f"one row of penalties per T, shape ({Ts.size}, n_penalties)", lams)
    return _learner_test_errors(K, labels, learner_idx, test_idx, test_target, Ts=Ts, lams=lams, sigma=sigma, rng=rng)


def _learner_test_errors(K, labels, learner_idx, test_idx, test_target, *, Ts, lams, sigma, rng) -> np.ndarray:
    noise = sigma * rng.standard_normal(learner_idx.size)
    K_test = K[test_idx]
    out = np.empty((len(Ts), labels.shape[0], lams.shape[1]))
    for t, T in enumerate(Ts):
        L = learner_idx[:T]
        path = KernelRidgePath(K[np.ix_(L, L)])
        Y = labels[:, :T].T + noise[:T, None]  # (T, n_label_sets)
        C = path.coefficients(Y, lams[t])  # (n_penalties, T, n_label_sets)
        pred = np.matmul(K_test[:, L], C)  # (n_penalties, n_test, n_label_sets)
        out[t] = np.mean((pred - test_target[None, :, None]) ** 2, axis=1).T
    return out


@validate(K=_GRAM, truth=RealArray(ndim=1), pool_idx=_INDICES, test_idx=_INDICES, T0=Int(1),
          ns=IntArray(0, distinct=True), Ts=IntArray(1, distinct=True), lams=RealArray(0, low_open=True, ndim=2),
          lam0=Real(0, low_open=True), sigma0=Real(0), sigma=Real(0), n_runs=Int(2), rng=_GENERATOR)
def simulate_krr_collapse(K, truth, *, pool_idx, test_idx, T0: int, ns, Ts, lams, lam0: float, sigma0: float,
                          sigma: float, n_runs: int, rng: np.random.Generator) -> KRRRuns:
    """Run the kernel fake-data chain and kernel ridge learner ``n_runs`` times (Dohmatob et al. 2024, Figure 4).

    Parameters
    ----------
    K
        Gram matrix over all ``N`` points (train pool and test), ``(N, N)``.
    truth
        ``f_0`` at every point, ``(N,)``; the learner is tested against ``truth[test_idx]``.
    pool_idx
        Training pool. Each run draws, without replacement, ``max(ns)`` generator designs of ``T0`` points and then
        ``max(Ts)`` learner points, all disjoint, so ``len(pool_idx) >= max(ns) * T0 + max(Ts)``.
    test_idx
        Held-out test points (disjoint from the pool).
    T0
        Samples per generator, >= 1.
    ns
        Numbers of generator fits (0 = the learner sees clean labels), distinct integers >= 0.
    Ts
        Learner sample sizes, distinct integers >= 1.
    lams
        Learner penalties ``(len(Ts), n_penalties)``, > 0 (e.g. one column per rule ``lam = T^-ell``).
    lam0
        The generators' penalty > 0.
    sigma0, sigma
        Label-noise standard deviations of the generators' and the learner's training data, >= 0.
    n_runs
        Independent runs, >= 2; run ``i`` uses ``rng.spawn(n_runs)[i]`` (its points, then its chain noise, then
        its learner noise).
    rng
        A ``numpy.random.Generator``.

    Returns
    -------
    KRRRuns
    """
    N = K.shape[0]
    if truth.shape != (N,):
        fail("truth", f"one value per point of K, shape ({N},)", truth)
    _within(N, pool_idx=pool_idx, test_idx=test_idx)
    if np.intersect1d(pool_idx, test_idx).size:
        fail("test_idx", "disjoint from pool_idx (the test points are held out)", test_idx)
    if lams.shape[0] != Ts.size:
        fail("lams", f"one row of penalties per T, shape ({Ts.size}, n_penalties)", lams)
    n_max, T_max = int(ns.max()), int(Ts.max())
    need = n_max * T0 + T_max
    if pool_idx.size < need:
        fail("pool_idx", f"at least max(ns) * T0 + max(Ts) = {n_max} * {T0} + {T_max} = {need} points (disjoint "
                         f"designs), {pool_idx.size} given", pool_idx)

    errors = np.empty((n_runs, Ts.size, ns.size, lams.shape[1]))
    gen_errors = np.empty((n_runs, ns.size))
    test_target = truth[test_idx]
    for i, run_rng in enumerate(rng.spawn(n_runs)):
        perm = run_rng.permutation(pool_idx)
        designs = perm[: n_max * T0].reshape(n_max, T0)
        learner_idx = perm[n_max * T0: need]
        values = _generator_chain(K, truth, designs, np.concatenate([learner_idx, test_idx]), lam0=lam0,
                                  sigma0=sigma0, rng=run_rng)[ns]
        at_learner, at_test = values[:, :T_max], values[:, T_max:]
        gen_errors[i] = np.mean((at_test - test_target) ** 2, axis=1)
        errors[i] = _learner_test_errors(K, at_learner, learner_idx, test_idx, test_target, Ts=Ts, lams=lams,
                                        sigma=sigma, rng=run_rng)
    return KRRRuns(Ts=Ts, ns=ns, lams=lams, errors=errors, generator_errors=gen_errors)
