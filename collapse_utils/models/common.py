"""What every torch model of the package shares: seeded fresh initialization, minibatches, parameter counts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import torch
from torch import nn

from collapse_utils.protocol import torch_seed

__all__ = ["count_parameters", "device_of", "dtype_of", "minibatches", "seeded", "torch_device", "torch_seed"]


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` under ``torch.manual_seed(seed)``, without touching torch's global random state.

    Models are built on the CPU, so a seed gives the same initial weights on every device.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def minibatches(n: int, batch_size: int, epochs: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches of ``epochs`` passes over ``n`` items, each pass in a fresh random order from ``gen``."""
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``; a tied (shared) tensor counts once, as ``parameters()`` yields it once."""
    return sum(p.numel() for p in model.parameters())


def device_of(model) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a parameter-free stand-in)."""
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def dtype_of(model) -> torch.dtype:
    """The dtype of ``model``'s parameters (float32 for a parameter-free stand-in)."""
    try:
        return next(model.parameters()).dtype
    except (StopIteration, AttributeError):
        return torch.float32


def torch_device() -> str:
    """The torch device for models: ``COLLAPSE_DEVICE`` (``auto``, ``cpu`` or ``cuda``; default ``auto``).

    The checked ``ci`` outputs are CPU results; GPU runs are for the ``full`` profile (results agree in law, not in
    the last digit).
    """
    choice = os.environ.get("COLLAPSE_DEVICE", "auto").strip().lower()
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"COLLAPSE_DEVICE must be 'auto', 'cpu' or 'cuda', got {choice!r}")
    if choice == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if choice == "cuda":
        raise RuntimeError("COLLAPSE_DEVICE=cuda but torch sees no CUDA device")
    return "cpu"
