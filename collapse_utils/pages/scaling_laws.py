"""The page of ``notebooks/scaling_laws.ipynb``: its figures, tables, glued numbers, checks and paper rows.

The notebook runs the simulations (per-run errors ``(n_runs, len(Ts), len(ns), rule)`` of
:func:`collapse_utils.sim.ridge.simulate_penalty_rules` under the three penalty rules :data:`RULES`) and evaluates
Corollary 4.4 and the exponents of :mod:`collapse_utils.theory.scaling`; the functions here turn those into what the
page shows. The penalty sweep's figure is the ridge chapter's (:func:`.ridge_collapse.figure_lambda_sweep`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from collapse_utils import chapter, checks, plotting
from collapse_utils.pages.ridge_collapse import figure_lambda_sweep
from collapse_utils.theory import scaling
from collapse_utils.theory.scaling import Exponents

RULES = ("$\\ell_{crit}$", "$\\ell^\\star$", "best $\\lambda$")
"""The three penalty rules of the ``T`` sweep, in the order of the errors' last axis."""

TITLES = ("$\\lambda = T^{-\\ell_{crit}}$ (clean-optimal)",
          "$\\lambda^\\star = (T_0/n\\sigma_0^2)^{-\\ell_{crit}}$ (Corollary 5.2)",
          "best $\\lambda$ of Corollary 4.4 at each $T$ and $n$")
"""The panel titles of the three rules."""


def mean_sem(errors) -> tuple[np.ndarray, np.ndarray]:
    """Mean over runs (axis 0) and its standard error."""
    errors = np.asarray(errors, dtype=float)
    return errors.mean(0), errors.std(0, ddof=1) / errors.shape[0] ** 0.5


def exponents_table(settings: dict[str, tuple[float, float]]) -> chapter.MarkdownTable:
    """``(beta, r)`` and the exponents ``delta``, ``ell_crit`` and ``c`` of each named setting."""
    exps = [scaling.exponents(beta, r) for beta, r in settings.values()]
    frame = pd.DataFrame([(e.beta, e.r, e.delta, e.ell_crit, e.c) for e in exps],
                         columns=["$\\beta$", "$r$", "$\\delta$", "$\\ell_{\\text{crit}}$", "$c$"],
                         index=pd.Index(list(settings), name="setting"))
    return chapter.markdown_table(frame.map(chapter.fmt_value, digits=4))


def figure_penalty_sweep(left, lams, lams_fine, theory_fine, lam_opt, err_opt, *, T: int, T0: int, ell_crit: float):
    """Figure 1b (left): :func:`.ridge_collapse.figure_lambda_sweep` with ``T^-ell_crit`` and ``T0^-ell_crit``
    marked."""
    marks = [(T**-ell_crit, ":", "$T^{-\\ell_{crit}}$"), (T0**-ell_crit, "-.", "$T_0^{-\\ell_{crit}}$")]
    return figure_lambda_sweep(left, lams, lams_fine, theory_fine, lam_opt, err_opt, marks=marks)


def glue_penalties(lam_opt, lam_star, worst: float, *, T: int, ell_crit: float) -> chapter.MarkdownTable:
    """Glue the optimal penalties at ``T`` (``n = 0`` and the last ``n``), the clean-optimal ``T^-ell_crit``, the
    corrected penalty of the last ``n`` and the sweep's largest deviation; return them as a table."""
    return chapter.glue_numbers({
        "lam_opt_0": ("$\\lambda^\\ast(0)$", f"{lam_opt[0]:.2g}"),
        "lam_crit_T": ("$T^{-\\ell_{crit}}$", f"{T**-ell_crit:.2g}"),
        "lam_opt_5": ("$\\lambda^\\ast(5)$", f"{lam_opt[-1]:.2g}"),
        "lam_star_5": ("$(T_0/5\\sigma_0^2)^{-\\ell_{crit}}$", f"{lam_star[-1]:.2g}"),
        "worst_left": ("largest deviation, as a share of the allowance", f"{worst:.2f}"),
    })


def check_rules_against_theory(Ts, errors, theory, d: int) -> None:
    """Assert that the simulated errors of every rule match Corollary 4.4 (``theory``, ``(T, n, rule)``) within 3
    standard errors plus 30% below ``T = d`` and plus 10% from ``T = d`` on."""
    mean, sem = mean_sem(errors)
    Ts = np.asarray(Ts)
    for below, rtol in ((Ts < d, 0.3), (Ts >= d, 0.1)):
        checks.assert_close_asymptotic(mean[below], sem[below], theory[below], rtol=rtol)


def figure_rules(Ts, errors, theory, ns, T0: int):
    """Figure 1b (right) and its mitigation: error against ``T``, one panel per penalty rule, ``T = T0`` dotted."""
    mean, sem = mean_sem(errors)
    fig, axes = plt.subplots(3, 1, figsize=(8, 10), sharex=True, sharey=True)
    for k, ax in enumerate(axes):
        plotting.plot_sweep(ax, Ts, mean[..., k], sem[..., k], ns, Ts, theory[..., k],
                            xlabel="", theory_name="Corollary 4.4", legend=k == 0)
        ax.axvline(T0, color="0.5", linestyle=":")
        ax.set_title(TITLES[k])
    axes[-1].set_xlabel("learner sample size $T$")
    plt.show()
    return fig


def check_same_bottom(Ts, errors, theory, ns, *, rng: np.random.Generator) -> dict:
    """Assert, for every ``n >= 1`` under ``ell_crit``, that the simulated U bottoms out where Corollary 4.4's does
    (:func:`collapse_utils.checks.assert_same_minimum`); return ``n -> (theory vertex, simulated vertex, s.e. in
    log T)``."""
    return {n: checks.assert_same_minimum(Ts, errors[:, :, j, 0], theory[:, j, 0], rng=rng, what=f"n = {n}")
            for j, n in enumerate(ns[1:], start=1)}


def glue_u_turn(Ts, errors, theory, turn: dict) -> None:
    """Glue the bottom of the U under ``ell_crit``: Corollary 4.4's argmins (``turn_theory``; ``turn``: ``n -> (T,
    error)``), the range of ``T`` where ``n = 1`` is within 5% of its minimum (``flat_lo``, ``flat_hi``) and the
    simulated rise from the minimum to the largest ``T`` (``rise_1``)."""
    from myst_nb import glue

    mean = mean_sem(errors)[0]
    flat = np.asarray(Ts)[theory[:, 1, 0] <= 1.05 * turn[1][1]]  # n = 1 within 5% of its minimum
    glue("turn_theory", ", ".join(str(T) for T, _ in turn.values()), display=False)
    glue("flat_lo", f"{flat.min():.0f}", display=False)
    glue("flat_hi", f"{flat.max():.0f}", display=False)
    glue("rise_1", f"{mean[-1, 1, 0] / mean[:, 1, 0].min():.1f}", display=False)


def u_turn_table(Ts, errors, turn: dict, bottom: dict) -> chapter.MarkdownTable:
    """Per ``n >= 1``: Corollary 4.4's argmin, the parabola vertices of :func:`check_same_bottom` and the smallest
    simulated point on the grid."""
    mean, ns = mean_sem(errors)[0], list(bottom)
    frame = pd.DataFrame({
        "Corollary 4.4: argmin": [turn[n][0] for n in ns],
        "fit: Cor. 4.4": [f"{bottom[n][0]:.0f}" for n in ns],
        "fit: simulation (×/÷ 1 s.e.)": [f"{bottom[n][1]:.0f} (×/÷ {np.exp(bottom[n][2]):.2f})" for n in ns],
        "smallest simulated point": np.asarray(Ts)[np.argmin(mean[:, 1:, 0], axis=0)].astype(int),
    }, index=pd.Index(ns, name="$n$"))
    return chapter.markdown_table(frame)


def check_mitigation(Ts, errors, T0: int) -> None:
    """Assert that at every ``T >= 3 T0`` and ``n >= 1`` the corrected ``ell_star`` beats ``ell_crit`` (paired by
    run, 3 standard errors) and stays within a factor 1.5 of the best penalty."""
    late = np.asarray(Ts) >= 3 * T0
    checks.assert_paired_gain(errors[:, late, 1:, 0], errors[:, late, 1:, 1], what="l_star over l_crit")
    mean = mean_sem(errors)[0]
    if not np.all(mean[late, 1:, 1] <= 1.5 * mean[late, 1:, 2]):
        raise AssertionError("l_star should be near the best: its mean error exceeds 1.5 times the best penalty's "
                             f"at some T >= {3 * T0} and n >= 1")


def last_size_table(Ts, errors, ns) -> chapter.MarkdownTable:
    """The mean error of each rule and ``n`` at the largest ``T``."""
    frame = pd.DataFrame(mean_sem(errors)[0][-1], index=pd.Index(ns, name="$n$"),
                         columns=[f"{rule}, $T = {Ts[-1]:.0f}$" for rule in RULES])
    return chapter.markdown_table(frame.map(lambda v: f"{v:.3g}"))


def check_slopes(Ts, errors, theory, ns, ex: Exponents, tol: float = 0.1) -> pd.DataFrame:
    """Assert that the log-log slopes fitted to the simulated means lie within ``tol`` of the predicted exponents.

    Cases: ``n = 0`` under ``ell_crit`` for ``T >= 10^3`` (``-c``); every ``n >= 1`` and rule for ``T >= 10^4``
    (``+ell_crit/beta`` under ``ell_crit``, 0 otherwise). Returns one row per case: the slopes fitted to the
    simulation and to Corollary 4.4 (``theory``, ``(T, n, rule)``) and the prediction.
    """
    Ts, mean = np.asarray(Ts), mean_sem(errors)[0]
    rise = ex.ell_crit / ex.beta  # the predicted slope under l_crit, n >= 1
    cases = [(0, 0, Ts >= 1e3, -ex.c)] + [(j, k, Ts >= 1e4, rise * (k == 0))
                                          for j in range(1, len(ns)) for k in range(len(RULES))]
    slopes = pd.DataFrame([(ns[j], RULES[k], f"{Ts[w][0]:.0f}–{Ts[w][-1]:.0f}",
                            scaling.loglog_slope(Ts[w], mean[w, j, k]),
                            scaling.loglog_slope(Ts[w], theory[w, j, k]), predicted)
                           for j, k, w, predicted in cases],
                          columns=["$n$", "penalty", "$T$", "fitted: simulation", "fitted: Cor. 4.4", "predicted"])
    off = np.abs(slopes["fitted: simulation"] - slopes["predicted"]) > tol
    if off.any():
        raise AssertionError(f"fitted slopes further than {tol} from their predicted exponents:\n{slopes[off]}")
    return slopes


def glue_slope_far(error, ell_crit: float) -> None:
    """Glue ``slope_far``: the slope of Corollary 4.4 for ``n = 1`` under ``ell_crit`` between ``T = 10^5`` and
    ``10^6`` (``error(lam, T, n)``: Corollary 4.4 for the chapter's problem)."""
    from myst_nb import glue

    far = [error(T**-ell_crit, int(T), 1) for T in (1e5, 1e6)]
    glue("slope_far", f"{scaling.loglog_slope([1e5, 1e6], far):.2f}", display=False)


def slopes_table(slopes: pd.DataFrame) -> chapter.MarkdownTable:
    """:func:`check_slopes`'s rows with the slopes to 3 decimals."""
    return chapter.markdown_table(slopes.map(lambda v: chapter.fmt_value(v, 3) if isinstance(v, float) else v),
                                  index=False)


def check_crossover(beta: float, r: float, bs, atol: float = 0.02) -> tuple[dict, dict]:
    """Assert that the slope of Theorem 5.1's rate, minimized over ``ell``, matches Corollary 5.2's exponent of the
    best error (noiseless) and Appendix G's (noisy labels) within ``atol`` for every ``b`` (``T0 = T^b``, ``a = 0``).

    Returns
    -------
    fitted, stated : dict
        ``sigma2`` (0: noiseless, 1: noisy) -> the exponents per ``b``.
    """
    fitted, stated = {}, {}
    for s2 in (0, 1):
        fitted[s2] = [scaling.theorem51_best_exponent(beta, r, 0, b, sigma2=s2) for b in bs]
        stated[s2] = [scaling.optimal_rate_exponent(beta, r, 0, b, noiseless=not s2) for b in bs]
        if not np.allclose(fitted[s2], stated[s2], atol=atol):
            raise AssertionError(f"crossover (sigma2 = {s2}): Theorem 5.1's best exponents {fitted[s2]} differ from "
                                 f"the stated {stated[s2]} by more than {atol}")
    return fitted, stated


def figure_crossover(bs, fitted: dict, stated: dict, fast: float):
    """The exponent of the best error against ``b``: the stated formulas (lines) and Theorem 5.1 minimized over
    ``ell`` (markers), noiseless and noisy, with the ``fast`` noiseless clean rate dotted."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for s2, label in ((0, "noiseless (Corollary 5.2)"), (1, "noisy (Appendix G)")):
        line = ax.plot(bs, stated[s2], label=label)[0]
        ax.plot(bs, fitted[s2], "o", color=line.get_color(), label="Theorem 5.1, best $\\ell$")
    ax.axhline(fast, color="0.5", linestyle=":")
    ax.set(xlabel="$b$, with $T_0 \\asymp T^b$", ylabel="exponent $e$ of the best error")
    ax.legend()
    plt.show()
    return fig


def paper_table(*, slopes: pd.DataFrame, Ts, errors, turn: dict, bottom: dict, lam_opt) -> chapter.MarkdownTable:
    """The "paper vs this book" table (stored for the results page when ``COLLAPSE_STORE=1``).

    ``slopes``: :func:`check_slopes`'s rows; ``errors``: the ``T`` sweep; ``turn``, ``bottom``: the bottom of the U
    from Corollary 4.4 and :func:`check_same_bottom`; ``lam_opt``: ``lambda*(n)`` at ``T = 10^4``.
    """
    mean = mean_sem(errors)[0]
    up = [chapter.fmt_value(v, 2) for v in slopes[slopes["penalty"] == RULES[0]]["fitted: simulation"]]
    ns = list(bottom)  # n >= 1
    R = chapter.Row
    rows = [
        R("Clean rate, $\\lambda = T^{-\\ell_{crit}}$", "$T^{-c} = T^{-0.6}$", "derived", f"slope {up[0]}",
          "reproduced"),
        R("Fig. 1b right: $n \\ge 1$ under $T^{-\\ell_{crit}}$", "falls, then grows with $T$", "figure",
          f"{mean[-1, 1, 0] / mean[:, 1, 0].min():.1f}-fold rise from the minimum ($n = 1$)", "reproduced"),
        R("Fig. 1b right: $T$ at the minimum", "$\\approx 10^3$", "figure",
          "Corollary 4.4: " + ", ".join(str(turn[n][0]) for n in ns)
          + "; simulation: " + ", ".join(f"{bottom[n][1]:.0f}" for n in ns),
          "reproduced", "$n = 1, 2, 5$: the minimum moves left as $n$ grows"),
        R("Rise after the minimum", "$T^{\\ell_{crit}/\\beta} = T^{0.4}$ (Theorem 5.1)", "derived",
          f"slopes {', '.join(up[1:])}", "reproduced", "finite $d$ slows the rise"),
        R("Corrected exponent $\\ell^\\star$", "a floor instead of the rise (Corollary 5.2)", "reported",
          f"{mean[-1, 1, 1]:.3g} vs {mean[-1, 1, 0]:.3g} ($n = 1$, $T = {Ts[-1]:.0f}$)", "reproduced"),
        R("Fig. 1b left: optimal $\\lambda$ at $T = 10^4$", "grows with $n$", "figure",
          f"{lam_opt[0]:.2g} to {lam_opt[-1]:.2g} ($n = 0, 5$)", "reproduced"),
        R("Best rate, $T_0 \\asymp T^b$, $n\\sigma_0^2 \\asymp T^a$", "$T^{-(b-a)c}$ (Corollary 5.2)", "reported",
          "Theorem 5.1 minimized over $\\ell$: within 0.02", "reproduced",
          "exponents only; the book adds the cap at the fast rate $T^{-2\\beta\\underline r}$"),
    ]
    return chapter.paper_table(rows, chapter="scaling-laws", section="sec-scaling-paper")
