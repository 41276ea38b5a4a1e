"""Experiments as jobs: identical results on every executor, results on disk with provenance, resume, the command
line, and chapters reading results computed elsewhere. The jobs are tiny VAE and language-model runs."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import collapse_utils  # noqa: F401 -- thread settings first
from collapse_utils import chapter, jobs
from collapse_utils.__main__ import chapter_jobs, main, parse_seeds
from collapse_utils.experiments import language_models, vae_mnist

pytest.importorskip("torch")

VAE_JOB = vae_mnist.Job(("replace", "accumulate"), (0, 1), n_train=100, epochs=1, n_iterations=2)
LM_JOB = language_models.Job("gpt2-d64", ("replace", "accumulate"), (0,), n_train=24, n_test=8, n_iterations=2,
                             n_diversity=4)
CASES = [("vae-mnist", VAE_JOB), ("language-models", LM_JOB)]


def frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = sorted(set(a.columns) - {"fit_seconds", "evaluate_seconds", "sample_seconds"})
    a = a[cols].sort_values(["policy", "seed", "iteration"]).reset_index(drop=True)
    b = b[cols].sort_values(["policy", "seed", "iteration"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_dtype=False)


@pytest.fixture(scope="module")
def inline(tmp_path_factory):
    """Each case run in this process and stored."""
    root = tmp_path_factory.mktemp("inline")
    for name, job in CASES:
        jobs.run(name, "ci", [job], root, progress=False)
    return root


@pytest.mark.parametrize(("chapter", "job"), CASES)
def test_stored_results_round_trip_exactly_with_provenance(inline, chapter, job):
    direct = jobs.experiment(chapter).run(job)
    loaded, notes = jobs.load(chapter, "ci", job, inline)
    frames_equal(direct.records, loaded.records)
    assert loaded.illustrations.keys() == direct.illustrations.keys()
    assert len(notes) == len(job.seeds) and {n["profile"] for n in notes} == {"ci"}
    for note in notes:
        assert {"git_commit", "device", "threads", "wall_seconds", "date", "libraries", "job"} <= set(note)
        assert note["job"]["seeds"] == [note["job"]["seeds"][0]] and note["libraries"]["torch"]


@pytest.mark.parametrize("executor", ["process", "submitit-local"])
def test_other_executors_give_bit_identical_results(inline, tmp_path, executor):
    if executor == "process":
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    else:
        submitit = pytest.importorskip("submitit")
        pool = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="local")
        pool.update_parameters(timeout_min=30)
    for name, job in CASES:
        jobs.run(name, "ci", [job], tmp_path, executor=pool, progress=False)
        frames_equal(jobs.load(name, "ci", job, inline)[0].records, jobs.load(name, "ci", job, tmp_path)[0].records)


def test_finished_jobs_are_skipped_and_killed_ones_rerun(inline, tmp_path, capsys):
    name, job = CASES[0]
    jobs.run(name, "ci", [job], tmp_path)
    assert "0 of 1 jobs already done" in capsys.readouterr().err
    paths = jobs.job_paths(tmp_path, name, "ci", jobs.seed_jobs(job)[1])
    mtime = jobs.job_paths(tmp_path, name, "ci", jobs.seed_jobs(job)[0])["json"].stat().st_mtime_ns
    paths["json"].unlink()  # a job killed before it finished: its last file never appeared
    assert not jobs.is_done(tmp_path, name, "ci", job)
    jobs.run(name, "ci", [job], tmp_path)
    assert "0 of 1 jobs already done" in capsys.readouterr().err and jobs.is_done(tmp_path, name, "ci", job)
    jobs.run(name, "ci", [job], tmp_path)
    assert "1 of 1 jobs already done, 0 to run" in capsys.readouterr().err
    assert jobs.job_paths(tmp_path, name, "ci", jobs.seed_jobs(job)[0])["json"].stat().st_mtime_ns != mtime
    frames_equal(jobs.load(name, "ci", job, inline)[0].records, jobs.load(name, "ci", job, tmp_path)[0].records)


def test_a_killed_worker_fails_its_job_only_and_a_second_run_completes(tmp_path, monkeypatch):
    name, job = CASES[0]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(os._exit, 1)  # the worker dies, as a pre-empted node would
        with pytest.raises(RuntimeError, match="1 of 1 jobs failed; run again"):
            jobs.run(name, "ci", [job], tmp_path, executor=pool, progress=False)
    assert not jobs.is_done(tmp_path, name, "ci", job)
    assert not list(Path(tmp_path).rglob("*.json"))
    jobs.run(name, "ci", [job], tmp_path, progress=False)
    assert jobs.is_done(tmp_path, name, "ci", job)


def test_a_chapter_reads_results_from_collapse_results_and_names_the_missing_ones(inline, tmp_path, monkeypatch):
    name, job = CASES[0]
    monkeypatch.delenv("COLLAPSE_RESULTS", raising=False)
    ran, notes = jobs.obtain(name, [job], "ci")
    assert notes == []
    monkeypatch.setenv("COLLAPSE_RESULTS", str(inline))
    read, notes = jobs.obtain(name, [job], "ci")
    frames_equal(ran[job].records, read[job].records)
    assert "read from COLLAPSE_RESULTS" in chapter.provenance_note(notes)
    monkeypatch.setenv("COLLAPSE_RESULTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run: python -m collapse_utils run vae-mnist --profile ci"):
        jobs.obtain(name, [job], "ci")


def test_command_line_runs_and_reports_status(tmp_path, capsys, monkeypatch):
    assert parse_seeds("0-2") == (0, 1, 2) and parse_seeds("4,1") == (4, 1)
    made = chapter_jobs("diffusion-conformers", "full", (7, 8))
    assert [j.seeds for j in made] == [(7,), (8,)] and made[0].n_steps == 200
    monkeypatch.setattr(vae_mnist, "chapter_jobs", lambda settings: (VAE_JOB, []))
    assert main(["status", "vae-mnist", "--results", str(tmp_path), "--profile", "ci"]) == 0
    assert "0 of 2 jobs done" in capsys.readouterr().out
    assert main(["run", "vae-mnist", "--results", str(tmp_path), "--profile", "ci", "--seeds", "0"]) == 0
    assert main(["status", "vae-mnist", "--results", str(tmp_path), "--profile", "ci"]) == 0
    assert "1 of 2 jobs done" in capsys.readouterr().out
    note = json.loads(next(Path(tmp_path).rglob("*.json")).read_text())
    assert note["chapter"] == "vae-mnist" and note["job"]["seeds"] == [0]


def test_tidy_and_untidy_are_inverse():
    wide = pd.DataFrame({"policy": ["replace", "accumulate"], "seed": [0, 0], "iteration": [1, 2],
                         "loss": [0.5, np.nan], "model": ["m", "m"], "temperature": [1.0, 1.0]})
    back = jobs.untidy(jobs.tidy(wide))
    pd.testing.assert_frame_equal(back[wide.columns].sort_values("iteration").reset_index(drop=True), wide,
                                  check_dtype=False)
