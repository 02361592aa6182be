"""Generating the golden files: every case run through the conventions' public API.

``conventions.FACTORIES[name](**hyperparameters)``, ``init``/``update``, ``apply_updates`` and
``optimizer.learning_rate_at(count)``: exactly what a user calls. Long trajectories are *recorded*
at every step at first and at checkpoints after (:func:`recorded_steps`); ``full=True`` records every
step. The relaxed tolerances are measured, not chosen: every legitimate variant of
:data:`adagrad_ref.golden.port.VARIANTS` runs every case, and each quantity's bound is
:func:`relaxed_bound` of the largest error any variant makes at any step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from adagrad_ref import AdagradState, apply_updates
from adagrad_ref.conventions import FACTORIES, ORDER_OF_OPERATIONS, OTHER_FACTORIES
from adagrad_ref.errors import AdagradError
from adagrad_ref.golden.cases import Case, Group, build_groups
from adagrad_ref.golden.encoding import REAL, dumps, encode_array, encode_tree, leaves_with_path
from adagrad_ref.golden.port import VARIANTS, run_port
from adagrad_ref.golden.text import HEADER, NOTES, TOLERANCE_NOTES
from adagrad_ref.golden.verifier import QUANTITIES, SCHEMA_VERSION, compare_docs, golden_dir
from adagrad_ref.state.atomic import write_bytes, write_text

__all__ = ["generate", "recorded_steps", "relaxed_bound", "write_all"]

GENERATOR = "adagrad_ref.golden 2"
#: Trajectories longer than this are recorded at steps 1..FIRST_STEPS, then every EVERY steps, and the last.
FIRST_STEPS = 10
EVERY = 50


def recorded_steps(n_steps: int, full: bool = False) -> list[int]:
    """The steps (1-based) whose expected values a file holds.

    >>> recorded_steps(5)
    [1, 2, 3, 4, 5]
    >>> recorded_steps(300)
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 100, 150, 200, 250, 300]
    """
    if full or n_steps <= 3 * FIRST_STEPS:
        return list(range(1, n_steps + 1))
    later = range(EVERY, n_steps + 1, EVERY)
    return sorted({*range(1, FIRST_STEPS + 1), *later, n_steps})


def relaxed_bound(measured: float) -> int:
    """The relaxed tolerance of a quantity: twice the worst legitimate variant's error, plus 2 ULP.

    Twice, because the variants fix one error pattern each (always up, always down) where other
    hardware rounds both ways; plus 2 so that a quantity every variant reproduces exactly still
    allows the 1-ULP effects of operand order.

    >>> relaxed_bound(0), relaxed_bound(3.0)
    (2, 8)
    """
    return 2 * math.ceil(measured) + 2


def _exponential_decay(init_value: float, decay_rate: float, transition_steps: int) -> Callable[[int], float]:
    def schedule(count: int) -> float:
        return init_value * decay_rate ** (count / transition_steps)

    return schedule


def _optimizer(convention: str, group: Group):
    kw = dict(group.hyper)
    if group.schedule:
        s = group.schedule
        kw["learning_rate"] = _exponential_decay(s["init_value"], s["decay_rate"], s["transition_steps"])
    return {**FACTORIES, **OTHER_FACTORIES}[convention](**kw)


def run_reference(convention: str, group: Group, case: Case) -> tuple[list[np.ndarray], list[dict]]:
    """(the rate of every step, every step's values) as the reference computes them."""
    opt = _optimizer(convention, group)
    params = case.params
    state = opt.init(params)
    if case.kind == "single_step":
        state = AdagradState(sum_of_squares=case.sum_of_squares, count=np.int32(case.count))
    rates, steps = [], []
    for t in range(case.steps):
        count = int(state.count)
        if case.kind == "closed_loop":
            a, w_star = case.quadratic
            grads = a * (params - w_star)  # d = w - w_star, then g = a * d, each rounded to the dtype
        else:
            grads = case.grads[t]
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        rates.append(np.asarray(opt.learning_rate_at(count), dtype=REAL[group.dtype]).reshape(-1)[0])
        steps.append(
            {"grads": grads, "sum_of_squares": state.sum_of_squares, "updates": updates, "params": params}
        )
    return rates, steps


def _stack(trees: list[Any]) -> list[dict]:
    """Per leaf, the values of every step stacked along a new first axis (step t is index t - 1)."""
    per_step = [encode_tree(t, dec=False) for t in trees]
    out = []
    for i, leaf in enumerate(per_step[0]):
        if leaf["value"] is None:
            out.append({"path": leaf["path"], "value": None})
            continue
        stacked = np.stack([np.asarray(_leaf(t, i)) for t in trees])
        out.append({"path": leaf["path"], "value": encode_array(stacked, dec=len(trees) <= 3 * FIRST_STEPS)})
    return out


def _leaf(tree: Any, i: int):
    return leaves_with_path(tree)[i][1]


def _test(convention: str, group: Group, case: Case, tc_id: int) -> dict:
    rates, steps = run_reference(convention, group, case)
    test: dict[str, Any] = {"tcId": tc_id, "comment": case.comment, "flags": case.flags}
    test["initial"] = {"params": encode_tree(case.params)}
    if case.kind == "single_step":
        test["initial"]["sum_of_squares"] = encode_tree(case.sum_of_squares)
        test["initial"]["count"] = case.count
    if case.kind == "closed_loop":
        a, w_star = case.quadratic
        test["gradient"] = {
            "formula": "diagonal_quadratic",
            "description": "f(w) = sum(a * (w - w_star)**2) / 2; per element d = w - w_star, "
            "then g = a * d, each rounded to the dtype",
            "a": encode_tree(a),
            "w_star": encode_tree(w_star),
        }
    long = case.steps > 3 * FIRST_STEPS
    test["numberOfSteps"] = case.steps
    test["inputs"] = {"learning_rate": encode_array(np.array(rates, REAL[group.dtype]), dec=not long)}
    if case.kind != "closed_loop":
        test["inputs"]["grads"] = _stack([s["grads"] for s in steps])
    quantities = (*QUANTITIES, "grads") if case.kind == "closed_loop" else QUANTITIES
    test["steps"] = [
        {"step": t, "expected": {q: encode_tree(steps[t - 1][q]) for q in quantities}}
        for t in recorded_steps(case.steps, full=True)
    ]
    exact = dict.fromkeys(quantities, 0)
    test["tolerance"] = {"exact": exact, "relaxed": dict(exact)}  # relaxed: measured in generate()
    return test


def generate(convention: str, full: bool = False) -> dict:
    """The golden file of one convention, as a JSON-able dict (deterministic: seeded)."""
    groups_out, tc_id = [], 0
    for group in build_groups(convention):
        tests = []
        for case in group.cases:
            tc_id += 1
            tests.append(_test(convention, group, case, tc_id))
        hyper = {
            k: (v if isinstance(v, bool) else encode_array(np.asarray(v, dtype=REAL[group.dtype])))
            for k, v in group.hyper.items()
        }
        g_out = {"type": group.kind, "dtype": group.dtype, "hyperparameters": hyper, "tests": tests}
        if group.schedule:
            g_out["schedule"] = dict(
                group.schedule, formula="init_value * decay_rate ** (count / transition_steps)"
            )
        groups_out.append(g_out)
    used_flags = sorted({f for g in groups_out for t in g["tests"] for f in t["flags"]})
    doc = {
        "algorithm": "Adagrad",
        "convention": convention,
        "schema": "schema.json",
        "schemaVersion": SCHEMA_VERSION,
        "generatorVersion": GENERATOR,
        "numberOfTests": tc_id,
        "orderOfOperations": ORDER_OF_OPERATIONS[convention],
        "header": HEADER,
        "notes": {f: NOTES[f] for f in used_flags},
        "toleranceNotes": TOLERANCE_NOTES,
        "testGroups": groups_out,
    }
    _measure_relaxed(doc)
    if not full:
        for g in doc["testGroups"]:
            for t in g["tests"]:
                keep = set(recorded_steps(t["numberOfSteps"]))
                t["steps"] = [s for s in t["steps"] if s["step"] in keep]
    return doc


def _measure_relaxed(doc: dict) -> None:
    """Set every relaxed tolerance from the largest error of any legitimate variant, at any step."""
    worst: dict[int, dict[str, float]] = {}
    for ops in VARIANTS:
        for r in compare_docs(run_port(doc, ops), doc, "exact"):
            w = worst.setdefault(r.tc_id, {})
            for q, e in r.errors.items():
                w[q] = max(w.get(q, 0.0), e)
    for g in doc["testGroups"]:
        for t in g["tests"]:
            measured = worst[t["tcId"]]
            for q in t["tolerance"]["relaxed"]:
                if not math.isfinite(measured[q]):
                    raise AssertionError(f"tcId {t['tcId']}: a legitimate variant is infinitely far on {q}")
                t["tolerance"]["relaxed"][q] = relaxed_bound(measured[q])


def write_all(out_dir: str, full: bool = False) -> list[str]:
    """Write every convention's file, the low-precision file (bfloat16, float16) and both schemas into
    out_dir, each atomically (a failure or
    Ctrl-C part-way leaves every file whole, old or new); returns the paths written."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise AdagradError(f"{out_dir}: cannot create the folder ({e.strerror or e})") from None
    from adagrad_ref.golden import low_precision

    paths = []
    for convention in (*FACTORIES, *OTHER_FACTORIES):
        path = os.path.join(out_dir, f"{convention}.json")
        write_text(path, dumps(generate(convention, full=full)), "cannot write the golden file")
        paths.append(path)
    path = os.path.join(out_dir, low_precision.FILE.name)  # bfloat16 and float16: its own layout
    low_precision.write(path, full=full)
    paths.append(path)
    for name in ("schema.json", low_precision.SCHEMA.name):
        path, shipped = os.path.join(out_dir, name), os.path.join(golden_dir(), name)
        if not (os.path.exists(path) and os.path.samefile(path, shipped)):  # regenerating the shipped folder
            with open(shipped, "rb") as f:
                write_bytes(path, f.read(), "cannot write the golden file")
        paths.append(path)
    return paths
