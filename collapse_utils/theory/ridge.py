"""Closed forms of model collapse in (ridge) regression: Dohmatob, Feng, Kempe (2024), "Model Collapse Demystified".

Setting: x ~ N(0, Σ) in R^d, labels y = xᵀw + noise. A chain of n generators is fitted by OLS, each on T0 fresh rows
labelled by the previous generator with noise σ0² (ŵ0 = w0); the learner fits ridge (penalty λ) on T rows labelled by
the last generator with noise σ². The test error is ‖ŵ − w0‖²_Σ on clean data.

Conventions: Σ is given by its eigenvalues ``eigs`` (1-D, all > 0); w0 by ``w0_sq``, the squared coordinates
c_j² = (w0ᵀv_j)² in Σ's eigenbasis, so that w0ᵀΣ(Σ+κI)⁻²w0 = Σ_j c_j² λ_j/(λ_j+κ)². ``lam`` (λ >= 0) and ``n``
(generator fits, n = 0 is the clean learner) may be scalars or arrays; results broadcast over them and are a Python
float for scalar input. df_m(t) = tr Σ^m (Σ + tI)^{-m}, and κ = κ(λ, T) solves κ − λ = κ df_1(κ)/T (§4.2).

Two misprints of the paper are corrected where they matter: the collapse term is n σ0² ρ (eq. (1) prints n σ0 ρ),
and Theorem 4.1's exact form divides by T0 − d − 1 where eq. (19) has T0 − d (the same asymptotically).
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Int, IntArray, Real, RealArray, fail, validate

_BISECTION_STEPS = 200
"""Upper bound on the halvings of the log-κ bisection (it stops early once no bracket can shrink further)."""

_KAPPA_RTOL = 1e-10
"""Relative residual |κ − λ − κ df_1(κ)/T| / κ that every solved κ must meet, else RuntimeError."""


# ---------------------------------------------------------------------------------------------------------
# input constraints (the validation layer checks them at each public function)
# ---------------------------------------------------------------------------------------------------------

_LAM = RealArray(0)  # ridge penalties λ >= 0, scalar or array
_EIGS = RealArray(0, low_open=True, ndim=1)  # eigenvalues of Σ, all > 0
_SIZE = Int(1)  # sample sizes T, T0 and the dimension d
_FITS = IntArray(0, ndim=None)  # numbers of generator fits n >= 0, scalar or array
_RATIO = RealArray(0, low_open=True)  # φ = d/T > 0
_RATIO_BELOW_1 = RealArray(0, 1, low_open=True, high_open=True)  # φ in (0, 1)
_VAR = Real(0)  # noise variances σ², σ0²
_SIGNAL = Real(0)  # ‖w0‖² or ‖w0‖²_Σ


def _out(arr):
    arr = np.asarray(arr, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


# ---------------------------------------------------------------------------------------------------------
# degrees of freedom and κ
# ---------------------------------------------------------------------------------------------------------


def _df(m: int, t: np.ndarray, eigs: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.sum((eigs / (eigs + t[..., None])) ** m, axis=-1)


@validate(m=Int(1), t=RealArray(0, finite=False), eigs=_EIGS)
def df(m: int, t, eigs):
    """Degrees of freedom ``df_m(t) = tr Σ^m (Σ + tI)^{-m} = Σ_j (λ_j/(λ_j + t))^m`` (§4.2).

    Parameters
    ----------
    m : int
        Power >= 1 (the paper uses 1 and 2).
    t : float or array_like
        Arguments t >= 0 (``np.inf`` gives 0).
    eigs : array_like
        Eigenvalues of Σ.

    Returns
    -------
    float or numpy.ndarray
        df_m(t), the shape of ``t``; decreasing from d at t = 0.
    """
    return _out(_df(m, t, eigs))


def _kappa(lam: np.ndarray, T: int, eigs: np.ndarray) -> np.ndarray:
    """Vectorized κ(λ, T) for validated inputs; see :func:`kappa`."""
    lam = np.asarray(lam, dtype=float)
    flat = lam.ravel()
    out = np.zeros_like(flat)
    d = eigs.size
    trace = float(eigs.sum())
    need = (flat > 0) | (T < d)  # λ = 0 and T >= d gives κ = 0
    if np.any(need):
        lam_n = flat[need]
        # Brackets: for λ > 0, h(κ) = λ/κ + df_1(κ)/T − 1 is strictly decreasing with h(λ) > 0 >= h(λ + tr Σ/T).
        # For λ = 0 and T < d, h(κ) = df_1(κ)/T − 1 with df_1(κ) >= d λ_min/(λ_min + κ) > T at
        # κ = λ_min (d − T)/(2T), and df_1(tr Σ/T) < T.
        lo0 = eigs.min() * (d - T) / (2.0 * T) if T < d else 1.0
        lo = np.log(np.where(lam_n > 0, lam_n, lo0))
        hi = np.log(lam_n + trace / T)
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            k = np.exp(mid)
            above = lam_n / k + _df(1, k, eigs) / T - 1.0 > 0  # h > 0: the root lies above k
            stuck = (mid == lo) | (mid == hi)
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
            if np.all(stuck):
                break
        k = np.exp(0.5 * (lo + hi))
        out[need] = k
    residual = np.abs(out - flat - out * _df(1, out, eigs) / T)
    bad = residual > _KAPPA_RTOL * np.maximum(out, 1e-300)
    if np.any(bad):
        raise RuntimeError(
            f"kappa did not converge for lam={flat[bad][:5].tolist()} (T={T}, d={d}): relative residual "
            f"{(residual[bad] / np.maximum(out[bad], 1e-300))[:5].tolist()} > {_KAPPA_RTOL}"
        )
    return out.reshape(lam.shape)


@validate(lam=_LAM, T=_SIZE, eigs=_EIGS)
def kappa(lam, T: int, eigs):
    """Effective regularization κ(λ, T), the root of ``κ − λ = κ df_1(κ)/T`` (§4.2).

    For λ > 0 the root is unique in [λ, λ + tr Σ/T]; for λ = 0 it is 0 if T >= d, else the κ > 0 with df_1(κ) = T.
    Solved by a vectorized bisection in log κ; an entry whose relative residual exceeds 1e-10 raises RuntimeError.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    eigs : array_like
        Eigenvalues of Σ.

    Returns
    -------
    float or numpy.ndarray
        κ >= λ, the shape of ``lam``.
    """
    return _out(_kappa(lam, T, eigs))


def _kappa_iso(lam: np.ndarray, phi: np.ndarray) -> np.ndarray:
    b = (phi - 1.0) + lam  # φ − 1 is exact near φ = 1 (Sterbenz), so b keeps its relative accuracy there
    root = np.sqrt(b * b + 4.0 * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        # (b + root)/2 cancels when b < 0; there the equal form 2λ/(root − b) is used (root − b > 0).
        small = np.where(b < 0, 2.0 * lam / (root - b), 0.0)
    return np.where(b < 0, small, 0.5 * (b + root))


@validate(lam=_LAM, phi=_RATIO)
def kappa_isotropic(lam, phi):
    """κ for Σ = I: ``κ = (λ + φ − 1 + sqrt((λ + φ − 1)² + 4λ))/2``, the positive root of ``κ − λ = κφ/(1 + κ)``.

    Evaluated without cancellation (as 2λ/(sqrt(·) − (λ + φ − 1)) when λ + φ < 1); κ(0) = max(φ − 1, 0).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    phi : float or array_like
        φ = d/T > 0, broadcast with ``lam``.

    Returns
    -------
    float or numpy.ndarray
        κ.
    """
    return _out(_kappa_iso(lam, phi))


# ---------------------------------------------------------------------------------------------------------
# clean ridge (Proposition 4.2)
# ---------------------------------------------------------------------------------------------------------


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0/0 = 0 (a vanishing term) and x/0 = inf for x > 0 (a divergence at T = d, λ = 0)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(num == 0, 0.0, np.where(den == 0, np.inf, out))


def _bias(k: np.ndarray, T: int, eigs: np.ndarray, w0_sq: np.ndarray, df2: np.ndarray) -> np.ndarray:
    proj = np.sum(w0_sq * eigs / (eigs + k[..., None]) ** 2, axis=-1)
    return _safe_ratio(k**2 * proj, 1.0 - df2 / T)


def _variance(T: int, sigma2: float, df2: np.ndarray) -> np.ndarray:
    return _safe_ratio(sigma2 * df2 / T, 1.0 - df2 / T)


@validate(lam=_LAM, T=_SIZE, eigs=_EIGS, w0_sq=RealArray(0))
def ridge_bias(lam, T: int, eigs, w0_sq):
    """Bias of clean ridge, Proposition 4.2: ``κ² Σ_j c_j² λ_j/(λ_j + κ)² / (1 − df_2(κ)/T)``.

    Zero at κ = 0 (OLS with T >= d); unchanged by collapse when T0 >= d (Corollary 4.4).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    eigs : array_like
        Eigenvalues of Σ.
    w0_sq : array_like
        Squared coordinates c_j² >= 0 of w0 in Σ's eigenbasis, the shape of ``eigs``.

    Returns
    -------
    float or numpy.ndarray
        The bias.
    """
    if w0_sq.shape != eigs.shape:
        fail("w0_sq", f"of the shape of eigs, {eigs.shape} (one c_j² per eigenvalue)", w0_sq)
    k = _kappa(lam, T, eigs)
    return _out(_bias(k, T, eigs, w0_sq, _df(2, k, eigs)))


@validate(lam=_LAM, T=_SIZE, eigs=_EIGS, sigma2=_VAR)
def ridge_variance(lam, T: int, eigs, sigma2: float):
    """Variance of clean ridge, Proposition 4.2: ``σ² (df_2(κ)/T)/(1 − df_2(κ)/T)``.

    At λ = 0, T > d it is σ²φ/(1 − φ) (Theorem 4.1's exact form has T − d − 1 for T − d); infinite at λ = 0, T = d.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    eigs : array_like
        Eigenvalues of Σ.
    sigma2 : float
        Learner's label-noise variance σ² >= 0.

    Returns
    -------
    float or numpy.ndarray
        The variance.
    """
    k = _kappa(lam, T, eigs)
    return _out(_variance(T, sigma2, _df(2, k, eigs)))


@validate(lam=_LAM, phi=_RATIO, w0_norm2=_SIGNAL, sigma2=_VAR)
def ridge_clean_isotropic(lam, phi, w0_norm2: float, sigma2: float):
    """Clean ridge error for Σ = I, Proposition 4.2: ``(κ²‖w0‖² + σ²φ)/((1 + κ)² − φ)``, κ = κ_iso(λ, φ).

    Equals ``ridge_bias + ridge_variance`` at Σ = I_d, T = d/φ.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    phi : float or array_like
        φ = d/T > 0, broadcast with ``lam``.
    w0_norm2 : float
        ‖w0‖² >= 0.
    sigma2 : float
        Label-noise variance σ² >= 0.

    Returns
    -------
    float or numpy.ndarray
        Bias + variance.
    """
    k = _kappa_iso(lam, phi)
    den = (1.0 + k) ** 2 - phi
    return _out(_safe_ratio(k**2 * w0_norm2, den) + _safe_ratio(sigma2 * phi * np.ones_like(k), den))


# ---------------------------------------------------------------------------------------------------------
# OLS learner (Theorem 4.1)
# ---------------------------------------------------------------------------------------------------------


@validate(n=_FITS, d=_SIZE, T=_SIZE, T0=_SIZE, sigma2=_VAR, sigma02=_VAR)
def ols_collapse_error(n, d: int, T: int, T0: int, sigma2: float, sigma02: float):
    """Exact OLS test error after n generator fits, Theorem 4.1: ``σ² d/(T − d − 1) + n σ0² d/(T0 − d − 1)``.

    From E[(X0ᵀX0)⁻¹] = Σ⁻¹/(T0 − d − 1), any Σ; needs T, T0 >= d + 2. Linear in n: it plateaus at
    n σ0² d/(T0 − d − 1) as T → ∞.

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    d : int
        Dimension.
    T, T0 : int
        Sample sizes of the learner and of each generator.
    sigma2, sigma02 : float
        Label-noise variances of the learner (σ²) and of the generators (σ0²).

    Returns
    -------
    float or numpy.ndarray
        The error, the shape of ``n``.
    """
    for name, size in (("T", T), ("T0", T0)):
        if size < d + 2:
            fail(name, f">= d + 2 = {d + 2} (the inverse Wishart mean E[(XᵀX)⁻¹] exists only then)", size)
    return _out(sigma2 * d / (T - d - 1) + n * sigma02 * d / (T0 - d - 1))


@validate(n=_FITS, phi=_RATIO_BELOW_1, phi0=_RATIO_BELOW_1, sigma2=_VAR, sigma02=_VAR)
def ols_collapse_error_asymptotic(n, phi, phi0, sigma2: float, sigma02: float):
    """Proportional-limit OLS error, Theorem 4.1: ``σ²φ/(1 − φ) + n σ0² φ0/(1 − φ0)``.

    Equals :func:`collapse_test_error` at λ = 0 (Corollary 4.4 with λ = 0, φ < 1).

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    phi, phi0 : float or array_like
        d/T and d/T0, both in (0, 1); broadcast with ``n``.
    sigma2, sigma02 : float
        Noise variances σ², σ0².

    Returns
    -------
    float or numpy.ndarray
        The error.
    """
    return _out(sigma2 * phi / (1 - phi) + n * sigma02 * phi0 / (1 - phi0))


@validate(d=_SIZE, T=_SIZE, T0=_SIZE, sigma2=_VAR, sigma02=Real(0, low_open=True), w0_norm2_sigma=_SIGNAL)
def null_predictor_crossover(d: int, T: int, T0: int, sigma2: float, sigma02: float, w0_norm2_sigma: float) -> float:
    """The real n at which Theorem 4.1's OLS error reaches the null predictor's error ‖w0‖²_Σ.

    ``n* = (‖w0‖²_Σ − σ² d/(T − d − 1)) / (σ0² d/(T0 − d − 1))``: past n* the collapsed learner is worse than
    predicting 0 (negative if the clean learner already is). For σ = 0 in the proportional limit,
    n* = SNR0 (1/φ0 − 1) with SNR0 = ‖w0‖²_Σ/σ0².

    Parameters
    ----------
    d, T, T0 : int
        Dimension and sample sizes (T, T0 >= d + 2).
    sigma2 : float
        Learner's noise variance σ² >= 0.
    sigma02 : float
        Generators' noise variance σ0² > 0 (with σ0 = 0 the error never grows).
    w0_norm2_sigma : float
        ‖w0‖²_Σ = Σ_j c_j² λ_j.

    Returns
    -------
    float
        n*.
    """
    base = ols_collapse_error(0, d, T, T0, sigma2, sigma02)
    return float((w0_norm2_sigma - base) / (sigma02 * d / (T0 - d - 1)))


# ---------------------------------------------------------------------------------------------------------
# collapse term ρ (Theorem F.1 eq. (18), Corollary 4.4 eq. (19))
# ---------------------------------------------------------------------------------------------------------


def _rho19(k: np.ndarray, T: int, T0: int, eigs: np.ndarray, df2: np.ndarray) -> np.ndarray:
    d = eigs.size
    tr_inv2 = np.sum(1.0 / (eigs + k[..., None]) ** 2, axis=-1)
    return df2 / (T0 - d) + _safe_ratio(k**2 * tr_inv2 / (T0 - d) * df2, T - df2)


@validate(lam=_LAM, T=_SIZE, T0=_SIZE, eigs=_EIGS)
def rho_eq19(lam, T: int, T0: int, eigs):
    """Collapse factor ρ of Corollary 4.4, eq. (19), for T0 > d, with κ = κ(λ, T):

    ``ρ = df_2(κ)/(T0 − d) + κ² tr(Σ + κI)⁻²/(T0 − d) · df_2(κ)/(T − df_2(κ))``; d/(T0 − d) at λ = 0, T > d.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T, T0 : int
        Sample sizes of the learner and of each generator (T0 > d).
    eigs : array_like
        Eigenvalues of Σ.

    Returns
    -------
    float or numpy.ndarray
        ρ.
    """
    if T0 <= eigs.size:
        fail("T0", f"> d = {eigs.size} (eq. (19) divides by T0 − d)", T0)
    k = _kappa(lam, T, eigs)
    return _out(_rho19(k, T, T0, eigs, _df(2, k, eigs)))


@validate(lam=_LAM, phi=_RATIO, phi0=_RATIO_BELOW_1)
def rho_isotropic(lam, phi, phi0):
    """Isotropic collapse factor, Corollary 4.4 (Σ = I), with κ = κ_iso(λ, φ):

    ``ρ = φ0/(1 − φ0) · [1/(1+κ)² + (1/(1+κ)²) · φκ²/((1+κ)² − φ)]``; equals eq. (19) at Σ = I_d exactly.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    phi : float or array_like
        φ = d/T > 0.
    phi0 : float or array_like
        φ0 = d/T0 in (0, 1).

    Returns
    -------
    float or numpy.ndarray
        ρ.
    """
    k = _kappa_iso(lam, phi)
    a = 1.0 / (1.0 + k) ** 2
    return _out(phi0 / (1.0 - phi0) * (a + a * _safe_ratio(phi * k**2, (1.0 + k) ** 2 - phi)))


# ---------------------------------------------------------------------------------------------------------
# ridge learner under collapse (Corollary 4.4)
# ---------------------------------------------------------------------------------------------------------


_COLLAPSE = {"lam": _LAM, "T": _SIZE, "n": _FITS, "T0": _SIZE, "eigs": _EIGS, "w0_sq": RealArray(0), "sigma2": _VAR,
             "sigma02": _VAR}


@validate(**_COLLAPSE)
def collapse_terms(lam, T: int, n, T0: int, eigs, w0_sq, sigma2: float, sigma02: float) -> dict[str, np.ndarray]:
    """The three terms of Corollary 4.4: bias, variance (Proposition 4.2) and the collapse term n σ0² ρ (eq. (19)).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    n : int or array_like
        Number of generator fits (>= 0), broadcast with ``lam`` (lam (L,) and n (N, 1) give (N, L)).
    T0 : int
        Generators' sample size (> d).
    eigs, w0_sq : array_like
        Eigenvalues of Σ and squared coordinates of w0 in its eigenbasis (same shape).
    sigma2, sigma02 : float
        Noise variances of the learner and of the generators.

    Returns
    -------
    dict of str to numpy.ndarray
        "bias", "variance", "collapse", each broadcast to the common shape of ``lam`` and ``n``.
    """
    if w0_sq.shape != eigs.shape:
        fail("w0_sq", f"of the shape of eigs, {eigs.shape} (one c_j² per eigenvalue)", w0_sq)
    if T0 <= eigs.size:
        fail("T0", f"> d = {eigs.size} (eq. (19) divides by T0 − d)", T0)
    k = _kappa(lam, T, eigs)
    df2 = _df(2, k, eigs)
    bias = _bias(k, T, eigs, w0_sq, df2)
    variance = _variance(T, sigma2, df2)
    collapse = n * sigma02 * _rho19(k, T, T0, eigs, df2)
    bias, variance, collapse = (np.array(a, dtype=float) for a in np.broadcast_arrays(bias, variance, collapse))
    return {"bias": bias, "variance": variance, "collapse": collapse}


@validate(**_COLLAPSE)
def collapse_test_error(lam, T: int, n, T0: int, eigs, w0_sq, sigma2: float, sigma02: float):
    """Ridge test error after n generator fits, Corollary 4.4: ``E_test ≃ Bias + Var + n σ0² ρ``, T0 > d.

    Bias and Var of Proposition 4.2, ρ of eq. (19). At λ = 0, T > d it equals σ² d/(T − d) + n σ0² d/(T0 − d)
    (:func:`ols_collapse_error_asymptotic`). Parameters as :func:`collapse_terms`.

    Returns
    -------
    float or numpy.ndarray
        The error; float when ``lam`` and ``n`` are scalars.
    """
    terms = collapse_terms(lam, T, n, T0, eigs, w0_sq, sigma2, sigma02)
    return _out(terms["bias"] + terms["variance"] + terms["collapse"])


# ---------------------------------------------------------------------------------------------------------
# noiseless over-parametrized generators (Section 4.5)
# ---------------------------------------------------------------------------------------------------------


@validate(n=_FITS, phi0=_RATIO, w0_norm2=_SIGNAL)
def delta_bias_shared(n, phi0, w0_norm2: float):
    """Extra bias with one shared over-parametrized design, Theorem 4.5: ``ΔBias ≃ (1 − 1/φ0)‖w0‖²`` for n >= 1.

    Σ = I, σ0 = 0, X_m = X0, learner T > d with λ → 0⁺: ŵ_n = P0 w0 for every n >= 1. 0 for φ0 <= 1 or n = 0.

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    phi0 : float or array_like
        φ0 = d/T0 > 0, broadcast with ``n``.
    w0_norm2 : float
        ‖w0‖² >= 0.

    Returns
    -------
    float or numpy.ndarray
        ΔBias.
    """
    loss = (1.0 - np.minimum(1.0 / phi0, 1.0)) * w0_norm2
    return _out(np.where(n >= 1, loss, 0.0))


@validate(n=_FITS, phi0=_RATIO, w0_norm2=_SIGNAL)
def delta_bias_independent(n, phi0, w0_norm2: float):
    """Extra bias with independent over-parametrized designs, Theorem 4.6: ``ΔBias ≃ (1 − min(1/φ0, 1)^n)‖w0‖²``.

    Σ = I, σ0 = 0, φ_m = φ0 for every generator: for φ0 > 1 the learner collapses to the null predictor
    exponentially fast in n.

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    phi0 : float or array_like
        φ0 = d/T0 > 0, broadcast with ``n``.
    w0_norm2 : float
        ‖w0‖² >= 0.

    Returns
    -------
    float or numpy.ndarray
        ΔBias.
    """
    return _out((1.0 - np.minimum(1.0 / phi0, 1.0) ** n) * w0_norm2)


# ---------------------------------------------------------------------------------------------------------
# the optimal penalty (Figure 1's "sweet spot")
# ---------------------------------------------------------------------------------------------------------


@validate(T=_SIZE, n=_FITS, T0=_SIZE, eigs=_EIGS, w0_sq=RealArray(0), sigma2=_VAR, sigma02=_VAR)
def optimal_lambda(T: int, n, T0: int, eigs, w0_sq, sigma2: float, sigma02: float, *, lam_range=(1e-8, 1e3)):
    """The ridge penalty that minimizes Corollary 4.4's test error, and that error (Dohmatob et al. 2024, Fig. 1).

    For each n, a bounded Brent search (``scipy.optimize.minimize_scalar``) in log λ over ``lam_range`` minimizes
    :func:`collapse_test_error`; it locates λ* to a relative precision of about 1e-7. The paper's "sweet spot":
    λ* grows with n.

    Parameters
    ----------
    T : int
        Learner's sample size.
    n : int or array_like
        Number of generator fits (>= 0).
    T0 : int
        Generators' sample size (> d).
    eigs, w0_sq : array_like
        Eigenvalues of Σ and squared coordinates of w0 in its eigenbasis.
    sigma2, sigma02 : float
        Noise variances of the learner and of the generators.
    lam_range : tuple of float
        ``(low, high)`` with 0 < low < high: where to search. A minimum within 1e-6 (relative) of either end raises
        ValueError, as the true minimum may lie beyond it.

    Returns
    -------
    lam_star, error_star : float or numpy.ndarray
        λ* and the error there, the shape of ``n`` (floats for scalar ``n``).
    """
    from scipy.optimize import minimize_scalar

    try:
        lo, hi = (float(v) for v in lam_range)
    except (TypeError, ValueError):
        lo, hi = np.nan, np.nan
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        fail("lam_range", "a pair (low, high) of finite numbers with 0 < low < high", lam_range)
    n_arr = np.asarray(n)
    collapse_test_error(lo, T, n_arr, T0, eigs, w0_sq, sigma2, sigma02)  # the cross-parameter rules (T0 > d, ...)
    bounds = (np.log(lo), np.log(hi))
    lam_star, err_star = np.empty(n_arr.shape), np.empty(n_arr.shape)
    for idx, nk in np.ndenumerate(n_arr):
        res = minimize_scalar(lambda u, nk=nk: collapse_test_error(np.exp(u), T, nk, T0, eigs, w0_sq, sigma2, sigma02),
                              bounds=bounds, method="bounded", options={"xatol": 1e-7})
        if min(res.x - bounds[0], bounds[1] - res.x) < 1e-6:
            raise ValueError(f"lam_range must hold the minimum inside it, got {lam_range!r}: for n = {nk} the "
                             f"error is smallest at its end, λ = {np.exp(res.x):.3g}")
        lam_star[idx], err_star[idx] = np.exp(res.x), res.fun
    return _out(lam_star), _out(err_star)
