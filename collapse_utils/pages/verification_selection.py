"""The page ``notebooks/verification_selection.ipynb``: a verifier in linear regression (Yi et al.) and selection
toward a biased reference in a Gaussian (Qiao et al.).

The notebook runs the simulations; the functions here check them against the closed forms and the claims (each
raises ``AssertionError`` naming the claim that fails), and build the page's tables, figures, glued numbers and its
"paper vs this book" rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from collapse_utils import checks, plotting
from collapse_utils.chapter import MarkdownTable, Row, fmt_mean_se, fmt_value, glue_numbers, markdown_table
from collapse_utils.sim.verification import VerifiedRun
from collapse_utils.theory import linear
from collapse_utils.theory import selection as sel
from collapse_utils.theory import verification as ver

REGIME_COLORS = {"unbiased": plotting.OKABE_ITO["bluish_green"], "slightly biased": plotting.OKABE_ITO["orange"],
                 "strongly biased": plotting.OKABE_ITO["vermillion"]}
"""The three regimes of a verifier, by the distance of its center from the truth."""

# ---------------------------------------------------------------------------------------------------------
# A verifier in linear regression
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearLoop:
    """The verified least-squares loop: dimension ``d``, ``n_real`` real points in round 0, ``n_synthetic`` points
    per later round, label noise ``sigma``, and the verifier's noise allowance ``sigma_c``."""

    d: int
    n_real: int
    n_synthetic: int
    sigma: float
    sigma_c: float

    @property
    def e0(self) -> float:
        """The real fit's error ``sigma^2 d / (n_real - d - 1)``."""
        return linear.ols_test_error(self.d, self.n_real, self.sigma**2)

    def rho(self, r: float) -> float:
        """The contraction factor at radius ``r`` (eq-verifier-rho)."""
        return ver.contraction_factor(r, self.sigma_c, self.sigma, self.d)

    def limit(self, bias: float, r: float) -> float:
        """The limit ``Delta^2 + v / (1 - rho^2)`` of the error to the truth."""
        return ver.limit_error(bias, r, self.sigma_c, self.sigma, self.d, self.n_synthetic)

    def path(self, rounds, bias: float, r: float) -> np.ndarray:
        """The linearised error to the truth after ``rounds`` (eq-verifier-path)."""
        return ver.linearised_error(rounds, bias, self.e0, r, self.sigma_c, self.sigma, self.d, self.n_synthetic)


def speed_table(loop: LinearLoop, radii) -> MarkdownTable:
    """Per radius: the contraction factor, the acceptance rate at the center, the half-life and the noise floor."""
    rho = {r: loop.rho(r) for r in radii}
    speed = pd.DataFrame(
        {
            "$\\rho$": [fmt_value(rho[r], 3) for r in radii],
            "acceptance at $\\theta_c$": [
                fmt_value(ver.acceptance_rate(0.0, r, loop.sigma_c, loop.sigma, loop.d), 3) for r in radii],
            "half-life (rounds)": [fmt_value(np.log(2) / -np.log(rho[r]), 1) for r in radii],
            "noise floor $v/(1-\\rho^2)$": [fmt_value(loop.limit(0.0, r), 4) for r in radii],
        },
        index=pd.Index([f"r = {r:g}" for r in radii], name="radius"),
    )
    return markdown_table(speed)


def _rounds(run: VerifiedRun) -> np.ndarray:
    return np.arange(run.error.shape[1])


def check_random_walk(plain: VerifiedRun, loop: LinearLoop) -> np.ndarray:
    """Assert the loop without a verifier on the random walk ``e0 + k sigma^2 d / (N - d - 1)`` at every round
    (family-wise threshold); return the walk."""
    walk = loop.e0 + _rounds(plain) * linear.ols_test_error(loop.d, loop.n_synthetic, loop.sigma**2)
    checks.assert_calibrated(checks.zscores(plain.mean(), plain.sem(), walk), distribution=False, what="no verifier")
    return walk


@dataclass(frozen=True)
class Regime:
    """A verified loop with its limit ``Delta^2 + v / (1 - rho^2)`` and its contraction bound (eq-verifier-bound)."""

    run: VerifiedRun
    limit: float
    bound: np.ndarray


def check_limits_and_bound(runs: dict[str, VerifiedRun], loop: LinearLoop) -> dict[str, Regime]:
    """Assert every verified loop at its limit in the last round (3 s.e. + 5%) and inside the contraction bound in
    every round (up to 3 s.e.); return each with its limit and bound."""
    regimes = {}
    for name, run in runs.items():
        v = run.verifier
        mean, sem = run.mean(), run.sem()
        limit = loop.limit(v.bias, v.radius)
        checks.assert_close_asymptotic(mean[-1], sem[-1], limit, rtol=0.05, what=name)
        start = v.bias**2 + loop.e0
        bound = ver.contraction_bound(_rounds(run), start, v.radius, loop.sigma_c, loop.sigma, loop.d,
                                      loop.n_synthetic, s_max=2 * np.sqrt(start))[0]
        if not np.all(run.mean("to_center") - bound <= 3 * run.sem("to_center")):
            raise AssertionError(f"{name}: the distance to the center exceeds the contraction bound by more than 3 "
                                 f"standard errors")
        regimes[name] = Regime(run, limit, bound)
    return regimes


def check_three_regimes(regimes: dict[str, Regime], e0: float) -> None:
    """Assert the three regimes against the real fit's error ``e0`` (each by more than 3 s.e.).

    Unbiased: the final error below ``e0 / 10``; slightly biased: the best round below ``e0`` and the final error
    above the best round (the gain partly reverses); strongly biased: rising over the first 10 rounds and ending
    above ``e0``.
    """
    m = {name: regime.run.mean() for name, regime in regimes.items()}
    se = {name: regime.run.sem() for name, regime in regimes.items()}
    if not m["unbiased"][-1] + 3 * se["unbiased"][-1] < e0 / 10:
        raise AssertionError("unbiased verifier: the final error is not below a tenth of e0")
    slight, best = m["slightly biased"], int(np.argmin(m["slightly biased"]))
    if not slight[best] < e0 - 3 * se["slightly biased"][best]:
        raise AssertionError("slightly biased verifier: the best round is not 3 standard errors below e0")
    if not slight[-1] - slight[best] > 3 * se["slightly biased"][-1]:
        raise AssertionError("slightly biased verifier: the gain does not partly reverse (final error not 3 standard "
                             "errors above the best round)")
    if not np.all(np.diff(m["strongly biased"][:11]) > 0):
        raise AssertionError("strongly biased verifier: the error does not rise at each of the first 10 rounds")
    if not m["strongly biased"][-1] - 3 * se["strongly biased"][-1] > e0:
        raise AssertionError("strongly biased verifier: the final error is not 3 standard errors above e0")


def regimes_table(regimes: dict[str, Regime]) -> MarkdownTable:
    """Per verifier: its bias, the error in round 0, at the best round and in the last round, and its limit."""
    summary = {}
    for name, regime in regimes.items():
        mean, sem = regime.run.mean(), regime.run.sem()
        summary[name] = {
            "Δ": regime.run.verifier.bias,
            "round 0": fmt_mean_se(mean=mean[0], se=sem[0]),
            "best round": f"{int(np.argmin(mean))}: {fmt_value(mean.min(), 4)}",
            f"round {mean.size - 1}": fmt_mean_se(mean=mean[-1], se=sem[-1]),
            "limit Δ² + v/(1−ρ²)": fmt_value(regime.limit, 4),
        }
    return markdown_table(pd.DataFrame(summary).T.rename_axis("verifier"))


def glue_contraction(loop: LinearLoop, radius: float) -> MarkdownTable:
    """Glue the real fit's error ``e0`` and the contraction factor at ``radius``."""
    return glue_numbers({
        "e0": ("$e_0 = \\sigma^2 d/(n_0 - d - 1)$, the real fit's error", fmt_value(loop.e0, 3)),
        "rho_05": ("contraction factor $\\rho$ at $r = 0.5$", fmt_value(loop.rho(radius), 3)),
    })


def figure_regimes(plain: VerifiedRun, walk: np.ndarray, regimes: dict[str, Regime], loop: LinearLoop) -> plt.Figure:
    """Figure fig-verifier-regimes: error to the truth (left) and distance to the center with its bound (right)."""
    K = _rounds(plain)
    lines = {"fmt": "o", "ms": 3}  # simulated means +/- 2 s.e.
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
    ax = axes[0]
    ax.errorbar(K, plain.mean(), yerr=2 * plain.sem(), color="0.3", label="no verifier", **lines)
    ax.plot(K, walk, "--", color="0.3", lw=1)
    for name, regime in regimes.items():
        run, v, color = regime.run, regime.run.verifier, REGIME_COLORS[name]
        ax.errorbar(K, run.mean(), yerr=2 * run.sem(), color=color, label=f"{name} ($\\Delta$ = {v.bias:g})",
                    **lines)
        ax.plot(K, loop.path(K, v.bias, v.radius), "--", color=color, lw=1)
        ax.axhline(regime.limit, color=color, ls=":", lw=0.8)
    ax.set_ylabel("$\\|\\hat\\theta_k - \\theta^*\\|^2$ (error to the truth)")
    ax2 = axes[1]
    for name, regime in regimes.items():
        ax2.errorbar(K, regime.run.mean("to_center"), yerr=2 * regime.run.sem("to_center"),
                     color=REGIME_COLORS[name], **lines)
        ax2.plot(K, regime.bound, "-", color=REGIME_COLORS[name], lw=1.2, alpha=0.7)
    ax2.set_ylabel("$\\|\\hat\\theta_k - \\theta_c\\|^2$ (distance to the center)")
    for a in axes:
        a.set_yscale("log")
        a.set_xlabel("round $k$")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return fig


@dataclass(frozen=True)
class VerifierMap:
    """The error after ``rounds`` over a grid of verifier biases (rows) and radii (columns): mean and standard error
    over runs, which radii have converged (``rho^rounds <= 0.01``), and the line the page prints."""

    radii: np.ndarray
    biases: np.ndarray
    rounds: int
    after: np.ndarray
    after_se: np.ndarray
    converged: np.ndarray
    note: str


def check_converged_cells(maps: list[VerifiedRun], radii, biases, loop: LinearLoop) -> VerifierMap:
    """Assert every cell whose radius has converged (``rho^K <= 0.01``) within 3 s.e. + 5% of its limit.

    ``maps`` holds one run per (bias, radius), biases outer, as simulated over ``biases`` x ``radii``.
    """
    radii, biases = np.asarray(radii), np.asarray(biases)
    rounds = maps[0].error.shape[1] - 1
    after = np.array([run.mean()[rounds] for run in maps]).reshape(biases.size, radii.size)
    after_se = np.array([run.sem()[rounds] for run in maps]).reshape(biases.size, radii.size)
    converged = np.array([loop.rho(r) ** rounds <= 0.01 for r in radii])
    limits = np.array([[loop.limit(b, r) for r in radii] for b in biases])
    checks.assert_close_asymptotic(after[:, converged], after_se[:, converged], limits[:, converged], rtol=0.05,
                                   what="converged cells")
    note = f"converged radii: {radii[converged].tolist()}; {converged.sum() * biases.size} cells on their limit"
    return VerifierMap(radii, biases, rounds, after, after_se, converged, note)


def figure_verifier_map(vmap: VerifierMap, loop: LinearLoop) -> plt.Figure:
    """Figure fig-verifier-map: the error after ``K`` rounds relative to ``e0`` per cell, with the linearised path's
    contour at ``e0``."""
    radii, biases, k, e0 = vmap.radii, vmap.biases, vmap.rounds, loop.e0
    fine_r = np.geomspace(0.04, 2.5, 50)
    fine_b = np.linspace(0.0, 1.6, 81)
    # eq-verifier-path at K rounds: only Delta^2 (1 - rho^K)^2 depends on the bias
    at_zero = np.array([loop.path(k, 0.0, r) for r in fine_r])
    rho_fine = np.array([loop.rho(r) for r in fine_r])
    lin_map = at_zero + fine_b[:, None] ** 2 * (1 - rho_fine ** k) ** 2  # (bias, radius)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    cells_r, cells_b = np.arange(radii.size + 1), np.arange(biases.size + 1)
    im = ax.pcolormesh(cells_r, cells_b, np.log2(vmap.after / e0), cmap="RdBu_r", vmin=-7, vmax=7)
    for i in range(biases.size):
        for j in range(radii.size):
            ax.text(j + 0.5, i + 0.5, f"{vmap.after[i, j] / e0:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(radii.size) + 0.5, [f"{r:g}" for r in radii])
    ax.set_yticks(np.arange(biases.size) + 0.5, [f"{b:g}" for b in biases])
    # the linearised prediction's contour "error after K rounds = e0", in cell coordinates
    cx = np.interp(np.log(fine_r), np.log(radii), np.arange(radii.size) + 0.5)
    cy = np.interp(fine_b, biases, np.arange(biases.size) + 0.5)
    ax.contour(cx, cy, lin_map / e0, levels=[1.0], colors="k", linestyles="--", linewidths=1.2)
    ax.set_xlabel("verifier radius $r$")
    ax.set_ylabel("verifier bias $\\Delta$")
    fig.colorbar(im, ax=ax, label=f"$\\log_2$(error after {k} rounds / $e_0$)")
    return fig


# ---------------------------------------------------------------------------------------------------------
# Selection toward a biased reference
# ---------------------------------------------------------------------------------------------------------


def _iterations(spread: np.ndarray) -> np.ndarray:
    return np.arange(spread.shape[1])


def check_no_selection(loops: dict, *, n: int) -> dict[str, np.ndarray]:
    """Assert the loops without selection on their exact mean spread (``n`` points per iteration) at every
    iteration, within the family-wise threshold; return ``{policy: exact spread}``.

    ``loops`` maps ``(policy, "none" | "selection")`` to a :class:`collapse_utils.sim.selection.SelectionRun`.
    """
    exact = {}
    for policy, spread in (("replace", sel.replace_spread), ("accumulate", sel.accumulate_spread)):
        run = loops[(policy, "none")].spread
        exact[policy] = spread(_iterations(run), n)
        z = checks.zscores(run.mean(0)[1:], run.std(0, ddof=1)[1:] / np.sqrt(len(run)), exact[policy][1:])
        checks.assert_calibrated(z, distribution=False, what=f"{policy} without selection")
    return exact


def check_selection_claims(loops: dict, *, n_seeds: int) -> checks.Claims:
    """Assert, paired over the first ``n_seeds`` seeds on ``log10`` of the final spread: selection lowers the spread
    under replace and under accumulate, and with selection accumulate keeps more spread than replace."""
    log_last = {key: np.log10(run.spread[:n_seeds, -1]) for key, run in loops.items()}
    claims = checks.Claims(n_se=3)
    claims.less("replace: selection lowers the spread", log_last[("replace", "selection")],
                log_last[("replace", "none")])
    claims.less("accumulate: selection lowers the spread", log_last[("accumulate", "selection")],
                log_last[("accumulate", "none")])
    claims.greater("with selection, accumulate keeps more spread than replace", log_last[("accumulate", "selection")],
                   log_last[("replace", "selection")])
    claims.assert_all()
    return claims


def selection_claims_table(claims: checks.Claims) -> MarkdownTable:
    """Each claim's mean difference of ``log10`` spread, its standard error, ``z`` and the seeds agreeing."""
    table = claims.table()
    return markdown_table(pd.DataFrame(
        {
            "mean difference of log₁₀ spread": [fmt_value(v, 2) for v in table["mean difference"]],
            "standard error": [fmt_value(v, 2) for v in table["standard error"]],
            "z": [fmt_value(v, 1) for v in table["z"]],
            "seeds agreeing": table["seeds agreeing"],
        },
        index=table.index,
    ))


def exponent(spread: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """The log–log slope of each seed's spread (rows) over iterations ``lo..hi``: mean over seeds, standard error."""
    t = _iterations(spread)
    w = (t >= lo) & (t <= hi)
    slopes = np.array([np.polyfit(np.log(t[w]), np.log(s[w]), 1)[0] for s in spread])
    return slopes.mean(), slopes.std(ddof=1) / np.sqrt(len(slopes))


def check_power_law(acc_sel, lo: int = 30, mid: int = 100) -> dict:
    """Assert accumulate with selection's power law: the exponent fitted over ``lo..T`` within 0.05 of
    ``-(1 - c - kappa)`` from the settled constants (averaged over the same iterations with weights ``1/t``), and the
    local exponents over ``lo..mid`` and ``mid..T`` less than 0.1 apart.

    Returns
    -------
    dict
        ``fitted``, ``fitted_se``, ``settled``, ``first_step`` (the heuristic ``kappa = 0``, ``c`` of iteration 1),
        ``early`` and ``late`` exponents.
    """
    T = _iterations(acc_sel.spread)
    last = int(T[-1])
    window = (T >= lo) & (T <= last)
    fitted, fitted_se = exponent(acc_sel.spread, lo, last)
    weights = 1 / T[window]
    c_bar = (acc_sel.batch_spread[:, window[1:]] * weights).sum(1) / weights.sum()
    kappa_bar = (acc_sel.batch_shift[:, window[1:]] * weights).sum(1) / weights.sum()
    settled = np.mean([sel.power_law_exponent(c, k) for c, k in zip(c_bar, kappa_bar, strict=True)])
    first_step = sel.power_law_exponent(acc_sel.batch_spread[:, 0].mean())
    early, _ = exponent(acc_sel.spread, lo, mid)
    late, _ = exponent(acc_sel.spread, mid, last)
    if not abs(fitted - settled) <= 0.05:
        raise AssertionError(f"power law: the fitted exponent {fitted:.3f} is more than 0.05 from the settled "
                             f"constants' {settled:.3f}")
    if not abs(early - late) < 0.1:
        raise AssertionError(f"power law: the local exponents {early:.3f} and {late:.3f} differ by 0.1 or more")
    return {"fitted": fitted, "fitted_se": fitted_se, "settled": settled, "first_step": first_step, "early": early,
            "late": late}


def power_table(power: dict) -> MarkdownTable:
    """The fitted exponent of accumulate with selection next to the settled and the first-step predictions."""
    return markdown_table(pd.DataFrame(
        {"exponent": [fmt_mean_se(mean=power["fitted"], se=power["fitted_se"]), fmt_value(power["settled"], 3),
                      fmt_value(power["first_step"], 3),
                      f"{fmt_value(power['early'], 2)} / {fmt_value(power['late'], 2)}"]},
        index=pd.Index(["fitted, t = 30..300 (per-seed mean)", "settled c and κ", "first-step heuristic (κ = 0)",
                        "local: 30..100 / 100..300"], name="accumulate with selection"),
    ))


def check_against_logs(logs: dict, first, run) -> dict:
    """Assert the rerun of the authors' committed setting on their numbers, each within 3 combined standard errors.

    ``logs`` maps ``spread_1``, ``spread_300`` and ``exponent`` to the authors' ``(mean, se)``; ``first`` holds the
    first-step spreads of many seeds, ``run`` the full rerun. Returns ours in the same form.
    """
    last = run.spread[:, -1]
    ours = {
        "spread_1": (first.mean(), first.std(ddof=1) / np.sqrt(len(first))),
        "spread_300": (last.mean(), last.std(ddof=1) / np.sqrt(len(last))),
        "exponent": exponent(run.spread, 30, 300),
    }
    for key, (theirs, theirs_se) in logs.items():
        mine, mine_se = ours[key]
        if abs(mine - theirs) > 3 * np.hypot(mine_se, theirs_se):
            raise AssertionError(f"{key}: ours {mine:.4f} ± {mine_se:.4f}, the authors' {theirs} ± {theirs_se}: more "
                                 f"than 3 combined standard errors apart")
    return ours


def logs_table(logs: dict, ours: dict) -> MarkdownTable:
    """The authors' committed numbers next to ours."""
    return markdown_table(pd.DataFrame(
        {"authors' run": [fmt_mean_se(mean=v, se=s) for v, s in logs.values()],
         "this book": [fmt_mean_se(mean=v, se=s) for v, s in ours.values()]},
        index=pd.Index(["spread at t = 1 (300 seeds)", "spread at t = 300", "exponent, t = 30..300"],
                       name="N = 200, α = 0.1"),
    ))


def geo_mean(spread: np.ndarray) -> np.ndarray:
    """The geometric mean over seeds (rows) at every iteration."""
    return np.exp(np.log(spread).mean(0))


def figure_selection(loops: dict, exact: dict, power: dict) -> plt.Figure:
    """Figure fig-selection-2x2: spread per iteration for {replace, accumulate} x {no selection, selection}, with the
    exact mean spread and, for accumulate with selection, the settled power law."""
    T = _iterations(loops[("accumulate", "selection")].spread)
    settled = power["settled"]
    fig, axes = plt.subplots(2, 2, figsize=(8, 6.2), sharey=True)
    for (policy, filt), run in loops.items():
        ax = axes[int(filt == "selection"), int(policy == "accumulate")]
        color = plotting.policy_style(policy)["color"]
        for s in run.spread[:10]:
            ax.plot(T[1:], s[1:], color=color, lw=0.5, alpha=0.35)
        if filt == "none":
            ax.plot(T[1:], run.spread.mean(0)[1:], color=color, lw=2, label="mean over seeds")
            ax.plot(T[1:], exact[policy][1:], "k--", lw=1, label="exact mean spread")
        else:
            ax.plot(T[1:], geo_mean(run.spread)[1:], color=color, lw=2, label="geometric mean over seeds")
        ax.set_title(f"{policy}, {'no selection' if filt == 'none' else 'selection'}")
        ax.set_yscale("log")
        ax.set_ylim(1e-8, 2)
    axes[1, 1].set_xscale("log")
    law = geo_mean(loops[("accumulate", "selection")].spread)[30] * (T[30:] / 30) ** settled
    axes[1, 1].plot(T[30:], law, "k--", lw=1, label=f"$t^{{{settled:.2f}}}$ (settled $c$, $\\kappa$)")
    for a in axes[1]:
        a.set_xlabel("iteration $t$")
    for a in axes[:, 0]:
        a.set_ylabel("spread $\\mathrm{tr}\\,\\Sigma_t / \\mathrm{tr}\\,\\Sigma^*$")
    axes[0, 0].legend(loc="lower left")
    axes[1, 1].legend(loc="lower left")
    return fig


def glue_selection(loops: dict) -> MarkdownTable:
    """Glue the geometric-mean spread with selection: replace at ``t = 50``, accumulate at the last iteration."""
    rep_sel = geo_mean(loops[("replace", "selection")].spread)
    return glue_numbers({
        "rep_sel_50": ("replace with selection: geometric-mean spread at $t = 50$", f"{rep_sel[50]:.0e}"),
        "acc_sel_300": ("accumulate with selection: geometric-mean spread at $t = 300$",
                        fmt_value(geo_mean(loops[("accumulate", "selection")].spread)[-1], 3)),
    })


# ---------------------------------------------------------------------------------------------------------
# Paper vs this book
# ---------------------------------------------------------------------------------------------------------


def paper_rows(*, loop: LinearLoop, regimes: dict[str, Regime], vmap: VerifierMap, loops: dict, power: dict,
               logs: dict, ours: dict) -> list[Row]:
    """The "paper vs this book" rows, from the results of the checks above."""
    m = {name: regime.run.mean() for name, regime in regimes.items()}

    def at_last(name):
        """The regime's mean error in the last round, with its standard error."""
        return fmt_mean_se(mean=m[name][-1], se=regimes[name].run.sem()[-1])

    last = m["unbiased"].size - 1
    best = int(np.argmin(m["slightly biased"]))
    radius = regimes["unbiased"].run.verifier.radius
    rep_sel = geo_mean(loops[("replace", "selection")].spread)
    fitted, fitted_se = power["fitted"], power["fitted_se"]
    return [
        Row("unbiased verifier ($\\Delta = 0$), error at round 30", "near-term improvement", "reported",
            f"{at_last('unbiased')} vs $e_0$ = {fmt_value(loop.e0, 3)}", "reproduced",
            "limit $v/(1-\\rho^2)$ derived here"),
        Row("slightly biased verifier ($\\Delta = 0.3$)", "early gains plateau and may reverse", "reported",
            f"best {fmt_value(m['slightly biased'].min(), 3)} at round {best}, "
            f"{at_last('slightly biased')} at round {last}", "reproduced"),
        Row("strongly biased verifier ($\\Delta = 1.5$)", "converges to the knowledge center", "reported",
            f"{at_last('strongly biased')} at round {last}, $\\Delta^2$ = 2.25", "reproduced"),
        Row("convergence to $\\theta_c$ (section 4, Theorem 4.1)",
            "iterative retraining converges to the verifier's knowledge center", "reported",
            "the contraction bound derived above holds in every round; "
            f"$\\rho$ = {fmt_value(loop.rho(radius), 3)} at $r = {radius:g}$", "direction only",
            "the theorem's constants were not available; ours are derived here"),
        Row("the radius sets the speed, not the limit", "", "none",
            f"{int(vmap.converged.sum()) * vmap.biases.size} converged cells on $\\Delta^2 + v/(1-\\rho^2)$",
            "beyond the paper"),
        Row("replace with selection", "selection accelerates collapse", "reported",
            f"geometric-mean spread {rep_sel[50]:.0e} at $t = 50$", "reproduced"),
        Row("accumulate with selection: power-law decay", "power-law diversity decay", "reported",
            f"exponent {fmt_mean_se(mean=fitted, se=fitted_se)} (settled constants: {fmt_value(power['settled'], 2)})",
            "reproduced", "$d = 10$, $N = 300$, $\\alpha = 0.05$ (the script's settings)"),
        Row("committed run $N = 200$: spread at $t = 1$ / at $t = 300$ / exponent",
            " / ".join(fmt_mean_se(mean=v, se=s) for v, s in logs.values()), "logs",
            " / ".join(fmt_mean_se(mean=v, se=s) for v, s in ours.values()), "reproduced",
            "$\\alpha = 0.1$ assumed (not recorded), own seeds"),
        Row("first-step exponent $-(1 - c_1)$", "", "none",
            f"{fmt_value(power['first_step'], 2)} against the fitted {fmt_value(fitted, 2)}", "beyond the paper",
            "a heuristic that misses; the settled one does not"),
    ]
