"""Time every chapter's execution at the ci profile and compare it with its budget (prints; asserts nothing).

    .venv/bin/python bench/chapter_times.py [notebooks/<name>.ipynb ...]

Each chapter is executed from a fresh kernel (nbclient) exactly as `make execute` does, with the checked
settings (COLLAPSE_SCALE=ci, COLLAPSE_THREADS=1), without writing the notebook back, and reports its wall time and
the CPU time of its kernel. Budgets come from the issues that created the chapters; the whole test command should
stay under 25 minutes.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = {"gaussian_kde": 120, "linear_regression": 120, "ridge_collapse": 120, "scaling_laws": 180,
            "mnist_krr": 180, "vae_mnist": 420, "language_models": 420, "diffusion_conformers": 420,
            "real_data_mixing": 120, "verification_selection": 120}
"""Seconds each chapter may take at ci on the 2-core reference machine (the torch chapters with their three seeds)."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: Path) -> tuple[float, float]:
    """Wall seconds and the kernel's CPU seconds (counted when the kernel process ends) of one execution."""
    nb = nbformat.read(path, as_version=4)
    start, cpu = time.perf_counter(), _children_cpu()
    client = NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return time.perf_counter() - start, _children_cpu() - cpu


def main(paths: list[str]) -> None:
    os.environ.update(COLLAPSE_SCALE="ci", COLLAPSE_THREADS="1", COLLAPSE_PROGRESS="0", COLLAPSE_STORE="0")
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = total_cpu = 0.0
    print(f"{'chapter':<28}{'seconds':>10}{'CPU s':>10}{'budget':>10}", flush=True)
    for nb in notebooks:
        seconds, cpu = run(nb)
        total, total_cpu = total + seconds, total_cpu + cpu
        budget = BUDGET_S.get(nb.stem)
        flag = "" if budget is None or seconds <= budget else "  OVER BUDGET"
        print(f"{nb.stem:<28}{seconds:>10.1f}{cpu:>10.1f}{budget if budget is not None else '-':>10}{flag}", flush=True)
    print(f"{'total':<28}{total:>10.1f}{total_cpu:>10.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
