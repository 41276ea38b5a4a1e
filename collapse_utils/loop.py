"""The feedback-loop runner: fit a fresh model, evaluate it on real held-out data, sample, build the next training set.

Any model family that follows :class:`collapse_utils.protocol.ModelFamily` plugs in, so the VAE, language-model and
diffusion chapters share one loop. :func:`run_experiment` runs several policies and seeds: for each seed, iteration 1
(the fit on real data, identical under every policy by construction of the streams) is fitted, evaluated and sampled
once and shared by all policies; then each policy continues on its own. Iterations are counted from 1 (the book's
convention: iteration 1 fits the real data). The training set of each iteration comes from
:func:`collapse_utils.policies.training_rows`, and the number of samples each model draws from
:func:`collapse_utils.policies.samples_to_draw`.

Progress goes to stderr when ``COLLAPSE_PROGRESS`` is ``1`` (the default); ``make execute`` and ``make test`` set it
to ``0`` so that checked notebook outputs never contain it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from collapse_utils.config import show_progress
from collapse_utils.policies import DataPolicy, assemble, samples_to_draw, training_rows
from collapse_utils.protocol import Context, ModelFamily, stream
from collapse_utils.validation import Int, IntArray, validate


@dataclass
class LoopResult:
    """What a run returns.

    ``records``: one tidy row per (policy, seed, iteration) with columns ``policy, seed, iteration, train_size,
    n_real, n_synthetic, fit_seconds, sample_seconds`` and one column per metric of ``evaluate``.
    ``samples``: ``{(policy, seed, iteration): data}``, what model ``iteration`` sampled (with ``keep_samples``;
    iteration 1's entry is stored under every policy); ``illustrations``: what ``family.illustrate`` returned, keyed
    likewise.
    """

    records: pd.DataFrame
    samples: dict = field(default_factory=dict)
    illustrations: dict = field(default_factory=dict)


def _fit_all(family, trains, ctxs):
    if hasattr(family, "fit_many") and len(trains) > 1:
        models = family.fit_many(trains, ctxs)
        if len(models) != len(trains):
            raise ValueError(f"fit_many must return {len(trains)} models, got {len(models)}")
        return models
    return [family.fit(train, ctx) for train, ctx in zip(trains, ctxs, strict=True)]


@validate(n_iterations=Int(1), seeds=IntArray(0, distinct=True))
def run_experiment(real_train, family: ModelFamily, *, policies: Sequence[DataPolicy | str], seeds: Sequence[int],
                   n_iterations: int, keep_samples: bool = False, sample_last: bool = False,
                   label: str = "") -> LoopResult:
    """Run the feedback loop of ``family`` under every policy and seed.

    Parameters
    ----------
    real_train
        The real training data: anything with ``len`` that :func:`collapse_utils.policies.assemble` can index.
    family
        A :class:`~collapse_utils.protocol.ModelFamily`.
    policies
        Policies (names or :class:`DataPolicy`), at least one, none twice.
    seeds
        Root seeds (distinct integers >= 0).
    n_iterations
        Model fits per run (>= 1).
    keep_samples
        Return what every model sampled (``LoopResult.samples``).
    sample_last
        Also sample the last model (as many items as the real data, from its ``"sample"`` stream), e.g. to score
        the generated data of every model; it trains nothing.
    label
        Shown in progress messages only.
    """
    if not isinstance(family, ModelFamily):
        raise ValueError(f"family must have fit, evaluate and sample methods, got {type(family).__name__}")
    pols = [DataPolicy.parse(p) for p in policies]
    if not pols or len(set(pols)) != len(pols):
        raise ValueError(f"policies must name at least one policy and none twice, got {list(policies)!r}")
    n_real = len(real_train)
    if n_real < 1:
        raise ValueError("real_train must hold at least one item")
    seeds = [int(s) for s in seeds]
    out = LoopResult(pd.DataFrame())
    rows = []

    def record(ctx, train_rows, model, fit_s, synthetic_by_n):
        start = time.perf_counter()
        metrics = family.evaluate(model, ctx)
        if not isinstance(metrics, dict) or not metrics:
            raise TypeError(f"evaluate must return a non-empty dict of metrics, got {type(metrics).__name__}")
        extra = family.illustrate(model, ctx) if hasattr(family, "illustrate") else None
        evaluate_s = time.perf_counter() - start
        n_syn = sum(len(r) for r in train_rows[1:])
        base = {"seed": ctx.seed, "iteration": ctx.iteration, "train_size": len(train_rows[0]) + n_syn,
                "n_real": len(train_rows[0]), "n_synthetic": n_syn, "fit_seconds": fit_s,
                "evaluate_seconds": evaluate_s, **{k: float(v) for k, v in metrics.items()}}
        for p in ([ctx.policy] if ctx.policy is not None else pols):
            sample_s, key = 0.0, (p.value, ctx.seed, ctx.iteration)
            wanted = samples_to_draw(p, ctx.iteration, n_real) if ctx.iteration < n_iterations else \
                (n_real if sample_last else 0)
            if wanted:
                if wanted not in synthetic_by_n:
                    start = time.perf_counter()
                    data = family.sample(model, wanted, ctx)
                    synthetic_by_n[wanted] = (data, time.perf_counter() - start)
                    if len(data) != wanted:
                        raise ValueError(f"sample must return exactly n = {wanted} items, got {len(data)}")
                data, sample_s = synthetic_by_n[wanted]
                if keep_samples:
                    out.samples[key] = data
            if extra is not None:
                out.illustrations[key] = extra
            rows.append({"policy": p.value, **base, "sample_seconds": sample_s})
        if show_progress():
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in metrics.items())
            print(f"[{label or 'loop'}] {ctx.policy or 'all policies'} seed {ctx.seed} iteration {ctx.iteration}/"
                  f"{n_iterations}: {shown} ({fit_s:.1f}s fit)", file=sys.stderr, flush=True)

    # Iteration 1, shared by every policy: fit on the real data, sample once per sample count.
    ctxs = [Context(None, s, 1, n_iterations) for s in seeds]
    start = time.perf_counter()
    first = _fit_all(family, [real_train] * len(seeds), ctxs)
    fit_s = (time.perf_counter() - start) / len(seeds)
    first_samples = {}
    for ctx, model in zip(ctxs, first, strict=True):
        first_samples[ctx.seed] = {}
        record(ctx, [range(n_real)], model, fit_s, first_samples[ctx.seed])

    for policy in pols:
        chunks = {s: [real_train] for s in seeds}
        if n_iterations > 1:
            for s in seeds:
                chunks[s].append(first_samples[s][samples_to_draw(policy, 1, n_real)][0])
        for i in range(2, n_iterations + 1):
            ctxs = [Context(policy, s, i, n_iterations) for s in seeds]
            picked = {s: training_rows(policy, [len(c) for c in chunks[s]], stream(s, i, "subsample")) for s in seeds}
            start = time.perf_counter()
            models = _fit_all(family, [assemble(chunks[s], picked[s]) for s in seeds], ctxs)
            fit_s = (time.perf_counter() - start) / len(seeds)
            for ctx, model in zip(ctxs, models, strict=True):
                drawn = {}
                record(ctx, picked[ctx.seed], model, fit_s, drawn)
                if i < n_iterations:
                    chunks[ctx.seed].append(drawn[samples_to_draw(policy, i, n_real)][0])
    order = {p.value: k for k, p in enumerate(pols)}
    records = pd.DataFrame(rows)
    records = records.iloc[sorted(range(len(rows)), key=lambda k: (order[rows[k]["policy"]], rows[k]["seed"],
                                                                   rows[k]["iteration"]))]
    out.records = records.reset_index(drop=True)
    return out


def run_feedback_loop(real_train, family: ModelFamily, *, policy: DataPolicy | str, seed: int, n_iterations: int,
                      **kwargs) -> LoopResult:
    """One run: :func:`run_experiment` with one policy and one seed."""
    return run_experiment(real_train, family, policies=[policy], seeds=[seed], n_iterations=n_iterations, **kwargs)
