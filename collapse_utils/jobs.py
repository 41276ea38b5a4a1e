"""Experiments as jobs: run a chapter's jobs on any executor, keep each result on disk with its provenance, and feed
results computed elsewhere back into the chapter.

A **job** is one of a chapter's small, hashable experiment configs (``experiments.<chapter>.Job``); its result is the
:class:`~collapse_utils.loop.LoopResult` of ``experiments.<chapter>.run(job)``. :func:`run` executes a list of jobs on
any executor with a ``submit(fn, *args)`` method returning a future with ``result()``:

- in-process (the default, :class:`InProcess`);
- ``concurrent.futures.ProcessPoolExecutor`` (use the ``spawn`` start method with torch);
- submitit's ``AutoExecutor`` (Slurm job arrays; its ``local`` and ``debug`` executors run without Slurm; the optional
  ``cluster`` extra);
- Dask's ``Client.get_executor()`` on a Dask cluster.

Results are kept **per seed**: a job with seeds (0, 1, 2) writes, for each seed ``s``, the files of the one-seed job
``replace(job, seeds=(s,))`` (:func:`seed_jobs`), so results computed one seed per job (on a cluster) or several seeds
per job (here) are read the same way. Each one-seed job has ``<results>/<chapter>/<profile>/<id>.csv`` (tidy records:
one row per policy, seed, iteration and metric), ``<id>.pkl`` (what the chapter shows besides numbers: digit grids,
stories, generated conformers) and ``<id>.json`` (provenance: the job's config, package version and git commit,
library versions, device, threads, wall time, date). ``<id>`` is a hash of the chapter, the profile and the one-seed
job. A job whose seeds all have their three files is skipped (so a killed or pre-empted run resumes where it stopped);
``force`` recomputes. Files are written to a temporary name and renamed, the provenance last, so a killed job leaves
nothing that looks finished.

A chapter calls :func:`obtain`: without ``COLLAPSE_RESULTS`` it runs its jobs in-process (the checked ``ci`` path);
with ``COLLAPSE_RESULTS=<directory>`` it reads them from that directory instead (e.g. a ``full`` run done on a
cluster) and fails with the command to run if any is missing. The command line is ``python -m collapse_utils``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import pandas as pd

from collapse_utils import config
from collapse_utils.loop import LoopResult

CHAPTERS = {"vae-mnist": "collapse_utils.experiments.vae_mnist",
            "language-models": "collapse_utils.experiments.language_models",
            "diffusion-conformers": "collapse_utils.experiments.diffusion_conformers"}
"""The chapters whose experiments run as jobs, and their experiment modules."""

KEYS = ["policy", "seed", "iteration"]


def experiment(chapter: str):
    """The experiment module of ``chapter`` (a key of :data:`CHAPTERS`)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {sorted(CHAPTERS)}, got {chapter!r}")
    return importlib.import_module(CHAPTERS[chapter])


def job_config(job) -> dict:
    """The job's fields as plain JSON values (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(job)))


def job_id(chapter: str, profile: str, job) -> str:
    """A short hash of the chapter, the profile and the job's config: the job's file name."""
    text = json.dumps({"chapter": chapter, "profile": profile, "job": job_config(job)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seed_jobs(job) -> list:
    """The one-seed jobs of ``job``: the unit in which results are stored."""
    return [dataclasses.replace(job, seeds=(s,)) for s in job.seeds]


def job_paths(results: Path, chapter: str, profile: str, job) -> dict[str, Path]:
    """The three files of a one-seed job."""
    base = Path(results) / chapter / profile / job_id(chapter, profile, job)
    return {"csv": base.with_suffix(".csv"), "pkl": base.with_suffix(".pkl"), "json": base.with_suffix(".json")}


def is_done(results: Path, chapter: str, profile: str, job) -> bool:
    """Whether every seed of ``job`` has its three files."""
    return all(p.exists() for one in seed_jobs(job) for p in job_paths(results, chapter, profile, one).values())


def split_by_seed(result: LoopResult) -> dict[int, LoopResult]:
    """A result of several seeds as one result per seed."""
    out = {}
    for seed in sorted(result.records["seed"].unique()):
        out[int(seed)] = LoopResult(result.records[result.records["seed"] == seed].reset_index(drop=True),
                                    {k: v for k, v in result.samples.items() if k[1] == seed},
                                    {k: v for k, v in result.illustrations.items() if k[1] == seed})
    return out


def merge(results: Sequence[LoopResult]) -> LoopResult:
    """One result of several seeds from one result per seed."""
    merged = LoopResult(pd.concat([r.records for r in results], ignore_index=True))
    for r in results:
        merged.samples.update(r.samples)
        merged.illustrations.update(r.illustrations)
    return merged


def tidy(records: pd.DataFrame) -> pd.DataFrame:
    """Wide loop records as tidy rows: the identifying columns, ``metric`` and ``value``."""
    ids = [c for c in records.columns if not pd.api.types.is_float_dtype(records[c]) or c in KEYS]
    return records.melt(id_vars=ids, var_name="metric", value_name="value")


def untidy(rows: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`tidy`."""
    ids = [c for c in rows.columns if c not in ("metric", "value")]
    wide = rows.set_index([*ids, "metric"])["value"].unstack("metric").reset_index()
    wide.columns.name = None
    return wide


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+uncommitted changes" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name() -> str:
    """The GPU's name when torch uses one, else the CPU model."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(chapter: str, profile: str, job, seconds: float) -> dict:
    from collapse_utils import __version__

    versions = {name: getattr(sys.modules.get(name), "__version__", None)
                for name in ("numpy", "scipy", "pandas", "torch", "rdkit", "tokenizers")}
    return {"chapter": chapter, "profile": profile, "job": job_config(job), "id": job_id(chapter, profile, job),
            "collapse_utils": __version__, "git_commit": _git_commit(), "python": platform.python_version(),
            "libraries": {k: v for k, v in versions.items() if v}, "device": device_name(),
            "threads": config.default_threads(), "wall_seconds": round(seconds, 1),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def execute(chapter: str, profile: str, job, results: str | Path) -> str:
    """Run one job and write the three files of each of its seeds (the function executors run; returns its id)."""
    config.setup(config.DEFAULT_SEED)
    start = time.perf_counter()
    result = experiment(chapter).run(job)
    seconds = time.perf_counter() - start
    for one, part in zip(seed_jobs(job), split_by_seed(result).values(), strict=True):
        paths = job_paths(Path(results), chapter, profile, one)
        paths["csv"].parent.mkdir(parents=True, exist_ok=True)
        payload = {"samples": part.samples, "illustrations": part.illustrations}
        note = {**provenance(chapter, profile, one, seconds / len(job.seeds)), "computed_with": job_config(job)}
        writers = (("csv", "w", lambda f, r=part: tidy(r.records).to_csv(f, index=False, float_format="%.17g")),
                   ("pkl", "wb", lambda f, x=payload: pickle.dump(x, f, protocol=4)),
                   ("json", "w", lambda f, x=note: f.write(json.dumps(x, indent=1))))
        for kind, mode, write in writers:
            tmp = paths[kind].with_suffix(paths[kind].suffix + ".tmp")
            with open(tmp, mode) as f:
                write(f)
            os.replace(tmp, paths[kind])  # the json, written last, marks the seed finished
    return job_id(chapter, profile, job)


class InProcess:
    """The default executor: runs each job when it is submitted, in this process."""

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the caller through the future
            future.set_exception(err)
        return future


def run(chapter: str, profile: str, jobs: Sequence, results: str | Path, *, executor=None, force: bool = False,
        progress: bool = True) -> list[str]:
    """Run the jobs not yet finished in ``results`` (all with ``force``) on ``executor``; return their ids.

    Progress goes to stderr, one line per finished job; a failed job is reported and the others go on; the call
    raises at the end if any failed (run it again to retry only those).
    """
    experiment(chapter)
    executor = InProcess() if executor is None else executor
    todo = [job for job in jobs if force or not is_done(Path(results), chapter, profile, job)]
    if progress:
        print(f"[{chapter}/{profile}] {len(jobs) - len(todo)} of {len(jobs)} jobs already done, {len(todo)} to run",
              file=sys.stderr, flush=True)
    def submit(job):
        return executor.submit(execute, chapter, profile, job, str(results))

    # an in-process "executor" runs a job when it is submitted: submit one at a time so that progress shows
    futures = [(job, None if isinstance(executor, InProcess) else submit(job)) for job in todo]
    failed, start = [], time.perf_counter()
    for k, (job, future) in enumerate(futures, 1):
        try:
            (future or submit(job)).result()
            status = "done"
        except Exception as err:  # one failed job must not lose the others
            failed.append((job, err))
            status = f"FAILED: {type(err).__name__}: {err}"
        if progress:
            print(f"[{chapter}/{profile}] {k}/{len(futures)} {job_id(chapter, profile, job)} {status} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(futures)} jobs failed; run again to retry them. First: "
                           f"{failed[0][1]!r}")
    return [job_id(chapter, profile, job) for job in jobs]


def status(chapter: str, profile: str, jobs: Sequence, results: str | Path) -> pd.DataFrame:
    """One row per job: its id, whether it is done, and its config."""
    return pd.DataFrame([{"id": job_id(chapter, profile, one), "done": is_done(Path(results), chapter, profile, one),
                          **job_config(one)} for job in jobs for one in seed_jobs(job)])


def load(chapter: str, profile: str, job, results: str | Path) -> tuple[LoopResult, list[dict]]:
    """A finished job's result, merged from its seeds' files (records back in wide form), and their provenance."""
    parts, notes = [], []
    for one in seed_jobs(job):
        paths = job_paths(Path(results), chapter, profile, one)
        missing = [p.name for p in paths.values() if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"seed {one.seeds[0]} of a {chapter}/{profile} job is not in {results} (missing {', '.join(missing)});"
                f" run: python -m collapse_utils run {chapter} --profile {profile} --results {results}")
        with open(paths["pkl"], "rb") as f:
            extra = pickle.load(f)  # our own files, written by execute()
        parts.append(LoopResult(untidy(pd.read_csv(paths["csv"])), extra["samples"], extra["illustrations"]))
        notes.append(json.loads(paths["json"].read_text()))
    return merge(parts), notes


def results_dir() -> Path | None:
    """``COLLAPSE_RESULTS`` (a directory of finished jobs for the chapters to read), or None."""
    value = os.environ.get("COLLAPSE_RESULTS", "").strip()
    return Path(value) if value else None


def obtain(chapter: str, jobs: Sequence, profile: str | None = None) -> tuple[dict, list[dict]]:
    """What a chapter calls: ``{job: LoopResult}`` and the provenance of each, run here or read from
    ``COLLAPSE_RESULTS``."""
    profile = config.get_scale() if profile is None else profile
    directory = results_dir()
    if directory is None:
        return {job: experiment(chapter).run(job) for job in jobs}, []
    loaded = {job: load(chapter, profile, job, directory) for job in jobs}
    return {job: r for job, (r, _) in loaded.items()}, [n for _, notes in loaded.values() for n in notes]
