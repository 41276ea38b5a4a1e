"""A small E(3)-equivariant graph network (EGNN) that predicts the noise of noised molecular coordinates.

Model (Satorras, Hoogeboom & Welling 2021, "E(n) Equivariant Graph Neural Networks", eqs. 3-6), used as the noise
network ``eps_theta(x_t, t, graph)`` of the GeoDiff-like diffusion model in :mod:`collapse_utils.models.diffusion`:

- **Nodes**: the heavy atoms of a molecule, with features one-hot atom type (index into the data module's
  ``ATOM_TYPES``) and a sinusoidal embedding of the noise level ``log sigma_t`` (the noise-to-signal ratio of the
  diffusion step in Angstrom units of the clean coordinates, see :mod:`~collapse_utils.models.diffusion`).
- **Edges**: every ordered pair of atoms of one molecule (molecules have at most ~20 heavy atoms, so at most 380
  edges). Each edge carries the bond type one-hot (no bond, single, double, triple, aromatic) and the bucket of the
  graph distance (1, 2, 3 or more than 3 bonds apart); the current distance enters every message through
  ``||x_i - x_j||^2`` and a Gaussian radial-basis expansion of ``||x_i - x_j||`` (Schuett et al. 2017). This unites
  GeoDiff's two edge sets (local: bonds up to order 3; global: spatial neighbours within a 10 Angstrom cutoff, which
  covers whole small molecules) in one fully connected graph per molecule.
- **Layers**: ``m_ij = phi_e(h_i, h_j, a_ij, ||x_i - x_j||^2, rbf_ij)``,
  ``x_i <- x_i + mean_j (x_i - x_j) / (||x_i - x_j|| + 1) * phi_x(m_ij)`` (difference vectors normalized for
  stability, as in the EGNN code of Hoogeboom et al. 2022), ``h_i <- h_i + phi_h(h_i, mean_j m_ij)``. The edge
  MLP uses ReLU (cheaper than SiLU on a CPU, and edges dominate the cost), the node MLP SiLU.
- **Output**: the layers' total coordinate displacement ``D = x_L - x_t`` (a sum of terms ``(x_i - x_j) phi(m_ij)``:
  translation invariant, rotation and reflection equivariant) is read as the step from ``x_t`` to the denoised
  ``sqrt(alpha_bar) x_0_hat``, so the predicted noise is ``eps_hat = -D / sqrt(1 - alpha_bar)``, centred per
  molecule because the diffusion noise lives in the zero-centre-of-mass subspace. This "x_0 parameterization"
  spares the network the 1/sigma gain that predicting the noise directly asks for at small noise.

Molecules of different sizes are batched by flattening their atoms (``graph_index`` tells each atom's molecule) and
concatenating their edge lists; sums over neighbours use ``index_add_`` (no torch_geometric). Molecules in one batch
never exchange messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from collapse_utils.validation import Instance, Int, IntArray, Real, fail, validate

N_BOND_CLASSES = 5
"""Bond-type one-hot width: no bond, then the data contract's codes 0..3 (single, double, triple, aromatic)."""
N_HOP_BUCKETS = 4
"""Graph-distance one-hot width: 1, 2, 3, and more than 3 bonds apart (or disconnected)."""
N_EDGE_FEATURES = N_BOND_CLASSES + N_HOP_BUCKETS


@validate(hidden=Int(1), n_layers=Int(1), n_atom_types=Int(1), time_features=Int(2), n_rbf=Int(1),
          rbf_max=Real(0, low_open=True))
@dataclass(frozen=True)
class EGNNConfig:
    """Sizes of the EGNN.

    ``hidden`` features per atom and message, ``n_layers`` message-passing layers, ``n_atom_types`` one-hot width
    (must exceed every atom-type index of the data; spare room costs nothing), ``time_features`` sinusoidal features
    of ``log sigma``, ``n_rbf`` Gaussian radial basis functions of the distance with centres from 0 to ``rbf_max``
    Angstrom. The defaults are the ``ci`` network.
    """

    hidden: int = 32
    n_layers: int = 4
    n_atom_types: int = 10
    time_features: int = 16
    n_rbf: int = 16
    rbf_max: float = 5.0

    def __post_init__(self):
        if self.time_features % 2:
            fail("time_features", "even (sine and cosine pairs)", self.time_features)


@dataclass(frozen=True)
class MoleculeBatch:
    """The graphs of a batch of molecules, flattened: atom ``k`` belongs to molecule ``graph_index[k]``.

    ``edge_index[0]`` holds the receiving atom ``i`` and ``edge_index[1]`` the sending atom ``j`` of each edge
    (indices into the flattened atoms); ``edge_attr`` holds the edge features (bond one-hot, hop-bucket one-hot).
    """

    atom_types: torch.Tensor  # (n_atoms_total,) int64
    graph_index: torch.Tensor  # (n_atoms_total,) int64
    edge_index: torch.Tensor  # (2, n_edges) int64
    edge_attr: torch.Tensor  # (n_edges, N_EDGE_FEATURES) float32
    n_graphs: int

    def to(self, device) -> MoleculeBatch:
        return MoleculeBatch(self.atom_types.to(device), self.graph_index.to(device), self.edge_index.to(device),
                             self.edge_attr.to(device), self.n_graphs)


def check_graph(graph, where: str = "graph") -> None:
    """Fail unless ``graph`` (a ``MoleculeGraph``) has consistent atoms, bonds and bond types (``where.<field>``)."""
    n = Int(2)(f"{where}.n_atoms", graph.n_atoms)
    atoms, bonds, types = np.asarray(graph.atom_types), np.asarray(graph.bonds), np.asarray(graph.bond_types)
    if atoms.shape != (n,) or not np.issubdtype(atoms.dtype, np.integer) or atoms.min() < 0:
        fail(f"{where}.atom_types", f"{n} non-negative integers", atoms)
    if bonds.ndim != 2 or bonds.shape[1:] != (2,) or not np.issubdtype(bonds.dtype, np.integer) or (bonds.size and (
            bonds.min() < 0 or bonds.max() >= n or np.any(bonds[:, 0] == bonds[:, 1]))):
        fail(f"{where}.bonds", f"pairs of two different atoms in 0..{n - 1}, shape (n_bonds, 2)", bonds)
    if types.shape != (len(bonds),) or (types.size and (types.min() < 0 or types.max() > N_BOND_CLASSES - 2)):
        fail(f"{where}.bond_types", f"{len(bonds)} codes in 0..{N_BOND_CLASSES - 2}", types)


def molecule_edges(graph) -> tuple[np.ndarray, np.ndarray]:
    """All ordered atom pairs of one molecule and their features.

    Parameters
    ----------
    graph
        A ``MoleculeGraph`` (``n_atoms``, ``bonds`` (n_bonds, 2), ``bond_types`` codes 0..3).

    Returns
    -------
    edge_index : numpy.ndarray
        (2, n (n - 1)) int64, receiver row then sender row, local atom indices.
    edge_attr : numpy.ndarray
        (n (n - 1), N_EDGE_FEATURES) float32: bond one-hot (column 0 = no bond) then hop-bucket one-hot.
    """
    check_graph(graph)
    n = int(graph.n_atoms)
    bonds = np.asarray(graph.bonds, dtype=np.int64).reshape(-1, 2)
    bond_class = np.zeros((n, n), dtype=np.int64)  # 0 = no bond, 1 + code otherwise
    bond_class[bonds[:, 0], bonds[:, 1]] = np.asarray(graph.bond_types) + 1
    bond_class[bonds[:, 1], bonds[:, 0]] = np.asarray(graph.bond_types) + 1
    adjacency = bond_class > 0
    hops = np.full((n, n), N_HOP_BUCKETS, dtype=np.int64)  # bucket "more than 3" (or disconnected)
    reached = np.eye(n, dtype=bool)
    for k in range(1, N_HOP_BUCKETS):  # breadth-first by boolean matrix products
        frontier = (reached.astype(np.int64) @ adjacency.astype(np.int64) > 0) & ~reached
        hops[frontier] = k
        reached |= frontier
    receiver, sender = np.nonzero(~np.eye(n, dtype=bool))
    attr = np.zeros((len(receiver), N_EDGE_FEATURES), dtype=np.float32)
    attr[np.arange(len(receiver)), bond_class[receiver, sender]] = 1.0
    attr[np.arange(len(receiver)), N_BOND_CLASSES + hops[receiver, sender] - 1] = 1.0
    return np.stack([receiver, sender]).astype(np.int64), attr


@validate(mols=IntArray(0))
def make_batch(graphs, mols, device=None, *, edges: dict | None = None) -> MoleculeBatch:
    """The flattened :class:`MoleculeBatch` of molecules ``mols`` (indices into ``graphs``, repeats allowed).

    ``edges`` may map molecule indices to their :func:`molecule_edges`, computed once for many batches.
    """
    if mols.max() >= len(graphs):
        fail("mols", f"indices into graphs, in 0..{len(graphs) - 1}", mols)
    mols = mols.tolist()
    cache = edges if edges is not None else {m: molecule_edges(graphs[m]) for m in set(mols)}
    sizes = np.array([graphs[m].n_atoms for m in mols], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    edge_index = np.concatenate([cache[m][0] + off for m, off in zip(mols, offsets, strict=True)], axis=1)
    edge_attr = np.concatenate([cache[m][1] for m in mols])
    atom_types = np.concatenate([np.asarray(graphs[m].atom_types, dtype=np.int64) for m in mols])
    batch = MoleculeBatch(torch.from_numpy(atom_types), torch.from_numpy(np.repeat(np.arange(len(mols)), sizes)),
                          torch.from_numpy(edge_index), torch.from_numpy(edge_attr), len(mols))
    return batch if device is None else batch.to(device)


def local_edge_mask(batch: MoleculeBatch) -> torch.Tensor:
    """Which edges join atoms at most three bonds apart: GeoDiff's local edges (edge order 3), the rest global."""
    return batch.edge_attr[:, N_EDGE_FEATURES - 1] == 0  # the last hop bucket: more than 3 bonds apart


def graph_mean(values: torch.Tensor, graph_index: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """Per-molecule mean of per-atom ``values`` (n_atoms_total, d), shape (n_graphs, d)."""
    sums = values.new_zeros(n_graphs, values.shape[1]).index_add_(0, graph_index, values)
    counts = values.new_zeros(n_graphs).index_add_(0, graph_index, torch.ones_like(graph_index, dtype=values.dtype))
    return sums / counts[:, None]


def center(x: torch.Tensor, graph_index: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """Subtract each molecule's mean position from its atoms (projection on the zero-centre-of-mass subspace)."""
    return x - graph_mean(x, graph_index, n_graphs)[graph_index]


def noise_embedding(sigma: torch.Tensor, n_features: int) -> torch.Tensor:
    """Sinusoidal features of ``log sigma`` at frequencies 2^-3, 2^-2, ... (shape (len(sigma), n_features))."""
    freqs = 2.0 ** torch.arange(n_features // 2, dtype=sigma.dtype, device=sigma.device) / 8
    angles = torch.log(sigma)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class MemberLinear(nn.Module):
    """``n_members`` independent linear maps applied to consecutive row blocks: the first ``sizes[0]`` rows use
    member 0's weights, the next ``sizes[1]`` member 1's, and so on (one member: an ordinary ``nn.Linear``).

    Lets several networks with their own weights train as one batched ensemble: every other operation of the network
    runs once on the concatenated rows. Initialized like ``nn.Linear``, member by member.
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, n_members: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_members, n_out, n_in))
        self.bias = nn.Parameter(torch.empty(n_members, n_out)) if bias else None
        for k in range(n_members):
            nn.init.kaiming_uniform_(self.weight[k], a=5**0.5)
            if self.bias is not None:
                nn.init.uniform_(self.bias[k], -1 / n_in**0.5, 1 / n_in**0.5)

    def forward(self, x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
        """``x`` (n, n_in) mapped by its members' weights: the first ``sizes[0]`` rows by member 0's, and so on."""
        if sizes is None:
            return F.linear(x, self.weight[0], None if self.bias is None else self.bias[0])
        return torch.cat([F.linear(part, self.weight[k], None if self.bias is None else self.bias[k])
                          for k, part in enumerate(torch.split(x, sizes))])


class EGNNLayer(nn.Module):
    """One E(n)-equivariant message-passing layer (Satorras et al. 2021, eqs. 3-6) with mean aggregation."""

    def __init__(self, hidden: int, n_rbf: int, rbf_max: float, n_members: int = 1):
        super().__init__()
        self.register_buffer("rbf_centres", torch.linspace(0.0, rbf_max, n_rbf), persistent=False)
        self.rbf_width = rbf_max / n_rbf
        # phi_e's first linear map on [h_i, h_j, a_ij, d_ij^2, rbf(d_ij)], split so node parts are computed per atom
        self.edge_i = MemberLinear(hidden, hidden, n_members=n_members)
        self.edge_j = MemberLinear(hidden, hidden, bias=False, n_members=n_members)
        self.edge_a = MemberLinear(N_EDGE_FEATURES + 1 + n_rbf, hidden, bias=False, n_members=n_members)
        self.edge_out = MemberLinear(hidden, hidden, n_members=n_members)
        self.coord = MemberLinear(hidden, 1, bias=False, n_members=n_members)  # phi_x, applied to the message
        for k in range(n_members):
            nn.init.xavier_uniform_(self.coord.weight[k], gain=1e-3)  # start near the identity map of coordinates
        self.node_in = MemberLinear(2 * hidden, hidden, n_members=n_members)
        self.node_out = MemberLinear(hidden, hidden, n_members=n_members)

    def forward(self, h, x, edge_index, edge_attr, inv_degree, nodes=None, edges=None):
        i, j = edge_index
        diff = x[i] - x[j]
        dist2 = (diff * diff).sum(dim=1, keepdim=True)
        dist = torch.sqrt(dist2 + 1e-8)
        z2 = ((dist - self.rbf_centres.to(x.dtype)) / self.rbf_width) ** 2
        rbf = torch.exp((-0.5 * z2).clamp(min=-30.0))  # the floor e^-30 avoids slow subnormal floats (~5x)
        pre = (self.edge_i(h, nodes)[i] + self.edge_j(h, nodes)[j]
               + self.edge_a(torch.cat([edge_attr, dist2, rbf], dim=1), edges))
        m = F.relu(self.edge_out(F.relu(pre), edges))  # ReLU on edges: SiLU costs 5-15x more per element on a CPU
        shift = diff * (self.coord(m, edges) / (dist + 1.0))
        x = x + torch.zeros_like(x).index_add_(0, i, shift) * inv_degree
        agg = torch.zeros_like(h).index_add_(0, i, m) * inv_degree
        h = h + self.node_out(F.silu(self.node_in(torch.cat([h, agg], dim=1), nodes)), nodes)
        return h, x


class EGNN(nn.Module):
    """Noise network ``eps_theta(x_t, sigma_t, graph)``: E(3)-equivariant, translation invariant, centred output.

    With ``n_members > 1`` it holds that many independent networks (a batched ensemble, e.g. one per training seed):
    :meth:`forward` then takes the members' molecule batches concatenated (:func:`concat_batches`) and their sizes;
    :meth:`stack` builds one from single networks and :meth:`member` takes one out.
    """

    @validate(config=Instance(EGNNConfig), n_members=Int(1))
    def __init__(self, config: EGNNConfig = EGNNConfig(), n_members: int = 1):
        super().__init__()
        self.config = config
        self.n_members = n_members
        self.embed = MemberLinear(config.n_atom_types + config.time_features, config.hidden, n_members=n_members)
        self.layers = nn.ModuleList(EGNNLayer(config.hidden, config.n_rbf, config.rbf_max, n_members)
                                    for _ in range(config.n_layers))

    @classmethod
    def stack(cls, models: list[EGNN]) -> EGNN:
        """One ensemble whose member ``k`` has the weights of ``models[k]`` (single networks of one config)."""
        with torch.random.fork_rng(devices=[]):  # the stacked weights replace the initial ones: leave torch's RNG alone
            out = cls(models[0].config, n_members=len(models))
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.copy_(torch.cat([dict(m.named_parameters())[name] for m in models]))
        return out

    def member(self, k: int) -> EGNN:
        """Member ``k`` of the ensemble as a single network (a copy of its weights)."""
        with torch.random.fork_rng(devices=[]):
            out = EGNN(self.config)
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.copy_(dict(self.named_parameters())[name][k:k + 1])
        return out.to(next(self.parameters()).device)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, batch: MoleculeBatch,
                sizes: tuple[list[int], list[int]] | None = None) -> torch.Tensor:
        """Predicted noise (n_atoms_total, 3) at coordinates ``x`` and per-molecule noise levels ``sigma`` (> 0).

        The layers move the atoms by an equivariant displacement ``D = x_L - x``, read as the step from ``x_t`` to
        the denoised ``sqrt(alpha_bar) x_0_hat`` (an "x_0 parameterization"), so the predicted noise is
        ``eps_hat = (x_t - sqrt(alpha_bar) x_0_hat) / sqrt(1 - alpha_bar) = -D / sqrt(1 - alpha_bar)``, centred.

        Parameters
        ----------
        x
            Noised coordinates ``x_t`` of the flattened atoms, (n_atoms_total, 3).
        sigma
            Noise-to-signal ratio ``sqrt((1 - alpha_bar_t) / alpha_bar_t)`` of each molecule, (n_graphs,).
        batch
            The molecules' graphs (:func:`make_batch`; for an ensemble, :func:`concat_batches` of the members').
        sizes
            For an ensemble: the members' atom counts and edge counts, in the order of the concatenation.
        """
        cfg = self.config
        if batch.atom_types.numel() and int(batch.atom_types.max()) >= cfg.n_atom_types:
            fail("batch.atom_types", f"< n_atom_types = {cfg.n_atom_types}", int(batch.atom_types.max()))
        if (sizes is None) != (self.n_members == 1):
            raise ValueError(f"sizes must be given exactly when the network has several members ({self.n_members})")
        nodes, edges = (None, None) if sizes is None else sizes
        gi = batch.graph_index
        sigma = sigma.to(x.dtype)
        onehot = F.one_hot(batch.atom_types, cfg.n_atom_types).to(x.dtype)
        h = self.embed(torch.cat([onehot, noise_embedding(sigma, cfg.time_features)[gi]], dim=1), nodes)
        degree = x.new_zeros(len(x)).index_add_(0, batch.edge_index[0], x.new_ones(batch.edge_index.shape[1]))
        inv_degree = (1.0 / degree.clamp(min=1.0))[:, None]
        edge_attr = batch.edge_attr.to(x.dtype)
        x_out = x
        for layer in self.layers:
            h, x_out = layer(h, x_out, batch.edge_index, edge_attr, inv_degree, nodes, edges)
        noise_std = sigma / torch.sqrt(1.0 + sigma**2)  # sqrt(1 - alpha_bar)
        return center((x - x_out) / noise_std[gi, None], gi, batch.n_graphs)


def concat_batches(batches: list[MoleculeBatch]) -> tuple[MoleculeBatch, tuple[list[int], list[int]]]:
    """The members' batches as one (atoms, edges and molecules renumbered), and their atom and edge counts."""
    atoms = [len(b.atom_types) for b in batches]
    atom_offsets = np.concatenate([[0], np.cumsum(atoms)[:-1]])
    graph_offsets = np.concatenate([[0], np.cumsum([b.n_graphs for b in batches])[:-1]])
    pairs = list(zip(batches, atom_offsets, graph_offsets, strict=True))
    joined = MoleculeBatch(torch.cat([b.atom_types for b in batches]),
                           torch.cat([b.graph_index + int(g) for b, _, g in pairs]),
                           torch.cat([b.edge_index + int(a) for b, a, _ in pairs], dim=1),
                           torch.cat([b.edge_attr for b in batches]), sum(b.n_graphs for b in batches))
    return joined, (atoms, [b.edge_index.shape[1] for b in batches])


__all__ = [
    "EGNN",
    "N_EDGE_FEATURES",
    "EGNNConfig",
    "MemberLinear",
    "MoleculeBatch",
    "center",
    "check_graph",
    "concat_batches",
    "graph_mean",
    "local_edge_mask",
    "make_batch",
    "molecule_edges",
    "noise_embedding",
]
