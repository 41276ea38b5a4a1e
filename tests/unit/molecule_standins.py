"""Stand-ins for the data module's ``MoleculeGraph`` and ``Conformer`` (same attribute names), shared by the EGNN and
diffusion tests so that they build molecules by hand and need no RDKit. ``n_atoms`` is a field here (a property of
the real class), so the tests can also build inconsistent graphs on purpose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Graph:
    """Stand-in for ``collapse_utils.data.conformers.MoleculeGraph``."""

    name: str
    smiles: str
    atom_types: np.ndarray
    bonds: np.ndarray
    bond_types: np.ndarray
    n_atoms: int


@dataclass(frozen=True, eq=False)
class Conf:
    """Stand-in for ``collapse_utils.data.conformers.Conformer``."""

    mol: int
    coords: np.ndarray


def graph(atom_types, bonds, bond_types, name: str = "m") -> Graph:
    """A consistent stand-in graph from lists of atom types, bonds (pairs) and bond types."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    return Graph(name, "", np.asarray(atom_types, dtype=np.int64), bonds, np.asarray(bond_types, dtype=np.int64),
                 len(atom_types))
