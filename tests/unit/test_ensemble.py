"""Several EGNN denoisers trained as one batched ensemble: the same networks as trained one by one, and the sampler's
guard against a diverging model."""

from __future__ import annotations

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- thread settings first

torch = pytest.importorskip("torch")

from molecule_standins import Conf, graph  # noqa: E402

from collapse_utils.models.common import seeded  # noqa: E402
from collapse_utils.models.diffusion import (  # noqa: E402
    X0_CLIP,
    DiffusionRecipe,
    _clip_denoised,
    fit_diffusion,
    fit_diffusion_many,
)
from collapse_utils.models.egnn import EGNN, EGNNConfig, concat_batches, make_batch  # noqa: E402

CFG = EGNNConfig(hidden=8, n_layers=2, n_rbf=4, time_features=4)
GRAPHS = [graph([0, 0, 1], [(0, 1), (1, 2)], [0, 0]), graph([0, 1, 0, 0], [(0, 1), (1, 2), (2, 3)], [0, 1, 0])]


def confs(seed, n=4):
    g = np.random.default_rng(seed)
    return [Conf(k % 2, g.normal(size=(GRAPHS[k % 2].n_atoms, 3))) for k in range(n)]


def test_an_ensemble_computes_exactly_what_its_members_compute():
    torch.set_default_dtype(torch.float64)
    try:
        members = [seeded(lambda: EGNN(CFG), s) for s in (1, 2, 3)]
        ensemble = EGNN.stack(members)
        batches = [make_batch(GRAPHS, mols) for mols in ([0, 1], [1], [0, 0, 1])]
        xs = [torch.randn(len(b.atom_types), 3, generator=torch.Generator().manual_seed(k)) for k, b in
              enumerate(batches)]
        sigmas = [torch.full((b.n_graphs,), 0.3 + k) for k, b in enumerate(batches)]
        joined, sizes = concat_batches(batches)
        out = ensemble(torch.cat(xs), torch.cat(sigmas), joined, sizes)
        expected = torch.cat([m(x, s, b) for m, x, s, b in zip(members, xs, sigmas, batches, strict=True)])
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
        for k, m in enumerate(members):
            assert all(torch.equal(p, q) for p, q in zip(ensemble.member(k).parameters(), m.parameters(),
                                                         strict=True))
        with pytest.raises(ValueError, match="sizes must be given exactly when"):
            ensemble(torch.cat(xs), torch.cat(sigmas), joined)
    finally:
        torch.set_default_dtype(torch.float32)


def test_fitting_an_ensemble_equals_fitting_each_member_alone_up_to_rounding():
    recipe = DiffusionRecipe(n_steps=5, epochs=2, batch_size=2, egnn=CFG)
    sets = [confs(0), confs(1)]
    together = fit_diffusion_many(sets, [np.random.default_rng(s) for s in (5, 6)], graphs=GRAPHS, recipe=recipe)
    alone = [fit_diffusion(c, np.random.default_rng(s), graphs=GRAPHS, recipe=recipe) for c, s in zip(sets, (5, 6),
                                                                                                      strict=True)]
    for a, b in zip(together, alone, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="training sets of one size"):
        fit_diffusion_many([confs(0), confs(1, n=2)], [np.random.default_rng(0)] * 2, graphs=GRAPHS, recipe=recipe)


def test_the_sampler_clips_only_a_diverging_denoised_estimate():
    x = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    ab = 0.5
    calm = torch.tensor([[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]])
    assert _clip_denoised(x, calm, ab) is calm  # a sane model is left alone, to the last bit
    wild = torch.tensor([[-100.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    fixed = _clip_denoised(x, wild, ab)
    x0 = (x - np.sqrt(1 - ab) * fixed) / np.sqrt(ab)
    torch.testing.assert_close(x0.norm(dim=1), torch.full((2,), X0_CLIP))
