"""Closed forms of a Gaussian fitted to its own samples, under the four data policies.

Setting (Shumailov et al. 2024, Theorem 3.1; Kazdan et al. 2024, Gaussian part): real data are ``T`` draws from
``N(mu0, Sigma0)`` in ``d`` dimensions. Every iteration fits the sample mean and the sample covariance
``S / c`` (``S`` the scatter matrix of the ``N`` training points; ``c = N``, the maximum-likelihood estimate, "mle",
or ``c = N - 1``, the unbiased one) and the next training set is drawn from the fitted Gaussian. Iteration 1 fits
the real data. The policies differ in the training set of iteration ``i > 1``:

- replace: ``T`` fresh draws from fit ``i - 1``;
- replace-multiple: ``i T`` fresh draws from fit ``i - 1``;
- accumulate: the pool of all ``i T`` points so far (real and every synthetic chunk of ``T``);
- accumulate-subsample: ``T`` points drawn without replacement from that pool.

Every result below is derived in the book's Gaussian chapter and follows from two facts:
the scatter of ``m`` Gaussian draws is ``Wishart(m - 1, Sigma)`` and independent of their mean (Cochran), and the
Bartlett decomposition ``det Wishart_d(m - 1, I) = prod_{j<=d} chi^2_{m-j}`` (independent factors). With
``g_i = E Sigma_hat_i / Sigma0`` (a scalar, the same for every entry):

- replace-type (``m_i`` fresh draws: ``T``, or ``i T`` for replace-multiple):
  ``Sigma_hat_i = Sigma_hat_{i-1}^{1/2} W_i Sigma_hat_{i-1}^{1/2} / c(m_i)`` with ``W_i ~ Wishart_d(m_i - 1, I)`` iid,
  so ``g_i = prod_{k<=i} (m_k - 1)/c(m_k)``; ``ln det`` is a sum of independent ``ln chi^2`` terms (exact mean and
  variance through the digamma and trigamma functions); the mean is a random walk,
  ``E||mu_hat_i - mu0||^2 = tr Sigma0 sum_{k<=i} g_{k-1}/m_k``.
- accumulate: ``g_i = prod_{k<=i} (1 - 1/(k^2 T))`` (mle) ``-> sin(pi/sqrt(T))/(pi/sqrt(T))``;
  ``prod_{2<=k<=i} (1 - 1/(k(kT - 1)))`` (unbiased);
  ``E||mu_hat_i - mu0||^2 = (tr Sigma0/T)(1 + sum_{k<i} g_k/(k+1)^2)``.
- accumulate-subsample: a linear recursion for the pool's expected covariance (:func:`subsample_moments`).

numpy (and the standard library's gamma function) only: digamma and trigamma at half-integers are finite sums.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_utils.validation import Int, IntArray, OneOf, Real, fail, validate

EULER_GAMMA = 0.57721566490153286061
"""The Euler-Mascheroni constant, psi(1) = -EULER_GAMMA."""

ESTIMATORS = ("mle", "unbiased")
"""Covariance estimators: divide the scatter by N (maximum likelihood) or by N - 1 (unbiased)."""

POLICIES = ("replace", "accumulate", "accumulate-subsample", "replace-multiple")
"""The policies with closed forms here, by name (the theory layer does not import :mod:`collapse_utils.policies`)."""

_ITER = IntArray(1, ndim=None)
_EST = OneOf(*ESTIMATORS)
_REPLACE_TYPE = OneOf("replace", "replace-multiple")


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def _divisor(n_points, estimator: str):
    return n_points - 1 if estimator == "unbiased" else n_points


# ---------------------------------------------------------------------------------------------------------
# digamma and trigamma at half-integers (exact finite sums)
# ---------------------------------------------------------------------------------------------------------


@validate(m=IntArray(1, ndim=None))
def digamma_half(m):
    """``psi(m / 2)`` for integers ``m >= 1``, exactly, from finite sums.

    ``psi(k) = -gamma + sum_{j<k} 1/j`` and ``psi(k + 1/2) = -gamma - 2 ln 2 + sum_{j<=k} 2/(2j - 1)``
    (Abramowitz & Stegun 6.3.2 and 6.3.4).
    """
    top = int(m.max()) // 2 + 1
    j = np.arange(1, top + 1, dtype=float)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / j)])          # harmonic[k] = sum_{j<=k} 1/j
    odd = np.concatenate([[0.0], np.cumsum(2.0 / (2.0 * j - 1.0))])  # odd[k] = sum_{j<=k} 2/(2j-1)
    k = m // 2
    out = np.where(m % 2 == 0, -EULER_GAMMA + harmonic[np.maximum(k - 1, 0)],
                   -EULER_GAMMA - 2.0 * math.log(2.0) + odd[k])
    return _out(out)


@validate(m=IntArray(1, ndim=None))
def trigamma_half(m):
    """``psi'(m / 2)`` for integers ``m >= 1``, exactly: ``pi^2/6 - sum_{j<k} 1/j^2`` at ``k = m/2`` (even ``m``),
    ``pi^2/2 - 4 sum_{j<=k} 1/(2j - 1)^2`` at ``k + 1/2 = m/2`` (odd ``m``) (Abramowitz & Stegun 6.4.4, 6.4.5)."""
    top = int(m.max()) // 2 + 1
    j = np.arange(1, top + 1, dtype=float)
    # tails summed from the small terms up, so that pi^2/6 - partial sum keeps its relative precision
    inv_sq = 1.0 / j**2
    odd_sq = 4.0 / (2.0 * j - 1.0) ** 2
    tail_even = np.pi**2 / 6 - np.concatenate([[0.0], np.cumsum(inv_sq)])    # sum_{j>k} 1/j^2
    tail_odd = np.pi**2 / 2 - np.concatenate([[0.0], np.cumsum(odd_sq)])     # sum_{j>k} 4/(2j-1)^2
    k = m // 2
    out = np.where(m % 2 == 0, tail_even[np.maximum(k - 1, 0)], tail_odd[k])
    return _out(out)


# ---------------------------------------------------------------------------------------------------------
# replace and replace-multiple: a product of independent Wishart factors
# ---------------------------------------------------------------------------------------------------------


def _fresh_sizes(policy: str, top: int, T: int) -> np.ndarray:
    """Training-set sizes m_1..m_top of a replace-type policy (m_1 = T: the real data)."""
    i = np.arange(1, top + 1)
    return T * i if policy == "replace-multiple" else np.full(top, T)


def _cumulative(values: np.ndarray, iteration: np.ndarray, *, product: bool):
    """``prod`` (or ``sum``) of ``values[:i]`` for each ``i`` in ``iteration`` (i >= 0)."""
    table = np.concatenate([[1.0 if product else 0.0], np.cumprod(values) if product else np.cumsum(values)])
    return _out(table[iteration])


@validate(iteration=IntArray(0, ndim=None), T=Int(2), estimator=_EST, policy=_REPLACE_TYPE)
def replace_variance_ratio(iteration, T: int, estimator: str = "mle", policy: str = "replace"):
    """``g_i = E Sigma_hat_i / Sigma0 = prod_{k<=i} (m_k - 1)/c(m_k)`` under replace (``m_k = T``) or
    replace-multiple (``m_k = k T``); ``g_0 = 1``.

    Replace: ``((T - 1)/c)^i``, i.e. ``((T-1)/T)^i`` for the mle and 1 for the unbiased estimator (Shumailov et al.
    2024's setting; Kazdan et al. 2024's trace ratio). Replace-multiple (mle): ``prod_k (1 - 1/(kT))``, which still
    tends to 0, like ``i^(-1/T)``.
    """
    m = _fresh_sizes(policy, max(int(iteration.max()), 1), T).astype(float)
    return _cumulative((m - 1) / _divisor(m, estimator), iteration, product=True)


@validate(iteration=IntArray(0, ndim=None), T=Int(2), d=Int(1), estimator=_EST, policy=_REPLACE_TYPE)
def replace_det_ratio(iteration, T: int, d: int = 1, estimator: str = "mle", policy: str = "replace"):
    """``E det Sigma_hat_i / det Sigma0 = prod_{k<=i} prod_{j<=d} (m_k - j)/c(m_k)`` (Bartlett; independent
    generations). Exactly 0 when ``T <= d``: the real scatter matrix has rank ``T - 1 < d``, and replace never
    leaves that affine subspace. Kazdan et al. 2024's determinant ratio."""
    m = _fresh_sizes(policy, max(int(iteration.max()), 1), T).astype(float)
    j = np.arange(1, d + 1)
    factors = np.prod(np.maximum(m[:, None] - j, 0.0) / _divisor(m, estimator)[:, None], axis=1)
    return _cumulative(factors, iteration, product=True)


def _log_factor_moments(policy: str, top: int, T: int, d: int, estimator: str):
    m = _fresh_sizes(policy, top, T)
    j = np.arange(1, d + 1)
    dof = (m[:, None] - j).ravel()  # chi^2 degrees of freedom m_k - j, all >= 1 when T > d
    psi = np.asarray(digamma_half(dof)).reshape(top, d)
    tri = np.asarray(trigamma_half(dof)).reshape(top, d)
    c = _divisor(m, estimator).astype(float)
    mean = np.sum(psi + np.log(2.0) - np.log(c)[:, None], axis=1)  # E ln(chi^2_k / c) = psi(k/2) + ln(2/c)
    return mean, np.sum(tri, axis=1)


def _check_full_rank(T: int, d: int) -> None:
    if T <= d:
        fail("T", f"> d = {d} (with T <= d the fitted covariance is singular and ln det is -inf)", T)


@validate(iteration=IntArray(0, ndim=None), T=Int(2), d=Int(1), estimator=_EST, policy=_REPLACE_TYPE)
def replace_log_det_mean(iteration, T: int, d: int = 1, estimator: str = "mle", policy: str = "replace"):
    """``E ln(det Sigma_hat_i / det Sigma0) = sum_{k<=i} sum_{j<=d} [psi((m_k - j)/2) + ln(2/c(m_k))]``.

    Negative for both estimators (Jensen): by the strong law of large numbers ``ln det Sigma_hat_i / i`` tends to
    this drift per iteration, so under replace the fitted covariance goes to 0 almost surely, even where its
    expectation does not (Shumailov et al. 2024, Theorem 3.1). In 1-D: ``E ln(sigma_hat_i^2/sigma^2)``, about
    ``-2i/T`` (mle) or ``-i/T`` (unbiased).
    """
    _check_full_rank(T, d)
    mean, _ = _log_factor_moments(policy, max(int(iteration.max()), 1), T, d, estimator)
    return _cumulative(mean, iteration, product=False)


@validate(iteration=IntArray(0, ndim=None), T=Int(2), d=Int(1), estimator=_EST, policy=_REPLACE_TYPE)
def replace_log_det_var(iteration, T: int, d: int = 1, estimator: str = "mle", policy: str = "replace"):
    """``Var ln det Sigma_hat_i = sum_{k<=i} sum_{j<=d} psi'((m_k - j)/2)`` (independent ``ln chi^2`` terms; the
    estimator only shifts them). About ``2 i d/T`` under replace: the log-variance spreads like a random walk."""
    _check_full_rank(T, d)
    _, var = _log_factor_moments(policy, max(int(iteration.max()), 1), T, d, "mle")
    return _cumulative(var, iteration, product=False)


@validate(iteration=IntArray(0, ndim=None), T=Int(2), d=Int(1), estimator=_EST, policy=_REPLACE_TYPE)
def replace_trace_cv2(iteration, T: int, d: int = 1, estimator: str = "mle", policy: str = "replace"):
    """Squared coefficient of variation ``Var(tr Sigma_hat_i) / (E tr Sigma_hat_i)^2`` for ``Sigma0 = sigma^2 I``.

    With ``V ~ Wishart_d(n, B)``: ``E (tr V)^2 = n^2 (tr B)^2 + 2n tr B^2`` and ``E tr V^2 = n(n+1) tr B^2 +
    n (tr B)^2``, a linear recursion for the pair ``(E (tr Sigma_hat)^2, E tr Sigma_hat^2)``. In 1-D it is
    ``prod_k (m_k + 1)/(m_k - 1) - 1`` for both estimators: ``((T+1)/(T-1))^i - 1`` under replace, which grows
    exponentially. It says how many runs a Monte-Carlo mean of the trace needs: about this many times 100 for 10%.
    """
    top = int(iteration.max())
    m = _fresh_sizes(policy, max(top, 1), T)
    state = np.array([float(d) ** 2, float(d)])  # ((tr Sigma0)^2, tr Sigma0^2) / sigma^4
    mean = float(d)
    cv2 = [0.0]
    for k in range(top):
        n, c = float(m[k] - 1), float(_divisor(m[k], estimator))
        state = np.array([[n * n, 2 * n], [n, n * (n + 1)]]) @ state / c**2
        mean *= n / c
        cv2.append(state[0] / mean**2 - 1.0)
    return _out(np.asarray(cv2)[iteration])


@validate(iteration=_ITER, T=Int(2), d=Int(1), sigma2=Real(0), estimator=_EST, policy=_REPLACE_TYPE)
def replace_mean_error(iteration, T: int, d: int = 1, sigma2: float = 1.0, estimator: str = "mle",
                       policy: str = "replace"):
    """``E||mu_hat_i - mu0||^2 = tr Sigma0 sum_{k<=i} g_{k-1}/m_k``: the fitted mean is a random walk whose step
    ``k`` has covariance ``Sigma_hat_{k-1}/m_k``. Replace: ``(d sigma^2/T) sum_{k<i} g_k``, i.e. ``i d sigma^2/T``
    (unbiased: linear growth, the linear chapter's replace law) or ``d sigma^2 (1 - ((T-1)/T)^i)`` (mle: bounded).
    Replace-multiple, unbiased: ``(d sigma^2/T) H_i``, the linear chapter's replace-multiple law."""
    top = int(iteration.max())
    m = _fresh_sizes(policy, top, T).astype(float)
    g_prev = np.asarray(replace_variance_ratio(np.arange(top), T, estimator, policy), dtype=float)
    return _out(d * sigma2 * _cumulative(g_prev / m, iteration, product=False))


# ---------------------------------------------------------------------------------------------------------
# accumulate
# ---------------------------------------------------------------------------------------------------------


@validate(iteration=IntArray(0, ndim=None), T=Int(2), estimator=_EST)
def accumulate_variance_ratio(iteration, T: int, estimator: str = "mle"):
    """``g_i = E Sigma_hat_i / Sigma0`` under accumulate (fit ``i`` on the pool of ``i T`` points).

    Merging a chunk ``B`` of ``T`` draws from fit ``k`` into the pool of ``N = kT`` points adds
    ``S_B + (N T/(N + T)) (mean_B - mu_hat_k)(mean_B - mu_hat_k)^T`` to the scatter, with expectations
    ``(T - 1) Sigma_hat_k`` and ``Sigma_hat_k / T`` times ``N T/(N+T)``. Hence
    ``g_i = prod_{k<=i} (1 - 1/(k^2 T))`` (mle) and ``g_i = prod_{2<=k<=i} (1 - 1/(k (kT - 1)))`` (unbiased).
    Both are bounded away from 0; see :func:`accumulate_limit`.
    """
    k = np.arange(1, max(int(iteration.max()), 1) + 1, dtype=float)
    if estimator == "mle":
        factors = 1.0 - 1.0 / (k**2 * T)
    else:
        factors = np.where(k == 1, 1.0, 1.0 - 1.0 / (k * (k * T - 1.0)))
    return _cumulative(factors, iteration, product=True)


@validate(T=Int(3), estimator=_EST)
def accumulate_limit(T: int, estimator: str = "mle") -> float:
    """``lim_i g_i`` under accumulate: ``sin(pi x)/(pi x)`` at ``x = 1/sqrt(T)`` for the mle (Euler's product
    ``prod_k (1 - x^2/k^2)``), and ``(T-1)/(T-2) Gamma(1 - 1/T) / (Gamma(1 - r_+) Gamma(1 - r_-))`` with
    ``r_+- = (1 +- sqrt(1 + 4T))/(2T)`` for the unbiased estimator (the factors are
    ``(k - r_+)(k - r_-)/(k (k - 1/T))``, and ``prod_k (k+a)(k+b)/((k+c)(k+e))`` is a ratio of Gamma functions
    when ``a + b = c + e``). Derived for this book; the mle form is not given by Kazdan et al. 2024."""
    if estimator == "mle":
        x = math.pi / math.sqrt(T)
        return math.sin(x) / x
    root = math.sqrt(1.0 + 4.0 * T)
    r_plus, r_minus = (1.0 + root) / (2.0 * T), (1.0 - root) / (2.0 * T)
    log_ratio = math.lgamma(1.0 - 1.0 / T) - math.lgamma(1.0 - r_plus) - math.lgamma(1.0 - r_minus)
    return (T - 1.0) / (T - 2.0) * math.exp(log_ratio)


@validate(iteration=_ITER, T=Int(2), d=Int(1), sigma2=Real(0), estimator=_EST)
def accumulate_mean_error(iteration, T: int, d: int = 1, sigma2: float = 1.0, estimator: str = "mle"):
    """``E||mu_hat_i - mu0||^2 = (tr Sigma0/T) (1 + sum_{k=1}^{i-1} g_k/(k+1)^2)`` under accumulate: the pool mean
    moves by ``(mean_B - mu_hat_k)/(k+1)``, whose covariance is ``Sigma_hat_k/(T (k+1)^2)``. At most
    ``(pi^2/6) tr Sigma0/T`` (mle), the linear chapter's accumulate law when ``g_k = 1``."""
    top = int(iteration.max())
    k = np.arange(1, top, dtype=float)
    g = np.atleast_1d(np.asarray(accumulate_variance_ratio(np.arange(top), T, estimator), dtype=float))[1:]
    steps = np.concatenate([[1.0], g / (k + 1.0) ** 2])
    return _out(d * sigma2 / T * _cumulative(steps, iteration, product=False))


# ---------------------------------------------------------------------------------------------------------
# accumulate-subsample
# ---------------------------------------------------------------------------------------------------------


@validate(n_iterations=Int(1), T=Int(2), estimator=_EST)
def subsample_moments(n_iterations: int, T: int, estimator: str = "mle") -> dict[str, np.ndarray]:
    """Exact expected moments of accumulate-subsample, iterations ``1..n_iterations`` (``Sigma0 = I``, ``d = 1``;
    scale by ``Sigma0`` and ``tr Sigma0``).

    Fit ``i`` uses ``T`` of the pool's ``N = iT`` points, drawn without replacement. With ``C_i`` the pool's biased
    covariance and ``p_i = E C_i / Sigma0`` (``p_1 = (T-1)/T``): the fit's covariance has ``E[Sigma_hat_i | pool]
    = a_i C_i``, ``a_i = N/(N-1)`` times ``(T-1)/T`` (mle) or 1 (unbiased), and the subsample mean deviates from the
    pool mean ``M_i`` with covariance ``b_i C_i``, ``b_i = (N - T)/(T (N - 1))`` (sampling without replacement).
    Adding the chunk drawn from fit ``i`` to the pool gives

    ``(N + T) p_{i+1} = p_i [N + (T - 1) a_i + (N T/(N + T)) (a_i/T + b_i)]``,
    ``E||M_{i+1} - mu0||^2 = E||M_i - mu0||^2 + (T/(N + T))^2 p_i (b_i + a_i/T)``,

    with ``E||M_1 - mu0||^2 = 1/T``, and ``E||mu_hat_i - mu0||^2 = E||M_i - mu0||^2 + b_i p_i``.

    Returns
    -------
    dict
        ``variance_ratio`` (``g_i = a_i p_i``), ``mean_error`` (for ``tr Sigma0 = 1``) and ``pool_ratio``
        (``p_i``), each of length ``n_iterations``.
    """
    g, mean_err, pool = np.empty(n_iterations), np.empty(n_iterations), np.empty(n_iterations)
    p, pool_mean_err = (T - 1.0) / T, 1.0 / T
    for i in range(1, n_iterations + 1):
        N = float(i * T)
        a = N / (N - 1.0) * ((T - 1.0) / T if estimator == "mle" else 1.0)
        b = (N - T) / (T * (N - 1.0))
        g[i - 1], mean_err[i - 1], pool[i - 1] = a * p, pool_mean_err + b * p, p
        pool_mean_err += (T / (N + T)) ** 2 * p * (b + a / T)
        p = p * (N + (T - 1.0) * a + (N * T / (N + T)) * (a / T + b)) / (N + T)
    return {"variance_ratio": g, "mean_error": mean_err, "pool_ratio": pool}


@validate(iteration=_ITER, T=Int(2), estimator=_EST)
def subsample_variance_ratio(iteration, T: int, estimator: str = "mle"):
    """``g_i = E Sigma_hat_i / Sigma0`` under accumulate-subsample (:func:`subsample_moments`); bounded, below
    accumulate's, and tends to a positive limit."""
    return _out(subsample_moments(int(iteration.max()), T, estimator)["variance_ratio"][iteration - 1])


@validate(iteration=_ITER, T=Int(2), d=Int(1), sigma2=Real(0), estimator=_EST)
def subsample_mean_error(iteration, T: int, d: int = 1, sigma2: float = 1.0, estimator: str = "mle"):
    """``E||mu_hat_i - mu0||^2`` under accumulate-subsample (:func:`subsample_moments`), for ``Sigma0 = sigma^2 I``."""
    return _out(d * sigma2 * subsample_moments(int(iteration.max()), T, estimator)["mean_error"][iteration - 1])


# ---------------------------------------------------------------------------------------------------------
# one entry point per quantity, by policy name
# ---------------------------------------------------------------------------------------------------------


@validate(policy=OneOf(*POLICIES), iteration=_ITER, T=Int(2), estimator=_EST)
def variance_ratio(policy: str, iteration, T: int, estimator: str = "mle"):
    """``E tr Sigma_hat_i / tr Sigma0`` (= ``E sigma_hat_i^2 / sigma^2`` in 1-D) under ``policy``, by name."""
    if policy in ("replace", "replace-multiple"):
        return replace_variance_ratio(iteration, T, estimator, policy)
    if policy == "accumulate":
        return accumulate_variance_ratio(iteration, T, estimator)
    return subsample_variance_ratio(iteration, T, estimator)


@validate(policy=OneOf(*POLICIES), iteration=_ITER, T=Int(2), d=Int(1), sigma2=Real(0), estimator=_EST)
def mean_error(policy: str, iteration, T: int, d: int = 1, sigma2: float = 1.0, estimator: str = "mle"):
    """``E||mu_hat_i - mu0||^2`` for ``Sigma0 = sigma^2 I_d`` under ``policy``, by name."""
    if policy in ("replace", "replace-multiple"):
        return replace_mean_error(iteration, T, d, sigma2, estimator, policy)
    if policy == "accumulate":
        return accumulate_mean_error(iteration, T, d, sigma2, estimator)
    return subsample_mean_error(iteration, T, d, sigma2, estimator)
