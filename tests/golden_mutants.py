"""Mutant ports: real bugs and legitimate variants of a port, run on the shipped golden files.

Each row is a port built from :class:`adagrad_ref.golden.port.Arithmetic` by replacing the
fields a real port gets wrong (a bug) or may legitimately compute differently (a variant). The
harness writes each port's results file and runs the verifier on it at both levels. Run this file
to print the table the porter's guide shows (``python tests/golden_mutants.py``); a test checks that
docs/porting.md holds exactly that table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile

import numpy as np

from adagrad_ref.golden.port import DEFAULT, VARIANTS, Arithmetic, approximate, run_port
from adagrad_ref.golden.verifier import golden_path, verify

CONVENTIONS = ("optax", "pytorch", "keras", "tensorflow_v2")
WIDER = {"float64": "float32", "complex128": "complex64"}


def _rate_of_next_step(rates, t, dtype):
    return rates[min(t + 1, len(rates) - 1)]


def _float32_rate(rates, t, dtype):
    return np.float32(rates[t]).astype(rates[t].dtype)


def _correct_rsqrt(x):
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    return (1 / np.sqrt(x.astype(wide))).astype(x.dtype)


def _bug(name: str, conventions=CONVENTIONS, **fields) -> tuple[str, str, tuple, Arithmetic]:
    return ("bug", name, conventions, dataclasses.replace(DEFAULT, name=name, **fields))


#: (kind, name, conventions it applies to, the port's arithmetic)
# fmt: off
MUTANTS = [
    _bug("wrong gradient sign", gradient=lambda g: -g),
    _bug("no G > 0 guard", ("optax",), guard=lambda G, s: s),
    _bug("ε outside the root", ("optax", "keras"), eps_inside=lambda conv: False),
    _bug("ε inside the root", ("pytorch", "tensorflow_v2"), eps_inside=lambda conv: True),
    _bug("G₀ = 0 (initial_accumulator_value ignored)", ("optax", "keras", "tensorflow_v2"),
         initial_accumulator=lambda iav: 0.0),
    _bug("G₀ = 0.1 (another framework's default)", ("pytorch",), initial_accumulator=lambda iav: 0.1),
    _bug("accumulator stored in float32 (float64 cases)", accumulator_dtype=lambda d: WIDER.get(d, d)),
    _bug("schedule count off by one (the next step's rate)", learning_rate=_rate_of_next_step),
    _bug("float32 learning rate in float64", ("optax", "pytorch", "tensorflow_v2"), learning_rate=_float32_rate),
    _bug("weight decay before maximize", ("pytorch",), weight_decay_first=True),
    *[("variant", v.name + " (measured)", CONVENTIONS, v) for v in VARIANTS[:6]],
    ("variant", "correctly rounded rsqrt (held out)", CONVENTIONS,
     Arithmetic(rsqrt=_correct_rsqrt, name="correctly rounded rsqrt")),
    *[("variant", f"FMA, rsqrt/division ±{n} ULP #{seed} (held out)", CONVENTIONS,
       dataclasses.replace(VARIANTS[0], **approximate(n, seed))) for n, seed in ((2, 11), (1, 12), (2, 13))],
    *[("variant", f"no FMA, rsqrt/division ±{n} ULP #{seed} (held out)", CONVENTIONS,
       dataclasses.replace(VARIANTS[1], **approximate(n, seed))) for n, seed in ((2, 14), (1, 15))],
]
# fmt: on


def _same_bits(results: dict, golden: dict) -> bool:
    """The results' expected values equal the golden file's, bit for bit (any NaN matching any NaN)."""

    def values(doc):
        out = []
        for g in doc["testGroups"]:
            nan = {"float32": (0x7F800000, 0x7FFFFF), "complex64": (0x7F800000, 0x7FFFFF)}.get(
                g["dtype"], (0x7FF0000000000000, 0xFFFFFFFFFFFFF)
            )
            for t in g["tests"]:
                for s in t["steps"]:
                    for leaves in s["expected"].values():
                        for leaf in leaves:
                            for h in (leaf["value"] or {}).get("hex", []):
                                b = int(h, 16)
                                is_nan = (b & nan[0]) == nan[0] and b & nan[1]
                                out.append("nan" if is_nan else h)
        return out

    return values(results) == values(golden)


def run_table() -> list[dict]:
    """Every row on every convention it applies to: {kind, name, convention, exact, relaxed, same_bits}."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for convention in CONVENTIONS:
            with open(golden_path(convention), encoding="utf-8") as f:
                golden = json.load(f)
            for kind, name, conventions, ops in MUTANTS:
                if convention not in conventions:
                    continue
                results = run_port(golden, ops)
                path = os.path.join(d, f"{convention}_results.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(results, f)
                row = {"kind": kind, "name": name, "convention": convention}
                for level in ("exact", "relaxed"):
                    verdict = verify(path, level=level)
                    row[level] = verdict.passed
                    row[level + "_failed"] = sum(not c.passed for c in verdict.cases)
                row["same_bits"] = _same_bits(results, golden)
                rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """The porter's guide's table: per port and convention, the cases failed at exact / relaxed."""
    lines = [
        "| port | kind | " + " | ".join(CONVENTIONS) + " |",
        "|---|---|" + "---|" * len(CONVENTIONS),
    ]
    for kind, name, _, _ in MUTANTS:
        cells = []
        for convention in CONVENTIONS:
            row = next((r for r in rows if r["name"] == name and r["convention"] == convention), None)
            cells.append("n/a" if row is None else f"{row['exact_failed']} / {row['relaxed_failed']}")
        lines.append(f"| {name} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bounds_markdown() -> str:
    """The porter's guide's table of relaxed bounds: per convention and kind of case, the largest bound per quantity."""
    kinds = ("single_step", "open_loop", "closed_loop")
    lines = [
        "| convention | " + " | ".join(k.replace("_", " ") + "s" for k in kinds) + " |",
        "|---|---|---|---|",
    ]
    for convention in CONVENTIONS:
        with open(golden_path(convention), encoding="utf-8") as f:
            doc = json.load(f)
        cells = []
        for kind in kinds:
            tol = [
                t["tolerance"]["relaxed"] for g in doc["testGroups"] if g["type"] == kind for t in g["tests"]
            ]
            names = {"sum_of_squares": "G", "updates": "u", "params": "w", "grads": "g"}
            cells.append(
                ", ".join(
                    f"{names[q]} ≤ {max(t[q] for t in tol if q in t)}"
                    for q in names
                    if any(q in t for t in tol)
                )
            )
        lines.append(f"| {convention} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(bounds_markdown() + "\n\n" + markdown(run_table()) + "\n")
