"""The built site exists, holds every page of the table of contents, and every local file it links to."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import ROOT, toc_pages


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.refs.append(("img", a["src"]))
        elif tag == "script" and a.get("src"):
            self.refs.append(("script", a["src"]))
        elif tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.refs.append(("stylesheet", a["href"]))
        elif tag == "a" and a.get("href"):
            self.refs.append(("a", a["href"]))
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("page", toc_pages())
def test_every_toc_page_is_built_with_its_local_files(site, page):
    html = site / f"{page}.html"
    assert html.is_file(), f"{page}: no {html.relative_to(site)} in the built site"
    links = _parse(html)
    assert links.title.strip(), f"{page}: page has no <title>"
    missing = []
    for kind, ref in links.refs:
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        target = (html.parent / parts.path).resolve()
        if not target.exists():
            missing.append(f"{kind} {ref}")
    assert not missing, f"{page}: links to files missing from the site: {missing}"


def test_site_entry_points(site):
    for name in ("index.html", "search.html", "searchindex.js", "_static/mathjax/tex-chtml.js"):
        assert (site / name).is_file(), f"built site lacks {name}"
    root = toc_pages()[0]
    assert f"{root}.html" in (site / "index.html").read_text(), "index.html does not lead to the root page"


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("notebooks/")])
def test_chapter_pages_have_figures_and_a_colab_button(site, page):
    html = (site / f"{page}.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', html)
    assert images, f"{page}: no figure (<img> from _images/) on the chapter page"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repo = urlsplit(url).path.strip("/")
    colab = f"colab.research.google.com/github/{repo}/blob/main/{page}.ipynb"
    assert colab in html, f"{page}: no Colab launch button pointing to {colab}"


def test_results_page_follows_the_introduction():
    pages = toc_pages()
    assert pages[1] == "book/results", f"the results page must come right after the introduction, got {pages[:3]}"


@pytest.mark.parametrize("page", toc_pages())
def test_every_page_loads_the_reader_assets_and_offers_no_print_to_pdf(site, page):
    html = (site / f"{page}.html").read_text(encoding="utf-8")
    for asset in ("_static/reader.css", "_static/reader.js"):
        assert asset in html, f"{page}: does not load {asset} (book/_ext/reader.py)"
    assert "window.print()" not in html, f"{page}: offers a print-to-PDF button, but the book builds no PDF"
    assert re.search(r'<meta name="description" content="[^"]{40,}"', html), f"{page}: no meta description"
