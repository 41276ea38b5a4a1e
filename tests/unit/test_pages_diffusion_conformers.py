"""The diffusion chapter's page module (collapse_utils.pages.diffusion_conformers) on small synthetic inputs.

Records shaped like the chapter's (three policies, three seeds, six iterations, the losses per evaluation level and
the metrics of generated conformers), authors' logs shaped like theirs, and two real molecule graphs with random
coordinates: every table, figure and glue block is built, and every check is shown to fail on inconsistent data.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported

matplotlib.use("Agg")

from collapse_utils import jobs
from collapse_utils.chapter import STATUSES, Row
from collapse_utils.pages import diffusion_conformers as page

pytestmark = pytest.mark.usefixtures("close_figures")

STEPS = np.array([0, 1, 5])
LEVELS = page.Levels(STEPS, np.array([0.005, 0.05, 1.0]), np.array([0.2, 0.3, 0.5]),
                     pd.DataFrame({p: [0.96, 1.05, 2.0] for p in page.PARTS}, index=pd.Index(STEPS, name="step")))
GROWTH = {"replace": 1.5, "accumulate": 0.96, "accumulate-subsample": 1.1}  # loss factor per fit
PAPER = {"replace": [54.7, 384.7, 411.1, 381.1, 365.0, 398.7], "accumulate": [54.7, 84.7, 80.3, 90.3, 89.5, 83.9]}


def make_records(growth=GROWTH, iterations: int = 6) -> pd.DataFrame:
    """Records like the chapter's: losses grow by ``growth[policy]`` per fit (a little faster in later seeds)."""
    rows = []
    for policy, g in growth.items():
        for seed in range(3):
            for it in range(1, iterations + 1):
                f = g ** (it - 1) * (1 + 0.02 * seed * (it - 1))
                local = (0.2 + 0.01 * seed) * f
                row = {"policy": policy, "seed": seed, "iteration": it, "loss": 0.3 * f, "local": local,
                       "global": 0.3 * f, "gd_local": 100 * f, "gd_global": 150 * f,
                       "cov_r": 0.1 / f, "mat_r": 1.5 * f, "bond_w1": 0.2 * f, "radius": 2.9 / f ** 0.5}
                for k, t in enumerate(STEPS):
                    row[f"local_t{t}"] = local * (k + 1)
                    row[f"global_t{t}"] = 1.5 * local * (k + 1)
                rows.append(row)
    return pd.DataFrame(rows)


RECORDS = make_records()
EXTRA = make_records({"replace": 1.05, "accumulate": 0.95}, iterations=3)
REFERENCES = pd.DataFrame({"cov_r": [0.55, 0.0], "mat_r": [0.73, 3.45], "cov_p": [0.46, 0.0], "mat_p": [0.77, 3.7],
                           "bond_w1": [0.0, 3.2], "radius": [3.389, np.nan]},
                          index=["real training conformers", "Gaussian noise"])


def make_authors() -> pd.DataFrame:
    """Validation logs like the authors': 12 runs, every 500 steps to 41,000; eight synthetic fits end on the
    plateau (aug_2 only at step 40,000), where their global losses share the validation draws' fluctuation."""
    rng = np.random.default_rng(0)
    steps = np.arange(500, 41_001, 500)
    common = rng.normal(0, 15, steps.size)  # the validation draws, shared by every run
    plateau = {"rep_1": 7_000, "rep_2": 12_500, "rep_3": 3_500, "rep_5": 7_500, "aug_2": 39_500, "aug_3": 3_000,
               "aug_4": 6_500, "aug_5": 28_500}
    rows = []
    for run in ["baseline_20K", "baseline_40K", *(f"rep_{k}" for k in range(1, 6)), *(f"aug_{k}" for k in range(1, 6))]:
        policy = "real" if run.startswith("base") else ("replace" if run.startswith("rep") else "accumulate")
        generation = 0 if policy == "real" else int(run[-1])
        local = 50 * (1 + generation) * (1 + 3 * np.exp(-steps / 5_000)) + rng.normal(0, 1, steps.size)
        glob = 480 + 500 * np.exp(-steps / 5_000) + rng.normal(0, 5, steps.size)
        if run in plateau:
            glob = np.where(steps > plateau[run], 1_750 + common, glob)
            glob[steps == plateau[run] + 500] = 5e6  # the spike on the way up
        rows.append(pd.DataFrame({"run": run, "policy": policy, "generation": generation, "step": steps,
                                  "global": glob, "local": local}))
    return pd.concat(rows, ignore_index=True)


AUTHORS = make_authors()


# ---------------------------------------------------------------------------------------------------------


def test_numbers_over_seeds():
    assert page.fold([2.0, 3.0, 4.0]) == ("×1.50", "×2.00")
    assert page.times([1.0, 1.1, 1.2]) == "×1.10 ± 0.06"
    np.testing.assert_allclose(page.ratio(RECORDS, "local", "replace", 2), 1.5 * np.array([1.0, 1.02, 1.04]))
    assert page.at(RECORDS, "mat_r", "accumulate", 1) == "1.500 ± 0.000"


def test_molecules_and_schedule(glued):
    graphs = [SimpleNamespace(name="a", smiles="CCO", n_atoms=3), SimpleNamespace(name="b", smiles="CCCC", n_atoms=4)]
    conf = [SimpleNamespace(mol=m) for m in (0, 0, 1, 1)]
    data = SimpleNamespace(graphs=graphs, train=conf, test=conf[:2] + conf[2:], n_distinct=(5, 7))
    text = page.molecules_table(data).text
    assert "| a | `CCO` | 3 | 5 | 2 | 2 |" in text and text.endswith("| all 2 |  | 3–4 | 5–7 | 4 | 4 |")
    assert glued == {"n_molecules": "2"}
    recipe = SimpleNamespace(n_steps=30, epochs=15)
    page.schedule_numbers(np.array([0.00471, 1.0, 9.52]), np.array([0.0271]), recipe, 1000, n_parameters=29_408)
    assert glued["sigma_min"] == "0.0047" and glued["sigma_max"] == "9.5" and glued["n_parameters"] == "29,408"
    assert glued["authors_steps"] == "1,000" and glued["rescaled_sigma_min"] == "0.027"


def test_levels_and_null_table():
    np.testing.assert_array_equal(LEVELS.fine, [True, True, False])
    assert LEVELS.columns("global") == ["global_t0", "global_t1", "global_t5"]
    text = page.null_table(LEVELS).text
    assert text.splitlines()[2] == "| 0 | 0.0050 | 0.200 | 0.96 | 0.96 | 0.96 | 1 |"
    assert page.stored_metrics(LEVELS)[:6] == [*page.PARTS, "local_t0"] and page.stored_metrics(LEVELS)[-1] == "radius"


def test_authors_logs_and_paper_check(glued, tmp_path):
    AUTHORS.to_csv(tmp_path / "geodiff_authors_validation.csv", index=False)
    authors = page.read_authors_logs(tmp_path)
    logs = page.final_losses(authors)
    assert set(logs) == {"local", "global"} and logs["local"]["replace"].shape == (6,)
    paper = {p: np.round(v, 1) for p, v in logs["local"].items()}
    assert page.check_paper_is_local_loss(paper, logs) < 0.06
    assert glued["paper_logs_gap"] == f"{page.check_paper_is_local_loss(paper, logs):.2f}"
    text = page.paper_logs_table(paper, logs).text
    assert text.startswith("| iteration (book) | replace: paper | replace: local | replace: global |")
    assert glued["paper_jump_replace"] == page.fold(paper["replace"])[0]
    wrong = {p: v + np.array([0, 0.5, 0, 0, 0, 0]) for p, v in paper.items()}  # one value off by half a unit
    with pytest.raises(AssertionError, match="local loss at the last step"):
        page.check_paper_is_local_loss(wrong, logs)
    page.figure_authors(authors)


def test_plateau_and_its_check(glued):
    plateau = page.authors_plateau(AUTHORS)
    assert sorted(plateau.runs) == sorted(["rep_1", "rep_2", "rep_3", "rep_5", "aug_2", "aug_3", "aug_4", "aug_5"])
    page.check_plateau_is_a_dead_network(plateau)
    assert plateau.corr_global > 0.9 and abs(plateau.corr_local) < 0.5
    text = page.plateau_table(plateau).text
    assert "| replace, iteration 2 | " in text and "$5.0 \\times 10^{6}$" in text
    page.plateau_numbers(plateau)
    assert glued["n_plateau"] == "8" and glued["n_on"] == f"{plateau.on.sum()}"
    with pytest.raises(AssertionError, match="should end on the plateau"):
        page.check_plateau_is_a_dead_network(plateau, n_runs=9)
    # the global losses no longer share the validation draws: not a dead network
    rng = np.random.default_rng(1)
    shuffled = AUTHORS.copy()
    on = shuffled["global"].between(1_700, 1_850)
    shuffled.loc[on, "global"] = 1_775 + rng.normal(0, 15, on.sum())
    with pytest.raises(AssertionError, match="move together"):
        page.check_plateau_is_a_dead_network(page.authors_plateau(shuffled))


def test_loss_tables_and_figures(glued):
    logs = {part: {p: np.array(v, dtype=float) for p, v in PAPER.items()} for part in ("local", "global")}
    text = page.ratio_table(RECORDS, PAPER, logs).text
    assert "| local, per pair — replace | ×1.530 ± 0.017 | ×" in text
    assert "| local: the paper's figure — replace | ×7.03 | ×7.29 |" in text
    assert glued["jump_local_replace"] == "×1.530 ± 0.017" and glued["local_first"] == "0.210 ± 0.006"
    fig = page.figure_loss(logs, RECORDS)
    assert len(fig.axes) == 4
    page.figure_levels(RECORDS, LEVELS)
    text = page.level_table(RECORDS, LEVELS).text
    assert text.splitlines()[0].startswith("| step | σ_t (Å) | iteration 1 | no prediction | replace: it. 2 / it. 1")
    assert glued["jump_finest"] == "×1.530 ± 0.017"
    page.level_numbers(RECORDS, LEVELS)
    fine, coarse = page.fine_coarse_rise(RECORDS, LEVELS)
    np.testing.assert_allclose(fine, coarse)  # every level rises alike in these records
    assert glued["rise_fine"] == "×1.530 ± 0.017" and glued["end_finest_range"].startswith("×7.6 to ×")


def test_extra_run(glued, tmp_path):
    @dataclass(frozen=True)
    class Job:
        policies: tuple
        seeds: tuple

    job = Job(("replace", "accumulate"), (0, 1, 2))
    for one in jobs.seed_jobs(job):
        path = jobs.job_paths(tmp_path, page.CHAPTER, "ci", one)["csv"]
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs.tidy(EXTRA[EXTRA["seed"] == one.seeds[0]]).to_csv(path, index=False, float_format="%.17g")
    extra = page.extra_records(job, tmp_path)
    assert len(extra) == len(EXTRA) and set(extra["policy"]) == {"replace", "accumulate"}
    page.figure_longer(RECORDS, extra, LEVELS, epochs=(15, 60))
    text = page.extra_table(RECORDS, extra, LEVELS, epochs=(15, 60)).text
    assert text.splitlines()[0] == "| local loss, per pair | 15 epochs | 60 epochs |"
    assert "| replace: it. 2 / it. 1 | ×1.530 ± 0.017 | ×1.071 ± 0.012 |" in text
    assert glued["extra_jump"] == "×1.071 ± 0.012"


def test_generated_conformers(glued):
    page.figure_covmat(RECORDS, REFERENCES)
    text = page.generated_table(RECORDS, REFERENCES).text
    assert text.splitlines()[0] == "| generated by | MAT-R (Å) | COV-R | bond-length W1 (Å) | size (Å) |"
    assert "| accumulate-subsample, iteration 6 |" in text
    assert glued["size_real"] == "3.39" and glued["mat_first"] == "1.500 ± 0.000"


@pytest.fixture(scope="module")
def molecules():
    """Two real molecule graphs (RDKit, no embedding) with random conformers, and samples of every model."""
    pytest.importorskip("rdkit")
    from collapse_utils.data.conformers import Conformer, MoleculeGraph

    rng = np.random.default_rng(0)
    graphs = (MoleculeGraph.from_smiles("valproic acid", "CCCC(CCC)C(=O)O"),
              MoleculeGraph.from_smiles("propranolol", "CC(C)NC[C@@H](O)COc1cccc2ccccc12"))

    def confs(n):
        return [Conformer(m, (1.5 * rng.standard_normal((g.n_atoms, 3))).astype(np.float32))
                for m, g in enumerate(graphs) for _ in range(n)]

    data = SimpleNamespace(graphs=graphs, train=confs(3), test=confs(2), n_distinct=(9, 9))
    samples = {(p, 0, it): confs(3) for p in page.POLICIES for it in (1, 6)}
    return data, samples


def test_baselines_bonds_and_render(glued, molecules):
    data, samples = molecules
    references = page.baselines(data, 2.6, np.random.default_rng(0))
    assert list(references.columns) == ["cov_r", "mat_r", "cov_p", "mat_p", "bond_w1", "radius"]
    assert np.isnan(references.loc["Gaussian noise", "radius"]) and references.loc["real training conformers",
                                                                                    "radius"] == 2.6
    text = page.baselines_table(references).text
    assert "| Gaussian noise |" in text and text.endswith(" | – |")
    assert glued["delta"] == "0.75"
    page.figure_bonds(data, samples, seed=0, last=6)
    fig = page.figure_render(data, samples, seed=0, last=6)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["real held-out", "real training", titles[2]] and titles[2].startswith("iteration 1\nMAT-R")
    assert titles[-1].startswith("accumulate-subsample, it. 6\nMAT-R")


def test_claims_hold_and_fail():
    claims = page.claims(RECORDS)
    claims.assert_all()
    assert len(claims.rows) == 9
    swapped = RECORDS.replace({"policy": {"replace": "accumulate", "accumulate": "replace"}})
    with pytest.raises(AssertionError, match="hurts replace more than accumulate"):
        page.claims(swapped).assert_all()
    reported = page.reported_claims(RECORDS, LEVELS).table()
    assert len(reported) == 3 and reported["holds"].iloc[1:].all()
    assert not reported["holds"].iloc[0]  # no level rises more than another in these records


def test_paper_rows():
    logs = {part: {p: np.array(v, dtype=float) for p, v in PAPER.items()} for part in ("local", "global")}
    rows = page.paper_rows(RECORDS, EXTRA, PAPER, logs, REFERENCES, LEVELS, np.array([0.0047, 9.5165]), 30)
    assert len(rows) == 12 and all(isinstance(r, Row) and r.status in STATUSES for r in rows)
    assert rows[0].paper == "×7.03" and rows[0].book == "×1.530 ± 0.017"
    assert rows[6].book == "0.0047–9.5 Å, 30 steps"
    assert rows[-1].book.endswith("(accumulate); real 3.39")
