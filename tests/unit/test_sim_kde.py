"""The KDE simulator against a slow, explicit reference, its log-likelihood, its dispatch, and the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from collapse_utils import policies
from collapse_utils.data import toy
from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import kde as sim
from collapse_utils.theory import kde as theory

ALL_POLICIES = [p.value for p in DataPolicy]


def reference_log_density(x, train, h):
    """log (1/N) sum_j prod_k N(x_k; x_jk, h^2), directly."""
    d = x.shape[1]
    sq = ((x[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    return logsumexp(-sq / (2 * h**2), axis=1) - math.log(len(train)) - d / 2 * math.log(2 * math.pi * h**2)


def moons_law(rng):
    return toy.toy_law("moons", rng)


def reference_run(policy, *, make_law, T, h, n_iterations, seed, run, n_test, evals):
    """One run written out: explicit pool list, resampling by floor(u N), the direct log-density."""
    g, picker = sim.run_stream(seed, run), sim.subsample_stream(seed, run)
    law = make_law(g)
    real = law.sample(g, T)
    test = law.sample(g, n_test)
    sizes = [(i + 1) * T if policy == "replace-multiple" else T for i in range(1, n_iterations + 1)]
    u = g.uniform(size=sum(sizes))
    z = g.standard_normal((sum(sizes), law.dim))
    pool, train, used = [real], real, 0
    nll, spread, second = [], [], []
    for i in range(1, n_iterations + 1):
        if i in evals:
            nll.append(-np.mean(reference_log_density(test, train, h)))
        m = sizes[i - 1]
        idx = np.floor(u[used:used + m] * len(train)).astype(int)
        new = train[idx] + h * z[used:used + m]
        used += m
        spread.append(new.var(axis=0).mean())
        second.append(np.mean(new**2))
        if policy in ("replace", "replace-multiple"):
            train = new
        else:
            pool.append(new)
            train = np.concatenate(pool)
            if policy == "accumulate-subsample":
                train = train[picker.choice(len(train), size=T, replace=False)]
    return np.array(nll), np.array(spread), np.array(second)


SMALL = {"T": 6, "n_iterations": 6, "seed": 2, "n_test": 40}


@pytest.fixture(scope="module")
def small_run():
    return sim.simulate_kde_chains(ALL_POLICIES, make_law=moons_law, bandwidth=0.3, n_runs=4,
                                   eval_iterations=[1, 3, 6], **SMALL)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_simulator_equals_explicit_reference(small_run, policy):
    res = small_run[DataPolicy.parse(policy)]
    assert res.eval_iterations.tolist() == [1, 3, 6]
    for r in range(4):
        nll, spread, second = reference_run(policy, make_law=moons_law, h=0.3, run=r, evals={1, 3, 6}, **SMALL)
        np.testing.assert_allclose(res.nll[r], nll, rtol=1e-10)
        np.testing.assert_allclose(res.spread[r], spread, rtol=1e-10)
        np.testing.assert_allclose(res.second_moment[r], second, rtol=1e-10)


def test_policies_share_iteration_1_and_differ_later(small_run):
    first = [small_run[p].nll[:, 0] for p in DataPolicy]
    assert all(np.array_equal(first[0], f) for f in first[1:])
    later = [small_run[p].nll[:, 1:] for p in DataPolicy]
    assert all(not np.allclose(a, b) for k, a in enumerate(later) for b in later[k + 1:])


def test_blob_runs_share_the_law_between_training_and_test():
    # iteration-1 NLL of matched blobs is a few nats; with mismatched centres it would be hundreds
    res = sim.simulate_kde_chains(["replace"], make_law=lambda g: toy.toy_law("blobs", g), T=300, bandwidth=1.0,
                                  n_iterations=1, n_runs=3, seed=0, n_test=200)[DataPolicy.REPLACE]
    assert np.all(res.nll[:, 0] < 6)


@pytest.mark.parametrize("h", [0.05, 0.5, 2.0])
def test_log_density_equals_the_direct_sum(h):
    rng = np.random.default_rng(0)
    x, train = rng.standard_normal((30, 3)), rng.standard_normal((9000, 3))  # two blocks of training points
    np.testing.assert_allclose(sim.log_density(x, train, h), reference_log_density(x, train, h), rtol=1e-10)


def test_log_density_equals_sklearn_kernel_density():
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(1)
    x, train = rng.standard_normal((50, 2)), rng.standard_normal((300, 2))
    kd = neighbors.KernelDensity(kernel="gaussian", bandwidth=0.4, rtol=0, atol=0).fit(train)
    np.testing.assert_allclose(sim.log_density(x, train, 0.4), kd.score_samples(x), rtol=1e-8)


def test_snapshots_keep_each_runs_training_points(small_run):
    res = sim.simulate_kde_chains(["replace", "accumulate"], make_law=moons_law, bandwidth=0.3, n_runs=3,
                                  snapshots=[1, 4], **SMALL)
    for policy, chains in res.items():
        assert sorted(chains.snapshots) == [1, 4] and len(chains.snapshots[4]) == 3
        assert chains.snapshots[1][0].shape == (6, 2)
        assert chains.snapshots[4][0].shape == ((24, 2) if policy == DataPolicy.ACCUMULATE else (6, 2))
        np.testing.assert_array_equal(chains.snapshots[1][2], res[DataPolicy.REPLACE].snapshots[1][2])
    assert small_run[DataPolicy.REPLACE].snapshots == {}
    with pytest.raises(ValueError, match="snapshots must lie in"):
        sim.simulate_kde_chains(["replace"], make_law=moons_law, bandwidth=0.3, n_runs=2, snapshots=[7], **SMALL)


def test_without_test_points_there_is_no_likelihood():
    res = sim.simulate_kde_chains(["accumulate"], make_law=lambda g: toy.GaussianLaw(), T=5, bandwidth=0.5,
                                  n_iterations=4, n_runs=2, seed=0, n_test=0)[DataPolicy.ACCUMULATE]
    assert res.nll.shape == (2, 0) and res.spread.shape == (2, 4) and res.n_runs == 2


def test_a_policy_without_an_algorithm_fails_loudly(monkeypatch):
    monkeypatch.setitem(policies.RULES, DataPolicy.ACCUMULATE, policies.Rule("newest", subsample=True))
    with pytest.raises(PolicyNotImplementedError, match=r"'accumulate' is not implemented in collapse_utils\.sim\.kde"):
        sim.simulate_kde_chains(["accumulate"], make_law=moons_law, bandwidth=0.3, n_runs=2, **SMALL)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("bandwidth", 0.0, "bandwidth must be a finite number > 0"),
    ("T", 0, "T must be an integer >= 1"),
    ("n_runs", 1, "n_runs must be an integer >= 2"),
    ("eval_iterations", [0, 2], "eval_iterations must be"),
    ("eval_iterations", [2, 9], r"eval_iterations must lie in \[1, n_iterations = 6\]"),
])
def test_bad_arguments_raise(key, value, match):
    kwargs = {**SMALL, "bandwidth": 0.3, "n_runs": 2, key: value}
    with pytest.raises(ValueError, match=match):
        sim.simulate_kde_chains(["replace"], make_law=moons_law, **kwargs)


def test_marginal_variance_and_spread_match_the_closed_forms():
    # 1-D N(0, 1) data, T = 8, h = 0.5, 4,000 runs (1,000 for replace-multiple), 12 iterations: within 4 SE
    T, h, n = 8, 0.5, 12
    it = np.arange(1, n + 1)
    for policy in ALL_POLICIES:
        runs = 1000 if policy == "replace-multiple" else 4000
        res = sim.simulate_kde_chains([policy], make_law=lambda g: toy.GaussianLaw(), T=T, bandwidth=h,
                                      n_iterations=n, n_runs=runs, seed=5, n_test=0)[DataPolicy.parse(policy)]
        checks = [(res.second_moment, theory.marginal_variance(policy, it, 1.0, h))]
        if policy in ("replace", "replace-multiple"):
            checks.append((res.spread, theory.replace_spread(it, T, 1.0, h, policy)))
        for values, expected in checks:
            z = (values.mean(0) - expected) / (values.std(0, ddof=1) / math.sqrt(runs))
            assert np.all(np.abs(z) < 4), (policy, z)
