"""The chapters' glued numbers: glued for the prose and shown as a table for readers outside the book."""

from __future__ import annotations

import pytest

from collapse_utils import chapter


def test_glue_numbers_glues_each_value_and_tabulates_it(monkeypatch):
    glued = {}
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display=True: glued.update({name: (value, display)}))
    table = chapter.glue_numbers({"n_star": ("$n^\\ast$", "24.8"), "runs": ("runs", 100)})
    assert glued == {"n_star": ("24.8", False), "runs": (100, False)}
    assert table.text.splitlines() == ["| quantity | value |", "|---|---|", "| $n^\\ast$ | 24.8 |", "| runs | 100 |"]


def test_glue_numbers_needs_a_number():
    with pytest.raises(ValueError, match="at least one"):
        chapter.glue_numbers({})
