"""``python -m adagrad_ref example`` prints what the optax documentation prints.

The expected lines are read from the documentation itself, never typed here:
from the seed copy of the documentation page (whose web rendering folds
whitespace, so it is compared token by token) and from ``optax.adagrad``'s
installed docstring (which the page is built from, compared to the character).
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import optax
import pytest
from conftest import SEED_DOC

from adagrad_ref.example import documented_example

NUMBER = r"[-+]?\d[\d.]*(?:E[-+]\d+)?"


def lines_from_optax_docstring() -> list[str]:
    return [
        ln.strip()
        for ln in optax.adagrad.__doc__.splitlines()
        if ln.strip().startswith("Objective function:")
    ]


def values_from_seed_page() -> list[str]:
    return re.findall(rf"Objective function:\s+({NUMBER})", SEED_DOC.read_text())


def test_expected_lines_are_found_in_both_sources():
    assert len(lines_from_optax_docstring()) == 6
    assert values_from_seed_page() == [ln.split()[-1] for ln in lines_from_optax_docstring()]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_example_lines_equal_the_documentation(backend):
    lines = documented_example(backend)
    assert lines == lines_from_optax_docstring()
    assert [ln.split()[-1] for ln in lines] == values_from_seed_page()


@pytest.mark.parametrize("args", [["--backend", "numpy"], ["--backend", "numba"], []])
def test_cli_prints_exactly_the_documented_lines(args):
    out = subprocess.run(
        [sys.executable, "-m", "adagrad_ref", "example", *args], capture_output=True, text=True, check=True
    )
    assert out.stdout == "\n".join(lines_from_optax_docstring()) + "\n"
    if not args:  # both backends ran and were compared bit for bit
        assert "identical bits" in out.stderr


def test_console_script_runs_the_same_command():
    script = pathlib.Path(sys.executable).with_name("adagrad-ref")
    assert script.exists(), f"the console script was not installed next to {sys.executable}"
    out = subprocess.run(
        [str(script), "example", "--backend", "numpy"], capture_output=True, text=True, check=True
    )
    assert out.stdout == "\n".join(lines_from_optax_docstring()) + "\n"
