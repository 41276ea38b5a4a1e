"""The feedback-loop runner: fit a fresh model, evaluate it on real held-out data, sample, build the next training set.

Any model family plugs in through three callables, so the VAE, language-model and diffusion chapters share one loop:

``fit(train, rng) -> model``
    Train a model **from a fresh initialization** on ``train`` (rows of the real and synthetic chunks, gathered by
    :func:`collapse_utils.policies.assemble`); ``rng`` (a ``numpy.random.Generator``) seeds the initialization and
    the training order. Torch code derives its seed with ``int(rng.integers(2**62))``.
``evaluate(model) -> dict[str, float]``
    Metrics on **real** held-out data.
``sample(model, n, rng) -> data``
    ``n`` new items (same container type as the real data), ``n`` = the size of the real training set.

Iteration ``i = 1, 2, ...`` (the book's convention: iteration 1 fits the real data). Randomness comes from
``SeedSequence(seed, spawn_key=(i, k))`` for fitting (k = 0), sampling (k = 1) and subsampling (k = 2), so the same
seed gives identical first iterations under every policy and runs do not depend on one another.

Progress goes to stderr when ``COLLAPSE_PROGRESS`` is unset or ``1``; ``make execute`` and ``make test`` set it to ``0``
so that checked notebook outputs never contain it (see :func:`collapse_utils.config.show_progress`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from collapse_utils.config import show_progress
from collapse_utils.policies import DataPolicy, assemble, training_rows
from collapse_utils.validation import check_int

Fit = Callable[[Any, np.random.Generator], Any]
Sample = Callable[[Any, int, np.random.Generator], Any]
Evaluate = Callable[[Any], dict]


def _stream(seed: int, iteration: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(iteration, purpose)))


def run_feedback_loop(
    real_train,
    *,
    fit: Fit,
    evaluate: Evaluate,
    sample: Sample,
    policy: DataPolicy | str,
    n_iterations: int,
    seed: int,
    label: str = "",
) -> pd.DataFrame:
    """Run one feedback loop and return one tidy row per iteration.

    Parameters
    ----------
    real_train
        The real training data: anything with ``len`` that :func:`collapse_utils.policies.assemble` can index
        (numpy array, torch tensor, list).
    fit, evaluate, sample
        The model family's callables (see the module docstring).
    policy
        Replace, Accumulate or Accumulate-Subsample (:class:`DataPolicy` or its name).
    n_iterations
        Number of model fits (>= 1); the last model is evaluated but not sampled from.
    seed
        Root seed (integer >= 0).
    label
        Shown in progress messages only.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy, iteration, seed, train_size, n_real, n_synthetic, fit_seconds, sample_seconds`` and one
        column per metric returned by ``evaluate``.
    """
    policy = DataPolicy.parse(policy)
    n_iterations = check_int("n_iterations", n_iterations, 1)
    seed = check_int("seed", seed, 0)
    n_real = len(real_train)
    if n_real < 1:
        raise ValueError("real_train must hold at least one item")
    chunks = [real_train]
    rows = []
    for i in range(1, n_iterations + 1):
        picked = training_rows(policy, [len(c) for c in chunks], _stream(seed, i, 2))
        train = assemble(chunks, picked)
        start = time.perf_counter()
        model = fit(train, _stream(seed, i, 0))
        fit_seconds = time.perf_counter() - start
        metrics = evaluate(model)
        if not isinstance(metrics, dict) or not metrics:
            raise TypeError(f"evaluate must return a non-empty dict of metrics, got {type(metrics).__name__}")
        sample_seconds = 0.0
        if i < n_iterations:
            start = time.perf_counter()
            synthetic = sample(model, n_real, _stream(seed, i, 1))
            sample_seconds = time.perf_counter() - start
            if len(synthetic) != n_real:
                raise ValueError(f"sample must return exactly n = {n_real} items, got {len(synthetic)}")
            chunks.append(synthetic)
        n_real_used = len(picked[0])
        rows.append({"policy": policy.value, "iteration": i, "seed": seed, "train_size": n_real_used + sum(
            len(p) for p in picked[1:]), "n_real": n_real_used, "n_synthetic": sum(len(p) for p in picked[1:]),
            "fit_seconds": fit_seconds, "sample_seconds": sample_seconds,
            **{k: float(v) for k, v in metrics.items()}})
        if show_progress():
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in metrics.items())
            print(f"[{label or 'loop'}] {policy.value} seed {seed} iteration {i}/{n_iterations}: {shown} "
                  f"({fit_seconds:.1f}s fit)", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def run_policies(
    real_train,
    *,
    policies: Iterable[DataPolicy | str],
    seeds: Sequence[int],
    **kwargs,
) -> pd.DataFrame:
    """:func:`run_feedback_loop` for every policy and seed; the rows of all runs in one frame."""
    pols = [DataPolicy.parse(p) for p in policies]
    if not pols or len(set(pols)) != len(pols):
        raise ValueError(f"policies must name at least one policy and none twice, got {pols!r}")
    if len(seeds) == 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty sequence without repeats, got {seeds!r}")
    frames = [run_feedback_loop(real_train, policy=p, seed=s, **kwargs) for p in pols for s in seeds]
    return pd.concat(frames, ignore_index=True)
