"""Exponents of Dohmatob et al. §5 against the paper's values, and the power-law model's normalization."""

import numpy as np
import pytest

from collapse_utils.theory import ridge, scaling


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
    with pytest.raises(ValueError):
        scaling.loglog_slope(x, -x)
    with pytest.raises(ValueError):
        scaling.loglog_slope([1.0], [1.0])


def test_u_turn_sample_size_matches_a_brute_force_search_over_every_integer():
    eigs, w0_sq = scaling.power_law_problem(300, 2.0, 0.375)
    ex = scaling.exponents(2.0, 0.375)
    for n in (1, 2, 5):
        T_star, err = scaling.u_turn_sample_size(ex.ell_crit, n, 600, eigs, w0_sq, 1.0, 1.0, T_range=(100, 10**5))
        # every integer within 150 of the answer, and a coarse grid over the whole range
        Ts = np.unique(np.concatenate([np.arange(T_star - 150, T_star + 151), np.geomspace(100, 10**5, 100).round()]))
        brute = [ridge.collapse_test_error(float(T) ** -ex.ell_crit, int(T), n, 600, eigs, w0_sq, 1.0, 1.0)
                 for T in Ts]
        assert T_star == Ts[int(np.argmin(brute))]
        assert err == pytest.approx(min(brute), rel=1e-12)


def test_u_turn_sample_size_moves_left_as_n_grows_and_refuses_a_minimum_at_the_end():
    eigs, w0_sq = scaling.power_law_problem(300, 2.0, 0.375)
    ell = scaling.exponents(2.0, 0.375).ell_crit
    turns = [scaling.u_turn_sample_size(ell, n, 600, eigs, w0_sq, 1.0, 1.0, T_range=(100, 10**5))[0]
             for n in (1, 2, 5)]
    assert turns[0] > turns[1] > turns[2]
    with pytest.raises(ValueError, match=r"^T_range must hold the minimum inside it"):
        scaling.u_turn_sample_size(ell, 0, 600, eigs, w0_sq, 1.0, 1.0, T_range=(100, 10**4))  # clean: no U-turn
    with pytest.raises(ValueError, match=r"^T_range must be a pair"):
        scaling.u_turn_sample_size(ell, 1, 600, eigs, w0_sq, 1.0, 1.0, T_range=(100, 50))
    with pytest.raises(ValueError, match=r"^ell must be"):
        scaling.u_turn_sample_size(-0.5, 1, 600, eigs, w0_sq, 1.0, 1.0, T_range=(100, 10**4))


@pytest.mark.parametrize("noiseless", [True, False], ids=["noiseless", "noisy"])
@pytest.mark.parametrize(("a", "b"), [(0.0, 0.5), (0.0, 1.0), (0.0, 1.5), (0.0, 2.0), (0.0, 3.0), (0.5, 2.0)])
def test_optimal_rate_exponent_matches_theorem_5_1_optimized_over_ell(noiseless, a, b):
    # Corollary 5.2 / App. G against an independent computation: Theorem 5.1's rate with T0 = T^b and
    # n sigma0^2 = T^a, minimized over a grid of ell in [0, beta) at each T, then the log-log slope over T.
    fitted = scaling.theorem51_best_exponent(2.0, 0.375, a, b, sigma2=0.0 if noiseless else 1.0)
    assert fitted == pytest.approx(scaling.optimal_rate_exponent(2.0, 0.375, a, b, noiseless=noiseless), abs=0.02)


def test_optimal_rate_exponent_crosses_over_from_fast_to_slow():
    fast = 2 * 2.0 * 0.375  # clean noiseless rate 2 beta r = 1.5
    assert scaling.optimal_rate_exponent(2.0, 0.375, 0.0, 1.0, noiseless=True) == pytest.approx(0.6)
    assert scaling.optimal_rate_exponent(2.0, 0.375, 0.0, 2.5, noiseless=True) == pytest.approx(fast)
    assert scaling.optimal_rate_exponent(2.0, 0.375, 0.0, 9.0, noiseless=True) == pytest.approx(fast)
    assert scaling.optimal_rate_exponent(2.0, 0.375, 0.5, 1.0, noiseless=False) == pytest.approx(0.3)
    assert scaling.optimal_rate_exponent(2.0, 0.375, 0.0, 4.0, noiseless=False) == pytest.approx(0.6)
    with pytest.raises(ValueError, match=r"^b must be > a"):
        scaling.optimal_rate_exponent(2.0, 0.375, 1.0, 1.0, noiseless=True)


def test_loglog_vertex_finds_the_minimum_of_a_symmetric_and_of_an_exact_log_parabola():
    x = np.geomspace(0.1, 10, 15)
    assert scaling.loglog_vertex(x, x**0.5 + x**-0.5) == pytest.approx(1.0, abs=1e-12)  # 2 cosh(log x / 2)
    assert scaling.loglog_vertex(x, np.exp(0.3 * (np.log(x) - np.log(2.5)) ** 2)) == pytest.approx(2.5, rel=1e-10)
    with pytest.raises(ValueError, match="curve upwards"):
        scaling.loglog_vertex(x, np.exp(-(np.log(x) ** 2)))
    with pytest.raises(ValueError, match="at least 3 points"):
        scaling.loglog_vertex([1.0, 2.0], [1.0, 2.0])
