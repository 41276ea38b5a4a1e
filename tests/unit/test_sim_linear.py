"""Monte-Carlo simulator of the linear feedback loop, checked against a slow explicit reference and the theory."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_utils import policies
from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.sim import linear as sim
from collapse_utils.theory import linear as th

ALL_POLICIES = tuple(DataPolicy)

# ---------------------------------------------------------------------------------------------------------
# (1) the vectorized simulator equals an explicit reference implementation
# ---------------------------------------------------------------------------------------------------------


def _lstsq(A, y):
    return np.linalg.lstsq(A, y, rcond=None)[0]


def reference_chain(policy: DataPolicy, *, d, T, sigma2, n_iterations, seed, chain) -> np.ndarray:
    """One chain, literally: stack the pool explicitly and fit with numpy.linalg.lstsq."""
    X, w_star, noise = sim.draw_problem(sim.chain_stream(seed, chain), d, T, n_iterations, sigma2)
    picker = sim.subsample_stream(seed, chain)
    labels = [X @ w_star + noise[0]]  # label sets Y_1, Y_2, ... of the pool's chunks
    w = _lstsq(X, labels[0])
    errors = [np.sum((w - w_star) ** 2)]
    for i in range(2, n_iterations + 1):
        labels.append(X @ w + noise[i - 1])
        if policy is DataPolicy.REPLACE:
            A, y = X, labels[-1]
        elif policy is DataPolicy.REPLACE_MULTIPLE:
            # i stacked copies of X with i fresh noise draws whose mean is E_i / sqrt(i) (the simulator's draw):
            # zero-mean deviations from a second stream keep the stack explicit without changing its mean
            dev = np.random.default_rng(i).standard_normal((i, T))
            copies = X @ w + noise[i - 1] / np.sqrt(i) + (dev - dev.mean(axis=0))
            A, y = np.vstack([X] * i), copies.ravel()
        elif policy is DataPolicy.ACCUMULATE:
            A, y = np.vstack([X] * i), np.concatenate(labels)
        else:
            picks = picker.choice(i * T, size=T, replace=False)
            A = np.empty((T, d))
            y = np.empty(T)
            for k, pick in enumerate(picks):
                chunk, row = divmod(int(pick), T)
                A[k] = X[row]
                y[k] = labels[chunk][row]
        w = _lstsq(A, y)
        errors.append(np.sum((w - w_star) ** 2))
    return np.array(errors)


SMALL = {"d": 3, "T": 8, "sigma2": 1.0, "n_iterations": 4, "seed": 2024}


@pytest.fixture(scope="module")
def small_run():
    return sim.simulate_linear_chains(ALL_POLICIES, n_seeds=3, **SMALL)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_simulator_equals_explicit_lstsq_reference(small_run, policy):
    errors = small_run[policy].errors
    assert errors.shape == (3, 4)
    for s in range(3):
        ref = reference_chain(policy, chain=s, **SMALL)
        np.testing.assert_allclose(errors[s], ref, rtol=1e-8, atol=0)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_simulator_equals_reference_for_a_square_design(policy):
    # T == d: the real fit interpolates, and a subsample of the pool is rank deficient almost surely
    # (repeated design rows); the simulator must return lstsq's minimum-norm solution.
    setting = {"d": 3, "T": 3, "sigma2": 0.5, "n_iterations": 4, "seed": 7}
    run = sim.simulate_linear_chains([policy], n_seeds=3, **setting)
    for s in range(3):
        ref = reference_chain(policy, chain=s, **setting)
        np.testing.assert_allclose(run[policy].errors[s], ref, rtol=1e-8, atol=0)


def test_reference_policies_differ_after_iteration_1(small_run):
    # the comparison above is only informative if the policies produce different numbers
    later = [small_run[p].errors[:, 1:] for p in ALL_POLICIES]
    assert all(not np.allclose(a, b) for k, a in enumerate(later) for b in later[k + 1:])


def test_a_policy_without_an_algorithm_fails_loudly(monkeypatch):
    monkeypatch.setitem(policies.RULES, DataPolicy.REPLACE_MULTIPLE, policies.Rule("pool", sample_multiple=True))
    with pytest.raises(PolicyNotImplementedError, match=r"'replace-multiple' is not implemented in collapse_utils\.s"):
        sim.simulate_linear_chains(["replace-multiple"], n_seeds=2, **SMALL)
    monkeypatch.delitem(policies.RULES, DataPolicy.REPLACE_MULTIPLE)
    with pytest.raises(PolicyNotImplementedError):
        sim.simulate_linear_chains(["replace-multiple"], n_seeds=2, **SMALL)


def test_chain_errors_container(small_run):
    ce = small_run[DataPolicy.ACCUMULATE]
    assert ce.policy is DataPolicy.ACCUMULATE
    assert (ce.d, ce.T, ce.sigma2) == (3, 8, 1.0)
    assert ce.n_seeds == 3
    np.testing.assert_array_equal(ce.iterations, [1, 2, 3, 4])
    np.testing.assert_allclose(ce.mean(), ce.errors.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(ce.sem(), ce.errors.std(axis=0, ddof=1) / np.sqrt(3), rtol=1e-15)
    assert np.all(ce.errors > 0)


def test_result_keys_follow_the_given_order_and_accept_names():
    out = sim.simulate_linear_chains(["accumulate_subsample", "Replace"], n_seeds=2, **SMALL)
    assert list(out) == [DataPolicy.ACCUMULATE_SUBSAMPLE, DataPolicy.REPLACE]


# ---------------------------------------------------------------------------------------------------------
# (2) - (5) structure of the streams
# ---------------------------------------------------------------------------------------------------------


def test_iteration_1_is_identical_across_policies(small_run):
    first = small_run[DataPolicy.REPLACE].errors[:, 0]
    for p in ALL_POLICIES:
        np.testing.assert_array_equal(small_run[p].errors[:, 0], first)


def test_chains_do_not_depend_on_the_number_of_seeds():
    # 300 chains span three batches of 128: a chain's path is fixed by its index alone
    setting = {"d": 3, "T": 8, "sigma2": 1.0, "n_iterations": 4, "seed": 11}
    few = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=5, **setting)
    many = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=300, **setting)
    for p in ALL_POLICIES:
        np.testing.assert_array_equal(many[p].errors[:5], few[p].errors)


def test_chains_in_later_batches_match_the_reference():
    setting = {"d": 2, "T": 5, "sigma2": 1.0, "n_iterations": 3, "seed": 3}
    run = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=131, **setting)
    for p in ALL_POLICIES:
        for s in (127, 128, 130):
            np.testing.assert_allclose(run[p].errors[s], reference_chain(p, chain=s, **setting), rtol=1e-8)


def test_simulation_is_deterministic_under_the_seed():
    a = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **SMALL)
    b = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **SMALL)
    for p in ALL_POLICIES:
        np.testing.assert_array_equal(a[p].errors, b[p].errors)


def test_different_seeds_give_different_chains():
    a = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **SMALL)
    b = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **{**SMALL, "seed": SMALL["seed"] + 1})
    for p in ALL_POLICIES:
        assert not np.any(np.isclose(a[p].errors, b[p].errors, rtol=1e-12, atol=0))


def test_different_chains_of_one_run_differ(small_run):
    e = small_run[DataPolicy.REPLACE].errors
    assert len(set(e[:, 0])) == e.shape[0]


def test_chain_and_subsample_streams_are_all_distinct():
    # no chain's subsample stream may reuse any chain's design/noise stream (or another chain's picks)
    first = [sim.chain_stream(5, s).random() for s in range(20)]
    first += [sim.subsample_stream(5, s).random() for s in range(20)]
    assert len(set(first)) == 40
    assert sim.chain_stream(5, 3).random() == first[3]
    assert sim.subsample_stream(5, 3).random() == first[23]


@pytest.mark.parametrize("c", [0.01, 3.0, 100.0])
def test_errors_scale_exactly_with_sigma2(c):
    one = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **{**SMALL, "sigma2": 1.0})
    scaled = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=4, **{**SMALL, "sigma2": c})
    for p in ALL_POLICIES:
        np.testing.assert_allclose(scaled[p].errors, c * one[p].errors, rtol=1e-9, atol=0)
        assert scaled[p].sigma2 == c


def test_zero_noise_gives_zero_error():
    out = sim.simulate_linear_chains(ALL_POLICIES, n_seeds=3, **{**SMALL, "sigma2": 0.0})
    for p in ALL_POLICIES:
        assert np.all(out[p].errors < 1e-24)


def test_draw_problem_shapes_and_scales():
    X, w_star, noise = sim.draw_problem(np.random.default_rng(0), 4, 9, 6, 2.0)
    assert X.shape == (9, 4)
    assert w_star.shape == (4,)
    assert noise.shape == (6, 9)
    # draw order: design, truth, noise
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(X, rng.standard_normal((9, 4)))
    np.testing.assert_array_equal(w_star, rng.standard_normal(4) / 2.0)
    np.testing.assert_allclose(noise, np.sqrt(2.0) * rng.standard_normal((6, 9)), rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# (6) Monte-Carlo means vs the closed forms
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mc_run():
    return sim.simulate_linear_chains(ALL_POLICIES, d=4, T=20, sigma2=1.0, n_iterations=5, n_seeds=2000, seed=31)


@pytest.mark.parametrize(
    ("policy", "closed_form"),
    [(DataPolicy.REPLACE, th.replace_test_error), (DataPolicy.ACCUMULATE, th.accumulate_test_error),
     (DataPolicy.REPLACE_MULTIPLE, th.replace_multiple_test_error)],
)
def test_monte_carlo_mean_matches_closed_form(mc_run, policy, closed_form):
    # 2000 chains; |z| < 4 at each of the 5 iterations (deterministic given the seed; a wrong formula,
    # e.g. the paper's (n+1) replace line or a missing 1/i^2 weight, is off by far more than 4 SE)
    ce = mc_run[policy]
    theory = closed_form(ce.iterations, 4, 20, 1.0)
    z = (ce.mean() - theory) / ce.sem()
    assert np.all(np.abs(z) < 4), z


def test_monte_carlo_rejects_the_off_by_one_replace_line(mc_run):
    ce = mc_run[DataPolicy.REPLACE]
    wrong = th.replace_test_error(ce.iterations + 1, 4, 20, 1.0)
    z = (ce.mean() - wrong) / ce.sem()
    assert np.all(np.abs(z) > 4)


def test_subsample_lies_between_accumulate_and_replace(mc_run):
    rep, acc, sub, _ = (mc_run[p].mean() for p in ALL_POLICIES)
    assert rep[0] == acc[0] == sub[0]
    assert np.all(acc[1:] < sub[1:])
    assert np.all(sub[1:] < rep[1:])


# ---------------------------------------------------------------------------------------------------------
# (7) inputs (the refused ones are tested in test_contracts.py)
# ---------------------------------------------------------------------------------------------------------

VALID = {"d": 3, "T": 8, "sigma2": 1.0, "n_iterations": 3, "n_seeds": 2, "seed": 0}


def test_T_equal_to_d_is_allowed():
    out = sim.simulate_linear_chains(["replace"], **{**VALID, "T": 3})
    assert out[DataPolicy.REPLACE].errors.shape == (2, 3)


@pytest.mark.parametrize("policies", [["nope"], ["replace", "keep-all"]])
def test_unknown_policy_raises(policies):
    with pytest.raises(ValueError, match="policy must be one of"):
        sim.simulate_linear_chains(policies, **VALID)


# ---------------------------------------------------------------------------------------------------------
# (8) simulate_grid and setting_seed
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid():
    return sim.simulate_grid(
        ["replace", "accumulate"], d=2, Ts=[6, 10], sigma2s=[1.0, 2.0], n_iterations=3, n_seeds=3, seed=5
    )


def test_grid_keys_and_values(grid):
    assert list(grid) == [(6, 1.0), (6, 2.0), (10, 1.0), (10, 2.0)]
    for (T, s2), by_policy in grid.items():
        assert list(by_policy) == [DataPolicy.REPLACE, DataPolicy.ACCUMULATE]
        for ce in by_policy.values():
            assert (ce.d, ce.T, ce.sigma2) == (2, T, s2)
            assert ce.errors.shape == (3, 3)


def test_grid_settings_use_setting_seed(grid):
    for iT, T in enumerate([6, 10]):
        for iS, s2 in enumerate([1.0, 2.0]):
            direct = sim.simulate_linear_chains(
                ["replace", "accumulate"], d=2, T=T, sigma2=s2, n_iterations=3, n_seeds=3,
                seed=sim.setting_seed(5, iT, iS),
            )
            for p in direct:
                np.testing.assert_array_equal(grid[T, s2][p].errors, direct[p].errors)


def test_grid_settings_get_independent_streams(grid):
    # with shared streams the sigma2 = 2 errors would be exactly twice the sigma2 = 1 errors
    for T in (6, 10):
        for p in (DataPolicy.REPLACE, DataPolicy.ACCUMULATE):
            a, b = grid[T, 1.0][p].errors, grid[T, 2.0][p].errors
            assert not np.any(np.isclose(b, 2 * a, rtol=1e-6, atol=0))


def test_setting_seed_is_deterministic_and_distinct():
    seeds = {sim.setting_seed(5, iT, iS) for iT in range(4) for iS in range(4)}
    assert len(seeds) == 16
    assert sim.setting_seed(5, 1, 2) == sim.setting_seed(5, 1, 2)
    assert sim.setting_seed(5, 1, 2) != sim.setting_seed(6, 1, 2)
    assert sim.setting_seed(5, 1, 2) != sim.setting_seed(5, 2, 1)
    assert isinstance(sim.setting_seed(5, 0, 0), int)
