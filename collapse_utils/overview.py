"""The book's results at a glance: the reproducibility scorecard and one figure across the replace-vs-accumulate
studies, both read from the chapters' stored results (no chapter is re-run).

``make execute`` stores what this module reads, under ``notebooks/results/``:

- ``scorecard/<chapter>.json``: every chapter's "paper vs this book" rows (written by :func:`chapter.paper_table`);
- ``<chapter>.csv``: the per-seed tables of the torch chapters (written by :func:`stored.check_against_stored`).

Whatever subset exists is used; a study without stored results is drawn as an empty panel that says so. The linear
theory needs no stored result: relative to iteration 1, Gerstgrasser et al. (2024)'s closed forms give ``i`` for
replace and ``sum_{j<=i} 1/j^2`` for accumulate, whatever ``d``, ``T`` and ``sigma^2``. The results page
(``book/results.ipynb``) calls :func:`study_curves`, :func:`plot_overview`, :func:`scorecard`,
:func:`status_counts` and :func:`scorecard_table`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from collapse_utils import chapter, plotting
from collapse_utils.stored import RESULTS_DIR
from collapse_utils.theory import linear as linear_theory

GERSTGRASSER = "gerstgrasser2024accumulate"
DOHMATOB = "dohmatob2024demystified"
FOLLOW_UPS = "follow-ups"
PAPERS = {GERSTGRASSER: "Gerstgrasser et al. (2024)", DOHMATOB: "Dohmatob, Feng & Kempe (2024)",
          FOLLOW_UPS: "Follow-up papers"}
"""The two papers the book reproduces (BibTeX key: how the scorecard names it), and the follow-ups it adds."""

FIGURE_POLICIES = ("replace", "accumulate", "accumulate-subsample")
"""The policies the overview figure draws (replace-multiple stays on the chapters' pages)."""


@dataclass(frozen=True)
class Study:
    """One chapter as the results page sees it.

    ``chapter`` is its key (``config.CHAPTER_SETTINGS``, the scorecard file's name), ``page`` its page in the book,
    ``label`` a short name, ``paper`` the BibTeX key of the paper it reproduces. A torch chapter also names its
    per-seed table (``table``), the test error in it (``metric``, with ``metric_label``), the rows of its main runs
    (``where``: column, value pairs) and a column whose values are drawn as separate lines (``lines``).
    """

    chapter: str
    page: str
    label: str
    paper: str
    table: str = ""
    metric: str = ""
    metric_label: str = ""
    where: tuple[tuple[str, object], ...] = ()
    lines: str = ""


STUDIES = (
    Study("gaussian-kde", "notebooks/gaussian_kde", "Gaussian and KDE", FOLLOW_UPS),
    Study("linear-regression", "notebooks/linear_regression", "linear regression", GERSTGRASSER,
          metric_label="test error (closed forms, exact)"),
    Study("vae-mnist", "notebooks/vae_mnist", "VAE on MNIST", GERSTGRASSER, "vae_mnist.csv", "recon_mse",
          "reconstruction error of real test digits", (("arm", "main"),)),
    Study("language-models", "notebooks/language_models", "language models", GERSTGRASSER, "language_models.csv",
          "cross_entropy", "cross-entropy of real test stories", (("temperature", 1.0),), lines="model"),
    Study("diffusion-conformers", "notebooks/diffusion_conformers", "diffusion on molecules", GERSTGRASSER,
          "diffusion_conformers.csv", "local", "local denoising loss (GeoDiff's) of real test conformers"),
    Study("ridge-collapse", "notebooks/ridge_collapse", "ridge regression", DOHMATOB),
    Study("scaling-laws", "notebooks/scaling_laws", "scaling laws", DOHMATOB),
    Study("mnist-krr", "notebooks/mnist_krr", "kernel ridge on MNIST", DOHMATOB),
    Study("real-data-mixing", "notebooks/real_data_mixing", "how much real data", FOLLOW_UPS),
    Study("verification-selection", "notebooks/verification_selection", "verification and selection",
          FOLLOW_UPS),
)
"""Every chapter, in the book's order; the ones with a ``table`` or the linear theory make the overview figure."""

STATUS_MARKS = {"reproduced": "✓", "direction only": "≈", "not reproduced": "✗", "beyond the paper": "+"}
"""A mark per scorecard status, so that a column of statuses can be scanned."""


def study(chapter_key: str) -> Study:
    """The :class:`Study` of a chapter key; a chapter not in :data:`STUDIES` gets one derived from its key."""
    for s in STUDIES:
        if s.chapter == chapter_key:
            return s
    return Study(chapter_key, f"notebooks/{chapter_key.replace('-', '_')}", chapter_key.replace("-", " "), "")


def linear_reference(iterations) -> dict[str, np.ndarray]:
    """The linear theory's test error relative to iteration 1: ``{"replace": i, "accumulate": sum_{j<=i} 1/j^2}``.

    Gerstgrasser et al. (2024): replace's error is ``e_1 i``, accumulate's ``e_1 sum_{j<=i} 1/j^2`` with
    ``e_1 = sigma^2 d / (T - d - 1)``; the ratio to iteration 1 does not depend on ``d``, ``T`` or ``sigma^2``
    (any valid setting gives it; the closed forms of :mod:`collapse_utils.theory.linear` are evaluated at one).
    """
    i = np.asarray(iterations, dtype=int)
    out = {}
    for policy in ("replace", "accumulate"):
        error = linear_theory.TEST_ERRORS[policy]
        out[policy] = np.asarray(error(i, d=1, T=3, sigma2=1.0)) / error(1, d=1, T=3, sigma2=1.0)
    return out


def study_records(s: Study, directory: Path | None = None) -> pd.DataFrame | None:
    """The main runs of a torch study from its stored per-seed table (None when nothing is stored).

    Columns: ``policy``, ``seed``, ``iteration``, the study's ``metric`` and ``line`` (the value of ``s.lines``, or
    the study's label). Rows of other policies than :data:`FIGURE_POLICIES` are dropped.
    """
    if not s.table:
        return None
    path = Path(RESULTS_DIR if directory is None else directory) / s.table
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    missing = [c for c in ("policy", "seed", "iteration", s.metric, *(k for k, _ in s.where)) if c not in frame]
    if missing:
        raise ValueError(f"{path.name} must have the columns {missing} ({s.label})")
    mask = frame["policy"].isin(FIGURE_POLICIES)
    for column, value in s.where:
        mask &= frame[column] == value
    rows = frame[mask]
    if rows.empty:
        raise ValueError(f"{path.name} has no rows of {dict(s.where)} under {FIGURE_POLICIES} ({s.label})")
    line = rows[s.lines].astype(str) if s.lines else s.label
    return rows.assign(line=line)[["line", "policy", "seed", "iteration", s.metric]]


def study_curves(directory: Path | None = None) -> pd.DataFrame:
    """Test error relative to iteration 1 of every stored study, one row per (study, line, policy, iteration).

    Each seed's run is divided by its own iteration-1 value (all policies share iteration 1); ``mean`` is the mean
    of those ratios over seeds, ``low`` and ``high`` their range, ``seeds`` their number.
    """
    rows = []
    for s in STUDIES:
        records = study_records(s, directory)
        if records is None:
            continue
        for (line, policy), group in records.groupby(["line", "policy"], sort=False):
            table = group.pivot(index="iteration", columns="seed", values=s.metric).sort_index()
            if 1 not in table.index:
                raise ValueError(f"{s.label}, {line}, {policy}: no iteration 1 to divide by")
            ratio = table / table.loc[1]
            for iteration, values in ratio.iterrows():
                v = values.dropna().to_numpy(dtype=float)
                rows.append({"study": s.chapter, "label": s.label, "line": line, "policy": policy,
                             "iteration": int(iteration), "mean": v.mean(), "low": v.min(), "high": v.max(),
                             "seeds": v.size})
    return pd.DataFrame(rows, columns=["study", "label", "line", "policy", "iteration", "mean", "low", "high",
                                       "seeds"])


def _log_ticks(ax, bottom: float, top: float) -> None:
    """Log-scale y axis from ``bottom`` to ``top`` with a few ratio ticks labelled ×1, ×1.5, ×2, ..."""
    from matplotlib.ticker import FixedLocator, NullLocator

    fine, coarse = (0.5, 0.75, 1, 1.25, 1.5, 2), (0.5, 1, 2, 3, 5, 10, 20, 50, 100)
    candidates = fine if top < 2.5 else coarse
    ticks = [t for t in candidates if bottom <= t <= top]
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticks(ticks, [f"×{t:g}" for t in ticks])


REFERENCE_LABELS = {"replace": "linear theory: $i$", "accumulate": r"linear theory: $\Sigma_{j \leq i}\, 1/j^2$"}


def plot_overview(curves: pd.DataFrame, *, iterations: int | None = None):
    """The overview figure: one panel per replace-vs-accumulate study, test error / iteration 1 against iteration.

    The linear study's panel draws its closed forms; every other panel shows them in grey as the reference shapes
    ``i`` (dashed) and ``sum_{j<=i} 1/j^2`` (dotted) on a log scale shared by the deep-model panels (the ``i`` line
    leaves it where the deep models stay far below it). Bands span the seeds. Returns the figure (at the book's
    width, :func:`plotting.panels`).
    """
    from matplotlib.lines import Line2D

    figure_studies = [s for s in STUDIES if s.table or s.chapter == "linear-regression"]
    last = iterations or (int(curves["iteration"].max()) if len(curves) else 6)
    x = np.arange(1, last + 1)
    ref = linear_reference(x)
    ncols = 2
    nrows = -(-len(figure_studies) // ncols)
    fig, axes = plotting.panels(nrows, ncols, height=2.05, sharex=True)
    handles = {}
    high = float(curves["high"].max()) if len(curves) else 1.5
    low = float(curves["low"].min()) if len(curves) else 1.0
    deep_range = (min(0.9, low * 0.95), max(2.0, high * 1.1))
    for ax, s in zip(axes.flat, figure_studies, strict=False):
        ax.set_title(s.label, loc="left")
        if s.chapter == "linear-regression":
            for policy in ("replace", "accumulate"):
                st = plotting.policy_style(policy)
                handles[st["label"]] = ax.plot(x, ref[policy], color=st["color"], marker=st["marker"],
                                               label=st["label"])[0]
            ax.text(0.97, 0.06, "closed forms", transform=ax.transAxes, ha="right", color="0.35")
            _log_ticks(ax, 0.9, float(ref["replace"][-1]) * 1.1)
            continue
        for policy, style in (("replace", "--"), ("accumulate", ":")):
            handles[REFERENCE_LABELS[policy]] = ax.plot(x, ref[policy], color="0.55", linestyle=style,
                                                        linewidth=1.2)[0]
        _log_ticks(ax, *deep_range)
        rows = curves[curves["study"] == s.chapter]
        if rows.empty:
            ax.text(0.5, 0.5, "no stored results yet", transform=ax.transAxes, ha="center", va="center",
                    color="0.35")
            continue
        line_styles = dict(zip(rows["line"].unique(), ("-", (0, (4, 1.5)), "-."), strict=False))
        for (line, policy), group in rows.groupby(["line", "policy"], sort=False):
            st = plotting.policy_style(policy)
            ax.fill_between(group["iteration"], group["low"], group["high"], color=st["color"], alpha=0.18,
                            linewidth=0)
            h = ax.plot(group["iteration"], group["mean"], color=st["color"], marker=st["marker"],
                        linestyle=line_styles[line])[0]
            if line_styles[line] == "-":
                handles.setdefault(st["label"], h)
        if len(line_styles) > 1:
            ax.legend([Line2D([], [], color="0.2", linestyle=ls) for ls in line_styles.values()],
                      list(line_styles), loc="upper right")
    for ax in axes.flat[len(figure_studies):]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.set_xticks(x if last <= 10 else x[::max(1, last // 10)])
    for ax in axes[-1]:
        ax.set_xlabel("model-fitting iteration $i$")
    fig.supylabel("test error / iteration 1's", fontsize=plotting.STYLE["axes.labelsize"])
    order = [plotting.policy_style(p)["label"] for p in FIGURE_POLICIES] + list(REFERENCE_LABELS.values())
    keys = [k for k in order if k in handles]
    fig.legend([handles[k] for k in keys], keys, loc="outside upper center", ncol=3)
    return fig


def last_iteration_table(curves: pd.DataFrame) -> chapter.MarkdownTable:
    """Each study's test error at its last iteration relative to iteration 1, per policy (mean over seeds and the
    seeds' range), beside the linear theory's ``i`` and ``sum_{j<=i} 1/j^2`` at that iteration."""
    if curves.empty:
        return chapter.MarkdownTable("*No stored results yet: run `make execute`.*")
    rows = []
    for (label, line), group in curves.groupby(["label", "line"], sort=False):
        last = int(group["iteration"].max())
        ref = linear_reference([last])
        row = {"study": label if line == label else f"{label}: {line}", "iteration": str(last)}
        for policy in FIGURE_POLICIES:
            at = group[(group["policy"] == policy) & (group["iteration"] == last)]
            row[policy] = (f"×{at['mean'].item():.2f} <br>({at['low'].item():.2f}–{at['high'].item():.2f})"
                           if len(at) else "")
        row["linear theory: $i$ / $\\sum 1/j^2$"] = f"×{ref['replace'][0]:g} / ×{ref['accumulate'][0]:.2f}"
        rows.append(row)
    return chapter.markdown_table(pd.DataFrame(rows), index=False)


def scorecard(directory: Path | None = None) -> pd.DataFrame:
    """Every stored "paper vs this book" row, in the book's chapter order, with the chapter's label, page and paper.

    Columns: those of :func:`chapter.stored_scorecard` and ``label``, ``page``, ``paper``; an empty frame with these
    columns when nothing is stored.
    """
    card = chapter.stored_scorecard(RESULTS_DIR if directory is None else directory)
    columns = ["chapter", "section", "quantity", "paper", "source", "book", "status", "note", "label", "page",
               "paper_key"]
    if card.empty:
        return pd.DataFrame(columns=columns)
    bad = sorted(set(card["status"]) - set(chapter.STATUSES))
    if bad:
        raise ValueError(f"stored scorecard rows must have a status of {chapter.STATUSES}, got {bad}")
    order = {s.chapter: k for k, s in enumerate(STUDIES)}
    card = card.assign(label=[study(c).label for c in card["chapter"]],
                       page=[study(c).page for c in card["chapter"]],
                       paper_key=[study(c).paper for c in card["chapter"]],
                       _order=[order.get(c, len(order)) for c in card["chapter"]],
                       _row=range(len(card)))
    return card.sort_values(["_order", "_row"]).drop(columns=["_order", "_row"]).reset_index(drop=True)[columns]


def status_counts(card: pd.DataFrame) -> dict[str, int]:
    """How many scorecard rows have each status (every status of :data:`chapter.STATUSES`, zeros included)."""
    counts = card["status"].value_counts() if len(card) else pd.Series(dtype=int)
    return {status: int(counts.get(status, 0)) for status in chapter.STATUSES}


def count_table(card: pd.DataFrame) -> chapter.MarkdownTable:
    """The scorecard's counts: one row per paper, one column per status, and the chapters stored."""
    rows = []
    for key, name in PAPERS.items():
        part = card[card["paper_key"] == key]
        studies = [s for s in STUDIES if s.paper == key]
        stored = sorted(set(part["chapter"]), key=[s.chapter for s in studies].index) if len(part) else []
        rows.append({"paper": name, **{f"{STATUS_MARKS[k]} {k}": str(v) for k, v in status_counts(part).items()},
                     "chapters with stored results": f"{len(stored)} of {len(studies)}"})
    return chapter.markdown_table(pd.DataFrame(rows), index=False)


def _link(page: str, section: str, text: str, *, from_page: str) -> str:
    """An HTML link from the page ``from_page`` to ``section`` (an element id) of ``page`` in the built site."""
    href = posixpath.relpath(page, posixpath.dirname(from_page)) + ".html" + (f"#{section}" if section else "")
    return f'<a class="reference internal" href="{href}">{text}</a>'


def scorecard_table(card: pd.DataFrame, *, paper: str | None = None,
                    from_page: str = "book/results") -> chapter.MarkdownTable:
    """The scorecard as a table: chapter (a link to its "paper vs this book" section), the claim, the paper's number
    or statement with its source, this book's, and the status. ``paper``: only that paper's chapters."""
    rows = card if paper is None else card[card["paper_key"] == paper]
    if rows.empty:
        return chapter.MarkdownTable("*No stored results yet: run `make execute`.*")
    out = []
    for r in rows.itertuples(index=False):
        paper_cell = (f"{r.paper} <br>*({chapter.SOURCES[r.source]})*" if r.source != "none"
                      else f"*{chapter.SOURCES['none']}*")
        out.append({"chapter": _link(r.page, r.section, r.label, from_page=from_page), "claim": r.quantity,
                    "paper": paper_cell, "this book": r.book + (f" <br>*{r.note}*" if r.note else ""),
                    "status": f"{STATUS_MARKS[r.status]} {r.status}"})
    return chapter.markdown_table(pd.DataFrame(out), index=False)


def summary(card: pd.DataFrame) -> dict[str, str]:
    """The numbers the landing page quotes, as text: claims checked, each status, chapters stored."""
    counts = status_counts(card)
    claims = sum(v for k, v in counts.items() if k != "beyond the paper")
    return {"claims": str(claims), "reproduced": str(counts["reproduced"]),
            "direction_only": str(counts["direction only"]), "not_reproduced": str(counts["not reproduced"]),
            "beyond": str(counts["beyond the paper"]),
            "chapters_stored": str(card["chapter"].nunique() if len(card) else 0), "chapters": str(len(STUDIES))}
