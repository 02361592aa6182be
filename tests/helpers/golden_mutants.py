"""Mutant ports: real bugs and legitimate variants of a port, run on the shipped golden files.

Each row is a port built from :class:`adagrad_ref.golden.port.Arithmetic` by replacing the
fields a real port gets wrong (a bug) or may legitimately compute differently (a variant). The
harness writes each port's results file and runs the verifier on it at both levels. Run this file
to print the table the porter's guide shows (``python tests/helpers/golden_mutants.py``); a test checks that
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


# ---------------------------------------------------------------- low precision (optax_low_precision.json)
# A port of bfloat16/float16 Adagrad written from the porter's guide (docs/low_precision.md), with no
# code of the reference: float32 arithmetic on the operands widened by their bits, and the bits
# rounded back to nearest-even by integer arithmetic. Each mutant changes one thing a real port gets
# wrong; every one must fail the file, the correct port must pass it.


def _lp_widen(a: np.ndarray, flush: bool) -> np.ndarray:
    if a.dtype == np.float32:  # an unrounded intermediate (the one-final-rounding mutant)
        return a
    bits = a.view(np.uint16).astype(np.uint32)
    if a.dtype == np.float16:
        return a.astype(np.float32)  # exact
    x = (bits << 16).view(np.float32)
    return np.where(flush & (np.abs(x) < 2.0**-126), np.copysign(np.float32(0), x), x)


def _lp_round(x: np.ndarray, dtype: np.dtype, flush: bool) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if dtype == np.float16:
        with np.errstate(over="ignore"):
            return x.astype(np.float16)  # IEEE round to nearest even, subnormals kept
    if flush:
        x = np.where(np.abs(x) < 2.0**-126, np.copysign(np.float32(0), x), x)
    b = x.view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = (b & 0x7FFFFFFF) > 0x7F800000
    out = np.where(nan, ((b >> 16) & 0x8000) | 0x7FC0, rounded).astype(np.uint16)
    return out.view(dtype)


def low_precision_port(
    *, flush: bool | None = None, rsqrt_once: bool = True, per_operation: bool = True,
    accumulator_rounded: bool = True, hyper_via_float32: bool = True, rsqrt_error: int = 0,
):  # fmt: skip
    """A port ``(g, G, w, lr, eps) -> (u, G, w)``; the defaults are the guide's rule. ``rsqrt_error``:
    the float32 ``1/sqrt`` moved by up to that many float32 ULP (seeded), as a hardware rsqrt may be."""
    rng = np.random.default_rng(17)

    def port(g, G, w, lr, eps):
        dt = G.dtype
        fl = (dt != np.float16) if flush is None else flush  # bfloat16 flushes (optax on CPU)

        def f(a):
            return _lp_widen(np.asarray(a), fl)

        def r(x):
            return _lp_round(x, dt, fl) if per_operation else np.asarray(x, np.float32)

        def hyper(v):
            v32 = np.float32(v) if hyper_via_float32 else np.float64(v)
            return (
                f(_lp_round(np.array(v32, np.float32), dt, fl)) if hyper_via_float32 else _direct(v, dt, fl)
            )

        with np.errstate(all="ignore"):
            gf = f(g)
            S = f(r(gf * gf)) + f(G)
            G_new = _lp_round(S, dt, fl)
            Gs = f(G_new) if accumulator_rounded else S
            t = f(r(Gs + hyper(eps)))
            s32 = np.float32(1) / np.sqrt(t)
            if rsqrt_error:
                k = rng.integers(-rsqrt_error, rsqrt_error + 1, s32.shape)
                moved = s32.view(np.int32) + k.astype(np.int32)  # positive, finite values move by k ULP
                s32 = np.where(np.isfinite(s32) & (s32 > 0), moved.view(np.float32), s32)
            s = r(s32) if rsqrt_once else r(np.float32(1) / f(r(np.sqrt(t))))
            s = np.where(Gs > 0, f(s), np.float32(0))
            u = f(r(s * gf))
            u = _lp_round(hyper(-lr) * u, dt, fl)
            w_new = _lp_round(f(w) + f(u), dt, fl)
        return u, G_new, w_new

    return port


def _direct(v: float, dt: np.dtype, flush: bool) -> np.ndarray:
    """A hyperparameter rounded from float64 straight to the dtype (the mutant: no float32 step)."""
    if dt == np.float16:
        return np.float16(v).astype(np.float32)
    grid = np.arange(2**16, dtype=np.uint32)
    values = _lp_widen(grid.astype(np.uint16).view(dt), False).astype(np.float64)
    finite = np.isfinite(values)
    k = np.argmin(np.where(finite, np.abs(values - v), np.inf))  # nearest (ties: the lower pattern)
    return _lp_widen(np.array([grid[k]], np.uint16).view(dt), flush)[0]


#: (name, port): the correct port first; then each mutant, which must fail the file.
LOW_PRECISION_PORTS = [
    ("the guide's rule", low_precision_port()),
    ("one final rounding instead of per operation", low_precision_port(per_operation=False)),
    ("accumulator kept in float32 (rounded only when stored)", low_precision_port(accumulator_rounded=False)),
    ("sqrt rounded, then 1/ rounded (two roundings)", low_precision_port(rsqrt_once=False)),
    ("bfloat16 subnormals kept (no flush-to-zero)", low_precision_port(flush=False)),
    ("hyperparameters rounded from float64 directly", low_precision_port(hyper_via_float32=False)),
]
#: Legitimate variants: a hardware rsqrt, within 2 float32 ULP before the rounding (CUDA's rsqrtf is
#: documented within 2 ULP). They may fail the exact check; the docs state their measured gaps.
LOW_PRECISION_VARIANTS = [
    ("float32 rsqrt within ±1 ULP", low_precision_port(rsqrt_error=1)),
    ("float32 rsqrt within ±2 ULP", low_precision_port(rsqrt_error=2)),
]


def low_precision_table() -> str:
    """The table docs/low_precision.md shows: each port's largest gap from the file, in ULP of the
    dtype, every step started from the file's state."""
    from adagrad_ref.golden import low_precision as lp

    doc = json.loads(lp.FILE.read_text(encoding="utf-8"))
    rows = ["| port | passes exact | accumulator | update | params |", "|---|---|---|---|---|"]
    for name, port in [*LOW_PRECISION_PORTS, *LOW_PRECISION_VARIANTS]:
        gaps = lp.ulp_gaps(port, doc)
        cells = [f"{gaps[q]:g}" for q in lp.QUANTITIES]
        rows.append(
            f"| {name} | {'yes' if not lp.verify_port(port, doc) else 'no'} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------- the other libraries' files (tfjs.json, onnx.json)
# The same harness on the TensorFlow.js and ONNX conventions: real bugs, and another convention's
# arithmetic run on the file (the port a porter writes from the wrong row of the guide). Every one
# must fail its file at the exact level; tests/tools/test_atlas.py checks it.

LIBRARY_CONVENTIONS = ("tfjs", "onnx")


#: (name, conventions it applies to, the port's arithmetic, the convention whose steps it follows or None)
# fmt: off
LIBRARY_MUTANTS = [
    ("wrong gradient sign", LIBRARY_CONVENTIONS, dataclasses.replace(DEFAULT, gradient=lambda g: -g), None),
    ("ε outside the root", ("tfjs",), dataclasses.replace(DEFAULT, eps_inside=lambda conv: False), None),
    ("ε inside the root", ("onnx",), dataclasses.replace(DEFAULT, eps_inside=lambda conv: True), None),
    ("G₀ = 0 (initial_accumulator_value ignored)", LIBRARY_CONVENTIONS,
     dataclasses.replace(DEFAULT, initial_accumulator=lambda iav: 0.0), None),
    ("accumulator stored in float32 (float64 cases)", ("onnx",),
     dataclasses.replace(DEFAULT, accumulator_dtype=lambda d: WIDER.get(d, d)), None),
    ("decayed rate of the next step", ("onnx",), dataclasses.replace(DEFAULT, learning_rate=_rate_of_next_step),
     None),
    ("Keras's order -((lr*g)/d)", ("tfjs",), DEFAULT, "keras"),
    ("optax's order (-lr)*(g*(1/d)), with its guard", ("tfjs",), DEFAULT, "optax"),
    ("norm_coefficient ignored (tensorflow_v2's steps)", ("onnx",), DEFAULT, "tensorflow_v2"),
]
# fmt: on


def run_library_mutant(convention: str, ops: Arithmetic, follows: str | None, path: str) -> dict:
    """Run one mutant on ``convention``'s shipped file; write its results to ``path``; return
    {exact_failed, relaxed_failed, cases}."""
    with open(golden_path(convention), encoding="utf-8") as f:
        golden = json.load(f)
    doc = dict(golden, convention=follows) if follows else golden
    results = run_port(doc, ops)
    results["convention"] = convention
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f)
    out = {"cases": golden["numberOfTests"]}
    for level in ("exact", "relaxed"):
        out[level + "_failed"] = sum(not c.passed for c in verify(path, level=level).cases)
    return out
