"""Serve MathJax 3 from the built site itself, so that math renders without network access.

The MathJax files come from the PyPI distribution ``sphinx-mathjax-offline`` (MathJax 3.2.2). That distribution
installs them under a directory whose name is not importable, so this extension locates them through the
distribution's metadata instead of importing it, copies them to ``_static/mathjax`` and points Sphinx there.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from sphinx.util.fileutil import copy_asset


def mathjax_source() -> Path:
    """The directory holding ``tex-chtml.js`` in the installed ``sphinx-mathjax-offline`` distribution."""
    try:
        dist = distribution("sphinx-mathjax-offline")
    except PackageNotFoundError:
        raise RuntimeError("the book needs the package sphinx-mathjax-offline: pip install -e '.[book]'") from None
    for file in dist.files or ():
        if file.name == "tex-chtml.js" and file.parent.name == "mathjax":
            return Path(dist.locate_file(file)).parent
    raise RuntimeError("sphinx-mathjax-offline is installed but ships no mathjax/tex-chtml.js")


def _copy(app, exc):
    if exc is None:
        copy_asset(str(mathjax_source()), str(Path(app.outdir) / "_static" / "mathjax"))


def setup(app):
    mathjax_source()  # fail early, with a clear message, if the files are missing
    app.config.mathjax_path = "mathjax/tex-chtml.js"
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
