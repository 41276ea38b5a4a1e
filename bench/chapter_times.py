"""Time every chapter's execution at the ci profile and compare it with its budget (prints; asserts nothing).

    .venv/bin/python bench/chapter_times.py [notebooks/<name>.ipynb ...]

Each chapter is executed from a fresh kernel (nbclient) exactly as `make execute` does, with the checked
settings (COLLAPSE_SCALE=ci, COLLAPSE_THREADS=1), without writing the notebook back. Budgets come from the issues
that created the chapters; the whole test command should stay under 30 minutes as chapters accumulate.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = {"linear_regression": 120, "ridge_collapse": 120, "scaling_laws": 180, "mnist_krr": 180, "vae_mnist": 240,
            "language_models": 360, "diffusion_conformers": 360}


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return time.perf_counter() - start


def main(paths: list[str]) -> None:
    os.environ.update(COLLAPSE_SCALE="ci", COLLAPSE_THREADS="1")
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0.0
    print(f"{'chapter':<28}{'seconds':>10}{'budget':>10}")
    for nb in notebooks:
        seconds = run(nb)
        total += seconds
        budget = BUDGET_S.get(nb.stem)
        flag = "" if budget is None or seconds <= budget else "  OVER BUDGET"
        print(f"{nb.stem:<28}{seconds:>10.1f}{budget if budget is not None else '-':>10}{flag}")
    print(f"{'total':<28}{total:>10.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
