"""Helpers for the chapters' notebooks: the first cell, numbers at the precision their seeds support, seed tables,
and the "paper vs this book" table.

A chapter starts with ``ch = chapter.start("vae-mnist")`` (threads, seeds, style, settings); it reports stochastic
numbers with :func:`mean_se` / :func:`fmt_mean_se` and ends with :func:`paper_table`, which renders a real table
(typeset math, no truncation, a source label on every paper cell, a status per row) and, when ``make execute`` runs
(``COLLAPSE_STORE=1``), stores the rows for the book's results page.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from collapse_utils import config, plotting  # submodules
from collapse_utils.stored import RESULTS_DIR, storing

SOURCES = {
    "reported": "reported",
    "figure": "read off a figure",
    "derived": "derived by the book from the paper's formulas",
    "follow-up": "from a follow-up paper",
    "logs": "the authors' validation logs",
    "setting": "the paper's setting",
    "none": "not in the paper",
}
"""Where a paper-side number comes from (the label shown in every paper cell)."""

STATUSES = ("reproduced", "direction only", "not reproduced", "beyond the paper")
"""How the book's number relates to the paper's."""


@dataclass(frozen=True)
class Chapter:
    """What :func:`start` returns: the chapter's name, its scale profile and settings, and a seeded generator."""

    name: str
    scale: str
    settings: dict
    rng: np.random.Generator


def start(name: str, seed: int = config.DEFAULT_SEED) -> Chapter:
    """The first cell of a chapter: pin threads, seed everything, apply the plot style, read the settings, and print
    one line naming the versions and the profile (so a reader knows what produced the page)."""
    rng = config.setup(seed)
    plotting.use_style()
    scale = config.get_scale()
    settings = config.scale_settings(name, scale)
    from collapse_utils import __version__

    torch = sys.modules.get("torch")
    versions = f"collapse_utils {__version__}" + (f", torch {torch.__version__.split('+')[0]}" if torch else "")
    print(f"{versions}; scale profile {scale!r}: "
          + ", ".join(f"{k}={v}" for k, v in settings.items() if not isinstance(v, (tuple, list, dict))))
    return Chapter(name, scale, settings, rng)


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (sample standard deviation / sqrt(n)) of per-seed values."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size < 2 or not np.all(np.isfinite(v)):
        raise ValueError(f"values must hold at least 2 finite numbers (one per seed), got {v!r}")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def _digits_for(se: float) -> int:
    """Decimal places that show ``se`` with one significant digit (two when it starts with a 1)."""
    if se <= 0 or not math.isfinite(se):
        return 3
    exponent = math.floor(math.log10(se))
    lead = se / 10**exponent
    return max(0, -exponent + (1 if lead < 2 else 0))


def fmt_mean_se(values=None, *, mean: float | None = None, se: float | None = None, percent: bool = False,
                signed: bool = False, unit: str = "") -> str:
    """``"mean ± se"`` at the precision the standard error supports: ``"+78 ± 3%"``, ``"1.437 ± 0.012"``.

    Pass per-seed ``values``, or ``mean`` and ``se``. ``percent`` multiplies by 100 and appends ``%``; ``signed``
    writes a plus sign on positive means; a minus sign is the typographic one, and ``-0`` never appears.
    """
    if values is not None:
        mean, se = mean_se(values)
    if mean is None or se is None:
        raise ValueError("pass per-seed values, or both mean and se")
    scale = 100.0 if percent else 1.0
    m, s = mean * scale, se * scale
    d = _digits_for(s)
    m_txt = f"{abs(m):.{d}f}"
    sign = "−" if m < 0 and float(m_txt) != 0 else ("+" if signed and float(m_txt) != 0 else "")
    return f"{sign}{m_txt} ± {s:.{d}f}{'%' if percent else ''}{unit}"


def fmt_value(value: float, digits: int = 3, *, percent: bool = False, signed: bool = False) -> str:
    """A deterministic number for the page, with the typographic minus and never ``-0``."""
    v = value * (100.0 if percent else 1.0)
    txt = f"{abs(v):.{digits}f}"
    sign = "−" if v < 0 and float(txt) != 0 else ("+" if signed and float(txt) != 0 else "")
    return f"{sign}{txt}{'%' if percent else ''}"


def relative_to_first(records: pd.DataFrame, metric: str, keys: list[str]) -> pd.Series:
    """Per row: ``metric`` divided by the value at iteration 1 of the same run (rows sharing ``keys``), minus 1."""
    first = records[records["iteration"] == 1].set_index(keys)[metric]
    if not first.index.is_unique:
        raise ValueError(f"keys {keys} do not identify one run per iteration-1 row")
    idx = pd.MultiIndex.from_frame(records[keys]) if len(keys) > 1 else pd.Index(records[keys[0]])
    return pd.Series(records[metric].to_numpy() / first.reindex(idx).to_numpy() - 1.0, index=records.index)


def seed_table(records: pd.DataFrame, metric: str, rows: str = "iteration", **where) -> pd.DataFrame:
    """``metric`` as a table (``rows`` x seed) of the records matching ``where`` (column=value pairs)."""
    mask = np.ones(len(records), dtype=bool)
    for column, value in where.items():
        mask &= (records[column] == value).to_numpy()
    if not mask.any():
        raise ValueError(f"no record matches {where}")
    return records[mask].pivot(index=rows, columns="seed", values=metric)


@dataclass(frozen=True)
class Row:
    """One row of a "paper vs this book" table.

    ``paper`` is the paper's number or statement (MyST markdown, math allowed), ``source`` a key of :data:`SOURCES`,
    ``book`` this book's, ``status`` one of :data:`STATUSES`, ``note`` an optional remark.
    """

    quantity: str
    paper: str
    source: str
    book: str
    status: str
    note: str = ""

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {sorted(SOURCES)}, got {self.source!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


class MarkdownTable:
    """A table shown as MyST/Jupyter markdown (math typesets in the book, in Jupyter and in Colab)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, *, index: bool = True) -> MarkdownTable:
    """A DataFrame as a markdown table (cells as given: format the numbers first); a multi-level index becomes one
    column per level."""
    if index and isinstance(frame.index, pd.MultiIndex):
        frame, index = frame.reset_index(), False
    cols = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for key, row in frame.iterrows():
        cells = ([key] if index else []) + list(row)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return MarkdownTable("\n".join(lines))


def paper_table(rows: list[Row], *, chapter: str | None = None, section: str = "") -> MarkdownTable:
    """The "paper vs this book" table; with ``chapter``, ``make execute`` stores its rows for the results page.

    ``section`` is the anchor of the page section that holds the table (for the scorecard's links).
    """
    if not rows:
        raise ValueError("rows must hold at least one Row")
    lines = ["| quantity | paper | this book | status |", "|---|---|---|---|"]
    for r in rows:
        paper = f"{r.paper} <br>*({SOURCES[r.source]})*" if r.source != "none" else f"*{SOURCES['none']}*"
        book = r.book + (f" <br>*{r.note}*" if r.note else "")
        lines.append(f"| {_cell(r.quantity)} | {_cell(paper)} | {_cell(book)} | {r.status} |")
    if chapter is not None and storing():
        path = RESULTS_DIR / "scorecard" / f"{chapter}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"chapter": chapter, "section": section, "rows": [asdict(r) for r in rows]}
        path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    return MarkdownTable("\n".join(lines))


def reproduction_note(compared: pd.DataFrame) -> str:
    """One line on a stored-table check (:func:`collapse_utils.stored.check_against_stored`): how many numbers, the
    threshold, and how far a number could move before the check fails, relative to its value (median over numbers)."""
    tolerance = (compared["threshold"] * compared["se"] / compared["stored"].abs()).replace(np.inf, np.nan)
    n, seeds, threshold = len(compared), int(compared["seeds"].min()), compared["threshold"].iloc[0]
    return (f"{n} numbers compared with the stored run: each must lie within {threshold:.1f} standard errors of the "
            f"difference (Welch's t for {seeds} + {seeds} seeds, Bonferroni over the {n} numbers at 1%), which lets a "
            f"number move by {100 * tolerance.median():.1f}% of its value (median over the numbers); largest |t| "
            f"here: {compared['t'].max():.2f}")


def stored_scorecard(directory: Path | None = None) -> pd.DataFrame:
    """Every stored "paper vs this book" row of every chapter (one row each, with the chapter and section)."""
    directory = (RESULTS_DIR if directory is None else Path(directory)) / "scorecard"
    rows = []
    for path in sorted(directory.glob("*.json")):
        payload = json.loads(path.read_text())
        rows += [{"chapter": payload["chapter"], "section": payload["section"], **r} for r in payload["rows"]]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# Runs over seeds: per-seed values, changes from the first model, and the chapters' standard claims
# ---------------------------------------------------------------------------------------------------------


def per_seed(records: pd.DataFrame, metric: str, **where) -> np.ndarray:
    """The values of ``metric`` in the rows matching ``where`` (column=value), one per seed in seed order."""
    mask = np.ones(len(records), dtype=bool)
    for column, value in where.items():
        mask &= (records[column] == value).to_numpy()
    rows = records[mask].sort_values("seed")
    if rows["seed"].duplicated().any() or rows.empty:
        raise ValueError(f"{where} must select exactly one row per seed, got {len(rows)} rows")
    return rows[metric].to_numpy(dtype=float)


def change_table(records: pd.DataFrame, metric: str, by: list[str], *, last: int | None = None,
                 digits: int = 3) -> pd.DataFrame:
    """Per group of ``by``: ``metric`` at iteration 1 and at ``last`` (mean ± s.e. over seeds) and the relative change
    of each seed's run (mean ± s.e., in percent), formatted for :func:`markdown_table`."""
    last = int(records["iteration"].max()) if last is None else last
    rows = []
    for key, group in records.groupby(by, sort=False):
        first = per_seed(group, metric, iteration=1)
        end = per_seed(group, metric, iteration=last)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "iteration 1": fmt_mean_se(first), f"iteration {last}": fmt_mean_se(end),
                     "change": fmt_mean_se(end / first - 1, percent=True, signed=True)})
    return pd.DataFrame(rows).set_index(by)


def claim_rises(claims, records: pd.DataFrame, metric: str, label: str, *, noise: float | None = None,
                **where) -> None:
    """Claim that ``metric`` rises at every iteration (each iteration above the one before, paired by seed);
    ``noise``: the noise of one fit, for a :class:`~collapse_utils.checks.Claims` with a noise floor."""
    iterations = sorted(records["iteration"].unique())
    for prev, it in itertools.pairwise(iterations):
        claims.greater(f"{label}: iteration {it} above iteration {prev}",
                       per_seed(records, metric, iteration=it, **where),
                       per_seed(records, metric, iteration=prev, **where), noise=noise)


def claim_order(claims, records: pd.DataFrame, metric: str, policies: list[str], label: str, *,
                iteration: int | None = None, noise: float | None = None, **where) -> None:
    """Claim that at ``iteration`` (default: the last) ``metric`` increases along ``policies`` (lowest first)."""
    iteration = int(records["iteration"].max()) if iteration is None else iteration
    for low, high in itertools.pairwise(policies):
        claims.greater(f"{label}: {high} above {low} at iteration {iteration}",
                       per_seed(records, metric, policy=high, iteration=iteration, **where),
                       per_seed(records, metric, policy=low, iteration=iteration, **where), noise=noise)


def claim_within(claims, records: pd.DataFrame, metric: str, policy: str, bound: float, label: str, *,
                 iteration: int | None = None, noise: float | None = None, **where) -> None:
    """Claim that at ``iteration`` (default: the last) ``metric`` is less than ``bound`` (relative) above
    iteration 1; ``noise`` is in the metric's units (divided here by its mean at iteration 1)."""
    iteration = int(records["iteration"].max()) if iteration is None else iteration
    first = per_seed(records, metric, policy=policy, iteration=1, **where)
    change = per_seed(records, metric, policy=policy, iteration=iteration, **where) / first - 1
    claims.less(f"{label}: {policy} less than {100 * bound:g}% above iteration 1 at iteration {iteration}",
                change, bound, noise=None if noise is None else noise / first.mean())


def provenance_note(provenance: list[dict]) -> str:
    """One line per distinct (device, date, commit) of results read from a results directory (empty for results
    computed by this execution)."""
    seen = sorted({(p["device"], p["date"][:10], p["git_commit"][:12], p["profile"]) for p in provenance})
    return "\n".join(f"results computed on {d} on {date}, commit {c}, profile {prof!r} (read from COLLAPSE_RESULTS)"
                     for d, date, c, prof in seen)


def glue_numbers(numbers: dict) -> MarkdownTable:
    """Glue numbers for the prose and return them as a table for the page.

    ``numbers`` maps a glue name to ``(label, value)``: each value (formatted first, as text) is glued under its name,
    for ``{glue:text}`name``` roles, and shown next to its label (markdown, math allowed) in the returned two-column
    table, so that a reader in Jupyter or Colab, where glue roles do not render, finds the same numbers in the output.
    """
    from myst_nb import glue

    if not numbers:
        raise ValueError("numbers must map at least one glue name to (label, value)")
    for name, (_, value) in numbers.items():
        glue(name, value, display=False)
    frame = pd.DataFrame({"quantity": [label for label, _ in numbers.values()],
                          "value": [str(value) for _, value in numbers.values()]})
    return markdown_table(frame, index=False)


def change(records: pd.DataFrame, metric: str, *, to: int | None = None, start: int = 1, **where) -> np.ndarray:
    """Per seed: ``metric`` at iteration ``to`` (default: the last) relative to iteration ``start``, minus 1."""
    to = int(records["iteration"].max()) if to is None else to
    return per_seed(records, metric, iteration=to, **where) / per_seed(records, metric, iteration=start, **where) - 1


def fmt_seeds(records: pd.DataFrame, metric: str, *, percent: bool = False, signed: bool = False, **where) -> str:
    """``metric`` of the rows matching ``where`` (one per seed) as "mean ± s.e." (:func:`fmt_mean_se`)."""
    return fmt_mean_se(per_seed(records, metric, **where), percent=percent, signed=signed)


def claims_table(claims) -> MarkdownTable:
    """The claims of a :class:`collapse_utils.checks.Claims` as a table for the page (numbers to 3 digits)."""
    return markdown_table(claims.table().map(lambda v: f"{v:.3g}" if isinstance(v, float) else v))
