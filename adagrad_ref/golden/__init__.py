"""Golden values for ports: the test-vector format, its generator and its verifier.

One JSON file per convention under ``adagrad_ref/golden/data/`` (``optax.json``,
``pytorch.json``, ``keras.json``, ``tensorflow_v2.json``), valid against
``adagrad_ref/golden/data/schema.json``; ``python -m adagrad_ref golden --out DIR``
writes them again, bit for bit. The layout follows Project Wycheproof (a
header, a table of flags, groups of tests sharing parameters, each test with
an id, a comment and flags) and NumPy's ufunc accuracy data (every float as
its IEEE-754 bit pattern in hex, with the shortest round-trip decimal beside
it). See the README's porter's guide for the whole format.

A *results file* is what a port writes back: the same header, and for each
test its ``tcId`` and, per step, the values it computed under ``expected``.
``python -m adagrad_ref verify RESULTS.json`` compares it with the shipped file
and prints the largest error per quantity and case.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from adagrad_ref.conventions import FACTORIES, ORDER_OF_OPERATIONS
from adagrad_ref.errors import AdagradError
from adagrad_ref.reference import apply_updates
from adagrad_ref.tree import flatten_with_path
from adagrad_ref.ulp import ulp_distance

__all__ = [
    "SCHEMA_VERSION",
    "decode_array",
    "encode_array",
    "generate",
    "golden_path",
    "verify",
    "write_all",
]

SCHEMA_VERSION = 1
GENERATOR = "adagrad_ref.golden 1"
QUANTITIES = ("sum_of_squares", "updates", "params")
_HEX_DIGITS = {"float32": 8, "float64": 16, "complex64": 8, "complex128": 16}
_UINT = {"float32": np.uint32, "float64": np.uint64, "complex64": np.uint32, "complex128": np.uint64}
_REAL = {"float32": np.float32, "float64": np.float64, "complex64": np.float32, "complex128": np.float64}

NOTES = {
    "DocumentedExample": "The optax.adagrad documentation's example: f(x) = sum(x**2) from [1, 2, 3], lr 1.",
    "Random": "Random values spanning many orders of magnitude.",
    "ZeroGradient": "A gradient of exactly zero in some or all entries.",
    "ZeroAccumulator": "initial_accumulator_value = 0: G can be 0 (optax: the G > 0 guard, update 0).",
    "EpsZero": "eps = 0: with G = 0, only the guard (optax) avoids 0/0.",
    "Subnormal": "Subnormal gradients: g*g underflows to 0 or to a subnormal.",
    "Overflow": "|g| > sqrt(max): g*g overflows to Inf, 1/sqrt(Inf) = 0, the coordinate freezes.",
    "NaN": "NaN gradients: NaN propagates into G, the update and the param (any NaN matches any NaN).",
    "Inf": "Infinite gradients: G = Inf, update = 0*Inf = NaN (optax) or Inf/Inf = NaN.",
    "Schedule": "A learning-rate schedule; each step states the rate it uses, rounded to the dtype.",
    "LongRun": "1,000 steps or more: the effective step shrinks as G grows.",
    "Scalar": "A 0-d param.",
    "Empty": "A param with no elements.",
    "Pytree": "Several leaves, one of them None (a leaf without params, skipped).",
    "Complex": "Complex params (optax: G = re(conj(g)*g) + G, real-valued, stored in the complex dtype).",
    "WeightDecay": "PyTorch weight_decay: g = g + weight_decay * w before anything else.",
    "LrDecay": "PyTorch lr_decay: clr = lr / (1 + (step - 1) * lr_decay), stated per step.",
    "Maximize": "PyTorch maximize: the gradient is negated first.",
    "SingleStep": "One step from a given state: checks a step on its own, with no drift.",
    "OpenLoop": "A trajectory whose gradients are given.",
    "ClosedLoop": "A trajectory whose gradient is computed from the params by the stated formula.",
}

TOLERANCE_NOTES = {
    "exact": (
        "0 ULP in every quantity: what a port produces that follows orderOfOperations with IEEE-754 "
        "correctly rounded +, -, *, / and sqrt in the stated dtype, and nothing fused (compile C with "
        "-ffp-contract=off, no -ffast-math). Any NaN matches any NaN (its sign and payload are not "
        "specified)."
    ),
    "relaxed": (
        "For a port that fuses g*g + G into one FMA and may use an approximate 1/sqrt (XLA on CPU does "
        "both; so do GPUs). Single steps: sum_of_squares 1 ULP (one rounding instead of two), updates 5 "
        "(rsqrt within 4 ULP of 1/sqrt rounded twice, plus the FMA'd G), params 6 ULP of max(|w|, |u|) "
        "(the update's error, plus the rounding of w + u; ULP of w alone means nothing where w + u cancels). "
        "Open loops of T steps: sum_of_squares T ULP (at most one per step: G only grows), updates 5 + T; "
        "params are not compared (their errors accumulate through cancellation). Closed loops: not "
        "compared (errors feed back through the gradient); only an exact port reproduces them. null = not "
        "compared."
    ),
    "params_ulp": "ULP for params are counted in units of ulp(max(|w_expected|, |u_expected|)) of that step.",
}


# ---------------------------------------------------------------- encoding floats


def _dec(x: np.floating) -> str:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(x) if isinstance(x, np.float32) else repr(float(x))


def encode_array(a: np.ndarray) -> dict:
    """``{"shape", "hex", "dec"}``: bit patterns and shortest round-trip decimals, C order.

    Complex arrays hold two entries per element, the real then the imaginary part, as in memory.

    >>> encode_array(np.float32([1.0, -0.1]))
    {'shape': [2], 'hex': ['3f800000', 'bdcccccd'], 'dec': ['1.0', '-0.1']}
    """
    a = np.ascontiguousarray(a)
    name = a.dtype.name
    flat = a.reshape(-1).view(_REAL[name]) if name.startswith("complex") else a.reshape(-1)
    bits = flat.view(_UINT[name])
    width = _HEX_DIGITS[name]
    return {
        "shape": list(a.shape),
        "hex": [format(int(b), f"0{width}x") for b in bits],
        "dec": [_dec(x) for x in flat],
    }


def decode_array(obj: Any, dtype: str, where: str) -> np.ndarray:
    """The inverse of :func:`encode_array`, checking everything; errors name ``where``."""
    if not isinstance(obj, dict):
        raise AdagradError(f"{where}: expected an object with shape and hex")
    shape, hexes = obj.get("shape"), obj.get("hex")
    if not (
        isinstance(shape, list)
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise AdagradError(f"{where}.shape: expected a list of non-negative integers")
    count = math.prod(shape) * (2 if dtype.startswith("complex") else 1)
    if not isinstance(hexes, list) or len(hexes) != count:
        got = len(hexes) if isinstance(hexes, list) else type(hexes).__name__
        raise AdagradError(f"{where}.hex: expected {count} bit patterns, got {got}")
    width = _HEX_DIGITS[dtype]
    pattern = re.compile(f"[0-9a-f]{{{width}}}")
    for i, h in enumerate(hexes):
        if not (isinstance(h, str) and pattern.fullmatch(h)):
            raise AdagradError(f"{where}.hex[{i}]: expected {width} lowercase hex digits, got {h!r}")
    bits = np.array([int(h, 16) for h in hexes], dtype=_UINT[dtype])
    real = bits.view(_REAL[dtype])
    return (real.view(np.dtype(dtype)) if dtype.startswith("complex") else real).reshape(shape)


def _encode_tree(tree: Any) -> list[dict]:
    return [
        {"path": p, "value": None if x is None else encode_array(np.asarray(x))}
        for p, x in flatten_with_path(tree)[0]
    ]


def _decode_tree(leaves: Any, dtype: str, where: str) -> list[tuple[str, np.ndarray | None]]:
    if not isinstance(leaves, list):
        raise AdagradError(f"{where}: expected a list of leaves")
    out = []
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, dict) or not isinstance(leaf.get("path"), str) or "value" not in leaf:
            raise AdagradError(f"{where}[{i}]: expected an object with path and value")
        value = leaf["value"]
        out.append(
            (leaf["path"], None if value is None else decode_array(value, dtype, f"{where}[{i}].value"))
        )
    return out


# ---------------------------------------------------------------- the cases


@dataclass
class Case:
    kind: str  # single_step | open_loop | closed_loop
    comment: str
    flags: list[str]
    params: Any
    grads: list[Any] | None = None  # per step (open loop, single step)
    sum_of_squares: Any = None  # single step: the state going in
    count: int = 0
    quadratic: tuple[Any, Any] | None = None  # closed loop: (a, w_star) trees
    steps: int = 0


@dataclass
class Group:
    dtype: str
    hyper: dict  # the factory's keyword arguments
    schedule: dict | None  # {"type": "exponential_decay", ...} for optax/keras/tf
    cases: list[Case]


def _magnitudes(
    rng: np.random.Generator, shape: tuple, dtype: str, lo: float = -6, hi: float = 6
) -> np.ndarray:
    n = int(np.prod(shape))
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(lo, hi, n)
    return x.astype(dtype).reshape(shape)


def _exponential_decay(init_value: float, decay_rate: float, transition_steps: int) -> Callable[[int], float]:
    def schedule(count: int) -> float:
        return init_value * decay_rate ** (count / transition_steps)

    schedule.__qualname__ = "exponential_decay"
    return schedule


def _grad_quadratic(a: np.ndarray, w_star: np.ndarray, w: np.ndarray) -> np.ndarray:
    d = w - w_star  # rounded to the dtype
    return a * d  # rounded to the dtype


def _build_groups(convention: str) -> list[Group]:
    rng = np.random.default_rng({"optax": 1, "pytorch": 2, "keras": 3, "tensorflow_v2": 4}[convention])
    lr_key = "lr" if convention == "pytorch" else "learning_rate"
    iav_default = 0.0 if convention == "pytorch" else 0.1
    eps_key = "eps" if convention in ("optax", "pytorch") else "epsilon"
    groups: list[Group] = []

    def hyper(lr: float, iav: float | None = None, eps: float | None = None, **extra: Any) -> dict:
        h = {lr_key: lr, "initial_accumulator_value": iav_default if iav is None else iav, **extra}
        h[eps_key] = {"optax": 1e-7, "pytorch": 1e-10}.get(convention, 1e-7) if eps is None else eps
        return h

    for dtype in ("float32", "float64"):
        single = []
        for k in range(4):
            shape = (5,)
            single.append(
                Case(
                    "single_step",
                    f"random state and gradient #{k}",
                    ["SingleStep", "Random"],
                    params=_magnitudes(rng, shape, dtype),
                    grads=[_magnitudes(rng, shape, dtype)],
                    sum_of_squares=np.abs(_magnitudes(rng, shape, dtype, -3, 6)),
                    count=int(rng.integers(0, 1000)),
                )
            )
        fi = np.finfo(dtype)
        edge_g = np.array(
            [
                0.0,
                -0.0,
                fi.smallest_subnormal,
                -fi.smallest_normal,
                np.sqrt(fi.max) * 2,
                np.nan,
                np.inf,
                -np.inf,
            ],
            dtype,
        )
        single.append(
            Case(
                "single_step",
                "edge gradients: zeros, subnormal, g*g overflowing, NaN, +-Inf, from G = 0.1",
                ["SingleStep", "ZeroGradient", "Subnormal", "Overflow", "NaN", "Inf"],
                params=_magnitudes(rng, edge_g.shape, dtype, -2, 2),
                grads=[edge_g],
                sum_of_squares=np.full(edge_g.shape, 0.1, dtype),
            )
        )
        single.append(
            Case(
                "single_step",
                "zero accumulator: zero and tiny gradients from G = 0",
                ["SingleStep", "ZeroAccumulator", "ZeroGradient", "Subnormal"],
                params=np.ones(4, dtype),
                grads=[np.array([0.0, -0.0, fi.smallest_subnormal, 3.0], dtype)],
                sum_of_squares=np.zeros(4, dtype),
            )
        )
        groups.append(Group(dtype, hyper(0.3), None, single))

        open_cases = [
            Case(
                "open_loop",
                "20 steps of random gradients over six decades, a pytree with a None leaf and a scalar",
                ["OpenLoop", "Random", "Pytree", "Scalar"],
                params={
                    "w": _magnitudes(rng, (3, 2), dtype),
                    "b": _magnitudes(rng, (2,), dtype),
                    "s": np.array(0.5, dtype),
                    "skip": None,
                },
                grads=[
                    {
                        "w": _magnitudes(rng, (3, 2), dtype),
                        "b": _magnitudes(rng, (2,), dtype),
                        "s": _magnitudes(rng, (), dtype),
                        "skip": None,
                    }
                    for _ in range(20)
                ],
                steps=20,
            ),
            Case(
                "open_loop",
                "an empty param beside a normal one, 3 steps",
                ["OpenLoop", "Empty", "Pytree"],
                params=[np.zeros((0, 3), dtype), np.ones(2, dtype)],
                grads=[[np.zeros((0, 3), dtype), _magnitudes(rng, (2,), dtype, -1, 1)] for _ in range(3)],
                steps=3,
            ),
        ]
        groups.append(Group(dtype, hyper(0.1), None, open_cases))
        groups.append(
            Group(
                dtype,
                hyper(0.5, iav=0.0),
                None,
                [
                    Case(
                        "open_loop",
                        "G0 = 0 with zero gradients in the first steps (the guard, then normal steps)",
                        ["OpenLoop", "ZeroAccumulator", "ZeroGradient"],
                        params=np.ones(3, dtype),
                        grads=[
                            np.zeros(3, dtype),
                            np.array([0.0, 2.0, 0.0], dtype),
                            _magnitudes(rng, (3,), dtype, -1, 1),
                        ],
                        steps=3,
                    )
                ],
            )
        )
        long_g = [_magnitudes(rng, (4,), dtype, -1, 1) for _ in range(1000)]
        groups.append(
            Group(
                dtype,
                hyper(0.1),
                None,
                [
                    Case(
                        "open_loop",
                        "1,000 steps of O(1) gradients: the step shrinks like 1/sqrt(t)",
                        ["OpenLoop", "LongRun"],
                        params=np.zeros(4, dtype),
                        grads=long_g,
                        steps=1000,
                    )
                ],
            )
        )
        a = np.array([0.1, 1.0, 4.0], dtype)
        w_star = np.array([1.0, -2.0, 0.5], dtype)
        groups.append(
            Group(
                dtype,
                hyper(0.4),
                None,
                [
                    Case(
                        "closed_loop",
                        "diagonal quadratic f = sum(a*(w - w*)**2)/2, 300 steps from w = [-5, 3, 2]",
                        ["ClosedLoop"],
                        params=np.array([-5.0, 3.0, 2.0], dtype),
                        quadratic=(a, w_star),
                        steps=300,
                    )
                ],
            )
        )
        if convention != "pytorch":
            sched = {
                "type": "exponential_decay",
                "init_value": 0.5,
                "decay_rate": 0.5,
                "transition_steps": 10,
            }
            groups.append(
                Group(
                    dtype,
                    hyper(0.5),
                    sched,
                    [
                        Case(
                            "open_loop",
                            "exponential decay 0.5 * 0.5**(t/10) over 30 steps",
                            ["OpenLoop", "Schedule"],
                            params=_magnitudes(rng, (4,), dtype, -1, 1),
                            grads=[_magnitudes(rng, (4,), dtype, -1, 1) for _ in range(30)],
                            steps=30,
                        )
                    ],
                )
            )
    if convention == "optax":
        groups.insert(
            0,
            Group(
                "float32",
                hyper(1.0),
                None,
                [
                    Case(
                        "closed_loop",
                        "the documentation's example: f(x) = sum(x**2) from [1, 2, 3], 5 steps",
                        ["ClosedLoop", "DocumentedExample"],
                        params=np.array([1.0, 2.0, 3.0], np.float32),
                        quadratic=(np.full(3, 2.0, np.float32), np.zeros(3, np.float32)),
                        steps=5,
                    )
                ],
            ),
        )
        for dtype in ("complex64", "complex128"):
            cshape = (4,)

            def cplx(dt=dtype, shape=cshape, lo=-2.0, hi=2.0):
                r = _magnitudes(rng, shape, _REAL[dt].__name__, lo, hi)
                i = _magnitudes(rng, shape, _REAL[dt].__name__, lo, hi)
                return (r + 1j * i).astype(dt)

            groups.append(
                Group(
                    dtype,
                    hyper(0.2),
                    None,
                    [
                        Case(
                            "open_loop",
                            "complex params, 10 steps",
                            ["OpenLoop", "Complex"],
                            params=cplx(),
                            grads=[cplx() for _ in range(10)],
                            steps=10,
                        )
                    ],
                )
            )
    if convention == "pytorch":
        for dtype in ("float32", "float64"):
            groups.append(
                Group(
                    dtype,
                    hyper(0.1, lr_decay=0.01, weight_decay=0.05, maximize=False),
                    None,
                    [
                        Case(
                            "open_loop",
                            "lr_decay and weight_decay, 20 steps",
                            ["OpenLoop", "LrDecay", "WeightDecay"],
                            params=_magnitudes(rng, (5,), dtype, -1, 1),
                            grads=[_magnitudes(rng, (5,), dtype, -1, 1) for _ in range(20)],
                            steps=20,
                        )
                    ],
                )
            )
            groups.append(
                Group(
                    dtype,
                    hyper(0.1, maximize=True),
                    None,
                    [
                        Case(
                            "open_loop",
                            "maximize, 5 steps",
                            ["OpenLoop", "Maximize"],
                            params=_magnitudes(rng, (3,), dtype, -1, 1),
                            grads=[_magnitudes(rng, (3,), dtype, -1, 1) for _ in range(5)],
                            steps=5,
                        )
                    ],
                )
            )
    if convention in ("keras", "tensorflow_v2"):
        for dtype in ("float32", "float64"):
            groups.append(
                Group(
                    dtype,
                    hyper(0.3, iav=0.0, eps=0.0),
                    None,
                    [
                        Case(
                            "single_step",
                            "G = 0 and eps = 0: no guard, so 0/0 = NaN",
                            ["SingleStep", "EpsZero", "ZeroAccumulator"],
                            params=np.ones(2, dtype),
                            grads=[np.array([0.0, 1.0], dtype)],
                            sum_of_squares=np.zeros(2, dtype),
                        )
                    ],
                )
            )
    return groups


# ---------------------------------------------------------------- running a case with the reference


def _optimizer(convention: str, group: Group):
    kw = dict(group.hyper)
    if group.schedule:
        s = group.schedule
        kw["learning_rate"] = _exponential_decay(s["init_value"], s["decay_rate"], s["transition_steps"])
    return FACTORIES[convention](**kw)


def _lr_at(opt, count: int, dtype: str) -> np.ndarray:
    """The learning rate (PyTorch: clr) a step uses, rounded to the dtype as the update rounds it."""
    return np.asarray(opt.learning_rate_at(count), dtype=_REAL[dtype])


def _run_case(convention: str, group: Group, case: Case) -> list[dict]:
    opt = _optimizer(convention, group)
    params = case.params
    state = opt.init(params)
    if case.kind == "single_step":
        state = state._replace(sum_of_squares=case.sum_of_squares, count=np.int32(case.count))
    steps = []
    n_steps = 1 if case.kind == "single_step" else case.steps
    for t in range(n_steps):
        count = int(state.count)
        if case.kind == "closed_loop":
            a, w_star = case.quadratic
            grads = _grad_quadratic(a, w_star, params)
        else:
            grads = case.grads[t]
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        step = {"learning_rate": encode_array(_lr_at(opt, count, group.dtype))}
        if case.kind != "closed_loop":
            step["grads"] = _encode_tree(grads)
        expected = {
            "sum_of_squares": _encode_tree(state.sum_of_squares),
            "updates": _encode_tree(updates),
            "params": _encode_tree(params),
        }
        if case.kind == "closed_loop":
            expected["grads"] = _encode_tree(grads)
        step["expected"] = expected
        steps.append(step)
    return steps


def _tolerance(case: Case) -> dict:
    if case.kind == "single_step":
        relaxed = {"sum_of_squares": 1, "updates": 5, "params": 6}
    elif case.kind == "open_loop":
        relaxed = {"sum_of_squares": case.steps, "updates": 5 + case.steps, "params": None}
    else:
        relaxed = {"sum_of_squares": None, "updates": None, "params": None}
    exact = dict.fromkeys(QUANTITIES, 0)
    if case.kind == "closed_loop":
        exact["grads"] = 0
        relaxed["grads"] = None
    return {"exact": exact, "relaxed": relaxed}


def generate(convention: str) -> dict:
    """The golden file of one convention, as a JSON-able dict (deterministic: seeded)."""
    groups_out, tc_id = [], 0
    for group in _build_groups(convention):
        tests = []
        for case in group.cases:
            tc_id += 1
            test: dict[str, Any] = {"tcId": tc_id, "comment": case.comment, "flags": case.flags}
            test["initial"] = {"params": _encode_tree(case.params)}
            if case.kind == "single_step":
                test["initial"]["sum_of_squares"] = _encode_tree(case.sum_of_squares)
                test["initial"]["count"] = case.count
            if case.kind == "closed_loop":
                a, w_star = case.quadratic
                test["gradient"] = {
                    "formula": "diagonal_quadratic",
                    "description": "f(w) = sum(a * (w - w_star)**2) / 2; per element d = w - w_star, "
                    "then g = a * d, each rounded to the dtype",
                    "a": _encode_tree(a),
                    "w_star": _encode_tree(w_star),
                }
            test["steps"] = _run_case(convention, group, case)
            test["tolerance"] = _tolerance(case)
            tests.append(test)
        hyper = {
            k: (v if isinstance(v, bool) else encode_array(np.asarray(v, dtype=_REAL[group.dtype])))
            for k, v in group.hyper.items()
        }
        g_out = {"type": group.cases[0].kind, "dtype": group.dtype, "hyperparameters": hyper, "tests": tests}
        if group.schedule:
            g_out["schedule"] = dict(
                group.schedule, formula="init_value * decay_rate ** (count / transition_steps)"
            )
        groups_out.append(g_out)
    used_flags = sorted({f for g in groups_out for t in g["tests"] for f in t["flags"]})
    return {
        "algorithm": "Adagrad",
        "convention": convention,
        "schema": "schema.json",
        "schemaVersion": SCHEMA_VERSION,
        "generatorVersion": GENERATOR,
        "numberOfTests": tc_id,
        "orderOfOperations": ORDER_OF_OPERATIONS[convention],
        "header": [
            "Every float is its IEEE-754 bit pattern (hex of the uint32/uint64), with the shortest",
            "round-trip decimal beside it; complex values hold two entries per element (real, imaginary).",
            "A step: take learning_rate (already rounded to the dtype) and the gradient (given under",
            "grads, or computed by the gradient formula for closed loops), apply orderOfOperations to",
            "every entry of every leaf (null leaves are skipped), and compare with expected. count starts",
            "at 0 (single steps: initial.count); the state starts at initial_accumulator_value unless",
            "initial.sum_of_squares is given.",
        ],
        "notes": {f: NOTES[f] for f in used_flags},
        "toleranceNotes": TOLERANCE_NOTES,
        "testGroups": groups_out,
    }


def golden_dir() -> str:
    return str(resources.files("adagrad_ref") / "golden" / "data")


def golden_path(convention: str) -> str:
    return os.path.join(golden_dir(), f"{convention}.json")


def dumps(doc: dict) -> str:
    """The one serialisation used for golden files (so that regenerating is bit for bit).

    Indented objects, and every list of plain values on one line: readable, and a fifth of the size.
    """
    return _dumps(doc, "") + "\n"


def _dumps(o: Any, indent: str) -> str:
    inner = indent + " "
    if isinstance(o, dict):
        if not o:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(o, list) and any(isinstance(x, (dict, list)) for x in o):
        return "[\n" + ",\n".join(inner + _dumps(x, inner) for x in o) + "\n" + indent + "]"
    return json.dumps(o, ensure_ascii=False)


def write_all(out_dir: str) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for convention in FACTORIES:
        path = os.path.join(out_dir, f"{convention}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(generate(convention)))
        paths.append(path)
    return paths


# ---------------------------------------------------------------- verifying a port's results


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, parse_constant=_refuse_constant)
    except OSError as e:
        raise AdagradError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise AdagradError(f"{path}: not valid JSON ({e})") from None
    except ValueError as e:
        raise AdagradError(f"{path}: {e}") from None
    if not isinstance(doc, dict):
        raise AdagradError(f"{path}: expected a JSON object at the top")
    return doc


def _refuse_constant(c: str) -> None:
    raise ValueError(f"{c} where a number belongs (floats are hex strings in this format)")


def _index_tests(doc: dict, path: str) -> dict[int, tuple[dict, dict]]:
    groups = doc.get("testGroups")
    if not isinstance(groups, list):
        raise AdagradError(f"{path}: testGroups: expected a list")
    out: dict[int, tuple[dict, dict]] = {}
    for gi, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("tests"), list):
            raise AdagradError(f"{path}: testGroups[{gi}].tests: expected a list")
        for ti, test in enumerate(group["tests"]):
            tc = test.get("tcId") if isinstance(test, dict) else None
            if not isinstance(tc, int) or isinstance(tc, bool):
                raise AdagradError(f"{path}: testGroups[{gi}].tests[{ti}].tcId: expected an integer")
            if tc in out:
                raise AdagradError(f"{path}: tcId {tc} appears twice")
            out[tc] = (group, test)
    return out


@dataclass
class CaseResult:
    tc_id: int
    comment: str
    errors: dict[str, float | None]  # largest error per quantity (ULP), None = not compared
    passed: bool


def _params_ulp(port: np.ndarray, exp_p: np.ndarray, exp_u: np.ndarray) -> np.ndarray:
    """|w_port - w_expected| in units of ulp(max(|w_expected|, |u_expected|)); NaN matches NaN."""
    parts = (
        [(port.real, exp_p.real, exp_u.real), (port.imag, exp_p.imag, exp_u.imag)]
        if np.iscomplexobj(exp_p)
        else [(port, exp_p, exp_u)]
    )
    worst = np.zeros(exp_p.shape)
    for a, b, u in parts:
        with np.errstate(all="ignore"):
            scale = np.spacing(np.maximum(np.abs(b), np.abs(u)).astype(b.dtype))
            d = np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale.astype(np.float64)
        d = np.where(np.isnan(a) & np.isnan(b), 0.0, d)
        d = np.where(np.isnan(a) ^ np.isnan(b), np.inf, d)
        d = np.where(a == b, 0.0, d)  # equal values, Inf included (Inf - Inf would give NaN above)
        worst = np.maximum(worst, np.nan_to_num(d, nan=np.inf))
    return worst


def verify(results_path: str, golden: str | None = None, level: str = "exact") -> list[CaseResult]:
    """Compare a port's results file with the golden file; raises AdagradError for a malformed file."""
    res = _load_json(results_path)
    if res.get("schemaVersion") != SCHEMA_VERSION:
        raise AdagradError(
            f"{results_path}: schemaVersion is {res.get('schemaVersion')!r}; "
            f"this verifier reads {SCHEMA_VERSION}"
        )
    convention = res.get("convention")
    if not isinstance(convention, str) or convention not in FACTORIES:
        raise AdagradError(
            f"{results_path}: convention is {convention!r}; expected one of {sorted(FACTORIES)}"
        )
    golden = golden or golden_path(convention)
    gold = _load_json(golden)
    gold_tests = _index_tests(gold, golden)
    res_tests = _index_tests(res, results_path)
    missing = sorted(set(gold_tests) - set(res_tests))
    if missing:
        raise AdagradError(
            f"{results_path}: case tcId {missing[0]} is missing ({len(missing)} of {len(gold_tests)})"
        )
    out = []
    for tc, (group, test) in sorted(gold_tests.items()):
        _, rtest = res_tests[tc]
        where = f"{results_path}: tcId {tc}"
        dtype = group["dtype"]
        tol = test["tolerance"][level]
        rsteps = rtest.get("steps")
        if not isinstance(rsteps, list) or len(rsteps) != len(test["steps"]):
            raise AdagradError(f"{where}: steps: expected a list of {len(test['steps'])} steps")
        errors: dict[str, float | None] = {q: (0.0 if tol.get(q) is not None else None) for q in tol}
        for si, (gstep, rstep) in enumerate(zip(test["steps"], rsteps, strict=True)):
            rexp = rstep.get("expected") if isinstance(rstep, dict) else None
            if not isinstance(rexp, dict):
                raise AdagradError(f"{where}: steps[{si}].expected: missing")
            gexp = gstep["expected"]
            decoded = {}
            for q in gexp:
                if q not in rexp:
                    raise AdagradError(f"{where}: steps[{si}].expected.{q}: missing")
                g_leaves = _decode_tree(gexp[q], dtype, f"{golden}: tcId {tc}: steps[{si}].expected.{q}")
                r_leaves = _decode_tree(rexp[q], dtype, f"{where}: steps[{si}].expected.{q}")
                if [p for p, _ in r_leaves] != [p for p, _ in g_leaves]:
                    raise AdagradError(
                        f"{where}: steps[{si}].expected.{q}: leaves differ from the golden file's"
                    )
                for (p, gv), (_, rv) in zip(g_leaves, r_leaves, strict=True):
                    if (gv is None) != (rv is None) or (gv is not None and gv.shape != rv.shape):
                        raise AdagradError(
                            f"{where}: steps[{si}].expected.{q}{p}: shape differs from the golden file's"
                        )
                decoded[q] = (g_leaves, r_leaves)
            for q, (g_leaves, r_leaves) in decoded.items():
                if errors.get(q) is None:
                    continue
                for li, ((_, gv), (_, rv)) in enumerate(zip(g_leaves, r_leaves, strict=True)):
                    if gv is None or gv.size == 0:
                        continue
                    if q == "params":
                        d = _params_ulp(rv, gv, decoded["updates"][0][li][1])
                    else:
                        d = ulp_distance(rv, gv)
                    errors[q] = max(errors[q], float(d.max()))
        passed = all(errors[q] is None or errors[q] <= tol[q] for q in errors)
        out.append(CaseResult(tc, test["comment"], errors, passed))
    return out


def format_report(results: list[CaseResult], level: str) -> str:
    quantities = [*QUANTITIES, "grads"]  # grads: closed loops only (the gradient the port computed)
    lines = ["tcId  " + "  ".join(f"{q:>15s}" for q in quantities) + "  result  comment"]
    for r in results:
        cells = ["—" if r.errors.get(q) is None else f"{r.errors[q]:g} ULP" for q in quantities]
        lines.append(
            f"{r.tc_id:4d}  "
            + "  ".join(f"{c:>15s}" for c in cells)
            + f"  {'pass' if r.passed else 'FAIL':6s}  {r.comment}"
        )
    n_fail = sum(not r.passed for r in results)
    lines.append(f"{len(results) - n_fail} passed, {n_fail} failed ({level} tolerances)")
    return "\n".join(lines)
