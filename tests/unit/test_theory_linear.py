"""Closed forms of the linear feedback loop (Gerstgrasser et al. 2024, linear model; Dohmatob et al. 2024)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collapse_utils.theory import linear as th

# Reference constants: sum_{i<=n} 1/i^2, quoted to 4 decimals in the reference.
BASEL_REFERENCE = {1: 1.0, 2: 1.25, 3: 1.3611, 4: 1.4236, 5: 1.4636, 10: 1.5498, 50: 1.6251}


# ---------------------------------------------------------------------------------------------------------
# basel_partial_sum
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), sorted(BASEL_REFERENCE.items()))
def test_basel_partial_sum_matches_reference_constants(n, expected):
    assert th.basel_partial_sum(n) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 100])
def test_basel_partial_sum_equals_explicit_sum(n):
    assert th.basel_partial_sum(n) == pytest.approx(math.fsum(1 / j**2 for j in range(1, n + 1)), rel=1e-14)


def test_basel_limit_is_pi_squared_over_six():
    assert pytest.approx(np.pi**2 / 6, rel=1e-15) == th.BASEL_LIMIT
    assert round(th.BASEL_LIMIT, 4) == 1.6449


def test_basel_partial_sum_of_zero_is_zero():
    assert th.basel_partial_sum(0) == 0.0


def test_basel_partial_sum_scalar_returns_python_float():
    assert isinstance(th.basel_partial_sum(5), float)


def test_basel_partial_sum_is_strictly_increasing_and_below_the_limit():
    n = np.arange(0, 2001)
    s = th.basel_partial_sum(n)
    assert s.shape == n.shape
    assert np.all(np.diff(s) > 0)
    assert np.all(s < th.BASEL_LIMIT)
    # the tail sum_{j>n} 1/j^2 lies between 1/(n+1) and 1/n
    tail = th.BASEL_LIMIT - s[1:]
    assert np.all(tail > 1 / (n[1:] + 1))
    assert np.all(tail < 1 / n[1:])


def test_basel_partial_sum_vectorized_matches_scalar_calls():
    n = np.array([[1, 5], [10, 50]])
    out = th.basel_partial_sum(n)
    assert out.shape == (2, 2)
    for idx in np.ndindex(n.shape):
        assert out[idx] == th.basel_partial_sum(int(n[idx]))


# ---------------------------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "T", "sigma2"), [(1, 3, 1.0), (7, 10, 0.1), (32, 100, 10.0), (3, 32, 1.0)])
def test_ols_test_error_is_sigma2_d_over_T_minus_d_minus_1(d, T, sigma2):
    assert th.ols_test_error(d, T, sigma2) == pytest.approx(sigma2 * d / (T - d - 1), rel=1e-15)


def test_base_error_of_paper_small_figure_setting_is_3_5_sigma2():
    # d = 7, T = 10: sigma^2 * 7 / 2 = 3.5 sigma^2, the base error read off the paper's small figure
    assert th.ols_test_error(7, 10, 2.0) == pytest.approx(7.0)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 50])
def test_replace_test_error_is_linear_in_n(n):
    d, T, sigma2 = 32, 100, 100.0
    assert th.replace_test_error(n, d, T, sigma2) == pytest.approx(sigma2 * d * n / (T - d - 1), rel=1e-14)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 50])
def test_accumulate_test_error_is_base_times_basel_partial_sum(n):
    d, T, sigma2 = 32, 100, 100.0
    expected = sigma2 * d / (T - d - 1) * math.fsum(1 / j**2 for j in range(1, n + 1))
    assert th.accumulate_test_error(n, d, T, sigma2) == pytest.approx(expected, rel=1e-13)


def test_paper_large_figure_values():
    # the paper's large figure, T = 100, sigma^2 = 100, d = 32: replace ~ 2.4e3 at n = 50, accumulate ~ 78
    assert th.replace_test_error(50, 32, 100, 100.0) == pytest.approx(2.4e3, rel=0.02)
    assert th.accumulate_test_error(50, 32, 100, 100.0) == pytest.approx(78, rel=0.02)


def test_iteration_1_is_the_same_for_both_policies():
    assert th.replace_test_error(1, 4, 20, 2.0) == th.accumulate_test_error(1, 4, 20, 2.0) == th.ols_test_error(
        4, 20, 2.0
    )


def test_replace_multiple_is_base_times_the_harmonic_number():
    np.testing.assert_allclose(th.harmonic_number([1, 2, 3, 10]), [1, 1.5, 11 / 6, 2.9289682539682538], rtol=1e-15)
    it = np.arange(1, 60)
    np.testing.assert_allclose(th.replace_multiple_test_error(it, 10, 40, 2.0) / th.ols_test_error(10, 40, 2.0),
                               np.cumsum(1.0 / it), rtol=1e-14)
    # it lies between accumulate and replace from iteration 2 on, and grows like ln i without bound
    assert np.all(th.accumulate_test_error(it[1:], 10, 40, 2.0) < th.replace_multiple_test_error(it[1:], 10, 40, 2.0))
    assert np.all(th.replace_multiple_test_error(it[1:], 10, 40, 2.0) < th.replace_test_error(it[1:], 10, 40, 2.0))
    assert th.harmonic_number(10**6) - np.log(10**6) == pytest.approx(np.euler_gamma, abs=1e-6)


def test_accumulate_stays_below_its_bound_and_approaches_it():
    n = np.arange(1, 1001)
    acc = th.accumulate_test_error(n, 5, 30, 1.0)
    bound = th.ols_test_error(5, 30, 1.0) * th.BASEL_LIMIT
    assert np.all(acc < bound)
    assert np.all(np.diff(acc) > 0)
    assert acc[-1] == pytest.approx(bound, rel=1e-3)


@pytest.mark.parametrize(("n", "expected"), [(10, 6.45), (50, 30.8)])
def test_replace_to_accumulate_ratio_reference_values(n, expected):
    assert th.replace_to_accumulate_ratio(n) == pytest.approx(expected, abs=0.005 if n == 10 else 0.05)


def test_replace_to_accumulate_ratio_equals_ratio_of_the_closed_forms():
    n = np.arange(1, 21)
    ratio = th.replace_test_error(n, 3, 12, 0.7) / th.accumulate_test_error(n, 3, 12, 0.7)
    np.testing.assert_allclose(th.replace_to_accumulate_ratio(n), ratio, rtol=1e-13)
    assert th.replace_to_accumulate_ratio(1) == 1.0


def test_closed_forms_accept_arrays_and_lists():
    n = np.array([1, 2, 3, 4, 5])
    rep = th.replace_test_error(n, 2, 10, 1.0)
    acc = th.accumulate_test_error(list(n), 2, 10, 1.0)
    assert isinstance(rep, np.ndarray)
    assert isinstance(acc, np.ndarray)
    assert rep.shape == acc.shape == (5,)
    np.testing.assert_allclose(rep, [th.replace_test_error(int(k), 2, 10, 1.0) for k in n], rtol=1e-15)
    np.testing.assert_allclose(acc, [th.accumulate_test_error(int(k), 2, 10, 1.0) for k in n], rtol=1e-15)
    two_d = th.accumulate_test_error(n.reshape(5, 1), 2, 10, 1.0)
    assert two_d.shape == (5, 1)


def test_closed_forms_scalar_inputs_return_python_floats():
    assert isinstance(th.replace_test_error(3, 2, 10, 1.0), float)
    assert isinstance(th.accumulate_test_error(3, 2, 10, 1.0), float)
    assert isinstance(th.replace_to_accumulate_ratio(3), float)


def test_integer_valued_float_iterations_are_accepted():
    assert th.replace_test_error(3.0, 2, 10, 1.0) == th.replace_test_error(3, 2, 10, 1.0)
    np.testing.assert_array_equal(
        th.accumulate_test_error(np.array([1.0, 4.0]), 2, 10, 1.0), th.accumulate_test_error([1, 4], 2, 10, 1.0)
    )


def test_numpy_integer_design_sizes_are_accepted():
    assert th.ols_test_error(np.int64(3), np.int32(10), np.float64(1.5)) == pytest.approx(1.5 * 3 / 6)


def test_zero_noise_gives_zero_error():
    assert th.replace_test_error(10, 3, 10, 0.0) == 0.0
    assert th.accumulate_test_error(10, 3, 10, 0) == 0.0


# ---------------------------------------------------------------------------------------------------------
# input errors
# ---------------------------------------------------------------------------------------------------------

CLOSED_FORMS_OF_DESIGN = [
    lambda d, T, s2: th.ols_test_error(d, T, s2),
    lambda d, T, s2: th.replace_test_error(1, d, T, s2),
    lambda d, T, s2: th.accumulate_test_error(1, d, T, s2),
    lambda d, T, s2: th.replace_multiple_test_error(1, d, T, s2),
]


@pytest.mark.parametrize("f", CLOSED_FORMS_OF_DESIGN)
@pytest.mark.parametrize(("d", "T"), [(3, 4), (3, 3), (3, 2), (10, 11), (1, 2)])
def test_T_below_d_plus_2_raises_naming_T_d_and_rule(f, d, T):
    with pytest.raises(ValueError) as info:
        f(d, T, 1.0)
    assert str(info.value).startswith(f"T must be >= d + 2 = {d + 2} (the mean of an inverse Wishart")
    assert str(info.value).endswith(f"got {T}")


@pytest.mark.parametrize("f", CLOSED_FORMS_OF_DESIGN)
def test_T_equal_to_d_plus_2_is_the_smallest_valid_design(f):
    assert f(3, 5, 1.0) > 0


# ---------------------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------------------

designs = st.integers(min_value=1, max_value=200).flatmap(
    lambda d: st.tuples(st.just(d), st.integers(min_value=d + 2, max_value=d + 2000))
)
noises = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None, database=None)
@given(design=designs, sigma2=noises, n=st.integers(min_value=1, max_value=5000))
def test_property_accumulate_is_at_most_the_bound_and_at_least_the_first_error(design, sigma2, n):
    d, T = design
    acc = th.accumulate_test_error(n, d, T, sigma2)
    assert th.ols_test_error(d, T, sigma2) <= acc <= th.ols_test_error(d, T, sigma2) * th.BASEL_LIMIT
    assert acc <= th.replace_test_error(n, d, T, sigma2) * (1 + 1e-15)


@settings(max_examples=50, deadline=None, database=None)
@given(design=designs, sigma2=noises, n=st.integers(min_value=1, max_value=10_000),
       m=st.integers(min_value=1, max_value=10_000))
def test_property_replace_is_linear_in_n(design, sigma2, n, m):
    d, T = design
    first = th.replace_test_error(1, d, T, sigma2)
    assert th.replace_test_error(n, d, T, sigma2) == pytest.approx(n * first, rel=1e-14, abs=0)
    assert th.replace_test_error(n + m, d, T, sigma2) == pytest.approx(
        th.replace_test_error(n, d, T, sigma2) + th.replace_test_error(m, d, T, sigma2), rel=1e-13, abs=0
    )


@settings(max_examples=50, deadline=None, database=None)
@given(design=designs, n=st.integers(min_value=1, max_value=1000),
       c=st.floats(min_value=1e-3, max_value=1e3, allow_nan=False))
def test_property_closed_forms_are_linear_in_sigma2(design, n, c):
    d, T = design
    for f in (th.replace_test_error, th.accumulate_test_error):
        assert f(n, d, T, c) == pytest.approx(c * f(n, d, T, 1.0), rel=1e-13)
