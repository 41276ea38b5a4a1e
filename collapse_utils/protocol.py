"""The protocol a model family follows to run in the feedback loop, the context it receives, and the named streams.

A **model family** (VAE, decoder language model, EGNN diffusion, or a test fake) is an object with three methods,
in the spirit of scikit-learn's estimator contract and d2l's ``Module``/``Trainer`` split: small and explicit.

``fit(train, ctx) -> model``
    Train a model **from a fresh initialization** on ``train`` (rows of the real and synthetic chunks, gathered by
    :func:`collapse_utils.policies.assemble`), with randomness from ``ctx.rng("fit")`` only.
``evaluate(model, ctx) -> dict[str, float]``
    Metrics on **real** held-out data the family was built with; deterministic given the model and the seed
    (evaluation noise comes from ``ctx.rng("evaluate")``, the same for every iteration and policy of a seed).
``sample(model, n, ctx) -> data``
    ``n`` new items, of the same container type as the real data, with randomness from ``ctx.rng("sample")``.

Optionally ``fit_many(trains, ctxs) -> list of models`` trains several seeds at once (a batched ensemble); the loop
uses it when present, and ``illustrate(model, ctx) -> object`` returns something to keep for the page (a digit
grid, a few stories), stored by the loop beside the metrics.

Every random number comes from a **named stream**: ``stream(seed, iteration, name)`` is
``SeedSequence(seed, spawn_key=(iteration, STREAMS[name]))``. Streams depend on the seed and the iteration, never on
the policy, so iteration 1 is the same under every policy and a run does not depend on which other runs happen
beside it or where (in-process, another process, another machine). ``tests/unit/test_model_contract.py`` holds the
contract test every family passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from collapse_utils.policies import DataPolicy

STREAMS = {"fit": 0, "sample": 1, "subsample": 2, "evaluate": 3}
"""The named random streams of one (seed, iteration): their spawn keys."""


def stream(seed: int, iteration: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` (a key of :data:`STREAMS`) at ``iteration`` of the run with root ``seed``."""
    if name not in STREAMS:
        raise ValueError(f"name must be one of {sorted(STREAMS)}, got {name!r}")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(iteration, STREAMS[name])))


@dataclass(frozen=True)
class Context:
    """Where a callback is called: the policy (``None`` at iteration 1, which is the same for every policy), the
    run's root seed, the iteration (1 = the real data) and the number of iterations of the run."""

    policy: DataPolicy | None
    seed: int
    iteration: int
    n_iterations: int

    def rng(self, name: str) -> np.random.Generator:
        """A fresh generator of the named stream (:data:`STREAMS`) of this seed and iteration.

        ``"evaluate"`` is the same at every iteration of a seed (key 0), so that every model of a run is scored on
        the same evaluation noise (common random numbers across iterations and policies).
        """
        return stream(self.seed, 0 if name == "evaluate" else self.iteration, name)

    @property
    def key(self) -> tuple:
        """``(policy value or None, seed, iteration)``: a dictionary key for what a callback keeps."""
        return (None if self.policy is None else self.policy.value, self.seed, self.iteration)


@runtime_checkable
class ModelFamily(Protocol):
    """What the feedback loop needs of a model family (see the module docstring)."""

    def fit(self, train, ctx: Context) -> Any: ...

    def evaluate(self, model, ctx: Context) -> dict[str, float]: ...

    def sample(self, model, n: int, ctx: Context) -> Any: ...


def torch_seed(rng: np.random.Generator) -> int:
    """A seed for ``torch.manual_seed`` / ``torch.Generator`` drawn from a numpy generator (the package's one way)."""
    return int(rng.integers(2**62))
