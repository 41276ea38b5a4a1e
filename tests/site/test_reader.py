"""What a reader sees, measured in headless Chromium at a desktop window (1400 px) and a phone (400 px).

Every page of `_toc.yml` is opened at both widths (after MathJax and the book's `reader.js` have run). Failures name
the page and the element.

- **Figure text.** For every raster figure on a chapter page, the results page and the landing page, the smallest
  font of the book's plot style is drawn at ``pt x dpi / 72`` image pixels (``dpi`` from the PNG's own metadata,
  the resolution it was drawn at) and shown at ``displayed width / natural width`` of that: at 1400 px this must be
  at least 11 px. At 400 px no figure can show its text that large inside the column; there the test asserts that
  the figure fills the screen's width (not a thumbnail, not wider than the screen) and that clicking it opens it
  at a size where the text is at least 11 px. Explicit font sizes below the style's smallest, written in a
  chapter's plotting code, are listed too: the measurement above cannot see them.
- **Click to enlarge.** Every figure opens full size on click and closes on Escape, at both widths.
- **Overflow.** At 1400 px no code block, output block or table needs horizontal scrolling in the text column; at
  both widths no display equation is wider than its box (`reader.js` first shrinks an equation that is up to 25%
  too wide; what remains is listed with its TeX, for the chapter to break over lines) and no inline formula is
  wider than the column (the theme would cut it off).
- **Glitches.** No print-to-PDF button; a `<title>` that does not repeat the book's name and a meta description on
  every page; alt text that is not a file path; author-year labels in the bibliography; no glued number written
  against math (``$T^{-}${glue:text}`c` `` prints "T⁻ 0.6"); no "−0"; no raw glue role in the text.
- **The results page and the landing page.** The scorecard holds every stored row with a status and a link that
  resolves to an element of its chapter page; its counts and the landing page's are those of the stored results;
  the landing page shows the overview figure and the counts in its first screen (1400 x 900), lists every chapter
  and links both papers on arXiv.
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from .browser import CHROMIUM, WIDTHS, chromium_available, open_page, set_viewport, start_chromium
from .conftest import ROOT, toc_pages
from .measure import MEASURE, ZOOM, png_info, smallest_style_font_pt

MIN_TEXT_PX = 11.0
"""The smallest text a figure may show at the desktop width, and once enlarged on a phone (CSS px)."""

FIRST_SCREEN = (1400, 900)
"""The landing page's first screen: a desktop window without scrolling."""

PAGES = toc_pages()
ROOT_PAGE = PAGES[0]
FIGURE_PAGES = [p for p in PAGES if p.startswith("notebooks/") or p in (ROOT_PAGE, "book/results")]


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.fail(f"Chromium not found at {CHROMIUM!r}: run `make setup` (Debian packages chromium, chromium-driver)")
    driver = start_chromium(WIDTHS["desktop"])
    yield driver
    driver.quit()


class Pages:
    """The browser on the built site: ``pages(page, width)`` measures a page at a width (once per module, cached);
    ``pages.show(page, width)`` makes sure the browser has that page open at that width (before clicking)."""

    def __init__(self, browser, server):
        self.browser, self.server = browser, server
        self.cache: dict = {}
        self.current = None

    def show(self, page: str, width: int, height: int = 1000) -> None:
        if self.current != (page, width, height):
            set_viewport(self.browser, width, height)
            state = open_page(self.browser, f"{self.server}/{page}.html")
            assert state in ("ok", "no math"), f"{page} at {width} px: {state}"
            self.current = (page, width, height)

    def __call__(self, page: str, width: int, height: int = 1000) -> dict:
        if (page, width, height) not in self.cache:
            self.show(page, width, height)
            self.cache[(page, width, height)] = self.browser.execute_script(MEASURE)
        return self.cache[(page, width, height)]


@pytest.fixture(scope="module")
def measured(browser, server):
    return Pages(browser, server)


def _name(image: dict) -> str:
    alt = " ".join(image["alt"].split())
    return f"image {image['k'] + 1} in {image['where']} ({alt[:50] + '…' if len(alt) > 50 else alt or image['src']})"


# ---------------------------------------------------------------------------------------------------------------
# Figures: text size, phone width, click to enlarge
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_figure_text_is_at_least_11_px_at_the_desktop_width(site, measured, page):
    pt = smallest_style_font_pt()
    rows, small = [], []
    for image in measured(page, WIDTHS["desktop"])["images"]:
        info = png_info(site, page, image["src"])
        if info is None:
            continue
        natural, dpi = info
        px = pt * dpi / 72 * image["shown"] / natural
        rows.append(px)
        if px < MIN_TEXT_PX:
            small.append(f"{_name(image)}: {natural} px wide at {dpi:g} dpi, shown {image['shown']:.0f} px wide, "
                         f"{pt:g} pt text at {px:.1f} px")
    assert not small, (f"{page}: figure text below {MIN_TEXT_PX:g} px at {WIDTHS['desktop']} px (draw the figure "
                       "with plotting.panels, at most plotting.MAX_WIDTH wide, or stack its panels):\n  "
                       + "\n  ".join(small))


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_figures_fill_a_phone_screen_and_open_large_enough_to_read(site, browser, measured, page):
    pt = smallest_style_font_pt()
    found = measured(page, WIDTHS["phone"])
    measured.show(page, WIDTHS["phone"])
    column = found["column"]["width"]
    bad = []
    for image in found["images"]:
        info = png_info(site, page, image["src"])
        if info is None or not image["figure"]:
            continue
        natural, dpi = info
        if image["shown"] > column + 1:
            bad.append(f"{_name(image)}: {image['shown']:.0f} px wide, wider than the {column} px column")
        elif natural >= column and image["shown"] < 0.9 * column:
            bad.append(f"{_name(image)}: shown {image['shown']:.0f} px wide in a {column} px column")
        zoom = browser.execute_script(ZOOM, image["k"])
        px = pt * dpi / 72 * zoom.get("shown", 0) / natural
        if not zoom["open"]:
            bad.append(f"{_name(image)}: clicking it opens nothing")
        elif px < MIN_TEXT_PX:
            bad.append(f"{_name(image)}: enlarged to {zoom['shown']:.0f} px, text {px:.1f} px")
        if zoom["open"] and not zoom["closed"]:
            bad.append(f"{_name(image)}: Escape does not close the enlarged figure")
    assert not bad, f"{page} at {WIDTHS['phone']} px:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_every_figure_opens_full_size_on_click_at_the_desktop_width(browser, measured, page):
    found = measured(page, WIDTHS["desktop"])
    measured.show(page, WIDTHS["desktop"])
    bad = []
    for image in found["images"]:
        if not image["figure"]:
            continue
        if not image["zoomable"]:
            bad.append(f"{_name(image)}: not marked zoomable by reader.js")
            continue
        zoom = browser.execute_script(ZOOM, image["k"])
        if not zoom["open"] or zoom["shown"] < zoom["natural"] - 1:
            bad.append(f"{_name(image)}: enlarged view {zoom.get('shown', 0):.0f} px, natural {image['natural']} px")
        elif not zoom["closed"]:
            bad.append(f"{_name(image)}: Escape does not close the enlarged figure")
    assert not bad, f"{page}:\n  " + "\n  ".join(bad)


_FONTSIZE = re.compile(r"fontsize\s*=\s*([0-9.]+|\"[a-z-]+\"|'[a-z-]+')")


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("notebooks/")])
def test_chapter_code_sets_no_font_below_the_styles_smallest(page):
    from matplotlib.font_manager import font_scalings

    from collapse_utils import plotting

    smallest, base = smallest_style_font_pt(), plotting.STYLE["font.size"]
    nb = json.loads((ROOT / f"{page}.ipynb").read_text())
    bad = []
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for match in _FONTSIZE.finditer("".join(cell["source"])):
            value = ast.literal_eval(match.group(1))
            pt = float(value) if not isinstance(value, str) else font_scalings.get(value, 1.0) * base
            if pt < smallest:
                bad.append(f"cell {k}: {match.group(0)} ({pt:g} pt)")
    assert not bad, (f"{page}: text smaller than the plot style's smallest font ({smallest:g} pt) shows below "
                     f"{MIN_TEXT_PX:g} px:\n  " + "\n  ".join(bad))


# ---------------------------------------------------------------------------------------------------------------
# Overflow
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_no_code_output_or_table_scrolls_sideways_at_the_desktop_width(measured, page):
    found = measured(page, WIDTHS["desktop"])
    bad = [f"{b['kind']} block in {b['where']}: needs {b['need']} px of {b['have']} px; longest line "
           f"({len(b['longest'])} characters): {b['longest'][:70]!r}"
           for b in found["blocks"] if b["need"] > b["have"] + 1]
    bad += [f"table in {t['where']} ({t['head'][:50]!r}): needs {t['need']} px of {t['have']} px"
            for t in found["tables"] if t["need"] > t["have"] + 1]
    assert not bad, f"{page} at {WIDTHS['desktop']} px:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("width", list(WIDTHS.values()))
@pytest.mark.parametrize("page", PAGES)
def test_no_display_equation_is_wider_than_its_box(measured, page, width):
    found = measured(page, width)
    bad = [f"equation {e['number'] or '(unnumbered)'} in {e['where']}: {e['need']} px in {e['have']} px: "
           f"{e['tex'][:90]!r}" for e in found["equations"] if e["need"] > e["have"] + 1]
    assert not bad, (f"{page} at {width} px, equations to break over lines (aligned, split or multline):\n  "
                     + "\n  ".join(bad))


@pytest.mark.parametrize("width", list(WIDTHS.values()))
@pytest.mark.parametrize("page", PAGES)
def test_no_inline_formula_is_cut_off(measured, page, width):
    found = measured(page, width)
    bad = [f"in {m['where']}: {m['need']} px shown in {m['have']} px: {m['tex'][:90]!r}"
           for m in found["inline"] if m["need"] > m["have"] + 1]
    assert not bad, (f"{page} at {width} px, inline math wider than the column (the theme cuts it off; make it a "
                     "display equation or split it):\n  " + "\n  ".join(bad))


# ---------------------------------------------------------------------------------------------------------------
# Glitches
# ---------------------------------------------------------------------------------------------------------------

_NEGATIVE_ZERO = re.compile(r"(?<![\w.,])[-−]0(?:[.,]0+)?(?![\d.,])")


@pytest.mark.parametrize("page", PAGES)
def test_page_has_no_known_glitch(measured, page):
    found = measured(page, WIDTHS["desktop"])
    book_title = "Collapse, Reproduced"
    bad = []
    if found["pdfButton"]:
        bad.append("a print-to-PDF button (the book builds no PDF)")
    if found["title"].count(book_title) > 1:
        bad.append(f"<title> repeats the book's name: {found['title']!r}")
    if not found["description"]:
        bad.append("no <meta name=description>")
    for image in found["images"]:
        alt = image["alt"].strip()
        if not alt or re.fullmatch(r"\S+\.(png|svg|jpe?g|gif)", alt) or "_images/" in alt:
            bad.append(f"{_name(image)}: alt text {alt!r} is not a description")
    for g in found["glued"]:
        bad.append(f"glued value {g['value']!r} written against the math {g['math']!r} in {g['where']} "
                   "(glue it inside the math: glue(name, Latex(f\"${...}$\")) and the {glue} role)")
    for m in _NEGATIVE_ZERO.finditer(found["prose"]):
        context = found["prose"][max(0, m.start() - 40):m.end() + 20].replace("\n", " ")
        bad.append(f"negative zero {m.group(0)!r} in …{context}…")
    if "{glue" in found["prose"]:
        bad.append("a raw {glue} role in the text")
    assert not bad, f"{page}:\n  " + "\n  ".join(bad)


def test_citations_and_bibliography_are_author_year(browser, measured):
    refs = next(p for p in PAGES if p.endswith("references"))
    measured.show(refs, WIDTHS["desktop"])
    labels = browser.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('div.citation[id]'))"
        ".map(c => [c.id, (c.querySelector('.label') || c).textContent.replace(/[\\[\\]]/g, '').trim()]))")
    assert labels, f"{refs}: no bibliography entries"
    bad = [label for label in labels.values() if not re.fullmatch(r"\D+, \d{4}[a-z]?", label)]
    assert not bad, f"{refs}: bibliography labels that are not 'Author(s), year': {bad}"
    mismatched = []
    for page in PAGES:
        for a in measured(page, WIDTHS["desktop"])["links"]:
            target = urlsplit(a["href"])
            if not target.path.endswith(f"{refs}.html") or target.fragment not in labels:
                continue
            if a["text"] not in labels[target.fragment]:
                mismatched.append(f"{page}: citation {a['text']!r} links to [{labels[target.fragment]}]")
    assert not mismatched, "citations whose text is not in their bibliography label:\n  " + "\n  ".join(mismatched)


# ---------------------------------------------------------------------------------------------------------------
# The results page and the landing page
# ---------------------------------------------------------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        value = dict(attrs).get("id")
        if value:
            self.ids.add(value)


def _ids(site: Path, page_path: str) -> set[str]:
    parser = _Ids()
    parser.feed((site / page_path).read_text(encoding="utf-8"))
    return parser.ids


def _stored_rows() -> list[dict]:
    from collapse_utils import overview

    return overview.scorecard().to_dict("records")


def test_scorecard_lists_every_stored_claim_with_a_status_and_a_working_link(site, browser, measured, server):
    from collapse_utils import overview

    found = measured("book/results", WIDTHS["desktop"])
    stored = _stored_rows()
    links = [a for a in found["links"] if "#" in a["href"] and a["href"].startswith(server)
             and a["href"].split("#")[0].endswith(tuple(f"{r['page']}.html" for r in stored))]
    chapter_links = [a for a in links if a["text"] in {r["label"] for r in stored}]
    assert len(chapter_links) == len(stored), (
        f"book/results: the scorecard links {len(chapter_links)} rows to their chapters, the stored results hold "
        f"{len(stored)} (is the page built from the stored results? `make book` re-reads it)")
    bad = []
    for a in chapter_links:
        path, fragment = urlsplit(a["href"]).path.lstrip("/"), urlsplit(a["href"]).fragment
        if not (site / path).is_file():
            bad.append(f"{a['text']}: {path} is not in the site")
        elif fragment not in _ids(site, path):
            bad.append(f"{a['text']}: {path} has no element #{fragment}")
    assert not bad, "book/results: scorecard links that do not resolve:\n  " + "\n  ".join(bad)
    measured.show("book/results", WIDTHS["desktop"])
    cells = browser.execute_script("return Array.from(document.querySelectorAll('.bd-article td'))"
                                   ".map(td => td.textContent.trim())")
    shown = {status: sum(c == f"{mark} {status}" for c in cells) for status, mark in overview.STATUS_MARKS.items()}
    stored_counts = overview.status_counts(overview.scorecard())
    assert shown == stored_counts, f"book/results: status cells {shown}, stored rows {stored_counts}"


def test_scorecard_counts_on_both_pages_are_the_stored_ones(measured):
    from collapse_utils import overview

    summary = overview.summary(overview.scorecard())
    landing = measured(ROOT_PAGE, WIDTHS["desktop"])["prose"]
    expected = {"claims": f"of the {summary['claims']} claims", "reproduced": f"✓ {summary['reproduced']} reproduced",
                "direction": f"≈ {summary['direction_only']} in direction only",
                "not": f"✗ {summary['not_reproduced']} not reproduced",
                "beyond": f"+ {summary['beyond']} results beyond the papers"}
    text = " ".join(landing.split())
    missing = [v for v in expected.values() if v not in text]
    assert not missing, f"{ROOT_PAGE}: the scorecard summary does not read {missing} (stale build?)"


def test_landing_page_shows_results_chapters_and_papers(browser, server, measured):
    width, height = FIRST_SCREEN
    measured.show(ROOT_PAGE, width, height)
    first = browser.execute_script(r"""
const fig = document.querySelector(".bd-article .glued-figure img");
const card = document.querySelector(".bd-article .scorecard-summary");
return {figure: fig ? {bottom: fig.getBoundingClientRect().bottom, ok: fig.complete && fig.naturalWidth > 0} : null,
        card: card ? card.getBoundingClientRect().bottom : null,
        links: Array.from(document.querySelectorAll(".bd-article a[href]")).map(a => a.getAttribute("href"))};
""")
    assert first["figure"] and first["figure"]["ok"], f"{ROOT_PAGE}: no overview figure (glued-figure) shown"
    assert first["figure"]["bottom"] <= height, (
        f"{ROOT_PAGE}: the overview figure ends at {first['figure']['bottom']:.0f} px, below the first screen "
        f"({width}x{height})")
    assert first["card"] is not None and first["card"] <= height, (
        f"{ROOT_PAGE}: the scorecard counts are not in the first screen")
    for arxiv in ("2404.01413", "2402.07712"):
        assert any(f"arxiv.org/abs/{arxiv}" in h for h in first["links"]), f"{ROOT_PAGE}: no link to arXiv {arxiv}"
    base = f"{server}/{ROOT_PAGE}.html"
    linked = {urlsplit(urljoin(base, h)).path.lstrip("/") for h in first["links"]}
    missing = [p for p in PAGES if p.startswith("notebooks/") and f"{p}.html" not in linked]
    assert not missing, f"{ROOT_PAGE}: the chapter list does not link {missing}"
    assert "book/results.html" in linked, f"{ROOT_PAGE}: no link to the results page"
