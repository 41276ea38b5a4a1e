"""Exponents of Dohmatob et al. §5 against the paper's values, and the power-law model's normalization."""

import numpy as np
import pytest

from collapse_utils.theory import scaling


@pytest.mark.parametrize(
    ("beta", "r", "ell_crit", "c", "delta"),
    [(2.0, 0.375, 0.8, 0.6, 0.5),  # Figure 1b
     (1.65, 0.097, 1.2499, 0.2425, None),  # MNIST, RBF kernel (App. D.2)
     (1.2, 0.15, 0.8824, 0.2647, None)],  # MNIST, polynomial kernel
)
def test_exponents_match_the_paper(beta, r, ell_crit, c, delta):
    ex = scaling.exponents(beta, r)
    assert ex.ell_crit == pytest.approx(ell_crit, abs=5e-5)
    assert ex.c == pytest.approx(c, abs=5e-5)
    if delta is not None:
        assert ex.delta == pytest.approx(delta)


def test_source_exponent_saturates_at_one():
    assert scaling.exponents(2.0, 3.0).r_under == 1.0
    assert scaling.exponents(2.0, 3.0).c == pytest.approx(scaling.exponents(2.0, 1.0).c)
    assert scaling.exponents(2.0, 0.5).r_under == 0.5


def test_clean_rate_is_twice_ell_crit_times_r():
    for beta, r in [(1.5, 0.2), (2.0, 0.375), (3.0, 0.9)]:
        ex = scaling.exponents(beta, r)
        assert ex.c == pytest.approx(2 * ex.ell_crit * ex.r_under)
        # at ell_crit the two clean terms of Theorem 5.1 balance: 1 - 2 r ell - ell/beta = 0
        assert 1 - 2 * ex.r_under * ex.ell_crit - ex.ell_crit / beta == pytest.approx(0.0, abs=1e-12)


def test_ell_star_corollary_5_2():
    ex = scaling.exponents(2.0, 0.375)
    assert ex.ell_star(a=0.0, b=0.5) == pytest.approx(0.4)
    assert ex.ell_star(a=0.1, b=0.6) == pytest.approx(0.4)
    assert ex.ell_star(a=0.0, b=10.0) == pytest.approx(2.0)  # capped at beta


def test_power_law_problem_normalization():
    eigs, w0_sq = scaling.power_law_problem(300, 2.0, 0.375)
    assert eigs.shape == w0_sq.shape == (300,)
    assert eigs[0] == 1.0 and np.all(np.diff(eigs) < 0)
    assert np.sum(eigs * w0_sq) == pytest.approx(1.0)
    k = np.arange(1, 301)
    slope = np.polyfit(np.log(k), np.log(w0_sq), 1)[0]
    assert slope == pytest.approx(-0.5)  # c_j^2 ~ j^-delta with delta = 0.5
    _, scaled = scaling.power_law_problem(300, 2.0, 0.375, w0_norm_sigma=4.0)
    assert np.sum(eigs * scaled) == pytest.approx(4.0)


def test_theorem51_rate_exponents():
    ex = scaling.exponents(2.0, 0.375)
    T = np.geomspace(1e6, 1e9, 10)
    clean = scaling.theorem51_rate(T, ex.ell_crit, 2.0, 0.375)
    assert scaling.loglog_slope(T, clean) == pytest.approx(-ex.c)
    with_collapse = scaling.theorem51_rate(T, ex.ell_crit, 2.0, 0.375, n=1, T0=600, d=300)
    assert scaling.loglog_slope(T, with_collapse) == pytest.approx(ex.ell_crit / 2.0, abs=0.01)


def test_loglog_slope():
    x = np.array([1.0, 10.0, 100.0])
    assert scaling.loglog_slope(x, 3 * x**-0.7) == pytest.approx(-0.7)
