"""TensorFlow.js in the atlas: the flat golden cases sent to ``tools/atlas_js/run.js`` under node.

The packages are pinned in ``tools/atlas_js/package-lock.json`` (``npm ci`` there; the atlas
tests run it when the packages are missing). Every float32 crosses the pipe as its bit pattern, both ways.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np

__all__ = ["run"]


def _bits(a: np.ndarray) -> list[int]:
    return np.ascontiguousarray(a, np.float32).view(np.uint32).tolist()


def floats(bits: list[int]) -> np.ndarray:
    return np.array(bits, np.uint32).view(np.float32)


def run(js_dir: str, jobs: list[tuple[str, dict]], timeout: float) -> tuple[list | None, str]:
    """(per job ``{step: [G bits, w bits]}`` or an error text, as run.js wrote them; the version), or
    (None, why TensorFlow.js did not run). :func:`floats` decodes the bits."""
    node = shutil.which("node")
    if node is None:
        return None, "node is not installed"
    if not os.path.isdir(os.path.join(js_dir, "node_modules", "@tensorflow", "tfjs-core")):
        return None, f"run `npm ci` in {js_dir} first"
    payload = []
    for _, s in jobs:
        payload.append({
            "p0": _bits(s["p0"]), "G0": _bits(s["G0"]) if s["given_state"] else None, "count": s["count"],
            "lr": s["lr"], "iav": s["hyper"]["initial_accumulator_value"], "steps": s["steps"],
            "grads": None if s["grads"] is None else [_bits(g) for g in s["grads"]],
            "quadratic": None if s["quadratic"] is None else [_bits(x) for x in s["quadratic"]],
            "recorded": s["recorded"],
        })  # fmt: skip
    try:
        proc = subprocess.run(
            [node, os.path.join(js_dir, "run.js")], input=json.dumps({"jobs": payload}).encode(),
            capture_output=True, timeout=timeout, cwd=js_dir,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        return None, (proc.stderr.decode(errors="replace").strip().splitlines() or ["node failed"])[-1][:200]
    out = json.loads(proc.stdout)
    return out["results"], out["version"]
