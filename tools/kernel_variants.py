"""Re-run the torch chapters' notebook tests under other CPU kernels and thread counts (``make test-kernels``).

The stored outputs of the chapters that train torch models come from one machine; another CPU rounds differently, so
their training numbers are checked as statistics (see ``collapse_utils/stored.py``). This command checks that claim
the way it would fail: it executes each torch chapter under nbval (strict for every output not tagged
``nbval-ignore-output``) with torch's kernel dispatch forced to other instruction sets, OpenBLAS told it runs on
another core type, and two threads instead of one, and prints a table of setting, chapter, pass/fail and time.

    .venv/bin/python tools/kernel_variants.py [--settings NAME ...] [notebooks/<chapter>.ipynb ...]

It takes a while (``ATEN_CPU_CAPABILITY=default`` turns off vectorized kernels); it is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_CHAPTERS = ["notebooks/vae_mnist.ipynb", "notebooks/language_models.ipynb",
                  "notebooks/diffusion_conformers.ipynb"]
SETTINGS = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "openblas-zen": {"OPENBLAS_CORETYPE": "Zen"},
    "threads-2": {"COLLAPSE_THREADS": "2"},
}
CHECK_ENV = {"COLLAPSE_SCALE": "ci", "COLLAPSE_THREADS": "1", "COLLAPSE_PROGRESS": "0", "COLLAPSE_STORE": "0"}


def run(setting: str, notebook: str) -> tuple[bool, float, str]:
    """nbval on one notebook under one setting: (passed, seconds, last lines of the output)."""
    env = {**os.environ, **CHECK_ENV, **SETTINGS[setting]}
    if "COLLAPSE_THREADS" in SETTINGS[setting]:  # the package exports its thread count to the BLAS/OpenMP variables
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(var, None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", notebook]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return proc.returncode == 0, time.perf_counter() - start, tail


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=TORCH_CHAPTERS)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args(argv)
    print(f"{'setting':<16}{'chapter':<28}{'result':<8}{'seconds':>9}", flush=True)
    failed = 0
    for setting in args.settings:
        for notebook in args.notebooks:
            ok, seconds, tail = run(setting, notebook)
            failed += not ok
            print(f"{setting:<16}{Path(notebook).stem:<28}{'pass' if ok else 'FAIL':<8}{seconds:>9.0f}", flush=True)
            if not ok:
                print("    " + tail.replace("\n", "\n    "), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
