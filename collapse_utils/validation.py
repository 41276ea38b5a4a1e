"""Input checks shared by the simulators and the loop: each error names the parameter, the value and the allowed range.

(``theory/`` keeps its own checks: it imports nothing else of the package, so its formulas stand alone.)
"""

from __future__ import annotations

import numpy as np


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int, or a ValueError if it is not an integer >= ``low`` (booleans are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_nonneg(name: str, value) -> float:
    """``value`` as a float, or a ValueError if it is not a finite number >= 0."""
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def int_grid(name: str, values, low: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of distinct integers >= ``low``, or a ValueError."""
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or arr.min() < low:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of integers >= {low}, got {values!r}")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"{name} must not repeat values, got {values!r}")
    return arr.astype(np.int64)
