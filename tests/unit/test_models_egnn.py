"""The E(3)-equivariant noise network of the diffusion chapter (collapse_utils.models.egnn), on hand-made molecules.

Graphs are built here with the stand-in of the data module's ``MoleculeGraph`` in ``molecule_standins.py``, so these
tests do not depend on RDKit. Equivariance is checked in float64 with random orthogonal matrices (rotations and
reflections) and translations.
"""

from __future__ import annotations

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported before torch starts
from collapse_utils import config

torch = pytest.importorskip("torch")

from molecule_standins import graph  # noqa: E402

from collapse_utils.models.egnn import (  # noqa: E402
    EGNN,
    N_EDGE_FEATURES,
    EGNNConfig,
    center,
    local_edge_mask,
    make_batch,
    molecule_edges,
    noise_embedding,
)

# a 6-atom chain C-C=C-C-O-N (hops along the chain) and a 5-ring with a branch (aromatic bonds)
CHAIN = graph([0, 0, 0, 0, 2, 1], [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]], [0, 1, 0, 0, 0])
RING = graph([0, 0, 1, 0, 0, 5, 3], [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [0, 5], [3, 6]], [3, 3, 3, 3, 3, 0, 0])
GRAPHS = (CHAIN, RING)
SMALL = EGNNConfig(hidden=16, n_layers=3, n_rbf=8)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)
    yield
    config.set_threads(1)


def model64(seed: int = 0, cfg: EGNNConfig = SMALL) -> EGNN:
    torch.manual_seed(seed)
    net = EGNN(cfg).double().eval()
    with torch.no_grad():  # make the coordinate updates large enough that a broken symmetry would show
        for layer in net.layers:
            layer.coord.weight.normal_(0, 0.5)
    return net.requires_grad_(False)


def coords(n: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(0, 1.5, (n, 3)))


def orthogonal(seed: int, reflect: bool) -> torch.Tensor:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) < 0) != reflect:
        q[:, 0] = -q[:, 0]
    return torch.from_numpy(q)


def batch_and_x(mols, seed=0):
    b = make_batch(GRAPHS, mols)
    return b, coords(len(b.atom_types), seed)


# ---------------------------------------------------------------------------------------------------------
# graph features
# ---------------------------------------------------------------------------------------------------------


def test_molecule_edges_are_all_ordered_pairs_with_bond_and_hop_one_hots():
    index, attr = molecule_edges(CHAIN)
    n = CHAIN.n_atoms
    assert index.shape == (2, n * (n - 1)) and attr.shape == (n * (n - 1), N_EDGE_FEATURES)
    assert np.all(index[0] != index[1])
    assert len({(int(i), int(j)) for i, j in index.T}) == n * (n - 1)
    assert np.all(attr[:, :5].sum(axis=1) == 1) and np.all(attr[:, 5:].sum(axis=1) == 1)
    feats = {(int(i), int(j)): a for i, j, a in zip(index[0], index[1], attr, strict=True)}
    assert np.argmax(feats[1, 2][:5]) == 2 and np.argmax(feats[2, 1][:5]) == 2  # double bond, both directions
    assert np.argmax(feats[0, 1][:5]) == 1  # single bond
    assert np.argmax(feats[0, 2][:5]) == 0  # no bond
    hops = {pair: int(np.argmax(a[5:])) + 1 for pair, a in feats.items()}
    assert [hops[0, k] for k in range(1, 6)] == [1, 2, 3, 4, 4]  # along the chain; >3 is the last bucket
    assert hops[5, 2] == 3


def test_molecule_edges_count_hops_the_short_way_round_a_ring():
    index, attr = molecule_edges(RING)
    hops = {(int(i), int(j)): int(np.argmax(a[5:])) + 1 for i, j, a in zip(index[0], index[1], attr, strict=True)}
    assert hops[0, 4] == 1 and hops[0, 3] == 2 and hops[5, 6] == 4 and hops[5, 3] == 3
    assert np.argmax(attr[(index[0] == 0) & (index[1] == 4)][0, :5]) == 4  # aromatic


def test_local_edges_join_atoms_at_most_three_bonds_apart():
    g = graph([0] * 7, [(k, k + 1) for k in range(6)], [0] * 6)  # a chain: hops = |i - j|
    batch = make_batch([g], [0])
    i, j = batch.edge_index.numpy()
    np.testing.assert_array_equal(local_edge_mask(batch).numpy(), np.abs(i - j) <= 3)


def test_make_batch_offsets_edges_and_tells_each_atom_its_molecule():
    b = make_batch(GRAPHS, [1, 0, 1])
    assert b.n_graphs == 3 and len(b.atom_types) == 7 + 6 + 7
    assert b.graph_index.tolist() == [0] * 7 + [1] * 6 + [2] * 7
    assert b.atom_types.tolist() == RING.atom_types.tolist() + CHAIN.atom_types.tolist() + RING.atom_types.tolist()
    assert b.edge_index.shape[1] == 42 + 30 + 42
    src_graph, dst_graph = b.graph_index[b.edge_index[0]], b.graph_index[b.edge_index[1]]
    assert torch.equal(src_graph, dst_graph)  # no edge joins two molecules


def test_noise_embedding_is_bounded_and_separates_noise_levels():
    emb = noise_embedding(torch.tensor([0.01, 0.1, 1.0, 10.0], dtype=torch.float64), 16)
    assert emb.shape == (4, 16) and float(emb.abs().max()) <= 1.0
    assert float(torch.cdist(emb, emb).fill_diagonal_(9).min()) > 0.5


# ---------------------------------------------------------------------------------------------------------
# symmetries of the noise prediction
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reflect", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_prediction_is_equivariant_under_rotations_reflections_and_translations(reflect, seed):
    net = model64(seed)
    b, x = batch_and_x([0, 1, 1], seed)
    sigma = torch.tensor([0.05, 1.0, 8.0], dtype=torch.float64)
    q = orthogonal(seed, reflect)
    shift = torch.tensor([3.0, -2.0, 7.5], dtype=torch.float64)
    out = net(x, sigma, b)
    moved = net(x @ q.T + shift, sigma, b)
    assert float(out.abs().max()) > 0.1  # the test has something to rotate
    torch.testing.assert_close(moved, out @ q.T, atol=1e-9, rtol=0)


def test_prediction_is_equivariant_in_float32_within_1e_4():
    torch.manual_seed(3)
    net = EGNN(SMALL).eval()
    b, x = batch_and_x([0, 1], 3)
    q, sigma = orthogonal(3, True).float(), torch.tensor([0.3, 2.0])
    x = x.float()
    torch.testing.assert_close(net(x @ q.T + 1.0, sigma, b), net(x, sigma, b) @ q.T, atol=1e-4, rtol=0)


def test_a_broken_symmetry_would_be_detected():
    """The equivariance check fails for a map that is not equivariant (adding a fixed vector)."""
    net = model64(0)
    b, x = batch_and_x([0], 0)
    sigma = torch.tensor([1.0], dtype=torch.float64)
    q = orthogonal(0, False)
    fixed = torch.tensor([0.0, 0.0, 0.1], dtype=torch.float64)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(net(x @ q.T, sigma, b) + fixed, (net(x, sigma, b) + fixed) @ q.T, atol=1e-9,
                                   rtol=0)


def test_permuting_the_atoms_permutes_the_prediction():
    net = model64(1)
    perm = np.array([4, 2, 6, 0, 5, 1, 3])  # new atom k is old atom perm[k]
    inverse = np.argsort(perm)
    permuted = graph(RING.atom_types[perm], inverse[RING.bonds], RING.bond_types)
    x = coords(7, 5)
    sigma = torch.tensor([0.7], dtype=torch.float64)
    out = net(x, sigma, make_batch((RING,), [0]))
    out_perm = net(x[perm], sigma, make_batch((permuted,), [0]))
    torch.testing.assert_close(out_perm, out[perm], atol=1e-10, rtol=0)


def test_prediction_is_centred_per_molecule():
    net = model64(2)
    b, x = batch_and_x([0, 1, 0, 1], 2)
    out = net(x + torch.arange(len(x), dtype=torch.float64)[:, None], torch.full((4,), 0.5, dtype=torch.float64), b)
    means = torch.zeros(4, 3, dtype=torch.float64).index_add_(0, b.graph_index, out)
    assert float(means.abs().max()) < 1e-10
    assert float(out.abs().max()) > 0.1


def test_molecules_in_one_batch_do_not_interact():
    net = model64(4)
    b, x = batch_and_x([1, 0, 1], 4)
    sigma = torch.tensor([0.2, 3.0, 0.9], dtype=torch.float64)
    together = net(x, sigma, b)
    alone = [net(x[b.graph_index == k], sigma[k: k + 1], make_batch(GRAPHS, [m])) for k, m in enumerate([1, 0, 1])]
    torch.testing.assert_close(together, torch.cat(alone), atol=1e-10, rtol=0)


def test_prediction_depends_on_atom_types_bond_types_and_noise_level():
    net = model64(5)
    x = coords(6, 6)
    sigma = torch.tensor([0.5], dtype=torch.float64)
    base = net(x, sigma, make_batch((CHAIN,), [0]))
    other_atoms = graph([0, 0, 0, 0, 0, 0], CHAIN.bonds, CHAIN.bond_types)
    other_bonds = graph(CHAIN.atom_types, CHAIN.bonds, [0, 0, 0, 0, 0])
    for g in (other_atoms, other_bonds):
        assert float((net(x, sigma, make_batch((g,), [0])) - base).abs().max()) > 1e-4
    assert float((net(x, 2 * sigma, make_batch((CHAIN,), [0])) - base).abs().max()) > 1e-4


def test_center_removes_each_molecules_mean():
    b, x = batch_and_x([0, 1], 0)
    c = center(x + 5.0, b.graph_index, b.n_graphs)
    torch.testing.assert_close(c[:6], x[:6] - x[:6].mean(0), atol=1e-12, rtol=0)
    torch.testing.assert_close(c[6:], x[6:] - x[6:].mean(0), atol=1e-12, rtol=0)
