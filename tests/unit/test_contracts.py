"""The input contract of the package's public API, tested once for all entry points.

Every function, method and dataclass that declares its inputs with ``@validate`` is found by walking the package.
For each constrained parameter, the other parameters get valid values and this one gets values its constraint must
reject (wrong type, a bool, NaN, inf, out of range, wrong shape, empty, repeated); the call must raise a ValueError
that starts with the parameter's name (``"<name> must be <allowed>, got <value>"``). The checks that relate several
parameters live in the function bodies (``fail``); each has one case in ``RULES``, and a test makes sure that every
``fail`` call of the modules listed in ``OWNED`` is reached by one of them. ``contracts.txt`` lists what every
constrained parameter accepts, so that a constraint made weaker shows up in review.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import os
import pkgutil
import re
from dataclasses import is_dataclass, replace
from pathlib import Path
from types import SimpleNamespace

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
            if not (inspect.isfunction(obj) or isinstance(obj, type)) or obj.__module__ != module.__name__ \
                    or name.startswith("_"):
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
                    validated_class = attr == "__init__" and hasattr(obj, "constraints")  # found above
                    if callable(member) and hasattr(member, "constraints") and not validated_class:
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


CONTRACT_FILE = Path(__file__).with_name("contracts.txt")
"""Every constrained parameter and what it accepts, one line each: the public contract, reviewed as a whole. The
test above derives its bad values from the constraints, so it cannot see a constraint made weaker; this file can."""


def contract_listing() -> str:
    return "".join(f"{qualname.removeprefix('collapse_utils.')}({param}): "
                   f"{getattr(ENTRY_POINTS[qualname][0].constraints[param], 'allowed', '?')}\n"
                   for qualname, param in CASES)


def test_the_contract_is_the_reviewed_one():
    """An intended change: rewrite the file with ``python tests/unit/test_contracts.py`` (package on the path)."""
    assert contract_listing() == CONTRACT_FILE.read_text(encoding="utf-8")


def test_the_valid_stand_ins_pass_their_constraints():
    """The valid values given to the other parameters really pass (else the test above could pass for them)."""
    for qualname, param in CASES:
        constraint = ENTRY_POINTS[qualname][0].constraints[param]
        constraint(param, valid(constraint))


# ---------------------------------------------------------------------------------------------------------------
# the checks that relate several parameters (fail in a function body): one case each
# ---------------------------------------------------------------------------------------------------------------

OWNED = ["collapse_utils.theory.ridge", "collapse_utils.theory.scaling", "collapse_utils.sim.ridge",
         "collapse_utils.sim.kernel", "collapse_utils.sim.linear", "collapse_utils.kernels", "collapse_utils.spectrum",
         "collapse_utils.text_metrics", "collapse_utils.conformer_metrics", "collapse_utils.data.mnist",
         "collapse_utils.data.corpus", "collapse_utils.data.tokenizer", "collapse_utils.data.tinystories",
         "collapse_utils.data.conformers", "collapse_utils.data.story_grammar", "collapse_utils.models.egnn",
         "collapse_utils.models.transformer", "collapse_utils.models.classifier"]
"""Modules whose every ``fail`` call must be reached by a case of ``RULES``."""

D = 300
POWER = np.arange(1, D + 1, dtype=float) ** -2.0
W0 = np.full(D, 1.0 / D)


def _rules() -> dict[str, tuple]:
    return {**_theory_and_sim_rules(), **_data_rules(), **_model_rules()}


def _theory_and_sim_rules() -> dict[str, tuple]:
    from collapse_utils import kernels, spectrum
    from collapse_utils.sim import kernel as sk
    from collapse_utils.sim import linear as sl
    from collapse_utils.sim import ridge as sr
    from collapse_utils.theory import ridge as rt
    from collapse_utils.theory import scaling

    rng = np.random.default_rng
    eigs6, w0_7 = np.ones(6), np.ones(7)
    run = {"eigs": eigs6, "w0": np.ones(6), "T0": 10, "sigma0": 0.3, "sigma": 0.2, "ns": [0, 1], "Ts": [8],
           "lams": [0.1], "n_runs": 2, "seed": 0}
    X = rng(0).uniform(-1, 1, size=(12, 3))
    K, truth = kernels.rbf_kernel(X, gamma=0.5), X[:, 0]
    krr = {"pool_idx": np.arange(8), "test_idx": np.arange(8, 12), "T0": 2, "ns": [0, 1], "Ts": [2, 4],
           "lams": np.full((2, 1), 0.1), "lam0": 0.01, "sigma0": 0.1, "sigma": 0.1, "n_runs": 2, "rng": rng(0)}
    learner = {"Ts": [2], "lams": [[0.1]], "sigma": 0.1, "rng": rng(0)}
    G50, flat = 50 * np.diag(np.arange(1, 51, dtype=float) ** -2.0), 50 * np.eye(50) + np.diag(np.arange(50) * 1e-9)
    linear = {"d": 3, "T": 8, "sigma2": 1.0, "n_iterations": 2, "n_seeds": 2, "seed": 0}

    return {
        "ridge_bias: w0_sq has the shape of eigs": (
            lambda: rt.ridge_bias(0.1, 100, POWER, np.ones(299)), r"^w0_sq must be of the shape of eigs, \(300,\)"),
        "collapse_terms: w0_sq has the shape of eigs": (
            lambda: rt.collapse_terms(0.1, 100, 1, 600, POWER, np.ones((300, 1)), 1.0, 1.0), r"^w0_sq must be of"),
        "collapse_terms: T0 > d": (
            lambda: rt.collapse_test_error(0.1, 100, 1, 300, POWER, W0, 1.0, 1.0), r"^T0 must be > d = 300"),
        "rho_eq19: T0 > d": (lambda: rt.rho_eq19(0.1, 100, 299, POWER),
                             r"^T0 must be > d = 300 \(eq\. \(19\) divides by T0 − d\)"),
        "ols_collapse_error: T, T0 >= d + 2": (
            lambda: rt.ols_collapse_error(1, 300, 1000, 301, 1.0, 1.0), r"^T0 must be >= d \+ 2 = 302 .*got 301$"),
        "null_predictor_crossover: T >= d + 2": (
            lambda: rt.null_predictor_crossover(5, 6, 10, 1.0, 1.0, 1.0), r"^T must be >= d \+ 2 = 7 .*got 6$"),
        "Exponents.ell_star: b > a": (lambda: scaling.exponents(2.0, 0.375).ell_star(0.5, 0.5), r"^b must be > a"),
        "theorem51_rate: ell < beta": (lambda: scaling.theorem51_rate(10.0, 2.5, 2.0, 0.375), r"^ell must be < beta"),
        "theorem51_rate: T0 > d for the collapse term": (
            lambda: scaling.theorem51_rate(10.0, 0.8, 2.0, 0.375, n=1, T0=200, d=300), r"^T0 must be given with d"),
        "loglog_slope: two points": (lambda: scaling.loglog_slope([1.0], [1.0]), r"^x must be at least 2 points"),
        "loglog_vertex: three points": (lambda: scaling.loglog_vertex([1.0, 2.0], [1.0, 2.0]),
                                        r"^x must be at least 3 points"),
        "loglog_vertex: y has the shape of x": (lambda: scaling.loglog_vertex([1.0, 2.0, 3.0], [1.0, 2.0]),
                                                r"^y must be of the shape of x"),
        "optimal_rate_exponent: b > a": (lambda: scaling.optimal_rate_exponent(2.0, 0.375, 0.5, 0.5, noiseless=True),
                                         r"^b must be > a = 0\.5"),
        "u_turn_sample_size: a range (low, high)": (
            lambda: scaling.u_turn_sample_size(0.5, 1, 600, POWER, W0, 1.0, 1.0, T_range=(100, 100)),
            r"^T_range must be a pair of integers \(low, high\)"),
        "optimal_lambda: a range (low, high)": (
            lambda: rt.optimal_lambda(100, 1, 600, POWER, W0, 1.0, 1.0, lam_range=(1.0, 0.1)),
            r"^lam_range must be a pair \(low, high\)"),
        "simulate_penalty_rules: one penalty table per T and n": (
            lambda: sr.simulate_penalty_rules(lams=np.ones((2, 2, 1)), Ts=[10, 20], ns=[1], eigs=np.ones(4),
                                              w0=np.ones(4), T0=8, sigma0=0.1, sigma=0.1, n_runs=2, seed=0),
            r"^lams must be of shape \(len\(Ts\), len\(ns\), K\) = \(2, 1, K\)"),
        "loglog_slope: y has the shape of x": (lambda: scaling.loglog_slope([1.0, 2.0], [1.0]), r"^y must be of"),
        # sim/ridge
        "bartlett_factor: T >= d": (lambda: sr.bartlett_factor(rng(0), 4, 3), r"^T must be >= d = 4 .*got 3$"),
        "generator_chain: w0 has the shape of eigs": (
            lambda: sr.generator_chain(rng(0), eigs6, w0_7, 8, 0.1, 2, shared=False, sampling="explicit"),
            r"^w0 must be of the shape of eigs, \(6,\)"),
        "simulate_ridge_collapse: w0 has the shape of eigs": (
            lambda: sr.simulate_ridge_collapse(**{**run, "w0": w0_7}), r"^w0 must be of the shape of eigs"),
        "reference_ridge_collapse: w0 has the shape of eigs": (
            lambda: sr.reference_ridge_collapse(**{**run, "w0": np.ones((6, 1))[:, 0][:5]}), r"^w0 must be of"),
        # sim/kernel
        "generator_chain (kernel): truth has one value per point": (
            lambda: sk.generator_chain(K, truth[:-1], [[0, 1]], [2], lam0=0.1, sigma0=0.1, rng=rng(0)),
            r"^truth must be one value per point of K, shape \(12,\)"),
        "generator_chain (kernel): indices into K": (
            lambda: sk.generator_chain(K, truth, [[0, 12]], [2], lam0=0.1, sigma0=0.1, rng=rng(0)),
            r"^designs must be indices into the N = 12 points of K"),
        "learner_test_errors: labels per learner point": (
            lambda: sk.learner_test_errors(K, np.zeros((1, 3)), [0, 1], [8, 9], truth[8:10], **learner),
            r"^labels must be of shape \(n_label_sets, len\(learner_idx\) = 2\)"),
        "learner_test_errors: test_target per test point": (
            lambda: sk.learner_test_errors(K, np.zeros((1, 2)), [0, 1], [8, 9], truth[8:11], **learner),
            r"^test_target must be one value per test point"),
        "learner_test_errors: Ts <= len(learner_idx)": (
            lambda: sk.learner_test_errors(K, np.zeros((1, 2)), [0, 1], [8, 9], truth[8:10], **{**learner, "Ts": [3]}),
            r"^Ts must be <= len\(learner_idx\) = 2"),
        "learner_test_errors: one row of penalties per T": (
            lambda: sk.learner_test_errors(K, np.zeros((1, 2)), [0, 1], [8, 9], truth[8:10],
                                           **{**learner, "lams": [[0.1], [0.2]]}), r"^lams must be one row of"),
        "simulate_krr_collapse: truth has one value per point": (
            lambda: sk.simulate_krr_collapse(K, truth[:5], **krr), r"^truth must be one value per point of K"),
        "simulate_krr_collapse: test points held out": (
            lambda: sk.simulate_krr_collapse(K, truth, **{**krr, "test_idx": [7, 8]}),
            r"^test_idx must be disjoint from pool_idx"),
        "simulate_krr_collapse: one row of penalties per T": (
            lambda: sk.simulate_krr_collapse(K, truth, **{**krr, "lams": np.full((3, 1), 0.1)}),
            r"^lams must be one row of penalties per T, shape \(2, n_penalties\)"),
        "simulate_krr_collapse: enough pool points": (
            lambda: sk.simulate_krr_collapse(K, truth, **{**krr, "ns": [0, 3]}),
            r"^pool_idx must be at least max\(ns\) \* T0 \+ max\(Ts\) = 3 \* 2 \+ 4 = 10 points"),
        # sim/linear
        "simulate_linear_chains: policies": (
            lambda: sl.simulate_linear_chains(["replace", "REPLACE"], **linear), r"^policies must be at least one"),
        "simulate_linear_chains: T >= d": (
            lambda: sl.simulate_linear_chains(["replace"], **{**linear, "T": 2}), r"^T must be >= d = 3 .*got 2$"),
        "simulate_grid: distinct sigma2s": (
            lambda: sl.simulate_grid(["replace"], d=2, Ts=[4], sigma2s=[1.0, 1], n_iterations=2, n_seeds=2, seed=0),
            r"^sigma2s must be without repeated values"),
        # kernels and spectrum
        "rbf_kernel: B has the features of A": (
            lambda: kernels.rbf_kernel(np.ones((3, 6)), np.ones((3, 4)), gamma=1.0),
            r"^B must be points with the 6 features of A"),
        "krr_solve: one row of labels per point": (
            lambda: kernels.krr_solve(np.eye(3), np.ones(2), 1.0), r"^Y must be labels of shape \(3,\) or \(3, k\)"),
        "estimate_power_law: y per point": (
            lambda: spectrum.estimate_power_law(G50, np.ones(49), k_range=(2, 20)), r"^y must be one target value"),
        "estimate_power_law: k_range inside the spectrum": (
            lambda: spectrum.estimate_power_law(G50, np.ones(50), k_range=(10, 50)),
            r"^k_range must be a pair \(k_lo, k_hi\) with 1 <= k_lo < k_hi < N = 50"),
        "estimate_power_law: a decaying spectrum": (
            lambda: spectrum.estimate_power_law(flat, np.ones(50), k_range=(2, 20)),
            r"^k_range must be a range where the eigenvalues decay"),
        "estimate_power_law: positive values to fit": (
            lambda: spectrum.estimate_power_law(G50, np.r_[1.0, np.zeros(49)], k_range=(2, 20)),
            r"^k_range must be a range where the residual energy of y is > 0"),
    }


def _data_rules() -> dict[str, tuple]:
    from collapse_utils import conformer_metrics as cm
    from collapse_utils import text_metrics
    from collapse_utils.data import conformers, corpus, mnist, tinystories
    from collapse_utils.data import story_grammar as sg
    from collapse_utils.data.tokenizer import BPETokenizer, WordTokenizer

    g = conformers.MoleculeGraph("ethanal", "CC=O", np.array([0, 0, 2]), np.array([[0, 1], [1, 2]]), np.array([0, 1]))
    c = conformers.Conformer(0, np.array([[0.0, 0, 0], [1.5, 0, 0], [1.5, 1.2, 0]], dtype=np.float32))
    recipe = conformers.ConformerRecipe(molecules=(("ethanol", "CCO"),), n_conformers=4, n_test=1, n_train=2)
    words = WordTokenizer(["Lily", "ran", "."])
    lex = sg.DEFAULT_LEXICON
    _, derivation = sg.DEFAULT_GRAMMAR.sample_with_derivations(1, np.random.default_rng(0))[0]
    stuck = (sg.Event("lose", "Suddenly , {who} lost it !", follows=("search",), can_end=False),
             sg.Event("search", "So {who} looked .", follows=("lose",), opens=False, can_end=False))
    friendly_end = ("From that day on , {Name} and {Friend} were best friends .",)

    def grammar(**changes):
        return sg.StoryGrammar(replace(lex, **changes))

    def sample(**changes):
        return grammar(**changes).sample(50, np.random.default_rng(0))

    return {
        "story_stats: a story": (lambda: text_metrics.story_stats([]), r"^stories must be a non-empty sequence"),
        "rmsd_matrix: coordinates of the molecule's atoms": (
            lambda: cm.rmsd_matrix(g, [np.zeros((2, 3))], [np.zeros((3, 3))]),
            r"^generated must be a non-empty list of \(3, 3\) arrays of finite coordinates"),
        "conformer_metrics: conformers of known molecules": (
            lambda: cm.conformer_metrics([g], [c], [conformers.Conformer(1, c.coords)]),
            r"^reference must be Conformer objects with mol in \[0, 1\)"),
        "conformer_metrics: generated conformers of every molecule": (
            lambda: cm.conformer_metrics([g], [], [c]), r"^generated must be conformers of every molecule"),
        "conformer_metrics: a reference": (lambda: cm.conformer_metrics([g], [c], []), r"^reference must be at least"),
        "bond_length_distance: bonds of the type": (
            lambda: cm.bond_length_distance([g], [c], [c], "aromatic"), r"^bond_type must be a type of bond that"),
        "MoleculeGraph: a SMILES": (lambda: conformers.MoleculeGraph.from_smiles("x", "C1CC"), r"^smiles must be a SM"),
        "MoleculeGraph: known elements": (
            lambda: conformers.MoleculeGraph.from_smiles("salt", "CC[Na]"), r"^smiles must be a molecule of the elem"),
        "MoleculeGraph: known bond types": (
            lambda: conformers.MoleculeGraph.from_smiles("x", "C$C"), r"^smiles must be a molecule with single, doub"),
        "ConformerRecipe: molecules": (lambda: replace(recipe, molecules=(("a", "CCO"), ("a", "CCN"))),
                                       r"^molecules must be a non-empty sequence of \(name, smiles\) pairs"),
        "ConformerRecipe: n_test < n_conformers": (lambda: replace(recipe, n_test=4), r"^n_test must be < n_conf"),
        "ConformerRecipe: n_train fits": (lambda: replace(recipe, n_train=4), r"^n_train must be None or <= n_conf"),
        "load_corpus: max_len keeps stories": (
            lambda: corpus.load_corpus("synthetic", n_train=5, n_test=5, seed=0, max_len=2), r"^max_len must be long"),
        "stratified_split: n_test below the number of labels": (
            lambda: mnist.stratified_split([0, 1, 0], 3, np.random.default_rng(0)), r"^n_test must be < the number"),
        "WordTokenizer.decode: ids in the vocabulary": (lambda: words.decode([1, -1]), r"^ids must be token ids in 0"),
        "WordTokenizer: distinct words": (lambda: WordTokenizer(["Lily", "Lily"]), r"^words must be distinct tokens"),
        "WordTokenizer.encode: canonical spacing": (lambda: words.encode("Lily  ran."), r"^text must be in the canon"),
        "WordTokenizer.encode: known words": (lambda: words.encode("Lily flew."), r"^text must be words of the voc"),
        "BPETokenizer: an end-of-story token": (
            lambda: BPETokenizer(SimpleNamespace(token_to_id=lambda token: None)), r"^backend must be a tokenizer"),
        "clean_stories: str stories": (lambda: tinystories.clean_stories(["ok", 3]), r"^texts must be stories whose"),
        "load_tinystories_local: an existing file": (
            lambda: tinystories.load_tinystories_local("no-such-file.jsonl"), r"^path must be an existing file"),
        # the story language: the lexicon's fields, then the engine's rules on templates
        "StoryLexicon: tuples": (lambda: replace(lex, places=["park"]), r"^places must be a non-empty tuple"),
        "StoryLexicon: words": (lambda: replace(lex, places=("park", "park")), r"^places must be distinct single"),
        "StoryLexicon: two names": (lambda: replace(lex, boy_names=("Tom",)), r"^boy_names must be at least 2 names"),
        "StoryLexicon: names of one gender": (
            lambda: replace(lex, boy_names=("Tom", "Lily")), r"^boy_names must be names that are not girls' names"),
        "StoryLexicon: toys are not colours": (
            lambda: replace(lex, toys=("ball", "red")), r"^toys must be words that are not colours"),
        "StoryLexicon: events": (lambda: replace(lex, events=lex.events[:1] * 2), r"^events must be Event objects"),
        "StoryLexicon: follows": (
            lambda: replace(lex, events=(sg.Event("go", "One day , {he} slept .", follows=("nap",)),)),
            r"^events must be events whose follows name known events \(not \['nap'\]\)"),
        "StoryGrammar: free slots need words": (
            lambda: grammar(animals=()), r"^lexicon\.animals must be non-empty: the templates use \{animal\}"),
        "StoryGrammar: distinct options": (
            lambda: grammar(animals=("girl",)), r"^lexicon must be distinct options at each choice point"),
        "StoryGrammar: known slots": (
            lambda: grammar(endings=("In the end , {Name} was {nope} .",)), r"^template must be known slots only"),
        "StoryGrammar: template tokens": (
            lambda: grammar(endings=("In the end , {Name} was glad.",)), r"^template must be words, punctuation"),
        "StoryGrammar: template leads": (lambda: grammar(endings=("{toy} was fun .",)), r"^template must be non-empty"),
        "StoryGrammar: the friend is introduced first": (
            lambda: grammar(events=(*lex.events, sg.Event("late", "Meanwhile {Friend} met a {fkind} .")),
                            endings=lex.endings[:1]), r"^template must be one that introduces the friend"),
        "StoryGrammar: openings introduce the hero": (
            lambda: grammar(openings=("Lily was a {kind} .",)), r"^lexicon\.openings must be templates that intro"),
        "StoryGrammar: openings name the hero first": (
            lambda: grammar(openings=("Once , {he} was a {kind} named {Name} .",)), r"^lexicon\.openings must be tem"
                                                                                     r"plates that use no \{he\}"),
        "StoryGrammar: setups without the friend": (
            lambda: grammar(setups=("{Friend} had a {colour} {toy} .",)), r"^lexicon\.setups must be templates"),
        "StoryGrammar: distinct leads of events and endings": (
            lambda: grammar(endings=("One day , {Name} slept .",)), r"^lexicon\.events must be templates that, with"),
        "StoryGrammar: leads are no names": (
            lambda: grammar(setups=("Her toy was a {colour} {toy} .",)), r"^lexicon must be templates whose first"),
        "StoryGrammar: distinct leads of openings": (
            lambda: grammar(openings=(lex.openings[0], lex.openings[0].replace("time", "day"))),
            r"^lexicon must be templates that start with distinct words"),
        "StoryGrammar: a chain that can end": (lambda: sample(events=stuck), r"^lexicon\.events must be a chain"),
        "StoryGrammar: an ending without the friend": (
            lambda: sample(endings=friendly_end), r"^lexicon\.endings must be one ending at least without friend"),
        "StoryGrammar.generate: a complete derivation": (
            lambda: sg.DEFAULT_GRAMMAR.generate(derivation[:-3]), r"^derivation must be a complete derivation"),
        "StoryGrammar.generate: option indices": (
            lambda: sg.DEFAULT_GRAMMAR.generate((9, *derivation[1:])), r"^derivation must be option indices; choice 0"),
        "StoryGrammar.generate: no extra choices": (
            lambda: sg.DEFAULT_GRAMMAR.generate((*derivation, 0)), r"^derivation must be as long as its story"),
        "StoryGrammar.enumerate_stories: max_stories": (
            lambda: sg.DEFAULT_GRAMMAR.enumerate_stories(max_stories=1000), r"^max_stories must be at least the num"),
    }


def _model_rules() -> dict[str, tuple]:
    try:
        import torch

        from collapse_utils.models import classifier, egnn, transformer
    except ImportError:  # no torch: the model families are not tested here
        return {}
    from molecule_standins import Graph, graph

    chain = graph([0, 0, 5], [[0, 1], [1, 2]], [0, 0])
    config = transformer.DecoderConfig("gpt2", vocab_size=23, n_layer=1, n_head=2, d_model=16, d_mlp=16, max_len=8)
    images = np.zeros((4, 784))
    return {
        "EGNNConfig: even time features": (lambda: egnn.EGNNConfig(time_features=7), r"^time_features must be even"),
        "make_batch: indices into graphs": (lambda: egnn.make_batch((chain,), [0, 1]), r"^mols must be indices into"),
        "EGNN: atom types within the one-hot": (
            lambda: egnn.EGNN(egnn.EGNNConfig(hidden=8, n_layers=1, n_atom_types=4, n_rbf=4))(
                torch.zeros(3, 3), torch.ones(1), egnn.make_batch((chain,), [0])),
            r"^batch\.atom_types must be < n_atom_types = 4, got 5$"),
        "DecoderConfig: n_head divides d_model": (
            lambda: replace(config, n_head=3), r"^n_head must be a divisor of d_model = 16, got 3$"),
        "DecoderConfig: even rotary head dimension": (
            lambda: replace(config, family="llama", d_model=15, n_head=3), r"^n_head must be such that d_model / n_h"),
        "DecoderConfig: eos_id in the vocabulary": (
            lambda: replace(config, eos_id=23), r"^eos_id must be < vocab_size = 23, got 23$"),
        "KVCache: within the context": (lambda: transformer.KVCache(config, 2, 9), r"^max_len must be <= the context"),
        "Decoder: within the context": (
            lambda: transformer.Decoder(config)(torch.zeros((1, 9), dtype=torch.long)), r"^idx must be at most 8 pos"),
        "fit_classifier: 784 pixels": (
            lambda: classifier.fit_classifier(np.zeros((4, 10)), [0, 1, 2, 3], np.random.default_rng(0)),
            r"^images must be of shape \(n, 784\)"),
        "fit_classifier: one digit per image": (
            lambda: classifier.fit_classifier(images, [0, 1, 2], np.random.default_rng(0)), r"^labels must be 4 dig"),
        "check_graph (EGNN): atom types": (
            lambda: egnn.check_graph(Graph("x", "", np.array([0, -1]), np.zeros((0, 2), int), np.zeros(0, int), 2)),
            r"^graph\.atom_types must be 2 non-negative integers"),
        "check_graph (EGNN): bonds": (
            lambda: egnn.check_graph(Graph("x", "", np.array([0, 0]), np.array([[1, 1]]), np.array([0]), 2)),
            r"^graph\.bonds must be pairs of two different atoms in 0\.\.1"),
        "check_graph (EGNN): bond types": (
            lambda: egnn.check_graph(Graph("x", "", np.array([0, 0]), np.array([[0, 1]]), np.array([4]), 2)),
            r"^graph\.bond_types must be 1 codes in 0\.\.3"),
    }


RULES = _rules()


UNCONSTRAINED = {
    "collapse_utils.data.story_grammar.story_grammar": "takes no argument",
    "collapse_utils.models.egnn.check_graph": "is itself a check: it fails naming the graph's field (RULES)",
    "collapse_utils.models.egnn.molecule_edges": "checks its graph with check_graph",
    "collapse_utils.models.egnn.graph_mean": "tensor operation of the forward pass (no checks on the hot path)",
    "collapse_utils.models.egnn.center": "tensor operation of the forward pass",
    "collapse_utils.models.egnn.noise_embedding": "tensor operation of the forward pass",
    "collapse_utils.models.egnn.EGNNLayer": "a layer of EGNN, whose config is checked",
    "collapse_utils.models.egnn.MemberLinear": "a layer of EGNN (its ensemble's linear maps)",
    "collapse_utils.models.egnn.concat_batches": "joins batches made by the checked make_batch",
    "collapse_utils.models.egnn.local_edge_mask": "reads a batch made by the checked make_batch (the loss's hot path)",
    "collapse_utils.models.transformer.rope_tables": "built from a checked DecoderConfig",
    "collapse_utils.models.transformer.apply_rope": "tensor operation of the forward pass",
    "collapse_utils.models.transformer.Attention": "a layer of Decoder, whose config is checked",
    "collapse_utils.models.transformer.MLP": "a layer of Decoder",
    "collapse_utils.models.transformer.Block": "a layer of Decoder",
}
"""Public functions and classes of ``OWNED`` modules without declared constraints, and why; result containers (frozen
dataclasses the package fills, such as ``RidgeRuns`` or ``Conformer``) are recognized by having no ``__init__`` of their
own beyond the dataclass's."""


def _public(module):
    for name, obj in vars(module).items():
        if not name.startswith("_") and (inspect.isfunction(obj) or isinstance(obj, type)) \
                and obj.__module__ == module.__name__:
            yield f"{module.__name__}.{name}", obj


def _declares(qualname: str, obj) -> bool:
    if qualname in ENTRY_POINTS:
        return True
    if isinstance(obj, type):
        if any(key.startswith(qualname + ".") for key in ENTRY_POINTS):
            return True  # a class with checked methods or a checked __init__
        return is_dataclass(obj) and not hasattr(obj, "__post_init__")  # a plain result container
    return False


def test_every_public_entry_point_of_the_owned_modules_declares_its_inputs():
    missing = [q for name in OWNED for q, obj in _public(importlib.import_module(name))
               if not _declares(q, obj) and q not in UNCONSTRAINED]
    assert not missing, f"public functions or classes without @validate (declare them, or say why in UNCONSTRAINED): " \
                        f"{missing}"
    public = {q for name in OWNED for q, _ in _public(importlib.import_module(name))}
    assert set(UNCONSTRAINED) <= public, set(UNCONSTRAINED) - public


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


if __name__ == "__main__":
    CONTRACT_FILE.write_text(contract_listing(), encoding="utf-8")
    print(f"wrote {len(CASES)} lines to {CONTRACT_FILE.name}")
