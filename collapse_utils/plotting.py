"""One plotting style for the whole book, and one colour and marker per data policy.

Colours come from the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies); each
policy also has its own marker, so figures still read in greyscale. Simulation is drawn as markers with a
shaded band (mean +/- 2 standard errors), theory as a dashed line in the same colour. Molecule conformers are drawn
as aligned 2-D projections (:func:`draw_conformers`, the diffusion chapter).
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
    DataPolicy.REPLACE_MULTIPLE: OKABE_ITO["orange"],
}
POLICY_MARKERS = {DataPolicy.REPLACE: "o", DataPolicy.ACCUMULATE: "s", DataPolicy.ACCUMULATE_SUBSAMPLE: "^",
                  DataPolicy.REPLACE_MULTIPLE: "D"}

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


MAX_WIDTH = 7.5
"""Width of every figure of the book in inches: drawn at the style's font sizes, it fits the page's text column
without shrinking the text below 11 px (the site test checks every image)."""


def panels(nrows: int = 1, ncols: int = 1, *, height: float = 2.9, width: float = MAX_WIDTH, **kwargs):
    """``plt.subplots`` at the book's figure width: ``height`` inches per row, at most 3 columns.

    Wider grids are stacked into more rows by the caller; ``squeeze=False`` is the default so ``axes`` is 2-D.
    """
    import matplotlib.pyplot as plt

    if not 1 <= ncols <= 3:
        raise ValueError(f"ncols must be 1, 2 or 3 (stack wider grids into rows), got {ncols!r}")
    if width > MAX_WIDTH:
        raise ValueError(f"width must be at most {MAX_WIDTH} in, got {width!r}")
    kwargs.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), **kwargs)


def seed_band(ax, table, *, color, label=None, marker=None, linestyle="-", band_alpha=0.18):
    """The mean over seeds of ``table`` (index: x, columns: seeds) as a line, and the seeds' range as a band.

    With a handful of seeds the band is the min-max range of the seeds (say so in the caption); returns the line.
    """
    x = np.asarray(table.index, dtype=float)
    values = table.to_numpy(dtype=float)
    ax.fill_between(x, values.min(axis=1), values.max(axis=1), color=color, alpha=band_alpha, linewidth=0)
    return ax.plot(x, values.mean(axis=1), color=color, marker=marker, linestyle=linestyle, label=label)[0]


def policy_seed_bands(ax, records, metric: str, policies, *, relative: bool = False, linestyle="-", label_suffix=""):
    """One :func:`seed_band` per policy from tidy ``records`` (columns policy, seed, iteration, ``metric``).

    ``relative`` divides every run by its iteration-1 value (ratio to the first model).
    """
    for policy in policies:
        style = policy_style(policy)
        rows = records[records["policy"] == DataPolicy.parse(policy).value]
        table = rows.pivot(index="iteration", columns="seed", values=metric)
        if relative:
            table = table / table.loc[1]
        seed_band(ax, table, color=style["color"], marker=style["marker"], linestyle=linestyle,
                  label=style["label"] + label_suffix)


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


def draw_generator_chain(ax) -> None:
    """Draw Dohmatob et al.'s fake-data chain (their Figure 3) on ``ax``: generators, learner, evaluation.

    ``w0`` labels ``T0`` samples with noise ``sigma0``; OLS gives ``w_hat_1``; and so on ``n`` times; the learner fits
    ridge on ``T`` samples labelled by ``w_hat_n`` with noise ``sigma``, and is tested against ``w0``.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ax.set_xlim(0, 13.4)
    ax.set_ylim(0, 3.3)
    ax.axis("off")
    gen, learn, real = OKABE_ITO["vermillion"], OKABE_ITO["blue"], OKABE_ITO["black"]

    def node(x, y, text, color, w=1.3, h=0.8, filled=False):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", linewidth=1.6,
                                    edgecolor=color, facecolor=color if filled else "white", alpha=1.0))
        ax.text(x, y, text, ha="center", va="center", fontsize=12, color="white" if filled else color)

    def arrow(x1, x2, y, text=None, color="0.3", dashed=False):
        ax.add_patch(FancyArrowPatch((x1, y), (x2, y), arrowstyle="-|>", mutation_scale=14, color=color,
                                     linewidth=1.4, linestyle="--" if dashed else "-"))
        if text:
            ax.text((x1 + x2) / 2, y + 0.28, text, ha="center", va="bottom", fontsize=9, color="0.25")

    y = 2.2
    node(0.8, y, "$w_0$", real, filled=True)
    arrow(1.5, 2.9, y, "$T_0$ samples\nnoise $\\sigma_0$\nOLS")
    node(3.6, y, "$\\hat w_1$", gen)
    arrow(4.3, 5.7, y, "$T_0$, $\\sigma_0$\nOLS")
    node(6.4, y, "$\\hat w_2$", gen)
    arrow(7.1, 7.9, y, dashed=True)
    ax.text(8.2, y, "…", ha="center", va="center", fontsize=16)
    arrow(8.5, 9.3, y, dashed=True)
    node(10.0, y, "$\\hat w_n$", gen)
    arrow(10.7, 11.85, y, "$T$ samples\nnoise $\\sigma$\nridge $\\lambda$", color=learn)
    node(12.6, y, "$\\hat w^{pred}_n$", learn, w=1.4)
    ax.text(6.4, 0.35, "generators: $n$ fits, each on fresh data ($X_m$ independent) or one shared design $X_0$",
            ha="center", fontsize=10, color=gen)
    ax.text(12.6, 0.9, "test error\n$\\|\\hat w^{pred}_n - w_0\\|_\\Sigma^2$", ha="center", fontsize=10, color=learn)
    ax.annotate("", xy=(0.8, 1.7), xytext=(11.6, 1.2),
                arrowprops={"arrowstyle": "-|>", "color": "0.5", "linestyle": ":", "connectionstyle": "arc3,rad=-0.08"})
    ax.text(6.4, 0.85, "compared with $w_0$", ha="center", fontsize=9, color="0.4")


ELEMENT_COLORS = {"C": "#404040", "N": OKABE_ITO["blue"], "O": OKABE_ITO["vermillion"], "F": OKABE_ITO["bluish_green"],
                  "S": OKABE_ITO["yellow"], "Cl": OKABE_ITO["bluish_green"]}
"""Atom colours of molecule drawings (CPK-like, from the Okabe-Ito palette); other elements are drawn grey."""


def kabsch_align(coords, reference) -> np.ndarray:
    """``coords`` (n, 3) rotated and translated onto ``reference`` (n, 3) by the Kabsch least-squares fit.

    A proper rotation (no reflection), atoms matched by index; returns the aligned copy of ``coords``.
    """
    x, ref = np.asarray(coords, dtype=float), np.asarray(reference, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3 or x.shape != ref.shape:
        raise ValueError(f"coords and reference must be (n, 3) arrays of one shape, got {x.shape} and {ref.shape}")
    xc, rc = x - x.mean(axis=0), ref - ref.mean(axis=0)
    u, _, vt = np.linalg.svd(xc.T @ rc)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return xc @ rotation + ref.mean(axis=0)


def draw_conformers(ax, graph, coords_list, *, reference=None, alpha: float = 0.3, atom_size: float = 12.0,
                    scale_bar: float | None = 2.0, symbols=None) -> np.ndarray:
    """Overlay conformers of one molecule on ``ax``: each aligned to ``reference``, projected on its principal plane.

    Every conformer is Kabsch-aligned to ``reference`` (default: the first of ``coords_list``) and projected on the
    reference's two principal axes (largest spread first); bonds are drawn as grey lines and atoms as dots coloured
    by element (:data:`ELEMENT_COLORS`), semi-transparent so that a tight ensemble looks crisp and a spread-out one
    looks blurred. The axes are equal-aspect and hidden; a scale bar gives the length unit (Å).

    Parameters
    ----------
    ax
        A matplotlib axes.
    graph
        The molecule: ``atom_types`` (indices into ``symbols``) and ``bonds`` (n_bonds, 2), e.g. a
        :class:`collapse_utils.data.conformers.MoleculeGraph`.
    coords_list
        Sequence of (n_atoms, 3) coordinate arrays in Å (at least one).
    reference
        (n_atoms, 3) coordinates the conformers are aligned to.
    alpha
        Opacity of each conformer, in (0, 1].
    atom_size
        Marker area of an atom (points²).
    scale_bar
        Length in Å of a scale bar drawn below the molecules (labelled), or None for none.
    symbols
        Element symbol of each atom-type index; default the data module's ``ATOM_TYPES``.

    Returns
    -------
    numpy.ndarray
        The projected coordinates, (n_conformers, n_atoms, 2). Used by ``notebooks/diffusion_conformers.ipynb``.
    """
    if symbols is None:
        from collapse_utils.data.conformers import ATOM_TYPES as symbols
    atom_types = np.asarray(graph.atom_types)
    bonds = np.asarray(graph.bonds).reshape(-1, 2)
    confs = [np.asarray(c, dtype=float) for c in coords_list]
    if not confs or any(c.shape != (len(atom_types), 3) for c in confs):
        raise ValueError(f"coords_list must hold at least one ({len(atom_types)}, 3) array, got shapes "
                         f"{[c.shape for c in confs]}")
    if isinstance(alpha, bool) or not np.isscalar(alpha) or not 0 < alpha <= 1:
        raise ValueError(f"alpha must be a number in (0, 1], got {alpha!r}")
    ref = confs[0] if reference is None else np.asarray(reference, dtype=float)
    ref = ref - ref.mean(axis=0)
    axes = np.linalg.svd(ref, full_matrices=False)[2][:2]  # principal directions of the reference
    projected = np.stack([kabsch_align(c, ref) @ axes.T for c in confs])
    colors = [ELEMENT_COLORS.get(symbols[t], "0.6") for t in atom_types]
    for xy in projected:
        for i, j in bonds:
            ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="0.45", alpha=alpha, linewidth=1.0, zorder=1)
        ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=atom_size, alpha=alpha, linewidths=0, zorder=2)
    if scale_bar is not None:
        if isinstance(scale_bar, bool) or not np.isscalar(scale_bar) or not scale_bar > 0:
            raise ValueError(f"scale_bar must be None or a length > 0 (Å), got {scale_bar!r}")
        x0, y0 = projected[..., 0].min(), projected[..., 1].min() - 0.6
        ax.plot([x0, x0 + scale_bar], [y0, y0], color="black", linewidth=2.0, solid_capstyle="butt")
        ax.text(x0 + scale_bar / 2, y0 - 0.15, f"{scale_bar:g} Å", ha="center", va="top", fontsize=9)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return projected


# ---------------------------------------------------------------------------------------------------------
# curves per number of synthetic generations n (the ridge-regression chapters)
# ---------------------------------------------------------------------------------------------------------

N_CMAP = "viridis"
"""Colour map of the curves per number of synthetic generations ``n`` (dark: n = 0)."""


def n_colors(ns) -> list:
    """One colour per entry of ``ns`` from :data:`N_CMAP`, dark to light, stopping short of its pale yellow end."""
    k = len(ns)
    cmap = mpl.colormaps[N_CMAP]
    return [cmap(0.85 * j / max(k - 1, 1)) for j in range(k)]


def plot_by_n(ax, x, y, ns, *, sem=None, style: str = "--", label: bool | str = True, band: bool = False, **kwargs):
    """One curve per number of generations: ``y[:, j]`` against ``x`` in the colour of ``ns[j]``.

    Parameters
    ----------
    ax
        A matplotlib axes.
    x
        Abscissae, ``(m,)``.
    y
        Values ``(m, len(ns))``.
    ns
        The numbers of generations of the columns (labels ``n = ...``).
    sem
        Standard errors like ``y``: drawn as ``+/- 2`` s.e. bars (or a band with ``band=True``).
    style
        Matplotlib format string, e.g. ``"--"`` for theory, ``"o"`` for simulation markers.
    label
        ``True``: label each curve ``n = ...``; ``False``: no labels; a string: a format with ``{n}``.
    **kwargs
        Passed to ``ax.plot`` / ``ax.errorbar``.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 2 or y.shape != (len(x), len(ns)):
        raise ValueError(f"y must have shape (len(x), len(ns)) = ({len(x)}, {len(ns)}), got {y.shape}")
    fmt = "$n = {n}$" if label is True else (label or None)
    for j, (n, color) in enumerate(zip(ns, n_colors(ns), strict=True)):
        lab = fmt.format(n=n) if fmt else None
        if sem is None or band:
            ax.plot(x, y[:, j], style, color=color, label=lab, **kwargs)
        else:
            ax.errorbar(x, y[:, j], yerr=2 * np.asarray(sem)[:, j], fmt=style, color=color, label=lab,
                        **{"markersize": 3.5, **kwargs})
        if sem is not None and band:
            s = 2 * np.asarray(sem)[:, j]
            ax.fill_between(x, y[:, j] - s, y[:, j] + s, color=color, alpha=0.15, linewidth=0)


def plot_sweep(ax, x, mean, sem, ns, x_fine, theory, *, xlabel: str, theory_name: str, logy: bool = True,
               legend: bool = True) -> None:
    """Simulated test errors against ``x`` (markers, +/- 2 s.e.) and their theory (dashed), one colour per ``n``.

    ``mean`` and ``sem`` are ``(len(x), len(ns))``, ``theory`` is ``(len(x_fine), len(ns))``. A log ``x`` axis (and a
    log ``y`` axis unless ``logy=False``), the labels and a legend that names the theory.
    """
    plot_by_n(ax, x, mean, ns, sem=sem, style="o", label=False)
    plot_by_n(ax, x_fine, theory, ns, style="--")
    ax.set(xscale="log", yscale="log" if logy else "linear", xlabel=xlabel, ylabel="test error")
    if legend:
        ax.legend(title=f"markers: simulation $\\pm 2$ s.e.\ndashed: {theory_name}", ncols=2)


def plot_lambda_sweep(ax, lams, mean, sem, ns, lams_fine, theory, lam_opt, err_opt, *, theory_name: str) -> None:
    """Test error against the ridge penalty, one colour per ``n`` (Dohmatob et al.'s Figures 1a and 1b, left).

    :func:`plot_sweep` of the simulated ``mean`` +/- 2 ``sem`` at ``lams`` and the ``theory`` at ``lams_fine``, with
    a star at each curve's optimum ``(lam_opt, err_opt)``.
    """
    ax.scatter(lam_opt, err_opt, marker="*", s=140, c=n_colors(ns), edgecolors="black", linewidths=0.6, zorder=3,
               label="optimal $\\lambda$")
    plot_sweep(ax, lams, mean, sem, ns, lams_fine, theory, xlabel="ridge penalty $\\lambda$", theory_name=theory_name)


PART_COLORS = {"bias": OKABE_ITO["sky_blue"], "variance": OKABE_ITO["orange"], "collapse": OKABE_ITO["vermillion"]}
"""Colours of the three parts of the ridge learner's error."""


def plot_error_parts(ax, ns, theory: dict, simulated: dict, total_sem) -> None:
    """Stacked bars of the error's parts per ``n`` (theory), the simulated running sums and the simulated total.

    ``theory`` maps ``"bias"``, ``"variance"``, ``"collapse"`` (stacked in this order) to arrays of length
    ``len(ns)``; ``simulated`` maps the same keys and ``"total"`` to simulated means. Black ticks mark the simulated
    running sums, black dots the simulated total +/- 2 ``total_sem``.
    """
    x = np.arange(len(ns))
    bottom_t, bottom_s = np.zeros(len(ns)), np.zeros(len(ns))
    for part, color in PART_COLORS.items():
        ax.bar(x, theory[part], bottom=bottom_t, color=color, width=0.6, label=f"{part} (theory)")
        bottom_t, bottom_s = bottom_t + theory[part], bottom_s + simulated[part]
        ax.plot(x, bottom_s, "_", color="black", markersize=20, markeredgewidth=1.5)
    ax.errorbar(x, simulated["total"], yerr=2 * np.asarray(total_sem), fmt="o", color="black", markersize=4,
                label="simulation: running sums (ticks), total $\\pm 2$ s.e.")
    ax.set_xticks(x, [str(n) for n in ns])
    ax.set(xlabel="synthetic generations $n$", ylabel="test error")


def image_grid(rows, size: int) -> np.ndarray:
    """One image of square ``size`` x ``size`` images: ``rows[r]`` (k, size**2) becomes row ``r`` of the grid."""
    rows = [np.asarray(r).reshape(-1, size, size) for r in rows]
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError("rows must hold at least one row, all with the same number of images")
    return np.vstack([np.hstack(list(r)) for r in rows])


def log_axis(ax, axis: str = "y", subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Make ``axis`` (``"x"`` or ``"y"``) of ``ax`` logarithmic, with ticks at ``subs`` times the powers of ten
    labelled as plain numbers (0.5, 1, 2, 5, ...) rather than powers of ten: for ratios and losses."""
    import matplotlib.ticker as mticker

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(mticker.LogLocator(base=10.0, subs=subs))
    target.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(mticker.NullFormatter())


def policy_legend(fig, policies, *, simulation: str | None = "simulation $\\pm 2$ s.e.",
                  theory: str | None = "theory", extra=(), ncols: int = 3, loc: str = "outside lower center"):
    """One legend for a figure of :func:`plot_simulation` and :func:`plot_theory` curves, outside its panels.

    An entry per policy (its colour and marker) and one per line style: markers for ``simulation``, dashed for
    ``theory`` (``None`` leaves a style out), then the ``extra`` artists (their own labels). Half the entries of a
    legend that names every (policy, style) pair, at the style's legend font size; returns the legend.
    """
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=s["color"], marker=s["marker"], linewidth=0.8, label=s["label"])
               for s in (policy_style(p) for p in policies)]
    if simulation is not None:
        handles.append(Line2D([], [], color="0.35", marker="o", linewidth=0.8, label=f"markers: {simulation}"))
    if theory is not None:
        handles.append(Line2D([], [], color="0.35", label=f"dashed: {theory}", **THEORY_STYLE))
    handles += list(extra)
    return fig.legend(handles=handles, loc=loc, ncols=ncols)
