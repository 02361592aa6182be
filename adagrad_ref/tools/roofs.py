"""The two limits no Adagrad step can beat: its memory traffic, and its arithmetic.

**The traffic roof** is a Numba loop with exactly a step's memory traffic (read
params, grads and accumulators; write params and accumulators) and no square root
or division, dispatched as the step is (one core or all, as the step's dispatch
measured faster at that size: :data:`adagrad_ref.fast.kernels.STEP_DISPATCH`). It is
not Adagrad: ``G + |g|`` and ``p + g`` only move the bytes.

**The arithmetic roof** is the step's exact math (correctly rounded square root
and division, in the kernel's order) with no memory traffic. It is *not* a copy
of the formula: it is the kernel the public call runs (``step_kernel`` of
:mod:`adagrad_ref.fast.kernels`), called repeatedly on arrays small enough to stay
in the L1 cache (three arrays in 3/4 of L1), from a compiled loop: the time of a
call is a small fixed cost plus a per-element time, and timing five such sizes and
fitting ``time = a + b·n`` separates the two. The slope ``b`` is the math's time
per element (L1 loads and stores included: they overlap with the divider and the
square root, which are the bottleneck; an L1-resident array is as close to "no
memory traffic" as a real kernel gets). Why not a kernel of the same operations:
it would be a second copy of the formula, and could drift from the one that is
measured; calling the kernel makes the roof follow any change of it (a different
order, an FMA) by construction. Why a compiled loop, not calls from Python (as
until the AMD EPYC runs of December 2026): a call from Python costs ~0.8 us, as
much as the math of the largest L1 size (~0.56 us in float32, ~0.86 in float64),
so 50 ns of jitter in one call
moved the fitted slope by 10-20 % (one run's two concurrent cores fitted 0.242 and
0.306 ns per element; the kernel in a compiled loop: 0.278 to 0.279 ns on every
size from 512 to 500,000 elements, any alignment, on the same machine).

"All cores" is measured, not assumed: one process per core runs the same fit at
the same time (Numba's kernel holds the GIL, so threads would not overlap), and
the all-core time per element is ``1 / Σ 1/b_i``, from the one of :data:`ROUNDS`
such rounds whose slowest core was fastest. On a machine whose "cores" are the
two hyperthreads of one physical core, sharing one divider, this is what shows it.

The arithmetic roof of a step of ``n`` elements is then ``n·b`` with ``b`` of one
core (the fastest of the fit alone and of each core's in the all-cores round kept)
where the step runs on one core (its dispatch measured one core faster
there, so that is the achievable limit) and of all cores where it runs on all;
no dispatch cost is added. The fixed cost of a *public* call is fitted beside it,
the same way but with the calls made from Python (``adagrad_step_inplace``): on
one core at the same sizes and, with ``parallel=True``, on all cores at as many
times the sizes as there are cores (the hand-over to the other cores' threads
included). They are not a limit of the
hardware but of a call; where arrays are small they explain the gap to the roof,
and the report shows the efficiency with and without them. A step can be no faster than
``max(traffic roof, arithmetic roof)``: the *limit* the benchmark reports
efficiency against.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable

import numpy as np
from numba import njit, prange

from adagrad_ref.fast.cache import cached_njit
from adagrad_ref.fast.kernels import STEP_DISPATCH, adagrad_step_inplace, step_kernel

__all__ = [
    "ROUNDS",
    "arithmetic_roof",
    "arithmetic_roof_seconds",
    "faster_fit",
    "fit_per_element",
    "fixed_cost_seconds",
    "l1_sizes",
    "parallel_dispatch",
    "traffic_roof",
    "traffic_roof_serial",
]

LR, EPS, G0 = 0.01, 1e-7, 0.1

#: Rounds of the all-cores fit (one process per core, all at once); the round whose slowest core was
#: fastest is kept. In one round of a benchmark on the AMD EPYC one process fitted 0.386 ns per element in
#: float32 (and 1.104 in float64) while the other fitted 0.276 (0.845), as both do alone: another process
#: had that core.
ROUNDS = 3


# ---------------------------------------------------------------- the traffic roof


@cached_njit()
def traffic_roof_serial(p, g, G):
    """Read p, g, G; write p, G; no math (one core)."""
    for i in range(p.size):
        G[i] = G[i] + abs(g[i])  # abs keeps G positive for the implementations sharing the buffers
        p[i] = p[i] + g[i]


@cached_njit(parallel=True)
def _traffic_roof_parallel(p, g, G):
    for i in prange(p.size):
        G[i] = G[i] + abs(g[i])
        p[i] = p[i] + g[i]


def parallel_dispatch(n: int, dtype: np.dtype) -> bool:
    """Does ``adagrad_step_inplace`` (``parallel=None``) run n elements of ``dtype`` on all cores, as its
    measurements chose so far (:data:`adagrad_ref.fast.kernels.STEP_DISPATCH`; not measured yet: one core)?"""
    nbytes = n * np.dtype(dtype).itemsize
    return bool(STEP_DISPATCH.choice((np.dtype(dtype).char, nbytes.bit_length())))


def traffic_roof(all_cores: bool) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """The kernel with the same traffic as a step and no math, on one core or all (as the step ran: decided
    once, outside the timed call, which is the bare compiled kernel)."""
    return _traffic_roof_parallel if all_cores else traffic_roof_serial


# ---------------------------------------------------------------- the arithmetic roof


def _l1_bytes() -> int:
    """The L1 data cache of one core (Linux sysfs), 32 KiB if it cannot be read."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(base)):
            with open(os.path.join(base, index, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(base, index, "type")) as f:
                kind = f.read().strip()
            if level == "1" and kind in ("Data", "Unified"):
                with open(os.path.join(base, index, "size")) as f:
                    text = f.read().strip().upper()
                return int(text.rstrip("K")) * 1024 if text.endswith("K") else int(text)
    except (OSError, ValueError):
        pass
    return 32 * 1024


def l1_sizes(dtype: str, l1_bytes: int | None = None) -> list[int]:
    """Five element counts whose three arrays fit in 3/4 of L1 (the rest for the interpreter's own data),
    evenly spaced from n_max/5 to n_max: the wider the span, the surer the slope.

    >>> l1_sizes("float32", 32 * 1024), l1_sizes("float64", 32 * 1024)
    ([409, 819, 1228, 1638, 2048], [204, 409, 614, 819, 1024])
    """
    n_max = (l1_bytes or _l1_bytes()) * 3 // 4 // (3 * np.dtype(dtype).itemsize)
    return [n_max * k // 5 for k in range(1, 6)]


def fit_per_element(sizes: list[int], seconds: list[float]) -> tuple[float, float]:
    """Least squares ``seconds = a + b·n``: returns ``(a, b)``, the per-call and per-element times.

    >>> a, b = fit_per_element([100, 200, 400], [1e-6 + 100e-9, 1e-6 + 200e-9, 1e-6 + 400e-9])
    >>> round(a * 1e6, 6), round(b * 1e9, 6)
    (1.0, 1.0)
    """
    b, a = np.polyfit(np.asarray(sizes, float), np.asarray(seconds, float), 1)
    return float(a), float(b)


def _step_on(n: int, dtype: str, seed: int, parallel: bool) -> Callable[[], None]:
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    G = np.full(n, G0, dtype)
    return lambda: adagrad_step_inplace(p, g, G, LR, EPS, parallel=parallel)


def _time_sizes(
    dtype: str, sizes: list[int], repeats: int, min_seconds: float, seed: int, parallel: bool = False
) -> list[float]:
    """Seconds per public call from Python (``adagrad_step_inplace``, on one core or all) at each size, the
    sizes interleaved: the *fastest* of the repeats (other processes only ever add time); for the fixed
    cost of a call only, which the report shows beside the roof."""
    steps = [_step_on(n, dtype, seed + i, parallel) for i, n in enumerate(sizes)]
    calls = []
    for step in steps:
        step()  # compile or load, and bring the arrays into L1
        t = time.perf_counter()
        for _ in range(100):
            step()
        calls.append(max(100, int(min_seconds / max((time.perf_counter() - t) / 100, 1e-9))))
    samples: list[list[float]] = [[] for _ in sizes]
    for _ in range(repeats):
        for i, (step, k) in enumerate(zip(steps, calls, strict=True)):
            t = time.perf_counter()
            for _ in range(k):
                step()
            samples[i].append((time.perf_counter() - t) / k)
    return [min(s) for s in samples]


@njit(error_model="numpy")
def _repeat(kernel, p, g, G, neg_lr, eps, k):
    """``kernel(p, g, G, -eta, eps)`` k times, with no Python between the calls (not cached: the cache's
    stamp would not see a change of the kernel it inlines)."""
    for _ in range(k):
        kernel(p, g, G, neg_lr, eps)


def _time_loop(
    dtype: str, sizes: list[int], repeats: int, min_seconds: float, seed: int, kernel: Callable = step_kernel
) -> list[float]:
    """Seconds per call of ``kernel`` from a compiled loop at each size, the sizes interleaved: the fastest
    of the repeats (as :func:`_time_sizes`)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype).type
    arrays = [
        (rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype), np.full(n, G0, dtype))
        for n in sizes
    ]
    neg_lr, eps = dt(-LR), dt(EPS)
    calls = []
    for p, g, G in arrays:
        _repeat(kernel, p, g, G, neg_lr, eps, 1)  # compile, and bring the arrays into L1
        t = time.perf_counter()
        _repeat(kernel, p, g, G, neg_lr, eps, 100)
        calls.append(max(100, int(min_seconds / max((time.perf_counter() - t) / 100, 1e-9))))
    samples: list[list[float]] = [[] for _ in sizes]
    for _ in range(repeats):
        for i, ((p, g, G), k) in enumerate(zip(arrays, calls, strict=True)):
            t = time.perf_counter()
            _repeat(kernel, p, g, G, neg_lr, eps, k)
            samples[i].append((time.perf_counter() - t) / k)
    return [min(s) for s in samples]


def _child_fit(
    barrier, results, index: int, dtype: str, sizes: list[int], repeats: int, min_seconds: float, kernel
):
    """In a process of its own: wait for the others, then fit the kernel on L1 data."""
    try:
        _time_loop(dtype, sizes, 1, min_seconds / 4, 100 * index, kernel)  # warm: compile, fault pages
        barrier.wait(timeout=300)
        seconds = _time_loop(dtype, sizes, repeats, min_seconds, 100 * index, kernel)
        results.put((index, fit_per_element(sizes, seconds)[1]))
    except Exception as e:  # reported by the parent, which then does not wait for this one
        results.put((index, f"{type(e).__name__}: {e}"))


def _all_cores(
    dtype: str, sizes: list[int], repeats: int, min_seconds: float, cores: int, kernel: Callable
) -> list[float]:
    """Per-element seconds of each of ``cores`` processes fitting at the same time."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with jax, torch or Numba threads
    barrier, results = ctx.Barrier(cores), ctx.Queue()
    procs = [
        ctx.Process(target=_child_fit, args=(barrier, results, i, dtype, sizes, repeats, min_seconds, kernel))
        for i in range(cores)
    ]
    for proc in procs:
        proc.start()
    try:
        got = dict(results.get(timeout=600) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=60)
    bad = [v for v in got.values() if isinstance(v, str)]
    if bad:
        raise RuntimeError(f"arithmetic roof: a measuring process failed: {bad[0]}")
    return [got[i] for i in range(cores)]


def arithmetic_roof(
    dtype: str,
    repeats: int = 7,
    min_seconds: float = 0.005,
    cores: int | None = None,
    kernel: Callable = step_kernel,
) -> dict:
    """Per-element seconds of the step's math on L1-resident data: one core alone, and all cores at once.

    Returns ``{"sizes", "loop_seconds", "per_element_s", "cores", "per_core_per_element_s",
    "all_cores_per_element_s", "seconds", "per_call_s", "parallel_per_call_s"}`` (the JSON the benchmark
    keeps): the slopes of ``kernel`` (the public call's kernel; a test passes another) called from a
    compiled loop, on every core at once (the round of :data:`ROUNDS` whose slowest core was fastest:
    one round's cores ran together) and on one core (the fastest of its fit alone and those); and the
    fixed cost of one public call from Python, on one core and on all cores, the intercepts of the same
    fit of ``adagrad_step_inplace`` (not part of the roof: it is what explains an efficiency below 1
    where arrays are small).
    """
    sizes = l1_sizes(dtype)
    loop_seconds = _time_loop(dtype, sizes, repeats, min_seconds, 7, kernel)
    _, b = fit_per_element(sizes, loop_seconds)
    cores = cores or os.cpu_count() or 1
    per_core = [b]
    if cores > 1:  # in one round one core can be another process's: the round whose slowest core was
        # fastest, kept whole (its cores ran together; cores of different rounds never did)
        rounds = [_all_cores(dtype, sizes, repeats, min_seconds, cores, kernel) for _ in range(ROUNDS)]
        per_core = min(rounds, key=max)
        # one core alone is no slower than a core beside busy others, and this process's own fit can
        # fall in another process's time too (0.35-0.42 ns per element in float32 against 0.275 in the
        # same minute, on the AMD EPYC): the fastest of them
        b = min(b, *per_core)
    if not all(x > 0 for x in [b, *per_core]):
        raise RuntimeError(f"arithmetic roof: a fitted slope is not positive ({b}, {per_core})")
    seconds = _time_sizes(dtype, sizes, repeats, min_seconds, seed=7)
    a, _ = fit_per_element(sizes, seconds)
    # The fixed cost of a call that runs on all cores (the hand-over to the other cores included): the
    # intercept of the same fit with parallel=True, each core's share L1-resident.
    par_sizes = [n * cores for n in sizes]
    par_a, _ = fit_per_element(par_sizes, _time_sizes(dtype, par_sizes, repeats, min_seconds, 11, True))
    return {
        "sizes": sizes,
        "loop_seconds": loop_seconds,
        "per_element_s": b,
        "cores": cores,
        "per_core_per_element_s": per_core,
        "all_cores_per_element_s": 1.0 / sum(1.0 / x for x in per_core),
        "seconds": seconds,
        "per_call_s": a,
        "parallel_per_call_s": par_a,
    }


def faster_fit(first: dict, second: dict) -> dict:
    """Two fits of :func:`arithmetic_roof` (a benchmark's, before and after its rows) as one, each part at its
    tighter: one core's slope the smaller; the all-cores slope with the per-core slopes of its round, from
    the fit whose all-cores slope is smaller (that round's cores ran together); each fixed cost of a call
    the smaller (the less it explains). The other fields are the kept round's fit's.

    >>> a = {"per_element_s": 1.5, "per_core_per_element_s": [2.0, 4.0], "all_cores_per_element_s": 4 / 3,
    ...      "per_call_s": 1.0, "parallel_per_call_s": 3.0}
    >>> b = {"per_element_s": 2.0, "per_core_per_element_s": [2.0, 2.0], "all_cores_per_element_s": 1.0,
    ...      "per_call_s": 2.0, "parallel_per_call_s": 2.5}
    >>> f = faster_fit(a, b)
    >>> [f[k] for k in ("per_element_s", "per_core_per_element_s", "all_cores_per_element_s")]
    [1.5, [2.0, 2.0], 1.0]
    >>> f["per_call_s"], f["parallel_per_call_s"]
    (1.0, 2.5)
    """
    kept = dict(min(first, second, key=lambda fit: fit["all_cores_per_element_s"]))
    for key in ("per_element_s", "per_call_s", "parallel_per_call_s"):
        kept[key] = min(first[key], second[key])
    return kept


def fixed_cost_seconds(roof: dict, all_cores: bool) -> float:
    """The measured fixed cost of one public call, on one core or on all."""
    return roof["parallel_per_call_s"] if all_cores else roof["per_call_s"]


def arithmetic_roof_seconds(roof: dict, n: int, all_cores: bool) -> float:
    """The arithmetic roof of one step of ``n`` elements on one core or all, as the step ran (see the module).

    >>> roof = {"per_element_s": 1e-9, "all_cores_per_element_s": 0.5e-9}
    >>> arithmetic_roof_seconds(roof, 1000, False), arithmetic_roof_seconds(roof, 10**6, True)
    (1e-06, 0.0005)
    """
    per = roof["all_cores_per_element_s"] if all_cores else roof["per_element_s"]
    return n * per
