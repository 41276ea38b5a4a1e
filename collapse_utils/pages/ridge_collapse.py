"""The page of ``notebooks/ridge_collapse.ipynb``: its figures, tables, glued numbers, checks and paper rows.

The notebook runs the simulations (:func:`collapse_utils.sim.ridge.simulate_ridge_collapse`, returning
:class:`~collapse_utils.sim.ridge.RidgeRuns`) and evaluates the formulas of :mod:`collapse_utils.theory.ridge`; the
functions here turn those into what the page shows. :func:`figure_lambda_sweep` serves the scaling-laws page too.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from collapse_utils import chapter, checks, plotting
from collapse_utils.sim.ridge import RidgeRuns
from collapse_utils.theory import ridge as theory

PARTS = ("bias", "variance", "collapse")
"""The three parts of the learner's test error, stacked in this order."""


def figure_chain():
    """The generator chain and the learner (the paper's Figure 3)."""
    fig, ax = plt.subplots(figsize=(8, 2.4))
    plotting.draw_generator_chain(ax)
    plt.show()
    return fig


def check_theorem41(ols: RidgeRuns, exact) -> dict:
    """Assert that the OLS learner's simulated errors match Theorem 4.1 (exact) within the family-wise bound.

    ``ols`` holds one ``T`` and one penalty (0); ``exact`` is Theorem 4.1 at ``ols.ns``. Returns
    :func:`collapse_utils.checks.assert_calibrated`'s summary (``max_abs_z``, ``threshold``).
    """
    z = checks.zscores(ols.mean()[0, :, 0], ols.sem()[0, :, 0], exact)
    return checks.assert_calibrated(z, distribution=False, what="Theorem 4.1")


def check_null_crossover(ols: RidgeRuns, n_star: float, null_error: float = 1.0) -> int:
    """Assert that the first simulated ``n`` whose mean error exceeds the null predictor's lies within 1 of
    ``ceil(n_star)`` (Theorem 4.1's crossover); return that ``n``."""
    above = ols.mean()[0, :, 0] > null_error
    if not above.any():
        raise AssertionError(f"null-predictor crossover: no simulated n up to {ols.ns.max()} has an error above "
                             f"{null_error:g} (Theorem 4.1 predicts n* = {n_star:.1f})")
    n_sim = int(ols.ns[np.argmax(above)])
    if abs(n_sim - np.ceil(n_star)) > 1:
        raise AssertionError(f"null-predictor crossover: first simulated n above {null_error:g} is {n_sim}, "
                             f"Theorem 4.1 puts it at n* = {n_star:.1f}")
    return n_sim


def figure_null(ols: RidgeRuns, exact, n_star: float, null_error: float = 1.0):
    """The OLS learner's simulated error against ``n`` with Theorem 4.1, the null predictor and ``n*``."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.errorbar(ols.ns, ols.mean()[0, :, 0], yerr=2 * ols.sem()[0, :, 0], fmt="o", ms=3, label="simulation")
    ax.plot(ols.ns, exact, "--", color="black", label="Theorem 4.1 (exact)")
    ax.axhline(null_error, color="0.4", label="null predictor $\\hat w = 0$")
    ax.axvline(n_star, color="0.4", linestyle=":", label="$n^*$")
    ax.set(xlabel="synthetic generations $n$", ylabel="test error")
    ax.legend()
    plt.show()
    return fig


def glue_null_predictor(calib: dict, n_star: float, n_star_sim: int, *, d: int, T: int, T0: int, sigma02: float,
                        null_error: float = 1.0) -> chapter.MarkdownTable:
    """Glue the Theorem 4.1 check and the null-predictor thresholds (``ols_max_z``, ``n_star``, ``n_star_sim``,
    ``n_star_asym``: ``n*`` for ``T -> infinity`` and ``sigma -> 0``) and return them as a table."""
    per_generation = theory.ols_collapse_error_asymptotic(1, d / T, d / T0, 0.0, sigma02)
    return chapter.glue_numbers({
        "ols_max_z": (f"largest $\\lvert z \\rvert$ (threshold {calib['threshold']:.2f})",
                      f"{calib['max_abs_z']:.2f}"),
        "n_star": ("$n^\\ast$ (Theorem 4.1)", f"{n_star:.1f}"),
        "n_star_sim": ("first simulated $n$ above 1", n_star_sim),
        "n_star_asym": ("$n^\\ast$ for $T \\to \\infty$, $\\sigma \\to 0$: "
                        "$\\mathrm{SNR}_0\\,(1/\\varphi_0 - 1)$", f"{null_error / per_generation:.0f}"),
    })


def figure_kappa(lams, phis=(2, 1, 0.5, 0.1)):
    """The effective regularization ``kappa(lambda)`` for ``Sigma = I`` (closed form), one curve per ``phi = d/T``."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for phi in phis:
        ax.plot(lams, theory.kappa_isotropic(lams, phi), label=f"$\\varphi = {phi}$")
    ax.plot(lams, lams, ":", color="0.4", label="$\\kappa = \\lambda$")
    ax.set(xscale="log", yscale="log", xlabel="penalty $\\lambda$", ylabel="$\\kappa$")
    ax.legend()
    plt.show()
    return fig


def check_error_parts(stack: RidgeRuns, parts: dict) -> dict[str, float]:
    """Assert that the simulated bias, variance and collapse parts match their formulas for every ``n >= 1``.

    ``stack`` holds one ``T``; ``parts`` maps each of :data:`PARTS` to its formula, ``(len(ns), len(lams))``
    (:func:`collapse_utils.theory.ridge.collapse_terms`). Allowance: 3 standard errors plus 5%. Returns each part's
    largest deviation as a share of the allowance.
    """
    return {p: checks.assert_close_asymptotic(stack.mean(p)[0, 1:], stack.sem(p)[0, 1:], parts[p][1:], what=p)
            for p in PARTS}


def check_cross_terms(stack: RidgeRuns) -> dict:
    """Assert that the simulated cross terms (total minus the three parts) average to zero within the family-wise
    bound; return :func:`collapse_utils.checks.assert_calibrated`'s summary."""
    cross = (stack.total - stack.bias - stack.variance - stack.collapse)[:, 0]  # per run
    z = checks.zscores(cross.mean(0), cross.std(0, ddof=1) / stack.n_runs**0.5, 0 * cross[0])
    return checks.assert_calibrated(z, distribution=False, what="cross terms")


def figure_error_parts(stack: RidgeRuns, parts: dict):
    """Stacked bias, variance and collapse parts per ``n``: formulas against simulation, one panel per penalty."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, sharey=True)
    for k, ax in enumerate(axes):
        sim = {p: stack.mean(p)[0, :, k] for p in ("total", *PARTS)}
        th = {p: parts[p][:, k] for p in PARTS}
        plotting.plot_error_parts(ax, stack.ns, th, sim, stack.sem()[0, :, k])
        ax.set_title(f"$T = {stack.Ts[0]}$, $\\lambda = {stack.lams[k]:g}$")
    axes[0].legend(loc="upper left")
    plt.show()
    return fig


def per_generation_table(parts: dict, per_generation, lams) -> chapter.MarkdownTable:
    """The clean learner's bias and variance and the collapse term added per generation, one row per penalty.

    ``parts`` as in :func:`check_error_parts` (row 0: ``n = 0``); ``per_generation`` is ``sigma_0^2 rho`` at ``lams``.
    """
    frame = pd.DataFrame({"bias": parts["bias"][0], "variance": parts["variance"][0],
                          "$\\sigma_0^2\\rho$, added per generation": per_generation},
                         index=pd.Index(lams, name="$\\lambda$"))
    return chapter.markdown_table(frame.map(lambda v: f"{v:.3g}"))


def figure_lambda_sweep(runs: RidgeRuns, lams, lams_fine, theory_fine, lam_opt, err_opt, *, marks=()):
    """Test error against the ridge penalty at one ``T``, one colour per ``n`` (Figures 1a and 1b, left).

    Parameters
    ----------
    runs
        Simulated errors at one ``T`` on a grid of penalties that contains ``lams`` (the points drawn).
    lams_fine, theory_fine
        Corollary 4.4's error at ``lams_fine``, ``(len(runs.ns), len(lams_fine))``.
    lam_opt, err_opt
        Each curve's optimum (stars).
    marks
        Vertical lines ``(lambda, linestyle, label)``, drawn first.
    """
    on = np.isin(runs.lams, lams)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for x, linestyle, label in marks:
        ax.axvline(x, color="0.4", ls=linestyle, label=label)
    plotting.plot_lambda_sweep(ax, lams, runs.mean()[0][:, on].T, runs.sem()[0][:, on].T, runs.ns, lams_fine,
                               np.asarray(theory_fine).T, lam_opt, err_opt, theory_name="Corollary 4.4")
    plt.show()
    return fig


def check_retuned_penalty(left: RidgeRuns, lam_opt):
    """Assert that for every ``n >= 1`` re-tuning the penalty to ``lambda*(n)`` beats the clean ``lambda*(0)``,
    paired by run (mean gain at least 3 standard errors); return the gains' mean, standard error and z.

    ``left`` holds one ``T`` and a grid of penalties that contains every ``lam_opt[j]`` (the optimum for
    ``left.ns[j]``).
    """
    own, clean = np.searchsorted(left.lams, lam_opt[1:]), np.searchsorted(left.lams, lam_opt[0])
    tuned = left.total[:, 0, np.arange(1, left.ns.size), own]  # each n >= 1 at its own lambda*(n)
    return checks.assert_paired_gain(left.total[:, 0, 1:, clean], tuned, what="re-tuned penalty")


def sweet_spot_table(ns, lam_opt, err_opt, gain) -> chapter.MarkdownTable:
    """``lambda*(n)``, the error there, and the simulated gain of re-tuning (``gain`` = (mean, se, z) of
    :func:`check_retuned_penalty`, for ``n >= 1``)."""
    g_mean, g_se, g_z = gain
    sweet = pd.DataFrame({"$\\lambda^\\ast(n)$": lam_opt, "error there": err_opt}, index=pd.Index(ns, name="$n$"))
    gains = [chapter.fmt_mean_se(mean=m, se=s) for m, s in zip(g_mean, g_se, strict=True)]
    return chapter.markdown_table(sweet.map(lambda v: f"{v:.3g}").assign(**{
        "simulated gain over $\\lambda^\\ast(0)$": ["–", *gains],
        "$z$": ["–", *(f"{z:.1f}" for z in g_z)]}))


def figure_sample_sizes(right: RidgeRuns, Ts_fine, theory_fine, d: int):
    """Test error against the learner's sample size at one penalty (Figure 1a, right), with ``T = d`` dotted.

    ``theory_fine`` is Corollary 4.4's error at ``Ts_fine``, ``(len(Ts_fine), len(right.ns))``.
    """
    fig, ax = plt.subplots(figsize=(8, 4.8))
    plotting.plot_sweep(ax, right.Ts, right.mean()[:, :, 0], right.sem()[:, :, 0], right.ns, Ts_fine, theory_fine,
                        xlabel="learner sample size $T$", theory_name="Corollary 4.4")
    ax.axvline(d, color="0.5", linestyle=":")
    plt.show()
    return fig


def glue_learner_numbers(right: RidgeRuns, right_theory, *, lam: float, T0: int, eigs, w0_sq, sigma2: float,
                         sigma02: float) -> chapter.MarkdownTable:
    """Glue the numbers of Figure 1a (right) and return them as a table.

    ``plateau_n`` (the collapse term per generation at the largest ``T``, as ``... n``; ``Sigma = I``), the clean
    learner's bias and variance at ``T = 200`` and ``T = d``, and the simulated and predicted error at the largest
    ``T`` and ``n``. ``right`` holds one penalty ``lam``; ``right_theory`` is Corollary 4.4 there, ``(T, n)``.
    """
    from IPython.display import Latex
    from myst_nb import glue

    d = len(eigs)
    plateau = sigma02 * theory.rho_isotropic(lam, d / right.Ts[-1], d / T0)  # per generation
    glue("plateau_n", Latex(f"${plateau:.4f}\\,n$"), display=False)
    bias_200 = theory.ridge_bias(lam, 200, eigs, w0_sq)
    var_200, var_d = (theory.ridge_variance(lam, T, eigs, sigma2) for T in (200, d))
    return chapter.glue_numbers({
        "bias_200": ("bias at $T = 200$", f"{bias_200:.3f}"),
        "var_200": ("variance at $T = 200$", f"{var_200:.3f}"),
        "var_d": ("variance at $T = d$", f"{var_d:.3f}"),
        "plateau": ("collapse term per generation at $T = 10^6$", f"{plateau:.4f}"),
        "plateau_20": ("simulated error at $T = 10^6$, $n = 20$", f"{right.mean()[-1, -1, 0]:.3f}"),
        "plateau_20_theory": ("the same, Corollary 4.4", f"{right_theory[-1, -1]:.3f}"),
    })


def figure_overparam(Ts, over: dict, predicted: dict):
    """Figure 2: over-parametrized noiseless generators, (a) one shared design and (b) independent designs.

    ``over`` and ``predicted`` map ``shared_design`` (True, False) to the simulated errors at one penalty and to
    their prediction ``(len(Ts), len(ns))``; ``Ts`` are the abscissae drawn.
    """
    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True, sharey=True)
    for ax, shared in zip(axes, (True, False), strict=True):
        runs = over[shared]
        plotting.plot_sweep(ax, Ts, runs.mean()[:, :, 0], runs.sem()[:, :, 0], runs.ns, Ts, predicted[shared],
                            xlabel="", theory_name="Theorems 4.5, 4.6", logy=False, legend=not shared)
        ax.set_title("(a) one shared design" if shared else "(b) independent designs")
    axes[1].set_xlabel("learner sample size $T$")
    plt.show()
    return fig


def paper_table(*, calib: dict, n_star: float, n_star_sim: int, right: RidgeRuns, lam_opt, gain_z, over: dict,
                clean) -> chapter.MarkdownTable:
    """The "paper vs this book" table (stored for the results page when ``COLLAPSE_STORE=1``).

    ``calib``: :func:`check_theorem41`'s summary; ``right``: Figure 1a (right) at ``T`` up to ``10^6``;
    ``lam_opt``: ``lambda*(n)`` at ``T = 1000``; ``gain_z``: the re-tuning gains' z; ``over``: Figure 2's runs by
    ``shared_design``, whose extra error over the ``clean`` learner (Proposition 4.2, per ``T``) is read at the
    largest ``T``.
    """
    extra = {shared: runs.mean()[-1, :, 0] - clean[-1] for shared, runs in over.items()}
    R = chapter.Row
    rows = [
        R("OLS learner, $n = 0..40$, $T = 1000$",
          "$\\frac{\\sigma^2 d}{T-d-1} + n\\frac{\\sigma_0^2 d}{T_0-d-1}$, exact", "reported",
          f"largest deviation {calib['max_abs_z']:.2f} s.e. over 41 values", "reproduced"),
        R("OLS worse than predicting 0 from", "$n = \\mathrm{SNR}_0(1/\\varphi_0 - 1) = 25$", "derived",
          f"{n_star:.1f} (Theorem 4.1); simulated: {n_star_sim}", "reproduced", "printed with the inverse factor"),
        R("Fig. 1a right: plateau for $T \\gg d$", "$n\\sigma_0^2\\varphi_0/(1-\\varphi_0) = 0.04\\,n$", "derived",
          f"{right.mean()[-1, 1, 0]:.4f}, {right.mean()[-1, -1, 0]:.3f} ($n = 1, 20$; $T = 10^6$)", "reproduced"),
        R("Fig. 1a left: optimal $\\lambda$ at $T = 1000$", "grows with $n$", "reported",
          f"{lam_opt[0]:.3g} to {lam_opt[-1]:.3g} ($n = 0, 20$); re-tuning gains, $z \\ge$ {np.min(gain_z):.1f}",
          "reproduced"),
        R("Fig. 2a: extra bias, shared design", "$1 - 1/\\varphi_0 = 0.5$ for $n \\ge 1$", "derived",
          f"{extra[True][1]:.3f}, {extra[True][-1]:.3f} ($n = 1, 10$)", "reproduced"),
        R("Fig. 2b: extra bias, independent", "$1 - 2^{-n}$: 0.5, 0.75, 0.999", "derived",
          f"{extra[False][1]:.3f}, {extra[False][2]:.3f}, {extra[False][-1]:.3f} ($n = 1, 2, 10$)", "reproduced"),
    ]
    return chapter.paper_table(rows, chapter="ridge-collapse", section="sec-ridge-paper")
