"""The book's Sphinx extensions that hold logic of their own (book/_ext): the author-year bibliography labels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pybtex = pytest.importorskip("pybtex")
pytest.importorskip("sphinxcontrib.bibtex")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))

import authoryear  # noqa: E402
from pybtex.database import Entry, Person  # noqa: E402


def _entry(key, authors, year):
    entry = Entry("article", fields={"title": key, "year": year})
    entry.persons["author"] = [Person(a) for a in authors]
    entry.key = key
    return entry


def test_labels_name_one_two_or_the_first_of_many_authors_and_the_year():
    assert authoryear.author_label(_entry("a", ["Shumailov, Ilia"], "2024")) == "Shumailov, 2024"
    assert authoryear.author_label(_entry("b", ["Riniker, Sereina", "Landrum, Gregory A."], "2015")) == (
        "Riniker and Landrum, 2015")
    assert authoryear.author_label(_entry("c", ["Dohmatob, Elvis", "Feng, Yunzhen", "Kempe, Julia"], "2024")) == (
        "Dohmatob et al., 2024")
    assert authoryear.author_label(_entry("d", ["van der Vaart, Aad"], "1998")) == "van der Vaart, 1998"


def test_labels_of_one_authors_papers_of_one_year_get_letters():
    entries = [_entry("x", ["Kazdan, J.", "B, C"], "2024"), _entry("y", ["Kazdan, J.", "B, C", "D, E"], "2024"),
               _entry("z", ["Kazdan, J.", "F, G", "H, I"], "2024"), _entry("w", ["Kazdan, J."], "2023")]
    labels = list(authoryear.AuthorYearLabelStyle().format_labels(entries))
    assert labels == ["Kazdan and B, 2024", "Kazdan et al., 2024a", "Kazdan et al., 2024b", "Kazdan, 2023"]
