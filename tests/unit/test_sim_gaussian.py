"""The Gaussian simulator against a slow, explicit reference, its streams, its dispatch, and the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collapse_utils import policies
from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import gaussian as sim
from collapse_utils.theory import gaussian as theory

ALL_POLICIES = [p.value for p in DataPolicy]


def reference_run(policy, *, d, T, n_iterations, seed, run, estimator="mle", sigma2=1.0):
    """One run written out: explicit pool lists, numpy's mean and cov, eigh square roots; same stream order."""
    g, picker = sim.run_stream(seed, run), sim.subsample_stream(seed, run)
    real = math.sqrt(sigma2) * g.standard_normal((T, d))
    pool, train = [real], real
    means, traces, logdets = [], [], []
    for i in range(1, n_iterations + 1):
        X = np.concatenate(pool) if policy == "accumulate" else train
        mu = X.mean(axis=0)
        cov = np.cov(X, rowvar=False, ddof=1 if estimator == "unbiased" else 0).reshape(d, d)
        _, logabs = np.linalg.slogdet(cov)
        means.append(mu)
        traces.append(np.trace(cov) / (d * sigma2))
        logdets.append(-np.inf if np.linalg.matrix_rank(X - mu) < d else logabs - d * math.log(sigma2))
        if i == n_iterations:
            break
        vals, vecs = np.linalg.eigh(cov)
        root = vecs @ np.diag(np.sqrt(np.maximum(vals, 0))) @ vecs.T
        m = (i + 1) * T if policy == "replace-multiple" else T
        new = mu + g.standard_normal((m, d)) @ root
        if policy in ("replace", "replace-multiple"):
            train = new
        else:
            pool.append(new)
            if policy == "accumulate-subsample":
                stacked = np.concatenate(pool)
                train = stacked[picker.choice(len(stacked), size=T, replace=False)]
    return np.array(means), np.array(traces), np.array(logdets)


SMALL = {"d": 2, "T": 5, "n_iterations": 7, "seed": 3}


@pytest.fixture(scope="module")
def small_run():
    return {est: sim.simulate_gaussian_chains(ALL_POLICIES, n_runs=5, estimator=est, **SMALL)
            for est in ("mle", "unbiased")}


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_simulator_equals_explicit_reference(small_run, policy, estimator):
    res = small_run[estimator][DataPolicy.parse(policy)]
    for r in range(res.n_runs):
        means, traces, logdets = reference_run(policy, run=r, estimator=estimator, **SMALL)
        np.testing.assert_allclose(res.means[r], means, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(res.traces[r], traces, rtol=1e-8)
        np.testing.assert_allclose(res.log_dets[r], logdets, rtol=1e-8)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_simulator_equals_reference_in_one_dimension_with_a_scale(policy):
    setting = {"d": 1, "T": 4, "n_iterations": 6, "seed": 9, "sigma2": 2.5}
    res = sim.simulate_gaussian_chains([policy], n_runs=3, **setting)[DataPolicy.parse(policy)]
    for r in range(3):
        means, traces, logdets = reference_run(policy, run=r, **setting)
        np.testing.assert_allclose(res.means[r], means, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(res.traces[r], traces, rtol=1e-9)
        np.testing.assert_allclose(res.log_dets[r], logdets, rtol=1e-9, atol=1e-12)


def test_singular_fits_have_minus_infinite_log_det_and_stay_in_their_subspace():
    # T = d = 3: the real points span a plane; every later point is drawn inside it, pooled or not
    res = sim.simulate_gaussian_chains(["replace", "accumulate", "replace-multiple"], d=3, T=3, n_iterations=5,
                                       n_runs=2, seed=0)
    for chains in res.values():
        assert np.all(chains.log_dets == -np.inf) and np.all(chains.traces > 0)
    full = sim.simulate_gaussian_chains(["replace", "accumulate"], d=3, T=4, n_iterations=5, n_runs=2, seed=0)
    assert all(np.all(np.isfinite(chains.log_dets)) for chains in full.values())


def test_policies_differ_after_iteration_1_and_share_it(small_run):
    res = small_run["mle"]
    firsts = [res[p].traces[:, 0] for p in DataPolicy]  # accumulate's pooled sums agree to rounding
    assert all(np.allclose(firsts[0], f, rtol=1e-12, atol=0) for f in firsts[1:])
    later = [res[p].traces[:, 1:] for p in DataPolicy]
    assert all(not np.allclose(a, b) for k, a in enumerate(later) for b in later[k + 1:])


def test_runs_do_not_depend_on_the_number_of_runs(small_run):
    fewer = sim.simulate_gaussian_chains(ALL_POLICIES, n_runs=2, **SMALL)
    for p in DataPolicy:
        np.testing.assert_array_equal(fewer[p].traces, small_run["mle"][p].traces[:2])


def test_batches_match_the_reference(monkeypatch):
    monkeypatch.setattr(sim, "_MAX_FLOATS", 2 * 7 * 5 * 2)  # batches of two runs
    res = sim.simulate_gaussian_chains(["accumulate-subsample"], n_runs=5, **SMALL)[DataPolicy.ACCUMULATE_SUBSAMPLE]
    for r in range(5):
        np.testing.assert_allclose(res.traces[r], reference_run("accumulate-subsample", run=r, **SMALL)[1], rtol=1e-8)


def test_deterministic_under_the_seed_and_different_across_seeds(small_run):
    again = sim.simulate_gaussian_chains(["replace"], n_runs=5, **SMALL)[DataPolicy.REPLACE]
    np.testing.assert_array_equal(again.means, small_run["mle"][DataPolicy.REPLACE].means)
    other = sim.simulate_gaussian_chains(["replace"], n_runs=5, **{**SMALL, "seed": 4})[DataPolicy.REPLACE]
    assert not np.allclose(other.traces, again.traces)


def test_container(small_run):
    res = small_run["mle"][DataPolicy.ACCUMULATE]
    assert res.n_runs == 5 and res.iterations.tolist() == list(range(1, 8))
    assert res.means.shape == (5, 7, 2) and res.traces.shape == res.log_dets.shape == (5, 7)
    np.testing.assert_allclose(res.mean_errors, np.sum(res.means**2, axis=2))
    assert (res.estimator, res.d, res.T, res.sigma2) == ("mle", 2, 5, 1.0)


def test_a_policy_without_an_algorithm_fails_loudly(monkeypatch):
    monkeypatch.setitem(policies.RULES, DataPolicy.REPLACE_MULTIPLE, policies.Rule("pool", sample_multiple=True))
    with pytest.raises(PolicyNotImplementedError, match=r"'replace-multiple' is not implemented in collapse_utils\.s"):
        sim.simulate_gaussian_chains(["replace-multiple"], n_runs=2, **SMALL)
    monkeypatch.delitem(policies.RULES, DataPolicy.REPLACE_MULTIPLE)
    with pytest.raises(PolicyNotImplementedError):
        sim.simulate_gaussian_chains(["replace-multiple"], n_runs=2, **SMALL)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("d", 0, "d must be an integer >= 1"),
    ("T", 1, "T must be an integer >= 2"),
    ("n_runs", 1, "n_runs must be an integer >= 2"),
    ("estimator", "biased", "estimator must be one of"),
    ("sigma2", 0.0, "sigma2 must be a finite number > 0"),
])
def test_bad_arguments_raise(key, value, match):
    kwargs = {**SMALL, "n_runs": 2, key: value}
    with pytest.raises(ValueError, match=match):
        sim.simulate_gaussian_chains(["replace"], **kwargs)


@pytest.mark.parametrize("policies_arg", [[], ["replace", "replace"], ["resample"]])
def test_bad_policy_lists_raise(policies_arg):
    with pytest.raises(ValueError, match="polic"):
        sim.simulate_gaussian_chains(policies_arg, n_runs=2, **SMALL)


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_monte_carlo_means_match_the_closed_forms(estimator):
    # 3,000 runs, T = 6, d = 2, 8 iterations: every policy's trace ratio and mean error within 4 standard errors
    d, T, n, runs = 2, 6, 8, 3000
    res = sim.simulate_gaussian_chains(ALL_POLICIES, d=d, T=T, n_iterations=n, n_runs=runs, seed=21,
                                       estimator=estimator)
    it = np.arange(1, n + 1)
    for p, chains in res.items():
        for values, expected in ((chains.traces, theory.variance_ratio(p.value, it, T, estimator)),
                                 (chains.mean_errors, theory.mean_error(p.value, it, T, d, 1.0, estimator))):
            z = (values.mean(0) - expected) / (values.std(0, ddof=1) / math.sqrt(runs))
            assert np.all(np.abs(z) < 4), (p, z)
        if p.value in ("replace", "replace-multiple"):
            ld = chains.log_dets
            mean = theory.replace_log_det_mean(it, T, d, estimator, p.value)
            z = (ld.mean(0) - mean) / np.sqrt(theory.replace_log_det_var(it, T, d, estimator, p.value) / runs)
            assert np.all(np.abs(z) < 4), (p, z)


def test_setting_seed_is_deterministic_and_distinct():
    assert sim.setting_seed(0, 1) == sim.setting_seed(0, 1)
    assert len({sim.setting_seed(0, k) for k in range(50)}) == 50
    with pytest.raises(ValueError, match="seed must be"):
        sim.setting_seed(-1, 0)
