"""The input contract of the package's public API, tested once for all entry points.

Every function, method and dataclass that declares its inputs with ``@validate`` is found by walking the package.
For each constrained parameter, the other parameters get valid values and this one gets values its constraint must
reject (wrong type, a bool, NaN, inf, out of range, wrong shape, empty, repeated); the call must raise a ValueError
that starts with the parameter's name (``"<name> must be <allowed>, got <value>"``). The checks that relate several
parameters live in the function bodies (``fail``); each has one case in ``RULES``, and a last test makes sure that
every ``fail`` call of the modules listed in ``OWNED`` is reached by one of them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import os
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest

import collapse_utils
from collapse_utils import validation as v

# ---------------------------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------------------------


def _modules():
    out = []
    for info in pkgutil.walk_packages(collapse_utils.__path__, "collapse_utils."):
        try:
            out.append(importlib.import_module(info.name))
        except ImportError:  # an optional dependency (torch, rdkit) is missing: its modules are not tested here
            continue
    return out


MODULES = _modules()


def _entry_points() -> dict[str, tuple]:
    """``{qualified name: (callable, leading positional arguments)}`` of everything that carries ``.constraints``."""
    found = {}
    for module in MODULES:
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__ or name.startswith("_"):
                continue
            if hasattr(obj, "constraints"):
                found[f"{module.__name__}.{name}"] = (obj, ())
            if isinstance(obj, type):
                for attr, member in vars(obj).items():
                    if isinstance(member, (classmethod, staticmethod)):
                        lead = (None,) if isinstance(member, classmethod) else ()
                        member = member.__func__
                    else:
                        lead = (None,)  # self: never reached, the bad argument is refused first
                    if callable(member) and hasattr(member, "constraints") and attr != "__init__":
                        found[f"{module.__name__}.{name}.{attr}"] = (member, lead)
    return found


ENTRY_POINTS = _entry_points()


def _inside(c) -> float:
    """A value inside the interval of a Real or RealArray."""
    lo, hi = c.low, c.high
    if math.isfinite(lo) and math.isfinite(hi):
        return (lo + hi) / 2
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.5


def valid(c):
    """A value that constraint ``c`` accepts."""
    if isinstance(c, v.Int):
        return c.low if c.low is not None else (c.high if c.high is not None else 0)
    if isinstance(c, v.Real):
        return _inside(c)
    if isinstance(c, v.RealArray):
        x = _inside(c)
        return [[x]] if c.square or c.ndim == 2 else [x] if c.ndim == 1 else x
    if isinstance(c, v.IntArray):
        x = c.low or 0
        return {None: x, 1: [x], 2: [[x]]}[c.ndim]
    if isinstance(c, v.OneOf):
        return c.values[0]
    if isinstance(c, v.Instance):
        cls = c.cls[0] if isinstance(c.cls, tuple) else c.cls
        if issubclass(cls, np.random.Generator):
            return np.random.default_rng(0)
        if cls is str:
            return "x"
        return cls.__new__(cls)
    if isinstance(c, v.Strings):
        return ["a"]
    if isinstance(c, v.Optional):
        return None
    raise NotImplementedError(f"no valid example for {c!r}: teach test_contracts.valid this constraint")


def invalid(c) -> list:
    """Values that constraint ``c`` must refuse: a wrong type, a bool, non-finite values, the edges of its range."""
    if isinstance(c, v.Int):
        bad = ["1", True, 1.5, None, [1]]
        bad += [] if c.low is None else [c.low - 1]
        bad += [] if c.high is None else [c.high + 1]
        return bad
    if isinstance(c, (v.Real, v.RealArray)):
        bad = ["1", True, math.nan, None]
        if isinstance(c, v.Real) or c.finite:
            bad.append(math.inf)
        if math.isfinite(c.low):
            bad.append(c.low if c.low_open else c.low - 1.0)
        if math.isfinite(c.high):
            bad.append(c.high if c.high_open else c.high + 1.0)
        if isinstance(c, v.RealArray):
            bad = [b if b is None or isinstance(b, str) else _shaped(c, b) for b in bad]
            bad.append([[True]] if c.ndim == 2 or c.square else [True])
            if c.ndim is not None and not c.square:
                bad.append(np.full((1,) * (c.ndim + 1), _inside(c)))
            if c.nonempty and (c.ndim or c.square):
                bad.append(np.zeros((0,) * (2 if c.square else c.ndim)))
            if c.square:
                bad.append(np.full((1, 2), _inside(c)))
        return bad
    if isinstance(c, v.IntArray):
        x = c.low or 0
        bad = ["x", _shaped(c, True), _shaped(c, x + 0.5), None]
        bad += [] if c.low is None else [_shaped(c, c.low - 1)]
        bad += [[x, x]] if c.distinct else []
        bad += [np.zeros((0,) * (c.ndim or 1), dtype=int)] if c.nonempty else []
        bad += [] if c.ndim is None else [np.full((1,) * (c.ndim + 1), x)]
        return bad
    if isinstance(c, v.OneOf):
        return [b for b in ("no-such-option", 3.5, ["list"]) if b not in c.values]
    if isinstance(c, v.Instance):
        return [object(), 0]
    if isinstance(c, v.Strings):
        return ["a single str", ["a", 3], None] + ([[]] if c.nonempty else [])
    if isinstance(c, v.Optional):
        return [b for b in invalid(c.constraint) if b is not None]
    raise NotImplementedError(f"no invalid examples for {c!r}: teach test_contracts.invalid this constraint")


def _shaped(c, x):
    ndim = 2 if getattr(c, "square", False) else c.ndim
    return {None: x, 1: [x], 2: [[x]]}[ndim]


def _call(func, lead, constraints, name, value):
    params = [p for p in inspect.signature(func).parameters.values() if p.kind not in (p.VAR_POSITIONAL,
                                                                                       p.VAR_KEYWORD)]
    kwargs = {}
    for p in params[len(lead):]:
        if p.name == name:
            kwargs[p.name] = value
        elif p.name in constraints:
            kwargs[p.name] = valid(constraints[p.name])
        else:
            kwargs[p.name] = None if p.default is p.empty else p.default
    return func(*lead, **kwargs)


CASES = [(qualname, param) for qualname, (obj, _) in sorted(ENTRY_POINTS.items()) for param in obj.constraints]
CASE_IDS = [f"{qualname.removeprefix('collapse_utils.')}:{param}" for qualname, param in CASES]


# ---------------------------------------------------------------------------------------------------------------
# every constrained parameter of every entry point
# ---------------------------------------------------------------------------------------------------------------


def test_discovery_finds_the_public_api():
    expected = {"collapse_utils.theory.ridge.kappa", "collapse_utils.theory.ridge.collapse_test_error",
                "collapse_utils.theory.linear.replace_test_error", "collapse_utils.sim.linear.simulate_linear_chains"}
    assert expected <= set(ENTRY_POINTS)
    assert len(CASES) >= 2 * len(ENTRY_POINTS)


@pytest.mark.parametrize(("qualname", "param"), CASES, ids=CASE_IDS)
def test_constrained_parameter_refuses_bad_values_naming_itself(qualname, param):
    func, lead = ENTRY_POINTS[qualname]
    constraint = func.constraints[param]
    for bad in invalid(constraint):
        with pytest.raises(ValueError, match=rf"^{re.escape(param)} must be ") as info:
            _call(func, lead, func.constraints, param, bad)
        assert "got" in str(info.value), (param, bad)


def test_the_valid_stand_ins_pass_their_constraints():
    """The valid values given to the other parameters really pass (else the test above could pass for them)."""
    for qualname, param in CASES:
        constraint = ENTRY_POINTS[qualname][0].constraints[param]
        constraint(param, valid(constraint))


# ---------------------------------------------------------------------------------------------------------------
# the checks that relate several parameters (fail in a function body): one case each
# ---------------------------------------------------------------------------------------------------------------

OWNED = ["collapse_utils.theory.ridge", "collapse_utils.theory.scaling"]
"""Modules whose every ``fail`` call must be reached by a case of ``RULES``."""

D = 300
POWER = np.arange(1, D + 1, dtype=float) ** -2.0
W0 = np.full(D, 1.0 / D)


def _rules() -> dict[str, tuple]:
    from collapse_utils.theory import ridge as rt
    from collapse_utils.theory import scaling

    return {
        "ridge_bias: w0_sq has the shape of eigs": (
            lambda: rt.ridge_bias(0.1, 100, POWER, np.ones(299)), r"^w0_sq must be of the shape of eigs, \(300,\)"),
        "collapse_terms: w0_sq has the shape of eigs": (
            lambda: rt.collapse_terms(0.1, 100, 1, 600, POWER, np.ones((300, 1)), 1.0, 1.0), r"^w0_sq must be of"),
        "collapse_terms: T0 > d": (
            lambda: rt.collapse_test_error(0.1, 100, 1, 300, POWER, W0, 1.0, 1.0), r"^T0 must be > d = 300"),
        "rho_eq19: T0 > d": (lambda: rt.rho_eq19(0.1, 100, 299, POWER), r"^T0 must be > d = 300 .*rho_eq18"),
        "ols_collapse_error: T, T0 >= d + 2": (
            lambda: rt.ols_collapse_error(1, 300, 1000, 301, 1.0, 1.0), r"^T0 must be >= d \+ 2 = 302 .*got 301$"),
        "null_predictor_crossover: T >= d + 2": (
            lambda: rt.null_predictor_crossover(5, 6, 10, 1.0, 1.0, 1.0), r"^T must be >= d \+ 2 = 7 .*got 6$"),
        "Exponents.ell_star: b > a": (lambda: scaling.exponents(2.0, 0.375).ell_star(0.5, 0.5), r"^b must be > a"),
        "theorem51_rate: ell < beta": (lambda: scaling.theorem51_rate(10.0, 2.5, 2.0, 0.375), r"^ell must be < beta"),
        "theorem51_rate: T0 > d for the collapse term": (
            lambda: scaling.theorem51_rate(10.0, 0.8, 2.0, 0.375, n=1, T0=200, d=300), r"^T0 must be given with d"),
        "loglog_slope: two points": (lambda: scaling.loglog_slope([1.0], [1.0]), r"^x must be at least 2 points"),
        "loglog_slope: y has the shape of x": (lambda: scaling.loglog_slope([1.0, 2.0], [1.0]), r"^y must be of"),
    }


RULES = _rules()


def _fail_site(info) -> tuple[str, int]:
    """File and line of the ``fail(...)`` call that raised (the frame just above the layer's ``fail``)."""
    tb, caller = info.tb, None
    while tb is not None:
        if tb.tb_frame.f_code is v.fail.__code__:
            return caller
        caller = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    raise AssertionError("the error was not raised through validation.fail")


@pytest.mark.parametrize("rule", RULES)
def test_cross_parameter_rule(rule):
    call, message = RULES[rule]
    with pytest.raises(ValueError, match=message) as info:
        call()
    _fail_site(info)


def _fail_calls(module) -> set[tuple[str, int, int]]:
    path = inspect.getsourcefile(module)
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    return {(os.path.realpath(path), node.lineno, node.end_lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "fail"}


def test_every_rule_of_the_owned_modules_has_a_case():
    reached = set()
    for call, message in RULES.values():
        with pytest.raises(ValueError, match=message) as info:
            call()
        path, line = _fail_site(info)
        reached.add((os.path.realpath(path), line))
    missing = []
    for name in OWNED:
        for path, start, end in _fail_calls(importlib.import_module(name)):
            if not any(p == path and start <= line <= end for p, line in reached):
                missing.append(f"{name} line {start}")
    assert not missing, f"fail(...) calls without a case in RULES: {missing}"
