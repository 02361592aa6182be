"""The atlas of real Adagrads: every library's own Adagrad run on the golden inputs of every convention.

``python -m adagrad_ref atlas [--quick] [--only LIB] [--update-docs]``. Each library runs in a child
process of its own (:mod:`adagrad_ref.tools.atlas_drivers`; TensorFlow.js under node,
``tools/atlas_js``), on every case of every golden file whose hyperparameters it can express, and
returns its accumulator G and params w (and its update u where the library returns one) at every
recorded step. Each is compared with the file's expected values: per library and convention, the cases
run, the cases exact (every bit of G, u and w; any NaN matches any NaN), the largest ULP distance per
quantity (params, as the verifier counts them, in ULP of the larger of the expected param and update) and
the first difference; a library *matches* a convention when every case it could run is exact. Results and
the CPU's name go to ``figures/atlas.json``, a picture to ``figures/atlas.svg``, the table to its doc page.

Cases a library cannot express are not run (``n/a``): a learning-rate schedule (only optax takes
the files' schedules), PyTorch's ``lr_decay``/``weight_decay``/``maximize`` (torch only), ONNX's
``decay_factor``/``norm_coefficient`` (ONNX only), an ε other than the library's fixed one
(TensorFlow.js: the backend's 1e-7; TensorFlow's V1 op and ``jax.example_libraries``: none, so ε = 0
only), a dtype the library lacks (TensorFlow.js: float32) and complex params (optax only).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.golden.encoding import QUANTITIES, REAL, decode_array, decode_tree
from adagrad_ref.golden.verifier import CONVENTIONS, distance, golden_path, params_distance
from adagrad_ref.state.atomic import write_bytes, write_text
from adagrad_ref.tools.timing import cpu_name

__all__ = ["LIBRARIES", "case_specs", "compare", "main", "markdown", "run_atlas"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JS_DIR = os.path.join(ROOT, "tools", "atlas_js")
SHORT = {"sum_of_squares": "G", "updates": "u", "params": "w"}
BEGIN, END = "<!-- atlas:begin (python -m adagrad_ref atlas --update-docs) -->", "<!-- atlas:end -->"


@dataclass(frozen=True)
class Library:
    """One real implementation: its name, the child process that runs it, what it can express."""

    name: str
    family: str  # the child process (one per family: its imports stay apart)
    variant: str  # the driver within the family
    eps: str = "any"  # "any" | "zero" (the library has none) | a fixed value, e.g. "1e-7"
    schedule: bool = False  # takes the files' per-step rates
    extras: tuple[str, ...] = ()  # the extra hyperparameters it takes (nonzero values)
    dtypes: tuple[str, ...] = ("float32", "float64")
    returns_updates: bool = False


TORCH_EXTRAS = ("lr_decay", "weight_decay", "maximize")
ONNX_EXTRAS = ("decay_factor", "norm_coefficient")
#: Every library the atlas tries, in the table's order.
LIBRARIES = [
    Library("optax (eager)", "optax", "eager", schedule=True, returns_updates=True,
            dtypes=("float32", "float64", "complex64", "complex128")),
    Library("optax (jit)", "optax", "jit", schedule=True, returns_updates=True,
            dtypes=("float32", "float64", "complex64", "complex128")),
    Library("torch (single-tensor)", "torch", "single", extras=TORCH_EXTRAS),
    Library("torch (foreach)", "torch", "foreach", extras=TORCH_EXTRAS),
    Library("torch (fused)", "torch", "fused", extras=TORCH_EXTRAS),
    Library("Keras 3 (jax)", "keras-jax", "keras"),
    Library("Keras 3 (torch)", "keras-torch", "keras"),
    Library("Keras 3 (tensorflow)", "keras-tensorflow", "keras"),
    Library("TensorFlow ResourceApplyAdagradV2", "tensorflow", "v2"),
    Library("TensorFlow ResourceApplyAdagrad (V1)", "tensorflow", "v1", eps="zero"),
    Library("jax.example_libraries adagrad (momentum 0.9)", "jax-example", "0.9", eps="zero"),
    Library("jax.example_libraries adagrad (momentum 0)", "jax-example", "0.0", eps="zero"),
    Library("ONNX reference (onnx.reference)", "onnx", "reference", extras=ONNX_EXTRAS),
    Library("TensorFlow.js (tfjs-core, cpu backend)", "tfjs", "cpu", eps="1e-7", dtypes=("float32",)),
    Library("Chainer AdaGrad", "chainer", "adagrad"),
    Library("MindSpore ApplyAdagrad (nn.Adagrad's op)", "mindspore", "apply", eps="zero"),
    Library("PaddlePaddle optimizer.Adagrad", "paddle", "adagrad"),
    Library("MXNet optimizer.AdaGrad", "mxnet", "adagrad", dtypes=("float32",)),
]  # fmt: skip
#: The families run by path in an interpreter of their own (atlas_foreign.py): the variable naming it.
FOREIGN = {f: f"ADAGRAD_REF_ATLAS_PYTHON_{f.upper()}" for f in ("chainer", "mindspore", "paddle", "mxnet")}


# ---------------------------------------------------------------- the golden inputs, flat


def _flat(leaves: list, dtype: str) -> np.ndarray:
    arrays = [np.asarray(v).reshape(-1) for _, v in leaves if v is not None]
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)


def case_specs(doc: dict, quick: bool = False) -> list[dict]:
    """Every case of a golden document as one flat vector (Adagrad is elementwise): the inputs a
    library needs and the expected values of every recorded step. ``quick``: cases of at most 30 steps."""
    specs = []
    for group in doc["testGroups"]:
        dtype = group["dtype"]
        real = np.dtype(REAL[dtype]).name
        hyper = {
            k: (v if isinstance(v, bool) else float(decode_array(v, real, k)[0]))
            for k, v in group["hyperparameters"].items()
        }
        for test in group["tests"]:
            if quick and test["numberOfSteps"] > 30:
                continue
            p0 = _flat(decode_tree(test["initial"]["params"], dtype, "params"), dtype)
            if "sum_of_squares" in test["initial"]:
                G0 = _flat(decode_tree(test["initial"]["sum_of_squares"], dtype, "G"), dtype)
            else:
                G0 = np.full(p0.shape, hyper["initial_accumulator_value"], dtype)
            inputs = test["inputs"]
            rates = decode_array(inputs["learning_rate"], real, "learning_rate")
            grads = None
            if "grads" in inputs:
                stacked = decode_tree(inputs["grads"], dtype, "grads")
                grads = [
                    _flat([(p, None if v is None else v[t]) for p, v in stacked], dtype)
                    for t in range(test["numberOfSteps"])
                ]
            quad = test.get("gradient")
            quadratic = None
            if quad:
                quadratic = tuple(_flat(decode_tree(quad[k], dtype, k), dtype) for k in ("a", "w_star"))
            expected = {}
            for rec in test["steps"]:
                expected[rec["step"]] = {
                    q: _flat(decode_tree(rec["expected"][q], dtype, q), dtype) for q in QUANTITIES
                }
            specs.append({
                "convention": doc["convention"], "tcId": test["tcId"], "dtype": dtype, "hyper": hyper,
                "lr": hyper.get("learning_rate", hyper.get("lr")), "schedule": "schedule" in group,
                "eps": hyper.get("eps", hyper.get("epsilon")), "p0": p0, "G0": G0,
                "count": int(test["initial"].get("count", 0)),
                "given_state": "sum_of_squares" in test["initial"], "steps": test["numberOfSteps"],
                "rates": rates, "grads": grads, "quadratic": quadratic, "recorded": sorted(expected),
                "expected": expected,
            })  # fmt: skip
    return specs


def expressible(lib: Library, spec: dict) -> bool:
    """Whether the library can run this case with the case's own hyperparameters."""
    if spec["dtype"] not in lib.dtypes or (spec["schedule"] and not lib.schedule):
        return False
    for key, value in spec["hyper"].items():
        if key in TORCH_EXTRAS + ONNX_EXTRAS and value and key not in lib.extras:
            return False
    eps = spec["eps"]
    if lib.eps == "zero":
        return eps == 0
    if lib.eps != "any":
        return REAL[spec["dtype"]](eps) == REAL[spec["dtype"]](float(lib.eps))
    return True


def _inputs_only(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "expected"}


# ---------------------------------------------------------------- running the libraries


def _run_family(family: str, jobs: list[tuple[str, dict]], timeout: float) -> tuple[list | None, str]:
    """Run a family's child process on (variant, spec) jobs: (per job its steps or an error text, note)."""
    if family == "tfjs":
        from adagrad_ref.tools import atlas_tfjs

        raw, note = atlas_tfjs.run(JS_DIR, jobs, timeout)
        return (None if raw is None else _steps(jobs, raw, atlas_tfjs.floats)), note
    if family in FOREIGN:
        return _run_foreign(family, jobs, timeout)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "adagrad_ref.tools.atlas_drivers", family],
            input=pickle.dumps(jobs), capture_output=True, timeout=timeout, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        hint = " (the test install has it: pip install -r requirements-dev.txt)"
        return None, lines[-1][:200] + (hint if "ModuleNotFoundError" in lines[-1] else "")
    out = pickle.loads(proc.stdout)
    return out["results"], out["version"]


def _bits(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.name, "bits": a.view({4: np.uint32, 8: np.uint64}[a.itemsize]).tolist()}


def _from_bits(obj: dict) -> np.ndarray:
    return np.array(obj["bits"], {"float32": np.uint32, "float64": np.uint64}[obj["dtype"]]).view(
        obj["dtype"]
    )


def _run_foreign(family: str, jobs: list[tuple[str, dict]], timeout: float) -> tuple[list | None, str]:
    """A library in another interpreter (``$ADAGRAD_REF_ATLAS_PYTHON_<FAMILY>``): JSON both ways."""
    python = os.environ.get(FOREIGN[family], sys.executable)
    payload = []
    for _, s in jobs:
        payload.append({
            "dtype": s["dtype"], "lr": s["lr"], "eps": s["eps"], "steps": s["steps"],
            "recorded": s["recorded"],
            "p0": _bits(s["p0"]), "G0": _bits(s["G0"]),
            "grads": None if s["grads"] is None else [_bits(g) for g in s["grads"]],
            "quadratic": None if s["quadratic"] is None else [_bits(x) for x in s["quadratic"]],
        })  # fmt: skip
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "atlas_foreign.py")
    try:
        proc = subprocess.run(
            [python, script, family], input=json.dumps(payload).encode(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    except OSError as e:
        return None, f"{python}: {e.strerror or e}"
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        return None, f"{lines[-1][:200]} (set ${FOREIGN[family]} to a Python that has it: docs/atlas.md)"
    out = json.loads(proc.stdout)
    return _steps(jobs, out["results"], _from_bits), out["version"]


def _steps(jobs: list[tuple[str, dict]], raw: list, decode: Callable[[Any], np.ndarray]) -> list:
    """A JSON child's results (node's or another interpreter's), per job: its error text, or its
    recorded steps ``{step: [G, w]}`` decoded into per-step ``sum_of_squares``/``params``."""
    results: list = []
    for (_, s), r in zip(jobs, raw, strict=True):
        if isinstance(r, str):
            results.append(r)
            continue
        steps: list = [{} for _ in range(s["steps"])]
        for step, (G, w) in r.items():
            steps[int(step) - 1] = {"sum_of_squares": decode(G), "updates": None, "params": decode(w)}
        results.append(steps)
    return results


def compare(spec: dict, got: list[dict]) -> dict:
    """One case: whether it is exact (every bit), the largest finite ULP per quantity (a zero where the
    file has a subnormal counting 0, as the verifier's relaxed level counts flush-to-zero; ``flushed``
    says it happened), whether a NaN or Inf stands where the file has another value (``nonfinite``),
    the first difference."""
    worst = dict.fromkeys(QUANTITIES, 0.0)
    first, nonfinite, flushed = None, False, False
    for step in spec["recorded"]:
        exp = spec["expected"][step]
        for q in QUANTITIES:
            if got[step - 1].get(q) is None:  # the library keeps this quantity to itself
                worst[q] = None
                continue
            g = np.asarray(got[step - 1][q]).astype(spec["dtype"])
            strict = params_distance(g, exp[q], exp["updates"]) if q == "params" else distance(g, exp[q])
            d = strict if q == "params" else distance(g, exp[q], ftz=True)  # a flushed subnormal: 0 ULP
            apart = strict >= np.finfo(np.float64).max  # NaN or Inf against another value (params: float max)
            nonfinite |= bool(apart.any())
            finite = d[~apart & np.isfinite(d)]
            m = float(strict.max()) if strict.size else 0.0
            flushed |= bool((d != strict).any())
            worst[q] = max(worst[q], float(finite.max()) if finite.size else 0.0)
            if m > 0 and first is None:
                i = int(np.argmax(strict))
                first = {"tcId": spec["tcId"], "step": step, "quantity": SHORT[q], "index": i,
                         "got": repr(g[i].item()), "expected": repr(exp[q][i].item()), "ulp": m}  # fmt: skip
    exact = first is None
    return {"exact": exact, "worst": worst, "nonfinite": nonfinite, "flushed": flushed, "first": first}


def run_atlas(
    quick: bool = False, only: str | None = None, timeout: float = 1800.0,
    only_families: tuple[str, ...] | None = None, conventions: tuple[str, ...] | None = None,
) -> dict:  # fmt: skip
    """Run every library (or those whose name contains ``only``, or of ``only_families``) on every
    golden file (or those of ``conventions``)."""
    specs = []
    for convention in conventions or CONVENTIONS:
        with open(golden_path(convention), encoding="utf-8") as f:
            specs += case_specs(json.load(f), quick)
    libs = [lb for lb in LIBRARIES if not only or only.lower() in lb.name.lower() or only == lb.family]
    libs = [lb for lb in libs if only_families is None or lb.family in only_families]
    if not libs:
        raise AdagradError(
            f"--only {only!r} names no library; the libraries: {[lb.family for lb in LIBRARIES]}"
        )
    out: dict[str, Any] = {"quick": quick, "machine": cpu_name(), "libraries": []}
    for family in dict.fromkeys(lb.family for lb in libs):
        members = [lb for lb in libs if lb.family == family]
        jobs = [(lb.variant, _inputs_only(s)) for lb in members for s in specs if expressible(lb, s)]
        print(f"atlas: {family}: {len(jobs)} cases", file=sys.stderr, flush=True)
        results, note = _run_family(family, jobs, timeout)
        if results is None:
            print(f"atlas: {family}: not run: {note}", file=sys.stderr, flush=True)
        k = 0
        for lb in members:
            mine = [s for s in specs if expressible(lb, s)]
            entry: dict[str, Any] = {"library": lb.name, "family": family}
            if results is None:
                entry.update(available=False, reason=note)
                out["libraries"].append(entry)
                continue
            entry.update(available=True, version=note, conventions={})
            for s in mine:
                r = results[k]
                k += 1
                c = entry["conventions"].setdefault(
                    s["convention"],
                    {
                        "cases": 0,
                        "exact": 0,
                        "nonfinite": 0,
                        "flushed": 0,
                        "errors": 0,
                        "worst": {},
                        "first": None,
                    },
                )
                c["cases"] += 1
                if isinstance(r, str):
                    c["errors"] += 1
                    c["first"] = c["first"] or {"tcId": s["tcId"], "error": r[:200]}
                    continue
                cmp = compare(s, r)
                c["exact"] += cmp["exact"]
                c["nonfinite"] += cmp["nonfinite"]
                c["flushed"] += cmp["flushed"]
                for q, v in cmp["worst"].items():
                    if v is not None:
                        c["worst"][SHORT[q]] = max(c["worst"].get(SHORT[q], 0.0), v)
                c["first"] = c["first"] or cmp["first"]
            entry["matches"] = _matches(entry["conventions"])
            out["libraries"].append(entry)
    return out


def _matches(conventions: dict) -> dict:
    """The convention every runnable case of which is exact (most cases first), else the nearest: the
    largest share of exact cases, then the smallest worst ULP."""
    exact = [(c["cases"], n) for n, c in conventions.items() if c["cases"] and c["exact"] == c["cases"]]
    if exact:
        n = max(exact)[1]
        return {"convention": n, "exact": True}
    finite = {n: max(c["worst"].values(), default=0.0) for n, c in conventions.items() if c["cases"]}
    if not finite:
        return {"convention": None, "exact": False}
    n = min(finite, key=lambda k: (-conventions[k]["exact"] / conventions[k]["cases"], finite[k]))
    return {"convention": n, "exact": False, "worst_ulp": finite[n]}


# ---------------------------------------------------------------- the table and the picture


def _ulp_text(v: float) -> str:
    return f"{v:.0f}" if v < 1e6 else f"{v:.1e}"


def markdown(atlas: dict) -> str:
    """The docs' table: per library, its version, the convention it matches (or the nearest), and per
    convention file `exact / run` with the worst ULP of G, u, w."""
    head = ["library", "version", "matches", *CONVENTIONS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in atlas["libraries"]:
        if not e["available"]:
            lines.append(f"| {e['library']} | not run: {e['reason']} |" + " |" * (len(head) - 2))
            continue
        m = e["matches"]
        if m["exact"]:
            match = f"**{m['convention']}** (exact)"
        elif m["convention"]:
            match = f"none (nearest {m['convention']}, {_ulp_text(m['worst_ulp'])} ULP)"
        else:
            match = "none"
        cells = []
        for conv in CONVENTIONS:
            c = e["conventions"].get(conv)
            if not c or not c["cases"]:
                cells.append("n/a")
                continue
            w = ", ".join(f"{q} {_ulp_text(v)}" for q, v in c["worst"].items())
            if c["flushed"]:
                w += f"; subnormals flushed in {c['flushed']}"
            if c["nonfinite"]:
                w += f"; NaN/Inf apart in {c['nonfinite']}"
            if c["errors"]:
                w += f"; raised in {c['errors']}"
            cells.append(f"{c['exact']}/{c['cases']}" + (f" ({w})" if c["exact"] < c["cases"] else ""))
        lines.append(f"| {e['library']} | {e['version']} | {match} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# A NaN or Inf where the file has another value: its own colour, since the worst ULP counts only
# finite distances (a cell whose only differences are NaN against 1.0 has a worst ULP of 0).
NONFINITE_FILL = "#9575cd"


def svg(atlas: dict) -> str:
    """A grid, library by convention file: green where every case run is exact, violet where a NaN or
    an Inf stands against another value in some case, else shades of orange to red by log10 of the
    worst finite ULP, grey where nothing ran; the cell says exact/run."""
    libs = [e for e in atlas["libraries"] if e["available"]]
    cw, ch, left, top = 110, 26, 330, 40
    width, height = left + cw * len(CONVENTIONS) + 10, top + ch * len(libs) + 46
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for j, conv in enumerate(CONVENTIONS):
        parts.append(
            f'<text x="{left + cw * j + cw / 2}" y="{top - 10}" text-anchor="middle">{conv}.json</text>'
        )
    for i, e in enumerate(libs):
        y = top + ch * i
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{_escape(e["library"])}</text>')
        for j, conv in enumerate(CONVENTIONS):
            c = e["conventions"].get(conv)
            if not c or not c["cases"]:
                fill, label = "#e6e6e6", "n/a"
            elif c["exact"] == c["cases"]:
                fill, label = "#4caf50", f"{c['exact']}/{c['cases']}"
            elif c["nonfinite"]:
                fill, label = NONFINITE_FILL, f"{c['exact']}/{c['cases']}"
            else:
                worst = max(c["worst"].values(), default=0.0)
                level = 1.0 if not np.isfinite(worst) else min(1.0, np.log10(1 + worst) / 6)
                red = int(255 - 60 * level)
                fill, label = (
                    f"rgb({red},{int(200 - 170 * level)},{int(80 - 60 * level)})",
                    f"{c['exact']}/{c['cases']}",
                )
            x = left + cw * j
            parts.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"/>')
            parts.append(f'<text x="{x + cw / 2}" y="{y + 17}" text-anchor="middle">{label}</text>')
    parts.append(
        f'<text x="10" y="{height - 24}">cases exact / cases run; green: all exact; orange to red: '
        "log10 of the worst finite ULP (G, u, w)</text>"
    )
    parts.append(
        f'<rect x="10" y="{height - 19}" width="14" height="12" fill="{NONFINITE_FILL}"/>'
        f'<text x="30" y="{height - 8}">violet: in some case a NaN or an Inf stands where the file has '
        "another value (whatever the finite ULP)</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def update_docs(atlas: dict, path: str) -> None:
    """Write the table between the markers of ``path`` (docs/atlas.md)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise AdagradError(f"{path}: cannot read ({e.strerror or e})") from None
    if BEGIN not in text or END not in text:
        raise AdagradError(f"{path}: the atlas markers are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    write_text(path, head + BEGIN + "\n" + markdown(atlas) + "\n" + END + tail, "cannot write the docs")


def main(quick: bool, only: str | None, update: bool, out_dir: str | None = None) -> int:
    """The CLI command: run, write figures/atlas.json and figures/atlas.svg, print the table.

    A partial run (``--quick`` or ``--only``) does not replace the committed full atlas in figures/:
    it writes only where ``--out`` says. A run in which no library ran writes nothing: AdagradError."""
    if update and (quick or only):
        raise AdagradError("--update-docs needs the full atlas (no --quick, no --only)")
    atlas = run_atlas(quick=quick, only=only)
    if not any(e.get("available") for e in atlas["libraries"]):
        raise AdagradError(
            "no library ran (each is named above with why; optax, torch, Keras, TensorFlow and onnx come "
            "with pip install -r requirements-dev.txt, the others need a Python of their own: docs/atlas.md)"
        )
    if out_dir is None and (quick or only):
        print(markdown(atlas))
        print("atlas: a partial run (--quick, --only) leaves figures/ as it is; --out DIR writes it",
              file=sys.stderr)  # fmt: skip
        return 0
    figures = out_dir or os.path.join(ROOT, "figures")
    os.makedirs(figures, exist_ok=True)
    write_bytes(
        os.path.join(figures, "atlas.json"), (json.dumps(atlas, indent=1) + "\n").encode(), "cannot write"
    )
    write_text(os.path.join(figures, "atlas.svg"), svg(atlas), "cannot write the picture")
    print(markdown(atlas))
    if update:
        update_docs(atlas, os.path.join(ROOT, "docs", "atlas.md"))
    return 0
