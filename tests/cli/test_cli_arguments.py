"""Counts given on the command line are checked by argparse: exit 2 and an error line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["optax-gaps", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["optax-gaps", "--steps", "-1"], "argument --steps: must be >= 1, got -1"),
        (["optax-gaps", "--steps", "many"], "argument --steps: expected a whole number >= 1, got 'many'"),
        (["bench", "--quick", "--repeats", "0"], "argument --repeats: must be >= 1, got 0"),
    ],
)
def test_a_count_below_one_is_refused_before_anything_runs(argv, message):
    out = subprocess.run([sys.executable, "-m", "adagrad_ref", *argv], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].endswith(f"error: {message}")
    assert "Traceback" not in out.stderr and out.stdout == ""
