"""The data policies of a model-collapse feedback loop: Replace, Accumulate, Accumulate-Subsample.

Every chapter runs the same loop (see ``book/notation.md``): at iteration 1 a model is fit on the real data;
at iteration i > 1 a model is fit on a training set built from the *pool* of data chunks seen so far,
``chunks[0]`` (real) and ``chunks[1:]`` (sampled from the models of iterations 1, 2, ..., i-1). The policy
decides which rows of the pool make up that training set:

- ``replace``: only the newest chunk (Shumailov et al.; Gerstgrasser et al. 2024, "replace");
- ``accumulate``: every chunk, real and synthetic (Gerstgrasser et al. 2024, "accumulate");
- ``accumulate-subsample``: a uniform subsample without replacement of the pool, of the size of the real
  data, so that the compute per iteration stays fixed (Kazdan et al. 2024, "Collapse or Thrive?").

The functions work on row indices, so any data type (arrays, tensors, lists of stories or molecules) can
use them; :func:`assemble` gathers rows for array-likes.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from itertools import pairwise

import numpy as np


class DataPolicy(str, Enum):
    """How each iteration's training set is built from the pool of real and synthetic chunks."""

    REPLACE = "replace"
    ACCUMULATE = "accumulate"
    ACCUMULATE_SUBSAMPLE = "accumulate-subsample"

    @classmethod
    def parse(cls, value: DataPolicy | str) -> DataPolicy:
        """Return the policy named by ``value`` (a DataPolicy, or its name: case, ``_`` and ``-`` ignored).

        Raises
        ------
        ValueError
            If ``value`` names no policy; the message lists the allowed names.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "-")
            for policy in cls:
                if policy.value == key:
                    return policy
        allowed = ", ".join(repr(p.value) for p in cls)
        raise ValueError(f"policy must be one of {allowed}, got {value!r}")

    @property
    def label(self) -> str:
        """Human-readable name for legends and tables."""
        return {"replace": "Replace", "accumulate": "Accumulate", "accumulate-subsample": "Accumulate-Subsample"}[
            self.value
        ]

    def __str__(self) -> str:  # so f-strings print the plain name
        return self.value


ALL_POLICIES: tuple[DataPolicy, ...] = tuple(DataPolicy)
"""The three policies, in the book's fixed order (used for legends and colours)."""


def _check_iteration(iteration: int) -> int:
    if isinstance(iteration, bool) or not isinstance(iteration, (int, np.integer)) or iteration < 1:
        raise ValueError(f"iteration must be an integer >= 1 (iteration 1 trains on real data), got {iteration!r}")
    return int(iteration)


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def training_set_size(policy: DataPolicy | str, iteration: int, n_real: int) -> int:
    """Number of training rows at ``iteration`` when every chunk holds ``n_real`` rows.

    Replace and Accumulate-Subsample train on ``n_real`` rows; Accumulate on ``iteration * n_real``.
    """
    policy = DataPolicy.parse(policy)
    iteration = _check_iteration(iteration)
    n_real = _check_size("n_real", n_real)
    return iteration * n_real if policy is DataPolicy.ACCUMULATE else n_real


def training_rows(
    policy: DataPolicy | str,
    chunk_sizes: Sequence[int],
    rng: np.random.Generator,
    size: int | None = None,
) -> list[np.ndarray]:
    """Choose the training rows of the pool ``chunks`` (real first) under ``policy``.

    Parameters
    ----------
    policy
        A :class:`DataPolicy` or its name.
    chunk_sizes
        Number of rows in each chunk of the pool, ``chunk_sizes[0]`` being the real data; the current
        iteration is ``len(chunk_sizes)``.
    rng
        Randomness for the subsample (unused by the other policies).
    size
        Training-set size for Accumulate-Subsample; default ``chunk_sizes[0]`` (the real data's size).

    Returns
    -------
    list of numpy.ndarray
        One sorted integer index array per chunk: the rows of that chunk in the training set.
    """
    policy = DataPolicy.parse(policy)
    if len(chunk_sizes) == 0:
        raise ValueError("chunk_sizes must hold at least the real chunk, got an empty sequence")
    sizes = [_check_size(f"chunk_sizes[{k}]", s) for k, s in enumerate(chunk_sizes)]
    if policy is DataPolicy.REPLACE:
        return [np.arange(0) for _ in sizes[:-1]] + [np.arange(sizes[-1])]
    if policy is DataPolicy.ACCUMULATE:
        return [np.arange(s) for s in sizes]
    size = sizes[0] if size is None else _check_size("size", size)
    total = sum(sizes)
    if size > total:
        raise ValueError(f"size must be <= the pool size {total}, got {size}")
    picked = np.sort(rng.choice(total, size=size, replace=False))
    edges = np.cumsum([0, *sizes])
    return [picked[(picked >= lo) & (picked < hi)] - lo for lo, hi in pairwise(edges)]


def assemble(chunks: Sequence, rows: Sequence[np.ndarray]):
    """Gather ``rows`` (from :func:`training_rows`) out of array-like ``chunks`` and concatenate them.

    Works for numpy arrays, torch tensors (gathered with numpy indices, joined with ``torch.cat``) and Python
    lists (of stories, molecules, ...), which are gathered item by item.
    """
    if len(chunks) and isinstance(chunks[0], list):
        if len(chunks) != len(rows):
            raise ValueError(f"chunks and rows must have the same length, got {len(chunks)} and {len(rows)}")
        out = [chunk[int(k)] for chunk, idx in zip(chunks, rows, strict=True) for k in idx]
        if not out:
            raise ValueError("rows select no row at all; a training set needs at least one row")
        return out
    if len(chunks) != len(rows):
        raise ValueError(f"chunks and rows must have the same length, got {len(chunks)} and {len(rows)}")
    parts = [chunk[idx] for chunk, idx in zip(chunks, rows, strict=True) if len(idx)]
    if not parts:
        raise ValueError("rows select no row at all; a training set needs at least one row")
    first = parts[0]
    if type(first).__module__.startswith("torch"):
        import torch

        return torch.cat(parts)
    return np.concatenate(parts)
