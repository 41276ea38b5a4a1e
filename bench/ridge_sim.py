"""Time the ridge-collapse simulator against its slow reference on the paper's Figure 1a (left) grid (prints).

    .venv/bin/python bench/ridge_sim.py [--runs R] [--seed S]

Grid (Dohmatob et al. 2024, Figure 1a left): d = 300, Sigma = I, ||w0|| = 1,
T0 = 600, sigma0 = 0.2, sigma = 0.1, T = 1000, n in {0, 1, 2, 5, 10, 20}, 26 lambdas logspace(-4, 1), R runs
(default 10). With one seed it times ``reference_ridge_collapse`` (every sample drawn, one solve per lambda, n and
run), ``simulate_ridge_collapse(sampling="explicit")`` (same random numbers, one eigendecomposition per run) and
``simulate_ridge_collapse(sampling="sufficient")`` (Wishart / Gaussian sufficient statistics, exact in law), and
prints the three times, the speed-ups over the reference, the max relative difference of the explicit results from
the reference (checked: <= 1e-9), and the largest |z| of the per-grid-point mean difference sufficient - reference
(a statistical check only: the two share seeds but consume the streams differently, so their runs are different
draws, not exactly independent ones). Threads are pinned by ``config.setup()`` (COLLAPSE_THREADS, default 1).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collapse_utils import config
from collapse_utils.sim.ridge import reference_ridge_collapse, simulate_ridge_collapse

D = 300
GRID = {
    "eigs": np.ones(D),
    "w0": np.ones(D) / np.sqrt(D),  # ||w0|| = 1 (isotropic Sigma: the direction is irrelevant)
    "T0": 600,
    "sigma0": 0.2,
    "sigma": 0.1,
    "Ts": [1000],
    "ns": [0, 1, 2, 5, 10, 20],
    "lams": np.logspace(-4, 1, 26),
}
RTOL = 1e-9


def timed(fn, **kwargs):
    start = time.perf_counter()
    result = fn(**kwargs)
    return result, time.perf_counter() - start


def mean_sem(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="Monte-Carlo runs (default 10, >= 2)")
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help="root seed")
    args = parser.parse_args(argv)
    threads = config.set_threads()
    config.setup(args.seed)
    kw = {**GRID, "n_runs": args.runs, "seed": args.seed}

    reference, t_ref = timed(reference_ridge_collapse, **kw)
    explicit, t_exp = timed(simulate_ridge_collapse, **kw, sampling="explicit")
    sufficient, t_suf = timed(simulate_ridge_collapse, **kw, sampling="sufficient")

    print(f"Figure 1a (left) grid: d={D}, T0={GRID['T0']}, T={GRID['Ts'][0]}, sigma0={GRID['sigma0']}, "
          f"sigma={GRID['sigma']}, ns={GRID['ns']}, {len(GRID['lams'])} lambdas in [1e-4, 10], "
          f"runs={args.runs}, seed={args.seed}, threads={threads}")
    print(f"{'method':<34}{'seconds':>10}{'speed-up':>10}")
    for name, seconds in [("reference_ridge_collapse", t_ref), ("simulate (sampling='explicit')", t_exp),
                          ("simulate (sampling='sufficient')", t_suf)]:
        print(f"{name:<34}{seconds:>10.2f}{t_ref / seconds:>9.1f}x")

    max_rel = float(np.max(np.abs(explicit.total - reference) / np.abs(reference)))
    print(f"explicit vs reference: max relative difference {max_rel:.2e} (tolerance {RTOL:g})")
    (m_ref, s_ref), (m_suf, s_suf) = mean_sem(reference), mean_sem(sufficient.total)
    z = (m_suf - m_ref) / np.sqrt(s_ref**2 + s_suf**2)
    print(f"sufficient vs reference: largest |z| of the mean difference {np.max(np.abs(z)):.2f} "
          f"over {z.size} grid points ({args.runs} runs each)")
    if args.runs < 10:
        print("  (with so few runs the standard errors are rough and z has Student-t tails: expect |z| of several)")
    if not max_rel <= RTOL:
        raise SystemExit(f"explicit results differ from the reference: max relative difference {max_rel:.3g} > {RTOL}")


if __name__ == "__main__":
    main()
