"""What a reader of the built site meets before the content: titles, descriptions, alt text, buttons, figure zoom.

- **Alt text from captions.** A figure drawn by a notebook cell (myst-nb's ``mystnb.figure`` metadata) has a caption
  but no alt text, so the HTML writer falls back to the image's file path. Every image inside a figure without an
  alt text gets the caption's text; an image glued from another page inside a ``glued-figure`` container gets the
  text of the container's last paragraph (its caption).
- **Page title and description.** The landing page's ``<title>`` would read "<book title> — <book title>";
  its first part becomes ``reader_home_title``. Every page gets a ``<meta name="description">``:
  ``reader_description`` on the landing page, the page's first paragraph elsewhere.
- **No print-to-PDF button.** The theme's download menu offers ".pdf", which only opens the browser's print
  dialog; the book builds no PDF, so the entry is removed (the source downloads stay).
- **Pages built from stored results** (``reader_pages_from_results``: the results page, executed at build time,
  and the landing page, which quotes it) are read again at every build, so that they never show results older than
  the stored ones; they get no launch buttons (they cannot run in Colab on their own).
- **Static files** from ``book/_static``: ``reader.css`` (figure zoom, display-math layout, wrapped output text,
  the landing page) and ``reader.js`` (click a figure to see it full size; display equations shrunk to fit their
  column when a little too wide).
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes

STATIC = Path(__file__).resolve().parents[1] / "_static"
DESCRIPTION_CHARS = 160


def _add_static_path(app, config):
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _caption_text(node: nodes.Element) -> str:
    return " ".join(node.astext().split())


def _is_path_like(alt: str | None, uri: str) -> bool:
    return not alt or alt == uri or alt.rsplit("/", 1)[-1] == uri.rsplit("/", 1)[-1]


def alt_text_from_captions(app, doctree, docname):
    """Give every captioned image an alt text (the caption's), unless it has one of its own."""
    for figure in doctree.findall(nodes.figure):
        caption = next(iter(figure.findall(nodes.caption)), None)
        if caption is None:
            continue
        for image in figure.findall(nodes.image):
            if _is_path_like(image.get("alt"), image.get("uri", "")):
                image["alt"] = _caption_text(caption)
    for container in doctree.findall(nodes.container):
        if "glued-figure" not in container.get("classes", []):
            continue
        paragraphs = [p for p in container.children if isinstance(p, nodes.paragraph) and not p.next_node(nodes.image)]
        for image in container.findall(nodes.image):
            if paragraphs and _is_path_like(image.get("alt"), image.get("uri", "")):
                image["alt"] = _caption_text(paragraphs[-1])


def _first_paragraph(doctree) -> str:
    if doctree is None:
        return ""
    for paragraph in doctree.findall(nodes.paragraph):
        text = " ".join(paragraph.astext().split())
        if len(text) > 40:
            return text
    return ""


def _shorten(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _without_button(buttons: list, label: str) -> list:
    out = []
    for button in buttons:
        if button.get("label") == label:
            continue
        if button.get("type") == "group":
            button = {**button, "buttons": _without_button(button.get("buttons", []), label)}
            if not button["buttons"]:
                continue
        out.append(button)
    return out


def page_head(app, pagename, templatename, context, doctree):
    """Title and description of the page; the header buttons the book does not want."""
    config = app.config
    if pagename == config.root_doc:
        context["title"] = config.reader_home_title or context.get("title", "")
        description = config.reader_description
    else:
        description = _first_paragraph(doctree)
    if description:
        tag = f'<meta name="description" content="{html.escape(_shorten(description))}" />\n'
        context["metatags"] = context.get("metatags", "") + tag
    buttons = context.get("header_buttons")
    if buttons is not None:
        buttons = _without_button(buttons, "download-pdf-button")
        if pagename in config.reader_pages_from_results:
            buttons = [b for b in buttons if b.get("label") != "launch-buttons"]
        context["header_buttons"] = buttons


def _always_read(app, env, added, changed, removed):
    return [doc for doc in app.config.reader_pages_from_results if doc in env.found_docs]


def setup(app):
    app.add_config_value("reader_home_title", "", "html")
    app.add_config_value("reader_description", "", "html")
    app.add_config_value("reader_pages_from_results", [], "env")
    app.connect("config-inited", _add_static_path)
    app.connect("env-get-outdated", _always_read)
    app.connect("doctree-resolved", alt_text_from_captions)
    app.connect("html-page-context", page_head, priority=900)  # after the theme's buttons (priority 501)
    app.add_css_file("reader.css")
    app.add_js_file("reader.js", loading_method="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
