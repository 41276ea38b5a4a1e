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
from collapse_utils.policies import ALL_POLICIES, DataPolicy


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
