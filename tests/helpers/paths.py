"""The repository's paths, found once: ``ROOT`` is the folder holding ``pyproject.toml``; and
:func:`package_copy`, a private copy of the package for a test that must not touch the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
TESTS = ROOT / "tests"
HELPERS = TESTS / "helpers"
DATA = HELPERS / "data"
PORTS = HELPERS / "ports"


def package_copy(root: Path, *skip: str) -> Path:
    """``ROOT/adagrad_ref`` copied to ``root/adagrad_ref`` without its ``__pycache__`` (nor the folders or
    files named in ``skip``); returns ``root``, to put on ``PYTHONPATH``."""
    shutil.copytree(
        ROOT / "adagrad_ref", root / "adagrad_ref", ignore=shutil.ignore_patterns("__pycache__", *skip)
    )
    return root
