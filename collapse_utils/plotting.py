"""One plotting style for the whole book, and one colour and marker per data policy.

Colours come from the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies); each
policy also has its own marker, so figures still read in greyscale. Simulation is drawn as markers with a
shaded band (mean +/- 2 standard errors), theory as a dashed line in the same colour.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

from collapse_utils.policies import DataPolicy

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

POLICY_COLORS = {
    DataPolicy.REPLACE: OKABE_ITO["vermillion"],
    DataPolicy.ACCUMULATE: OKABE_ITO["blue"],
    DataPolicy.ACCUMULATE_SUBSAMPLE: OKABE_ITO["bluish_green"],
}
POLICY_MARKERS = {DataPolicy.REPLACE: "o", DataPolicy.ACCUMULATE: "s", DataPolicy.ACCUMULATE_SUBSAMPLE: "^"}

THEORY_STYLE = {"linestyle": "--", "linewidth": 1.6}
"""Theory curves: dashed, in the colour of their policy."""

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "image.cmap": "viridis",
    "axes.prop_cycle": mpl.cycler(color=[OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                                                  "reddish_purple", "sky_blue", "black")]),
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once, in a chapter's first cell)."""
    mpl.rcParams.update(STYLE)


def policy_style(policy: DataPolicy | str) -> dict:
    """``color``, ``marker`` and ``label`` of a policy, for matplotlib keyword arguments."""
    p = DataPolicy.parse(policy)
    return {"color": POLICY_COLORS[p], "marker": POLICY_MARKERS[p], "label": p.label}


def plot_simulation(ax, x, mean, sem, policy: DataPolicy | str, *, label: str | None = None, markevery=None):
    """Monte-Carlo means as markers joined by a thin line, with a band of +/- 2 standard errors."""
    style = policy_style(policy)
    mean, sem = np.asarray(mean), np.asarray(sem)
    ax.fill_between(x, mean - 2 * sem, mean + 2 * sem, color=style["color"], alpha=0.2, linewidth=0)
    return ax.plot(x, mean, color=style["color"], marker=style["marker"], linewidth=0.8, markevery=markevery,
                   label=label if label is not None else f"{style['label']} (simulation)")[0]


def plot_theory(ax, x, y, policy: DataPolicy | str, *, label: str | None = None, **kwargs):
    """A closed-form curve: dashed, in the policy's colour."""
    style = policy_style(policy)
    kw = {**THEORY_STYLE, **kwargs}
    return ax.plot(x, y, color=style["color"], label=label if label is not None else f"{style['label']} (theory)",
                   **kw)[0]
