"""Load every page of the built book in a real browser: headless Chromium, from the OS's packages.

    python docs/check_book.py            # build the book (-W), then check every page
    python docs/check_book.py --no-build # check docs/_build/html as it is

It serves the build folder from a local HTTP server on 127.0.0.1 and drives Debian's
``chromium`` through Debian's ``chromium-driver`` (``/usr/bin/chromedriver``) with selenium:
nothing is downloaded, at install or at run time. On every page it asserts:

- no message of level SEVERE on the browser's console (a script error, a failed load);
- every ``<img>`` decoded (``naturalWidth > 0``);
- where the page has math, MathJax typeset it: one ``mjx-container`` per math element, no
  ``mjx-merror``;
- no request left the build folder: every resource the page loaded (``performance`` entries) is
  under the local server's address, and the server answered none of them with an error.

It keeps screenshots of the front page, two chapters (a page and a notebook) and the slider cell in
``docs/_build/screenshots/``. Its last line is ``N passed, M failed`` (pages); exit status 0 when
every page passes, 1 otherwise, 2 when the browser cannot be started. Last, the check is checked: a
copy of the front page with an outside image, a missing image and a script error must fail, each
fault named (one more line, counted in the total).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
)

# Runs in the page: waits for MathJax (when the page loaded it) and for every image, then reports.
PAGE_REPORT = """
const done = arguments[arguments.length - 1];
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
    images: imgs.map(i => [i.getAttribute('src'), i.naturalWidth]),
    resources: performance.getEntriesByType('resource').map(e => e.name),
    mathjax: !!window.MathJax,
  };
})().then(done, e => done({failed: String(e)}));
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    failures: ClassVar[list[str]] = []  # what the server answered with an error, for the page in hand

    def log_message(self, format: str, *args) -> None:
        pass

    def log_request(self, code="-", size="-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            _Quiet.failures.append(f"{code} {self.path}")


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _driver(profile: str):
    os.environ["SE_OFFLINE"] = "true"  # selenium's driver manager must never fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    return driver


def check_page(driver, base: str, rel: str) -> list[str]:
    """Load one page; return what is wrong with it (empty: it passes)."""
    driver.get_log("browser")  # drop what an earlier page left
    _Quiet.failures.clear()
    driver.get(base + rel)
    report = driver.execute_async_script(PAGE_REPORT)
    problems = []
    if "failed" in report:
        return [f"the page's check script failed: {report['failed']}"]
    problems += [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    problems += [f"image not decoded: {src}" for src, width in report["images"] if not width > 0]
    if report["math"]:
        if not report["mathjax"]:
            problems.append(f"{report['math']} math elements, but MathJax did not load")
        elif report["typeset"] < report["math"] or report["errors"]:
            problems.append(
                f"math: {report['math']} elements, {report['typeset']} typeset, {report['errors']} errors"
            )
    outside = [url for url in report["resources"] if not url.startswith(base)]
    problems += [f"request outside the build folder: {url}" for url in outside]
    problems += [f"server answered {f}" for f in _Quiet.failures]
    return problems


PLANTED = (
    '<img src="https://example.org/outside.png"><img src="_images/missing.png">'
    "<script>notDefinedAnywhere()</script>"
)


def planted_faults_are_caught(driver, html: Path) -> bool:
    """The check itself, checked: a copy of the front page with an image from outside, a missing image
    and a script error must fail with each of them named."""
    with tempfile.TemporaryDirectory(prefix="check-book-planted-") as tmp:
        copy = Path(tmp) / "html"
        shutil.copytree(html, copy)
        page = copy / "docs" / "index.html"
        page.write_text(page.read_text(encoding="utf-8").replace("</article>", PLANTED + "</article>", 1))
        server, base = _serve(copy)
        try:
            problems = check_page(driver, base, "docs/index.html")
        finally:
            server.shutdown()
    wanted = (
        "console: " + base + "docs/index.html",  # the script error, with its place
        "image not decoded: https://example.org/outside.png",
        "image not decoded: _images/missing.png",  # relative to docs/: /docs/_images/missing.png
        "request outside the build folder: https://example.org/outside.png",
        "server answered 404 /docs/_images/missing.png",
    )
    missed = [w for w in wanted if not any(p.startswith(w) for p in problems)]
    for w in missed:
        print(f"     the check missed a planted fault: {w}")
    return not missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", default=str(ROOT / "docs" / "_build" / "html"), help="the built book")
    parser.add_argument("--screenshots", default=str(ROOT / "docs" / "_build" / "screenshots"))
    parser.add_argument("--no-build", action="store_true", help="check the folder as it is")
    args = parser.parse_args(argv)
    html, shots = Path(args.html), Path(args.screenshots)
    if not args.no_build:
        cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-c", "docs", "."]
        cmd.append(str(html))
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            print("the book does not build", file=sys.stderr)
            return 1
    # The pages Sphinx wrote (not the theme's template fragments it copies into _static/).
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html") if "_static" not in p.parts)
    if "index.html" not in pages:
        print(f"{html}: no index.html; build the book first", file=sys.stderr)
        return 2
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            print(f"{exe} is missing: apt-get install chromium chromium-driver", file=sys.stderr)
            return 2
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="check-book-profile-") as profile:
        try:
            driver = _driver(profile)
        except Exception as e:  # selenium's errors are many; any of them means no browser to check with
            print(f"cannot start Chromium through {CHROMEDRIVER}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        server, base = _serve(html)
        try:
            failed = 0
            chapters = ["docs/index.html", "docs/adagrad.html"]
            chapters += [p for p in pages if p.startswith("notebooks/")][:1]
            for rel in pages:
                problems = check_page(driver, base, rel)
                print(f"{'ok  ' if not problems else 'FAIL'} {rel}")
                for p in problems:
                    print(f"     {p}")
                failed += bool(problems)
                if rel in chapters:
                    name = rel.replace("/", "_").removesuffix(".html")
                    driver.save_screenshot(str(shots / f"{name}.png"))
                # The first slider cell, and the static figure that follows it.
                widget = driver.find_elements("css selector", 'script[type$="widget-view+json"]')
                if widget and not (shots / "slider_cell.png").exists():
                    driver.execute_script("arguments[0].closest('.cell').scrollIntoView()", widget[0])
                    driver.save_screenshot(str(shots / "slider_cell.png"))
            caught = planted_faults_are_caught(driver, html)
            print(f"{'ok  ' if caught else 'FAIL'} the check fails a page planted with faults (a copy)")
            failed += not caught
        finally:
            driver.quit()
            server.shutdown()
    print(f"screenshots: {', '.join(sorted(p.name for p in shots.glob('*.png')))} in {shots}")
    print(f"{len(pages) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
