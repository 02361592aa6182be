"""The benchmark's measurements: ``python -m adagrad_ref bench``. Ratios measured side by side.

Every implementation is timed in one run, interleaved (every repeat visits every
implementation in turn), as the median of the repeats after warm-up: the public
Numba core (``adagrad_step_inplace``, as dispatched and forced to one or all
cores), the NumPy reference class, torch's Adagrad (foreach and fused) and jitted
optax, against the two limits of :mod:`adagrad_ref.tools.roofs` (the traffic roof,
timed here like an implementation, and the arithmetic roof, fitted there).
Nothing here computes Adagrad itself: each implementation is called, so the
benchmark keeps no copy of the formula.

Also measured: a model-shaped pytree of 200 leaves (per-leaf calls, the flat
multi-tensor path, torch with the same 200 tensors, jitted optax), the optax-shaped
API (``update`` then ``apply_updates``) on model-shaped pytrees of 10 to 1,000 leaves,
float32 and float64, against jitted optax (donated and not) and torch's fused Adagrad
(:func:`bench_api`), sparse rows
of an embedding table against the dense step, the start-up cost of the
Numba kernels with an empty and a warm cache, and the bfloat16 and float16 in-place step against its
own traffic roof (:func:`bench_low_precision`). The report and the tables of docs/performance.md
are written from the result by :mod:`adagrad_ref.tools.bench_report`.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from adagrad_ref import Adagrad, adagrad_step_inplace, apply_updates, sparse_step_inplace
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.fast.kernels import STEP_DISPATCH
from adagrad_ref.tools.bench_api import bench_api, model_shapes
from adagrad_ref.tools.bench_report import check_targets, limits
from adagrad_ref.tools.roofs import (
    EPS,
    G0,
    LR,
    arithmetic_roof,
    faster_fit,
    parallel_dispatch,
    traffic_roof,
    traffic_roof_serial,
)
from adagrad_ref.tools.timing import SETTLE_SECONDS, cpu_name, measure_interleaved

__all__ = ["PEERS", "BenchConfig", "measure_interleaved", "missing_peers", "model_shapes", "run"]

ARRAYS_MOVED = 5  # read p, g, G; write p, G

#: The peers that need packages beyond the package's own requirements: the rows they give,
#: the modules they need, and how to install them.
PEERS = {
    "torch": {
        "rows": ("torch_foreach", "torch_fused"),
        "modules": ("torch",),
        "install": "pip install torch==2.13.0 (its CPU build: see the README's test install)",
    },
    "optax": {
        "rows": ("optax_jit",),
        "modules": ("jax", "optax"),
        "install": "pip install jax==0.10.2 jaxlib==0.10.2 optax==0.2.8",
    },
}


# ---------------------------------------------------------------- implementations


@dataclass
class Buffers:
    """Arrays shared by the in-place implementations (their values drift; the speed does not care)."""

    p: np.ndarray
    g: np.ndarray
    G: np.ndarray


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
        "roofline": lambda b: partial(traffic_roof(parallel_dispatch(b.p.size, b.p.dtype)), b.p, b.g, b.G),
        "roofline_serial": lambda b: partial(traffic_roof_serial, b.p, b.g, b.G),
        # the public call with its arguments bound, as the roofs' calls are (a lambda would add a Python
        # frame and five lookups, ~20 ns of the harness's own at 1e3, that only this row would pay)
        "numba": lambda b: partial(adagrad_step_inplace, b.p, b.g, b.G, LR, EPS),
        "numba_serial": lambda b: partial(adagrad_step_inplace, b.p, b.g, b.G, LR, EPS, parallel=False),
        "numba_parallel": lambda b: partial(adagrad_step_inplace, b.p, b.g, b.G, LR, EPS, parallel=True),
        "numpy_class": _numpy_class,
    }
    if torch_ok:
        impls["torch_foreach"] = lambda b: _torch_step([b.p], [b.g], foreach=True)
        impls["torch_fused"] = lambda b: _torch_step([b.p], [b.g], fused=True)
    if jax_ok:
        impls["optax_jit"] = lambda b: _optax_step(b.p, b.g)
    return impls


# ---------------------------------------------------------------- timing


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
    low_precision: bool = True
    low_precision_sizes: list[int] = field(default_factory=lambda: [10**3, 10**5, 10**6, 10**7])
    api: bool = True
    #: The optax-shaped API's cases: (dtype, leaves, layout), model-shaped trees (bench_api.model_tree).
    api_cases: list[tuple[str, int, str]] = field(
        default_factory=lambda: [
            ("float32", 200, "1-D"),
            ("float32", 200, "2-D"),
            ("float64", 200, "1-D"),
            ("float64", 200, "2-D"),
            ("float32", 10, "1-D"),
            ("float32", 1000, "2-D"),
        ]
    )
    api_elements: int = 0  # 0: as many as the 200-leaf model of model_shapes() (17.8 M)


#: Arrays of n elements each implementation keeps alive or allocates at its peak, measured with
#: /proc/self/status at n = 1e7 float64 (a 1e8 float64 run with everything alive was OOM-killed at 24 GB).
_MEMORY_ARRAYS = {
    "shared": 3,
    "roofline": 0,
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


def missing_peers() -> dict[str, str]:
    """The peers that cannot run here, each with the install line that brings it (empty: all can)."""
    missing = {}
    for peer, info in PEERS.items():
        absent = [m for m in info["modules"] if not _importable(m)]
        if absent:
            missing[peer] = f"{', '.join(absent)} not installed: {info['install']}"
    return missing


def machine_info(missing: dict[str, str] | None = None) -> dict:
    """The machine and the versions measured; ``missing``: the peers :func:`missing_peers` found absent."""
    import numba

    missing = missing_peers() if missing is None else missing
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }
    if "torch" not in missing:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    if "optax" not in missing:
        import jax
        import optax

        info["jax"] = jax.__version__
        info["optax"] = optax.__version__
    return info


def run(config: BenchConfig, progress: bool = True) -> dict:
    """Run every measurement of ``config``; returns the JSON-able result."""
    from tqdm import tqdm

    missing = missing_peers()
    torch_ok, jax_ok = "torch" not in missing, "optax" not in missing
    for peer, why in missing.items():  # said, not silently dropped
        print(f"bench: no {peer} rows ({', '.join(PEERS[peer]['rows'])}): {why}", file=sys.stderr)
    if jax_ok:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 stays float64 in optax
    impl_factories = implementations(torch_ok, jax_ok)
    result: dict[str, Any] = {
        "machine": machine_info(missing),
        "config": config.__dict__.copy(),
        "missing_peers": missing,
        "dense": [],
    }

    # The arithmetic roof before any implementation has run (after the rows, the threads they leave slowed a
    # roof's process: 0.327 ns per element against 0.275, AMD EPYC), and after them, settled; both are kept,
    # and the tighter of each part (roofs.faster_fit): one run's first fit fell in a slow minute (0.302).
    def fit_roofs(when: str) -> dict:  # many short samples, the fastest kept: some escape others' time
        if progress:
            print(f"arithmetic roof ({when}): the kernel on L1-resident arrays, each core", file=sys.stderr)
        return {dt: arithmetic_roof(dt, 3 * config.repeats, 0.0005) for dt in config.dtypes}

    roofs = fit_roofs("before the dense steps")
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
                # the public call's one-core/all-cores trials first, so that the traffic roof (dispatched like
                # the step) and the clock see their choice; after the threads the last size's implementation
                # left spinning have stopped (GNU OpenMP's: 8 ms, AMD EPYC), or they share the second core
                # with the trials (float64 1e6 chose one core in one run: 988 us a step against ~460 on two)
                time.sleep(2 * SETTLE_SECONDS)
                for _ in range(1 + STEP_DISPATCH.TRIALS):
                    adagrad_step_inplace(b.p, b.g, b.G, LR, EPS)
                all_cores = parallel_dispatch(n, dtype)
                steps = {name: make(b) for name, make in factories.items()}
                samples = measure_interleaved(
                    steps, config.repeats, config.min_seconds, tick=lambda: bar.update(1)
                )
                # the step's trials run again while it is timed (every 500 calls; 2,000 where all cores
                # won): one core at the start, all cores at the end (float64 1e4, one run on the AMD EPYC)
                # judges the step against the tighter all-cores limit
                ran_all = {"numba": all_cores or parallel_dispatch(n, dtype), "roofline": all_cores}
                offsets = [a.ctypes.data % 4096 for a in (b.p, b.g, b.G)]
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
                            **({"all_cores": ran_all[name]} if name in ran_all else {}),
                            # where the p, g, G the Numba rows and the traffic roof step begin, modulo 4 KiB
                            **({"offsets_4k": offsets} if name.startswith(("numba", "roofline")) else {}),
                        }
                    )
                del steps, b
    result["skipped"] = skipped
    time.sleep(2 * SETTLE_SECONDS)
    after = fit_roofs("after them")
    result["arithmetic_roof_fits"] = {"before": roofs, "after": after}
    result["arithmetic_roof"] = {dt: faster_fit(r, after[dt]) for dt, r in roofs.items()}
    if config.many_leaves:
        result["many_leaves"] = bench_many_leaves(
            config.repeats, config.min_seconds, torch_ok, jax_ok, progress
        )
    if config.api:
        result["api"] = bench_api(
            config.api_cases, config.api_elements, config.repeats, config.min_seconds,
            torch_ok, jax_ok, progress,
        )  # fmt: skip
    if config.sparse:
        result["sparse"] = bench_sparse(config.repeats, progress)
    if config.low_precision:
        result["low_precision"] = bench_low_precision(
            config.low_precision_sizes, config.repeats, config.min_seconds, progress
        )
    if config.startup:
        result["startup"] = bench_startup()
    result["targets"] = check_targets(result)
    result["limits"] = limits(result)
    return result


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


# ---------------------------------------------------------------- low precision (bfloat16, float16)

LOW_PRECISION_DTYPES = ("bfloat16", "float16", "float32")


def bench_low_precision(sizes: list[int], repeats: int, min_seconds: float, progress: bool) -> list[dict]:
    """The in-place step on bfloat16 and float16 against its own traffic roof, float32 beside them.

    The low-precision kernel runs on one core, so each format is timed with ``parallel=False`` (float32
    too, for the side-by-side ratio) against :func:`~adagrad_ref.tools.roofs.traffic_roof_serial` on
    arrays of its own element size (uint16 views: half the bytes of float32), the float32 roof measured
    the same way. The roof has buffers of its own (its sums are not Adagrad's: they would feed the step
    arbitrary bit patterns). One row per (dtype, n, impl): ``numba_serial`` or ``roofline_serial``."""
    import ml_dtypes
    from tqdm import tqdm

    rows = []
    total = len(LOW_PRECISION_DTYPES) * len(sizes) * repeats
    with tqdm(total=total, desc="low precision", unit="repeat", disable=not progress, file=sys.stderr) as bar:
        for name in LOW_PRECISION_DTYPES:
            dtype = np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)
            bits = np.uint16 if dtype.itemsize == 2 else np.uint32
            for n in sizes:
                rng = np.random.default_rng(n)
                b = Buffers(
                    p=rng.standard_normal(n).astype(dtype),
                    g=rng.standard_normal(n).astype(dtype),
                    G=np.full(n, G0, dtype),
                )
                roof = [np.zeros(n, bits), np.ones(n, bits), np.zeros(n, bits)]
                steps = {
                    "numba_serial": lambda b=b: adagrad_step_inplace(b.p, b.g, b.G, LR, EPS, parallel=False),
                    "roofline_serial": lambda r=roof: traffic_roof_serial(*r),
                }
                samples = measure_interleaved(steps, repeats, min_seconds, tick=lambda: bar.update(1))
                for impl, s in samples.items():
                    med = statistics.median(s)
                    rows.append({
                        "dtype": name, "n": n, "impl": impl, "seconds": med, "samples": s,
                        "gb_per_s": ARRAYS_MOVED * n * dtype.itemsize / med / 1e9,
                    })  # fmt: skip
    return rows


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
