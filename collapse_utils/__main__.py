"""The command line: run a chapter's experiment as jobs on an executor, or list which jobs are done.

    python -m collapse_utils run language-models --profile full --seeds 0-2 --executor slurm \\
        --partition gpu --gpus-per-job 1 --results results
    python -m collapse_utils run vae-mnist --executor process --workers 2
    python -m collapse_utils status language-models --profile full --results results

Jobs are the chapter's jobs at the profile (``config.CHAPTER_SETTINGS``), one job per seed. Executors: ``inline``
(this process), ``process`` (a process pool), ``submitit`` (Slurm through submitit's AutoExecutor; ``--cluster local``
or ``debug`` runs without Slurm; needs the ``cluster`` extra) and ``dask`` (``--scheduler`` address of a Dask
cluster). A chapter reads the results when executed with ``COLLAPSE_RESULTS=<results>`` and
``COLLAPSE_SCALE=<profile>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import sys
from pathlib import Path

from collapse_utils import config, jobs


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-2"`` → (0, 1, 2); ``"0,3,5"`` → (0, 3, 5)."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"--seeds must look like 0-2 or 0,3,5, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds must name distinct integers >= 0, got {text!r}")
    return tuple(seeds)


def chapter_jobs(chapter: str, profile: str, seeds: tuple[int, ...] | None) -> list:
    """The chapter's jobs at ``profile``, split into one job per seed (``seeds`` replaces the profile's)."""
    module = jobs.experiment(chapter)
    made = module.chapter_jobs(config.scale_settings(chapter, profile))
    made = [made[0], *made[1]] if isinstance(made, tuple) else list(made)
    return [dataclasses.replace(job, seeds=(s,)) for job in made for s in (seeds or job.seeds)]


def make_executor(args):
    if args.executor == "inline":
        return jobs.InProcess()
    if args.executor == "process":
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
    if args.executor == "submitit":
        try:
            import submitit
        except ImportError:
            raise SystemExit("--executor submitit needs submitit: pip install -e '.[cluster]'") from None
        executor = submitit.AutoExecutor(folder=Path(args.results) / "submitit", cluster=args.cluster)
        params = {"timeout_min": args.timeout_min}
        if args.partition:
            params["slurm_partition"] = args.partition
        if args.gpus_per_job:
            params["gpus_per_node"] = args.gpus_per_job
        executor.update_parameters(**params)
        return executor
    try:
        from dask.distributed import Client
    except ImportError:
        raise SystemExit("--executor dask needs dask.distributed: pip install -e '.[cluster]'") from None
    return Client(args.scheduler).get_executor()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collapse_utils", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "status"):
        p = sub.add_parser(name)
        p.add_argument("chapter", choices=sorted(jobs.CHAPTERS))
        p.add_argument("--profile", choices=config.SCALES, default=config.get_scale())
        p.add_argument("--seeds", type=parse_seeds, default=None, help="e.g. 0-2 or 0,3,5 (default: the profile's)")
        p.add_argument("--results", default="results", help="the results directory (default: ./results)")
        if name == "run":
            p.add_argument("--executor", choices=("inline", "process", "submitit", "dask"), default="inline")
            p.add_argument("--workers", type=int, default=2, help="process pool size")
            p.add_argument("--cluster", default=None, help="submitit: slurm (auto), local or debug")
            p.add_argument("--partition", default=None, help="submitit/Slurm partition")
            p.add_argument("--gpus-per-job", type=int, default=0)
            p.add_argument("--timeout-min", type=int, default=24 * 60)
            p.add_argument("--scheduler", default=None, help="dask: the scheduler's address")
            p.add_argument("--force", action="store_true", help="recompute finished jobs")
    args = parser.parse_args(argv)
    todo = chapter_jobs(args.chapter, args.profile, args.seeds)
    if args.command == "status":
        table = jobs.status(args.chapter, args.profile, todo, args.results)
        shown = [c for c in ("model", "policies", "seeds", "temperature", "synthetic", "epochs") if c in table]
        print(table[["id", "done", *shown]].to_string(index=False))
        print(f"{int(table['done'].sum())} of {len(table)} jobs done in {args.results}")
        return 0
    jobs.run(args.chapter, args.profile, todo, args.results, executor=make_executor(args), force=args.force)
    print(f"all {len(todo)} jobs of {args.chapter}/{args.profile} are in {args.results}; render the chapter with "
          f"COLLAPSE_SCALE={args.profile} COLLAPSE_RESULTS={args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
