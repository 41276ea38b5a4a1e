"""The GeoDiff-like coordinate diffusion model (collapse_utils.models.diffusion): schedule, loss, sampler, training.

Molecules and conformers are built here with the stand-ins of ``MoleculeGraph`` and ``Conformer`` in
``molecule_standins.py``, so that these tests need no RDKit. Fake noise networks (an exact denoiser of a single
conformer, a zero predictor, a recorder) test the algebra independently of any training.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported before torch starts
from collapse_utils import config

torch = pytest.importorskip("torch")

from molecule_standins import Conf, Graph  # noqa: E402
from torch import nn  # noqa: E402

from collapse_utils.models.diffusion import (  # noqa: E402
    AUTHORS_BETA_END,
    AUTHORS_STEPS,
    GEODIFF_STEPS,
    LOSS_PARTS,
    DiffusionRecipe,
    NoNoise,
    denoising_loss,
    evaluation_steps,
    fit_diffusion,
    level_weights,
    loss_by_level,
    losses_by_level,
    noise_coordinates,
    noise_schedule,
    pair_losses,
    per_molecule_loss,
    sample_conformers,
    sample_like,
)
from collapse_utils.models.egnn import EGNN, EGNNConfig, make_batch  # noqa: E402


def chain(n: int, name: str) -> Graph:
    bonds = np.array([[k, k + 1] for k in range(n - 1)], dtype=np.int64)
    return Graph(name, "", np.arange(n, dtype=np.int64) % 3, bonds, np.zeros(n - 1, dtype=np.int64), n)


GRAPHS = (chain(6, "a"), chain(8, "b"))
TINY = DiffusionRecipe(n_steps=10, egnn=EGNNConfig(hidden=16, n_layers=2, n_rbf=8), epochs=2, batch_size=4)


def conformer(mol: int, seed: int) -> Conf:
    x = np.random.default_rng(seed).normal(0, 1.5, (GRAPHS[mol].n_atoms, 3))
    return Conf(mol, (x - x.mean(0)).astype(np.float32))


def dataset(n_per_mol: int = 3) -> list[Conf]:
    return [conformer(m, 10 * m + k) for m in (0, 1) for k in range(n_per_mol)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)
    yield
    config.set_threads(1)


class ExactDenoiser(nn.Module):
    """The exact noise of a point-mass data set (every conformer of molecule 0 equals ``x0``): ``eps`` from ``x_t``."""

    def __init__(self, x0: np.ndarray):
        super().__init__()
        self.x0 = torch.from_numpy(np.asarray(x0, dtype=np.float64))
        self.anchor = nn.Parameter(torch.zeros(1, dtype=torch.float64))  # makes the sampler work in float64
        self.calls = 0

    def forward(self, x, sigma, batch):
        self.calls += 1
        alpha_bar = (1 / (1 + sigma**2))[batch.graph_index, None]
        x0 = self.x0.repeat(batch.n_graphs, 1)
        return (x - torch.sqrt(alpha_bar) * x0) / torch.sqrt(1 - alpha_bar)


class Zero(nn.Module):
    """Predicts no noise; records its inputs."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x, sigma, batch):
        self.inputs.append((x.clone(), sigma.clone()))
        return torch.zeros_like(x)


# ---------------------------------------------------------------------------------------------------------
# noise schedule
# ---------------------------------------------------------------------------------------------------------


def test_geodiff_schedule_runs_from_about_5e_6_to_2e_3_and_ends_at_alpha_bar_exp_minus_5():
    s = noise_schedule(GEODIFF_STEPS)
    assert s.betas.shape == s.alphas.shape == s.alpha_bars.shape == (GEODIFF_STEPS,)
    assert s.betas[0] == pytest.approx(1e-7 + (2e-3 - 1e-7) / (1 + math.exp(6)), rel=1e-12)
    assert s.betas[-1] == pytest.approx(1e-7 + (2e-3 - 1e-7) / (1 + math.exp(-6)), rel=1e-12)
    # sum of the sigmoid betas ~ 5000 * (2e-3 / 2): alpha_bar_T ~ exp(-5); sigma_T = sqrt((1 - ab) / ab) ~ 12.2
    assert s.alpha_bars[-1] == pytest.approx(0.006708, rel=1e-3)
    assert s.sigmas[-1] == pytest.approx(12.17, abs=0.01)


@pytest.mark.parametrize("n_steps", [2, 30, 50, 100, 1000])
def test_shorter_schedules_keep_geodiffs_noise_range(n_steps):
    s = noise_schedule(n_steps)
    ref = noise_schedule(GEODIFF_STEPS)
    assert s.betas.shape == (n_steps,)
    assert np.all((s.betas > 0) & (s.betas < 1))
    assert np.all(np.diff(s.betas) > 0) and np.all(np.diff(s.alpha_bars) < 0)
    np.testing.assert_allclose(s.alphas, 1 - s.betas, rtol=0, atol=0)
    np.testing.assert_allclose(s.alpha_bars, np.cumprod(s.alphas), rtol=1e-12)
    assert s.alpha_bars[-1] == pytest.approx(ref.alpha_bars[-1], rel=1e-9)
    assert s.betas[-1] / s.betas[0] == pytest.approx(ref.betas[-1] / ref.betas[0], rel=1e-9)  # one scale factor
    if n_steps >= 30:
        assert s.alpha_bars[0] > 0.99  # the first step barely perturbs the data
        assert np.sqrt(1 - s.alpha_bars[0]) < 0.03  # under 0.03 Angstrom of noise per coordinate


def test_the_ci_schedule_swamps_the_structure_at_the_last_step():
    s = DiffusionRecipe().noise_schedule()
    assert len(s.betas) == 50
    # a clean coordinate of ~1.5 Angstrom enters x_T with weight sqrt(alpha_bar_T) = 0.082; the noise with ~1
    assert np.sqrt(s.alpha_bars[-1]) * 1.5 < 0.13 and np.sqrt(1 - s.alpha_bars[-1]) > 0.99


def test_unmatched_and_linear_schedules_use_the_given_range():
    s = noise_schedule(100, 1e-4, 2e-2, "linear", match_steps=None)
    np.testing.assert_allclose(s.betas, np.linspace(1e-4, 2e-2, 100), rtol=1e-12)
    u = noise_schedule(100, match_steps=None)
    assert u.betas[-1] < 2e-3 and u.alpha_bars[-1] > 0.9  # 100 GeoDiff-sized steps hardly noise at all


@pytest.mark.parametrize("n_steps", [2, 30, 200, 1000])
def test_respaced_schedules_keep_the_authors_first_and_last_noise_level(n_steps):
    long = noise_schedule(AUTHORS_STEPS, 1e-7, AUTHORS_BETA_END, match_steps=None)
    s = noise_schedule(n_steps, 1e-7, AUTHORS_BETA_END, match_steps=AUTHORS_STEPS, spacing="respace")
    kept = np.round(np.linspace(0, AUTHORS_STEPS - 1, n_steps)).astype(int)
    np.testing.assert_allclose(s.alpha_bars, long.alpha_bars[kept], rtol=1e-12)
    np.testing.assert_allclose(np.cumprod(1 - s.betas), s.alpha_bars, rtol=1e-12)  # betas consistent with them
    np.testing.assert_allclose(s.alphas, 1 - s.betas, rtol=0, atol=0)
    assert np.all((s.betas > 0) & (s.betas < 1))
    assert s.sigmas[0] == pytest.approx(long.sigmas[0], rel=1e-9)
    assert s.sigmas[-1] == pytest.approx(long.sigmas[-1], rel=1e-9)
    # the authors' range: sigma_1 = sqrt(beta_1 / (1 - beta_1)) ~ 0.0047 A, sigma_T ~ 9.5 A
    assert s.sigmas[0] == pytest.approx(0.00473, abs=1e-5) and s.sigmas[-1] == pytest.approx(9.52, abs=0.01)
    if n_steps == AUTHORS_STEPS:
        np.testing.assert_allclose(s.betas, long.betas, rtol=1e-9)


def test_respacing_keeps_a_finer_first_level_than_rescaling():
    rescaled = noise_schedule(30, 1e-7, AUTHORS_BETA_END, match_steps=AUTHORS_STEPS)
    respaced = noise_schedule(30, 1e-7, AUTHORS_BETA_END, match_steps=AUTHORS_STEPS, spacing="respace")
    assert rescaled.alpha_bars[-1] == pytest.approx(respaced.alpha_bars[-1], rel=1e-9)  # the same last level
    assert respaced.sigmas[0] < rescaled.sigmas[0] / 4  # 0.0047 A against about 0.026 A


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(n_steps=1), "n_steps must be an integer >= 2, got 1"),
    (dict(n_steps=10, spacing="even"), "spacing must be one of ('rescale', 'respace'), got 'even'"),
    (dict(n_steps=10, match_steps=None, spacing="respace"),
     "match_steps must be an integer >= n_steps = 10 to respace, got None"),
    (dict(n_steps=10, match_steps=5, spacing="respace"),
     "match_steps must be an integer >= n_steps = 10 to respace, got 5"),
    (dict(n_steps=10, beta_start=0.0), "beta_start must be a number in (0, 1), got 0.0"),
    (dict(n_steps=10, beta_end=1.0), "beta_end must be a number in (0, 1), got 1.0"),
    (dict(n_steps=10, beta_start=1e-2, beta_end=1e-3), "beta_start must be <= beta_end, got 0.01 > 0.001"),
    (dict(n_steps=10, kind="cosine"), "kind must be one of ('sigmoid', 'linear'), got 'cosine'"),
    (dict(n_steps=10, match_steps=0), "match_steps must be an integer >= 2, got 0"),
])
def test_schedule_rejects_bad_parameters_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        noise_schedule(**kwargs)


def test_noised_coordinates_have_the_forward_process_variance():
    """Var(x_t) per coordinate = alpha_bar Var(x_0) + (1 - alpha_bar)(n - 1)/n for centred noise."""
    conf = conformer(1, 0)
    n_copies = 4000
    batch = make_batch(GRAPHS, [1] * n_copies)
    x0 = torch.from_numpy(np.tile(conf.coords.astype(np.float64), (n_copies, 1)))
    ab = float(DiffusionRecipe().noise_schedule().alpha_bars[-1])
    x_t, eps = noise_coordinates(x0, torch.full((n_copies,), ab), batch, torch.Generator().manual_seed(0))
    n = GRAPHS[1].n_atoms
    means = torch.zeros(n_copies, 3, dtype=torch.float64).index_add_(0, batch.graph_index, eps)
    assert float(means.abs().max()) < 1e-12  # the noise is centred per molecule
    torch.testing.assert_close(x_t, math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps)
    per_atom = x_t.reshape(n_copies, n, 3)
    var = float(per_atom.var(dim=0).mean())
    expected = (1 - ab) * (n - 1) / n  # the clean part is the same in every copy
    assert var == pytest.approx(expected, rel=0.03)
    assert float(per_atom.mean(dim=0).sub(math.sqrt(ab) * x0[:n]).abs().max()) < 0.06


# ---------------------------------------------------------------------------------------------------------
# recipe
# ---------------------------------------------------------------------------------------------------------


def test_recipe_defaults_are_the_ci_recipe_and_it_is_frozen():
    r = DiffusionRecipe()
    assert (r.n_steps, r.beta_start, r.beta_end, r.schedule, r.match_steps, r.spacing) == (
        50, 1e-7, 2e-3, "sigmoid", 5000, "rescale")
    assert (r.lr, r.batch_size, r.epochs, r.grad_clip, r.lr_decay) == (1e-2, 16, 20, 1.0, "cosine")
    assert r.egnn == EGNNConfig()
    with pytest.raises(AttributeError):
        r.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("n_steps", 1, "n_steps must be an integer >= 2, got 1"),
    ("epochs", 0, "epochs must be an integer >= 1, got 0"),
    ("batch_size", 2.0, "batch_size must be an integer >= 1, got 2.0"),
    ("lr", -1e-3, "lr must be a finite number > 0, got -0.001"),
    ("grad_clip", float("inf"), "grad_clip must be a finite number > 0, got inf"),
    ("lr_decay", "step", "lr_decay must be one of ('cosine', 'none'), got 'step'"),
    ("egnn", {"hidden": 8}, "egnn must be an EGNNConfig, got {'hidden': 8}"),
    ("schedule", "cosine", "kind must be one of ('sigmoid', 'linear'), got 'cosine'"),
    ("spacing", "log", "spacing must be one of ('rescale', 'respace'), got 'log'"),
])
def test_recipe_rejects_bad_fields_naming_them(field, value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        DiffusionRecipe(**{field: value})


# ---------------------------------------------------------------------------------------------------------
# test loss
# ---------------------------------------------------------------------------------------------------------


def test_evaluation_steps_spread_over_the_schedule_plus_the_finest():
    assert evaluation_steps(DiffusionRecipe(), 10).tolist() == [0, 5, 11, 16, 22, 27, 33, 38, 44, 49]
    assert evaluation_steps(DiffusionRecipe(n_steps=30), 10, 3).tolist() == [0, 1, 2, 3, 6, 10, 13, 16, 19, 23,
                                                                             26, 29]
    assert evaluation_steps(TINY, 10).tolist() == list(range(10))
    with pytest.raises(ValueError, match=r"^n_levels must be <= n_steps = 10, got 11$"):
        evaluation_steps(TINY, 11)
    with pytest.raises(ValueError, match=r"^n_fine must be <= n_steps = 10, got 11$"):
        evaluation_steps(TINY, 2, 11)


@pytest.mark.parametrize(("n_steps", "n_levels", "n_fine"), [(30, 10, 3), (50, 10, 0), (10, 10, 0), (7, 2, 1)])
def test_level_weights_give_each_step_to_its_nearest_level(n_steps, n_levels, n_fine):
    recipe = DiffusionRecipe(n_steps=n_steps)
    steps = evaluation_steps(recipe, n_levels, n_fine)
    weights = level_weights(recipe, steps)
    counts = np.zeros(len(steps))
    for t in range(n_steps):  # slow literal rule: nearest level, ties to the smaller step
        distances = [abs(t - int(s)) for s in steps]
        counts[distances.index(min(distances))] += 1
    np.testing.assert_allclose(weights, counts / n_steps, rtol=0, atol=1e-15)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    if n_levels == n_steps:
        np.testing.assert_allclose(weights, 1 / n_steps)  # every step scored: the plain mean


def test_predicting_no_noise_scores_one_and_the_exact_noise_scores_zero():
    point = dataset(1)[0]  # molecule 0
    conformers = [point] * 200
    zero = denoising_loss(Zero(), conformers, graphs=GRAPHS, recipe=TINY)
    assert zero["loss"] == pytest.approx(1.0, abs=0.03)  # 200 x 10 draws of 15 degrees of freedom
    exact = denoising_loss(ExactDenoiser(point.coords), conformers[:5], graphs=GRAPHS, recipe=TINY)
    assert exact["loss"] < 1e-12


def test_the_null_network_predicts_no_noise_and_scores_the_null_level():
    conformers = [dataset(1)[0]] * 100
    out = denoising_loss(NoNoise(), conformers, graphs=GRAPHS, recipe=TINY)
    zero = denoising_loss(Zero(), conformers, graphs=GRAPHS, recipe=TINY)
    assert out == zero and out["loss"] == pytest.approx(1.0, abs=0.05)


def test_loss_reports_the_average_and_every_level_with_fixed_evaluation_noise():
    conformers = dataset()
    a, b = Zero(), Zero()
    out = denoising_loss(a, conformers, graphs=GRAPHS, recipe=TINY, n_levels=4)
    denoising_loss(b, conformers, graphs=GRAPHS, recipe=TINY, n_levels=4)
    steps = evaluation_steps(TINY, 4)
    assert list(out) == [*LOSS_PARTS, *(f"{name}_t{t}" for name in LOSS_PARTS for t in steps)]
    weights = level_weights(TINY, steps)
    assert weights.tolist() == [0.2, 0.3, 0.3, 0.2]  # steps 0, 3, 6, 9 of 10: 0-1, 2-4, 5-7, 8-9
    for name in LOSS_PARTS:
        assert out[name] == pytest.approx(weights @ [out[f"{name}_t{t}"] for t in steps], rel=1e-12)
    assert len(a.inputs) == 4
    for (xa, sa), (xb, sb) in zip(a.inputs, b.inputs, strict=True):  # identical noised inputs for every model
        assert torch.equal(xa, xb) and torch.equal(sa, sb)
    c = Zero()
    denoising_loss(c, conformers, graphs=GRAPHS, recipe=TINY, n_levels=4, seed=1)
    assert not torch.equal(a.inputs[0][0], c.inputs[0][0])
    s_ab = TINY.noise_schedule().sigmas[steps]
    np.testing.assert_allclose([float(s[0]) for _, s in a.inputs], s_ab, rtol=1e-6)


def test_loss_by_level_does_not_depend_on_how_the_test_set_is_chunked(monkeypatch):
    net = fit_diffusion(dataset(), np.random.default_rng(0), graphs=GRAPHS, recipe=TINY)
    conformers = dataset(4)
    steps, whole = loss_by_level(net, conformers, graphs=GRAPHS, recipe=TINY, n_levels=3)
    from collapse_utils.models import diffusion

    monkeypatch.setattr(diffusion, "EVAL_CHUNK", 3)
    _, chunked = loss_by_level(net, conformers, graphs=GRAPHS, recipe=TINY, n_levels=3)
    assert steps.tolist() == [0, 4, 9]
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)


def literal_pair_losses(eps_hat, eps, x_t, alpha_bar, graph):
    """GeoDiff's two losses of one molecule by loops over atom pairs (numpy, float64): the reference for
    :func:`pair_losses`. Local pairs: at most three bonds apart by breadth-first search."""
    n = graph.n_atoms
    neighbours = {k: set() for k in range(n)}
    for a, b in graph.bonds:
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))
    hops = np.full((n, n), 99)
    for start in range(n):
        hops[start, start], frontier, depth = 0, {start}, 0
        while frontier:
            depth += 1
            frontier = {b for a in frontier for b in neighbours[a] if hops[start, b] == 99}
            for b in frontier:
                hops[start, b] = depth
    sums, counts = {"local": 0.0, "global": 0.0}, {"local": 0, "global": 0}
    per_atom = {"gd_local": np.zeros((n, 3)), "gd_global": np.zeros((n, 3))}
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = x_t[i] - x_t[j]
            u = d / np.linalg.norm(d)
            e = float(((eps_hat[i] - eps_hat[j]) - (eps[i] - eps[j])) @ u)
            kind = "local" if hops[i, j] <= 3 else "global"
            sums[kind] += e**2 / 2
            counts[kind] += 1
            if kind == "local" or np.linalg.norm(d) / np.sqrt(alpha_bar) <= 10.0:
                per_atom[f"gd_{kind}"][i] += e * u  # eq_transform of the pair (i, j) ...
                per_atom[f"gd_{kind}"][j] -= e * u  # ... on both of its atoms
    return {"local": sums["local"] / counts["local"], "global": sums["global"] / counts["global"],
            "gd_local": 5.0 * float((per_atom["gd_local"] ** 2).sum()),
            "gd_global": 2.0 * float((per_atom["gd_global"] ** 2).sum()), "n_atoms": n}


@pytest.mark.parametrize("alpha_bar", [0.999, 0.5, 0.002])
def test_pair_losses_match_a_loop_over_atom_pairs(alpha_bar):
    g = np.random.default_rng(3)
    conformers = [conformer(0, 1), conformer(1, 2)]
    batch = make_batch(GRAPHS, [c.mol for c in conformers])
    x0 = torch.from_numpy(np.concatenate([c.coords for c in conformers]).astype(np.float64))
    ab = torch.full((2,), alpha_bar, dtype=torch.float64)
    x_t, eps = noise_coordinates(x0, ab, batch, torch.Generator().manual_seed(4))
    eps_hat = eps + torch.from_numpy(g.normal(0, 0.3, eps.shape))
    got = pair_losses(eps_hat, eps, x_t, ab, batch)
    start = 0
    for k, c in enumerate(conformers):
        atoms = slice(start, start + GRAPHS[c.mol].n_atoms)
        start = atoms.stop
        want = literal_pair_losses(eps_hat[atoms].numpy(), eps[atoms].numpy(), x_t[atoms].numpy(), alpha_bar,
                                   GRAPHS[c.mol])
        for name, value in want.items():
            assert float(got[name][k]) == pytest.approx(value, rel=1e-10), name
    if alpha_bar < 0.01:  # the noised molecules are ~20 A wide: the cutoff drops some global pairs
        x = x_t.numpy()
        assert np.max(np.linalg.norm(x[:, None] - x[None, :], axis=2)) / np.sqrt(alpha_bar) > 10.0


def test_pair_losses_vanish_for_the_exact_noise_and_score_about_one_for_no_prediction_at_small_noise():
    conformers = [conformer(1, k) for k in range(300)]
    batch = make_batch(GRAPHS, [c.mol for c in conformers])
    x0 = torch.from_numpy(np.concatenate([c.coords for c in conformers]).astype(np.float64))
    ab = torch.full((len(conformers),), 0.9999, dtype=torch.float64)
    x_t, eps = noise_coordinates(x0, ab, batch, torch.Generator().manual_seed(5))
    exact = pair_losses(eps, eps, x_t, ab, batch)
    assert all(float(exact[k].abs().max()) == 0.0 for k in ("local", "global", "gd_local", "gd_global"))
    zero = pair_losses(torch.zeros_like(eps), eps, x_t, ab, batch)
    # at small noise u_ij is the clean direction, independent of eps: E[((eps_i - eps_j) . u)^2] = 2
    assert float(zero["local"].mean()) == pytest.approx(1.0, abs=0.05)
    assert float(zero["global"].mean()) == pytest.approx(1.0, abs=0.05)


def test_pair_losses_are_unchanged_by_a_rigid_motion():
    conformers = dataset()
    batch = make_batch(GRAPHS, [c.mol for c in conformers])
    x0 = torch.from_numpy(np.concatenate([c.coords for c in conformers]).astype(np.float64))
    ab = torch.tensor([0.9, 0.5, 0.1, 0.99, 0.3, 0.02], dtype=torch.float64)
    x_t, eps = noise_coordinates(x0, ab, batch, torch.Generator().manual_seed(1))
    eps_hat = 0.7 * eps + 0.1
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    base = pair_losses(eps_hat, eps, x_t, ab, batch)
    moved = pair_losses(eps_hat @ q.T, eps @ q.T, x_t @ q.T + 4.0, ab, batch)
    for name in base:
        torch.testing.assert_close(moved[name], base[name], atol=1e-10, rtol=1e-10)


def test_losses_by_level_reports_every_part_from_the_same_predictions():
    net = fit_diffusion(dataset(), np.random.default_rng(0), graphs=GRAPHS, recipe=TINY)
    conformers = dataset(2)
    steps, parts = losses_by_level(net, conformers, graphs=GRAPHS, recipe=TINY, n_levels=3, n_fine=2)
    assert steps.tolist() == [0, 1, 4, 9] and sorted(parts) == sorted(LOSS_PARTS)
    _, total = loss_by_level(net, conformers, graphs=GRAPHS, recipe=TINY, n_levels=3, n_fine=2)
    np.testing.assert_allclose(parts["loss"], total, rtol=0, atol=0)
    assert all(np.all(np.isfinite(v) & (v >= 0)) for v in parts.values())
    assert np.all(parts["local"] > 0) and np.all(parts["global"] > 0)
    # at the last step the noised molecules are ~60 A wide: no global pair is within GeoDiff's 10 A cutoff
    assert parts["gd_global"][-1] == 0.0 < parts["gd_global"][0]


def test_loss_is_unchanged_when_data_and_noise_move_rigidly_together():
    torch.manual_seed(0)
    net = EGNN(TINY.egnn).double().eval()
    conformers = dataset()
    batch = make_batch(GRAPHS, [c.mol for c in conformers])
    x0 = torch.from_numpy(np.concatenate([c.coords for c in conformers]).astype(np.float64))
    ab = torch.tensor([0.9, 0.5, 0.1, 0.99, 0.3, 0.02], dtype=torch.float64)
    x_t, eps = noise_coordinates(x0, ab, batch, torch.Generator().manual_seed(1))
    sigma = torch.sqrt((1 - ab) / ab)
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():
        base = per_molecule_loss(net(x_t, sigma, batch), eps, batch)
        moved = per_molecule_loss(net(x_t @ q.T + 4.0, sigma, batch), eps @ q.T, batch)
    assert float(base.min()) > 0.1
    torch.testing.assert_close(moved, base, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------------------------------------
# sampler
# ---------------------------------------------------------------------------------------------------------


def test_sampler_returns_centred_finite_conformers_of_the_requested_molecules_deterministically():
    net = fit_diffusion(dataset(), np.random.default_rng(0), graphs=GRAPHS, recipe=TINY)
    mols = [1, 0, 0, 1, 1]
    out = sample_conformers(net, mols, np.random.default_rng(3), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf)
    assert [c.mol for c in out] == mols and all(isinstance(c, Conf) for c in out)
    for c in out:
        assert c.coords.shape == (GRAPHS[c.mol].n_atoms, 3) and c.coords.dtype == np.float32
        assert np.all(np.isfinite(c.coords)) and np.abs(c.coords.mean(axis=0)).max() < 1e-5
    again = sample_conformers(net, mols, np.random.default_rng(3), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf)
    other = sample_conformers(net, mols, np.random.default_rng(4), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf)
    assert all(np.array_equal(a.coords, b.coords) for a, b in zip(out, again, strict=True))
    assert not np.allclose(out[0].coords, other[0].coords)


def test_sampler_calls_the_network_once_per_step_and_batch():
    net = ExactDenoiser(dataset(1)[0].coords)
    sample_conformers(net, [0] * 5, np.random.default_rng(0), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf)
    assert net.calls == TINY.n_steps
    net.calls = 0
    sample_conformers(net, [0] * 5, np.random.default_rng(0), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf,
                      chunk_size=2)
    assert net.calls == 3 * TINY.n_steps


def test_sampler_with_the_exact_denoiser_recovers_the_point_mass():
    x0 = dataset(1)[0].coords
    out = sample_conformers(ExactDenoiser(x0), [0] * 4, np.random.default_rng(5), graphs=GRAPHS,
                            recipe=DiffusionRecipe(), conformer_cls=Conf)
    for c in out:
        np.testing.assert_allclose(c.coords, x0, atol=1e-5, rtol=0)


def test_sampler_path_with_the_exact_denoiser_follows_the_gaussian_posterior_recursion():
    """With the exact noise of a point mass x0, each reverse step draws from q(x_{t-1} | x_t, x0) (Ho et al. eq. 7).

    From x_T ~ N(0, I), the mean m and variance v per coordinate then follow m_{t-1} = c1 x0 + c2 m_t and
    v_{t-1} = c2^2 v_t + beta_tilde_t with c1 = sqrt(ab_{t-1}) beta_t / (1 - ab_t), c2 = sqrt(a_t)(1 - ab_{t-1}) /
    (1 - ab_t): the forward marginals N(sqrt(ab_t) x0, 1 - ab_t) up to the prior's small mismatch at x_T.
    """
    x0 = dataset(1)[0].coords.astype(np.float64)
    recipe = DiffusionRecipe(n_steps=20)
    n_copies, n = 1500, len(x0)
    out, paths = sample_conformers(ExactDenoiser(x0), [0] * n_copies, np.random.default_rng(6), graphs=GRAPHS,
                                   recipe=recipe, conformer_cls=Conf, return_trajectory=True, chunk_size=n_copies)
    assert len(paths) == n_copies and paths[0].shape == (21, n, 3)
    assert np.array_equal(paths[3][-1], out[3].coords)
    stacked = np.stack(paths)  # (copies, 21, n, 3); path[k] holds x at step n_steps - 1 - k (k < n_steps)
    b, a, ab = recipe.noise_schedule()
    mean, var = np.zeros_like(x0), 1.0
    for k in range(1, 20):
        t = 20 - k  # the step taken from path[k - 1] to path[k]
        c1 = np.sqrt(ab[t - 1]) * b[t] / (1 - ab[t])
        c2 = np.sqrt(a[t]) * (1 - ab[t - 1]) / (1 - ab[t])
        mean, var = c1 * x0 + c2 * mean, c2**2 * var + b[t] * (1 - ab[t - 1]) / (1 - ab[t])
        got_var = stacked[:, k].var(axis=0).mean()
        assert got_var == pytest.approx(var * (n - 1) / n, rel=0.05), k
        assert np.abs(stacked[:, k].mean(axis=0) - mean).max() < 5 * np.sqrt(var / n_copies), k
        if k == 19:  # close to the forward marginal at step 0
            assert var == pytest.approx(1 - ab[0], rel=0.01)


def test_sample_like_reproduces_the_training_sets_molecules_and_class():
    net = ExactDenoiser(dataset(1)[0].coords)
    real = [conformer(0, k) for k in range(3)]
    out = sample_like(net, real, np.random.default_rng(0), graphs=GRAPHS, recipe=TINY)
    assert [c.mol for c in out] == [0, 0, 0] and all(type(c) is Conf for c in out)


def test_sampler_defaults_to_the_data_modules_conformer_class():
    conformers = pytest.importorskip("collapse_utils.data.conformers")
    out = sample_conformers(ExactDenoiser(dataset(1)[0].coords), [0], np.random.default_rng(0), graphs=GRAPHS,
                            recipe=TINY)
    assert type(out[0]) is conformers.Conformer


@pytest.mark.parametrize(("mols", "message"), [
    ([], "mols must name at least one molecule"),
    ([0, 2], "mols must be indices in 0..1, got 2"),
    ([True], "mols must be indices in 0..1, got True"),
])
def test_sampler_rejects_unknown_molecules(mols, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        sample_conformers(Zero(), mols, np.random.default_rng(0), graphs=GRAPHS, recipe=TINY, conformer_cls=Conf)


# ---------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "message"), [
    ([], "conformers must hold at least one conformer"),
    ([Conf(2, np.zeros((6, 3)))], "conformers[0].mol must be an index in 0..1, got 2"),
    ([Conf(0, np.zeros((6, 3))), Conf(0, np.zeros((8, 3)))],
     "conformers[1].coords must have shape (6, 3) for molecule 0, got (8, 3)"),
    ([Conf(1, np.full((8, 3), np.nan))], "conformers[0].coords must be finite"),
])
def test_fit_and_loss_reject_malformed_conformers(bad, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        fit_diffusion(bad, np.random.default_rng(0), graphs=GRAPHS, recipe=TINY)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        denoising_loss(Zero(), bad, graphs=GRAPHS, recipe=TINY)


def test_public_functions_reject_a_recipe_of_another_type():
    data = dataset(1)
    message = r"^recipe must be a DiffusionRecipe, got dict$"
    with pytest.raises(ValueError, match=message):
        fit_diffusion(data, np.random.default_rng(0), graphs=GRAPHS, recipe={})
    with pytest.raises(ValueError, match=message):
        denoising_loss(Zero(), data, graphs=GRAPHS, recipe={})
    with pytest.raises(ValueError, match=message):
        sample_conformers(Zero(), [0], np.random.default_rng(0), graphs=GRAPHS, recipe={}, conformer_cls=Conf)
    with pytest.raises(ValueError, match=r"^chunk_size must be an integer >= 1, got 0$"):
        sample_conformers(Zero(), [0], np.random.default_rng(0), graphs=GRAPHS, recipe=TINY, chunk_size=0)


def test_fit_is_deterministic_for_a_seed_and_leaves_torchs_global_state_alone():
    data = dataset()
    state = torch.random.get_rng_state()
    a = fit_diffusion(data, np.random.default_rng(7), graphs=GRAPHS, recipe=TINY)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(123)
    b = fit_diffusion(data, np.random.default_rng(7), graphs=GRAPHS, recipe=TINY)
    c = fit_diffusion(data, np.random.default_rng(8), graphs=GRAPHS, recipe=TINY)
    pa, pb, pc = ([p.detach() for p in m.parameters()] for m in (a, b, c))
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(pa, pc, strict=True))
    assert isinstance(a, EGNN) and not a.training


def test_training_on_two_conformers_cuts_the_denoising_loss():
    data = [conformer(0, 0), conformer(0, 1)]
    recipe = DiffusionRecipe(n_steps=20, egnn=EGNNConfig(hidden=16, n_layers=2, n_rbf=8), epochs=300, batch_size=2)
    short = fit_diffusion(data, np.random.default_rng(0), graphs=GRAPHS, recipe=DiffusionRecipe(
        n_steps=20, egnn=recipe.egnn, epochs=1, batch_size=2, lr=1e-9))  # one tiny step: the initial network
    long = fit_diffusion(data, np.random.default_rng(0), graphs=GRAPHS, recipe=recipe)
    before = denoising_loss(short, data, graphs=GRAPHS, recipe=recipe)
    after = denoising_loss(long, data, graphs=GRAPHS, recipe=recipe)
    def level_mean(out):  # the plain mean over the evaluation levels
        return np.mean([out[f"loss_t{t}"] for t in evaluation_steps(recipe)])

    assert level_mean(before) == pytest.approx(1.0, abs=0.1)  # the initial network moves atoms hardly at all
    assert level_mean(after) < 0.5 * level_mean(before)
    assert after["loss_t19"] < 0.1  # at the highest noise, the two conformers are told apart from noise


def test_the_chapter_job_trains_on_the_authors_noise_range():
    from collapse_utils.experiments import diffusion_conformers

    (job,) = diffusion_conformers.chapter_jobs(config.scale_settings("diffusion-conformers", "ci"))
    s = job.recipe().noise_schedule()
    assert len(s.betas) == 30
    assert s.sigmas[0] == pytest.approx(0.00473, abs=1e-5) and s.sigmas[-1] == pytest.approx(9.52, abs=0.01)
    steps = evaluation_steps(job.recipe(), job.n_levels, job.n_fine)
    assert steps.tolist()[:4] == [0, 1, 2, 3] and len(steps) == 12
    extra = diffusion_conformers.longer_training(job)
    assert (extra.epochs, extra.n_iterations, extra.policies) == (60, 3, ("replace", "accumulate"))
    np.testing.assert_array_equal(extra.recipe().noise_schedule().betas, s.betas)
