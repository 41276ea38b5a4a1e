"""Conformer ensembles of small drug-like molecules, computed offline with RDKit and cached on disk.

Recipe (:class:`ConformerRecipe`): for each molecule of :data:`MOLECULES`, add hydrogens, embed
``n_conformers`` candidates with ETKDGv3 (Riniker & Landrum 2015; ``randomSeed = seed``, one thread, candidates
closer than ``prune_rms`` heavy-atom RMSD dropped), relax every candidate with MMFF94 (``max_iters`` steps), remove
the hydrogens, drop relaxed conformers within ``prune_rms`` of a lower-energy one (symmetry-aware aligned RMSD,
:func:`rdkit.Chem.rdMolAlign.GetBestRMS`), and centre each conformer (heavy-atom mean at the origin). What remains
are distinct local minima, as in GEOM's CREST ensembles.

Split: per molecule, a seeded permutation orders the distinct conformers; the first ``n_test`` are held out and the
next ``n_train`` train, so every molecule has the same number of training conformers (the diffusion sampler produces
as many per molecule). GeoDiff's GEOM-Drugs split is by molecule (test molecules are unseen); here the test set holds
unseen conformers of the *same* molecules, because the chapter compares generated ensembles with held-out real
ensembles of the molecules the model was trained on.

Departures from GeoDiff (Xu et al., ICLR 2022), stated in the diffusion chapter: heavy atoms only (GeoDiff models all
atoms; its RMSD metrics drop hydrogens, as here), 16 molecules of 10-20 heavy atoms instead of GEOM-Drugs, and
force-field minima instead of CREST/GFN2-xTB ensembles.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from collapse_utils import config  # the submodule only
from collapse_utils.validation import Instance, Int, OneOf, Optional, Real, fail, validate

ATOM_TYPES: tuple[str, ...] = ("C", "N", "O", "F", "S", "Cl")
"""Element symbols of the one-hot atom types (index = code)."""

BOND_TYPES: tuple[str, ...] = ("single", "double", "triple", "aromatic")
"""Bond types (index = code); aromatic bonds stay aromatic (no kekulization)."""

MOLECULES: tuple[tuple[str, str], ...] = (
    ("procaine", "CCN(CC)CCOC(=O)c1ccc(N)cc1"),
    ("procainamide", "CCN(CC)CCNC(=O)c1ccc(N)cc1"),
    ("lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C"),
    ("venlafaxine", "COc1ccc(cc1)[C@@H](CN(C)C)C1(O)CCCCC1"),
    ("pregabalin", "CC(C)C[C@H](CN)CC(=O)O"),
    ("gabapentin", "NCC1(CC(=O)O)CCCCC1"),
    ("salbutamol", "CC(C)(C)NC[C@@H](O)c1ccc(O)c(CO)c1"),
    ("tramadol", "COc1cccc(c1)[C@]1(O)CCCC[C@@H]1CN(C)C"),
    ("metoprolol", "COCCc1ccc(OC[C@@H](O)CNC(C)C)cc1"),
    ("atenolol", "CC(C)NC[C@@H](O)COc1ccc(CC(N)=O)cc1"),
    ("propranolol", "CC(C)NC[C@@H](O)COc1cccc2ccccc12"),
    ("valproic acid", "CCCC(CCC)C(=O)O"),
    ("fenfluramine", "CCN[C@@H](C)Cc1cccc(c1)C(F)(F)F"),
    ("cimetidine", "Cc1[nH]cnc1CSCCNC(=NC)NC#N"),
    ("chlorambucil", "OC(=O)CCCc1ccc(cc1)N(CCCl)CCCl"),
    ("meclofenoxate", "CN(C)CCOC(=O)COc1ccc(Cl)cc1"),
)
"""(name, SMILES) of 16 flexible drug-like molecules with 10-20 heavy atoms (stereocentres as in the drug or one
enantiomer of a racemate); each gives at least 28 distinct MMFF minima from 60 ETKDG candidates. Together they use
all of :data:`ATOM_TYPES` and :data:`BOND_TYPES`."""

FORCE_FIELDS = ("MMFF94", "MMFF94s")


def _rdkit():
    try:
        from rdkit import Chem, RDLogger, rdBase
    except ImportError as err:
        raise ImportError("the conformer data need RDKit: pip install rdkit") from err
    RDLogger.DisableLog("rdApp.*")  # RDKit's warnings would land on stderr, i.e. in checked notebook outputs
    return Chem, rdBase


def _heavy_mol(smiles: str):
    """The heavy-atom RDKit molecule of ``smiles`` (atom order of the SMILES), or a ValueError."""
    Chem, _ = _rdkit()
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) else None
    if mol is None:
        fail("smiles", "a SMILES string RDKit can parse", smiles)
    elements = {atom.GetSymbol() for atom in mol.GetAtoms()}
    if not elements <= set(ATOM_TYPES):
        fail("smiles", f"a molecule of the elements {ATOM_TYPES} (not {sorted(elements - set(ATOM_TYPES))})", smiles)
    return mol


@dataclass(frozen=True, eq=False)
class MoleculeGraph:
    """The heavy-atom graph of one molecule: atom types, bonds (``i < j``) and bond types, in the SMILES' atom order."""

    name: str
    smiles: str
    atom_types: np.ndarray  # int64 (n_atoms,), index into ATOM_TYPES
    bonds: np.ndarray  # int64 (n_bonds, 2), i < j
    bond_types: np.ndarray  # int64 (n_bonds,), index into BOND_TYPES

    @property
    def n_atoms(self) -> int:
        return len(self.atom_types)

    @classmethod
    def from_smiles(cls, name: str, smiles: str) -> MoleculeGraph:
        """The graph of ``smiles``: RDKit's heavy atoms in SMILES order, bonds sorted by ``(i, j)``."""
        Chem, _ = _rdkit()
        mol = _heavy_mol(smiles)
        codes = {Chem.BondType.SINGLE: 0, Chem.BondType.DOUBLE: 1, Chem.BondType.TRIPLE: 2, Chem.BondType.AROMATIC: 3}
        atom_types = np.array([ATOM_TYPES.index(a.GetSymbol()) for a in mol.GetAtoms()], dtype=np.int64)
        rows = []
        for b in mol.GetBonds():
            if b.GetBondType() not in codes:
                fail("smiles", f"a molecule with {', '.join(BOND_TYPES)} bonds only (not {b.GetBondType()})", smiles)
            i, j = sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
            rows.append((i, j, codes[b.GetBondType()]))
        rows = np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)
        return cls(name, smiles, atom_types, rows[:, :2].copy(), rows[:, 2].copy())


@dataclass(frozen=True, eq=False)
class Conformer:
    """One conformation: heavy-atom coordinates (float32, Å, mean at the origin) of molecule ``mol`` of a set."""

    mol: int
    coords: np.ndarray  # float32 (n_atoms, 3)


@validate(n_conformers=Int(2), n_test=Int(1), n_train=Optional(Int(1)), force_field=OneOf(*FORCE_FIELDS),
          max_iters=Int(1), prune_rms=Real(0), seed=Int(0, 2**31 - 1), version=Int(1))
@dataclass(frozen=True)
class ConformerRecipe:
    """Everything that determines the conformer data; :meth:`key` hashes it (with the RDKit version) for the cache.

    Defaults: 60 ETKDG candidates per molecule, pruned at 0.25 Å heavy-atom RMSD (before and after relaxation), MMFF94
    with at most 1000 steps (every candidate converges in fewer than 500), 8 held-out and 20 training conformers per
    molecule. The 16 molecules give 30-58 distinct minima each; building takes about 27 s of one CPU core.
    ``n_train=None`` trains on all conformers left after the ``n_test`` held-out ones of the molecule with the fewest
    distinct conformers. Bump ``version`` whenever the code that computes the data changes.
    """

    molecules: tuple[tuple[str, str], ...] = MOLECULES
    n_conformers: int = 60
    n_test: int = 8
    n_train: int | None = 20
    force_field: str = "MMFF94"
    max_iters: int = 1000
    prune_rms: float = 0.25
    seed: int = 20240402
    version: int = 1

    def __post_init__(self):
        try:
            molecules = tuple((str(n), str(s)) for n, s in self.molecules)
        except (TypeError, ValueError):
            molecules = ()
        names = [n for n, _ in molecules]
        if not molecules or len(set(names)) != len(names):
            fail("molecules", "a non-empty sequence of (name, smiles) pairs with distinct names", self.molecules)
        for _, smiles in molecules:
            _heavy_mol(smiles)
        object.__setattr__(self, "molecules", molecules)
        if self.n_test >= self.n_conformers:
            fail("n_test", f"< n_conformers = {self.n_conformers}", self.n_test)
        if self.n_train is not None and self.n_train > self.n_conformers - self.n_test:
            fail("n_train", f"None or <= n_conformers - n_test = {self.n_conformers - self.n_test}", self.n_train)

    def key(self) -> str:
        """16 hex digits of the SHA-256 of all fields and the RDKit version: a new key for any change."""
        _, rdBase = _rdkit()
        fields = {**asdict(self), "prune_rms": float(self.prune_rms), "rdkit": rdBase.rdkitVersion}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class ConformerSet:
    """Molecule graphs, training and held-out conformers, the recipe and its cache key.

    ``n_embedded`` and ``n_distinct`` count, per molecule, the ETKDG conformers kept by embedding-time pruning and the
    distinct relaxed minima; ``from_cache`` tells whether the set was read from disk (True) or computed (False).
    """

    graphs: tuple[MoleculeGraph, ...]
    train: list[Conformer]
    test: list[Conformer]
    recipe: ConformerRecipe
    key: str
    n_embedded: tuple[int, ...] = ()
    n_distinct: tuple[int, ...] = ()
    from_cache: bool = field(default=False)


def _molecule_conformers(smiles: str, recipe: ConformerRecipe) -> tuple[int, np.ndarray]:
    """ETKDG + MMFF conformers of one molecule: the number embedded and the distinct heavy-atom minima, lowest energy
    first, as ``(n_distinct, n_atoms, 3)`` float64 coordinates centred at the origin."""
    Chem, _ = _rdkit()
    from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolAlign

    mol = Chem.AddHs(_heavy_mol(smiles))
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = int(recipe.seed)
    params.numThreads = 1
    params.pruneRmsThresh = float(recipe.prune_rms)
    params.onlyHeavyAtomsForRMS = True
    ids = list(rdDistGeom.EmbedMultipleConfs(mol, int(recipe.n_conformers), params))
    if not ids:
        raise RuntimeError(f"RDKit could not embed {smiles!r}")
    results = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=int(recipe.max_iters),
                                                            mmffVariant=recipe.force_field)
    heavy = Chem.RemoveHs(mol)
    probe = Chem.Mol(heavy)  # GetBestRMS aligns the probe in place; keep `heavy` untouched
    order = sorted(range(len(ids)), key=lambda k: (results[k][1], k))
    kept: list[int] = []
    for k in order:
        if all(rdMolAlign.GetBestRMS(probe, heavy, ids[k], ids[j]) > recipe.prune_rms for j in kept):
            kept.append(k)
    coords = np.stack([heavy.GetConformer(ids[k]).GetPositions() for k in kept])
    return len(ids), coords - coords.mean(axis=1, keepdims=True)


def _build(recipe: ConformerRecipe, key: str) -> ConformerSet:
    graphs = tuple(MoleculeGraph.from_smiles(n, s) for n, s in recipe.molecules)
    n_embedded, minima = zip(*(_molecule_conformers(s, recipe) for _, s in recipe.molecules), strict=True)
    n_distinct = tuple(len(m) for m in minima)
    fewest = int(np.argmin(n_distinct))
    n_train = n_distinct[fewest] - recipe.n_test if recipe.n_train is None else recipe.n_train
    if n_train < 1 or n_distinct[fewest] < recipe.n_test + n_train:
        raise ValueError(f"{recipe.molecules[fewest][0]} has {n_distinct[fewest]} distinct conformers, too few for "
                         f"n_test = {recipe.n_test} and n_train = {recipe.n_train} (at least one); raise n_conformers, "
                         f"lower prune_rms, n_test or n_train")
    train, test = [], []
    for m, coords in enumerate(minima):
        order = np.random.default_rng([recipe.seed, m]).permutation(len(coords))
        test += [Conformer(m, coords[k].astype(np.float32)) for k in order[: recipe.n_test]]
        train += [Conformer(m, coords[k].astype(np.float32)) for k in order[recipe.n_test: recipe.n_test + n_train]]
    return ConformerSet(graphs, train, test, recipe, key, tuple(n_embedded), n_distinct, from_cache=False)


def _save(cs: ConformerSet, path: Path) -> None:
    """Write ``cs`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    confs = cs.train + cs.test
    g = cs.graphs
    arrays = {
        "key": np.array(cs.key), "names": np.array([x.name for x in g]), "smiles": np.array([x.smiles for x in g]),
        "atom_types": np.concatenate([x.atom_types for x in g]), "n_atoms": np.array([x.n_atoms for x in g]),
        "bonds": np.concatenate([x.bonds for x in g]), "bond_types": np.concatenate([x.bond_types for x in g]),
        "n_bonds": np.array([len(x.bonds) for x in g]),
        "coords": np.concatenate([c.coords for c in confs]).astype(np.float32),
        "conf_mol": np.array([c.mol for c in confs], dtype=np.int64),
        "conf_test": np.array([False] * len(cs.train) + [True] * len(cs.test)),
        "n_embedded": np.array(cs.n_embedded, dtype=np.int64), "n_distinct": np.array(cs.n_distinct, dtype=np.int64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, recipe: ConformerRecipe, key: str) -> ConformerSet:
    """Read a cached set; a KeyError/ValueError if the file is not the set of ``key``."""
    with np.load(path, allow_pickle=False) as z:
        if str(z["key"]) != key:
            raise ValueError(f"stored key {str(z['key'])!r} differs from the recipe's {key!r}")
        a = {k: z[k] for k in z.files}
    if [tuple(x) for x in zip(a["names"], a["smiles"], strict=True)] != list(recipe.molecules):
        raise ValueError("stored molecules differ from the recipe's")
    atom_split, bond_split = np.cumsum(a["n_atoms"])[:-1], np.cumsum(a["n_bonds"])[:-1]
    graphs = tuple(MoleculeGraph(str(n), str(s), t.astype(np.int64), b.astype(np.int64), bt.astype(np.int64))
                   for n, s, t, b, bt in zip(a["names"], a["smiles"], np.split(a["atom_types"], atom_split),
                                             np.split(a["bonds"], bond_split), np.split(a["bond_types"], bond_split),
                                             strict=True))
    sizes = a["n_atoms"][a["conf_mol"]]
    if sizes.sum() != len(a["coords"]):
        raise ValueError(f"stored coordinates hold {len(a['coords'])} atoms, the conformers need {sizes.sum()}")
    confs = [Conformer(int(m), x) for m, x in zip(a["conf_mol"], np.split(a["coords"], np.cumsum(sizes)[:-1]),
                                                  strict=True)]
    test = a["conf_test"]
    return ConformerSet(graphs, [c for c, t in zip(confs, test, strict=True) if not t],
                        [c for c, t in zip(confs, test, strict=True) if t], recipe, key,
                        tuple(int(x) for x in a["n_embedded"]), tuple(int(x) for x in a["n_distinct"]),
                        from_cache=True)


_CACHE = Optional(Instance((str, os.PathLike)))


@validate(recipe=Instance(ConformerRecipe), cache=_CACHE)
def cache_path(recipe: ConformerRecipe, cache: Path | None = None) -> Path:
    """Where :func:`load_conformers` keeps ``recipe``'s set: ``<cache or config.cache_dir()>/conformers-<key>.npz``."""
    folder = config.cache_dir() if cache is None else Path(cache)
    return folder / f"conformers-{recipe.key()}.npz"


@validate(recipe=Optional(Instance(ConformerRecipe)), cache=_CACHE)
def load_conformers(recipe: ConformerRecipe | None = None, *, cache: Path | None = None,
                    rebuild: bool = False) -> ConformerSet:
    """The conformer set of ``recipe``: read from the cache, or computed with RDKit (deterministic) and cached.

    Parameters
    ----------
    recipe
        The data recipe (default ``ConformerRecipe()``); any change of a field (or of the RDKit version) gives a
        new cache key, hence a rebuild.
    cache
        Folder of the cache file (default :func:`collapse_utils.config.cache_dir`).
    rebuild
        Compute and overwrite even if a cached file exists.

    Returns
    -------
    ConformerSet
        ``from_cache`` is True when read from disk. A cache file that cannot be read or holds another key is
        recomputed and overwritten, with a ``RuntimeWarning``.
    """
    recipe = ConformerRecipe() if recipe is None else recipe
    key = recipe.key()
    path = cache_path(recipe, cache)
    if path.exists() and not rebuild:
        try:
            return _load(path, recipe, key)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            warnings.warn(f"rebuilding the conformer cache {path.name}: {err}", RuntimeWarning, stacklevel=2)
    cs = _build(recipe, key)
    _save(cs, path)
    return cs
