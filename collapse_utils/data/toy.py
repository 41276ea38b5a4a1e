"""Toy point clouds for the kernel-density chapter: scikit-learn's blobs, circles, moons and Swiss roll, in numpy.

Each generator follows scikit-learn's definition step by step, with the same calls on the random generator in the
same order (``uniform``, ``normal``, ``standard_normal``, ``shuffle``): given a ``numpy.random.RandomState`` in the
same state, it returns exactly what ``sklearn.datasets.make_*`` returns (``tests/unit/test_data_toy.py`` checks
this); given a ``numpy.random.Generator`` it draws from the same law. Kazdan et al. (2024) fit kernel density
estimators to these four datasets with noise 0.05.

A :class:`ToyLaw` is one data law: :meth:`ToyLaw.sample` draws ``n`` points from it. Blobs have random centres
(scikit-learn draws three, uniform in ``[-10, 10]^2``, at every call); :func:`toy_law` draws them once, so that
training and test points share them. (Two separate ``make_blobs`` calls would give two different laws.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_utils.validation import Int, OneOf, Real, validate

DATASETS = ("blobs", "circles", "moons", "swiss-roll")
"""The four datasets of Kazdan et al. (2024), by name."""


def _shuffled(X: np.ndarray, rng) -> np.ndarray:
    """scikit-learn's ``shuffle``: permute the rows by ``rng.shuffle`` of their indices."""
    idx = np.arange(X.shape[0])
    rng.shuffle(idx)
    return X[idx]


@validate(n=Int(1), noise=Real(0), factor=Real(0, 1, high_open=True))
def circles(rng, n: int, *, noise: float = 0.05, factor: float = 0.8) -> np.ndarray:
    """``make_circles``: ``n // 2`` points evenly spaced on the unit circle and the rest on a circle of radius
    ``factor``, shuffled, plus ``N(0, noise^2)`` in each coordinate. Returns ``(n, 2)``."""
    n_out = n // 2
    n_in = n - n_out
    lin_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    lin_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.append(np.cos(lin_out), np.cos(lin_in) * factor),
                   np.append(np.sin(lin_out), np.sin(lin_in) * factor)]).T
    X = _shuffled(X, rng)
    return X + rng.normal(scale=noise, size=X.shape)


@validate(n=Int(1), noise=Real(0))
def moons(rng, n: int, *, noise: float = 0.05) -> np.ndarray:
    """``make_moons``: two interleaving half circles (``n // 2`` and ``n - n // 2`` evenly spaced points), shuffled,
    plus ``N(0, noise^2)`` in each coordinate. Returns ``(n, 2)``."""
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    X = _shuffled(X, rng)
    return X + rng.normal(scale=noise, size=X.shape)


@validate(n=Int(1), noise=Real(0))
def swiss_roll(rng, n: int, *, noise: float = 0.05) -> np.ndarray:
    """``make_swiss_roll``: ``t = 1.5 pi (1 + 2u)``, height ``21 u'`` (``u, u'`` uniform), the point
    ``(t cos t, height, t sin t)`` plus ``N(0, noise^2)`` in each coordinate. Returns ``(n, 3)``."""
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    height = 21 * rng.uniform(size=n)
    X = np.vstack((t * np.cos(t), height, t * np.sin(t)))
    X += noise * rng.standard_normal(size=(3, n))
    return X.T


@validate(n=Int(1), std=Real(0))
def blobs(rng, n: int, centers: np.ndarray, *, std: float = 1.0) -> np.ndarray:
    """``make_blobs`` with given ``centers`` (k, d): ``n // k`` points per centre (the first ``n % k`` centres one
    more), each ``N(centre, std^2 I)``, shuffled. Returns ``(n, d)``."""
    centers = np.asarray(centers, dtype=float)
    k = len(centers)
    per_center = [n // k + (1 if c < n % k else 0) for c in range(k)]
    X = np.concatenate([rng.normal(loc=centers[c], scale=std, size=(m, centers.shape[1]))
                        for c, m in enumerate(per_center)])
    return _shuffled(X, rng)


def blob_centers(rng, n_centers: int = 3, d: int = 2, box: tuple[float, float] = (-10.0, 10.0)) -> np.ndarray:
    """``make_blobs``' random centres: ``uniform(box)`` in each coordinate. Returns ``(n_centers, d)``."""
    return rng.uniform(box[0], box[1], size=(n_centers, d))


@dataclass(frozen=True)
class ToyLaw:
    """One data law: a dataset's name, its noise, and (blobs) its centres."""

    name: str
    noise: float
    centers: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Dimension of the points (2, or 3 for the Swiss roll)."""
        return 3 if self.name == "swiss-roll" else 2

    def sample(self, rng, n: int) -> np.ndarray:
        """``n`` points from the law, ``(n, dim)``."""
        if self.name == "blobs":
            return blobs(rng, n, self.centers)
        if self.name == "circles":
            return circles(rng, n, noise=self.noise)
        if self.name == "moons":
            return moons(rng, n, noise=self.noise)
        return swiss_roll(rng, n, noise=self.noise)


@validate(name=OneOf(*DATASETS), noise=Real(0))
def toy_law(name: str, rng, noise: float = 0.05) -> ToyLaw:
    """The law of dataset ``name``; blobs draw their three centres from ``rng`` (scikit-learn's defaults: 2-D,
    centres uniform in ``[-10, 10]^2``, standard deviation 1; ``noise`` does not apply to them)."""
    return ToyLaw(name, noise, blob_centers(rng) if name == "blobs" else None)


@dataclass(frozen=True)
class GaussianLaw:
    """``N(0, sigma2 I_d)``: the law of the chapter's exact variance checks."""

    d: int = 1
    sigma2: float = 1.0

    @property
    def dim(self) -> int:
        return self.d

    def sample(self, rng, n: int) -> np.ndarray:
        return np.sqrt(self.sigma2) * rng.standard_normal((n, self.d))
