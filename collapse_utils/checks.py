"""Assertions that a chapter runs on its own results, so an executed chapter is also a checked one.

Two kinds: Monte-Carlo means against closed forms (:func:`zscores`, :func:`assert_calibrated`,
:func:`assert_close_asymptotic`), and qualitative claims about runs over a few training seeds (:class:`Claims`).
"""

from __future__ import annotations

import numpy as np


def zscores(mean, sem, theory) -> np.ndarray:
    """``(mean - theory) / sem`` elementwise: how many standard errors a Monte-Carlo mean is off."""
    mean, sem, theory = (np.asarray(a, dtype=float) for a in (mean, sem, theory))
    if mean.shape != sem.shape or mean.shape != theory.shape:
        raise ValueError(f"mean, sem and theory must have one shape, got {mean.shape}, {sem.shape}, {theory.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(theory))):
        raise ValueError("mean and theory must be finite at every point (a diverged simulation is not a match)")
    if np.any(sem <= 0) or not np.all(np.isfinite(sem)):
        raise ValueError("sem must be finite and > 0 at every point")
    return (mean - theory) / sem


def family_z_threshold(n_points: int, alpha: float = 0.01) -> float:
    """Two-sided Bonferroni threshold: ``|z|`` that ``n_points`` exact-theory z-scores all stay below with
    probability >= 1 - alpha (normal approximation)."""
    from scipy.stats import norm

    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be an integer >= 1, got {n_points!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(norm.isf(alpha / (2 * n_points)))


def assert_calibrated(
    z, *, alpha: float = 0.01, distribution: bool = True, what: str = "simulation"
) -> dict[str, float]:
    """Assert that many z-scores (Monte-Carlo mean vs theory, in standard errors) look like N(0, 1) draws.

    Checks (i) every ``|z|`` is below :func:`family_z_threshold` for their number at level ``alpha``, so no
    single point is off; (ii) at least 90% lie within 2 and between 55% and 80% within 1 standard error
    (normal: 95.4% and 68.3%; the margins allow for the correlation of points along one chain). A biased
    formula or a wrong standard error fails (ii) even when each point alone looks plausible. Check (ii) needs
    many independent curves; pass ``distribution=False`` for a handful, whose points are strongly correlated.

    Returns the summary: number of points, threshold, largest ``|z|``, shares within 1, 2, 3 SE, and the
    number beyond 3 SE next to the number expected by chance.
    """
    z = np.abs(np.asarray(z, dtype=float).ravel())
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise ValueError("z must be a non-empty array of finite numbers")
    summary = {
        "points": int(z.size),
        "threshold": family_z_threshold(int(z.size), alpha),
        "max_abs_z": float(z.max()),
        "within_1se": float(np.mean(z <= 1)),
        "within_2se": float(np.mean(z <= 2)),
        "within_3se": float(np.mean(z <= 3)),
        "beyond_3se": int(np.sum(z > 3)),
        "beyond_3se_expected": float(z.size * 0.0026998),
    }
    if summary["max_abs_z"] > summary["threshold"]:
        raise AssertionError(f"{what}: a point lies {summary['max_abs_z']:.2f} standard errors from theory, beyond "
                             f"the family-wise threshold {summary['threshold']:.2f} for {z.size} points")
    if distribution and (summary["within_2se"] < 0.90 or not 0.55 <= summary["within_1se"] <= 0.80):
        raise AssertionError(f"{what}: z-scores are not N(0, 1)-like: {summary['within_1se']:.1%} within 1 SE "
                             f"(expected 55-80%), {summary['within_2se']:.1%} within 2 SE (expected >= 90%)")
    return summary


def assert_close_asymptotic(mean, sem, theory, *, n_se: float = 3.0, rtol: float = 0.05,
                            what: str = "simulation") -> float:
    """Assert ``|mean - theory| <= n_se * sem + rtol * |theory|`` everywhere; return the worst ratio of the two sides.

    For formulas that are exact only as the dimension grows (random-matrix asymptotics): the simulation at a finite
    dimension may differ by O(1/d) on top of Monte-Carlo noise; ``rtol`` states how much. A ratio <= 1 passes.
    """
    if not np.isfinite(rtol) or rtol < 0:
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    if not np.isfinite(n_se) or n_se <= 0:
        raise ValueError(f"n_se must be a finite number > 0, got {n_se!r}")
    z = zscores(mean, sem, theory)  # validates shapes and finiteness
    mean, sem, theory = (np.asarray(a, dtype=float) for a in (mean, sem, theory))
    ratio = np.abs(mean - theory) / (n_se * sem + rtol * np.abs(theory))
    worst = int(np.argmax(ratio))
    if ratio.flat[worst] > 1:
        raise AssertionError(
            f"{what}: Monte-Carlo mean {mean.flat[worst]:.6g} differs from theory {theory.flat[worst]:.6g} "
            f"by {abs(z.flat[worst]):.2f} standard errors and {abs(mean.flat[worst] / theory.flat[worst] - 1):.1%} "
            f"at point {worst}, beyond {n_se} standard errors + {rtol:.0%}"
        )
    return float(ratio.max())


class Claims:
    """Qualitative claims about results over training seeds, each a paired statistical test with a fixed rule.

    A claim "``larger`` > ``smaller``" holds when the per-seed difference ``larger - smaller`` is positive for every
    seed **and** its mean is at least ``n_se`` standard errors above zero (standard error: the seeds' sample
    standard deviation over the square root of their number). Either side may be a number (a bound) or an array
    with one value per seed, the seeds in the same order on both sides (paired: same seed, same first model).
    The rule is stated by :meth:`rule` for the page, before the results; :meth:`table` lists every claim with its
    mean difference, standard error, z and verdict; :meth:`assert_all` fails naming every claim that does not hold.

    With ``noise_floor=True`` the second condition is instead that **every** seed's difference is at least ``n_se``
    times the noise of one fit (``noise``, given with each claim: e.g. the seeds' standard deviation of the first
    model's value). That rule suits heavy-tailed effects: one seed whose effect is much larger than the others'
    inflates the standard error of the mean, so the mean rule can reject a claim that every seed supports strongly.
    """

    def __init__(self, n_se: float = 3.0, *, noise_floor: bool = False):
        if not np.isfinite(n_se) or n_se <= 0:
            raise ValueError(f"n_se must be a finite number > 0, got {n_se!r}")
        self.n_se = float(n_se)
        self.noise_floor = bool(noise_floor)
        self.rows: list[dict] = []

    def rule(self) -> str:
        if self.noise_floor:
            return (f"a claim holds when the per-seed difference has the claimed sign in every seed and in every seed "
                    f"is at least {self.n_se:g} times the noise of one fit")
        return (f"a claim holds when the per-seed difference has the claimed sign in every seed and its mean is at "
                f"least {self.n_se:g} standard errors from zero")

    def greater(self, name: str, larger, smaller, *, noise: float | None = None) -> bool:
        """Record the claim ``larger > smaller`` (see the class docstring); return whether it holds."""
        diff = np.asarray(larger, dtype=float) - np.asarray(smaller, dtype=float)
        diff = np.atleast_1d(diff)
        if diff.ndim != 1 or diff.size < 2 or not np.all(np.isfinite(diff)):
            raise ValueError(f"{name}: need finite values of at least 2 seeds, got {diff!r}")
        if self.noise_floor != (noise is not None):
            raise ValueError(f"{name}: noise must be given {'with' if self.noise_floor else 'only with'} "
                             f"noise_floor=True, got {noise!r}")
        if noise is not None and not (np.isfinite(noise) and noise > 0):
            raise ValueError(f"{name}: noise must be a finite number > 0, got {noise!r}")
        mean, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size))
        z = mean / se if se > 0 else (np.inf if mean > 0 else -np.inf)
        row = {"claim": name, "mean difference": mean, "standard error": se, "z": z,
               "seeds agreeing": f"{int(np.sum(diff > 0))}/{diff.size}"}
        if noise is None:
            holds = bool(np.all(diff > 0) and z >= self.n_se)
        else:
            row["smallest / noise"] = float(diff.min() / noise)
            holds = bool(np.all(diff > 0) and row["smallest / noise"] >= self.n_se)
        self.rows.append({**row, "holds": holds})
        return holds

    def less(self, name: str, smaller, larger, *, noise: float | None = None) -> bool:
        """Record the claim ``smaller < larger``: :meth:`greater` with the sides swapped."""
        return self.greater(name, larger, smaller, noise=noise)

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("claim")

    def assert_all(self) -> None:
        failed = [r["claim"] for r in self.rows if not r["holds"]]
        if not self.rows:
            raise ValueError("no claim was recorded")
        if failed:
            raise AssertionError(f"{len(failed)} of {len(self.rows)} claims do not hold ({self.rule()}): "
                                 + "; ".join(failed))


def assert_paired_gain(worse, better, *, n_se: float = 3.0, what: str = "paired gain"):
    """Assert that ``better`` beats ``worse`` on the same runs, and return the gain's mean, standard error and z.

    ``worse`` and ``better`` hold one value per run along axis 0 (paired: each run under both settings), with any
    shape after it. The gain ``worse - better`` must have a mean at least ``n_se`` standard errors above zero at every
    position (standard error: the runs' sample standard deviation of the gain over the square root of their number).
    Unlike :class:`Claims`, single runs may go the other way: the claim is about the mean.

    Returns
    -------
    mean, se, z : numpy.ndarray
        Arrays of the shape after axis 0.
    """
    if not np.isfinite(n_se) or n_se <= 0:
        raise ValueError(f"n_se must be a finite number > 0, got {n_se!r}")
    gain = np.asarray(worse, dtype=float) - np.asarray(better, dtype=float)
    if gain.ndim < 1 or gain.shape[0] < 2 or not np.all(np.isfinite(gain)):
        raise ValueError(f"{what}: need finite values of at least 2 runs along axis 0, got shape {gain.shape}")
    mean, se = gain.mean(axis=0), gain.std(axis=0, ddof=1) / np.sqrt(gain.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, mean / np.where(se > 0, se, 1.0), np.sign(mean) * np.inf)
    failed = ~(z >= n_se)
    if np.any(failed):
        first = np.unravel_index(int(np.argmax(failed)), np.shape(failed)) if np.ndim(failed) else ()
        m, zf = np.asarray(mean)[first], np.asarray(z)[first]
        raise AssertionError(f"{what}: the mean gain {m:.4g} is {zf:.2f} standard errors from zero at position "
                             f"{first}, fewer than {n_se:g}")
    return mean, se, z


def assert_same_minimum(x, runs, theory, *, rng: np.random.Generator, window: float = 1.5, n_boot: int = 500,
                        resolution: float = float(np.log(2)), what: str = "minimum") -> tuple[float, float, float]:
    """Assert that a simulated U-shaped curve bottoms out where its theory does, with a test that can tell them apart.

    Both curves are located by the same estimator: the vertex of a parabola fitted to ``log y`` against ``log x``
    (:func:`collapse_utils.theory.scaling.loglog_vertex`) over the points where ``theory`` is within ``window`` times
    its minimum. The simulated vertex, from the mean over ``runs`` (shape ``(n_runs, len(x))``), gets a standard error
    in ``log x`` from ``n_boot`` bootstrap resamples of the runs. The assertion: the two vertices differ by at most 3
    standard errors in ``log x``, and 3 standard errors are at most ``resolution`` (default ``log 2``: a bottom at half
    or twice the predicted ``x`` would be detected).

    Returns
    -------
    theory_vertex, simulated_vertex, log_se : float
    """
    from collapse_utils.theory.scaling import loglog_vertex

    x, runs, theory = (np.asarray(a, dtype=float) for a in (x, runs, theory))
    if runs.ndim != 2 or runs.shape[1] != x.size or theory.shape != x.shape or runs.shape[0] < 2:
        raise ValueError(f"runs must be (n_runs >= 2, len(x)) and theory (len(x),), got {runs.shape} and "
                         f"{theory.shape}")
    if not window > 1 or not n_boot >= 2:
        raise ValueError(f"window must be > 1 and n_boot >= 2, got {window!r} and {n_boot!r}")
    win = theory <= window * theory.min()
    fit = lambda y: loglog_vertex(x[win], y[win])  # noqa: E731
    boot = rng.integers(0, runs.shape[0], size=(n_boot, runs.shape[0]))
    log_se = float(np.std([np.log(fit(runs[b].mean(axis=0))) for b in boot], ddof=1))
    at_theory, simulated = fit(theory), fit(runs.mean(axis=0))
    gap = abs(np.log(simulated / at_theory))
    if gap > 3 * log_se or 3 * log_se > resolution:
        raise AssertionError(f"{what}: simulated minimum at {simulated:.4g}, theory's at {at_theory:.4g}: "
                             f"{gap / log_se:.2f} standard errors apart (at most 3), resolution 3 se = "
                             f"{3 * log_se:.3f} in log x (at most {resolution:.3f})")
    return at_theory, simulated, log_se
