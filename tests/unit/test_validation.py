"""The validation layer (collapse_utils.validation): every constraint once, what it accepts, converts and refuses.

The package's use of the layer (every constrained parameter of every public entry point) is tested in
``test_contracts.py``; here each constraint is tested on its own, and the decorator on a function and a dataclass.
"""

from __future__ import annotations

import math
import re
from dataclasses import FrozenInstanceError, dataclass

import numpy as np
import pytest

from collapse_utils.validation import (
    Instance,
    Int,
    IntArray,
    OneOf,
    Optional,
    Real,
    RealArray,
    Strings,
    check_fields,
    check_int,
    check_nonneg,
    fail,
    int_grid,
    validate,
)


def refuses(constraint, value, message: str | None = None) -> str:
    """The error ``constraint`` raises for ``value`` under the name ``x``; it must start with ``x must be``."""
    with pytest.raises(ValueError, match=r"^x must be ") as info:
        constraint("x", value)
    if message is not None:
        assert str(info.value) == message
    return str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# fail
# ---------------------------------------------------------------------------------------------------------------


def test_fail_names_the_parameter_the_rule_and_a_short_value():
    with pytest.raises(ValueError, match=r"^T must be >= d \+ 2, got 3$"):
        fail("T", ">= d + 2", 3)
    with pytest.raises(ValueError, match=r"^K must be square, got an array of shape \(2, 3\)$"):
        fail("K", "square", np.zeros((2, 3)))
    with pytest.raises(ValueError) as info:
        fail("texts", "short", "a" * 500)
    assert len(str(info.value)) < 120 and str(info.value).endswith("...")
    with pytest.raises(ValueError, match=r"got array\(\[0\., 0\., 0\., \.\.\., 0\., 0\., 0\.\]"):
        fail("v", "short", np.zeros(1000))


# ---------------------------------------------------------------------------------------------------------------
# Int and Real
# ---------------------------------------------------------------------------------------------------------------


def test_int_accepts_python_and_numpy_integers_in_range_and_returns_int():
    assert Int(1)("x", np.int64(3)) == 3 and type(Int(1)("x", np.int64(3))) is int
    assert Int(0, 2)("x", 0) == 0 and Int(0, 2)("x", 2) == 2
    assert Int()("x", -10**20) == -10**20


@pytest.mark.parametrize("value", [0, 3, 1.0, 2.5, True, np.bool_(True), "1", None, [1], np.array([1])])
def test_int_refuses_out_of_range_non_integers_and_bools(value):
    refuses(Int(1, 2), value)


def test_int_messages():
    assert refuses(Int(1), 0) == "x must be an integer >= 1, got 0"
    assert refuses(Int(None, 5), 6) == "x must be an integer <= 5, got 6"
    assert refuses(Int(0, 5), True) == "x must be an integer in [0, 5], got True"
    assert refuses(Int(), 1.5) == "x must be an integer, got 1.5"


def test_real_accepts_ints_floats_and_numpy_numbers_and_returns_float():
    for value in (1, 1.5, np.float32(1.5), np.int8(2)):
        out = Real(0)("x", value)
        assert type(out) is float and out == float(value)


@pytest.mark.parametrize(
    ("constraint", "value"),
    [(Real(0), -1e-300), (Real(0, low_open=True), 0.0), (Real(0, 1, high_open=True), 1.0), (Real(0, 1), 1.0001),
     (Real(), math.nan), (Real(), math.inf), (Real(), -math.inf), (Real(), True), (Real(), "1.0"), (Real(), None),
     (Real(), [1.0]), (Real(), np.array(1.0)), (Real(), 1 + 0j)],
)
def test_real_refuses_out_of_range_non_finite_and_non_numbers(constraint, value):
    refuses(constraint, value)


def test_real_messages():
    assert refuses(Real(0), -1.0) == "x must be a finite number >= 0, got -1.0"
    assert refuses(Real(0, low_open=True), 0) == "x must be a finite number > 0, got 0"
    assert refuses(Real(0, 1, True, True), 1) == "x must be a finite number in (0, 1), got 1"
    assert refuses(Real(high=2, high_open=True), 2) == "x must be a finite number < 2, got 2"
    assert refuses(Real(), math.nan) == "x must be a finite number, got nan"


# ---------------------------------------------------------------------------------------------------------------
# RealArray and IntArray
# ---------------------------------------------------------------------------------------------------------------


def test_real_array_converts_to_float64_of_the_same_shape():
    out = RealArray(0)("x", [[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert RealArray(0)("x", 2).shape == ()  # ndim=None: a scalar is a 0-d array
    assert RealArray(0)("x", []).shape == (0,)  # ndim=None: empty allowed
    a = np.ones(3)
    assert RealArray()("x", a) is a  # no copy of a float64 array


@pytest.mark.parametrize(
    ("constraint", "value"),
    [(RealArray(), "0.1"), (RealArray(), ["a"]), (RealArray(), [True, False]), (RealArray(), [1.0, None]),
     (RealArray(), [[1.0], [1.0, 2.0]]), (RealArray(), [1.0, np.nan]), (RealArray(), [np.inf]),
     (RealArray(0), [0.1, -0.2]), (RealArray(0, low_open=True), [0.0]), (RealArray(0, 1, high_open=True), [1.0]),
     (RealArray(ndim=1), 1.0), (RealArray(ndim=1), [[1.0]]), (RealArray(ndim=1), []), (RealArray(ndim=2), [1.0]),
     (RealArray(square=True), np.ones((2, 3))), (RealArray(square=True), np.ones(4)),
     (RealArray(square=True), np.ones((0, 0))), (RealArray(finite=False), [np.nan])],
)
def test_real_array_refuses(constraint, value):
    refuses(constraint, value)


def test_real_array_options_and_messages():
    assert RealArray(0, finite=False)("x", [0.0, np.inf])[1] == np.inf
    assert RealArray(ndim=1, nonempty=False)("x", []).shape == (0,)
    assert RealArray(square=True)("x", np.eye(2)).shape == (2, 2)
    assert refuses(RealArray(0), [-1.0]) == "x must be a number or array of finite numbers >= 0, got [-1.0]"
    assert refuses(RealArray(ndim=1), []) == "x must be a 1-D array (non-empty) of finite numbers, got []"
    assert refuses(RealArray(0, ndim=2), np.ones(3)).startswith("x must be a 2-D array (non-empty) of finite numbers")
    assert refuses(RealArray(square=True), np.ones((2, 3))) == \
        "x must be a square matrix (non-empty) of finite numbers, got an array of shape (2, 3)"
    assert refuses(RealArray(0, finite=False), -1.0) == "x must be a number or array of numbers >= 0, got -1.0"


def test_int_array_converts_to_int64_and_accepts_whole_floats():
    out = IntArray(0)("x", [3.0, 1, np.int8(2)])
    assert out.dtype == np.int64 and out.tolist() == [3, 1, 2]
    assert IntArray(1)("x", 5).shape == (1,)  # ndim=1 turns a scalar into one element
    assert IntArray(0, ndim=None)("x", 5).shape == ()
    assert IntArray(0, ndim=None)("x", [[1], [2]]).shape == (2, 1)
    assert IntArray(0, ndim=2, nonempty=False)("x", np.zeros((0, 4))).shape == (0, 4)


@pytest.mark.parametrize(
    ("constraint", "value"),
    [(IntArray(0), [1.5]), (IntArray(0), [True]), (IntArray(0), "3"), (IntArray(0), [None]), (IntArray(0), []),
     (IntArray(0), [[1], [2, 3]]), (IntArray(0), [np.nan]), (IntArray(0), [np.inf]), (IntArray(1), [0, 2]),
     (IntArray(0, distinct=True), [1, 2, 1]), (IntArray(0), [[1, 2]]), (IntArray(0, ndim=2), [1, 2]),
     (IntArray(0, ndim=None), [])],
)
def test_int_array_refuses(constraint, value):
    refuses(constraint, value)


def test_int_array_messages():
    assert refuses(IntArray(1, distinct=True), [2, 2]) == \
        "x must be a non-empty 1-D sequence of distinct integers >= 1, got [2, 2]"
    assert refuses(IntArray(0, ndim=None), -1) == "x must be a non-empty sequence of integers >= 0, got -1"


# ---------------------------------------------------------------------------------------------------------------
# OneOf, Instance, Strings, Optional
# ---------------------------------------------------------------------------------------------------------------


def test_one_of_normalizes_strings_and_refuses_the_rest():
    c = OneOf("replace", "accumulate", None)
    assert c("x", " Replace ") == "replace" and c("x", None) is None
    assert OneOf("MMFF94", "MMFF94s")("x", "mmff94S") == "MMFF94s"  # the listed spelling
    assert OneOf(1, 2)("x", np.int64(2)) == 2
    refuses(OneOf(1, 2), True)  # True == 1, but a bool is not an option
    assert refuses(c, "keep") == "x must be one of 'replace', 'accumulate', None, got 'keep'"
    refuses(c, ["replace"])  # unhashable
    refuses(c, 3)


def test_instance_returns_the_object_and_names_the_classes():
    rng = np.random.default_rng(0)
    assert Instance(np.random.Generator)("x", rng) is rng
    assert refuses(Instance(np.random.Generator), 0) == "x must be a Generator, got 0"
    assert refuses(Instance((str, bytes)), 1) == "x must be a str or bytes, got 1"


def test_strings_gives_a_list_and_refuses_a_single_str_or_other_items():
    assert Strings()("x", ("a", "b")) == ["a", "b"]
    assert Strings()("x", (s for s in ["a"])) == ["a"]  # any iterable, read once
    assert Strings(nonempty=False)("x", []) == []
    assert refuses(Strings(), "ab") == "x must be a non-empty sequence of str (not a single str), got 'ab'"
    for bad in ([], ["a", 3], 3, None, b"ab"):
        refuses(Strings(), bad)


def test_optional_passes_none_and_names_it_in_the_message():
    assert Optional(Int(1))("x", None) is None and Optional(Int(1))("x", 2) == 2
    assert refuses(Optional(Int(1)), 0) == "x must be None or an integer >= 1, got 0"


# ---------------------------------------------------------------------------------------------------------------
# validate, check_fields and the helpers
# ---------------------------------------------------------------------------------------------------------------


@validate(n=Int(1), scale=Real(0))
def _scaled(n, scale=1.0, tag=None):
    return n * scale, type(n), type(scale), tag


def test_validate_checks_and_converts_positional_keyword_and_default_arguments():
    assert _scaled(np.int64(2), np.float32(0.5)) == (1.0, int, float, None)
    assert _scaled(n=3, tag="t") == (3.0, int, float, "t")  # the default is not checked: it passes unchanged
    assert _scaled.constraints == {"n": Int(1), "scale": Real(0)}
    assert _scaled.__name__ == "_scaled"
    with pytest.raises(ValueError, match=r"^scale must be a finite number >= 0, got -1$"):
        _scaled(1, -1)
    with pytest.raises(TypeError):  # a missing argument stays Python's error
        _scaled()


def test_validate_refuses_a_constraint_on_an_unknown_or_starred_parameter():
    with pytest.raises(TypeError, match=re.escape("has no parameter(s) ['m']")):
        validate(m=Int(1))(lambda n: n)
    with pytest.raises(TypeError, match="cannot check"):
        validate(rest=Int(1))(lambda n, *rest: n)


def test_validate_finds_arguments_before_varargs_and_among_keywords():
    @validate(seed=Int(0), scale=Real(0))
    def seeded(seed, *key, scale=1.0, **extra):
        return seed, key, scale, extra

    assert seeded(np.int64(3), 1, 2, scale=2, tag="t") == (3, (1, 2), 2.0, {"tag": "t"})
    with pytest.raises(ValueError, match=r"^seed must be an integer >= 0, got -1$"):
        seeded(-1, 5)
    with pytest.raises(ValueError, match=r"^scale must be"):
        seeded(0, scale=-1)


@validate(size=Int(1), rate=Real(0, 1))
@dataclass(frozen=True)
class _Recipe:
    size: int
    rate: float = 0.5

    def __post_init__(self):  # runs on checked fields only
        if self.size * self.rate > 10:
            fail("rate", f"<= 10 / size = {10 / self.size:g}", self.rate)


def test_validate_on_a_dataclass_checks_fields_before_post_init_and_keeps_it_frozen():
    r = _Recipe(np.int64(4))
    assert r.size == 4 and type(r.size) is int and r.rate == 0.5
    assert _Recipe.constraints == {"size": Int(1), "rate": Real(0, 1)}
    with pytest.raises(ValueError, match=r"^size must be an integer >= 1, got 'big'$"):
        _Recipe("big")  # would be a TypeError in __post_init__ without the field check
    with pytest.raises(ValueError, match=r"^rate must be <= 10 / size = 0\.5, got 1\.0$"):
        _Recipe(20, 1.0)
    with pytest.raises(FrozenInstanceError):
        r.size = 2  # type: ignore[misc]


def test_check_fields_writes_converted_values_back():
    @dataclass(frozen=True)
    class Sizes:
        n: int

        def __post_init__(self):
            check_fields(self, n=Int(1))

    assert type(Sizes(np.int32(3)).n) is int
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got 0$"):
        Sizes(0)


def test_helpers_are_the_constraints():
    assert check_int("n", np.int64(3), 1) == 3
    assert check_nonneg("s", 2) == 2.0
    assert int_grid("Ts", [3, 1], 1).tolist() == [3, 1]
    with pytest.raises(ValueError, match=r"^Ts must be a non-empty 1-D sequence of distinct integers >= 1"):
        int_grid("Ts", [1, 1], 1)
