"""The kernel ridge MNIST chapter's page (``notebooks/mnist_krr.ipynb``): its tables, figures, checks and rows.

The notebook computes the Gram matrices, estimates the spectra (``collapse_utils.spectrum``) and runs the chain
(``collapse_utils.sim.kernel.simulate_krr_collapse``); the functions here turn those results into what the page
shows. Everything is keyed by kernel name (``"RBF"``, ``"polynomial"``): ``fits`` holds ``PowerLawFit``s, ``runs``
``KRRRuns`` whose ``errors`` are ``(run, T, n, rule)``, rule 0 the clean-optimal penalty ``T^-l_crit`` and rule 1 the
collapse-aware ``T^-l_star``, and ``paper`` the paper's (Cui et al.'s) ``(beta, r)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from collapse_utils import chapter, checks, plotting
from collapse_utils.chapter import MarkdownTable, Row, fmt_value, markdown_table
from collapse_utils.theory.scaling import exponents, loglog_slope

KEYS = {"RBF": "rbf", "polynomial": "poly"}
"""The short name of each kernel in glue keys."""
SWEEP_COLUMNS = ["$f_1$ error", "$f_5$ error", "factor, $n = 0$", "factor, $n = 1$", "factor, $n = 5$",
                 "$z$, $n = 1$", "$z$, $n = 5$"]


def _fit_exponents(fits) -> dict:
    """The exponents (``ell_crit``, ``c``, ...) of each kernel's fitted ``(beta, r)``."""
    return {name: exponents(fit.beta, fit.r) for name, fit in fits.items()}


def _agrees(slope: float, se: float, c: float) -> bool:
    """Whether a clean log-log slope lies within 3 standard errors of the rate ``-c``."""
    return abs(slope + c) <= 3 * se


def kernel_scale_table(K, gamma: dict, probe_idx, degree: int = 5) -> MarkdownTable:
    """The typical kernel values on pixels in [0, 1] and what they would be on raw pixels (0–255).

    Parameters
    ----------
    K
        ``{"RBF": Gram matrix, "polynomial": Gram matrix}`` over all digits.
    gamma
        Each kernel's ``gamma``.
    probe_idx
        The digits whose pairwise values give the medians.
    degree
        The polynomial kernel's degree.
    """
    probe = np.ix_(probe_idx, probe_idx)
    off = ~np.eye(len(probe_idx), dtype=bool)  # pairs of distinct digits
    rbf_median = np.median(K["RBF"][probe][off])
    sq_dist = -np.log(rbf_median) / gamma["RBF"]  # the median ||x - x'||^2 on [0, 1] pixels
    inner = np.median(K["polynomial"][probe][off] ** (1 / degree) - 1) / gamma["polynomial"]  # median x.x'
    return markdown_table(pd.DataFrame(
        {"pixels in [0, 1]": [f"{rbf_median:.3f}", f"{np.median(np.diag(K['polynomial'])):.2f}"],
         "raw pixels, 0–255": [f"{np.exp(-gamma['RBF'] * 255**2 * sq_dist):.0e}",
                               f"{(1 + gamma['polynomial'] * 255**2 * inner) ** degree:.0e}"]},
        index=pd.Index(["RBF: median $k(x, x')$ between two digits", "polynomial: median $k(x, x)$"], name="")))


def exponents_table(fits, paper: dict, other_ranges) -> MarkdownTable:
    """The paper's ``(beta, r)`` against our fits, their range over ``other_ranges`` of ``k``, and our exponents."""

    def span(values, digits):
        return f"{min(values):.{digits}f}–{max(values):.{digits}f}"

    fit_ex = _fit_exponents(fits)
    rows = {}
    for name, fit in fits.items():
        refits = [fit.refit(kr) for kr in other_ranges]
        rows[name] = {
            "$\\beta$: paper (Cui et al.)": paper[name][0], "$\\beta$: fit": f"{fit.beta:.2f}",
            "$\\beta$: other ranges": span([a.beta for a in refits], 2),
            "$r$: paper (Cui et al.)": paper[name][1], "$r$: fit": f"{fit.r:.3f}",
            "$r$: other ranges": span([a.r for a in refits], 3),
            "$\\ell_{\\text{crit}}$, $c$ from the fit": f"{fit_ex[name].ell_crit:.2f}, {fit_ex[name].c:.3f}",
        }
    return markdown_table(pd.DataFrame(rows).rename_axis("kernel"))


def figure_spectrum(fits, paper: dict, k_range: tuple[int, int]):
    """Each kernel's eigenvalues (top) and residual energy of the target (bottom), our fitted laws over ``k_range``
    and the slopes of the paper's exponents; returns the figure."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), sharex=True)
    k_fit = np.arange(k_range[0], k_range[1] + 1)
    colors = (plotting.OKABE_ITO["blue"], plotting.OKABE_ITO["vermillion"])
    for name, color in zip(fits, colors, strict=True):
        fit, (beta_p, r_p) = fits[name], paper[name]
        k = np.arange(1, fit.eigenvalues.size + 1)
        for ax, data, law, slope_p in ((axes[0], fit.eigenvalues, fit.eigenvalue_law, beta_p),
                                       (axes[1], fit.residual, fit.residual_law, 2 * beta_p * r_p)):
            ax.plot(k[data > 0], data[data > 0], color=color, linewidth=1.2, label=f"{name} kernel")
            ax.plot(k_fit, law(k_fit), "--", color="black", linewidth=1.2)
            paper_law = law(k_range[0]) * (k_fit / k_range[0]) ** -slope_p
            ax.plot(k_fit, paper_law, ":", color=color, linewidth=2.2)
            ax.set(xscale="log", yscale="log")
            ax.axvspan(*k_range, color="0.85", alpha=0.5, linewidth=0)
    axes[0].set_ylabel("eigenvalue $\\lambda_k$ of $G/N$")
    axes[1].set(xlabel="eigen-index $k$", ylabel="residual energy $R(k)$", ylim=(1e-3, 1))
    axes[0].legend(title="dashed: our fit (grey band: its range)\ndotted: slope of Cui et al.'s exponents")
    return fig


def chain_table(K, paper: dict, design_idx, lam0: float) -> MarkdownTable:
    """The paper's ``ell_crit`` and ``c``, the constant penalty ``T0^-ell_crit``, and how many eigenvalues of a
    generator's Gram matrix (on ``design_idx``, ``T0`` digits) lie above its penalty ``lam0 T0``."""
    T0 = len(design_idx)
    ex = {name: exponents(*paper[name]) for name in K}
    gram = {name: np.linalg.eigvalsh(K[name][np.ix_(design_idx, design_idx)]) for name in K}
    return markdown_table(pd.DataFrame(
        {"$\\ell_{\\text{crit}}$": [f"{e.ell_crit:.4f}" for e in ex.values()],
         "$c$": [f"{e.c:.4f}" for e in ex.values()],
         "$\\lambda_\\star = T_0^{-\\ell_{\\text{crit}}}$": [f"{T0**-e.ell_crit:.3g}" for e in ex.values()],
         "generator's Gram eigenvalues above $\\lambda_0 T_0$": [f"{np.mean(g > lam0 * T0):.0%}"
                                                                  for g in gram.values()],
         "smallest": [f"{g.min():.1g}" for g in gram.values()]},
        index=pd.Index(list(K), name="kernel")))


def figure_learning_curves(runs, T0: int, constant: float):
    """The paper's Figure 4: mean test error against ``T`` per ``n``, solid for ``T^-ell_crit``, dashed for
    ``T^-ell_star``, one panel per kernel, with ``T0`` and the ``constant`` prediction's error; returns the figure."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 8.5), sharex=True, sharey=True)
    for ax, (name, r) in zip(axes, runs.items(), strict=True):
        mean, sem = r.mean(), r.sem()
        plotting.plot_by_n(ax, r.Ts, mean[..., 0], r.ns, sem=sem[..., 0], style="-o", band=True, ms=3.5)
        plotting.plot_by_n(ax, r.Ts, mean[..., 1], r.ns, sem=sem[..., 1], style="--", band=True, label=False)
        ax.axvline(T0, color="0.4", linestyle=":")
        ax.axhline(constant, color="black", linewidth=0.8, label="constant $\\frac{1}{2}$")
        ax.set(xscale="log", yscale="log", ylabel="test error", title=f"{name} kernel")
    axes[-1].set_xlabel("learner sample size $T$")
    axes[0].legend(ncols=3, loc="upper right", title="solid: $T^{-\\ell_{crit}}$; dashed: $T^{-\\ell_\\star}$")
    return fig


def check_claims(runs, i_T0: int, i_max: int) -> dict:
    """Assert the page's claims 1 to 4 for every kernel, paired over runs, at ``T_max`` (index ``i_max``) against
    ``T0`` (index ``i_T0``): clean data keep paying off, synthetic data stop, ``ell_star`` does better under collapse,
    and only under collapse.

    Returns
    -------
    dict
        ``{kernel: [(mean, se, z) of claim 1, ..., of claim 4]}`` (:func:`collapse_utils.checks.assert_paired_gain`).
    """
    claims = {}
    for name, r in runs.items():
        err = r.errors
        pairs = ((err[:, i_T0, 0, 0], err[:, i_max, 0, 0]),  # each as (larger, smaller)
                 (err[:, i_max, 1:, 0], err[:, i_T0, 1:, 0]),
                 (err[:, i_max, 1:, 0], err[:, i_max, 1:, 1]),
                 (err[:, i_max, 0, 1], err[:, i_max, 0, 0]))
        claims[name] = [checks.assert_paired_gain(*pair, what=f"{name}: claim {i}")
                        for i, pair in enumerate(pairs, start=1)]
    return claims


def clean_slopes(runs, rng: np.random.Generator, band: tuple[int, int] = (100, 1000), n_boot: int = 500) -> dict:
    """Each kernel's log-log slope of the clean (``n = 0``, ``ell_crit``) mean error over ``T`` in ``band``, with its
    bootstrap standard error over the runs (the same ``n_boot`` resamples, drawn from ``rng``, for every kernel).

    Returns
    -------
    dict
        ``{kernel: (slope, standard error)}``.
    """
    n_runs = next(iter(runs.values())).n_runs
    boot = rng.integers(0, n_runs, size=(n_boot, n_runs))
    slopes = {}
    for name, r in runs.items():
        inside = (r.Ts >= band[0]) & (r.Ts <= band[1])
        clean = r.errors[:, inside, 0, 0]
        boot_slopes = [loglog_slope(r.Ts[inside], clean[b].mean(0)) for b in boot]
        slopes[name] = (loglog_slope(r.Ts[inside], clean.mean(0)), np.std(boot_slopes, ddof=1))
    return slopes


def check_clean_rates(slopes: dict, paper: dict, fits) -> None:
    """Assert what the page says of the clean slopes: RBF's agrees with ``-c`` of the paper's exponents (within 3
    standard errors), the polynomial kernel's does not, but agrees with ``-c`` of our fitted exponents."""
    agree = {name: _agrees(s, se, exponents(*paper[name]).c) for name, (s, se) in slopes.items()}
    s, se = slopes["polynomial"]
    c_fit = _fit_exponents(fits)["polynomial"].c
    if not agree["RBF"]:
        raise AssertionError(f"RBF's clean slope {slopes['RBF'][0]:.4f} ± {slopes['RBF'][1]:.4f} is not within "
                             "3 s.e. of the paper's -c")
    if agree["polynomial"] or not _agrees(s, se, c_fit):
        raise AssertionError(f"the polynomial kernel's clean slope {s:.4f} ± {se:.4f} should disagree with the "
                             f"paper's -c and agree with ours ({-c_fit:.4f})")


def check_learner_beats_generator(runs, i_T0: int) -> None:
    """Assert that from ``T0`` (index ``i_T0``) on, for every ``n >= 1`` and both penalties, the learner's test error
    is below its generator's (paired over runs)."""
    for name, r in runs.items():
        gen = r.generator_errors[:, None, 1:, None]
        checks.assert_paired_gain(gen, r.errors[:, i_T0:, 1:], what=f"{name}: generator")


def error_table(runs, i_T0: int, i_max: int) -> MarkdownTable:
    """Mean test errors per kernel and ``n``: the generator ``f_n``, and the learner at ``T0`` and ``T_max``."""
    rows = [(name, n, r.generator_errors.mean(0)[j], *r.mean()[[i_T0, i_max], j, 0], r.mean()[i_max, j, 1])
            for name, r in runs.items() for j, n in enumerate(r.ns)]
    columns = ["kernel", "$n$", "generator $f_n$", "$\\ell_{crit}$, $T_0$", "$\\ell_{crit}$, $T_{\\max}$",
               "$\\ell_\\star$, $T_{\\max}$"]
    table = pd.DataFrame(rows, columns=columns)
    return markdown_table(table.map(lambda v: f"{v:.3g}" if isinstance(v, float) else v), index=False)


def glue_numbers(slopes: dict, paper: dict, fits, claims: dict) -> MarkdownTable:
    """Glue each kernel's clean slope, the rates ``c`` of the paper's and of our exponents, and the smallest ``z``
    of claim 3; returns them as a table."""
    fit_ex, numbers = _fit_exponents(fits), {}
    for name, key in KEYS.items():
        slope, se = slopes[name]
        numbers |= {
            f"slope_{key}": (f"{name}: clean slope, $T$ = 100 to 1,000 (± 1 s.e.)", f"{fmt_value(slope)} ± {se:.3f}"),
            f"c_{key}": (f"{name}: $c$ of the paper's exponents", f"{exponents(*paper[name]).c:.4f}"),
            f"cfit_{key}": (f"{name}: $c$ of our exponents", f"{fit_ex[name].c:.3f}"),
            f"z3_{key}": (f"{name}: smallest $z$ of claim 3", f"{claims[name][2][2].min():.1f}"),
        }
    return chapter.glue_numbers(numbers)


def _z_star_minus_crit(runs) -> np.ndarray:
    """Per ``n``: z of the paired difference ``ell_star - ell_crit`` at the second (largest) ``T`` of ``runs``."""
    diff = runs.errors[:, 1, :, 1] - runs.errors[:, 1, :, 0]
    return diff.mean(0) / diff.std(0, ddof=1) * len(diff) ** 0.5


def check_synthetic_gains_less(sweep: dict) -> None:
    """Assert, for every kernel and generators' penalty of ``sweep`` (``{(kernel, lambda0 label): KRRRuns}`` at
    ``T0`` and ``T_max``), that the ``ell_crit`` learner's error factor from ``T0`` to ``T_max`` is larger for every
    ``n >= 1`` than for ``n = 0`` (paired over runs): synthetic labels gain less from more data than clean ones."""
    for (name, label), r in sweep.items():
        factor = r.errors[:, 1, :, 0] / r.errors[:, 0, :, 0]  # per run: error at T_max / at T0, l_crit
        checks.assert_paired_gain(factor[:, 1:], factor[:, :1], what=f"{name}, lambda0 = {label}")


def sweep_table(sweep: dict) -> MarkdownTable:
    """Per kernel and generators' penalty (``{(kernel, lambda0 label): KRRRuns}`` at ``T0`` and ``T_max``): the
    generators' errors, the ``ell_crit`` learner's error factor from ``T0`` to ``T_max`` and z of ``ell_star -
    ell_crit`` at ``T_max``, for ``n = 0, 1`` and the largest ``n``."""
    rows = {}
    for (name, label), r in sweep.items():
        gen, m, z = r.generator_errors.mean(0), r.mean(), _z_star_minus_crit(r)
        factors = m[1, [0, 1, -1], 0] / m[0, [0, 1, -1], 0]
        rows[f"{name}, {label}"] = [gen[1], gen[-1], *factors, z[1], z[-1]]
    table = pd.DataFrame(rows, index=SWEEP_COLUMNS).T.rename_axis("kernel, $\\lambda_0$")
    return markdown_table(table.map(lambda v: fmt_value(v, 2)))


def glue_sensitivity(sweep: dict, label: str) -> None:
    """Glue, per kernel, z of ``ell_star - ell_crit`` at ``T_max`` and ``n = 1`` with the generators' penalty
    ``label`` of ``sweep`` (``sens_z1_rbf``, ``sens_z1_poly``)."""
    for name, key in KEYS.items():
        glue(f"sens_z1_{key}", fmt_value(_z_star_minus_crit(sweep[(name, label)])[1], 1, signed=True),
             display=False)


def paper_table(runs, fits, slopes: dict, paper: dict, i_T0: int, i_max: int) -> MarkdownTable:
    """The "paper vs this book" rows: the exponents, the clean learning curves, and the ``n >= 1`` errors past
    ``T0`` and under ``ell_star``; stored for the results page under ``make execute``."""
    fit_ex = _fit_exponents(fits)
    ex = {name: exponents(*paper[name]) for name in runs}
    agree = {name: _agrees(s, se, ex[name].c) for name, (s, se) in slopes.items()}
    m = {name: r.mean() for name, r in runs.items()}

    def factors(values):
        return ", ".join(f"×{v:.2f}" for v in values) + " ($n = 1, 2, 5$)"

    rows = [Row(f"$(\\beta, r)$, {name} kernel", f"({paper[name][0]}, {paper[name][1]})", "reported",
                f"({fits[name].beta:.2f}, {fits[name].r:.3f}) on our digits", "not reproduced",
                "the paper quotes Cui et al.'s estimates" + ("; $\\beta$ agrees" if name == "RBF" else ""))
            for name in runs]
    rows += [Row(f"Clean learning curve, {name} ($n = 0$)", f"slope $-c$ = {fmt_value(-ex[name].c, 4)}", "derived",
                 f"{fmt_value(slopes[name][0])} ± {slopes[name][1]:.3f}",
                 "reproduced" if agree[name] else "not reproduced",
                 "" if agree[name] else f"our exponents' $-c$ = {fmt_value(-fit_ex[name].c)} agrees")
             for name in runs]
    rows += [Row(f"$n \\ge 1$, $\\ell_{{crit}}$: error past $T_0$, {name}", "stops improving", "reported",
                 "grows " + factors(m[name][i_max, 1:, 0] / m[name][i_T0, 1:, 0]), "reproduced")
             for name in runs]
    rows += [Row(f"$\\ell_\\star$ vs $\\ell_{{crit}}$ at $T = 1000$, {name}", "$\\ell_\\star$ better", "reported",
                 "error " + factors(m[name][i_max, 1:, 1] / m[name][i_max, 1:, 0]), "reproduced")
             for name in runs]
    return chapter.paper_table(rows, chapter="mnist-krr", section="sec-mnist-paper")
