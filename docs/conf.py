"""The book: docs/*.md, the notebooks (their committed outputs) and the API reference, built offline.

Build, from the repository's root: ``python -m sphinx -W --keep-going -b html -c docs . docs/_build/html``
(see the README). The sources are the repository itself (docs/*.md and notebooks/*.ipynb, nothing
else), so that every relative link means in the book what it means on a code-hosting site:
``../notebooks/NAME.ipynb`` from a page of docs/ is that notebook's page, ``../figures/X.png`` that
figure. The book starts at docs/index.html; index.html at the top sends the reader there.

Nothing is fetched at build or at read time: the notebooks are not executed, MathJax is served from
the build folder (sphinx-mathjax-offline), and no widget JavaScript is loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # autodoc imports this checkout's package, as the tests do

project = "adagrad_ref"
author = "the adagrad_ref authors"
copyright = "the adagrad_ref authors, Apache-2.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: math typeset with no network
]

root_doc = "docs/index"
include_patterns = ["docs/*.md", "notebooks/*.ipynb"]
# Folders never walked (the test install's .venv alone holds ~100,000 files).
exclude_patterns = [
    ".*",
    "docs/_build",
    "adagrad_ref",
    "tests",
    "figures",
    "tools",
    "build",
    "dist",
    "*.egg-info",
]
# The notebooks are shown as committed (their outputs are checked by the test run), never run here.
nb_execution_mode = "off"
# The slider cell's widget needs a live kernel: with no widget JavaScript (which would come from a
# CDN) its output is an inert <script> element, and the static figure the notebook draws after it stands in.
nb_ipywidgets_js: dict = {}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

napoleon_use_ivar = True  # a NamedTuple's "Attributes:" as a field list, not a second description
autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "sphinx_book_theme"
html_title = "adagrad_ref"
html_static_path = ["_static"]
templates_path = ["_templates"]
html_additional_pages = {"index": "redirect.html"}  # index.html: to docs/index.html
html_favicon = "_static/favicon.png"  # else the browser asks for /favicon.ico, outside the book
# An explicit colour mode: the theme logs a console error when it has none.
html_context = {"default_mode": "light"}
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
html_last_updated_fmt = None


LEARNING = ":caption: Learning Adagrad\n:maxdepth: 1\n\nadagrad\n"


def _course_first(app, docname: str, source: list[str]) -> None:
    """The course index (docs/course.md, written on another branch) heads "Learning Adagrad" once it
    exists: a toctree cannot name a page that may be missing without a warning, which -W makes an error.
    """
    if docname == "docs/index" and (Path(app.srcdir) / "docs" / "course.md").exists():
        assert LEARNING in source[0], "docs/index.md: the Learning Adagrad toctree changed; update conf.py"
        source[0] = source[0].replace(LEARNING, LEARNING.replace("\nadagrad\n", "\ncourse\nadagrad\n"))


def setup(app):
    # Notebook titles with math appear in every page's navigation: load MathJax on every page, not
    # only on the pages whose own text has math, so that no page shows raw TeX.
    app.set_html_assets_policy("always")
    app.connect("source-read", _course_first)
