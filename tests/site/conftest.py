"""Fixtures for the checks of the built website (run after `make book`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"


def toc_pages() -> list[str]:
    """Every page of `_toc.yml` (root first), as paths relative to the book root without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or ():
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", [{"chapters": toc.get("chapters")}]):
        walk(part.get("chapters"))
    return pages


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: build it first with `make book`")
    return SITE


@pytest.fixture(scope="session")
def server(site):
    """Serve the built site on a free loopback port for the browser."""
    from .browser import serve

    with serve(site) as url:
        yield url
