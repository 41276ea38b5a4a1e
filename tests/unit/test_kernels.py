"""Kernel functions and kernel ridge regression on a Gram matrix (collapse_utils.kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from collapse_utils.kernels import KernelRidgePath, krr_solve, polynomial_kernel, rbf_kernel


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small eigendecompositions: a spin-waiting multi-threaded BLAS is 10x slower on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


def _points(n: int, p: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, size=(n, p))


def test_rbf_matches_the_formula_entry_by_entry():
    A, B = _points(7), _points(5, seed=1)
    K = rbf_kernel(A, B, gamma=0.3)
    direct = np.array([[np.exp(-0.3 * np.sum((a - b) ** 2)) for b in B] for a in A])
    np.testing.assert_allclose(K, direct, rtol=1e-12, atol=0)
    np.testing.assert_allclose(rbf_kernel(A, gamma=0.3), rbf_kernel(A, A.copy(), gamma=0.3), rtol=1e-12, atol=1e-15)


def test_polynomial_matches_the_formula_entry_by_entry():
    A, B = _points(7), _points(5, seed=1)
    K = polynomial_kernel(A, B, gamma=0.2, degree=5, coef0=1.0)
    direct = np.array([[(1.0 + 0.2 * a @ b) ** 5 for b in B] for a in A])
    np.testing.assert_allclose(K, direct, rtol=1e-12, atol=0)
    homogeneous = polynomial_kernel(A, B, gamma=0.2, degree=3, coef0=0.0)
    np.testing.assert_allclose(homogeneous, (0.2 * A @ B.T) ** 3, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kernel", [lambda X: rbf_kernel(X, gamma=0.5), lambda X: polynomial_kernel(X, gamma=0.5)],
                         ids=["rbf", "polynomial"])
def test_gram_matrices_are_symmetric_psd(kernel):
    G = kernel(_points(40, p=3, seed=2))
    assert np.array_equal(G, G.T)
    eigs = np.linalg.eigvalsh(G)
    assert eigs.min() > -1e-10 * eigs.max()


def test_rbf_gram_has_unit_diagonal_even_for_large_inputs():
    X = _points(20) * 255.0  # rounding in ||a||^2 + ||a||^2 - 2 a.a must not leak into the diagonal
    np.testing.assert_array_equal(np.diag(rbf_kernel(X, gamma=1e-4)), 1.0)


def _problem(T: int = 30, k: int = 3):
    X = _points(T, p=4, seed=3)
    G = rbf_kernel(X, gamma=2.0)
    Y = np.random.default_rng(4).standard_normal((T, k))
    return G, Y


def test_one_eigendecomposition_equals_direct_solves_for_every_lambda():
    G, Y = _problem()
    T = G.shape[0]
    lams = np.array([1e-6, 1e-3, 0.1, 10.0])
    path = KernelRidgePath(G)
    C = path.coefficients(Y, lams)
    c1 = path.coefficients(Y[:, 0], lams)
    assert C.shape == (4, T, 3) and c1.shape == (4, T)
    for i, lam in enumerate(lams):
        direct = np.linalg.solve(G + lam * T * np.eye(T), Y)  # the paper's (G + lambda T I)^{-1} Y
        np.testing.assert_allclose(C[i], direct, rtol=1e-8, atol=1e-10 * np.abs(direct).max())
        np.testing.assert_allclose(krr_solve(G, Y, lam), direct, rtol=1e-8, atol=1e-10 * np.abs(direct).max())
        np.testing.assert_allclose(c1[i], direct[:, 0], rtol=1e-8, atol=1e-10 * np.abs(direct).max())


def test_krr_interpolates_as_lambda_vanishes_and_shrinks_to_zero_as_it_grows():
    G, Y = _problem(k=1)
    path = KernelRidgePath(G)
    tiny, huge = path.coefficients(Y[:, 0], [1e-12, 1e6])
    np.testing.assert_allclose(G @ tiny, Y[:, 0], atol=1e-4)
    assert np.abs(G @ huge).max() < 1e-4 * np.abs(Y).max()
