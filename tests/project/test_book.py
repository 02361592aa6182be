"""The book builds offline with warnings as errors, and what it holds is all there.

The README's build command (`python -m sphinx -W --keep-going -b html docs DIR`) is run into a
temporary folder; then the HTML it wrote is read back:

- a page per notebook (whatever the notebooks are named), the porter's guide, and an API reference
  with an entry per public function;
- every `<img>` names a file of the build that is a real image, and every internal link names a
  page of the build and, with a `#fragment`, an element of that page;
- nothing is loaded from outside the build (every script, stylesheet and image is a relative
  path), MathJax included: it is served from the build folder, and each page with math carries
  the math for it to typeset;
- the slider cell shows no widget text (its static figure follows).

The real browser check (docs/check_book.py: Chromium loads every page) is a separate command, run
by .ci/run: this file needs no browser.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import ROOT


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []  # <a href>
        self.loads: list[tuple[str, str]] = []  # (tag, url) the browser fetches: img, script, link
        self.math = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.loads.append((tag, a["src"]))
        if tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "preload", "icon"):
            self.loads.append((tag, a["href"]))
        if "math" in (a.get("class") or "").split():
            self.math += 1


def _images_in(markdown: str) -> int:
    return markdown.count("![") + markdown.count("<img ")


SPHINX_PAGES = {"genindex.html", "py-modindex.html", "search.html"}  # Sphinx's own (an icon or two)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book") / "html"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"\.venv/bin/python -m sphinx (.*) docs/_build/html\n", readme)
    assert "-W" in command.split()  # warnings are errors
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", *command.split(), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    return out


@pytest.fixture(scope="module")
def pages(book) -> dict[Path, _Page]:
    return {p: _parse(p) for p in sorted(book.rglob("*.html"))}


def test_a_page_per_notebook_the_guide_and_the_api(book, pages):
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        assert (book / "notebooks" / f"{nb.stem}.html").is_file(), nb.name
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert (book / "docs" / f"{doc.stem}.html").is_file(), doc.name
    assert 'url=docs/index.html"' in (book / "index.html").read_text(encoding="utf-8")  # the way in
    api = pages[book / "docs" / "api.html"]
    import adagrad_ref

    for name in adagrad_ref.__all__:  # every public name, documented from its docstring
        assert any(i.endswith(f".{name}") for i in api.ids), name


def test_every_image_is_a_file_of_the_build(book, pages):
    seen = 0
    for path, page in pages.items():
        for tag, url in page.loads:
            if tag != "img":
                continue
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, (path.name, url)
            target = (path.parent / unquote(parts.path)).resolve()
            assert target.is_file() and target.is_relative_to(book.resolve()), (path.name, url)
            head = target.read_bytes()[:8]
            assert head.startswith(b"\x89PNG") or b"<svg" in target.read_bytes()[:2000], (path.name, url)
            seen += path.name not in SPHINX_PAGES
    # Every image the sources hold is there: the pages' figures and the notebooks' plots.
    expected = sum(_images_in(p.read_text(encoding="utf-8")) for p in (ROOT / "docs").glob("*.md"))
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        expected += sum("image/png" in o.get("data", {}) for o in outputs)
        expected += sum(_images_in("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    assert seen == expected > 0


def test_every_internal_link_resolves(book, pages):
    checked = 0
    for path, page in pages.items():
        for url in page.links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue  # an outside link: followed only when the reader clicks it
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_relative_to(book.resolve()) and target.exists(), (path.name, url)
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in pages[target].ids, (path.name, url)
            checked += 1
    assert checked > 100


def test_nothing_is_loaded_from_outside_and_math_is_typeset_locally(book, pages):
    for path, page in pages.items():
        for tag, url in page.loads:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and not url.startswith("//"), (path.name, tag, url)
    assert (book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    sources = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "notebooks").glob("*.ipynb")}
    for stem, text in sources.items():
        if "$" in text:  # a notebook with math: its page carries it, and loads the local MathJax
            page = pages[book / "notebooks" / f"{stem}.html"]
            assert page.math > 0, stem
            assert ("script", "../_static/mathjax/tex-chtml.js") in page.loads, stem


def test_the_slider_cell_shows_no_widget_text(book, pages):
    """Its widget is left inert (an unloaded <script> of JSON; no widget JavaScript is loaded), and the
    text a notebook without widgets shows in its place ("interactive(children=...") is not shown."""
    for path in (book / "notebooks").glob("*.html"):
        assert "interactive(children=" not in path.read_text(encoding="utf-8"), path.name
        assert not [u for tag, u in pages[path].loads if tag == "script" and re.search("widget|require", u)]


def test_ci_runs_the_documented_browser_check_after_the_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    command = ".venv/bin/python docs/check_book.py"
    assert f"`{command}`" in readme
    tests = next(i for i, line in enumerate(ci) if line.endswith(".venv/bin/python -m pytest"))
    assert command in ci[tests + 1 :]
    assert any("apt-get install" in line and "chromium chromium-driver" in line for line in ci)
