"""GeoDiff's conformer metrics (collapse_utils.conformer_metrics): aligned RMSD, COV/MAT, bond lengths.

RMSDs are checked against closed forms (rigid motions, uniform scaling) and against RDKit's GetBestRMS on real MMFF
conformers of two small molecules (built in well under a second).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported

pytest.importorskip("rdkit")
pytest.importorskip("scipy")

from rdkit import Chem
from rdkit.Chem import rdMolAlign
from rdkit.Geometry import Point3D

from collapse_utils.conformer_metrics import (
    DEFAULT_THRESHOLD,
    bond_length_distance,
    bond_lengths,
    conformer_metrics,
    coverage_matching,
    noise_conformers,
    rmsd_matrix,
)
from collapse_utils.data.conformers import (
    ATOM_TYPES,
    BOND_TYPES,
    Conformer,
    ConformerRecipe,
    MoleculeGraph,
    load_conformers,
)

RECIPE = ConformerRecipe(molecules=(("valproic acid", "CCCC(CCC)C(=O)O"),
                                    ("mexiletine", "C[C@@H](N)COc1c(C)cccc1C")),
                         n_conformers=8, n_test=1, n_train=2, max_iters=500)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_conformers(RECIPE, cache=tmp_path_factory.mktemp("metrics"))


def to_rdkit(graph: MoleculeGraph, coords) -> Chem.Mol:
    """The heavy-atom RDKit molecule of ``graph`` (its SMILES, same atom order) with ``coords`` as conformer 0."""
    mol = Chem.RemoveHs(Chem.MolFromSmiles(graph.smiles))
    conf = Chem.Conformer(graph.n_atoms)
    for i, (x, y, z) in enumerate(np.asarray(coords, dtype=float)):
        conf.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    mol.AddConformer(conf, assignId=True)
    return mol


def test_to_rdkit_keeps_the_graph_atom_order_bonds_and_coordinates(data):
    for m, g in enumerate(data.graphs):
        c = next(c for c in data.train if c.mol == m)
        mol = to_rdkit(g, c.coords)
        assert [a.GetSymbol() for a in mol.GetAtoms()] == [ATOM_TYPES[t] for t in g.atom_types]
        for (i, j), t in zip(g.bonds, g.bond_types, strict=True):
            assert str(mol.GetBondBetweenAtoms(int(i), int(j)).GetBondType()).lower() == BOND_TYPES[t]
        assert mol.GetNumBonds() == len(g.bonds)
        np.testing.assert_allclose(mol.GetConformer().GetPositions(), c.coords, atol=1e-6)


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def coords_of(data, m: int) -> list[np.ndarray]:
    return [c.coords.astype(float) for c in data.train + data.test if c.mol == m]


# ------------------------------------------------------------------------------------------------------------ RMSD
def test_identical_and_rigidly_moved_copies_have_zero_rmsd(data):
    for m, g in enumerate(data.graphs):
        x = coords_of(data, m)[0]
        moved = x @ rotation(m).T + np.array([3.0, -1.0, 2.5])
        np.testing.assert_allclose(rmsd_matrix(g, [x, moved], [x]), 0.0, atol=1e-6)


def test_uniformly_scaled_copy_has_the_closed_form_rmsd(data):
    """Scaling by (1 + ε) about the centroid: the best rotation is the identity and RMSD = |ε| · RMS radius."""
    for m, g in enumerate(data.graphs):
        x = coords_of(data, m)[0]
        x = x - x.mean(axis=0)
        radius = np.sqrt((x**2).sum(axis=1).mean())
        for eps in (0.05, -0.1):
            got = rmsd_matrix(g, [(1 + eps) * x @ rotation(7).T], [x])[0, 0]
            assert got == pytest.approx(abs(eps) * radius, rel=1e-6)


def test_rmsd_is_symmetric_and_matches_rdkit_get_best_rms(data):
    for m, g in enumerate(data.graphs):
        xs = coords_of(data, m)
        r = rmsd_matrix(g, xs, xs)
        np.testing.assert_allclose(r, r.T, atol=1e-9)
        np.testing.assert_allclose(np.diag(r), 0.0, atol=1e-6)
        mols = [to_rdkit(g, x) for x in xs]
        expected = [[rdMolAlign.GetBestRMS(to_rdkit(g, a), b) for b in mols] for a in xs]
        np.testing.assert_allclose(r, expected, atol=1e-5)
        assert r.max() > 0.25  # the conformers differ, so the comparison is not trivial


def test_symmetric_atoms_may_swap_but_a_mirror_image_is_not_aligned(data):
    """Swapping valproic acid's two propyl chains and its two carboxyl oxygens costs nothing; reflecting does."""
    g = data.graphs[0]  # CCCC(CCC)C(=O)O: propyls 0-1-2 and 6-5-4 on atom 3, carboxyl C7 with O8 (=O) and O9
    x = coords_of(data, 0)[0]
    swapped = x[[6, 5, 4, 3, 2, 1, 0, 7, 9, 8]]
    assert np.abs(swapped - x).max() > 1.0
    assert rmsd_matrix(g, [swapped], [x])[0, 0] == pytest.approx(0.0, abs=1e-6)
    mirrored = x * np.array([-1.0, 1.0, 1.0])
    got = rmsd_matrix(g, [mirrored], [x])[0, 0]
    assert got > 0.1 and got == pytest.approx(rdMolAlign.GetBestRMS(to_rdkit(g, mirrored), to_rdkit(g, x)), abs=1e-5)


def test_rmsd_matrix_shapes_and_conformer_inputs(data):
    g = data.graphs[1]
    gen = [c for c in data.train if c.mol == 1]
    ref = [c for c in data.test if c.mol == 1]
    r = rmsd_matrix(g, gen, ref)
    assert r.shape == (len(gen), len(ref)) == (2, 1)
    np.testing.assert_allclose(r, rmsd_matrix(g, np.stack([c.coords for c in gen]), [c.coords for c in ref]))


# ------------------------------------------------------------------------------------------------------- COV and MAT
def test_coverage_and_matching_on_a_hand_made_matrix():
    r = np.array([[0.2, 1.0, 3.0],
                  [0.9, 0.5, 2.0]])  # 2 generated (rows) x 3 references (columns); nearest: 0.2, 0.5, 2.0
    assert coverage_matching(r, 0.5) == pytest.approx((2 / 3, 2.7 / 3))  # RMSD <= δ counts as covered
    assert coverage_matching(r, 0.49) == pytest.approx((1 / 3, 2.7 / 3))
    assert coverage_matching(r, 2.0) == pytest.approx((1.0, 2.7 / 3))
    assert coverage_matching(r.T, 0.5) == pytest.approx((1.0, 0.35))  # precision: nearest reference per generated
    assert DEFAULT_THRESHOLD == 0.75


def test_conformer_metrics_average_per_molecule_scores(data):
    got = conformer_metrics(data.graphs, data.train, data.test, threshold=0.6)
    per = []
    for m, g in enumerate(data.graphs):
        r = rmsd_matrix(g, [c for c in data.train if c.mol == m], [c for c in data.test if c.mol == m])
        per.append(coverage_matching(r, 0.6) + coverage_matching(r.T, 0.6))
    per = np.array(per)
    for k, name in enumerate(("cov_r", "mat_r", "cov_p", "mat_p")):
        assert got[name] == pytest.approx(per[:, k].mean())
        assert got[f"{name}_median"] == pytest.approx(np.median(per[:, k]))
    assert got["bond_w1"] == pytest.approx(bond_length_distance(data.graphs, data.train, data.test))
    duck = [SimpleNamespace(mol=c.mol, coords=c.coords) for c in data.train]  # any objects with mol and coords
    assert conformer_metrics(data.graphs, duck, data.test, threshold=0.6) == got
    itself = conformer_metrics(data.graphs, data.test, data.test)
    assert itself["cov_r"] == itself["cov_p"] == 1.0 and itself["mat_r"] < 1e-5 and itself["bond_w1"] == 0.0


def test_conformer_metrics_ignore_molecules_without_references(data):
    only_first = [c for c in data.train if c.mol == 0]
    alone = conformer_metrics(data.graphs, only_first, [c for c in data.test if c.mol == 0])
    r = rmsd_matrix(data.graphs[0], only_first, [c for c in data.test if c.mol == 0])
    assert (alone["cov_r"], alone["mat_r"]) == pytest.approx(coverage_matching(r))


def test_noise_baseline_covers_nothing_and_keeps_scale(data):
    noise = noise_conformers(data.graphs, data.train, np.random.default_rng(0))
    assert [c.mol for c in noise] == [c.mol for c in data.train]
    for c, z in zip(data.train, noise, strict=True):
        assert z.coords.shape == c.coords.shape and z.coords.dtype == np.float32
        np.testing.assert_allclose(z.coords.mean(axis=0), 0.0, atol=1e-5)
        assert np.sqrt((z.coords**2).sum(axis=1).mean()) == pytest.approx(np.sqrt((c.coords**2).sum(axis=1).mean()),
                                                                          rel=1e-5)
    scores = conformer_metrics(data.graphs, noise, data.test)
    assert scores["cov_r"] == 0.0 and scores["mat_r"] > 2 * DEFAULT_THRESHOLD
    again = noise_conformers(data.graphs, data.train, np.random.default_rng(0))
    assert all(np.array_equal(a.coords, b.coords) for a, b in zip(noise, again, strict=True))


# ------------------------------------------------------------------------------------------------------ bond lengths
def test_bond_lengths_of_a_hand_made_conformer():
    g = MoleculeGraph.from_smiles("acetaldehyde", "CC=O")  # bonds (0, 1) single, (1, 2) double
    c = Conformer(0, np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [1.5, 1.2, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(bond_lengths([g], [c, c]), [1.5, 1.2, 1.5, 1.2], rtol=1e-6)
    np.testing.assert_allclose(bond_lengths([g], [c], "double"), [1.2], rtol=1e-6)
    assert bond_lengths([g], [c], "aromatic").size == 0


def test_bond_length_distance_of_scaled_conformers(data):
    """Scaling every conformer by 1.1 stretches every bond by 10%: W1 = 0.1 x the mean bond length."""
    scaled = [dataclasses.replace(c, coords=1.1 * c.coords) for c in data.train]
    mean_length = bond_lengths(data.graphs, data.train).mean()
    assert bond_lengths(data.graphs, data.train).size == 2 * sum(len(g.bonds) for g in data.graphs)
    assert bond_length_distance(data.graphs, scaled, data.train) == pytest.approx(0.1 * mean_length, rel=1e-5)
    assert bond_length_distance(data.graphs, data.train, data.train) == 0.0
    assert 0 < bond_length_distance(data.graphs, data.train, data.test, "single") < 0.01  # real vs real: ~0.001 Å
