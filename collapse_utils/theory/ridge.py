"""Closed forms of model collapse in (ridge) regression: Dohmatob, Feng, Kempe (2024), "Model Collapse Demystified".

Setting (reference ``regression-collapse.md`` §1): x ~ N(0, Σ) in R^d, labels y = xᵀw + noise. A chain of n generators
is fitted by OLS, each on T0 fresh rows labelled by the previous generator with noise σ0² (ŵ0 = w0); the learner fits
ridge (penalty λ) on T rows labelled by the last generator with noise σ². The test error is ‖ŵ − w0‖²_Σ on clean data.

Conventions of this module (used by the chapter ``notebooks/ridge_collapse.ipynb``):

- Σ is given by its eigenvalues ``eigs`` (1-D, all > 0, length d); w0 by ``w0_sq``, the squared coordinates
  c_j² = (w0ᵀv_j)² of w0 in Σ's eigenbasis, so that w0ᵀΣ(Σ+κI)⁻²w0 = Σ_j c_j² λ_j/(λ_j+κ)² and ‖w0‖²_Σ = Σ_j c_j² λ_j.
- ``lam`` (ridge λ >= 0) may be a scalar or an array; results broadcast over it and are a Python float for scalar input.
- ``T``, ``T0`` are sample sizes (integers >= 1), ``n`` counts generator fits (integer >= 0, may be an array):
  n = 0 is the clean learner.
- df_m(t) = tr Σ^m (Σ + tI)^{-m} and κ = κ(λ, T) solves κ − λ = κ df_1(κ)/T (paper §4.2).

Exact results (Theorem 4.1, OLS, T0, T >= d + 2) and random-matrix equivalents (Proposition 4.2, Theorem F.1 eq. (18),
Corollary 4.4 eq. (19), Theorems 4.5 and 4.6). Where the printed paper has a typo the corrected form of the reference
(§7) is used and the docstring says so: the collapse term is n σ0² ρ (eq. (1) prints n σ0 ρ); eq. (19) divides by
T0 − d where Theorem F.1's exact form divides by T0 − d − 1; Theorem 4.1 is the case λ = 0, φ < 1 of Corollary 4.4.
"""

from __future__ import annotations

import numpy as np

_BISECTION_STEPS = 200
"""Upper bound on the halvings of the log-κ bisection (it stops early once no bracket can shrink further)."""

_KAPPA_RTOL = 1e-10
"""Relative residual |κ − λ − κ df_1(κ)/T| / κ that every solved κ must meet, else RuntimeError."""


# ---------------------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------------------


def _out(arr):
    arr = np.asarray(arr, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _numeric_array(name: str, value, what: str) -> np.ndarray:
    try:
        raw = np.asarray(value)
    except Exception as exc:  # ragged lists and other oddities
        raise ValueError(f"{name} ({what}) must be numeric, got {value!r}") from exc
    if raw.dtype == bool or raw.dtype.kind not in "iuf":
        raise ValueError(f"{name} ({what}) must be numeric, got {value!r}")
    return raw.astype(float)


def _check_lam(lam) -> np.ndarray:
    arr = _numeric_array("lam", lam, "ridge penalty λ")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"lam (ridge penalty λ) must be finite and >= 0, got non-finite value(s) in {lam!r}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"lam (ridge penalty λ) must be >= 0, got min {arr.min()!r}")
    return arr


def _check_eigs(eigs) -> np.ndarray:
    arr = _numeric_array("eigs", eigs, "eigenvalues of Σ")
    if arr.ndim != 1:
        raise ValueError(f"eigs (eigenvalues of Σ) must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("eigs (eigenvalues of Σ) must be non-empty (d >= 1), got an empty array")
    if not np.all(np.isfinite(arr)) or arr.min() <= 0:
        raise ValueError(
            f"eigs (eigenvalues of Σ) must all be finite and > 0 (Σ positive definite), got min {arr.min()!r}"
            + ("" if np.all(np.isfinite(arr)) else " and non-finite value(s)")
        )
    return arr


def _check_w0_sq(w0_sq, eigs: np.ndarray) -> np.ndarray:
    arr = _numeric_array("w0_sq", w0_sq, "squared coordinates of w0 in Σ's eigenbasis")
    if arr.shape != eigs.shape:
        raise ValueError(
            f"w0_sq has shape {arr.shape} but eigs has shape {eigs.shape}: w0_sq holds the squared coordinates "
            "c_j² of w0 in Σ's eigenbasis, one per eigenvalue"
        )
    if not np.all(np.isfinite(arr)) or (arr.size and arr.min() < 0):
        raise ValueError(f"w0_sq (squared coordinates c_j² of w0) must be finite and >= 0, got {w0_sq!r}")
    return arr


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_var(name: str, value) -> float:
    if isinstance(value, bool) or not np.isscalar(value) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} (noise variance) must be a finite number >= 0, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} (noise variance) must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_nonneg(name: str, value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} ({what}) must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_counts(n) -> np.ndarray:
    arr = np.asarray(n)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(f"n (number of generator fits) must hold integers >= 0, got {n!r}")
    if arr.dtype.kind == "f" and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
        raise ValueError(f"n (number of generator fits) must hold integers >= 0, got {n!r}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"n (number of generator fits) must hold integers >= 0, got min {arr.min()!r}")
    return arr.astype(float)


def _check_phi(name: str, value, upper: float | None = None) -> np.ndarray:
    what = "dimension-to-sample ratio d/T" if name == "phi" else "dimension-to-sample ratio d/T0"
    arr = _numeric_array(name, value, what)
    if not np.all(np.isfinite(arr)) or (arr.size and arr.min() <= 0):
        raise ValueError(f"{name} ({what}) must be finite and > 0, got {value!r}")
    if upper is not None and arr.size and arr.max() >= upper:
        raise ValueError(f"{name} ({what}) must be < {upper} here, got max {arr.max()!r}")
    return arr


def _check_T0_exact(T0: int, d: int) -> None:
    if T0 < d + 2:
        raise ValueError(
            f"the formula needs T0 >= d + 2, got T0={T0}, d={d}: E[(X0ᵀX0)⁻¹] = Σ⁻¹/(T0 − d − 1), the mean of an "
            "inverse Wishart matrix, exists only for T0 >= d + 2"
        )


def _check_T0_above_d(T0: int, d: int) -> None:
    if T0 <= d:
        raise ValueError(
            f"eq. (19) needs T0 > d, got T0={T0}, d={d}: it divides by T0 − d"
        )


# ---------------------------------------------------------------------------------------------------------
# degrees of freedom and κ
# ---------------------------------------------------------------------------------------------------------


def _df(m: int, t: np.ndarray, eigs: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.sum((eigs / (eigs + t[..., None])) ** m, axis=-1)


def df(m: int, t, eigs):
    """Degrees of freedom ``df_m(t) = tr Σ^m (Σ + tI)^{-m} = Σ_j (λ_j/(λ_j + t))^m`` (Dohmatob et al. 2024, §4.2).

    Parameters
    ----------
    m : int
        Power, an integer >= 1 (the paper uses m = 1 and m = 2).
    t : float or array_like
        Arguments t >= 0 (``np.inf`` gives 0); the result has the shape of ``t``.
    eigs : array_like
        Eigenvalues of Σ (1-D, all > 0).

    Returns
    -------
    float or numpy.ndarray
        df_m(t), decreasing in t from d at t = 0; float for scalar ``t``.

    Used by ``notebooks/ridge_collapse.ipynb``.
    """
    m = _check_int("m", m, 1)
    eigs = _check_eigs(eigs)
    t_arr = _numeric_array("t", t, "argument of df_m")
    if np.any(np.isnan(t_arr)) or (t_arr.size and t_arr.min() < 0):
        raise ValueError(f"t (argument of df_m) must be >= 0, got {t!r}")
    return _out(_df(m, t_arr, eigs))


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


def kappa(lam, T: int, eigs):
    """Effective regularization ``κ(λ, T)``: the root of ``κ − λ = κ df_1(κ)/T`` (Dohmatob et al. 2024, §4.2).

    For λ > 0 the root is unique and lies in [λ, λ + tr Σ/T] (``λ/κ + df_1(κ)/T = 1`` is strictly decreasing in κ).
    For λ = 0 (ridgeless): κ = 0 if T >= d, else the unique κ > 0 with df_1(κ) = T.
    Solved by a fully vectorized bisection in log κ (up to 200 halvings), then checked: every entry must satisfy
    ``|κ − λ − κ df_1(κ)/T| <= 1e-10 κ``, else RuntimeError (never a silent non-convergence).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size (>= 1).
    eigs : array_like
        Eigenvalues of Σ (1-D, all > 0).

    Returns
    -------
    float or numpy.ndarray
        κ(λ, T) >= λ, the shape of ``lam``; float for scalar ``lam``.

    Raises
    ------
    ValueError
        For λ < 0 or non-finite, T not an integer >= 1, or bad ``eigs``.
    RuntimeError
        If the bisection failed the residual check for any λ (names lam and T).

    Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    T = _check_int("T", T, 1)
    eigs = _check_eigs(eigs)
    return _out(_kappa(lam, T, eigs))


def _kappa_iso(lam: np.ndarray, phi: np.ndarray) -> np.ndarray:
    b = (phi - 1.0) + lam  # φ − 1 is exact near φ = 1 (Sterbenz), so b keeps its relative accuracy there
    root = np.sqrt(b * b + 4.0 * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        # (b + root)/2 cancels when b < 0; there the equal form 2λ/(root − b) is used (root − b > 0).
        small = np.where(b < 0, 2.0 * lam / (root - b), 0.0)
    return np.where(b < 0, small, 0.5 * (b + root))


def kappa_isotropic(lam, phi):
    """Closed-form κ for Σ = I: ``κ = (λ + φ − 1 + sqrt((λ + φ − 1)² + 4λ))/2`` (Dohmatob et al. 2024, §4.2).

    It is the positive root of κ² + (1 − λ − φ)κ − λ = 0, i.e. of ``κ − λ = κφ/(1 + κ)`` (df_1(κ) = d/(1 + κ));
    κ(0) = max(φ − 1, 0). Evaluated without cancellation (the form 2λ/(sqrt(·) − (λ + φ − 1)) when λ + φ < 1).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    phi : float or array_like
        φ = d/T > 0; broadcasts with ``lam``.

    Returns
    -------
    float or numpy.ndarray
        κ; float when both inputs are scalars. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    phi = _check_phi("phi", phi)
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


def ridge_bias(lam, T: int, eigs, w0_sq):
    """Bias of clean ridge, Proposition 4.2: ``κ² Σ_j c_j² λ_j/(λ_j + κ)² / (1 − df_2(κ)/T)`` (Dohmatob et al. 2024).

    The deterministic equivalent of ``E‖Σ̂Rw0 − w0‖²_Σ`` with κ = κ(λ, T) and w0ᵀΣ(Σ + κI)⁻²w0 = Σ_j c_j² λ_j/(λ_j + κ)².
    Zero at κ = 0 (OLS with T >= d is unbiased). The bias is not changed by collapse when T0 >= d (Corollary 4.4).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    eigs : array_like
        Eigenvalues of Σ (1-D, all > 0).
    w0_sq : array_like
        Squared coordinates c_j² of w0 in Σ's eigenbasis, same shape as ``eigs``.

    Returns
    -------
    float or numpy.ndarray
        The bias. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    T = _check_int("T", T, 1)
    eigs = _check_eigs(eigs)
    w0_sq = _check_w0_sq(w0_sq, eigs)
    k = _kappa(lam, T, eigs)
    return _out(_bias(k, T, eigs, w0_sq, _df(2, k, eigs)))


def ridge_variance(lam, T: int, eigs, sigma2: float):
    """Variance of clean ridge, Proposition 4.2: ``σ² (df_2(κ)/T)/(1 − df_2(κ)/T)`` (Dohmatob et al. 2024).

    The deterministic equivalent of ``σ² (1/T) E tr ΣR²Σ̂`` with κ = κ(λ, T). At λ = 0, T > d it is σ²φ/(1 − φ),
    φ = d/T (Theorem 4.1's exact form has T − d − 1 in place of T − d); infinite at λ = 0, T = d when σ² > 0.

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
        The variance. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    T = _check_int("T", T, 1)
    eigs = _check_eigs(eigs)
    sigma2 = _check_var("sigma2", sigma2)
    k = _kappa(lam, T, eigs)
    return _out(_variance(T, sigma2, _df(2, k, eigs)))


def ridge_clean_isotropic(lam, phi, w0_norm2: float, sigma2: float):
    """Clean ridge error for Σ = I, Proposition 4.2: ``(κ²‖w0‖² + σ²φ)/((1 + κ)² − φ)`` (Dohmatob et al. 2024).

    κ = :func:`kappa_isotropic` (λ, φ). Equals ``ridge_bias + ridge_variance`` at Σ = I_d, T = d/φ, exactly.
    At λ = 0 it is σ²φ/(1 − φ) for φ < 1 and ‖w0‖²(1 − 1/φ) + σ²/(φ − 1) for φ > 1; infinite at λ = 0, φ = 1 (σ² > 0).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    phi : float or array_like
        φ = d/T > 0, broadcasts with ``lam``.
    w0_norm2 : float
        ‖w0‖² >= 0.
    sigma2 : float
        Label-noise variance σ² >= 0.

    Returns
    -------
    float or numpy.ndarray
        Bias + variance. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    phi = _check_phi("phi", phi)
    w0_norm2 = _check_nonneg("w0_norm2", w0_norm2, "‖w0‖²")
    sigma2 = _check_var("sigma2", sigma2)
    k = _kappa_iso(lam, phi)
    den = (1.0 + k) ** 2 - phi
    return _out(_safe_ratio(k**2 * w0_norm2, den) + _safe_ratio(sigma2 * phi * np.ones_like(k), den))


# ---------------------------------------------------------------------------------------------------------
# OLS learner (Theorem 4.1)
# ---------------------------------------------------------------------------------------------------------


def ols_collapse_error(n, d: int, T: int, T0: int, sigma2: float, sigma02: float):
    """Exact OLS test error after n generator fits, Theorem 4.1 (Dohmatob et al. 2024), any Σ.

    ``E_test = σ² d/(T − d − 1) + n σ0² d/(T0 − d − 1)``, from E[(X0ᵀX0)⁻¹] = Σ⁻¹/(T0 − d − 1). Linear in n: for
    T → ∞ it plateaus at n σ0² d/(T0 − d − 1) instead of vanishing. Needs T >= d + 2 and T0 >= d + 2.
    The collapse term is n σ0² (not n σ0, a typo of the printed eq. (1)).

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0); n = 0 is the clean OLS error.
    d : int
        Dimension.
    T, T0 : int
        Sample sizes of the learner and of each generator (both >= d + 2).
    sigma2, sigma02 : float
        Label-noise variances of the learner (σ²) and of the generators (σ0²).

    Returns
    -------
    float or numpy.ndarray
        The error, the shape of ``n``. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    n = _check_counts(n)
    d = _check_int("d", d, 1)
    T = _check_int("T", T, 1)
    T0 = _check_int("T0", T0, 1)
    if T < d + 2:
        raise ValueError(
            f"the formula needs T >= d + 2, got T={T}, d={d}: E[(XᵀX)⁻¹] (inverse Wishart mean) exists only then"
        )
    _check_T0_exact(T0, d)
    sigma2 = _check_var("sigma2", sigma2)
    sigma02 = _check_var("sigma02", sigma02)
    return _out(sigma2 * d / (T - d - 1) + n * sigma02 * d / (T0 - d - 1))


def ols_collapse_error_asymptotic(n, phi, phi0, sigma2: float, sigma02: float):
    """Proportional-limit OLS error, Theorem 4.1 (Dohmatob et al. 2024): ``σ²φ/(1−φ) + n σ0² φ0/(1−φ0)``.

    φ = d/T < 1 and φ0 = d/T0 < 1. The collapse term n σ0² φ0/(1 − φ0) is linear in n (n σ0², not the printed
    n σ0). It equals :func:`collapse_test_error` at λ = 0 exactly (Corollary 4.4 with λ = 0, φ < 1).

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
        The error. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    n = _check_counts(n)
    phi = _check_phi("phi", phi, upper=1.0)
    phi0 = _check_phi("phi0", phi0, upper=1.0)
    sigma2 = _check_var("sigma2", sigma2)
    sigma02 = _check_var("sigma02", sigma02)
    return _out(sigma2 * phi / (1 - phi) + n * sigma02 * phi0 / (1 - phi0))


def null_predictor_crossover(d: int, T: int, T0: int, sigma2: float, sigma02: float, w0_norm2_sigma: float) -> float:
    """The real n at which Theorem 4.1's exact OLS error equals the null predictor's error ‖w0‖²_Σ.

    ``n* = (‖w0‖²_Σ − σ² d/(T − d − 1)) / (σ0² d/(T0 − d − 1))`` (Dohmatob et al. 2024, Theorem 4.1 and the remark
    after it): past n* the collapsed OLS learner is worse than predicting 0. Negative when the clean learner is already
    worse than 0. In the proportional limit with σ = 0 it is SNR0 (1/φ0 − 1), SNR0 = ‖w0‖²_Σ/σ0²: n* grows as φ0
    shrinks (the reference's "n ≳ SNR0/(1/φ0 − 1)" has the factor inverted; the two agree only at φ0 = 1/2).

    Parameters
    ----------
    d, T, T0 : int
        Dimension and sample sizes (T, T0 >= d + 2).
    sigma2 : float
        Learner's noise variance σ² >= 0.
    sigma02 : float
        Generators' noise variance σ0² > 0 (with σ0 = 0 the OLS error never grows).
    w0_norm2_sigma : float
        ‖w0‖²_Σ = w0ᵀΣw0 = Σ_j c_j² λ_j.

    Returns
    -------
    float
        n*. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    base = ols_collapse_error(0, d, T, T0, sigma2, sigma02)
    sigma02 = _check_var("sigma02", sigma02)
    if sigma02 == 0:
        raise ValueError("sigma02 must be > 0 here: with noiseless generators the OLS error never grows with n")
    w0_norm2_sigma = _check_nonneg("w0_norm2_sigma", w0_norm2_sigma, "‖w0‖²_Σ")
    return float((w0_norm2_sigma - base) / (sigma02 * d / (T0 - d - 1)))


# ---------------------------------------------------------------------------------------------------------
# collapse term ρ (Theorem F.1 eq. (18), Corollary 4.4 eq. (19))
# ---------------------------------------------------------------------------------------------------------


def _rho19(k: np.ndarray, T: int, T0: int, eigs: np.ndarray, df2: np.ndarray) -> np.ndarray:
    d = eigs.size
    tr_inv2 = np.sum(1.0 / (eigs + k[..., None]) ** 2, axis=-1)
    return df2 / (T0 - d) + _safe_ratio(k**2 * tr_inv2 / (T0 - d) * df2, T - df2)


def rho_eq19(lam, T: int, T0: int, eigs):
    """Collapse factor ρ of Corollary 4.4, eq. (19) (Dohmatob et al. 2024), for T0 > d.

    ``ρ = df_2(κ)/(T0 − d) + κ² tr(Σ + κI)⁻²/(T0 − d) · df_2(κ)/(T − df_2(κ))`` with κ = κ(λ, T).
    Uses T0 − d as printed in (19); Theorem F.1's exact form has T0 − d − 1 (reference §7, typo 4: the same
    asymptotically). Prop. F.6's T0 >= d special case disagrees with (19); (19) is used.
    At λ = 0, T > d it is d/(T0 − d).

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
        ρ. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    T = _check_int("T", T, 1)
    T0 = _check_int("T0", T0, 1)
    eigs = _check_eigs(eigs)
    _check_T0_above_d(T0, eigs.size)
    k = _kappa(lam, T, eigs)
    return _out(_rho19(k, T, T0, eigs, _df(2, k, eigs)))


def rho_isotropic(lam, phi, phi0):
    """Isotropic collapse factor, Corollary 4.4 (Dohmatob et al. 2024), Σ = I.

    ``ρ = φ0/(1 − φ0) · [1/(1+κ)² + (1/(1+κ)²) · φκ²/((1+κ)² − φ)]`` with κ = kappa_isotropic(λ, φ). It equals
    eq. (19) at Σ = I_d exactly, with φ = d/T, φ0 = d/T0 (d/(T0 − d) = φ0/(1 − φ0)). Needs φ0 < 1.

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
        ρ. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    phi = _check_phi("phi", phi)
    phi0 = _check_phi("phi0", phi0, upper=1.0)
    k = _kappa_iso(lam, phi)
    a = 1.0 / (1.0 + k) ** 2
    return _out(phi0 / (1.0 - phi0) * (a + a * _safe_ratio(phi * k**2, (1.0 + k) ** 2 - phi)))


# ---------------------------------------------------------------------------------------------------------
# ridge learner under collapse (Corollary 4.4)
# ---------------------------------------------------------------------------------------------------------


def collapse_terms(lam, T: int, n, T0: int, eigs, w0_sq, sigma2: float, sigma02: float) -> dict[str, np.ndarray]:
    """The three terms of Corollary 4.4 (Dohmatob et al. 2024): bias, variance and the collapse term n σ0² ρ.

    ``{"bias": ridge_bias, "variance": ridge_variance, "collapse": n σ0² rho_eq19}``, each a numpy array broadcast
    to the common shape of ``lam`` and ``n`` (e.g. lam of shape (L,) and n of shape (N, 1) give (N, L)), so a chapter
    can stack them. n σ0² ρ, not the printed n σ0 ρ (reference §7, typo 1). Needs T0 > d.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
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

    Returns
    -------
    dict of str to numpy.ndarray
        Keys "bias", "variance", "collapse". Used by ``notebooks/ridge_collapse.ipynb``.
    """
    lam = _check_lam(lam)
    T = _check_int("T", T, 1)
    n = _check_counts(n)
    T0 = _check_int("T0", T0, 1)
    eigs = _check_eigs(eigs)
    w0_sq = _check_w0_sq(w0_sq, eigs)
    sigma2 = _check_var("sigma2", sigma2)
    sigma02 = _check_var("sigma02", sigma02)
    _check_T0_above_d(T0, eigs.size)
    k = _kappa(lam, T, eigs)
    df2 = _df(2, k, eigs)
    bias = _bias(k, T, eigs, w0_sq, df2)
    variance = _variance(T, sigma2, df2)
    collapse = n * sigma02 * _rho19(k, T, T0, eigs, df2)
    bias, variance, collapse = (np.array(a, dtype=float) for a in np.broadcast_arrays(bias, variance, collapse))
    return {"bias": bias, "variance": variance, "collapse": collapse}


def collapse_test_error(lam, T: int, n, T0: int, eigs, w0_sq, sigma2: float, sigma02: float):
    """Ridge test error after n generator fits, Corollary 4.4 (Dohmatob et al. 2024), T0 > d.

    ``E_test ≃ Bias + Var + n σ0² ρ`` with Bias, Var of Proposition 4.2 and ρ of eq. (19) (:func:`rho_eq19`).
    Uses n σ0² ρ (the printed eq. (1) has n σ0 ρ) and T0 − d as in (19) (Theorem F.1's exact form: T0 − d − 1).
    At λ = 0 and T > d it equals σ² d/(T − d) + n σ0² d/(T0 − d) = :func:`ols_collapse_error_asymptotic`, i.e.
    Theorem 4.1 with T − d, T0 − d in place of T − d − 1, T0 − d − 1.

    Parameters
    ----------
    lam : float or array_like
        Ridge penalties λ >= 0.
    T : int
        Learner's sample size.
    n : int or array_like
        Number of generator fits (>= 0), broadcasts with ``lam``.
    T0 : int
        Generators' sample size (> d).
    eigs, w0_sq : array_like
        Eigenvalues of Σ and squared coordinates of w0 in its eigenbasis.
    sigma2, sigma02 : float
        Noise variances of the learner and of the generators.

    Returns
    -------
    float or numpy.ndarray
        The error; float when ``lam`` and ``n`` are scalars. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    terms = collapse_terms(lam, T, n, T0, eigs, w0_sq, sigma2, sigma02)
    return _out(terms["bias"] + terms["variance"] + terms["collapse"])


# ---------------------------------------------------------------------------------------------------------
# noiseless over-parametrized generators (Section 4.5)
# ---------------------------------------------------------------------------------------------------------


def delta_bias_shared(n, phi0, w0_norm2: float):
    """Extra bias with one shared over-parametrized design, Theorem 4.5 (Dohmatob et al. 2024).

    Σ = I, σ0 = 0, X_m = X0 for all m, learner T > d with λ → 0⁺: ŵ_n = P0 w0 for every n >= 1, so
    ``ΔBias ≃ (1 − 1/φ0)‖w0‖²`` for φ0 = d/T0 > 1, 0 for φ0 <= 1, the same for all n >= 1, and 0 at n = 0.

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    phi0 : float or array_like
        φ0 = d/T0 > 0; broadcasts with ``n``.
    w0_norm2 : float
        ‖w0‖² >= 0.

    Returns
    -------
    float or numpy.ndarray
        ΔBias. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    n = _check_counts(n)
    phi0 = _check_phi("phi0", phi0)
    w0_norm2 = _check_nonneg("w0_norm2", w0_norm2, "‖w0‖²")
    loss = (1.0 - np.minimum(1.0 / phi0, 1.0)) * w0_norm2
    return _out(np.where(n >= 1, loss, 0.0))


def delta_bias_independent(n, phi0, w0_norm2: float):
    """Extra bias with independent over-parametrized designs, Theorem 4.6 (Dohmatob et al. 2024).

    Σ = I, σ0 = 0, φ_m = φ0 for every generator: ``ΔBias ≃ (1 − η)‖w0‖²`` with η = min(1/φ0, 1)^n, i.e.
    (1 − φ0^{−n})‖w0‖² for φ0 > 1: exponentially fast collapse to the null predictor. 0 for φ0 <= 1 or n = 0.

    Parameters
    ----------
    n : int or array_like
        Number of generator fits (>= 0).
    phi0 : float or array_like
        φ0 = d/T0 > 0; broadcasts with ``n``.
    w0_norm2 : float
        ‖w0‖² >= 0.

    Returns
    -------
    float or numpy.ndarray
        ΔBias. Used by ``notebooks/ridge_collapse.ipynb``.
    """
    n = _check_counts(n)
    phi0 = _check_phi("phi0", phi0)
    w0_norm2 = _check_nonneg("w0_norm2", w0_norm2, "‖w0‖²")
    return _out((1.0 - np.minimum(1.0 / phi0, 1.0) ** n) * w0_norm2)


# ---------------------------------------------------------------------------------------------------------
# the optimal penalty (Figure 1's "sweet spot")
# ---------------------------------------------------------------------------------------------------------


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
        raise ValueError(f"lam_range must be a pair (low, high) of finite numbers with 0 < low < high, "
                         f"got {lam_range!r}")
    n_arr = np.asarray(n)
    collapse_test_error(lo, T, n_arr, T0, eigs, w0_sq, sigma2, sigma02)  # validates every argument once
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
