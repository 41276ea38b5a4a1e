"""The stored per-seed results of the chapters that train torch models, and the statistical check of a fresh run.

Training on a CPU is deterministic on one machine but not across machines: another CPU's kernels round differently,
and sampling turns a last-digit difference into other data. A torch chapter's numbers are therefore checked as
statistics, not as text. Each such chapter keeps a small tidy table of its per-seed results,
``notebooks/results/<chapter>.csv``, committed beside the notebook:

- ``make execute`` (which sets ``COLLAPSE_STORE=1``) writes the table from the run it executes;
- every other execution (nbval in ``make test``, a reader's run) compares its fresh results with the table:
  :func:`check_against_stored` asserts that every compared number's seed mean agrees with the stored seed mean
  within a threshold derived from the two seed spreads (Welch's t with Bonferroni's correction, below).

On the machine that stored the table a re-execution reproduces it exactly; elsewhere each seed becomes a new draw
of the same law, and the check asks whether the fresh seed mean is what the stored spread allows.

The rule (written on each chapter's page before its result): with ``n`` seeds on each side, fresh mean ``m_f`` and
stored mean ``m_s`` with standard errors ``s_f`` and ``s_s``, a number agrees when
``|m_f - m_s| <= t* sqrt(s_f^2 + s_s^2)``, ``t*`` the ``1 - alpha / (2 G)`` quantile of Student's t with
``2 (n - 1)`` degrees of freedom, ``G`` the number of compared numbers and ``alpha = 0.01`` the chance that an
unchanged chapter fails somewhere. Numbers that do not vary over seeds on either side must agree exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "results"
"""Where the torch chapters' per-seed tables live (committed)."""

FLOAT_FORMAT = "%.9g"


def storing() -> bool:
    """Whether this execution writes the stored tables (``COLLAPSE_STORE=1``, set by ``make execute``)."""
    value = os.environ.get("COLLAPSE_STORE", "0").strip()
    if value not in ("0", "1"):
        raise ValueError(f"COLLAPSE_STORE must be '0' or '1', got {value!r}")
    return value == "1"


def t_threshold(n_compared: int, dof: int, alpha: float = 0.01) -> float:
    """Two-sided Bonferroni threshold of Student's t: ``t_{dof}`` quantile ``1 - alpha / (2 n_compared)``."""
    from scipy.stats import t

    return float(t.isf(alpha / (2 * n_compared), dof))


def compare(fresh: pd.DataFrame, stored: pd.DataFrame, *, by: list[str], metrics: list[str],
            alpha: float = 0.01) -> pd.DataFrame:
    """One row per (group of ``by``, metric): both seed means and standard errors, ``t`` and the threshold.

    Both frames hold one row per seed and group (column ``seed``). The columns ``agrees`` and ``t`` say whether the
    fresh mean lies within the threshold of the stored one (the rule of the module docstring).
    """
    missing = [c for c in [*by, "seed", *metrics] if c not in fresh or c not in stored]
    if missing:
        raise ValueError(f"both tables need the columns {missing}")
    rows = []
    for metric in metrics:
        f = fresh.groupby(by)[metric].agg(["mean", "std", "count"])
        s = stored.groupby(by)[metric].agg(["mean", "std", "count"])
        seen = set()  # groups whose seeds repeat another's exactly, on both sides (iteration 1, shared by the policies)
        stored_values = stored.groupby(by)[metric].apply(lambda v: tuple(v.to_numpy(dtype=float)))
        fresh_values = fresh.groupby(by)[metric].apply(lambda v: tuple(v.to_numpy(dtype=float)))
        if set(f.index) != set(s.index):
            raise AssertionError(f"{metric}: the fresh run has groups {sorted(set(f.index) ^ set(s.index))} that the "
                                 "stored table has not (or the reverse); run `make execute` after changing a chapter")
        for key in s.index:
            fm, fs, fn = f.loc[key]
            sm, ss, sn = s.loc[key]
            if np.isnan(fm) and np.isnan(sm) and fn == 0 and sn == 0:  # a metric this group does not have
                continue
            pair = (stored_values.loc[key], fresh_values.loc[key])
            if pair in seen:
                continue
            seen.add(pair)
            se = float(np.sqrt(fs**2 / fn + ss**2 / sn)) if fn > 1 and sn > 1 else 0.0
            rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)), "metric": metric,
                         "stored": sm, "stored_se": ss / np.sqrt(sn) if sn > 1 else 0.0, "fresh": fm,
                         "fresh_se": fs / np.sqrt(fn) if fn > 1 else 0.0, "seeds": int(min(fn, sn)), "se": se})
    table = pd.DataFrame(rows)
    dof = max(2 * (int(table["seeds"].min()) - 1), 1)
    threshold = t_threshold(len(table), dof, alpha)
    diff = (table["fresh"] - table["stored"]).abs()
    exact = np.isclose(table["fresh"], table["stored"], rtol=1e-9, atol=1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["t"] = np.where(table["se"] > 0, diff / table["se"], np.where(exact, 0.0, np.inf))
    table["threshold"] = threshold
    table["agrees"] = exact | (table["t"] <= threshold)
    return table


def check_against_stored(chapter: str, results: pd.DataFrame, *, by: list[str], metrics: list[str],
                         alpha: float = 0.01, directory: Path | None = None) -> pd.DataFrame:
    """Write (``make execute``) or check (every other run) the per-seed table of ``chapter``.

    Parameters
    ----------
    chapter
        The table's name: ``<directory>/<chapter>.csv``.
    results
        One row per seed and group: columns ``by``, ``seed`` and ``metrics`` (more columns are ignored).
    by, metrics
        The grouping columns (e.g. model, policy, iteration) and the numbers compared.
    alpha
        The family-wise chance that an unchanged chapter fails the check on another machine.
    directory
        Where the tables live (default :data:`RESULTS_DIR`).

    Returns
    -------
    pandas.DataFrame
        The comparison (:func:`compare`); when storing, the comparison of the run with itself.

    Raises
    ------
    AssertionError
        If a number's fresh seed mean is farther from the stored one than the threshold; the message names the
        worst number.
    """
    directory = RESULTS_DIR if directory is None else Path(directory)
    path = directory / f"{chapter}.csv"
    table = results[[*by, "seed", *metrics]].sort_values([*by, "seed"]).reset_index(drop=True)
    if storing():
        directory.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False, float_format=FLOAT_FORMAT)
    if not path.exists():
        raise AssertionError(f"no stored results at {path.name}: execute the chapter with `make execute` first")
    stored = pd.read_csv(path, dtype={c: table[c].dtype for c in by if table[c].dtype == object})
    fresh = pd.read_csv(_round_trip(table), dtype={c: table[c].dtype for c in by if table[c].dtype == object})
    out = compare(fresh, stored, by=by, metrics=metrics, alpha=alpha)
    bad = out[~out["agrees"]]
    if len(bad):
        worst = bad.sort_values("t").iloc[-1]
        where = ", ".join(f"{c}={worst[c]}" for c in by)
        raise AssertionError(
            f"{len(bad)} of {len(out)} numbers moved beyond the seed spread; worst: {worst['metric']} at {where}: "
            f"fresh {worst['fresh']:.6g} ± {worst['fresh_se']:.2g}, stored {worst['stored']:.6g} ± "
            f"{worst['stored_se']:.2g} (t = {worst['t']:.2f} > {worst['threshold']:.2f})")
    return out


def _round_trip(table: pd.DataFrame):
    """The table as the CSV would store it (so a same-machine run compares equal to the last digit)."""
    from io import StringIO

    buffer = StringIO()
    table.to_csv(buffer, index=False, float_format=FLOAT_FORMAT)
    buffer.seek(0)
    return buffer
