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
and ``T`` gives every penalty (:class:`collapse_utils.kernels.KernelRidgePath`). Used by ``notebooks/mnist_krr.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.kernels import KernelRidgePath, krr_solve
from collapse_utils.validation import check_int, check_nonneg, int_grid


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


def _check_indices(name: str, idx, N: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= N:
        raise ValueError(f"{name} must be a non-empty 1-D array of indices in [0, {N}), got {idx!r}")
    if len(np.unique(idx)) != idx.size:
        raise ValueError(f"{name} must not repeat indices")
    return idx.astype(np.int64)


def _check_gram(K) -> np.ndarray:
    K = np.asarray(K)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise ValueError(f"K must be a non-empty square Gram matrix, got shape {K.shape}")
    return K


def _check_gram_truth(K, truth) -> tuple[np.ndarray, np.ndarray]:
    K = _check_gram(K)
    truth = np.asarray(truth, dtype=float)
    if truth.shape != (K.shape[0],) or not np.all(np.isfinite(truth)):
        raise ValueError(f"truth must be a finite vector of shape ({K.shape[0]},), got shape {truth.shape}")
    return K, truth


def _check_penalties(lams, n_T: int) -> np.ndarray:
    lams = np.asarray(lams, dtype=float)
    if lams.ndim != 2 or lams.shape[0] != n_T or lams.shape[1] == 0 or not np.all(np.isfinite(lams)) \
            or lams.min() <= 0:
        raise ValueError(f"lams must be finite numbers > 0 of shape (len(Ts), n_penalties) = ({n_T}, k), "
                         f"got shape {lams.shape}")
    return lams


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_lam0(lam0) -> float:
    if isinstance(lam0, bool) or not np.isscalar(lam0) or not np.isfinite(lam0) or lam0 <= 0:
        raise ValueError(f"lam0 must be a finite number > 0, got {lam0!r}")
    return float(lam0)


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
    K, truth = _check_gram_truth(K, truth)
    designs = np.asarray(designs)
    if designs.ndim != 2 or not np.issubdtype(designs.dtype, np.integer) or (designs.size and (
            designs.min() < 0 or designs.max() >= truth.size)):
        raise ValueError(f"designs must be a 2-D integer array (generations x T0) of indices in [0, {truth.size}), "
                         f"got shape {designs.shape}")
    eval_idx = _check_indices("eval_idx", eval_idx, truth.size)
    lam0 = _check_lam0(lam0)
    sigma0 = check_nonneg("sigma0", sigma0)
    rng = _check_rng(rng)
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
    K = _check_gram(K)
    learner_idx = _check_indices("learner_idx", learner_idx, K.shape[0])
    test_idx = _check_indices("test_idx", test_idx, K.shape[0])
    labels, test_target = np.asarray(labels, dtype=float), np.asarray(test_target, dtype=float)
    if labels.ndim != 2 or labels.shape[1] != learner_idx.size:
        raise ValueError(f"labels must have shape (n_label_sets, {learner_idx.size}), got {labels.shape}")
    if test_target.shape != test_idx.shape:
        raise ValueError(f"test_target must have shape {test_idx.shape}, got {test_target.shape}")
    Ts = int_grid("Ts", Ts, 1)
    if Ts.max() > learner_idx.size:
        raise ValueError(f"Ts must be <= len(learner_idx) = {learner_idx.size}, got max(Ts) = {Ts.max()}")
    lams = _check_penalties(lams, Ts.size)
    sigma = check_nonneg("sigma", sigma)
    rng = _check_rng(rng)
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
    K, truth = _check_gram_truth(K, truth)
    N = K.shape[0]
    pool_idx, test_idx = _check_indices("pool_idx", pool_idx, N), _check_indices("test_idx", test_idx, N)
    if np.intersect1d(pool_idx, test_idx).size:
        raise ValueError("pool_idx and test_idx must be disjoint (the test points are held out)")
    T0 = check_int("T0", T0, 1)
    ns, Ts = int_grid("ns", ns, 0), int_grid("Ts", Ts, 1)
    lams = _check_penalties(lams, Ts.size)
    lam0 = _check_lam0(lam0)
    sigma0, sigma = check_nonneg("sigma0", sigma0), check_nonneg("sigma", sigma)
    n_runs = check_int("n_runs", n_runs, 2)
    rng = _check_rng(rng)
    n_max, T_max = int(ns.max()), int(Ts.max())
    need = n_max * T0 + T_max
    if pool_idx.size < need:
        raise ValueError(f"pool_idx has {pool_idx.size} points; max(ns) * T0 + max(Ts) = {n_max} * {T0} + {T_max} "
                         f"= {need} are needed (disjoint designs)")

    errors = np.empty((n_runs, Ts.size, ns.size, lams.shape[1]))
    gen_errors = np.empty((n_runs, ns.size))
    test_target = truth[test_idx]
    for i, run_rng in enumerate(rng.spawn(n_runs)):
        perm = run_rng.permutation(pool_idx)
        designs = perm[: n_max * T0].reshape(n_max, T0)
        learner_idx = perm[n_max * T0: need]
        values = generator_chain(K, truth, designs, np.concatenate([learner_idx, test_idx]), lam0=lam0,
                                 sigma0=sigma0, rng=run_rng)[ns]
        at_learner, at_test = values[:, :T_max], values[:, T_max:]
        gen_errors[i] = np.mean((at_test - test_target) ** 2, axis=1)
        errors[i] = learner_test_errors(K, at_learner, learner_idx, test_idx, test_target, Ts=Ts, lams=lams,
                                        sigma=sigma, rng=run_rng)
    return KRRRuns(Ts=Ts, ns=ns, lams=lams, errors=errors, generator_errors=gen_errors)
