"""One citation style, author-year, in the text and in the bibliography.

sphinxcontrib-bibtex cites by author and year in the text (``bibtex_reference_style``) but labels the bibliography
with whatever its pybtex style makes: numbers for ``plain``. This extension registers

- the pybtex formatting style ``authoryear`` (``bibtex_default_style: authoryear``): pybtex's ``unsrt`` entries,
  sorted by author, year and title, labelled "Gerstgrasser et al., 2024" (the text's form; "a", "b" after the year
  tell apart an author's papers of one year);
- the reference style ``author_year_round`` (``bibtex_reference_style: author_year_round``): "Gerstgrasser et al.
  (2024)" in running text and "(Gerstgrasser et al., 2024)" in parentheses, instead of square brackets, which in an
  author-year text read like numbered references.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sphinxcontrib.bibtex.plugin
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle


def _last_name(person) -> str:
    return str(Text.from_latex(" ".join(person.prelast_names + person.last_names)))


def author_label(entry) -> str:
    """"A", "A and B" or "A et al.", then ", year": how the text cites ``entry``."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in persons]
    if not names:
        who = entry.fields.get("key", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Bibliography labels in the text's author-year form, unique within the bibliography."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_label(e) for e in entries]
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                yield f"{label}{chr(ord('a') + seen[label] - 1)}"
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entries, sorted by author, year and title, with author-year labels."""

    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def _round() -> BracketStyle:
    return BracketStyle(left="(", right=")")


@dataclass
class RoundAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author-year citations in round brackets."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round)
    bracket_textual: BracketStyle = field(default_factory=_round)
    bracket_author: BracketStyle = field(default_factory=_round)
    bracket_label: BracketStyle = field(default_factory=_round)
    bracket_year: BracketStyle = field(default_factory=_round)


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
sphinxcontrib.bibtex.plugin.register_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_round",
                                            RoundAuthorYearReferenceStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
