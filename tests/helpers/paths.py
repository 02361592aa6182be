"""The repository's paths, found once: ``ROOT`` is the folder holding ``pyproject.toml``."""

from __future__ import annotations

from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
TESTS = ROOT / "tests"
HELPERS = TESTS / "helpers"
DATA = HELPERS / "data"
PORTS = HELPERS / "ports"
