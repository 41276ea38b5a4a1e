"""The kernel fake-data chain and learner (collapse_utils.sim.kernel) against a slow, explicit reference."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from collapse_utils.kernels import polynomial_kernel, rbf_kernel
from collapse_utils.sim.kernel import KRRRuns, generator_chain, learner_test_errors, simulate_krr_collapse


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small eigendecompositions: a spin-waiting multi-threaded BLAS is 10x slower on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


N_POINTS, N_TEST = 90, 20


def _data(seed: int = 0):
    """90 points in R^5, a smooth truth, a held-out test set of 20."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(N_POINTS, 5))
    truth = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    test_idx = np.arange(N_POINTS - N_TEST, N_POINTS)
    pool_idx = np.arange(N_POINTS - N_TEST)
    return X, truth, pool_idx, test_idx


def _reference(X, truth, kernel, *, pool_idx, test_idx, T0, ns, Ts, lams, lam0, sigma0, sigma, n_runs, rng):
    """Straightforward implementation: kernels recomputed from points, one dense solve per fit and penalty."""
    out = np.empty((n_runs, len(Ts), len(ns), lams.shape[1]))
    n_max, T_max = max(ns), max(Ts)
    for i, run_rng in enumerate(rng.spawn(n_runs)):
        perm = run_rng.permutation(pool_idx)
        designs = [perm[m * T0:(m + 1) * T0] for m in range(n_max)]
        learner = perm[n_max * T0:n_max * T0 + T_max]
        # generators as functions of points: f(x) = sum_i c_i k(x_i, x)
        fits = []  # (design points, coefficients)

        def f(m, P, fits=fits):
            if m == 0:
                return truth[P]
            Xd, c = fits[m - 1]
            return kernel(X[P], X[Xd]) @ c

        for m in range(n_max):
            Xm = designs[m]
            y = f(m, Xm) + sigma0 * run_rng.standard_normal(T0)
            fits.append((Xm, np.linalg.solve(kernel(X[Xm], X[Xm]) + lam0 * T0 * np.eye(T0), y)))
        noise = sigma * run_rng.standard_normal(T_max)
        for t, T in enumerate(Ts):
            L = learner[:T]
            G = kernel(X[L], X[L])
            for j, n in enumerate(ns):
                y = f(n, L) + noise[:T]
                for q, lam in enumerate(lams[t]):
                    c = np.linalg.solve(G + lam * T * np.eye(T), y)
                    pred = kernel(X[test_idx], X[L]) @ c
                    out[i, t, j, q] = np.mean((pred - truth[test_idx]) ** 2)
    return out


@pytest.mark.parametrize("name", ["rbf", "polynomial"])
def test_simulation_equals_the_slow_reference(name):
    X, truth, pool_idx, test_idx = _data()
    kernel = {"rbf": lambda A, B: rbf_kernel(A, B, gamma=0.7),
              "polynomial": lambda A, B: polynomial_kernel(A, B, gamma=0.3, degree=3)}[name]
    K = kernel(X, X)
    Ts = np.array([1, 4, 15, 30])
    lams = np.stack([Ts ** -1.2, np.full(4, 10.0**-1.2)], axis=1)
    kw = dict(pool_idx=pool_idx, test_idx=test_idx, T0=10, ns=[0, 2, 1, 3], Ts=Ts, lams=lams, lam0=1e-3,
              sigma0=0.5, sigma=0.3, n_runs=3)
    runs = simulate_krr_collapse(K, truth, **kw, rng=np.random.default_rng(5))
    ref = _reference(X, truth, kernel, **kw, rng=np.random.default_rng(5))
    assert isinstance(runs, KRRRuns) and runs.errors.shape == (3, 4, 4, 2) and runs.n_runs == 3
    np.testing.assert_allclose(runs.errors, ref, rtol=1e-7)
    assert runs.mean().shape == runs.sem().shape == (4, 4, 2)
    np.testing.assert_array_equal(runs.generator_errors[:, 0], 0.0)  # n = 0 is the truth itself
    assert np.all(runs.generator_errors[:, 1:] > 0)


def test_noiseless_chain_with_tiny_ridge_reproduces_labels_on_its_training_points():
    X, truth, pool_idx, _ = _data()
    K = rbf_kernel(X, gamma=0.5)
    designs = pool_idx[:30].reshape(2, 15)
    # f_1 interpolates the truth on X_0; f_2 interpolates f_1 on X_1
    at_x0 = generator_chain(K, truth, designs, designs[0], lam0=1e-12, sigma0=0.0, rng=np.random.default_rng(0))
    np.testing.assert_allclose(at_x0[1], truth[designs[0]], atol=1e-6)
    at_x1 = generator_chain(K, truth, designs, designs[1], lam0=1e-12, sigma0=0.0, rng=np.random.default_rng(0))
    np.testing.assert_allclose(at_x1[2], at_x1[1], atol=1e-6)
    assert np.abs(at_x1[1] - truth[designs[1]]).max() > 1e-3  # off its design, f_1 is not the truth


def test_chain_noise_enters_through_sigma0_only():
    X, truth, pool_idx, _ = _data()
    K = rbf_kernel(X, gamma=0.5)
    designs = pool_idx[:20].reshape(1, 20)
    f = [generator_chain(K, truth, designs, pool_idx, lam0=0.01, sigma0=s, rng=np.random.default_rng(3))[1]
         for s in (0.0, 1.0, 2.0)]
    np.testing.assert_allclose(f[2] - f[0], 2 * (f[1] - f[0]), atol=1e-10)  # KRR is linear in the labels


def test_clean_learner_does_not_depend_on_the_generators():
    # n = 0 uses the truth; with common random numbers its errors are identical whatever sigma0 and lam0 are.
    X, truth, pool_idx, test_idx = _data()
    K = rbf_kernel(X, gamma=0.7)
    kw = dict(pool_idx=pool_idx, test_idx=test_idx, T0=8, ns=[0, 1], Ts=[5, 20], lams=np.full((2, 1), 1e-2),
              sigma=0.3, n_runs=2)
    a = simulate_krr_collapse(K, truth, **kw, lam0=1e-3, sigma0=0.0, rng=np.random.default_rng(1))
    b = simulate_krr_collapse(K, truth, **kw, lam0=1.0, sigma0=2.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.errors[:, :, 0], b.errors[:, :, 0])
    assert not np.allclose(a.errors[:, :, 1], b.errors[:, :, 1])


def test_learner_test_errors_direct():
    X, truth, pool_idx, test_idx = _data()
    K = rbf_kernel(X, gamma=0.7)
    L = pool_idx[:12]
    labels = np.stack([truth[L], np.zeros(12)])
    err = learner_test_errors(K, labels, L, test_idx, truth[test_idx], Ts=[12], lams=[[0.05]], sigma=0.0,
                              rng=np.random.default_rng(0))
    c = np.linalg.solve(K[np.ix_(L, L)] + 0.05 * 12 * np.eye(12), truth[L])
    expected = np.mean((K[np.ix_(test_idx, L)] @ c - truth[test_idx]) ** 2)
    assert err.shape == (1, 2, 1)
    assert err[0, 0, 0] == pytest.approx(expected, rel=1e-9)
    assert err[0, 1, 0] == pytest.approx(np.mean(truth[test_idx] ** 2), rel=1e-12)  # zero labels: predicts 0
