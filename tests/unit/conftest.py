"""Fixtures shared by the page-module tests (``test_pages_*.py``)."""

import pytest


@pytest.fixture
def glued(monkeypatch) -> dict:
    """What a page glues, by name: ``myst_nb.glue`` recorded instead of displayed."""
    import myst_nb

    out: dict = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: out.__setitem__(name, value))
    return out


@pytest.fixture
def close_figures():
    """Close every matplotlib figure a test leaves open."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
