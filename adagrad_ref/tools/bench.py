"""The benchmark: ``python -m adagrad_ref bench``. Ratios measured side by side, not absolute times.

One Adagrad step reads params, grads and accumulators and writes params and
accumulators: five arrays. The *roofline* is a Numba kernel with exactly that
memory traffic and no square root or division; no step can beat it by much, so
every implementation is reported as a fraction of its throughput, and against
each other, all measured in one run, interleaved (every repeat visits every
implementation in turn), as the median of the repeats after warm-up.

Also measured: a model-shaped pytree of 200 leaves (per-leaf calls, the flat
multi-tensor path, torch with the same 200 tensors, jitted optax), sparse rows
of an embedding table against the dense step, and the start-up cost of the
Numba kernels with an empty and a warm cache.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange

from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.fast.kernels import PARALLEL_MIN_BYTES, adagrad_step_inplace, sparse_step_inplace
from adagrad_ref.reference import Adagrad, apply_updates

__all__ = ["BenchConfig", "check_targets", "report", "run"]

LR, EPS, G0 = 0.01, 1e-7, 0.1
ARRAYS_MOVED = 5  # read p, g, G; write p, G


# ---------------------------------------------------------------- the roofline


@njit(cache=True, error_model="numpy")
def _roofline_serial(p, g, G):
    for i in range(p.size):
        G[i] = G[i] + abs(g[i])  # abs keeps G positive for the implementations sharing the buffers
        p[i] = p[i] + g[i]


@njit(cache=True, error_model="numpy", parallel=True)
def _roofline_parallel(p, g, G):
    for i in prange(p.size):
        G[i] = G[i] + abs(g[i])
        p[i] = p[i] + g[i]


def roofline(p: np.ndarray, g: np.ndarray, G: np.ndarray) -> None:
    """The same traffic as a step and no math, dispatched as the step is (all cores from
    ``PARALLEL_MIN_BYTES`` per array on)."""
    (_roofline_parallel if p.nbytes >= PARALLEL_MIN_BYTES else _roofline_serial)(p, g, G)


# ---------------------------------------------------------------- implementations


@dataclass
class Buffers:
    """Arrays shared by the in-place implementations (their values drift; the speed does not care)."""

    p: np.ndarray
    g: np.ndarray
    G: np.ndarray


def _numpy_inplace(b: Buffers) -> Callable[[], None]:
    """The best a NumPy user can do: preallocated buffers, every ufunc with out=, no temporaries."""
    tmp, mask = np.empty_like(b.p), np.empty(b.p.shape, bool)
    neg_lr, eps = b.p.dtype.type(-LR), b.p.dtype.type(EPS)

    def step() -> None:
        np.multiply(b.g, b.g, out=tmp)
        np.add(tmp, b.G, out=b.G)
        np.add(b.G, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(1, tmp, out=tmp)
        np.greater(b.G, 0, out=mask)
        np.multiply(tmp, mask, out=tmp)
        np.multiply(tmp, b.g, out=tmp)
        np.multiply(neg_lr, tmp, out=tmp)
        np.add(b.p, tmp, out=b.p)

    return step


def _numpy_class(b: Buffers) -> Callable[[], None]:
    opt = Adagrad(LR, G0, EPS)
    box = {"p": b.p, "s": opt.init(b.p)}  # apply_updates returns new arrays: b.p is only read

    def step() -> None:
        u, box["s"] = opt.update(b.g, box["s"])
        box["p"] = apply_updates(box["p"], u)

    return step


def _torch_step(params: list[np.ndarray], grads: list[np.ndarray], **kw: Any) -> Callable[[], None]:
    """torch.optim.Adagrad over these tensors (sharing the arrays' memory); its own state is its sums."""
    import torch

    tensors = [torch.nn.Parameter(torch.from_numpy(p)) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.from_numpy(g)
    return torch.optim.Adagrad(tensors, lr=LR, initial_accumulator_value=G0, eps=EPS, **kw).step


def _optax_step(params: Any, grads: Any) -> Callable[[], None]:
    """Jitted optax.adagrad on a pytree of copies, params and state donated to each call."""
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.adagrad(LR, G0, EPS)

    def step_fn(p, s, g):
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s

    jitted = jax.jit(step_fn, donate_argnums=(0, 1))
    p = jax.tree.map(jnp.asarray, params)
    box = {"p": p, "s": opt.init(p), "g": jax.tree.map(jnp.asarray, grads)}

    def step() -> None:
        box["p"], box["s"] = jitted(box["p"], box["s"], box["g"])
        jax.block_until_ready(box["p"])

    return step


def implementations(torch_ok: bool, jax_ok: bool) -> dict[str, Callable[[Buffers], Callable[[], None]]]:
    impls: dict[str, Callable[[Buffers], Callable[[], None]]] = {
        "roofline": lambda b: lambda: roofline(b.p, b.g, b.G),
        "roofline_serial": lambda b: lambda: _roofline_serial(b.p, b.g, b.G),
        "numba": lambda b: lambda: adagrad_step_inplace(b.p, b.g, b.G, LR, EPS),
        "numba_serial": lambda b: lambda: adagrad_step_inplace(b.p, b.g, b.G, LR, EPS, parallel=False),
        "numba_parallel": lambda b: lambda: adagrad_step_inplace(b.p, b.g, b.G, LR, EPS, parallel=True),
        "numpy_inplace": _numpy_inplace,
        "numpy_class": _numpy_class,
    }
    if torch_ok:
        impls["torch_foreach"] = lambda b: _torch_step([b.p], [b.g], foreach=True)
        impls["torch_fused"] = lambda b: _torch_step([b.p], [b.g], fused=True)
    if jax_ok:
        impls["optax_jit"] = lambda b: _optax_step(b.p, b.g)
    return impls


# ---------------------------------------------------------------- timing


def _calls_for(step: Callable[[], None], min_seconds: float) -> int:
    """How many calls make one sample last at least ``min_seconds``."""
    t = time.perf_counter()
    step()
    one = max(time.perf_counter() - t, 1e-7)
    return max(1, int(min_seconds / one))


def measure_interleaved(
    steps: dict[str, Callable[[], None]],
    repeats: int,
    min_seconds: float,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Seconds per call of each step: every repeat times every implementation, in a rotating order."""
    for step in steps.values():  # warm-up: compile, allocate, fault the pages in
        step()
        step()
    calls = {name: _calls_for(step, min_seconds) for name, step in steps.items()}
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            k = calls[name]
            step = steps[name]
            t = time.perf_counter()
            for _ in range(k):
                step()
            samples[name].append((time.perf_counter() - t) / k)
        tick()
    return samples


# ---------------------------------------------------------------- the run


@dataclass
class BenchConfig:
    sizes: list[int] = field(default_factory=lambda: [10**k for k in range(3, 9)])
    dtypes: list[str] = field(default_factory=lambda: ["float32", "float64"])
    repeats: int = 7
    min_seconds: float = 0.02
    many_leaves: bool = True
    sparse: bool = True
    startup: bool = True


#: Arrays of n elements each implementation keeps alive or allocates at its peak, measured with
#: /proc/self/status at n = 1e7 float64 (a 1e8 float64 run with everything alive was OOM-killed at 24 GB).
_MEMORY_ARRAYS = {
    "shared": 3,
    "roofline": 0,
    "numpy_inplace": 1.2,
    "numpy_class": 10,
    "torch_foreach": 3,
    "torch_fused": 1,
    "optax_jit": 4,
}


def _arrays_needed(factories: dict) -> float:
    return _MEMORY_ARRAYS["shared"] + sum(_MEMORY_ARRAYS.get(name, 0) for name in factories)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def _importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def machine_info() -> dict:
    import numba

    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }
    if _importable("torch"):
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    if _importable("jax"):
        import jax
        import optax

        info["jax"] = jax.__version__
        info["optax"] = optax.__version__
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(config: BenchConfig, progress: bool = True) -> dict:
    """Run every measurement of ``config``; returns the JSON-able result."""
    from tqdm import tqdm

    torch_ok, jax_ok = _importable("torch"), _importable("jax") and _importable("optax")
    if jax_ok:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 stays float64 in optax
    impl_factories = implementations(torch_ok, jax_ok)
    result: dict[str, Any] = {"machine": machine_info(), "config": config.__dict__.copy(), "dense": []}
    skipped = []
    total = len(config.dtypes) * len(config.sizes) * config.repeats
    with tqdm(total=total, desc="dense steps", unit="repeat", disable=not progress, file=sys.stderr) as bar:
        for dtype_name in config.dtypes:
            dtype = np.dtype(dtype_name)
            for n in config.sizes:
                gc.collect()
                factories = dict(impl_factories)
                budget = 0.8 * _available_memory() / (n * dtype.itemsize)  # in arrays of n elements
                while _arrays_needed(factories) > budget and "numpy_class" in factories:
                    del factories["numpy_class"]  # the largest: ~10 arrays of temporaries and copies
                    skipped.append(
                        {"dtype": dtype_name, "n": n, "impl": "numpy_class", "why": "not enough memory"}
                    )
                if _arrays_needed(factories) > budget:
                    skipped.append({"dtype": dtype_name, "n": n, "impl": "all", "why": "not enough memory"})
                    bar.update(config.repeats)
                    continue
                rng = np.random.default_rng(n)
                b = Buffers(
                    p=rng.standard_normal(n).astype(dtype),
                    g=rng.standard_normal(n).astype(dtype),
                    G=np.full(n, G0, dtype),
                )
                bar.set_postfix_str(f"{dtype_name} n={n:.0e}")
                steps = {name: make(b) for name, make in factories.items()}
                samples = measure_interleaved(
                    steps, config.repeats, config.min_seconds, tick=lambda: bar.update(1)
                )
                for name, s in samples.items():
                    med = statistics.median(s)
                    result["dense"].append(
                        {
                            "dtype": dtype_name,
                            "n": n,
                            "impl": name,
                            "seconds": med,
                            "samples": s,
                            "gb_per_s": ARRAYS_MOVED * n * dtype.itemsize / med / 1e9,
                        }
                    )
                del steps, b
    result["skipped"] = skipped
    if config.many_leaves:
        result["many_leaves"] = bench_many_leaves(
            config.repeats, config.min_seconds, torch_ok, jax_ok, progress
        )
    if config.sparse:
        result["sparse"] = bench_sparse(config.repeats, progress)
    if config.startup:
        result["startup"] = bench_startup()
    result["targets"] = check_targets(result)
    return result


def model_shapes(leaves: int = 200, smallest: int = 10, largest: int = 10**6) -> list[int]:
    """Leaf sizes of a model-shaped pytree: log-spaced from ``smallest`` to ``largest``."""
    return [round(float(x)) for x in np.geomspace(smallest, largest, leaves)]


def bench_many_leaves(repeats: int, min_seconds: float, torch_ok: bool, jax_ok: bool, progress: bool) -> dict:
    from tqdm import tqdm

    sizes = model_shapes()
    rng = np.random.default_rng(1)
    params = {f"leaf{i:03d}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(sizes)}
    grads = {k: rng.standard_normal(v.size).astype(np.float32) for k, v in params.items()}
    per_leaf_G = {k: np.full(v.size, G0, np.float32) for k, v in params.items()}
    per_leaf_p = {k: v.copy() for k, v in params.items()}

    def per_leaf() -> None:
        for k in per_leaf_p:
            adagrad_step_inplace(per_leaf_p[k], grads[k], per_leaf_G[k], LR, EPS)

    flat = FlatAdagrad(params, LR, G0, EPS)
    flat.set_grads(grads)
    steps: dict[str, Callable[[], None]] = {"numba_per_leaf": per_leaf, "numba_flat": flat.step}
    if torch_ok:
        for kind, kw in (("torch_foreach", {"foreach": True}), ("torch_fused", {"fused": True})):
            steps[kind] = _torch_step([v.copy() for v in params.values()], list(grads.values()), **kw)
    if jax_ok:
        steps["optax_jit"] = _optax_step(params, grads)
    with tqdm(total=repeats, desc="200 leaves", unit="repeat", disable=not progress, file=sys.stderr) as bar:
        samples = measure_interleaved(steps, repeats, min_seconds, tick=lambda: bar.update(1))
    total = sum(sizes)
    return {
        "leaves": len(sizes),
        "elements": total,
        "smallest": min(sizes),
        "largest": max(sizes),
        "dtype": "float32",
        "seconds": {k: statistics.median(v) for k, v in samples.items()},
        "samples": samples,
    }


def bench_sparse(repeats: int, progress: bool, n: int = 10**6, d: int = 64, k: int = 1000) -> dict:
    from tqdm import tqdm

    rng = np.random.default_rng(2)
    table = rng.standard_normal((n, d)).astype(np.float32)
    G = np.full((n, d), G0, np.float32)
    rows = rng.integers(0, n, k)
    row_grads = rng.standard_normal((k, d)).astype(np.float32)
    dense_g = np.zeros((n, d), np.float32)
    np.add.at(dense_g, rows, row_grads)
    steps = {
        "sparse": lambda: sparse_step_inplace(table, rows, row_grads, G, LR, EPS),
        "dense": lambda: adagrad_step_inplace(table, dense_g, G, LR, EPS),
    }
    with tqdm(total=repeats, desc="sparse rows", unit="repeat", disable=not progress, file=sys.stderr) as bar:
        samples = measure_interleaved(steps, repeats, 0.02, tick=lambda: bar.update(1))
    sec = {name: statistics.median(s) for name, s in samples.items()}
    return {"n": n, "d": d, "rows": k, "unique_rows": int(np.unique(rows).size), "seconds": sec}


_STARTUP = """
import time, numpy as np
t0 = time.perf_counter()
from adagrad_ref import adagrad_step_inplace, adagrad
t1 = time.perf_counter()
p, g, G = np.zeros(8, np.float32), np.ones(8, np.float32), np.full(8, 0.1, np.float32)
adagrad_step_inplace(p, g, G, 0.1)
t2 = time.perf_counter()
opt = adagrad(0.1, backend="numba")
opt.update(g, opt.init(p))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def bench_startup() -> dict:
    """First-call cost of the Numba core in a new process, with an empty and with a warm cache."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("empty_cache", "warm_cache"):
            res = subprocess.run(
                [sys.executable, "-c", _STARTUP], env=env, capture_output=True, text=True, check=True
            )
            imp, first_step, first_update = map(float, res.stdout.split())
            out[label] = {"import_s": imp, "first_inplace_call_s": first_step, "first_update_s": first_update}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "adagrad_ref", "example"], capture_output=True, check=True)
    out["example_wall_s_warm"] = time.perf_counter() - t
    return out


# ---------------------------------------------------------------- targets and the report


def _dense_seconds(result: dict) -> dict[tuple[str, int, str], float]:
    return {(r["dtype"], r["n"], r["impl"]): r["seconds"] for r in result["dense"]}


def check_targets(result: dict) -> list[dict]:
    """Each target of the performance issue: the measured ratio, the bound, met or not."""
    sec = _dense_seconds(result)
    rows: list[dict] = []

    def add(target: str, dtype: str, n: int, measured: float, bound: float, higher_is_better: bool = True):
        met = measured >= bound if higher_is_better else measured <= bound
        rows.append(
            {"target": target, "dtype": dtype, "n": n, "measured": measured, "bound": bound, "met": bool(met)}
        )

    for dtype, n, impl in sorted(sec):
        if impl != "numba":
            continue
        t = sec[(dtype, n, "numba")]
        if n >= 10**6:
            t_par = sec[(dtype, n, "numba_parallel")]
            add(
                "parallel core throughput / roofline >= 0.95",
                dtype,
                n,
                sec[(dtype, n, "roofline")] / t_par,
                0.95,
            )
            add("speed-up over the NumPy class >= 4", dtype, n, sec[(dtype, n, "numpy_class")] / t, 4.0)
        if (dtype, n, "torch_fused") in sec:
            add("speed-up over torch fused >= 1.0", dtype, n, sec[(dtype, n, "torch_fused")] / t, 1.0)
        if (dtype, n, "optax_jit") in sec:
            add("speed-up over jitted optax >= 1.5", dtype, n, sec[(dtype, n, "optax_jit")] / t, 1.5)
        add(
            "serial core time / serial roofline time <= 1.5",
            dtype,
            n,
            sec[(dtype, n, "numba_serial")] / sec[(dtype, n, "roofline_serial")],
            1.5,
            higher_is_better=False,
        )
        if n == 10**3:
            add(
                "public call time / roofline call time <= 1.5 at n = 1e3",
                dtype,
                n,
                t / sec[(dtype, n, "roofline")],
                1.5,
                False,
            )
    ml = result.get("many_leaves")
    if ml and "torch_fused" in ml["seconds"]:
        s = ml["seconds"]
        add(
            "200 leaves: flat path speed-up over torch fused >= 1.0",
            "float32",
            ml["elements"],
            s["torch_fused"] / s["numba_flat"],
            1.0,
        )
    sp = result.get("sparse")
    if sp:
        add(
            "sparse rows: speed-up over the dense step >= 100",
            "float32",
            sp["n"] * sp["d"],
            sp["seconds"]["dense"] / sp["seconds"]["sparse"],
            100.0,
        )
    st = result.get("startup")
    if st:
        add(
            "example with a warm cache: seconds <= 2",
            "-",
            0,
            st["example_wall_s_warm"],
            2.0,
            higher_is_better=False,
        )
    return rows


def report(result: dict) -> str:
    """Markdown tables: time per step and ratios, then the targets."""
    sec = _dense_seconds(result)
    impls = sorted({k[2] for k in sec}, key=lambda x: list(_ORDER).index(x) if x in _ORDER else 99)
    lines = []
    m = result["machine"]
    lines.append(
        f"Machine: {m['cpu']}, {m['cores']} cores; numpy {m['numpy']}, numba {m['numba']}"
        + (f", torch {m['torch']}" if "torch" in m else "")
        + (f", jax {m['jax']}, optax {m['optax']}" if "jax" in m else "")
    )
    for dtype in result["config"]["dtypes"]:
        ns = sorted({k[1] for k in sec if k[0] == dtype})
        if not ns:
            continue
        lines.append("")
        lines.append(
            f"**{dtype}**: time per step (µs), and in brackets throughput as a fraction of the roofline"
        )
        lines.append("")
        lines.append("| implementation | " + " | ".join(f"n = {n:.0e}" for n in ns) + " |")
        lines.append("|---|" + "---|" * len(ns))
        for impl in impls:
            cells = []
            for n in ns:
                t = sec.get((dtype, n, impl))
                roof = sec.get((dtype, n, "roofline"))
                cells.append("—" if t is None else f"{t * 1e6:,.1f} ({roof / t:.2f})")
            lines.append(f"| {_ORDER.get(impl, impl)} | " + " | ".join(cells) + " |")
        gbs = {(r["n"], r["impl"]): r["gb_per_s"] for r in result["dense"] if r["dtype"] == dtype}
        for impl in ("roofline", "numba", "torch_fused", "optax_jit"):
            if all((n, impl) in gbs for n in ns):
                cells = " | ".join(f"{gbs[(n, impl)]:.1f}" for n in ns)
                lines.append(f"| {_ORDER.get(impl, impl)}: GB/s moved | {cells} |")
        lines.append("")
        lines.append(f"**{dtype}**: speed-up of the Numba core (default dispatch) over each peer")
        lines.append("")
        lines.append("| peer | " + " | ".join(f"n = {n:.0e}" for n in ns) + " |")
        lines.append("|---|" + "---|" * len(ns))
        for peer in ("numpy_class", "numpy_inplace", "torch_foreach", "torch_fused", "optax_jit"):
            if not any((dtype, n, peer) in sec for n in ns):
                continue
            cells = [
                f"{sec[(dtype, n, peer)] / sec[(dtype, n, 'numba')]:.2f}×" if (dtype, n, peer) in sec else "—"
                for n in ns
            ]
            lines.append(f"| {_ORDER.get(peer, peer)} | " + " | ".join(cells) + " |")
    ml = result.get("many_leaves")
    if ml:
        s = ml["seconds"]
        lines.append("")
        lines.append(
            f"**{ml['leaves']} leaves** ({ml['smallest']} to {ml['largest']:,} elements, "
            f"{ml['elements']:,} in all, float32): time per step of the whole model"
        )
        lines.append("")
        lines.append("| implementation | ms per step | vs flat path |")
        lines.append("|---|---|---|")
        for k, v in s.items():
            lines.append(f"| {k} | {v * 1e3:.2f} | {v / s['numba_flat']:.2f}× |")
    sp = result.get("sparse")
    if sp:
        lines.append("")
        lines.append(
            f"**Sparse rows**: {sp['rows']} row gradients ({sp['unique_rows']} distinct rows) of a "
            f"{sp['n']:,} × {sp['d']} float32 table: sparse step {sp['seconds']['sparse'] * 1e6:,.0f} µs, "
            f"dense step {sp['seconds']['dense'] * 1e3:,.1f} ms "
            f"({sp['seconds']['dense'] / sp['seconds']['sparse']:,.0f}× faster)."
        )
    st = result.get("startup")
    if st:
        e, w = st["empty_cache"], st["warm_cache"]
        lines.append("")
        lines.append(
            f"**Start-up** (new process): first in-place call {e['first_inplace_call_s']:.1f} s with an "
            f"empty Numba cache (compiling), {w['first_inplace_call_s'] * 1e3:.0f} ms with a warm one; "
            f"first optax-shaped update {e['first_update_s']:.1f} s / {w['first_update_s'] * 1e3:.0f} ms; "
            f"`python -m adagrad_ref example` {st['example_wall_s_warm']:.2f} s with a warm cache."
        )
    lines.append("")
    lines.append("| target | dtype | n | measured | bound | met |")
    lines.append("|---|---|---|---|---|---|")
    for t in result["targets"]:
        lines.append(
            f"| {t['target']} | {t['dtype']} | {t['n']:.0e} | {t['measured']:.3g} | {t['bound']:g} | "
            f"{'yes' if t['met'] else '**no**'} |"
        )
    return "\n".join(lines)


_ORDER = {
    "roofline": "roofline (no math, dispatched like the step)",
    "roofline_serial": "roofline, one core",
    "numba": "**Numba core** (`adagrad_step_inplace`)",
    "numba_serial": "Numba core, one core",
    "numba_parallel": "Numba core, all cores",
    "numpy_inplace": "NumPy in place, preallocated",
    "numpy_class": "NumPy class (`update` + `apply_updates`)",
    "torch_foreach": "torch Adagrad foreach",
    "torch_fused": "torch Adagrad fused",
    "optax_jit": "optax.adagrad, jitted, donated",
}


def save(result: dict, json_path: str, plot_path: str | None) -> None:
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1)
    if plot_path:
        from adagrad_ref.teaching.plots import plot_benchmark

        plot_benchmark(result, plot_path)
