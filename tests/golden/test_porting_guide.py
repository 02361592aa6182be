"""The porter's guide (docs/porting.md) shows commands that do what it says.

Its example of checking every step, `golden --full` then `verify ... --golden full/optax.json`, is run
as written: a port that reports every step passes, and a results file holding only the shipped
steps is refused with the message the guide quotes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys

from conftest import ROOT

from adagrad_ref.golden.port import run_port

GUIDE = (ROOT / "docs" / "porting.md").read_text(encoding="utf-8")


def _run(line: str, cwd) -> subprocess.CompletedProcess:
    prog, *args = shlex.split(line)
    assert prog == ".venv/bin/python" and args[:2] == ["-m", "adagrad_ref"], line
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd)


def test_the_full_golden_example_runs_as_written(tmp_path):
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE, flags=re.S)
    (full_example,) = [b for b in blocks if "--golden full/optax.json" in b]
    make, check = [line for line in full_example.strip().splitlines()]
    assert _run(make, tmp_path).returncode == 0
    full = json.loads((tmp_path / "full" / "optax.json").read_text())
    # A port that reports every step: this package's own port of the guide, run on the full file.
    (tmp_path / "results.json").write_text(json.dumps(run_port(full)))
    out = _run(check, tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    assert f"{full['numberOfTests']} passed, 0 failed" in out.stdout
    # The shipped file's steps only: refused, with the message the guide quotes.
    shutil.copy(ROOT / "adagrad_ref" / "golden" / "data" / "optax.json", tmp_path / "results.json")
    out = _run(check, tmp_path)
    quoted = re.search(
        r"e\.g\. `(results\.json: tcId \d+: step \d+ is missing[^`]*)`", " ".join(GUIDE.split())
    )
    assert quoted, "the guide quotes the refusal"
    assert out.returncode == 2 and out.stderr.strip() == f"adagrad-ref: error: {quoted.group(1)}", out.stderr
