"""The RDKit conformer data of the diffusion chapter (collapse_utils.data.conformers): recipe, cache, split, chemistry.

The sets built here have 2-4 molecules and 4-6 candidate conformers each (well under a second per build); the
default recipe (16 molecules, 60 candidates) takes about 30 s and is not built by the unit tests.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported

pytest.importorskip("rdkit")

from rdkit import Chem

from collapse_utils.conformer_metrics import rmsd_matrix
from collapse_utils.data.conformers import (
    ATOM_TYPES,
    BOND_TYPES,
    MOLECULES,
    ConformerRecipe,
    MoleculeGraph,
    cache_path,
    load_conformers,
)

TINY = ConformerRecipe(molecules=(("valproic acid", "CCCC(CCC)C(=O)O"), ("pregabalin", "CC(C)C[C@H](CN)CC(=O)O")),
                       n_conformers=4, n_test=1, n_train=2, max_iters=200)
# every element of ATOM_TYPES and every bond type of BOND_TYPES: S, C#N, aromatic n (cimetidine), F, Cl, C=O
CHEMISTRY = ConformerRecipe(molecules=tuple(m for m in MOLECULES if m[0] in
                                            ("cimetidine", "fenfluramine", "chlorambucil", "procaine")),
                            n_conformers=6, n_test=2, n_train=None)

# Bond lengths (Å) of MMFF94 minima: sp3 C-C 1.53, aromatic C-C 1.39, C=O 1.22, ester/ether C-O 1.34-1.43, amide
# C-N 1.35-1.37 and amine C-N 1.46, nitrile C#N 1.16, C-F 1.36, C-Cl 1.75-1.79, C-S 1.82 (the ranges leave a margin).
SANE = {("C", "C", "single"): (1.45, 1.60), ("C", "C", "aromatic"): (1.36, 1.43), ("C", "N", "single"): (1.32, 1.50),
        ("C", "N", "aromatic"): (1.30, 1.40), ("C", "N", "double"): (1.25, 1.30), ("C", "N", "triple"): (1.13, 1.18),
        ("C", "O", "single"): (1.32, 1.46), ("C", "O", "double"): (1.19, 1.24), ("C", "F", "single"): (1.33, 1.38),
        ("C", "Cl", "single"): (1.70, 1.80), ("C", "S", "single"): (1.78, 1.86)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_conformers(TINY, cache=tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def chemistry(tmp_path_factory):
    return load_conformers(CHEMISTRY, cache=tmp_path_factory.mktemp("chemistry"))


def arrays(cs):
    return [(c.mol, c.coords) for c in cs.train + cs.test]


def same(a, b) -> bool:
    return len(a) == len(b) and all(m == n and np.array_equal(x, y) for (m, x), (n, y) in zip(a, b, strict=True))


# ----------------------------------------------------------------------------------------------- molecules and recipe
def test_molecules_are_small_flexible_drugs_using_every_atom_and_bond_type():
    assert 12 <= len(MOLECULES) <= 20
    assert len({n for n, _ in MOLECULES}) == len(MOLECULES)
    graphs = [MoleculeGraph.from_smiles(n, s) for n, s in MOLECULES]
    assert all(8 <= g.n_atoms <= 20 for g in graphs)
    assert set(np.concatenate([g.atom_types for g in graphs])) == set(range(len(ATOM_TYPES)))
    assert set(np.concatenate([g.bond_types for g in graphs])) == set(range(len(BOND_TYPES)))
    assert BOND_TYPES == ("single", "double", "triple", "aromatic")


def test_graph_of_a_smiles():
    g = MoleculeGraph.from_smiles("acetonitrile ethanol", "CC#N.OCC=O")
    assert [ATOM_TYPES[t] for t in g.atom_types] == ["C", "C", "N", "O", "C", "C", "O"]
    assert g.n_atoms == 7 and g.atom_types.dtype == np.int64 and g.bonds.dtype == np.int64
    np.testing.assert_array_equal(g.bonds, [[0, 1], [1, 2], [3, 4], [4, 5], [5, 6]])
    np.testing.assert_array_equal(g.bond_types, [0, 2, 0, 0, 1])
    aromatic = MoleculeGraph.from_smiles("pyridine", "c1ccncc1")
    assert (aromatic.bond_types == BOND_TYPES.index("aromatic")).all()


def test_key_is_stable_and_changes_with_every_field():
    assert re.fullmatch(r"[0-9a-f]{16}", TINY.key())
    assert TINY.key() == dataclasses.replace(TINY).key() == ConformerRecipe(**dataclasses.asdict(TINY)).key()
    changes = {"molecules": TINY.molecules[:1], "n_conformers": 5, "n_test": 2, "n_train": 1, "force_field": "MMFF94s",
               "max_iters": 201, "prune_rms": 0.3, "seed": TINY.seed + 1, "version": TINY.version + 1}
    assert set(changes) == {f.name for f in dataclasses.fields(ConformerRecipe)}
    keys = {name: dataclasses.replace(TINY, **{name: value}).key() for name, value in changes.items()}
    assert TINY.key() not in keys.values() and len(set(keys.values())) == len(keys)
    assert dataclasses.replace(TINY, n_train=None).key() != TINY.key()


# ---------------------------------------------------------------------------------------------------------- the cache
def test_cache_is_loaded_for_the_same_recipe_and_rebuilt_for_a_changed_one(tmp_path):
    first = load_conformers(TINY, cache=tmp_path)
    assert not first.from_cache and first.key == TINY.key()
    assert cache_path(TINY, tmp_path) == tmp_path / f"conformers-{TINY.key()}.npz"
    assert [p.name for p in tmp_path.iterdir()] == [f"conformers-{TINY.key()}.npz"]  # no temporary file left
    again = load_conformers(TINY, cache=tmp_path)
    assert again.from_cache and same(arrays(again), arrays(first))
    assert again.n_embedded == first.n_embedded and again.n_distinct == first.n_distinct
    for g, h in zip(first.graphs, again.graphs, strict=True):
        assert (g.name, g.smiles) == (h.name, h.smiles)
        for name in ("atom_types", "bonds", "bond_types"):
            np.testing.assert_array_equal(getattr(g, name), getattr(h, name))
            assert getattr(h, name).dtype == np.int64
    assert all(c.coords.dtype == np.float32 for c in again.train + again.test)
    changed = dataclasses.replace(TINY, seed=TINY.seed + 1)
    other = load_conformers(changed, cache=tmp_path)
    assert not other.from_cache and other.key == changed.key() != first.key
    assert not same(arrays(other), arrays(first))
    assert len(list(tmp_path.glob("conformers-*.npz"))) == 2
    assert not load_conformers(TINY, cache=tmp_path, rebuild=True).from_cache


def test_corrupt_or_mismatched_cache_file_is_rebuilt_with_a_warning(tmp_path, tiny):
    path = cache_path(TINY, tmp_path)
    path.write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match="rebuilding the conformer cache"):
        rebuilt = load_conformers(TINY, cache=tmp_path)
    assert not rebuilt.from_cache and same(arrays(rebuilt), arrays(tiny))
    with np.load(path) as z:
        stored = {k: z[k] for k in z.files}
    np.savez(path, **{**stored, "key": np.array("0123456789abcdef")})
    with pytest.warns(RuntimeWarning, match="stored key '0123456789abcdef' differs"):
        assert not load_conformers(TINY, cache=tmp_path).from_cache
    assert load_conformers(TINY, cache=tmp_path).from_cache  # the rebuilt file is valid


# ---------------------------------------------------------------------------------------------- the data themselves
def test_same_recipe_gives_identical_coordinates(tmp_path, tiny):
    assert same(arrays(load_conformers(TINY, cache=tmp_path)), arrays(tiny))


def test_split_sizes_centring_and_heavy_atoms(tiny):
    assert len(tiny.graphs) == 2 and len(tiny.train) == 2 * TINY.n_train and len(tiny.test) == 2 * TINY.n_test
    for m, g in enumerate(tiny.graphs):
        assert sum(c.mol == m for c in tiny.train) == TINY.n_train and sum(c.mol == m for c in tiny.test) == 1
        assert g.n_atoms == Chem.MolFromSmiles(g.smiles).GetNumHeavyAtoms() == (10, 11)[m]
    for c in tiny.train + tiny.test:
        assert c.coords.shape == (tiny.graphs[c.mol].n_atoms, 3)
        np.testing.assert_allclose(c.coords.mean(axis=0), 0.0, atol=1e-5)
    assert all(1 <= d <= e <= TINY.n_conformers for d, e in zip(tiny.n_distinct, tiny.n_embedded, strict=True))


def test_conformers_of_a_molecule_are_distinct_minima_and_train_test_disjoint(chemistry):
    for m, g in enumerate(chemistry.graphs):
        confs = [c for c in chemistry.train + chemistry.test if c.mol == m]
        r = rmsd_matrix(g, confs, confs)
        assert (r[~np.eye(len(confs), dtype=bool)] > CHEMISTRY.prune_rms).all()


def test_n_train_none_uses_all_conformers_of_the_molecule_with_fewest(chemistry):
    fewest = min(chemistry.n_distinct)
    assert fewest > CHEMISTRY.n_test
    for m in range(len(chemistry.graphs)):
        assert sum(c.mol == m for c in chemistry.train) == fewest - CHEMISTRY.n_test


def test_too_few_distinct_conformers_raise(tmp_path):
    rigid = ConformerRecipe(molecules=(("benzonitrile", "N#Cc1ccccc1"),), n_conformers=4, n_test=1, n_train=None)
    with pytest.raises(ValueError, match="benzonitrile has 1 distinct conformers, too few for n_test = 1"):
        load_conformers(rigid, cache=tmp_path)
    assert not list(tmp_path.iterdir())


def test_bond_lengths_of_real_conformers_are_chemically_sane(chemistry):
    seen = set()
    for c in chemistry.train + chemistry.test:
        g = chemistry.graphs[c.mol]
        for (i, j), t in zip(g.bonds, g.bond_types, strict=True):
            kind = (*sorted((ATOM_TYPES[g.atom_types[i]], ATOM_TYPES[g.atom_types[j]])), BOND_TYPES[t])
            low, high = SANE[kind]
            assert low <= np.linalg.norm(c.coords[i] - c.coords[j]) <= high, (g.name, i, j, kind)
            seen.add(kind)
    assert seen == set(SANE)
