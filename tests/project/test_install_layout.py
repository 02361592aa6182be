"""The install: the package wins wherever the user stands, and the stated Python version is the pins'.

Issue 17: after ``pip install -r requirements.txt`` (``-e .``), running ``python -m adagrad_ref``
or ``import adagrad_ref`` from the folder that holds the clone (``git clone`` names it
``adagrad_ref``) imported that folder as an empty namespace package (``ImportError: cannot import
name 'AdagradState'``): setuptools' default editable install is an import hook that Python consults
after its path search, which returns the namespace package. The project now asks for the ``compat``
editable mode (``[tool.distutils.editable_wheel]`` in pyproject.toml): a ``.pth`` line puts the
project folder on ``sys.path``, where the regular package beats any namespace package. Here the
project's own editable wheel is built (PEP 660, as pip builds it) and its ``.pth`` processed as
``site`` does, in a fresh interpreter standing in the folder that holds a clone.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import zipfile

from helpers.paths import ROOT, package_copy
from packaging.specifiers import SpecifierSet

IMPORT = r"""
import os, runpy, site, sys
# This interpreter's own editable install (compat mode) put the checkout under test on sys.path:
# take it off, so that only the clone's install below can provide the package.
sys.path = [p for p in sys.path if os.path.realpath(p or ".") != os.path.realpath(sys.argv[2])]
site.addsitedir(sys.argv[1])  # what the interpreter does with site-packages and its .pth files
import adagrad_ref
from adagrad_ref import AdagradState, adagrad
print(adagrad_ref.__file__)
sys.argv = ["adagrad_ref", "example", "--backend", "numpy"]
runpy.run_module("adagrad_ref", run_name="__main__", alter_sys=True)
"""


def test_the_installed_package_wins_in_the_folder_holding_a_clone_named_adagrad_ref(tmp_path):
    home = tmp_path / "home"
    clone = home / "adagrad_ref"
    package_copy(clone)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, clone / name)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta as b; print(b.build_editable(sys.argv[1]))",
            str(wheels),
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("*.whl")
    site_dir = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site_dir)
    (pth,) = site_dir.glob("*.pth")
    assert pth.read_text().strip() == str(clone), pth.read_text()  # a path, not an import hook
    env = {"PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}  # no PYTHONPATH
    run = subprocess.run(
        [sys.executable, "-c", IMPORT, str(site_dir), str(ROOT)],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[0] == str(clone / "adagrad_ref" / "__init__.py")
    assert "Objective function" in run.stdout


def test_the_stated_python_version_is_the_oldest_every_pin_supports():
    """pyproject's requires-python (and ruff's target) equal the highest minimum among the pinned
    packages' own Requires-Python (numpy 2.4.6 needs 3.11: "Python >= 3.10" failed at the first
    command), and this interpreter, which runs the tests, satisfies it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    stated = project["project"]["requires-python"]
    pins = [
        line.split("==")[0]
        for f in ("requirements.txt", "requirements-dev.txt")
        for line in (ROOT / f).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    minima = {}
    for name in pins:
        spec = importlib.metadata.metadata(name).get("Requires-Python")
        if spec:
            lows = [s.version for s in SpecifierSet(spec) if s.operator == ">="]
            minima[name] = max((tuple(int(x) for x in v.split(".")[:2]) for v in lows), default=(3, 0))
    oldest = max(minima.values())
    assert stated == f">={oldest[0]}.{oldest[1]}", (stated, {k: v for k, v in minima.items() if v == oldest})
    assert project["tool"]["ruff"]["target-version"] == f"py{oldest[0]}{oldest[1]}"
    assert sys.version_info[:2] >= oldest
