"""One validation layer for the public entry points of the package (numpy only, so ``theory/`` may use it too).

Checks are declared, not written out: a public function states the allowed values of its parameters with the
:func:`validate` decorator, and internal functions trust their callers (the idea of scikit-learn's
``_param_validation``, hand-sized)::

    @validate(d=Int(1), T=Int(1), sigma2=Real(0))
    def replace_test_error(iteration, d, T, sigma2): ...

A failed check raises ``ValueError`` naming the parameter, the allowed range and the value it got, e.g.
``"sigma2 must be a finite number >= 0, got -1.0"``. Each constraint also converts the value it accepts (an ``Int``
gives a Python ``int``, an ``IntArray`` an ``int64`` array), and the function receives the converted values.
``@validate`` on a dataclass checks its fields the same way when an instance is made. Checks that relate several
parameters (``T >= d + 2``) stay in the function body, with :func:`fail`. The decorated function (or class) keeps its
constraints in ``.constraints``; ``tests/unit/test_contracts.py`` feeds every one of them values it must reject.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def fail(name: str, allowed: str, value: Any) -> None:
    """Raise the layer's ``ValueError``: ``"<name> must be <allowed>, got <value>"``."""
    raise ValueError(f"{name} must be {allowed}, got {_show(value)}")


def _show(value: Any) -> str:
    """A short repr for messages: matrices by their shape, long reprs cut at 80 characters."""
    if isinstance(value, np.ndarray) and value.ndim >= 2:
        return f"an array of shape {value.shape}"
    with np.printoptions(threshold=8, edgeitems=3):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if high == math.inf:
        return f"> {_num(low)}" if low_open else f">= {_num(low)}"
    if low == -math.inf:
        return f"< {_num(high)}" if high_open else f"<= {_num(high)}"
    return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


def _inside(x, low, high, low_open, high_open) -> bool:
    return bool(np.all(x > low if low_open else x >= low) and np.all(x < high if high_open else x <= high))


@dataclass(frozen=True)
class Int:
    """An integer (Python or numpy, never a bool) in ``[low, high]``; converted to ``int``."""

    low: int | None = None
    high: int | None = None

    @property
    def allowed(self) -> str:
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        return f"an integer {_interval(lo, hi, False, False)}" if (lo, hi) != (-math.inf, math.inf) else "an integer"

    def __call__(self, name: str, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            fail(name, self.allowed, value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            fail(name, self.allowed, value)
        return int(value)


@dataclass(frozen=True)
class Real:
    """A finite real number (not a bool) in an interval (closed by default); converted to ``float``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    @property
    def allowed(self) -> str:
        if (self.low, self.high) == (-math.inf, math.inf):
            return "a finite number"
        return f"a finite number {_interval(self.low, self.high, self.low_open, self.high_open)}"

    def __call__(self, name: str, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            fail(name, self.allowed, value)
        if not math.isfinite(value) or not _inside(value, self.low, self.high, self.low_open, self.high_open):
            fail(name, self.allowed, value)
        return float(value)


@dataclass(frozen=True)
class RealArray:
    """A numeric array (no bools, no strings, no NaN) in an interval; converted to float64.

    ``ndim`` fixes the number of dimensions (``None``: any, a scalar included); ``nonempty`` (with ``ndim`` set)
    refuses an empty array; ``square`` asks for a square matrix; ``finite=False`` lets ``inf`` pass.
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    ndim: int | None = None
    nonempty: bool = True
    finite: bool = True
    square: bool = False

    @property
    def allowed(self) -> str:
        shapes = {None: "a number or array", 0: "a number", 1: "a 1-D array", 2: "a 2-D array"}
        shape = "a square matrix" if self.square else shapes.get(self.ndim, "an array")
        rng = "" if (self.low, self.high) == (-math.inf, math.inf) else \
            " " + _interval(self.low, self.high, self.low_open, self.high_open)
        nonempty = " (non-empty)" if self.nonempty and (self.ndim or self.square) else ""
        return f"{shape}{nonempty} of {'finite ' if self.finite else ''}numbers{rng}"

    def __call__(self, name: str, value):
        try:
            raw = np.asarray(value)
        except ValueError:  # ragged nested sequences
            fail(name, self.allowed, value)
        if raw.dtype.kind not in "iuf" or (self.ndim is not None and raw.ndim != self.ndim):
            fail(name, self.allowed, value)
        if self.square and (raw.ndim != 2 or raw.shape[0] != raw.shape[1]):
            fail(name, self.allowed, value)
        arr = raw.astype(float, copy=False)
        if (self.nonempty and (self.ndim or self.square) and arr.size == 0) or np.any(np.isnan(arr)):
            fail(name, self.allowed, value)
        if (self.finite and not np.all(np.isfinite(arr))) or \
                (arr.size and not _inside(arr, self.low, self.high, self.low_open, self.high_open)):
            fail(name, self.allowed, value)
        return arr


@dataclass(frozen=True)
class IntArray:
    """An array of integers ``>= low`` (optionally distinct); converted to ``int64``.

    ``ndim`` fixes the number of dimensions (``None``: any, a scalar included; ``1`` also turns a scalar into a
    1-element array); ``nonempty`` refuses an empty array. Whole-number floats (``3.0``) are accepted, as grids often
    come from ``np.logspace(...).round()``.
    """

    low: int | None = None
    distinct: bool = False
    ndim: int | None = 1
    nonempty: bool = True

    @property
    def allowed(self) -> str:
        rng = "" if self.low is None else f" >= {self.low}"
        shape = {None: "", 1: "1-D ", 2: "2-D "}.get(self.ndim, "")
        return f"a {'non-empty ' if self.nonempty else ''}{shape}sequence of{' distinct' if self.distinct else ''} " \
               f"integers{rng}"

    def __call__(self, name: str, value):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested sequences
            fail(name, self.allowed, value)
        if self.ndim == 1:
            arr = np.atleast_1d(arr)
        if arr.dtype == bool or (self.nonempty and arr.size == 0) or (self.ndim is not None and arr.ndim != self.ndim):
            fail(name, self.allowed, value)
        if not np.issubdtype(arr.dtype, np.integer):
            whole = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
            if not whole:
                fail(name, self.allowed, value)
        arr = arr.astype(np.int64)
        if arr.size and ((self.low is not None and arr.min() < self.low)
                         or (self.distinct and len(np.unique(arr)) != arr.size)):
            fail(name, self.allowed, value)
        return arr


def _fold(value):
    return value.strip().lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values; strings match after ``strip().lower()`` and convert to the listed spelling."""

    values: tuple

    def __init__(self, *values):
        object.__setattr__(self, "values", tuple(values))

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def __call__(self, name: str, value):
        key = _fold(value)
        for option in self.values:
            try:
                same = isinstance(option, bool) == isinstance(key, bool) and bool(_fold(option) == key)
            except (TypeError, ValueError):  # an array compared element-wise
                same = False
            if same:
                return option
        fail(name, self.allowed, value)


@dataclass(frozen=True)
class Instance:
    """An instance of ``cls`` (returned unchanged)."""

    cls: type | tuple

    @property
    def allowed(self) -> str:
        classes = self.cls if isinstance(self.cls, tuple) else (self.cls,)
        return "a " + " or ".join(c.__name__ for c in classes)

    def __call__(self, name: str, value):
        if not isinstance(value, self.cls):
            fail(name, self.allowed, value)
        return value


@dataclass(frozen=True)
class Strings:
    """A sequence of ``str`` (a list, a tuple, ...; a single ``str`` is refused), non-empty by default; a list."""

    nonempty: bool = True

    @property
    def allowed(self) -> str:
        return f"a {'non-empty ' if self.nonempty else ''}sequence of str (not a single str)"

    def __call__(self, name: str, value):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            fail(name, self.allowed, value)
        items = list(value)
        if (self.nonempty and not items) or not all(isinstance(s, str) for s in items):
            fail(name, self.allowed, value)
        return items


@dataclass(frozen=True)
class Optional:
    """``None`` or a value that passes ``constraint``."""

    constraint: Callable

    @property
    def allowed(self) -> str:
        return f"None or {self.constraint.allowed}"

    def __call__(self, name: str, value):
        if value is None:
            return None
        try:
            return self.constraint(name, value)
        except ValueError:
            fail(name, self.allowed, value)


Constraint = Callable[[str, Any], Any]


def validate(**constraints: Constraint):
    """Decorate a public function or dataclass: check (and convert) the named arguments before the call.

    Every name must be a parameter of the function (a field of the dataclass); parameters without a constraint pass
    unchanged. On a dataclass, put ``@validate`` above ``@dataclass``: the fields are checked before
    ``__post_init__`` runs, so ``__post_init__`` holds only the checks that relate several fields.
    """

    def decorator(obj):
        if isinstance(obj, type):
            obj.__init__ = decorator(obj.__init__)
            obj.constraints = dict(constraints)
            return obj
        sig = inspect.signature(obj)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"validate: {obj.__qualname__} has no parameter(s) {sorted(unknown)}")
        params = list(sig.parameters.values())
        # where each constrained argument arrives: its position (if it may come positionally) and its name
        position = {p.name: i for i, p in enumerate(params) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)}
        slots = [(name, constraint, position.get(name)) for name, constraint in constraints.items()]
        starred = [p.name for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name in constraints]
        if starred:
            raise TypeError(f"validate: {obj.__qualname__} cannot check *{starred[0]} or **{starred[0]} parameters")

        @functools.wraps(obj)
        def wrapper(*args, **kwargs):
            args = list(args)
            for name, constraint, i in slots:
                if i is not None and i < len(args):
                    args[i] = constraint(name, args[i])
                elif name in kwargs:
                    kwargs[name] = constraint(name, kwargs[name])
            return obj(*args, **kwargs)  # missing or doubled arguments: Python's TypeError, as without checks

        wrapper.constraints = dict(constraints)
        return wrapper

    return decorator


def check_fields(obj, **constraints: Constraint) -> None:
    """Validate the fields of a frozen dataclass in ``__post_init__`` (converted values are written back)."""
    for name, constraint in constraints.items():
        object.__setattr__(obj, name, constraint(name, getattr(obj, name)))


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int, or the layer's error if it is not an integer >= ``low``."""
    return Int(low)(name, value)


def check_nonneg(name: str, value) -> float:
    """``value`` as a float, or the layer's error if it is not a finite number >= 0."""
    return Real(0)(name, value)


def int_grid(name: str, values, low: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of distinct integers >= ``low``, or the layer's error."""
    return IntArray(low, distinct=True)(name, values)


__all__ = ["Instance", "Int", "IntArray", "OneOf", "Optional", "Real", "RealArray", "Strings", "check_fields",
           "check_int", "check_nonneg", "fail", "int_grid", "validate"]
