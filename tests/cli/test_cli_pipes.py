"""A reader that closes the pipe early (`adagrad-ref example | head -1`, `| true`) stops the command
quietly with the shell's SIGPIPE status 141: no `error: : Broken pipe` line, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from helpers.paths import ROOT

SHIPPED = ROOT / "adagrad_ref" / "golden" / "data" / "optax.json"


def run_into_a_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess:
    read, write = os.pipe()
    os.close(read)  # closed before the command writes anything: its first write fails, every time
    try:
        return subprocess.run(
            [sys.executable, "-m", "adagrad_ref", *argv], stdout=write, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("command", ["example", "verify"])
def test_a_closed_pipe_stops_the_command_quietly(command, tmp_path):
    argv = ["example"]
    if command == "verify":
        results = tmp_path / "results.json"
        shutil.copyfile(SHIPPED, results)  # a copy: the shipped file cannot certify itself
        argv = ["verify", str(results)]
    out = run_into_a_closed_pipe(argv)
    assert out.returncode == 141, out.stderr
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr and "Exception" not in out.stderr


def test_an_open_pipe_still_gets_everything():
    out = subprocess.run([sys.executable, "-m", "adagrad_ref", "example"], capture_output=True, text=True)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 6, out
