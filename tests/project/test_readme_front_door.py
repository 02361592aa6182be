"""The README's first section (the two commands a newcomer runs) says what is true.

- Both commands are on the first screen (its first 50 lines), and the PyTorch CPU line comes
  before the test command that needs it, so that someone running the lines as they read them
  never pulls a CUDA build.
- The output shown under the first command is, character for character, what
  ``python -m adagrad_ref example`` prints (stdout, then stderr).
- The PyTorch CPU line installs the version the test requirements pin, from
  PyTorch's CPU wheel index.
- The API example (README, and the same in docs/usage.md) prints what is shown under it.
- "Other commands": every command the CLI has is named there, and the ones said
  to need only the first install run with every test-only package made
  unimportable (the packages are read from ``requirements-dev.txt``), while the
  one said to need the test install says so and how to get it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

README = ROOT / "README.md"


def first_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[: text.index("\n## ")]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", first_section(), flags=re.S)


def run(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adagrad_ref", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_the_output_shown_is_what_the_example_prints():
    (shown,) = blocks("text")
    out = run("example")
    assert out.returncode == 0, out.stderr
    assert shown == out.stdout + out.stderr


def test_the_commands_are_the_documented_ones():
    example, torch_line, tests = blocks("bash")  # in this order: the CPU torch line before the tests
    assert example.strip().endswith(
        ".venv/bin/pip install -r requirements.txt && .venv/bin/python -m adagrad_ref example"
    )
    assert tests.strip().endswith(
        ".venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m pytest"
    )
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests.strip() in ci, "the README's test command is not what .ci/run runs"
    assert (example + tests + torch_line).count("python3 -m venv .venv && ") == 3  # each line stands alone


def test_both_commands_are_on_the_first_screen():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:50])
    for command in blocks("bash"):
        assert command in first_screen


def test_the_pytorch_line_installs_the_pinned_cpu_build():
    _, torch_line, _ = blocks("bash")
    pins = re.findall(r"^torch==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), flags=re.M)
    assert len(pins) == 1
    assert torch_line.strip().endswith(
        f".venv/bin/pip install torch=={pins[0]} --index-url https://download.pytorch.org/whl/cpu"
    )


def cli_commands() -> set[str]:
    """The CLI's commands, as argparse lists them when given one it does not know."""
    err = run("no-such-command").stderr
    listed = re.search(r"invalid choice: .*\(choose from (.*)\)", err)
    assert listed, err
    return set(re.findall(r"'([a-z-]+)'", listed.group(1)))


def test_every_cli_command_is_named_under_other_commands():
    section = first_section()
    other = section[section.index("Other commands:") :]
    named = set(re.findall(r"python -m adagrad_ref ([a-z-]+)", section))
    assert named == cli_commands()
    assert all(f"adagrad_ref {c}" in other for c in cli_commands() - {"example"})


@pytest.fixture(scope="module")
def without_test_packages(tmp_path_factory) -> dict:
    """An environment in which every package only requirements-dev.txt installs is unimportable."""
    names = []
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[=<>!~\[ ]", line)[0].replace("-", "_").lower())
    assert {"jax", "optax", "torch", "pytest"} <= set(names)
    d = tmp_path_factory.mktemp("blocked")
    (d / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {json.dumps(sorted(names))}\n"
        "class _Blocker:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Blocker())\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(d), str(ROOT), env.get("PYTHONPATH", "")])
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr  # the blocker works
    return env


def test_the_first_install_suffices_for_figures_golden_and_verify(without_test_packages, tmp_path):
    env = without_test_packages
    section = first_section()
    assert "`python -m adagrad_ref figures` (every figure), `python -m adagrad_ref golden --out" in section
    assert "need only the first\ninstall" in section
    golden = run("golden", "--out", str(tmp_path / "g"), env=env)
    assert golden.returncode == 0, golden.stderr
    verify = run("verify", str(tmp_path / "g" / "optax.json"), env=env)
    assert verify.returncode == 0, verify.stderr
    assert re.search(r"^\d+ passed, 0 failed", verify.stdout, flags=re.M)
    figures = run("figures", "--out", str(tmp_path / "f"), env=env, cwd=tmp_path)
    assert figures.returncode == 0, figures.stderr
    assert len(list((tmp_path / "f").glob("*.png"))) >= 9


def test_bench_runs_after_the_first_install(without_test_packages, tmp_path):
    section = first_section()
    assert "`python -m adagrad_ref bench --quick` (the benchmark in small, writing nothing: " in section
    assert "with its PyTorch and optax peers) runs after the first\ninstall but measures its" in section
    quick = ("--quick", "--sizes", "1e3", "--repeats", "1", "--no-progress")  # the smallest quick run
    out = run("bench", *quick, env=without_test_packages, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "NumPy class" in out.stdout


def test_optax_gaps_needs_the_test_install_and_says_so(without_test_packages):
    assert "`python -m adagrad_ref optax-gaps` (the ULP table against optax) needs the test install" in (
        first_section()
    )
    out = run("optax-gaps", env=without_test_packages)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].endswith("pip install -r requirements-dev.txt")


def _python_and_its_output(text: str) -> tuple[str, str]:
    found = re.findall(r"```python\n(.*?)```\n\n```text\n(.*?)```", text, flags=re.S)
    assert len(found) >= 1
    return found[0]


@pytest.mark.parametrize("page", ["README.md", "docs/usage.md"])
def test_the_api_example_prints_what_is_shown(page, tmp_path):
    code, shown = _python_and_its_output((ROOT / page).read_text(encoding="utf-8"))
    assert len(code.strip().splitlines()) <= 14  # a short example, as the README promises
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == shown
