"""The results page's readers of stored results, on the small fixture tables in tests/fixtures/results.

The fixtures hold a fake per-seed table of each torch chapter (same columns as the real ones, rows that must be left
out included: the VAE's ablation arm, the language models' temperature-0.3 runs, replace-multiple) and three
scorecard files (one of a chapter the overview does not know).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import same_color

from collapse_utils import chapter, overview, plotting

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"


def test_linear_reference_is_i_and_the_basel_partial_sums():
    i = np.arange(1, 51)
    ref = overview.linear_reference(i)
    np.testing.assert_allclose(ref["replace"], i, rtol=1e-12)
    brute = [sum(1.0 / j**2 for j in range(1, n + 1)) for n in i]
    np.testing.assert_allclose(ref["accumulate"], brute, rtol=1e-12)
    assert ref["accumulate"][-1] < np.pi**2 / 6


def _ratio_by_hand(path, metric, policy, iteration, **where):
    """Mean over seeds of metric(iteration) / metric(1), with plain loops over the CSV's rows."""
    frame = pd.read_csv(path)
    values = {}
    for row in frame.to_dict("records"):
        if row["policy"] != policy or any(row[k] != v for k, v in where.items()):
            continue
        values.setdefault(row["seed"], {})[row["iteration"]] = row[metric]
    ratios = [v[iteration] / v[1] for v in values.values()]
    return sum(ratios) / len(ratios), min(ratios), max(ratios), len(ratios)


@pytest.mark.parametrize(("chapter_key", "table", "metric", "where", "line"), [
    ("vae-mnist", "vae_mnist.csv", "recon_mse", {"arm": "main"}, "VAE on MNIST"),
    ("language-models", "language_models.csv", "cross_entropy", {"temperature": 1.0, "model": "llama-d96"},
     "llama-d96"),
    ("diffusion-conformers", "diffusion_conformers.csv", "local", {}, "diffusion on molecules"),
])
def test_study_curves_are_each_seeds_ratio_to_iteration_1_over_the_main_runs(chapter_key, table, metric, where,
                                                                             line):
    curves = overview.study_curves(FIXTURES)
    rows = curves[(curves["study"] == chapter_key) & (curves["line"] == line) & (curves["policy"] == "replace")]
    assert list(rows["iteration"]) == sorted(rows["iteration"]) and rows["iteration"].iloc[0] == 1
    np.testing.assert_allclose(rows[["mean", "low", "high"]].iloc[0], 1.0, rtol=1e-12)
    last = int(rows["iteration"].max())
    mean, low, high, n = _ratio_by_hand(FIXTURES / table, metric, "replace", last, **where)
    got = rows[rows["iteration"] == last].iloc[0]
    np.testing.assert_allclose([got["mean"], got["low"], got["high"]], [mean, low, high], rtol=1e-12)
    assert got["seeds"] == n == 3


def test_study_curves_leave_out_other_arms_temperatures_and_policies():
    curves = overview.study_curves(FIXTURES)
    assert set(curves["policy"]) == set(overview.FIGURE_POLICIES)
    assert set(curves[curves["study"] == "language-models"]["line"]) == {"gpt2-d64", "llama-d96"}
    # the fixture's temperature-0.3 runs grow six times faster: had they been mixed in, the mean would differ
    cold, _, _, _ = _ratio_by_hand(FIXTURES / "language_models.csv", "cross_entropy", "replace", 5,
                                   temperature=0.3, model="gpt2-d64")
    warm = curves.query("study == 'language-models' and line == 'gpt2-d64' and policy == 'replace' "
                        "and iteration == 5")["mean"].item()
    assert cold > warm * 1.5


def test_study_curves_use_whatever_tables_exist(tmp_path):
    assert overview.study_curves(tmp_path).empty
    shutil.copy(FIXTURES / "diffusion_conformers.csv", tmp_path)
    assert set(overview.study_curves(tmp_path)["study"]) == {"diffusion-conformers"}
    pd.read_csv(FIXTURES / "vae_mnist.csv").drop(columns="recon_mse").to_csv(tmp_path / "vae_mnist.csv")
    with pytest.raises(ValueError, match=r"vae_mnist.csv must have the columns \['recon_mse'\]"):
        overview.study_curves(tmp_path)


def test_last_iteration_table_quotes_each_study_and_the_linear_theory():
    curves = overview.study_curves(FIXTURES)
    lines = overview.last_iteration_table(curves).text.splitlines()
    assert lines[0].startswith("| study | iteration | replace | accumulate | accumulate-subsample | linear theory")
    diffusion = next(line for line in lines if line.startswith("| diffusion on molecules |"))
    mean, low, high, _ = _ratio_by_hand(FIXTURES / "diffusion_conformers.csv", "local", "replace", 6)
    assert f"| 6 | ×{mean:.2f} <br>({low:.2f}–{high:.2f}) |" in diffusion
    assert diffusion.endswith(f"| ×6 / ×{sum(1 / j**2 for j in range(1, 7)):.2f} |")
    llama = next(line for line in lines if line.startswith("| language models: llama-d96 |"))
    assert llama.split("|")[5].strip() == ""  # no accumulate-subsample run of that model
    assert "No stored results" in overview.last_iteration_table(curves.iloc[0:0]).text


def test_scorecard_orders_rows_as_the_book_and_counts_every_status():
    card = overview.scorecard(FIXTURES)
    assert list(dict.fromkeys(card["chapter"])) == ["vae-mnist", "ridge-collapse", "some-new-chapter"]
    assert card["page"].iloc[0] == "notebooks/vae_mnist" and card["paper_key"].iloc[0] == overview.GERSTGRASSER
    unknown = card[card["chapter"] == "some-new-chapter"].iloc[0]
    assert unknown["page"] == "notebooks/some_new_chapter" and unknown["paper_key"] == ""
    counts = overview.status_counts(card)
    assert counts == {"reproduced": 3, "direction only": 1, "not reproduced": 1, "beyond the paper": 1}
    summary = overview.summary(card)
    assert summary["claims"] == "5" and summary["chapters_stored"] == "3"
    assert summary["chapters"] == str(len(overview.STUDIES))
    assert overview.status_counts(overview.scorecard(FIXTURES / "nowhere")) == dict.fromkeys(chapter.STATUSES, 0)


def test_scorecard_rejects_an_unknown_status(tmp_path):
    (tmp_path / "scorecard").mkdir()
    payload = {"chapter": "vae-mnist", "section": "s", "rows": [
        {"quantity": "q", "paper": "1", "source": "reported", "book": "1", "status": "sort of", "note": ""}]}
    (tmp_path / "scorecard" / "vae-mnist.json").write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="sort of"):
        overview.scorecard(tmp_path)


def test_scorecard_table_links_each_row_to_its_section_and_keeps_every_cell_whole():
    card = overview.scorecard(FIXTURES)
    text = overview.scorecard_table(card, paper=overview.DOHMATOB).text
    lines = text.splitlines()
    assert lines[0] == "| chapter | claim | paper | this book | status |" and len(lines) == 2 + 2
    assert '<a class="reference internal" href="../notebooks/ridge_collapse.html#ridge-paper-vs-book">' in lines[2]
    assert r"$\frac{\sigma_0^2 d}{T_0 - d - 1} n$ <br>*(reported)*" in lines[2]
    assert r"max $\|z\|$ = 1.97" in lines[2] and lines[2].endswith("| ✓ reproduced |")
    assert "*not in the paper*" in lines[3] and lines[3].endswith("| + beyond the paper |")
    long_claim = card.assign(quantity="x" * 300)
    assert "x" * 300 in overview.scorecard_table(long_claim).text
    from_root = overview.scorecard_table(card, from_page="index").text
    assert 'href="notebooks/vae_mnist.html#paper-vs-this-book"' in from_root
    assert "No stored results" in overview.scorecard_table(card.iloc[0:0]).text


def test_count_table_says_how_many_chapters_each_paper_has_stored():
    lines = overview.count_table(overview.scorecard(FIXTURES)).text.splitlines()
    assert lines[2] == "| Gerstgrasser et al. (2024) | 1 | 1 | 1 | 0 | 1 of 4 |"
    assert lines[3] == "| Dohmatob, Feng & Kempe (2024) | 1 | 0 | 0 | 1 | 1 of 3 |"


@pytest.fixture
def styled():
    with matplotlib.rc_context():
        plotting.use_style()
        yield
    plt.close("all")


def test_overview_figure_has_a_panel_per_study_at_the_book_width(styled):
    fig = overview.plot_overview(overview.study_curves(FIXTURES))
    assert fig.get_size_inches()[0] <= plotting.MAX_WIDTH
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible() and ax.get_title(loc="left")]
    assert titles == ["linear regression", "VAE on MNIST", "language models", "diffusion on molecules"]
    vae = next(ax for ax in fig.axes if ax.get_title(loc="left") == "VAE on MNIST")
    replace = [ln for ln in vae.get_lines() if same_color(ln.get_color(), plotting.POLICY_COLORS["replace"])]
    assert len(replace) == 1
    curves = overview.study_curves(FIXTURES).query("study == 'vae-mnist' and policy == 'replace'")
    np.testing.assert_allclose(replace[0].get_ydata(), curves["mean"])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["Replace", "Accumulate", "Accumulate-Subsample"] and "linear theory: $i$" in legend


def test_overview_figure_says_which_studies_have_no_stored_results(styled):
    fig = overview.plot_overview(overview.study_curves(FIXTURES / "nowhere"))
    empty = [ax.get_title(loc="left") for ax in fig.axes
             if any(t.get_text() == "no stored results yet" for t in ax.texts)]
    assert empty == ["VAE on MNIST", "language models", "diffusion on molecules"]
