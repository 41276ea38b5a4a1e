"""Headless Chromium for the site checks and the screenshot tool: serve the built site, open a page, wait for MathJax.

Chromium and ChromeDriver come from Debian (`make setup` installs them); `CHROMIUM` and `CHROMEDRIVER` override
their paths.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"

WIDTHS = {"desktop": 1400, "phone": 400}
"""The two window widths every page is checked at (CSS px): a desktop window and a phone held upright."""

_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const mj = window.MathJax;
  if (!document.querySelector(".math")) { done("no math"); }
  else if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done("ok"), e => done("error: " + e));
  } else if (Date.now() - start > 15000) {
    done(document.querySelector(".math") ? "MathJax never loaded" : "no math");
  } else { setTimeout(poll, 100); }
})();
"""

_WAIT_FOR_MATH_FIT = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const fitting = document.querySelector("script[src*='reader.js']") && document.querySelector(".math");
  if (!fitting || document.documentElement.dataset.mathFit === "done") { done("ok"); }
  else if (Date.now() - start > 10000) { done("reader.js never finished fitting the equations"); }
  else { setTimeout(poll, 50); }
})();
"""

_WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = "eager"; });
Promise.all(imgs.map(i => i.complete ? Promise.resolve() : new Promise(r => { i.onload = i.onerror = r; })))
  .then(() => (document.fonts ? document.fonts.ready : null))
  .then(() => requestAnimationFrame(() => requestAnimationFrame(() => done("ok"))));
"""


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM) or os.path.exists(CHROMIUM))


def start_chromium(width: int = WIDTHS["desktop"], height: int = 1000):
    """A headless Chromium (selenium WebDriver) with a window of ``width`` x ``height`` CSS px, offline."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--window-size={width},{height}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_script_timeout(30)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width: int, height: int = 1000) -> None:
    """Make the page's viewport exactly ``width`` x ``height`` CSS px (the window's frame is not counted)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(site: Path):
    """Serve the built site on a free loopback port; yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def open_page(driver, url: str) -> str:
    """Load ``url``, wait until MathJax has typeset it, the book's script has fitted the equations and every image
    has loaded; returns MathJax's state ("ok", "no math", or what went wrong)."""
    driver.get(url)
    state = driver.execute_async_script(_WAIT_FOR_MATHJAX)
    if state == "ok":
        fit = driver.execute_async_script(_WAIT_FOR_MATH_FIT)
        state = state if fit == "ok" else fit
    driver.execute_async_script(_WAIT_FOR_IMAGES)
    return state
