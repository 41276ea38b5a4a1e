"""Kernel functions and kernel ridge regression on a precomputed Gram matrix (Dohmatob et al. 2024, Appendix C).

Kernels (the parameterization of scikit-learn's ``rbf_kernel`` and ``polynomial_kernel``):

- RBF: ``k(x, x') = exp(-gamma ||x - x'||^2)``;
- polynomial: ``k(x, x') = (coef0 + gamma x^T x')^degree``.

Kernel ridge regression in the paper's form: on ``T`` points with Gram matrix ``G = K(X, X)`` and labels ``Y``,
the coefficients are ``c_hat = (G + lambda T I)^{-1} Y`` and the predictor is ``f_hat(x) = K(X, x)^T c_hat``
(the minimizer of ``(1/T) sum_i (f(x_i) - y_i)^2 + lambda ||f||_H^2``). :class:`KernelRidgePath` diagonalizes
``G`` once and then gives ``c_hat`` for every ``lambda`` at the cost of two matrix products.

Used by :mod:`collapse_utils.sim.kernel`, :mod:`collapse_utils.spectrum` and ``notebooks/mnist_krr.ipynb``.
"""

from __future__ import annotations

import numpy as np


def _check_points(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 2-D array (points x features) of finite numbers, "
                         f"got shape {arr.shape}")
    return arr


def _check_pair(A, B) -> tuple[np.ndarray, np.ndarray, bool]:
    A = _check_points("A", A)
    same = B is None
    B = A if same else _check_points("B", B)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of features, got {A.shape[1]} and {B.shape[1]}")
    return A, B, same


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def rbf_kernel(A, B=None, *, gamma: float) -> np.ndarray:
    """RBF (Gaussian) kernel matrix ``exp(-gamma ||a_i - b_j||^2)``.

    Parameters
    ----------
    A, B
        Points as rows, shapes ``(N, p)`` and ``(M, p)``; ``B=None`` means ``B = A`` (a symmetric Gram matrix,
        returned exactly symmetric with unit diagonal).
    gamma
        Inverse squared length scale, > 0 (the paper's "bandwidth" for MNIST is ``gamma = 1e-4``).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, M)``, entries in ``(0, 1]``.
    """
    A, B, same = _check_pair(A, B)
    gamma = _check_positive("gamma", gamma)
    sq_a = np.einsum("ij,ij->i", A, A)
    sq_b = sq_a if same else np.einsum("ij,ij->i", B, B)
    K = A @ B.T
    K *= -2.0
    K += sq_a[:, None]
    K += sq_b[None, :]
    np.maximum(K, 0.0, out=K)  # rounding can make ||a - a||^2 slightly negative
    if same:
        K = (K + K.T) / 2  # exactly symmetric
        np.fill_diagonal(K, 0.0)
    K *= -gamma
    np.exp(K, out=K)
    return K


def polynomial_kernel(A, B=None, *, gamma: float, degree: int = 5, coef0: float = 1.0) -> np.ndarray:
    """Polynomial kernel matrix ``(coef0 + gamma a_i^T b_j)^degree``.

    Parameters
    ----------
    A, B
        Points as rows, shapes ``(N, p)`` and ``(M, p)``; ``B=None`` means ``B = A``.
    gamma
        Scale of the inner product, > 0 (the paper's MNIST "bandwidth" ``1e-3``).
    degree
        Integer >= 1 (the paper: 5).
    coef0
        Constant term >= 0 (default 1; 0 gives the homogeneous kernel).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, M)``.
    """
    A, B, same = _check_pair(A, B)
    gamma = _check_positive("gamma", gamma)
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be an integer >= 1, got {degree!r}")
    if isinstance(coef0, bool) or not np.isscalar(coef0) or not np.isfinite(coef0) or coef0 < 0:
        raise ValueError(f"coef0 must be a finite number >= 0, got {coef0!r}")
    K = A @ B.T
    if same:
        K = (K + K.T) / 2
    K *= gamma
    K += coef0
    return K ** int(degree)


def _check_lams(lams) -> np.ndarray:
    lams = np.atleast_1d(np.asarray(lams, dtype=float))
    if lams.ndim != 1 or lams.size == 0 or not np.all(np.isfinite(lams)) or lams.min() <= 0:
        raise ValueError(f"lams must be a non-empty 1-D sequence of finite numbers > 0, got {lams!r}")
    return lams


def _check_gram(G) -> np.ndarray:
    G = np.asarray(G, dtype=float)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0 or not np.all(np.isfinite(G)):
        raise ValueError(f"G must be a non-empty square matrix of finite numbers, got shape {G.shape}")
    return G


def _check_labels(Y, T: int) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim not in (1, 2) or Y.shape[0] != T or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y must be finite with {T} rows (one per training point), got shape {Y.shape}")
    return Y


def krr_solve(G, Y, lam: float) -> np.ndarray:
    """Kernel ridge coefficients ``c_hat = (G + lam T I)^{-1} Y`` by a direct (Cholesky) solve.

    Parameters
    ----------
    G
        Gram matrix of the ``T`` training points, symmetric positive semi-definite, ``(T, T)``.
    Y
        Labels, ``(T,)`` or ``(T, k)`` for ``k`` label vectors at once.
    lam
        Ridge penalty > 0 (the paper's lambda; the effective diagonal shift is ``lam * T``).

    Returns
    -------
    numpy.ndarray
        ``c_hat``, the shape of ``Y``. Dohmatob et al. 2024, Appendix C.
    """
    from scipy.linalg import cho_factor, cho_solve

    G = _check_gram(G)
    T = G.shape[0]
    Y = _check_labels(Y, T)
    lam = _check_positive("lam", lam)
    A = G + lam * T * np.eye(T)
    return cho_solve(cho_factor(A, lower=True), Y)


class KernelRidgePath:
    """Kernel ridge regression for many penalties from one eigendecomposition ``G = V diag(e) V^T``.

    ``c_hat(lam) = V diag(1 / (e + lam T)) V^T Y`` (Dohmatob et al. 2024, Appendix C), exact for every ``lam > 0``.

    Parameters
    ----------
    G
        Gram matrix of the ``T`` training points, symmetric positive semi-definite, ``(T, T)``. Eigenvalues that
        rounding makes slightly negative are set to 0.
    """

    def __init__(self, G):
        G = _check_gram(G)
        evals, self.evecs = np.linalg.eigh(G)
        self.evals = np.maximum(evals, 0.0)
        self.T = G.shape[0]

    def coefficients(self, Y, lams) -> np.ndarray:
        """``c_hat`` for each penalty.

        Returns shape ``(len(lams), T)`` for ``Y`` of shape ``(T,)``, and ``(len(lams), T, k)`` for ``(T, k)``.
        """
        Y = _check_labels(Y, self.T)
        lams = _check_lams(lams)
        proj = self.evecs.T @ Y  # (T,) or (T, k)
        filt = 1.0 / (self.evals[None, :] + lams[:, None] * self.T)  # (L, T)
        if Y.ndim == 1:
            return (filt * proj[None, :]) @ self.evecs.T
        return np.einsum("ij,ljk->lik", self.evecs, filt[:, :, None] * proj[None, :, :])
