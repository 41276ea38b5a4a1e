"""The data policies of a model-collapse feedback loop, and the one place that says what each of them does.

Every loop in the book (see ``book/notation.md``) fits model 1 on the real data; model ``i > 1`` is fit on a training
set built from the **pool** of chunks seen so far: ``chunks[0]`` (real) and ``chunks[1:]`` (sampled by the models of
iterations 1, 2, ..., i-1). A policy is a :class:`Rule` in :data:`RULES`:

==========================  ===============  =========  ==========================================================
policy                      trains on        subsample  model i-1 draws
==========================  ===============  =========  ==========================================================
``replace``                 newest chunk     no         n samples (n = size of the real data)
``accumulate``              whole pool       no         n samples
``accumulate-subsample``    whole pool       n rows     n samples
``replace-multiple``        newest chunk     no         i n samples: as many as accumulate's pool holds
==========================  ===============  =========  ==========================================================

Replace and accumulate are Gerstgrasser et al. (2024)'s; accumulate-subsample keeps accumulate's compute fixed
(Kazdan et al. 2024); replace-multiple is the data-size control of Gerstgrasser et al.'s language-model code
("Replace (Multiple)"): as much data as accumulate, none of it real.

The loop (:mod:`collapse_utils.loop`) and the simulators (:mod:`collapse_utils.sim`) both read :func:`rule`; a
policy without a rule raises :class:`PolicyNotImplementedError` wherever it is used, so a new member of
:class:`DataPolicy` cannot be silently simulated as another one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise

import numpy as np

from collapse_utils.validation import Int, validate


class DataPolicy(str, Enum):
    """How each iteration's training set is built from the pool of real and synthetic chunks."""

    REPLACE = "replace"
    ACCUMULATE = "accumulate"
    ACCUMULATE_SUBSAMPLE = "accumulate-subsample"
    REPLACE_MULTIPLE = "replace-multiple"

    @classmethod
    def parse(cls, value: DataPolicy | str) -> DataPolicy:
        """The policy named by ``value`` (a DataPolicy or its name; case, ``_`` and ``-`` ignored)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "-")
            for policy in cls:
                if policy.value == key:
                    return policy
        raise ValueError(f"policy must be one of {', '.join(repr(p.value) for p in cls)}, got {value!r}")

    @property
    def label(self) -> str:
        """Human-readable name for legends and tables ("Accumulate-Subsample")."""
        return "-".join(word.capitalize() for word in self.value.split("-"))

    def __str__(self) -> str:  # f-strings print the plain name
        return self.value


class PolicyNotImplementedError(NotImplementedError):
    """A policy has no rule (or a simulator has no algorithm for its rule)."""

    def __init__(self, policy, where: str):
        super().__init__(f"policy {str(policy)!r} is not implemented in {where}")


@dataclass(frozen=True)
class Rule:
    """What a policy does at iteration ``i > 1``.

    ``trains_on``: ``"newest"`` (the chunk sampled by model i-1 only) or ``"pool"`` (real and every synthetic chunk);
    ``subsample``: train on a uniform subsample without replacement of ``n_real`` rows of that set;
    ``sample_multiple``: model i-1 draws ``i * n_real`` samples instead of ``n_real``.
    """

    trains_on: str
    subsample: bool = False
    sample_multiple: bool = False


RULES: dict[DataPolicy, Rule] = {
    DataPolicy.REPLACE: Rule("newest"),
    DataPolicy.ACCUMULATE: Rule("pool"),
    DataPolicy.ACCUMULATE_SUBSAMPLE: Rule("pool", subsample=True),
    DataPolicy.REPLACE_MULTIPLE: Rule("newest", sample_multiple=True),
}
"""The rule of every implemented policy; :func:`rule` is the only reader."""


def rule(policy: DataPolicy | str, where: str = "collapse_utils.policies") -> Rule:
    """The :class:`Rule` of ``policy``; :class:`PolicyNotImplementedError` (naming ``where``) if it has none."""
    policy = DataPolicy.parse(policy)
    if policy not in RULES:
        raise PolicyNotImplementedError(policy, where)
    return RULES[policy]


@validate(iteration=Int(1), n_real=Int(1))
def samples_to_draw(policy: DataPolicy | str, iteration: int, n_real: int) -> int:
    """How many samples model ``iteration`` draws for the training set of iteration ``iteration + 1``."""
    return (iteration + 1) * n_real if rule(policy).sample_multiple else n_real


def training_rows(policy: DataPolicy | str, chunk_sizes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """The rows of each pool chunk (real first) that train the model of iteration ``len(chunk_sizes)``.

    Parameters
    ----------
    policy
        A :class:`DataPolicy` or its name.
    chunk_sizes
        Rows in each chunk, ``chunk_sizes[0]`` being the real data (each >= 1).
    rng
        Draws accumulate-subsample's rows (unused by the other policies).

    Returns
    -------
    list of numpy.ndarray
        One sorted integer index array per chunk.
    """
    how = rule(policy)
    sizes = [Int(1)(f"chunk_sizes[{k}]", s) for k, s in enumerate(chunk_sizes)]
    if not sizes:
        raise ValueError("chunk_sizes must hold at least the real chunk, got an empty sequence")
    if how.trains_on == "newest":
        chosen = [np.arange(0) for _ in sizes[:-1]] + [np.arange(sizes[-1])]
    else:
        chosen = [np.arange(s) for s in sizes]
    if how.subsample and len(sizes) > 1:
        total = sum(len(c) for c in chosen)
        picked = np.sort(rng.choice(total, size=sizes[0], replace=False))
        edges = np.cumsum([0, *(len(c) for c in chosen)])
        chosen = [c[picked[(picked >= lo) & (picked < hi)] - lo] for c, (lo, hi) in zip(chosen, pairwise(edges),
                                                                                          strict=True)]
    return chosen


def assemble(chunks: Sequence, rows: Sequence[np.ndarray]):
    """Gather ``rows`` (from :func:`training_rows`) out of ``chunks`` and concatenate them.

    Works for numpy arrays, torch tensors (joined with ``torch.cat``) and Python lists (of stories, molecules, ...).
    """
    if len(chunks) != len(rows):
        raise ValueError(f"chunks and rows must have the same length, got {len(chunks)} and {len(rows)}")
    if isinstance(chunks[0], list):
        out = [chunk[int(k)] for chunk, idx in zip(chunks, rows, strict=True) for k in idx]
    else:
        out = [chunk[idx] for chunk, idx in zip(chunks, rows, strict=True) if len(idx)]
    if not out:
        raise ValueError("rows select no row at all; a training set needs at least one row")
    if isinstance(chunks[0], list):
        return out
    if type(out[0]).__module__.startswith("torch"):  # torch tensors: torch is loaded already, no import here
        return sys.modules["torch"].cat(out)
    return np.concatenate(out)
