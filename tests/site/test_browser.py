"""Browser check: headless Chromium opens every page of the book and verifies that it really renders.

For each page of `_toc.yml`: every image has loaded (complete, non-zero natural size), every piece of math
was typeset by MathJax (each `.math` element holds an `mjx-container`, none holds an `mjx-merror`), chapter
pages show at least one figure, and every citation link points to an entry that exists on the references page.
Failures name the page and the element. Chromium and ChromeDriver come from Debian (`make setup` installs them);
`CHROMIUM` and `CHROMEDRIVER` override their paths. What a reader sees (figure text size, overflow, zoom, the
scorecard, the landing page) is checked in `test_reader.py`.
"""

from __future__ import annotations

import pytest

from .browser import CHROMIUM, chromium_available, open_page, start_chromium
from .conftest import toc_pages

_INSPECT = """
const imgs = Array.from(document.querySelectorAll("main img, article img, .bd-article img"));
const maths = Array.from(document.querySelectorAll(".bd-article .math, article .math"));
return {
  images: imgs.map(i => ({src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0})),
  math: maths.map(m => ({text: m.textContent.slice(0, 60), rendered: !!m.querySelector("mjx-container"),
                         error: !!m.querySelector("mjx-merror")})),
  citations: Array.from(document.querySelectorAll("a[href*='references.html#']")).map(a => a.getAttribute("href")),
  anchors: Array.from(document.querySelectorAll("[id]")).map(e => e.id),
};
"""


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.fail(f"Chromium not found at {CHROMIUM!r}: run `make setup` (Debian packages chromium, chromium-driver)")
    driver = start_chromium(1280, 1000)
    yield driver
    driver.quit()


def _inspect(browser, server, page):
    state = open_page(browser, f"{server}/{page}.html")
    assert state in ("ok", "no math"), f"{page}: {state}"
    return browser.execute_script(_INSPECT)


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_figures_and_math(browser, server, page):
    found = _inspect(browser, server, page)
    broken = [i["src"] for i in found["images"] if not i["ok"]]
    assert not broken, f"{page}: images did not load: {broken}"
    if page.startswith("notebooks/"):
        assert found["images"], f"{page}: chapter page shows no figure"
    unrendered = [m["text"] for m in found["math"] if not m["rendered"]]
    assert not unrendered, f"{page}: math not rendered by MathJax: {unrendered[:3]}"
    errors = [m["text"] for m in found["math"] if m["error"]]
    assert not errors, f"{page}: MathJax reported errors in: {errors[:3]}"


def test_math_and_citations_present_where_expected(browser, server):
    """The pages that the book promises to hold math and citations do, and every citation resolves."""
    pages = toc_pages()
    refs_page = next(p for p in pages if p.endswith("references"))
    anchors = set(_inspect(browser, server, refs_page)["anchors"])
    for page in pages:
        if page == refs_page:
            continue
        found = _inspect(browser, server, page)
        assert found["math"], f"{page}: no rendered math on the page"
        assert found["citations"], f"{page}: no citation of the references page"
        dangling = [c for c in found["citations"] if c.split("#", 1)[1] not in anchors]
        assert not dangling, f"{page}: citations point to missing bibliography entries: {dangling}"
