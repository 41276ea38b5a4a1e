"""Screenshots of every page of the built book at a desktop and a phone width (prints where they are; asserts nothing).

    .venv/bin/python bench/screenshots.py [--out DIR] [--widths 1400,400] [page ...]

Serves `_build/html` (build it first: `make book`), opens each page of `_toc.yml` in headless Chromium at each
width, waits for MathJax and the images, and saves one full-page PNG per page and width,
`<out>/<width>/<page path with / as __>.png` (default out: `_build/screenshots`). Look at them: the site checks
measure sizes and overflow, a person sees what they miss.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.site.browser import WIDTHS, open_page, serve, set_viewport, start_chromium  # noqa: E402
from tests.site.conftest import SITE, toc_pages  # noqa: E402

MAX_HEIGHT = 30000
"""Tallest screenshot taken (CSS px); longer pages are cut there, with a note."""


def full_page(driver, width: int) -> tuple[bytes, int]:
    """A PNG of the whole page at ``width`` (up to :data:`MAX_HEIGHT` px tall) and the page's full height."""
    height = int(driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)"))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, MAX_HEIGHT), "scale": 1}})
    return base64.b64decode(shot["data"]), height


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="pages of _toc.yml (default: all), e.g. notebooks/vae_mnist")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--widths", default=",".join(str(w) for w in WIDTHS.values()))
    args = parser.parse_args(argv)
    if not (SITE / "index.html").is_file():
        print(f"no built site at {SITE}: run `make book` first", file=sys.stderr)
        return 1
    pages = args.pages or toc_pages()
    widths = [int(w) for w in args.widths.split(",")]
    driver = start_chromium(widths[0])
    try:
        with serve(SITE) as base:
            for width in widths:
                (args.out / str(width)).mkdir(parents=True, exist_ok=True)
                for page in pages:
                    set_viewport(driver, width)
                    start = time.perf_counter()
                    state = open_page(driver, f"{base}/{page}.html")
                    png, height = full_page(driver, width)
                    path = args.out / str(width) / f"{page.replace('/', '__')}.png"
                    path.write_bytes(png)
                    cut = f" (cut at {MAX_HEIGHT} of {height} px)" if height > MAX_HEIGHT else ""
                    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # --out may be anywhere
                    print(f"{width:5d} px  {page:40s} {height:6d} px tall  math: {state:8s} "
                          f"{time.perf_counter() - start:4.1f} s  {shown}{cut}")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
