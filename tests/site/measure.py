"""What the site checks and the screenshot report measure in a page: JavaScript run in the browser, and the
figures' drawing resolution read from their PNG files.

``MEASURE`` returns, for the page's article: its text column, title and description, the header buttons, every
image (natural and shown width, alt text, the section it is in), every ``<pre>`` block and table (the width they
need and have), every display equation (width needed and available, its TeX, whether ``reader.js`` shrank it) and
inline formula (its width and the width its line gives it), glued
values written against math, the prose text, the element ids and the links. ``ZOOM`` clicks image ``k`` and
measures the enlarged view, then closes it with Escape.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def smallest_style_font_pt() -> float:
    """The smallest font size (pt) that the book's plot style sets, relative sizes resolved."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    from collapse_utils import plotting

    keys = ("font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize", "xtick.labelsize",
            "ytick.labelsize", "figure.titlesize", "legend.title_fontsize")
    with mpl.rc_context(plotting.STYLE):
        return min(FontProperties(size=mpl.rcParams[k]).get_size_in_points() for k in keys
                   if mpl.rcParams[k] is not None)


def png_info(site: Path, page: str, src: str) -> tuple[int, float] | None:
    """Natural width and drawing resolution (dpi) of the PNG ``src`` of ``page``; None for other images."""
    from PIL import Image

    path = (site / page).parent / urlsplit(src).path
    if path.suffix.lower() != ".png" or not path.is_file():
        return None
    with Image.open(path) as image:
        dpi = image.info.get("dpi", (None,))[0]
        if not dpi:
            from collapse_utils import plotting

            dpi = plotting.STYLE["savefig.dpi"]
        return image.width, float(dpi)


MEASURE = r"""
const article = document.querySelector(".bd-article") || document.querySelector("main");
const col = article.getBoundingClientRect(), pad = getComputedStyle(article);
const columnWidth = article.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight);
const where = el => { const s = el.closest("section[id]"); return s ? "#" + s.id : "(top)"; };
const tex = box => {
  try { const items = MathJax.startup.document.getMathItemsWithin(box); return items.length ? items[0].math : ""; }
  catch (e) { return ""; }
};
const isMath = n => n && n.nodeType === 1 && n.classList.contains("math");
const glued = [];
article.querySelectorAll("span.pasted-text").forEach(span => {
  const prev = span.previousSibling, next = span.nextSibling;
  if (isMath(prev) || isMath(next)) {
    const m = isMath(prev) ? prev : next;
    glued.push({where: where(span), value: span.textContent, math: tex(m.querySelector("mjx-container") || m)});
  }
});
const prose = Array.from(article.querySelectorAll("p, li, td, th, figcaption, caption, dd"))
  .map(el => {
    const c = el.cloneNode(true);
    c.querySelectorAll("pre, code, .math, mjx-container").forEach(x => x.remove());
    return c.textContent;
  }).join("\n");
return {
  column: {left: col.left, width: columnWidth},
  title: document.title,
  description: (document.querySelector('meta[name="description"]') || {}).content || "",
  pdfButton: !!document.querySelector(".btn-download-pdf-button, [onclick*='print(']"),
  launchButtons: !!document.querySelector(".dropdown-launch-buttons, .btn-launch-buttons, [class*='launch-buttons']"),
  images: Array.from(article.querySelectorAll("img")).map((img, k) => ({
    k, src: img.getAttribute("src"), alt: img.getAttribute("alt") || "", natural: img.naturalWidth,
    shown: img.getBoundingClientRect().width, bottom: img.getBoundingClientRect().bottom,
    zoomable: img.classList.contains("zoomable"), where: where(img),
    figure: !!img.closest("figure, .glued-figure, .cell_output")})),
  blocks: Array.from(article.querySelectorAll("pre")).map(pre => ({
    kind: pre.closest(".cell_output, .output") ? "output" : "code", where: where(pre),
    need: pre.scrollWidth, have: pre.clientWidth,
    longest: pre.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "")})),
  tables: Array.from(article.querySelectorAll("table")).map(t => {
    const box = t.closest(".pst-scrollable-table-container, .output, .cell_output") || t.parentElement;
    return {where: where(t), need: Math.max(t.scrollWidth, box.scrollWidth), have: box.clientWidth,
            head: (t.querySelector("tr") || t).textContent.replace(/\s+/g, " ").trim().slice(0, 80)};
  }),
  equations: Array.from(article.querySelectorAll('div.math mjx-container[display="true"]')).map(box => {
    const div = box.closest("div.math"), no = div && div.querySelector(".eqno");
    return {where: where(box), number: no ? no.firstChild.textContent.trim() : "", need: box.scrollWidth,
            have: box.clientWidth, tex: tex(box).replace(/\s+/g, " ").trim(),
            shrunk: box.classList.contains("math-shrunk")};
  }),
  inline: Array.from(article.querySelectorAll("span.math")).map(span => {
    const box = span.querySelector("mjx-container");
    return box ? {where: where(span), need: Math.ceil(box.getBoundingClientRect().width), have: span.clientWidth,
                  tex: tex(box).replace(/\s+/g, " ").trim()} : null;
  }).filter(x => x),
  visibleCode: Array.from(article.querySelectorAll(".cell_input"))
    .filter(c => !c.closest("details:not([open])") && c.offsetParent !== null)
    .reduce((h, c) => h + c.getBoundingClientRect().height, 0),
  height: article.getBoundingClientRect().height,
  glued, prose,
  ids: Array.from(document.querySelectorAll("[id]")).map(e => e.id),
  links: Array.from(article.querySelectorAll("a[href]")).map(a => ({href: a.href, text: a.textContent.trim()})),
};
"""

ZOOM = r"""
const img = document.querySelectorAll(".bd-article img")[arguments[0]];
img.scrollIntoView({block: "center"});
img.click();
const overlay = document.querySelector(".figure-zoom");
const big = overlay && overlay.querySelector("img");
const out = overlay ? {open: true, shown: big.getBoundingClientRect().width, natural: img.naturalWidth,
                       scrolls: overlay.scrollWidth > overlay.clientWidth,
                       fits: big.getBoundingClientRect().width <= window.innerWidth} : {open: false};
document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"}));
out.closed = !document.querySelector(".figure-zoom");
return out;
"""
