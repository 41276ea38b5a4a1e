"""The VAE chapter's page module on small synthetic records shaped like the chapter's (no training): its tables,
figures, glued numbers and checks, and each check failing on inconsistent records."""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from collapse_utils.pages import vae_mnist as page

POLICIES = ["replace", "accumulate", "accumulate-subsample", "replace-multiple"]
SEEDS, LAST = (0, 1, 2), 5
# per iteration after the first: relative change of the losses, and change of the class entropy (bits)
SLOPE = {"replace": 0.4, "accumulate": -0.02, "accumulate-subsample": 0.1, "replace-multiple": 0.2}
ENTROPY = {"replace": -0.6, "accumulate": -0.01, "accumulate-subsample": -0.05, "replace-multiple": -0.07}


def main_records(slope=SLOPE) -> pd.DataFrame:
    """Records like the main job's: every policy shares iteration 1; the seeds differ by a few percent."""
    rows = [{"policy": p, "seed": s, "iteration": it, "epochs": 20, "synthetic": "mean",
             "recon_mse": 0.026 * (1 + 0.01 * s) * (1 + slope[p] * (it - 1)),
             "neg_elbo": 0.2 * (1 + 0.01 * s) * (1 + 0.5 * slope[p] * (it - 1)),
             "class_entropy": 3.2 - 0.01 * s + ENTROPY[p] * (it - 1), "confidence": 0.7 + 0.01 * it}
            for p in POLICIES for s in SEEDS for it in range(1, LAST + 1)]
    return pd.DataFrame(rows)


def ablation_records(jumps=None) -> list[pd.DataFrame]:
    """Two-iteration replace runs of the ablation arms: (epochs, synthetic) -> the change at the first synthetic fit."""
    jumps = jumps or {(10, "mean"): 0.6, (30, "mean"): 0.35, (20, "sample"): 0.38}
    return [pd.DataFrame([{"policy": "replace", "seed": s, "iteration": it, "epochs": e, "synthetic": syn,
                           "recon_mse": 0.5 / e * (1 + 0.01 * s) * (1 + jump * (it - 1)),
                           "neg_elbo": 0.2 * (1 + jump * (it - 1)), "class_entropy": 3.0 - 0.3 * it - 0.01 * s,
                           "confidence": 0.7} for s in SEEDS for it in (1, 2)])
            for (e, syn), jump in jumps.items()]


@pytest.fixture
def glued(monkeypatch):
    values = {}
    monkeypatch.setattr(page, "glue", lambda name, value, display: values.update({name: value}))
    return values


@pytest.fixture(scope="module")
def records():
    return main_records()


@pytest.fixture(scope="module")
def arms(records):
    return page.ablation_arms(records, ablation_records())


def test_data_summary(glued):
    y_train, y_test = np.repeat(np.arange(10), 5), np.repeat(np.arange(10), 2)
    predicted = np.where(np.arange(20) < 18, y_test, 0)
    text = page.data_summary(y_train, y_test, predicted, {"class_entropy": 3.25})
    assert text.splitlines() == ["training digits: 50 (5-5 per class)", "real test digits: 20",
                                 "classifier accuracy on the test digits: 0.900",
                                 "class entropy of the test digits: 3.250 bits"]
    assert glued == {"clf_accuracy": "90.0%", "real_entropy": "3.25"}


def test_run_summary():
    job = SimpleNamespace(n_train=2500, epochs=20, policies=tuple(POLICIES), seeds=SEEDS, n_iterations=LAST)
    assert page.run_summary(job, []) == "2500 digits, 20 epochs per fit, 4 policies x 3 seeds x 5 iterations"
    provenance = [{"device": "cpu", "date": "2026-01-02T03:04", "git_commit": "0123456789abcdef", "profile": "ci"}]
    assert page.run_summary(job, provenance).splitlines()[1].startswith("results computed on cpu on 2026-01-02")


def test_figures(records):
    for fig in (page.figure_losses(records, POLICIES),
                page.figure_diversity(records, POLICIES, {"class_entropy": 3.3, "confidence": 0.9})):
        assert len(fig.axes) == 2 and all(len(ax.lines) >= len(POLICIES) for ax in fig.axes)
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [str(i) for i in range(1, LAST + 1)]
        plt.close(fig)
    images = {(p, s, it): np.random.default_rng(it).uniform(size=(10, 784))
              for p in POLICIES for s in SEEDS for it in range(1, LAST + 1)}
    fig = page.figure_samples(images, POLICIES, seed=0, iterations=LAST)
    assert fig.axes[0].images[0].get_array().shape == (28 * LAST, 28 * 8)
    plt.close(fig)


def test_loss_change_table(records, glued):
    lines = page.loss_change_table(records, POLICIES).text.splitlines()
    assert lines[0] == ("| policy | iteration 1 | iteration 5 | reconstruction error, change | "
                        "negative ELBO, change |")
    assert lines[2].startswith("| replace | ") and "+160" in lines[2]  # 1 + 0.4 * 4
    assert set(glued) == {f"mse_{p}" for p in POLICIES} | {"mse_first"}
    assert glued["mse_accumulate"].startswith("−8")


def test_entropy_table(records, glued):
    lines = page.entropy_table(records, POLICIES).text.splitlines()
    assert lines[0] == "| iteration 5 | class entropy (bits) |" and len(lines) == 2 + len(POLICIES)
    assert lines[2] == f"| replace | {glued['entropy_replace']} |"


def test_ablation(arms):
    assert set(arms["iteration"]) == {1, 2} and set(arms["epochs"]) == {10, 20, 30}
    lines = page.ablation_table(arms).text.splitlines()
    assert len(lines) == 2 + 4  # 10, 20 (means, samples), 30 epochs
    assert lines[2].startswith("| 10 | decoder means |") and "+60" in lines[2]
    assert lines[4].startswith("| 20 | Bernoulli samples |")


def test_claims_hold_and_can_fail(records, arms):
    claims = page.check_claims(records, arms)
    assert claims.table()["holds"].all() and len(claims.rows) == 2 * (4 + 4) + 1 + 1 + 1
    flat = main_records({**SLOPE, "replace": 0.0})  # replace does not degrade
    with pytest.raises(AssertionError, match="recon_mse, replace: iteration 2 above iteration 1"):
        page.check_claims(flat, page.ablation_arms(flat, ablation_records()))
    same = page.ablation_arms(records, ablation_records({(10, "mean"): 0.4, (30, "mean"): 0.4}))
    with pytest.raises(AssertionError, match="ablation: the first synthetic fit"):
        page.check_claims(records, same)


def test_check_against_stored(records, arms, tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "1")
    page.check_against_stored(records, arms, directory=tmp_path)
    stored = (tmp_path / "vae_mnist.csv").read_text()
    assert stored.splitlines()[0] == "arm,epochs,synthetic,policy,iteration,seed,neg_elbo,recon_mse,class_entropy," \
                                     "confidence"
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    note = page.check_against_stored(records, arms, directory=tmp_path)
    assert " numbers compared with the stored run: " in note and note.endswith("largest |t| here: 0.00")
    moved = records.assign(recon_mse=records["recon_mse"] * 1.5)
    with pytest.raises(AssertionError, match="moved beyond the seed spread"):
        page.check_against_stored(moved, arms, directory=tmp_path)
    assert (tmp_path / "vae_mnist.csv").read_text() == stored


def test_paper_table(records, monkeypatch):
    monkeypatch.setenv("COLLAPSE_STORE", "0")
    lines = page.paper_table(records, POLICIES).text.splitlines()
    assert len(lines) == 2 + 7
    assert "after 5 fits, every seed" in lines[3] and "+160" in lines[3]
    assert lines[-1].startswith("| samples under replace lose diversity |") and "class entropy" in lines[-1]
