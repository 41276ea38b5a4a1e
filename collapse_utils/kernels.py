"""Kernel functions and kernel ridge regression on a precomputed Gram matrix (Dohmatob et al. 2024, Appendix C).

Kernels (the parameterization of scikit-learn's ``rbf_kernel`` and ``polynomial_kernel``):

- RBF: ``k(x, x') = exp(-gamma ||x - x'||^2)``;
- polynomial: ``k(x, x') = (coef0 + gamma x^T x')^degree``.

Kernel ridge regression in the paper's form: on ``T`` points with Gram matrix ``G = K(X, X)`` and labels ``Y``,
the coefficients are ``c_hat = (G + lambda T I)^{-1} Y`` and the predictor is ``f_hat(x) = K(X, x)^T c_hat``
(the minimizer of ``(1/T) sum_i (f(x_i) - y_i)^2 + lambda ||f||_H^2``). :class:`KernelRidgePath` diagonalizes
``G`` once and then gives ``c_hat`` for every ``lambda`` at the cost of two matrix products.
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Int, Optional, Real, RealArray, fail, validate

_POINTS = RealArray(ndim=2)  # points as rows (points x features), non-empty
_POSITIVE = Real(0, low_open=True)
_GRAM = RealArray(square=True)


def _pair(A: np.ndarray, B: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """``B`` (``A`` itself when None) and whether it is ``A``; fails unless A and B have the same features."""
    if B is None:
        return A, True
    if B.shape[1] != A.shape[1]:
        fail("B", f"points with the {A.shape[1]} features of A", B)
    return B, False


@validate(A=_POINTS, B=Optional(_POINTS), gamma=_POSITIVE)
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
    B, same = _pair(A, B)
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


@validate(A=_POINTS, B=Optional(_POINTS), gamma=_POSITIVE, degree=Int(1), coef0=Real(0))
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
    B, same = _pair(A, B)
    K = A @ B.T
    if same:
        K = (K + K.T) / 2
    K *= gamma
    K += coef0
    return K ** degree


def _rows(Y: np.ndarray, T: int) -> None:
    """Fail unless the labels ``Y`` are ``(T,)`` or ``(T, k)``: one row per training point."""
    if Y.ndim not in (1, 2) or Y.shape[0] != T:
        fail("Y", f"labels of shape ({T},) or ({T}, k), one row per training point", Y)


@validate(G=_GRAM, Y=RealArray(), lam=_POSITIVE)
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

    T = G.shape[0]
    _rows(Y, T)
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

    @validate(G=_GRAM)
    def __init__(self, G):
        evals, self.evecs = np.linalg.eigh(G)
        self.evals = np.maximum(evals, 0.0)
        self.T = G.shape[0]

    @validate(Y=RealArray(), lams=RealArray(0, low_open=True, ndim=1))
    def coefficients(self, Y, lams) -> np.ndarray:
        """``c_hat`` for each penalty.

        Returns shape ``(len(lams), T)`` for ``Y`` of shape ``(T,)``, and ``(len(lams), T, k)`` for ``(T, k)``.
        """
        _rows(Y, self.T)
        proj = self.evecs.T @ Y  # (T,) or (T, k)
        filt = 1.0 / (self.evals[None, :] + lams[:, None] * self.T)  # (L, T)
        if Y.ndim == 1:
            return (filt * proj[None, :]) @ self.evecs.T
        return np.einsum("ij,ljk->lik", self.evecs, filt[:, :, None] * proj[None, :, :])
