"""What a reader sees on the built site, as tables (prints; asserts nothing: `tests/site/test_reader.py` does).

    .venv/bin/python bench/reader_report.py [page ...]

Serves `_build/html` (build it first: `make book`) and measures every page of `_toc.yml` in headless Chromium at
1400 px and 400 px, as the site checks do, then prints

1. every figure: its natural width and drawing resolution, the width shown at 1400 px and 400 px, and the size of
   the plot style's smallest text there and once enlarged by a click (px);
2. every display equation wider than its box at either width (and those `reader.js` shrank to fit), and every
   inline formula wider than the column;
3. per page, the code and output blocks and tables that scroll sideways at 1400 px, and how much of the page's
   height is visible code;
4. per chapter, the glue roles in its markdown cells: what a reader in Colab or Jupyter sees raw instead of a number
   (`{glue:text}`, `{glue}` and the other `{glue:...}` roles), and the other MyST roles that stay raw there.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.site.browser import WIDTHS, open_page, serve, set_viewport, start_chromium  # noqa: E402
from tests.site.conftest import SITE, toc_pages  # noqa: E402
from tests.site.measure import MEASURE, ZOOM, png_info, smallest_style_font_pt  # noqa: E402

ROLE = re.compile(r"\{([a-z]+(?::[a-z]+)?)\}`")


def roles_in_markdown(notebook: Path) -> dict[str, int]:
    """How many of each MyST role the notebook's markdown cells hold."""
    counts: dict[str, int] = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for name in ROLE.findall("".join(cell["source"])):
                counts[name] = counts.get(name, 0) + 1
    return counts


def main(argv=None) -> int:
    pages = (argv if argv is not None else sys.argv[1:]) or toc_pages()
    if not (SITE / "index.html").is_file():
        print(f"no built site at {SITE}: run `make book` first", file=sys.stderr)
        return 1
    pt = smallest_style_font_pt()
    figures, equations, blocks = [], [], []
    driver = start_chromium()
    try:
        with serve(SITE) as base:
            for page in pages:
                found = {}
                for name, width in WIDTHS.items():
                    set_viewport(driver, width)
                    open_page(driver, f"{base}/{page}.html")
                    found[name] = driver.execute_script(MEASURE)
                    zooms = {}
                    if name == "phone":
                        zooms = {img["k"]: driver.execute_script(ZOOM, img["k"]) for img in found[name]["images"]}
                    found[name + "_zoom"] = zooms
                    for e in found[name]["equations"]:
                        if e["need"] > e["have"] + 1 or e["shrunk"]:
                            equations.append((page, width, e))
                    for e in found[name]["inline"]:
                        if e["need"] > e["have"] + 1:
                            equations.append((page, width, {**e, "number": "inline", "shrunk": False}))
                for desk, phone in zip(found["desktop"]["images"], found["phone"]["images"], strict=True):
                    info = png_info(SITE, page, desk["src"])
                    if info is None:
                        continue
                    natural, dpi = info
                    zoom = found["phone_zoom"].get(phone["k"], {})
                    px = pt * dpi / 72 / natural
                    figures.append((page, desk, natural, dpi, desk["shown"], px * desk["shown"], phone["shown"],
                                    px * phone["shown"], px * zoom.get("shown", 0)))
                wide = [b for b in found["desktop"]["blocks"] if b["need"] > b["have"] + 1]
                tables = [t for t in found["desktop"]["tables"] if t["need"] > t["have"] + 1]
                blocks.append((page, len(found["desktop"]["blocks"]), len(wide),
                               sum(b["kind"] == "output" for b in wide), len(tables),
                               found["desktop"]["visibleCode"] / max(found["desktop"]["height"], 1)))
    finally:
        driver.quit()

    print(f"1. Figures: the plot style's smallest text ({pt:g} pt) as shown (px); ≥ 11 px required at 1400 px")
    print(f"{'page':32s} {'figure':42s} {'natural':>8s} {'dpi':>4s} {'1400: shown':>11s} {'text':>5s} "
          f"{'400: shown':>10s} {'text':>5s} {'enlarged':>8s}")
    for page, img, natural, dpi, shown, text, pshown, ptext, ztext in figures:
        alt = " ".join(img["alt"].split())[:40]
        flag = "  <- below 11 px" if text < 11 else ""
        print(f"{page:32s} {alt:42s} {natural:8d} {dpi:4.0f} {shown:11.0f} {text:5.1f} {pshown:10.0f} {ptext:5.1f} "
              f"{ztext:8.1f}{flag}")
    print("\n2. Display equations wider than their box (or shrunk to fit by reader.js); inline formulas cut off")
    for page, width, e in equations:
        state = "shrunk to fit" if e["shrunk"] and e["need"] <= e["have"] + 1 else "OVERFLOWS"
        print(f"{page:32s} {width:4d} px  eq. {e['number'] or '-':5s} {e['need']:4d}/{e['have']:4d} px  {state:13s} "
              f"{e['where']}  {e['tex'][:70]}")
    print("\n3. At 1400 px: code/output blocks, those that scroll sideways (of which output), wide tables, and the "
          "share of the page's height that is visible (unfolded) code")
    for page, n, wide, out, tables, code in blocks:
        print(f"{page:32s} {n:3d} blocks  {wide:3d} scroll ({out} output)  {tables} tables  {100 * code:4.1f}% code")
    print("\n4. Roles a Colab/Jupyter reader sees raw, per chapter (markdown cells)")
    for page in pages:
        notebook = ROOT / f"{page}.ipynb"
        if page.startswith("notebooks/") and notebook.is_file():
            counts = roles_in_markdown(notebook)
            glue = {k: v for k, v in counts.items() if k.startswith("glue")}
            other = {k: v for k, v in counts.items() if not k.startswith("glue")}
            print(f"{page:32s} glue roles: {sum(glue.values()):3d} {glue}  other roles: {sum(other.values())} {other}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
