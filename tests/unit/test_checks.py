"""Assertions that chapters run on their own results."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import norm

from collapse_utils import checks

# ---------------------------------------------------------------------------------------------------------
# zscores
# ---------------------------------------------------------------------------------------------------------


def test_zscores_elementwise():
    z = checks.zscores([1.0, 2.0, 3.0], [0.5, 1.0, 0.25], [0.0, 2.5, 3.0])
    np.testing.assert_allclose(z, [2.0, -0.5, 0.0])


def test_zscores_scalars_and_arrays_of_one_shape():
    assert checks.zscores(1.5, 0.5, 1.0) == pytest.approx(1.0)
    z = checks.zscores(np.ones((2, 3)), np.full((2, 3), 0.1), np.zeros((2, 3)))
    assert z.shape == (2, 3)
    np.testing.assert_allclose(z, 10.0)


def test_zscores_shape_mismatch_raises():
    with pytest.raises(ValueError, match="one shape"):
        checks.zscores([1.0, 2.0], [0.1, 0.1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one shape"):
        checks.zscores([1.0, 2.0], [0.1], [1.0, 2.0])


@pytest.mark.parametrize("sem", [[0.1, 0.0], [0.1, -0.1], [0.1, np.nan], [0.1, np.inf]])
def test_zscores_non_positive_or_non_finite_sem_raises(sem):
    with pytest.raises(ValueError, match="sem must be finite and > 0"):
        checks.zscores([1.0, 2.0], sem, [1.0, 2.0])


# ---------------------------------------------------------------------------------------------------------
# family_z_threshold
# ---------------------------------------------------------------------------------------------------------


def test_family_z_threshold_single_point_is_the_two_sided_normal_quantile():
    assert checks.family_z_threshold(1, 0.01) == pytest.approx(2.5758, abs=1e-4)
    assert checks.family_z_threshold(1, 0.05) == pytest.approx(1.95996, abs=1e-4)


def test_family_z_threshold_is_bonferroni():
    assert checks.family_z_threshold(50, 0.01) == pytest.approx(norm.isf(0.01 / 100), rel=1e-12)


def test_family_z_threshold_increases_with_n_and_decreases_with_alpha():
    t = [checks.family_z_threshold(n, 0.01) for n in (1, 2, 10, 100, 1000, 10_000)]
    assert all(a < b for a, b in itertools.pairwise(t))
    assert checks.family_z_threshold(10, 0.001) > checks.family_z_threshold(10, 0.01)


def test_family_z_threshold_accepts_numpy_int():
    assert checks.family_z_threshold(np.int64(10)) == checks.family_z_threshold(10)


@pytest.mark.parametrize("n", [0, -1, 1.0, 2.5, True, "3"])
def test_family_z_threshold_bad_n_raises(n):
    with pytest.raises(ValueError, match="n_points must be an integer >= 1"):
        checks.family_z_threshold(n)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, np.nan])
def test_family_z_threshold_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        checks.family_z_threshold(10, alpha)


# ---------------------------------------------------------------------------------------------------------
# assert_calibrated
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def normal_draws():
    return np.random.default_rng(20240402).standard_normal(2000)


def test_assert_calibrated_passes_on_standard_normal_draws(normal_draws):
    summary = checks.assert_calibrated(normal_draws)
    assert summary["points"] == 2000
    assert summary["threshold"] == pytest.approx(checks.family_z_threshold(2000, 0.01))
    assert summary["max_abs_z"] == pytest.approx(np.abs(normal_draws).max())
    assert summary["within_1se"] == pytest.approx(0.683, abs=0.03)
    assert summary["within_2se"] == pytest.approx(0.954, abs=0.015)
    assert summary["within_1se"] <= summary["within_2se"] <= summary["within_3se"] <= 1.0
    assert summary["beyond_3se"] == int(np.sum(np.abs(normal_draws) > 3))
    assert summary["beyond_3se_expected"] == pytest.approx(2000 * 2 * norm.sf(3), rel=1e-4)


def test_assert_calibrated_accepts_2d_input(normal_draws):
    assert checks.assert_calibrated(normal_draws.reshape(40, 50))["points"] == 2000


def test_assert_calibrated_fails_on_shifted_draws(normal_draws):
    with pytest.raises(AssertionError, match="my sim"):
        checks.assert_calibrated(normal_draws + 0.8, what="my sim")


def test_assert_calibrated_fails_on_too_wide_draws(normal_draws):
    wide = 1.6 * normal_draws
    wide = np.clip(wide, -4, 4)  # no point beyond the family-wise threshold: the distribution check fails
    with pytest.raises(AssertionError, match="not N\\(0, 1\\)-like"):
        checks.assert_calibrated(wide)


def test_assert_calibrated_fails_on_too_narrow_draws(normal_draws):
    # standard errors overestimated: z-scores too small, too many within 1 SE
    with pytest.raises(AssertionError, match="not N\\(0, 1\\)-like"):
        checks.assert_calibrated(0.5 * normal_draws)


def test_assert_calibrated_distribution_false_only_checks_the_max():
    z = np.linspace(-3, 3, 41)  # only ~33% within 1 SE: fails the distribution check, no point beyond ~3.6
    with pytest.raises(AssertionError, match="not N\\(0, 1\\)-like"):
        checks.assert_calibrated(z)
    summary = checks.assert_calibrated(z, distribution=False)
    assert summary["max_abs_z"] == pytest.approx(3.0)


def test_assert_calibrated_single_outlier_fails_even_without_distribution(normal_draws):
    z = normal_draws.copy()
    z[17] = 6.0
    with pytest.raises(AssertionError, match="family-wise threshold") as info:
        checks.assert_calibrated(z, distribution=False, what="grid")
    assert str(info.value).startswith("grid:")
    assert "6.00 standard errors" in str(info.value)


def test_assert_calibrated_alpha_moves_the_threshold():
    z = np.array([0.1, -0.5, 2.9])  # one of 3 points at 2.9: below the 1% threshold (~2.93), above the 5% one
    checks.assert_calibrated(z, distribution=False, alpha=0.01)
    with pytest.raises(AssertionError):
        checks.assert_calibrated(z, distribution=False, alpha=0.05)


@pytest.mark.parametrize("bad", [[], [0.1, np.nan], [np.inf, 0.0]])
def test_assert_calibrated_bad_input_raises(bad):
    with pytest.raises(ValueError, match="non-empty array of finite numbers"):
        checks.assert_calibrated(bad)


# ---------------------------------------------------------------------------------------------------------
# Claims: paired statistical tests over seeds
# ---------------------------------------------------------------------------------------------------------


def test_a_claim_holds_only_when_every_seed_agrees_and_the_mean_is_n_se_standard_errors_away():
    c = checks.Claims(n_se=3.0)
    assert c.greater("clear", [1.0, 1.1, 0.9], [0.0, 0.0, 0.0])  # mean 1, se 0.058: z = 17
    assert not c.greater("one seed disagrees", [1.0, 1.0, -0.1], 0.0)
    assert not c.greater("all agree, but noisy", [0.1, 2.0, 4.0], 0.0)  # mean 2.03, se 1.12: z = 1.8
    assert c.less("below a bound", [0.01, 0.0, -0.01], 0.05)
    table = c.table()
    assert list(table["holds"]) == [True, False, False, True]
    assert table.loc["one seed disagrees", "seeds agreeing"] == "2/3"
    noisy = np.array([0.1, 2, 4])
    assert table.loc["all agree, but noisy", "z"] == pytest.approx(noisy.mean() / (noisy.std(ddof=1) / np.sqrt(3)))
    with pytest.raises(AssertionError, match=r"2 of 4 claims do not hold .*one seed disagrees; all agree, but noisy"):
        c.assert_all()


def test_claims_need_two_finite_seeds_and_a_valid_n_se():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        checks.Claims().greater("x", [1.0], 0.0)
    with pytest.raises(ValueError, match="finite"):
        checks.Claims().greater("x", [1.0, np.nan], 0.0)
    with pytest.raises(ValueError, match="n_se must be a finite number > 0"):
        checks.Claims(n_se=0)
    with pytest.raises(ValueError, match="no claim was recorded"):
        checks.Claims().assert_all()


# ---------------------------------------------------------------------------------------------------------
# assert_paired_gain
# ---------------------------------------------------------------------------------------------------------


def test_a_noise_floor_claim_needs_every_seed_above_n_se_times_the_noise():
    claims = checks.Claims(n_se=3, noise_floor=True)
    # one seed far above the others: z = 1.6 (the mean rule would reject it), every seed >= 3 noise: holds
    assert claims.greater("takes off", [1.0, 1.1, 5.0], 0.0, noise=0.3)
    assert not checks.Claims(n_se=3).greater("takes off", [1.0, 1.1, 5.0], 0.0)
    assert not claims.greater("one seed below the floor", [0.8, 1.1, 5.0], 0.0, noise=0.3)
    assert not claims.greater("consistent but within the noise", [0.50, 0.51, 0.52], 0.0, noise=0.3)
    assert not claims.less("wrong sign", [1.0, 2.0, -5.0], 0.0, noise=0.01)
    table = claims.table()
    assert list(table["holds"]) == [True, False, False, False]
    assert table["smallest / noise"].iloc[0] == pytest.approx(1.0 / 0.3)
    assert "times the noise of one fit" in claims.rule()


@pytest.mark.parametrize(("noise_floor", "noise"), [(True, None), (False, 0.1), (True, 0.0), (True, np.nan)])
def test_a_claim_names_a_missing_or_misplaced_noise(noise_floor, noise):
    with pytest.raises(ValueError, match="x: noise must"):
        checks.Claims(noise_floor=noise_floor).greater("x", [1.0, 2.0], 0.0, noise=noise)


def test_paired_gain_returns_mean_se_and_z_of_the_difference():
    worse = np.array([[3.0, 5.0], [4.0, 6.0], [5.0, 7.5]])
    better = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    mean, se, z = checks.assert_paired_gain(worse, better)
    np.testing.assert_allclose(mean, [3.0, 15.5 / 3])
    np.testing.assert_allclose(se, [1.0 / np.sqrt(3), np.std([4.0, 5.0, 6.5], ddof=1) / np.sqrt(3)])
    np.testing.assert_allclose(z, mean / se)


def test_paired_gain_allows_single_runs_to_disagree_but_not_a_small_mean():
    rng = np.random.default_rng(0)
    better = rng.normal(size=50)
    worse = better + 1.0 + rng.normal(scale=0.5, size=50)
    worse[0] = better[0] - 0.5  # one run goes the other way
    checks.assert_paired_gain(worse, better)
    with pytest.raises(AssertionError, match="standard errors from zero"):
        checks.assert_paired_gain(better + 0.01 * rng.normal(size=50) + 0.001, better, what="tiny")
    with pytest.raises(AssertionError, match="fewer than 3"):
        checks.assert_paired_gain(better, better + 1.0)  # the other way round


def test_paired_gain_validates_its_input():
    with pytest.raises(ValueError, match="at least 2 runs"):
        checks.assert_paired_gain([1.0], [0.0])
    with pytest.raises(ValueError, match="n_se"):
        checks.assert_paired_gain([1.0, 2.0], [0.0, 0.0], n_se=0)


# ---------------------------------------------------------------------------------------------------------
# assert_same_minimum
# ---------------------------------------------------------------------------------------------------------


def _u_runs(x, bottom, n_runs=30, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    curve = np.exp(0.4 * np.log(x / bottom) ** 2)
    return curve, curve * (1 + noise * rng.standard_normal((n_runs, x.size)))


def test_same_minimum_passes_when_the_simulation_bottoms_out_where_the_theory_does():
    x = np.geomspace(100, 10_000, 25)
    theory, runs = _u_runs(x, 1000.0)
    at_theory, simulated, log_se = checks.assert_same_minimum(x, runs, theory, rng=np.random.default_rng(1))
    assert at_theory == pytest.approx(1000.0, rel=1e-9)
    assert abs(np.log(simulated / 1000.0)) <= 3 * log_se < np.log(2)


def test_same_minimum_fails_for_a_bottom_at_a_third_of_the_predicted_x():
    x = np.geomspace(100, 10_000, 25)
    theory, _ = _u_runs(x, 1000.0)
    _, runs = _u_runs(x, 330.0)
    with pytest.raises(AssertionError, match="standard errors apart"):
        checks.assert_same_minimum(x, runs, theory, rng=np.random.default_rng(1))


def test_same_minimum_fails_when_the_runs_cannot_locate_the_bottom():
    x = np.geomspace(100, 10_000, 25)
    theory, runs = _u_runs(x, 1000.0, n_runs=5, noise=0.5)
    with pytest.raises((AssertionError, ValueError)):
        checks.assert_same_minimum(x, runs, theory, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match="runs must be"):
        checks.assert_same_minimum(x, runs[:, :3], theory, rng=np.random.default_rng(1))
