"""One style, one colour and marker per policy."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import same_color, to_rgba
from matplotlib.lines import Line2D

from collapse_utils import plotting
from collapse_utils.policies import DataPolicy

ALL_POLICIES = tuple(DataPolicy)


@pytest.fixture
def ax():
    with mpl.rc_context():
        fig, axis = plt.subplots()
        yield axis
        plt.close(fig)


def test_every_policy_has_a_distinct_colour_and_marker():
    assert set(plotting.POLICY_COLORS) == set(ALL_POLICIES)
    assert set(plotting.POLICY_MARKERS) == set(ALL_POLICIES)
    colours = [to_rgba(plotting.POLICY_COLORS[p]) for p in ALL_POLICIES]
    assert len(set(colours)) == len(ALL_POLICIES)
    assert len({plotting.POLICY_MARKERS[p] for p in ALL_POLICIES}) == len(ALL_POLICIES)


def test_policy_colours_come_from_okabe_ito():
    palette = set(plotting.OKABE_ITO.values())
    assert all(c in palette for c in plotting.POLICY_COLORS.values())


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_policy_style_accepts_names(policy):
    style = plotting.policy_style(policy.value.upper())
    assert style == {
        "color": plotting.POLICY_COLORS[policy],
        "marker": plotting.POLICY_MARKERS[policy],
        "label": policy.label,
    }


def test_policy_style_unknown_policy_raises():
    with pytest.raises(ValueError, match="policy must be one of"):
        plotting.policy_style("other")


def test_use_style_sets_rcparams():
    with mpl.rc_context():
        mpl.rcParams["axes.spines.top"] = True
        mpl.rcParams["legend.frameon"] = True
        mpl.rcParams["font.size"] = 7.0
        plotting.use_style()
        for key, value in plotting.STYLE.items():
            if key == "axes.prop_cycle":
                assert mpl.rcParams[key] == value
            else:
                assert mpl.rcParams[key] == value, key
        assert mpl.rcParams["axes.spines.top"] is False
        assert mpl.rcParams["legend.frameon"] is False
        assert mpl.rcParams["font.size"] == 11
        first = mpl.rcParams["axes.prop_cycle"].by_key()["color"][0]
        assert same_color(first, plotting.OKABE_ITO["blue"])


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_plot_simulation_returns_line_in_policy_colour_with_band(ax, policy):
    x = np.arange(1, 6)
    mean = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    sem = np.array([0.1, 0.1, 0.2, 0.2, 0.3])
    line = plotting.plot_simulation(ax, x, mean, sem, policy)
    assert isinstance(line, Line2D)
    assert same_color(line.get_color(), plotting.POLICY_COLORS[policy])
    assert line.get_marker() == plotting.POLICY_MARKERS[policy]
    assert line.get_label() == f"{policy.label} (simulation)"
    np.testing.assert_array_equal(line.get_xdata(), x)
    np.testing.assert_array_equal(line.get_ydata(), mean)
    # the band: mean +/- 2 sem, in the same colour
    assert len(ax.collections) == 1
    band = ax.collections[0]
    assert same_color(band.get_facecolor()[0][:3], plotting.POLICY_COLORS[policy])
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx((mean - 2 * sem).min())
    assert ys.max() == pytest.approx((mean + 2 * sem).max())


def test_plot_simulation_custom_label(ax):
    line = plotting.plot_simulation(ax, [1, 2], [1.0, 2.0], [0.1, 0.1], "replace", label="R")
    assert line.get_label() == "R"


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_plot_theory_returns_dashed_line_in_policy_colour(ax, policy):
    line = plotting.plot_theory(ax, [1, 2, 3], [1.0, 1.5, 1.7], policy)
    assert isinstance(line, Line2D)
    assert same_color(line.get_color(), plotting.POLICY_COLORS[policy])
    assert line.get_linestyle() == "--"
    assert line.get_linewidth() == pytest.approx(plotting.THEORY_STYLE["linewidth"])
    assert line.get_label() == f"{policy.label} (theory)"


def test_plot_theory_keyword_overrides(ax):
    line = plotting.plot_theory(ax, [1, 2], [1.0, 2.0], DataPolicy.ACCUMULATE, label="A", linestyle=":")
    assert line.get_linestyle() == ":"
    assert line.get_label() == "A"
    assert same_color(line.get_color(), plotting.POLICY_COLORS[DataPolicy.ACCUMULATE])


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


class _Graph:  # the two attributes of a MoleculeGraph that draw_conformers reads
    atom_types = np.array([0, 0, 1, 2])  # C, C, N, O
    bonds = np.array([[0, 1], [1, 2], [2, 3]])


def test_kabsch_align_undoes_a_rotation_and_a_translation():
    ref = np.random.default_rng(0).standard_normal((6, 3))
    moved = ref @ _rotation(1).T + np.array([3.0, -1.0, 2.0])
    np.testing.assert_allclose(plotting.kabsch_align(moved, ref), ref, atol=1e-10)


def test_kabsch_align_does_not_reflect():
    ref = np.random.default_rng(2).standard_normal((6, 3))
    mirrored = ref * np.array([1.0, 1.0, -1.0])  # a chiral point cloud's mirror image cannot be rotated onto it
    aligned = plotting.kabsch_align(mirrored, ref)
    assert np.abs(aligned - ref).max() > 0.1
    assert np.linalg.det(np.linalg.lstsq(mirrored - mirrored.mean(0), aligned - aligned.mean(0), rcond=None)[0]) > 0


def test_kabsch_align_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="coords and reference must be"):
        plotting.kabsch_align(np.zeros((4, 3)), np.zeros((5, 3)))


def test_draw_conformers_overlays_aligned_copies_on_the_reference_plane(ax):
    ref = np.array([[0.0, 0, 0], [1.5, 0, 0], [2.2, 1.2, 0], [3.6, 1.2, 0.3]])
    moved = ref @ _rotation(3).T + 5.0  # the same shape elsewhere: must project onto the same picture
    xy = plotting.draw_conformers(ax, _Graph(), [ref, moved], alpha=0.5, scale_bar=None)
    assert xy.shape == (2, 4, 2)
    np.testing.assert_allclose(xy[1], xy[0], atol=1e-9)
    # projection on the reference's principal plane keeps the in-plane bond lengths of a nearly planar chain
    np.testing.assert_allclose(np.linalg.norm(xy[0, 1] - xy[0, 0]), 1.5, atol=0.05)
    assert len(ax.lines) == 2 * len(_Graph.bonds)
    assert len(ax.collections) == 2
    colours = ax.collections[0].get_facecolors()
    assert same_color(colours[2][:3], plotting.ELEMENT_COLORS["N"])
    assert same_color(colours[3][:3], plotting.ELEMENT_COLORS["O"])
    assert ax.collections[0].get_alpha() == 0.5


def test_draw_conformers_validates_inputs(ax):
    with pytest.raises(ValueError, match="coords_list must hold"):
        plotting.draw_conformers(ax, _Graph(), [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="alpha must be"):
        plotting.draw_conformers(ax, _Graph(), [np.zeros((4, 3))], alpha=0.0)
    with pytest.raises(ValueError, match="scale_bar must be"):
        plotting.draw_conformers(ax, _Graph(), [np.eye(4, 3)], scale_bar=-1.0)


def test_draw_conformers_scale_bar_has_the_stated_length(ax):
    plotting.draw_conformers(ax, _Graph(), [np.eye(4, 3)], scale_bar=2.0)
    bar = ax.lines[-1]
    assert np.ptp(bar.get_xdata()) == pytest.approx(2.0)
    assert np.ptp(bar.get_ydata()) == 0
    assert [t.get_text() for t in ax.texts] == ["2 Å"]


# ---------------------------------------------------------------------------------------------------------
# curves per number of synthetic generations (ridge chapters)
# ---------------------------------------------------------------------------------------------------------


def test_n_colors_are_distinct_and_skip_the_pale_end_of_the_map():
    colors = plotting.n_colors([0, 1, 2, 5])
    assert len({tuple(c) for c in colors}) == 4
    assert not same_color(colors[-1], mpl.colormaps[plotting.N_CMAP](1.0))
    assert plotting.n_colors([3]) == [mpl.colormaps[plotting.N_CMAP](0.0)]


def test_plot_by_n_draws_one_labelled_curve_per_n_in_its_colour(ax):
    x, ns = np.arange(1, 6), [0, 1, 5]
    y = np.outer(x, [1.0, 2.0, 3.0])
    plotting.plot_by_n(ax, x, y, ns)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["$n = 0$", "$n = 1$", "$n = 5$"]
    for line, color, j in zip(lines, plotting.n_colors(ns), range(3), strict=True):
        assert same_color(line.get_color(), color)
        np.testing.assert_array_equal(line.get_ydata(), y[:, j])


def test_plot_by_n_error_bars_span_two_standard_errors(ax):
    x, y, sem = np.arange(3.0), np.ones((3, 2)), np.full((3, 2), 0.1)
    plotting.plot_by_n(ax, x, y, [0, 1], sem=sem, style="o", label=False)
    segments = ax.collections[0].get_segments()  # the first curve's error bars
    np.testing.assert_allclose([s[1][1] - s[0][1] for s in segments], 0.4)
    assert all(line.get_label().startswith("_") for line in ax.get_lines())


def test_plot_by_n_band_and_shape_check(ax):
    plotting.plot_by_n(ax, np.arange(3.0), np.ones((3, 2)), [0, 1], sem=np.full((3, 2), 0.1), band=True)
    assert len(ax.collections) == 2 and len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match=r"y must have shape \(len\(x\), len\(ns\)\) = \(3, 2\)"):
        plotting.plot_by_n(ax, np.arange(3.0), np.ones((2, 3)), [0, 1])


def test_plot_lambda_sweep_marks_each_optimum_and_uses_log_axes(ax):
    lams, fine, ns = np.logspace(-3, 1, 5), np.logspace(-3, 1, 50), [0, 2]
    curve = lambda lam, n: (np.log(lam) - n) ** 2 + 1.0  # noqa: E731
    mean = np.stack([curve(lams, n) for n in ns], axis=1)
    plotting.plot_lambda_sweep(ax, lams, mean, 0.01 * mean, ns, fine, np.stack([curve(fine, n) for n in ns], 1),
                               np.exp(ns), [1.0, 1.0], theory_name="toy")
    assert ax.get_xscale() == ax.get_yscale() == "log"
    stars = next(c for c in ax.collections if c.get_label() == "optimal $\\lambda$")
    np.testing.assert_allclose(stars.get_offsets(), [[1.0, 1.0], [np.exp(2), 1.0]])
    assert "toy" in ax.get_legend().get_title().get_text()


def test_plot_error_parts_stacks_bias_variance_and_collapse(ax):
    theory = {"bias": np.array([1.0, 1.0]), "variance": np.array([0.5, 0.5]), "collapse": np.array([0.0, 2.0])}
    plotting.plot_error_parts(ax, [0, 3], theory, {**theory, "total": np.array([1.5, 3.5])}, [0.1, 0.1])
    bars = ax.patches
    assert len(bars) == 6
    tops = sorted({round(b.get_y() + b.get_height(), 9) for b in bars})
    assert tops == [1.0, 1.5, 3.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "3"]


def test_plot_sweep_draws_markers_and_theory_on_log_x_with_a_titled_legend(ax):
    x, ns = np.array([1.0, 10.0, 100.0]), [0, 1]
    y = np.ones((3, 2))
    plotting.plot_sweep(ax, x, y, 0.1 * y, ns, x, y, xlabel="$T$", theory_name="toy", logy=False)
    assert (ax.get_xscale(), ax.get_yscale(), ax.get_xlabel()) == ("log", "linear", "$T$")
    assert ax.get_legend().get_title().get_text().endswith("dashed: toy")
    assert len(ax.get_legend().get_texts()) == 2  # one entry per n, theory lines only


def test_image_grid_puts_each_row_of_images_side_by_side():
    rows = [np.arange(8).reshape(2, 4), 10 + np.arange(8).reshape(2, 4)]
    grid = plotting.image_grid(rows, 2)
    assert grid.shape == (4, 4)
    np.testing.assert_array_equal(grid[:2, 2:], [[4, 5], [6, 7]])
    np.testing.assert_array_equal(grid[2:, :2], [[10, 11], [12, 13]])
    with pytest.raises(ValueError, match="same number of images"):
        plotting.image_grid([np.zeros((1, 4)), np.zeros((2, 4))], 2)


def test_log_axis_labels_ratios_as_plain_numbers():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.6, 1.0, 7.0])
    plotting.log_axis(ax)
    fig.canvas.draw()
    assert ax.get_yscale() == "log"
    labels = {t.get_text() for t in ax.get_yticklabels() if t.get_text()}
    assert {"1", "2", "5"} <= labels and not any("10^" in s or "times" in s for s in labels)
    with pytest.raises(ValueError, match=r"^axis must be 'x' or 'y', got 'z'$"):
        plotting.log_axis(ax, "z")
    plt.close(fig)


def test_policy_legend_has_one_entry_per_policy_and_per_line_style():
    with mpl.rc_context(plotting.STYLE):
        fig, axes = plt.subplots(1, 2)
        policies = ["replace", "accumulate", "replace-multiple"]
        extra = axes[0].plot([], [], "kx", label="paper")
        legend = plotting.policy_legend(fig, policies, extra=extra)
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels == ["Replace", "Accumulate", "Replace-Multiple", "markers: simulation $\\pm 2$ s.e.",
                          "dashed: theory", "paper"]
        lines = legend.legend_handles
        for policy, line in zip(policies, lines, strict=False):
            assert same_color(line.get_color(), plotting.POLICY_COLORS[DataPolicy.parse(policy)])
            assert line.get_marker() == plotting.POLICY_MARKERS[DataPolicy.parse(policy)]
        assert lines[4].get_linestyle() == "--"
        assert legend.get_texts()[0].get_fontsize() == plotting.STYLE["legend.fontsize"]
        only = plotting.policy_legend(fig, policies[:1], simulation=None, theory=None)
        assert [t.get_text() for t in only.get_texts()] == ["Replace"]
        plt.close(fig)
