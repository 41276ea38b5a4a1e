"""A GeoDiff-like denoising diffusion model of molecular conformations: schedule, training, test loss, sampler.

Model (Ho et al. 2020 "DDPM", as adapted to coordinates by Xu et al. 2022 "GeoDiff"): the heavy-atom coordinates
``x_0`` (Angstrom, centred) of a molecule are noised as ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``
with ``eps`` standard Gaussian noise projected on the zero-centre-of-mass subspace (each molecule's noise has mean
zero), and an E(3)-equivariant network (:class:`collapse_utils.models.egnn.EGNN`) learns to predict ``eps``. The
training loss, and the accumulate paper's "Loss (Test)" on held-out real conformers, is the noise-matching mean
squared error; here it is normalized per degree of freedom, ``||eps_hat - eps||^2 / (3 (n_atoms - 1))``, so that
predicting no noise at all scores 1.

Noise schedule: GeoDiff's sigmoid schedule of ``beta_t``. Its default runs from 1e-7 to 2e-3 over 5000 steps,
whose final ``alpha_bar`` is ``exp(-5.0) = 0.0067`` (noise-to-signal ratio ``sigma_T = sqrt((1 - alpha_bar)/alpha_bar)
= 12.2``, i.e. at the last step the clean structure (~1.5 Angstrom per axis) is scaled by 0.082 under unit noise);
the accumulate paper's run used 1e-7 to 9e-3 over 1000 steps (:data:`AUTHORS_STEPS`, :data:`AUTHORS_BETA_END`;
``sigma`` from 0.0047 to 9.5 Angstrom). Fewer steps keep a long schedule's noise range in one of two ways
(:func:`noise_schedule`): ``"rescale"`` multiplies both ends of the beta range by the one factor that keeps the final
``alpha_bar`` (the smallest noise level then grows: 0.027 Angstrom for 30 steps of the default), ``"respace"`` takes
the long schedule's ``alpha_bar`` at evenly spaced steps, first and last included (Nichol & Dhariwal 2021,
"Improved DDPM", section 4), which keeps both its smallest and its largest noise level and, training on steps drawn
uniformly, the long schedule's share of training at each noise level.

Test loss (:func:`losses_by_level`): the noise-matching error of held-out conformers at fixed evaluation steps, and
its split into GeoDiff's two parts. GeoDiff scores one number per atom pair (the change of the pair's distance) and
calls pairs at most three bonds apart **local** (its edge order 3: bond lengths, angles, torsions) and the other
pairs within 10 Angstrom **global**; the accumulate paper's "Loss (Test)" is its local loss. Our network predicts
per-atom noise, so the pair error is the prediction error projected on the pair,
``e_ij = ((eps_hat_i - eps_hat_j) - (eps_i - eps_j)) . u_ij`` with ``u_ij`` the unit vector between the noised atoms:
to first order in the noise, ``(eps_i - eps_j) . u_ij`` is GeoDiff's distance target ``(d_t - sqrt(alpha_bar) d_0) /
sqrt(1 - alpha_bar)``, so ``e_ij`` is GeoDiff's per-pair error on our network. Two normalizations: ``local`` and
``global`` average ``e_ij^2 / 2`` over a molecule's pairs of each kind (predicting no noise scores about 1, like the
total loss), and ``gd_local`` and ``gd_global`` mirror GeoDiff's own (``models/epsnet/dualenc.py``,
``get_loss_diffusion``): per atom, the squared length of the sum over its pairs of ``e_ij u_ij`` (``eq_transform``
over both directions of every pair), times 5 (local) or 2 (global), averaged over atoms; the global pairs there are
those within 10 Angstrom at the noised coordinates scaled back by ``sqrt(alpha_bar)``.

Training recipe (:class:`DiffusionRecipe`): Adam with a cosine-decayed learning rate, gradient-norm clipping, a
fixed number of **epochs over the training set** with one uniformly drawn step ``t`` per conformer and visit (so an
accumulated pool costs proportionally more compute, as in the accumulate paper), fresh initialization every fit.
The ``ci`` defaults (50 steps, a 32-wide 4-layer EGNN, batch 16, learning rate 1e-2, 20 epochs) were chosen for the
best generated geometry within about 6 s per fit of ~240 conformers (~17 heavy atoms) on one CPU thread; with
GeoDiff's own learning rate (1e-3, no decay) the same 20 epochs gave a test loss of 0.34 instead of 0.27 and a mean
bond-length error of the samples of 0.19 instead of 0.05 Angstrom. Sampling is DDPM's ancestral reverse process
(posterior variance ``beta_tilde``) from centred Gaussian noise, one network evaluation per step for each batch of
molecules. Models train on ``models.common.torch_device()``; random numbers are drawn on the CPU.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from collapse_utils.models.common import device_of, dtype_of, seeded, torch_device, torch_seed
from collapse_utils.models.egnn import (
    EGNN,
    EGNNConfig,
    center,
    concat_batches,
    local_edge_mask,
    make_batch,
    molecule_edges,
)
from collapse_utils.validation import check_int

GEODIFF_STEPS = 5000
"""GeoDiff's number of diffusion steps (its sigmoid schedule runs beta from 1e-7 to 2e-3 over these)."""
AUTHORS_STEPS = 1000
"""Diffusion steps of the accumulate paper's GeoDiff runs (``configs/drugs_1k_larger_*.yml`` of their fork)."""
AUTHORS_BETA_END = 9e-3
"""The last beta of the accumulate paper's sigmoid schedule (from 1e-7, over :data:`AUTHORS_STEPS` steps)."""
GEODIFF_CUTOFF = 10.0
"""GeoDiff's radius (Angstrom) of global pairs, at the noised coordinates."""
LOCAL_WEIGHT, GLOBAL_WEIGHT = 5.0, 2.0
"""GeoDiff's weights of its local and global per-atom losses."""
SCHEDULE_KINDS = ("sigmoid", "linear")
SPACINGS = ("rescale", "respace")
LOSS_PARTS = ("loss", "local", "global", "gd_local", "gd_global")
"""The test-loss components of :func:`losses_by_level` (see the module docstring)."""
LR_DECAYS = ("cosine", "none")
EVAL_CHUNK = 64
"""Molecules per network batch when scoring the test loss (the loss does not depend on it)."""


class NoiseSchedule(NamedTuple):
    """``betas``, ``alphas = 1 - betas`` and ``alpha_bars = cumprod(alphas)``, float64 arrays of length n_steps."""

    betas: np.ndarray
    alphas: np.ndarray
    alpha_bars: np.ndarray

    @property
    def sigmas(self) -> np.ndarray:
        """Noise-to-signal ratio ``sqrt((1 - alpha_bar) / alpha_bar)`` per step (Angstrom per unit of noise)."""
        return np.sqrt((1.0 - self.alpha_bars) / self.alpha_bars)


def _raw_betas(n_steps: int, beta_start: float, beta_end: float, kind: str) -> np.ndarray:
    if kind == "sigmoid":  # GeoDiff, models/epsnet/diffusion.py: sigmoid(linspace(-6, 6)) * (end - start) + start
        return 1.0 / (1.0 + np.exp(-np.linspace(-6.0, 6.0, n_steps))) * (beta_end - beta_start) + beta_start
    return np.linspace(beta_start, beta_end, n_steps)


def noise_schedule(n_steps: int, beta_start: float = 1e-7, beta_end: float = 2e-3, kind: str = "sigmoid", *,
                   match_steps: int | None = GEODIFF_STEPS, spacing: str = "rescale") -> NoiseSchedule:
    """The betas, alphas and alpha_bars of a diffusion with ``n_steps`` steps.

    Parameters
    ----------
    n_steps
        Number of diffusion steps (>= 2).
    beta_start, beta_end
        The beta range of the ``match_steps``-step schedule (GeoDiff: 1e-7 to 2e-3), 0 < start <= end < 1.
    kind
        ``"sigmoid"`` (GeoDiff) or ``"linear"`` (Ho et al. 2020).
    match_steps
        The long schedule that ``n_steps`` steps stand for; ``None`` uses the beta range as given over ``n_steps``.
    spacing
        How ``n_steps`` steps stand for ``match_steps``: ``"rescale"`` multiplies both ends of the beta range by the
        one factor that makes the final ``alpha_bar`` equal to the long schedule's (same final noise, larger first
        step); ``"respace"`` keeps the long schedule's ``alpha_bar`` at the steps ``round(linspace(0, match_steps -
        1, n_steps))`` and sets ``beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}`` (Nichol & Dhariwal 2021, section 4),
        so its first and last noise levels are the long schedule's (``n_steps <= match_steps``).

    Returns
    -------
    NoiseSchedule
        Float64 arrays ``betas``, ``alphas``, ``alpha_bars`` (index ``t = 0 .. n_steps - 1``; step ``t`` noises
        with ``alpha_bars[t]``).
    """
    n_steps = check_int("n_steps", n_steps, 2)
    for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
        if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    if beta_start > beta_end:
        raise ValueError(f"beta_start must be <= beta_end, got {beta_start!r} > {beta_end!r}")
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"kind must be one of {SCHEDULE_KINDS}, got {kind!r}")
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    if spacing == "respace":
        if match_steps is None or check_int("match_steps", match_steps, 2) < n_steps:
            raise ValueError(f"match_steps must be an integer >= n_steps = {n_steps} to respace, got {match_steps!r}")
        long = np.cumprod(1.0 - _raw_betas(match_steps, beta_start, beta_end, kind))
        kept = long[np.round(np.linspace(0, match_steps - 1, n_steps)).astype(np.int64)]
        betas = 1.0 - kept / np.concatenate([[1.0], kept[:-1]])
        return NoiseSchedule(betas, 1.0 - betas, kept)
    betas = _raw_betas(n_steps, beta_start, beta_end, kind)
    if match_steps is not None and check_int("match_steps", match_steps, 2) != n_steps:
        target = np.sum(np.log1p(-_raw_betas(match_steps, beta_start, beta_end, kind)))  # log alpha_bar_T
        lo, hi = 0.0, (1.0 - 1e-12) / betas.max()  # sum(log(1 - c betas)) falls from 0 to -inf over this range
        if np.sum(np.log1p(-hi * betas)) > target:
            raise ValueError(f"n_steps = {n_steps} is too few to reach the final alpha_bar of {match_steps} steps")
        for _ in range(200):  # bisection on the scale factor c
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.sum(np.log1p(-mid * betas)) > target else (lo, mid)
        betas = betas * 0.5 * (lo + hi)
    alphas = 1.0 - betas
    return NoiseSchedule(betas, alphas, np.cumprod(alphas))


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class DiffusionRecipe:
    """Schedule, network and training settings; every fit, test loss and sampler call of a chapter uses one recipe.

    The defaults are the ``ci`` recipe of the module docstring; the chapter's job sets the accumulate paper's
    schedule (``beta_end`` :data:`AUTHORS_BETA_END`, ``match_steps`` :data:`AUTHORS_STEPS`, ``spacing``
    ``"respace"``). GeoDiff itself uses 5000 steps, hidden 128 and 10 convolutions, Adam at 1e-3, batch 32.
    ``lr_decay`` is ``"cosine"`` (to 0 over the fit) or ``"none"``.
    """

    n_steps: int = 50
    beta_start: float = 1e-7
    beta_end: float = 2e-3
    schedule: str = "sigmoid"
    match_steps: int | None = GEODIFF_STEPS
    spacing: str = "rescale"
    egnn: EGNNConfig = field(default_factory=EGNNConfig)
    lr: float = 1e-2
    batch_size: int = 16
    epochs: int = 20
    grad_clip: float = 1.0
    lr_decay: str = "cosine"

    def __post_init__(self):
        for name in ("n_steps", "batch_size", "epochs"):
            check_int(name, getattr(self, name), 2 if name == "n_steps" else 1)
        _check_positive("lr", self.lr)
        _check_positive("grad_clip", self.grad_clip)
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        if not isinstance(self.egnn, EGNNConfig):
            raise ValueError(f"egnn must be an EGNNConfig, got {self.egnn!r}")
        self.noise_schedule()  # validates the schedule fields

    def noise_schedule(self) -> NoiseSchedule:
        """The recipe's :func:`noise_schedule`."""
        return noise_schedule(self.n_steps, self.beta_start, self.beta_end, self.schedule,
                              match_steps=self.match_steps, spacing=self.spacing)


# ---------------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------------


def _check_recipe(recipe) -> DiffusionRecipe:
    if not isinstance(recipe, DiffusionRecipe):
        raise ValueError(f"recipe must be a DiffusionRecipe, got {type(recipe).__name__}")
    return recipe


def _check_conformers(conformers, graphs) -> list:
    """The conformers as a list, after checking each one's molecule index and coordinate shape."""
    conformers = list(conformers)
    if not conformers:
        raise ValueError("conformers must hold at least one conformer")
    for k, c in enumerate(conformers):
        mol = c.mol
        if isinstance(mol, bool) or not isinstance(mol, (int, np.integer)) or not 0 <= mol < len(graphs):
            raise ValueError(f"conformers[{k}].mol must be an index in 0..{len(graphs) - 1}, got {mol!r}")
        coords = np.asarray(c.coords)
        n = graphs[mol].n_atoms
        if coords.shape != (n, 3):
            raise ValueError(f"conformers[{k}].coords must have shape ({n}, 3) for molecule {mol}, got "
                             f"{coords.shape}")
        if not np.all(np.isfinite(coords)):
            raise ValueError(f"conformers[{k}].coords must be finite")
    return conformers


def _stack(conformers, graphs, dtype=torch.float32, edges=None):
    """Molecule indices, the :class:`MoleculeBatch` and the centred flattened coordinates of some conformers."""
    mols = [int(c.mol) for c in conformers]
    batch = make_batch(graphs, mols, edges=edges)
    x0 = torch.from_numpy(np.concatenate([np.asarray(c.coords, dtype=np.float64) for c in conformers]))
    return mols, batch, center(x0, batch.graph_index, batch.n_graphs).to(dtype)


def _centred_noise(n_atoms: int, batch, gen: torch.Generator, dtype) -> torch.Tensor:
    return center(torch.randn(n_atoms, 3, generator=gen, dtype=dtype), batch.graph_index, batch.n_graphs)


def noise_coordinates(x0: torch.Tensor, alpha_bar: torch.Tensor, batch, gen: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward process: ``x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps`` with centred Gaussian ``eps``.

    Parameters
    ----------
    x0
        Centred clean coordinates of the batch's flattened atoms, (n_atoms_total, 3).
    alpha_bar
        ``alpha_bar_t`` of each molecule, (n_graphs,).
    batch
        The molecules (:func:`collapse_utils.models.egnn.make_batch`).
    gen
        CPU generator of the noise.

    Returns
    -------
    x_t, eps
        Both (n_atoms_total, 3); ``eps`` is standard normal projected on zero mean per molecule (Ho et al. 2020,
        eq. 4; the zero-centre-of-mass subspace as in GeoDiff and Hoogeboom et al. 2022).
    """
    eps = _centred_noise(len(x0), batch, gen, x0.dtype)
    a = alpha_bar.to(x0.dtype)[batch.graph_index, None]
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * eps, eps


def per_molecule_loss(eps_hat: torch.Tensor, eps: torch.Tensor, batch) -> torch.Tensor:
    """Noise-matching loss ``||eps_hat - eps||^2 / (3 (n_atoms - 1))`` of each molecule, shape (n_graphs,).

    ``3 (n_atoms - 1)`` is the dimension of the centred noise, so predicting ``eps_hat = 0`` scores 1 on average.
    """
    sq = torch.zeros(batch.n_graphs, dtype=eps.dtype, device=eps.device)
    sq = sq.index_add_(0, batch.graph_index, ((eps_hat - eps) ** 2).sum(dim=1))
    counts = torch.zeros_like(sq).index_add_(0, batch.graph_index, torch.ones_like(sq[batch.graph_index]))
    return sq / (3.0 * (counts - 1.0))


# ---------------------------------------------------------------------------------------------------------
# training and test loss
# ---------------------------------------------------------------------------------------------------------


def fit_diffusion(conformers, rng: np.random.Generator, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe()
                  ) -> EGNN:
    """Train a freshly initialized noise network on ``conformers`` (objects with ``.mol`` and ``.coords``).

    Parameters
    ----------
    conformers
        Training conformers; ``.mol`` indexes ``graphs``, ``.coords`` is (n_atoms, 3) in Angstrom (centred here).
    rng
        Seeds the initialization, the batch order, the steps ``t`` and the noise.
    graphs
        The molecules' ``MoleculeGraph`` objects.
    recipe
        The :class:`DiffusionRecipe`.

    Returns
    -------
    EGNN
        The trained network in eval mode, on ``models.common.torch_device()``.
    """
    return fit_diffusion_many([conformers], [rng], graphs=graphs, recipe=recipe)[0]


def fit_diffusion_many(trainings, rngs, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe()) -> list[EGNN]:
    """Train one fresh network per training set, all at once as a batched ensemble (:class:`EGNN` with members).

    Member ``k`` is initialized, shuffled, noised and updated exactly as :func:`fit_diffusion` would with
    ``rngs[k]`` (its own generators, its own Adam state and gradient clipping); the members only share the
    operations that run on their concatenated batches, which makes several seeds cheaper than one after another on
    a CPU. The training sets must have equal sizes (one policy's sets at one iteration do).
    """
    recipe = _check_recipe(recipe)
    sets = [_check_conformers(c, graphs) for c in trainings]
    if len(sets) != len(rngs) or len({len(c) for c in sets}) != 1:
        raise ValueError(f"trainings and rngs must pair up, with training sets of one size, got {len(sets)} sets of "
                         f"sizes {sorted({len(c) for c in sets})} and {len(rngs)} generators")
    seeds = [torch_seed(r) for r in rngs]
    device = torch_device()
    model = EGNN.stack([seeded(lambda: EGNN(recipe.egnn), s) for s in seeds]).to(device)
    gens = [torch.Generator().manual_seed(s + 1) for s in seeds]  # batch order, steps and noise (drawn on the CPU)
    edges = {m: molecule_edges(graphs[m]) for m in {int(c.mol) for c in sets[0] + [c for s in sets[1:] for c in s]}}
    alpha_bars = torch.tensor(recipe.noise_schedule().alpha_bars, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, foreach=True)
    n = len(sets[0])
    n_updates = recipe.epochs * -(-n // recipe.batch_size)
    decay = (lambda k: 0.5 * (1 + np.cos(np.pi * k / n_updates))) if recipe.lr_decay == "cosine" else (lambda k: 1.0)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(opt, decay)
    model.train()
    for _ in range(recipe.epochs):
        orders = [torch.randperm(n, generator=g).tolist() for g in gens]
        for start in range(0, n, recipe.batch_size):
            parts = []
            for confs, order, gen in zip(sets, orders, gens, strict=True):
                _, batch, x0 = _stack([confs[k] for k in order[start: start + recipe.batch_size]], graphs,
                                      edges=edges)
                ab = alpha_bars[torch.randint(0, recipe.n_steps, (batch.n_graphs,), generator=gen)]
                x_t, eps = noise_coordinates(x0, ab, batch, gen)
                parts.append((batch, x_t, eps, torch.sqrt((1 - ab) / ab)))
            batch, sizes = concat_batches([p[0] for p in parts])
            batch = batch.to(device)
            eps_hat = model(torch.cat([p[1] for p in parts]).to(device), torch.cat([p[3] for p in parts]).to(device),
                            batch, sizes if len(sets) > 1 else None)
            per_mol = per_molecule_loss(eps_hat, torch.cat([p[2] for p in parts]).to(device), batch)
            # the sum of the members' mean losses: each member's gradient is its own loss's
            loss = sum(chunk.mean() for chunk in torch.split(per_mol, [p[0].n_graphs for p in parts]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            _clip_per_member(model, recipe.grad_clip)
            opt.step()
            lr_schedule.step()
    model.eval()
    return [model.member(k).eval() for k in range(len(sets))]


def _clip_per_member(model: EGNN, max_norm: float) -> None:
    """``clip_grad_norm_`` for each member of the ensemble on its own (the leading axis of every parameter)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    sq = torch.stack([g.pow(2).flatten(1).sum(dim=1) for g in grads]).sum(dim=0)  # (n_members,)
    scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))


def evaluation_steps(recipe: DiffusionRecipe, n_levels: int = 10, n_fine: int = 0) -> np.ndarray:
    """The test loss's diffusion steps: ``n_levels`` spread evenly over ``0 .. n_steps - 1``, and the ``n_fine``
    smallest steps ``0 .. n_fine - 1`` besides (sorted, without repeats)."""
    n_levels = check_int("n_levels", n_levels, 1)
    n_fine = check_int("n_fine", n_fine, 0)
    if n_levels > recipe.n_steps:
        raise ValueError(f"n_levels must be <= n_steps = {recipe.n_steps}, got {n_levels}")
    if n_fine > recipe.n_steps:
        raise ValueError(f"n_fine must be <= n_steps = {recipe.n_steps}, got {n_fine}")
    spread = np.round(np.linspace(0, recipe.n_steps - 1, n_levels)).astype(np.int64)
    return np.union1d(spread, np.arange(n_fine, dtype=np.int64))


def level_weights(recipe: DiffusionRecipe, steps) -> np.ndarray:
    """Quadrature weights of the evaluation ``steps``: the share of the ``n_steps`` steps nearest to each (a tie
    goes to the smaller step), so that ``sum(weights * loss_at_steps)`` estimates the loss at a uniformly drawn step,
    the training objective (and, for a respaced schedule, GeoDiff's validation loss at a random step)."""
    steps = np.asarray(steps, dtype=np.int64)
    nearest = np.abs(np.arange(recipe.n_steps)[:, None] - steps[None, :]).argmin(axis=1)
    return np.bincount(nearest, minlength=len(steps)) / recipe.n_steps


def pair_losses(eps_hat: torch.Tensor, eps: torch.Tensor, x_t: torch.Tensor, alpha_bar: torch.Tensor, batch
                ) -> dict[str, torch.Tensor]:
    """GeoDiff's local and global losses of a noise prediction, per molecule (see the module docstring).

    Parameters
    ----------
    eps_hat, eps
        Predicted and true noise of the batch's flattened atoms, (n_atoms_total, 3).
    x_t
        The noised coordinates, (n_atoms_total, 3).
    alpha_bar
        ``alpha_bar_t`` of each molecule, (n_graphs,).
    batch
        The molecules with all ordered atom pairs as edges (:func:`collapse_utils.models.egnn.make_batch`).

    Returns
    -------
    dict
        Tensors of shape (n_graphs,): ``local`` and ``global``, the mean of ``e_ij^2 / 2`` over the molecule's pairs
        at most three bonds apart and the others (NaN for a molecule without such pairs); ``gd_local`` and
        ``gd_global``, the sums over the molecule's atoms of GeoDiff's per-atom losses
        ``w ||sum_j e_ij u_ij||^2`` (eq_transform over both directions of every pair; ``w`` = 5 local, 2 global;
        global pairs farther than :data:`GEODIFF_CUTOFF` at ``x_t / sqrt(alpha_bar)`` left out), and ``n_atoms``.
    """
    i, j = batch.edge_index
    diff = x_t.index_select(0, i) - x_t.index_select(0, j)
    dist = diff.norm(dim=1, keepdim=True).clamp(min=1e-12)
    u = diff / dist
    err = eps_hat - eps
    e = ((err.index_select(0, i) - err.index_select(0, j)) * u).sum(dim=1)  # GeoDiff's per-pair error, (n_edges,)
    local = local_edge_mask(batch).to(e.dtype)  # masks as weights: cheaper than boolean indexing on a CPU
    mol = batch.graph_index.index_select(0, i)
    near = (dist[:, 0] <= GEODIFF_CUTOFF * torch.sqrt(alpha_bar.to(e.dtype)).index_select(0, mol)).to(e.dtype)
    zeros = x_t.new_zeros(batch.n_graphs)

    def pair_mean(weight):  # 0 / 0 = NaN for a molecule without such pairs
        return zeros.index_add(0, mol, weight * e**2 / 2) / zeros.index_add(0, mol, weight)

    def geodiff(weight, factor):  # eq_transform: +score to the pair's first atom, -score to its second
        score = u * (weight * e)[:, None]
        per_atom = torch.zeros_like(x_t).index_add_(0, i, score).index_add_(0, j, -score)
        return zeros.index_add(0, batch.graph_index, factor * (per_atom**2).sum(dim=1))

    return {"local": pair_mean(local), "global": pair_mean(1 - local), "gd_local": geodiff(local, LOCAL_WEIGHT),
            "gd_global": geodiff((1 - local) * near, GLOBAL_WEIGHT),
            "n_atoms": zeros.index_add(0, batch.graph_index, torch.ones_like(x_t[:, 0]))}


@torch.no_grad()
def losses_by_level(model, conformers, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe(), seed: int = 0,
                    n_levels: int = 10, n_fine: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The test loss of ``model`` on ``conformers`` and its local and global parts at each evaluation step.

    Every conformer is noised at every step of :func:`evaluation_steps` (``n_levels``, ``n_fine``); the noise comes
    from ``seed`` alone, so every model is scored on identical noised inputs.

    Returns
    -------
    steps, losses
        The steps (float64) and, for each name of :data:`LOSS_PARTS`, a float64 array over the steps: ``loss``, the
        mean over conformers of ``||eps_hat - eps||^2 / (3 (n_atoms - 1))``; ``local`` and ``global``, the means
        of :func:`pair_losses`' pair means over the conformers that have such pairs (0 if none has); ``gd_local``
        and ``gd_global``, GeoDiff's per-atom losses averaged over all atoms, as its validation does.
    """
    recipe = _check_recipe(recipe)
    conformers = _check_conformers(conformers, graphs)
    seed = check_int("seed", seed, 0)
    steps = evaluation_steps(recipe, n_levels, n_fine)
    device, dtype = device_of(model), dtype_of(model)
    alpha_bars = recipe.noise_schedule().alpha_bars
    _, batch, x0 = _stack(conformers, graphs, dtype)
    chunks = []  # (atom slice, batch on the device) of at most EVAL_CHUNK molecules each
    for start in range(0, len(conformers), EVAL_CHUNK):
        mols = [int(c.mol) for c in conformers[start: start + EVAL_CHUNK]]
        first = int((batch.graph_index < start).sum())
        chunks.append((slice(first, first + sum(graphs[m].n_atoms for m in mols)), make_batch(graphs, mols, device)))
    gen = torch.Generator().manual_seed(seed)
    out = {name: [] for name in LOSS_PARTS}
    for t in steps:  # the same noise whatever the model and the chunking
        x_t, eps = noise_coordinates(x0, torch.full((batch.n_graphs,), float(alpha_bars[t])), batch, gen)
        sigma = float(np.sqrt((1 - alpha_bars[t]) / alpha_bars[t]))
        parts = []
        for atoms, part in chunks:
            x, target = x_t[atoms].to(device), eps[atoms].to(device)
            eps_hat = model(x, torch.full((part.n_graphs,), sigma, dtype=dtype, device=device), part)
            pairs = pair_losses(eps_hat, target, x, torch.full((part.n_graphs,), float(alpha_bars[t]),
                                                                 device=device), part)
            parts.append({"loss": per_molecule_loss(eps_hat, target, part), **pairs})
        level = {k: torch.cat([p[k] for p in parts]).cpu().double() for k in parts[0]}
        out["loss"].append(float(level["loss"].mean()))
        for k in ("local", "global"):  # over the molecules that have such pairs; none at all scores 0, as in GeoDiff
            has = ~torch.isnan(level[k])
            out[k].append(float(level[k][has].mean()) if bool(has.any()) else 0.0)
        for k in ("gd_local", "gd_global"):
            out[k].append(float(level[k].sum() / level["n_atoms"].sum()))
    return steps.astype(np.float64), {k: np.array(v) for k, v in out.items()}


class NoNoise(torch.nn.Module):
    """The null noise network: it predicts no noise (``eps_hat = 0``), the reference level of every test loss."""

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, batch) -> torch.Tensor:
        return torch.zeros_like(x)


def loss_by_level(model, conformers, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe(), seed: int = 0,
                  n_levels: int = 10, n_fine: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The steps and the total loss ``||eps_hat - eps||^2 / (3 (n_atoms - 1))`` at each (:func:`losses_by_level`)."""
    steps, losses = losses_by_level(model, conformers, graphs=graphs, recipe=recipe, seed=seed, n_levels=n_levels,
                                    n_fine=n_fine)
    return steps, losses["loss"]


def denoising_loss(model, conformers, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe(), seed: int = 0,
                   n_levels: int = 10, n_fine: int = 0) -> dict[str, float]:
    """The test loss of the accumulate paper's diffusion study and its parts, averaged over noise levels and by level.

    For each name of :data:`LOSS_PARTS` (``loss``, ``local``, ``global``, ``gd_local``, ``gd_global``; see
    :func:`losses_by_level`): ``name``, the :func:`level_weights` average over the evaluation steps (an estimate of
    the part at a uniformly drawn step, as GeoDiff's validation draws one), and ``name_t{t}`` at each step ``t``.
    """
    steps, losses = losses_by_level(model, conformers, graphs=graphs, recipe=recipe, seed=seed, n_levels=n_levels,
                                    n_fine=n_fine)
    weights = level_weights(recipe, steps)
    out = {name: float(weights @ values) for name, values in losses.items()}
    for name, values in losses.items():
        out.update({f"{name}_t{int(t)}": float(v) for t, v in zip(steps, values, strict=True)})
    return out


# ---------------------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------------------


X0_CLIP = 25.0
"""Largest distance (Å) of a denoised atom from its molecule's centre that the sampler accepts (see
:func:`_clip_denoised`); real heavy-atom conformers of these molecules stay within about 10 Å."""


def _clip_denoised(x: torch.Tensor, eps_hat: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """``eps_hat`` unchanged, unless the denoised estimate ``x0 = (x - sqrt(1 - ab) eps) / sqrt(ab)`` puts an atom
    farther than :data:`X0_CLIP` from the centre: then that atom's ``x0`` is pulled back radially to the limit
    (rotation-equivariant) and ``eps_hat`` recomputed from it. The usual "clip the denoised sample" of DDPM samplers;
    it only acts on a model that diverges (a briefly trained one with many steps), where it stops a blow-up."""
    x0 = (x - np.sqrt(1 - alpha_bar) * eps_hat) / np.sqrt(alpha_bar)
    norms = x0.norm(dim=1, keepdim=True)
    if not bool((norms > X0_CLIP).any()):
        return eps_hat
    x0 = x0 * torch.clamp(X0_CLIP / norms, max=1.0)
    return (x - np.sqrt(alpha_bar) * x0) / np.sqrt(1 - alpha_bar)


@torch.no_grad()
def _reverse(model, batch, gen: torch.Generator, sched: NoiseSchedule, keep_path: bool):
    """DDPM's ancestral reverse process for the molecules of ``batch``: final coordinates and (optionally) the path."""
    device, dtype = device_of(model), dtype_of(model)
    dev_batch = batch.to(device)
    x = _centred_noise(len(batch.atom_types), batch, gen, dtype)
    path = [x.clone()] if keep_path else []
    for t in range(len(sched.betas) - 1, -1, -1):
        beta, alpha, ab = sched.betas[t], sched.alphas[t], sched.alpha_bars[t]
        sigma = torch.full((batch.n_graphs,), float(np.sqrt((1 - ab) / ab)), dtype=dtype)
        eps_hat = _clip_denoised(x, model(x.to(device), sigma.to(device), dev_batch).to("cpu", dtype), ab)
        x = (x - float(beta / np.sqrt(1 - ab)) * eps_hat) / float(np.sqrt(alpha))
        if t > 0:
            var = beta * (1 - sched.alpha_bars[t - 1]) / (1 - ab)
            x = x + float(np.sqrt(var)) * _centred_noise(len(x), batch, gen, dtype)
        x = center(x, batch.graph_index, batch.n_graphs)
        if keep_path:
            path.append(x.clone())
    return x, path


def sample_conformers(model, mols, rng: np.random.Generator, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe(),
                      conformer_cls=None, return_trajectory: bool = False, chunk_size: int = 64):
    """New conformers of the molecules ``mols`` by DDPM's ancestral reverse process (Ho et al. 2020, Alg. 2).

    ``x_T`` is centred standard Gaussian noise; for ``t = T-1, ..., 0``:
    ``x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sqrt(beta_tilde_t) z``
    with ``beta_tilde_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)`` (0 at the last step) and centred noise
    ``z``. The molecules run in batches of ``chunk_size``: ``n_steps`` network evaluations per batch.

    Parameters
    ----------
    model
        The noise network (called as ``model(x, sigma, batch)``).
    mols
        Molecule indices into ``graphs``, one per conformer to generate (repeats allowed).
    rng
        Seeds the noise.
    graphs, recipe
        As for :func:`fit_diffusion`.
    conformer_cls
        The class of the returned conformers, called as ``conformer_cls(mol=..., coords=...)``; default
        ``collapse_utils.data.conformers.Conformer``.
    return_trajectory
        Also return each conformer's path, an array (n_steps + 1, n_atoms, 3) from ``x_T`` to ``x_0``.
    chunk_size
        Molecules per network batch (>= 1). The result depends on it (the noise is drawn chunk by chunk); on one CPU
        thread 64 or 128 molecules of ~17 atoms per batch ran ~1.9x faster per molecule than 240 (memory caches).

    Returns
    -------
    list
        The conformers (coordinates float32, centred), and with ``return_trajectory`` a list of the trajectories.
    """
    mols = list(mols)
    if not mols:
        raise ValueError("mols must name at least one molecule")
    bad = [m for m in mols if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 0 <= m < len(graphs)]
    if bad:
        raise ValueError(f"mols must be indices in 0..{len(graphs) - 1}, got {bad[0]!r}")
    chunk_size = check_int("chunk_size", chunk_size, 1)
    recipe = _check_recipe(recipe)
    if conformer_cls is None:
        from collapse_utils.data.conformers import Conformer as conformer_cls
    sched = recipe.noise_schedule()
    gen = torch.Generator().manual_seed(torch_seed(rng))
    out, paths = [], []
    for start in range(0, len(mols), chunk_size):
        part = mols[start: start + chunk_size]
        x, path = _reverse(model, make_batch(graphs, part), gen, sched, return_trajectory)
        bounds = np.cumsum([0] + [graphs[m].n_atoms for m in part])
        coords = x.numpy().astype(np.float32)
        out += [conformer_cls(mol=int(m), coords=coords[a:b].copy())
                for m, (a, b) in zip(part, itertools.pairwise(bounds), strict=True)]
        if return_trajectory:
            stacked = torch.stack(path).numpy().astype(np.float32)
            paths += [stacked[:, a:b].copy() for a, b in itertools.pairwise(bounds)]
    return (out, paths) if return_trajectory else out


def sample_like(model, real_train, rng: np.random.Generator, *, graphs, recipe: DiffusionRecipe = DiffusionRecipe()
                ) -> list:
    """As many new conformers of each molecule as ``real_train`` holds, in its order and of its conformer class.

    The loop runner's ``sample(model, n, rng)`` with ``n = len(real_train)``:
    ``lambda m, n, rng: sample_like(m, real_train, rng, graphs=graphs, recipe=recipe)``.
    """
    real_train = _check_conformers(real_train, graphs)
    return sample_conformers(model, [int(c.mol) for c in real_train], rng, graphs=graphs, recipe=recipe,
                             conformer_cls=type(real_train[0]))


@dataclass
class DiffusionFamily:
    """The EGNN diffusion model as a model family of the feedback loop (:class:`collapse_utils.protocol.ModelFamily`).

    ``fit`` trains a fresh network (:func:`fit_diffusion`), ``evaluate`` returns the test loss and its local and global
    parts on the real ``test`` conformers by noise level (:func:`denoising_loss`, evaluation noise from the seed's
    evaluation stream), and
    ``sample`` generates as many conformers of each molecule as ``real_train`` holds (:func:`sample_like`).
    """

    graphs: list
    recipe: DiffusionRecipe
    real_train: list
    test: list
    n_levels: int = 10
    n_fine: int = 0

    def fit(self, train, ctx) -> EGNN:
        return fit_diffusion(train, ctx.rng("fit"), graphs=self.graphs, recipe=self.recipe)

    def fit_many(self, trains, ctxs) -> list[EGNN]:
        return fit_diffusion_many(trains, [c.rng("fit") for c in ctxs], graphs=self.graphs, recipe=self.recipe)

    def evaluate(self, model: EGNN, ctx) -> dict[str, float]:
        return denoising_loss(model, self.test, graphs=self.graphs, recipe=self.recipe,
                              seed=torch_seed(ctx.rng("evaluate")), n_levels=self.n_levels, n_fine=self.n_fine)

    def sample(self, model: EGNN, n: int, ctx) -> list:
        if n % len(self.real_train):
            raise ValueError(f"n must be a multiple of the {len(self.real_train)} real training conformers, got {n}")
        rng = ctx.rng("sample")
        return [c for _ in range(n // len(self.real_train))
                for c in sample_like(model, self.real_train, rng, graphs=self.graphs, recipe=self.recipe)]


__all__ = [
    "AUTHORS_BETA_END",
    "AUTHORS_STEPS",
    "GEODIFF_CUTOFF",
    "GEODIFF_STEPS",
    "LOSS_PARTS",
    "DiffusionFamily",
    "DiffusionRecipe",
    "NoNoise",
    "NoiseSchedule",
    "denoising_loss",
    "evaluation_steps",
    "fit_diffusion",
    "level_weights",
    "loss_by_level",
    "losses_by_level",
    "noise_coordinates",
    "noise_schedule",
    "pair_losses",
    "per_molecule_loss",
    "sample_conformers",
    "sample_like",
]
