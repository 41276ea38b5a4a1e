"""The one contract every model family of the feedback loop passes (collapse_utils.protocol.ModelFamily).

Each family is built tiny (milliseconds per fit) on data the test makes: the VAE on random images, the GPT-2- and
Llama-style decoders on random stories, the EGNN diffusion on hand-built molecules, and the loop tests' Gaussian fake.
The contract: a fit is determined by its context's seed and iteration (and ignores torch's global random state),
different seeds give different models; evaluation is deterministic, finite, and the same whatever the policy and
iteration of the context (it scores real held-out data only); sampling returns exactly ``n`` items of the real
data's container type, determined by the context; and the family runs through the loop under every policy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- thread settings first
from collapse_utils import config
from collapse_utils.loop import run_experiment
from collapse_utils.policies import DataPolicy
from collapse_utils.protocol import Context, ModelFamily

torch = pytest.importorskip("torch")

from molecule_standins import Conf, graph  # noqa: E402
from test_loop import GaussianFamily  # noqa: E402

from collapse_utils.models.diffusion import DiffusionFamily, DiffusionRecipe  # noqa: E402
from collapse_utils.models.egnn import EGNNConfig  # noqa: E402
from collapse_utils.models.lm import DecoderFamily, LMRecipe  # noqa: E402
from collapse_utils.models.transformer import DecoderConfig  # noqa: E402
from collapse_utils.models.vae import N_PIXELS, VAEFamily, VAERecipe  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)


def stories(n, seed):
    g = np.random.default_rng(seed)
    return [np.append(g.integers(1, 9, size=g.integers(2, 7)), 0) for _ in range(n)]


def molecules():
    chain = graph([0, 0, 1], [(0, 1), (1, 2)], [0, 0])
    ring = graph([0, 0, 0, 2], [(0, 1), (1, 2), (2, 0), (2, 3)], [3, 3, 3, 0])
    return [chain, ring]


def conformers(n_per_mol, seed, graphs):
    g = np.random.default_rng(seed)
    return [Conf(m, g.normal(size=(gr.n_atoms, 3))) for _ in range(n_per_mol) for m, gr in enumerate(graphs)]


def build(name):
    """(family, real training data) of each family, tiny."""
    if name == "gaussian":
        return GaussianFamily(), np.random.default_rng(0).standard_normal(20)
    if name == "vae":
        g = np.random.default_rng(0)
        return (VAEFamily(VAERecipe(hidden=8, latent=2, epochs=1, batch_size=8), torch.tensor(g.random((6, N_PIXELS)),
                                                                                              dtype=torch.float32)),
                torch.tensor(g.random((12, N_PIXELS)), dtype=torch.float32))
    if name in ("gpt2", "llama"):
        cfg = DecoderConfig(name, 10, n_layer=1, n_head=2, d_model=8, d_mlp=16, max_len=8)
        return DecoderFamily(cfg, LMRecipe(lr=1e-2, batch_size=4), stories(6, 1)), stories(12, 0)
    if name == "egnn-diffusion":
        graphs = molecules()
        recipe = DiffusionRecipe(n_steps=4, epochs=1, batch_size=4, egnn=EGNNConfig(hidden=8, n_layers=1,
                                                                                    time_features=4, n_rbf=4))
        train = conformers(3, 0, graphs)
        return DiffusionFamily(graphs, recipe, train, conformers(2, 1, graphs), n_levels=4), train
    raise ValueError(name)


FAMILIES = ["gaussian", "vae", "gpt2", "llama", "egnn-diffusion"]


def ctx(seed=0, iteration=1, policy=None):
    return Context(policy, seed, iteration, 3)


def same_metrics(a, b):
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_follows_the_protocol(name):
    family, _ = build(name)
    assert isinstance(family, ModelFamily)


@pytest.mark.parametrize("name", FAMILIES)
def test_fit_is_determined_by_the_context_and_ignores_global_torch_state(name):
    family, real = build(name)
    a = family.evaluate(family.fit(real, ctx(seed=3)), ctx(seed=3))
    torch.manual_seed(12345)
    torch.rand(7)
    b = family.evaluate(family.fit(real, ctx(seed=3)), ctx(seed=3))
    c = family.evaluate(family.fit(real, ctx(seed=4)), ctx(seed=3))
    d = family.evaluate(family.fit(real, ctx(seed=3, iteration=2, policy=DataPolicy.REPLACE)), ctx(seed=3))
    assert same_metrics(a, b)
    assert not same_metrics(a, c) and not same_metrics(a, d)


@pytest.mark.parametrize("name", FAMILIES)
def test_evaluation_is_finite_deterministic_and_blind_to_policy_and_iteration(name):
    family, real = build(name)
    model = family.fit(real, ctx(seed=1))
    first = family.evaluate(model, ctx(seed=1))
    assert first and all(isinstance(v, (int, float, np.floating)) and math.isfinite(v) for v in first.values())
    for other in (ctx(seed=1), ctx(seed=1, iteration=3, policy=DataPolicy.ACCUMULATE)):
        assert same_metrics(first, family.evaluate(model, other))


@pytest.mark.parametrize("name", FAMILIES)
def test_sample_returns_n_items_like_the_real_data_determined_by_the_context(name):
    family, real = build(name)
    model = family.fit(real, ctx())
    n = len(real)
    drawn = family.sample(model, n, ctx(seed=2))
    again = family.sample(model, n, ctx(seed=2))
    other = family.sample(model, n, ctx(seed=5))
    assert len(drawn) == n and type(drawn) is type(real)

    def flat(items):
        if isinstance(items, list):
            return np.concatenate([np.ravel(getattr(x, "coords", x)) for x in items])
        return np.ravel(np.asarray(items))

    np.testing.assert_array_equal(flat(drawn), flat(again))
    assert not np.array_equal(flat(drawn), flat(other))


@pytest.mark.parametrize("name", FAMILIES)
def test_family_runs_through_the_loop_under_every_policy(name):
    family, real = build(name)
    result = run_experiment(real, family, policies=list(DataPolicy), seeds=[0, 1], n_iterations=3)
    rec = result.records
    assert len(rec) == len(DataPolicy) * 2 * 3
    assert rec[rec["iteration"] == 1].groupby("seed").nunique().drop(columns=["policy"]).le(2).all().all()
