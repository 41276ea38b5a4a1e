"""The toy datasets reproduce scikit-learn's generators exactly, call for call on the random generator."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_utils.data import toy

datasets = pytest.importorskip("sklearn.datasets")


@pytest.mark.parametrize("n", [1, 7, 100, 501])
@pytest.mark.parametrize("noise", [0.0, 0.05, 0.3])
def test_circles_equal_sklearn(n, noise):
    expected, _ = datasets.make_circles(n, noise=noise, factor=0.8, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(toy.circles(np.random.RandomState(3), n, noise=noise), expected)


@pytest.mark.parametrize("n", [1, 7, 100, 501])
@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_moons_equal_sklearn(n, noise):
    expected, _ = datasets.make_moons(n, noise=noise, random_state=np.random.RandomState(4))
    np.testing.assert_array_equal(toy.moons(np.random.RandomState(4), n, noise=noise), expected)


@pytest.mark.parametrize("n", [1, 100, 501])
def test_swiss_roll_equals_sklearn(n):
    expected, _ = datasets.make_swiss_roll(n, noise=0.05, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(toy.swiss_roll(np.random.RandomState(5), n, noise=0.05), expected)


@pytest.mark.parametrize("n", [1, 2, 100, 502])
def test_blobs_equal_sklearn(n):
    expected, _, centers = datasets.make_blobs(n, random_state=np.random.RandomState(6), return_centers=True)
    rng = np.random.RandomState(6)
    law = toy.toy_law("blobs", rng)
    np.testing.assert_array_equal(law.centers, centers)
    np.testing.assert_array_equal(law.sample(rng, n), expected)


def test_blob_law_keeps_its_centres_for_test_points():
    rng = np.random.default_rng(0)
    law = toy.toy_law("blobs", rng)
    train, test = law.sample(rng, 3000), law.sample(rng, 3000)
    for points in (train, test):
        nearest = np.argmin(((points[:, None, :] - law.centers[None]) ** 2).sum(-1), axis=1)
        assert np.bincount(nearest, minlength=3).min() > 900  # every centre of the law holds its share of points


@pytest.mark.parametrize("name", toy.DATASETS)
def test_laws_sample_with_a_numpy_generator(name):
    rng = np.random.default_rng(1)
    law = toy.toy_law(name, rng)
    x = law.sample(rng, 50)
    assert x.shape == (50, law.dim) and np.all(np.isfinite(x))
    assert law.dim == (3 if name == "swiss-roll" else 2)


def test_gaussian_law():
    law = toy.GaussianLaw(d=2, sigma2=4.0)
    x = law.sample(np.random.default_rng(0), 200_000)
    assert x.shape == (200_000, 2) and law.dim == 2
    np.testing.assert_allclose(x.var(axis=0), 4.0, rtol=0.02)


def test_unknown_dataset_raises():
    with pytest.raises(ValueError, match="name must be one of 'blobs', 'circles', 'moons', 'swiss-roll'"):
        toy.toy_law("spirals", np.random.default_rng(0))
