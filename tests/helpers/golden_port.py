"""Feed golden cases to an external port (the C port in tests/helpers/ports) and collect its results file.

The Adagrad update is elementwise, so a case's leaves travel as one flat vector; this
module renders a case in the port's line format and rebuilds, from the port's output,
a results file in the golden format that ``python -m adagrad_ref verify`` checks.
"""

from __future__ import annotations

import copy
import subprocess

import numpy as np

from adagrad_ref.golden import decode_array, encode_array

_UINT = {"float32": np.uint32, "float64": np.uint64, "complex64": np.uint32, "complex128": np.uint64}
_WIDTH = {"float32": 8, "float64": 16, "complex64": 8, "complex128": 16}


def _flat(leaves, dtype):
    arrays = [decode_array(leaf["value"], dtype, "golden") for leaf in leaves if leaf["value"] is not None]
    return np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0, dtype)


def _hex(a, dtype):
    real = (
        a.view(np.float32 if dtype in ("float32", "complex64") else np.float64)
        if dtype.startswith("complex")
        else a
    )
    return " ".join(
        format(int(b), f"0{_WIDTH[dtype]}x") for b in np.ascontiguousarray(real).view(_UINT[dtype])
    )


def _stacked(leaves, dtype, n_steps):
    """Per step, the flat gradient vector (the file stacks each leaf's gradients on a first axis)."""
    arrays = [decode_array(leaf["value"], dtype, "grads") for leaf in leaves if leaf["value"] is not None]
    per_step = [a.reshape(n_steps, -1) for a in arrays]
    if not per_step:
        return [np.zeros(0, dtype)] * n_steps
    return [np.concatenate([a[t] for a in per_step]) for t in range(n_steps)]


def render(doc: dict) -> str:
    lines = []
    conv = doc["convention"]
    for group in doc["testGroups"]:
        dtype, h = group["dtype"], group["hyperparameters"]
        real_dtype = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
        eps = h.get("eps", h.get("epsilon"))
        iav = h["initial_accumulator_value"]
        wd = h.get("weight_decay", encode_array(np.zeros(1, real_dtype)))
        mx = 1 if h.get("maximize") is True else 0
        for test in group["tests"]:
            init = test["initial"]
            p = _flat(init["params"], dtype)
            kind = group["type"]
            if "sum_of_squares" in init:
                G = _flat(init["sum_of_squares"], dtype)
            else:
                g0 = decode_array(iav, real_dtype, "iav")[0]
                G = np.full(p.shape, g0, dtype)
            lines.append(f"CASE {test['tcId']} {conv} {dtype} {kind} {test['numberOfSteps']} {p.size}")
            lines.append(f"HYPER {eps['hex'][0]} {iav['hex'][0]} {wd['hex'][0]} {mx}")
            lines.append(f"PARAMS {_hex(p, dtype)}")
            lines.append(f"SUMS {_hex(G, dtype)}")
            if kind == "closed_loop":
                q = test["gradient"]
                lines.append(
                    f"QUAD {_hex(_flat(q['a'], dtype), dtype)} {_hex(_flat(q['w_star'], dtype), dtype)}"
                )
            rates = test["inputs"]["learning_rate"]["hex"]
            stacked = None if kind == "closed_loop" else _stacked(test["inputs"]["grads"], dtype, len(rates))
            for t, rate in enumerate(rates):
                grad = "" if stacked is None else " " + _hex(stacked[t], dtype)
                lines.append(f"STEP {rate}{grad}")
            lines.append("END")
    return "\n".join(lines) + "\n"


def _unflat(values_hex: list[str], template_leaves: list[dict], dtype: str) -> list[dict]:
    per = 2 if dtype.startswith("complex") else 1
    out, i = [], 0
    for leaf in template_leaves:
        if leaf["value"] is None:
            out.append({"path": leaf["path"], "value": None})
            continue
        k = len(leaf["value"]["hex"])
        assert k % per == 0
        out.append(
            {"path": leaf["path"], "value": {"shape": leaf["value"]["shape"], "hex": values_hex[i : i + k]}}
        )
        i += k
    assert i == len(values_hex)
    return out


def run_port(binary: str, doc: dict) -> dict:
    """Run the port on every case of a golden document; return its results file (same format).

    The port prints every step; the results file holds the steps the golden document records.
    """
    out = subprocess.run(
        [binary], input=render(doc), capture_output=True, text=True, check=True
    ).stdout.split("\n")
    results = copy.deepcopy(doc)
    pos = 0
    for group in results["testGroups"]:
        dtype = group["dtype"]
        for test in group["tests"]:
            assert out[pos] == f"CASE {test['tcId']}", (out[pos], test["tcId"])
            pos += 1
            recorded = {step["step"]: step["expected"] for step in test["steps"]}
            for t in range(1, test["numberOfSteps"] + 1):
                exp = recorded.get(t)
                tags = (["D"] if test.get("gradient") else []) + ["G", "U", "P"]
                fields = {"D": "grads", "G": "sum_of_squares", "U": "updates", "P": "params"}
                for tag in tags:
                    parts = out[pos].split()
                    pos += 1
                    assert parts[0] == tag
                    if exp is not None:  # the port computes every step; the file records some
                        exp[fields[tag]] = _unflat(parts[1:], exp[fields[tag]], dtype)
    return results
