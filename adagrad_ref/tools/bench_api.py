"""The benchmark's optax-shaped API case: ``solver.update`` then ``apply_updates`` on a model's pytree.

Measured by :func:`bench_api` (part of ``python -m adagrad_ref bench``): the Numba backend, on
model-shaped pytrees of 10 to 1,000 leaves (:func:`model_tree`), float32 and float64, against
jitted optax (the update and ``optax.apply_updates`` in one ``jax.jit``, with params and state
donated, and not), torch's fused Adagrad over the same tensors, and (at 200 leaves) the NumPy
backend. :func:`api_lines` and :func:`api_targets` are its table and its targets in the report.

**The API's own limit.** Its semantics fix its memory traffic: ``update`` reads g and G and writes
fresh u and G (4 N elements), ``apply_updates`` reads p and u and writes a fresh w (3 N): 7 N in
all, however it is computed (u is returned, so it is written, and read again by the second call).
Jitted optax fuses both into one pass over g, G, p (5 N, plus one read per fresh output line it
does not stream: up to 7 N); donated optax and torch's fused step work in place (5 N). So on a tree
too large for the caches the step can be no faster than the bytes of 7 N elements at the memory
bandwidth, and against a peer that moves 5 N at that bandwidth the speed-up is at most 5/7.
:func:`bench_api` measures that limit in the same interleaved run: the traffic roof
(:func:`adagrad_ref.tools.roofs.traffic_roof`, 5 N per call) over three flat arrays of the tree's
size, times 7/5 (:data:`API_TRAFFIC`).
"""

from __future__ import annotations

import gc
import statistics
import sys
from collections.abc import Callable
from functools import partial

import numpy as np

from adagrad_ref import Adagrad, apply_updates
from adagrad_ref.tools.roofs import EPS, G0, LR, traffic_roof
from adagrad_ref.tools.timing import measure_interleaved

__all__ = [
    "API_NAMES",
    "API_TARGET",
    "api_ceiling",
    "api_lines",
    "api_step",
    "api_targets",
    "bench_api",
    "fused_step",
    "model_shapes",
    "model_tree",
    "optax_tree_step",
    "torch_fused_step",
]

#: The optax-shaped API (update, then apply_updates) with the Numba backend against jitted optax.
API_TARGET = 1.5
#: Elements moved by update + apply_updates (7 N) over those moved by one call of the traffic roof (5 N).
API_TRAFFIC = 7 / 5
API_NAMES = {
    "numba_api": "**Numba backend**",
    "numba_step": "Numba `step`",
    "numba_step_donated": "Numba `step`, donated",
    "numpy_api": "NumPy backend",
    "optax_jit": "optax jitted",
    "optax_donated": "optax jitted, donated",
    "torch_fused": "torch Adagrad fused",
}


def model_shapes(leaves: int = 200, smallest: int = 10, largest: int = 10**6) -> list[int]:
    """Leaf sizes of a model-shaped pytree: log-spaced from ``smallest`` to ``largest``."""
    return [round(float(x)) for x in np.geomspace(smallest, largest, leaves)]


def model_tree(
    dtype: str, leaves: int, elements: int = 0, layout: str = "1-D", seed: int = 3
) -> tuple[dict, dict]:
    """``(params, grads)``: a model-shaped pytree of ``leaves`` arrays and about ``elements`` parameters
    in all (0: as many as :func:`model_shapes`' 200 leaves, 17.8 M), seeded. The leaf sizes are
    log-spaced as in :func:`model_shapes` and scaled to the total. ``layout``: ``"1-D"`` (every leaf
    flat, as the 200-leaf case the performance issues quote) or ``"2-D"`` (leaves of 4,096 elements or
    more are ``(k, 64)`` weight matrices, a few elements fewer; the others 1-D, as biases and norms:
    jitted optax is much faster on these, so both are measured). Keys sort in leaf order."""
    base = model_shapes(leaves)
    total = elements or sum(model_shapes())
    sizes = [max(1, round(n * total / sum(base))) for n in base]
    rng = np.random.default_rng(seed)
    params, grads = {}, {}
    for i, n in enumerate(sizes):
        shape = (n // 64, 64) if layout == "2-D" and n >= 4096 else (n,)
        params[f"layer{i:04d}"] = rng.standard_normal(shape).astype(dtype)
        grads[f"layer{i:04d}"] = rng.standard_normal(shape).astype(dtype)
    return params, grads


def api_step(params: dict, grads: dict, backend: str) -> Callable[[], None]:
    """The optax-shaped API as users call it: ``update`` then ``apply_updates``, fresh trees each step."""
    solver = Adagrad(LR, G0, EPS, backend=backend)
    box = {"p": params, "s": solver.init(params)}

    def step() -> None:
        updates, box["s"] = solver.update(grads, box["s"])
        box["p"] = apply_updates(box["p"], updates)

    return step


def fused_step(params: dict, grads: dict, donate: bool) -> Callable[[], None]:
    """``solver.step(params, grads, state)`` (the Numba backend's fused update and ``apply_updates``), on
    a copy of the params; ``donate``: written in place (``donate=True``)."""
    solver = Adagrad(LR, G0, EPS, backend="numba")
    p = {k: v.copy() for k, v in params.items()}
    box = {"p": p, "s": solver.init(p)}

    def step() -> None:
        box["p"], box["s"] = solver.step(box["p"], grads, box["s"], donate=donate)

    return step


def _own_pool(step: Callable[[], None]) -> Callable[[], None]:
    """``step`` with an output pool of its own (:data:`adagrad_ref.fast.tree.POOL` swapped in for each
    call): two Numba rows interleaved would otherwise take each other's pooled buffers (more than
    :attr:`~adagrad_ref.fast.tree.BufferPool.PER_SIZE` live at once), and a user runs one of them."""
    from adagrad_ref.fast import tree

    pool = tree.BufferPool()

    def run() -> None:
        saved, tree.POOL = tree.POOL, pool
        try:
            step()
        finally:
            tree.POOL = saved

    return run


def optax_tree_step(params: dict, grads: dict, donate: bool) -> Callable[[], None]:
    """Jitted optax.adagrad and optax.apply_updates in one jitted step; params and state donated or not."""
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.adagrad(LR, G0, EPS)

    def step_fn(p, s, g):
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s

    jitted = jax.jit(step_fn, donate_argnums=(0, 1) if donate else ())
    p = jax.tree.map(lambda a: jnp.array(a, copy=True), params)
    box = {"p": p, "s": opt.init(p), "g": jax.tree.map(jnp.asarray, grads)}

    def step() -> None:
        box["p"], box["s"] = jitted(box["p"], box["s"], box["g"])
        jax.block_until_ready(box["p"])

    return step


def bench_api(
    cases: list[tuple[str, int, str]],
    elements: int,
    repeats: int,
    min_seconds: float,
    torch_ok: bool,
    jax_ok: bool,
    progress: bool,
) -> list[dict]:
    """The optax-shaped API (``solver.update`` then ``apply_updates``) on model-shaped pytrees, the Numba
    backend (and its ``solver.step``, fresh and donated) against jitted optax (params and state donated,
    and not), torch's fused Adagrad over the same tensors and, at 200 leaves, the NumPy backend: one row
    per case, the median seconds per step.

    Each implementation steps its own copy of the tree, interleaved (the NumPy backend's rows before
    the others, alone: its ``apply_updates`` would share the Numba path's output pool; the Numba
    backend runs its one-core/all-cores trials before it is timed); after a case the output pool of
    the Numba backend is cleared (:data:`adagrad_ref.fast.tree.POOL`), so that a case starts as a user's
    first steps do. The Numba rows' one core or all cores is chosen by its own measurement
    (:class:`adagrad_ref.fast.tree.Dispatch`); what it chose is recorded."""
    from tqdm import tqdm

    from adagrad_ref.fast import tree

    rows = []
    total, quiet = len(cases) * repeats, not progress
    with tqdm(total=total, desc="optax-shaped API", unit="repeat", disable=quiet, file=sys.stderr) as bar:
        for dtype, leaves, layout in cases:
            gc.collect()
            params, grads = model_tree(dtype, leaves, elements, layout)
            bar.set_postfix_str(f"{dtype} {leaves} leaves {layout}")
            samples: dict[str, list[float]] = {}
            if leaves == 200:  # alone: its params would share the output pool with the Numba backend's
                numpy_step = {"numpy_api": api_step(params, grads, "numpy")}
                samples.update(measure_interleaved(numpy_step, repeats, min_seconds))
                del numpy_step
                tree.POOL.clear()
            steps: dict[str, Callable[[], None]] = {
                "numba_api": api_step(params, grads, "numba"),
                "numba_step": _own_pool(fused_step(params, grads, donate=False)),
                "numba_step_donated": fused_step(params, grads, donate=True),
            }
            for _ in range(1 + tree.Dispatch.TRIALS):  # their one-core/all-cores trials, before the clock
                for step in steps.values():
                    step()
            n = sum(v.size for v in params.values())
            roof_arrays = [np.ones(n, dtype) for _ in range(3)]  # p, g, G: 5 N per call, no math
            steps["traffic_roof"] = partial(traffic_roof(True), *roof_arrays)
            if jax_ok:
                steps["optax_jit"] = optax_tree_step(params, grads, donate=False)
                steps["optax_donated"] = optax_tree_step(params, grads, donate=True)
            if torch_ok:
                copies = [v.copy() for v in params.values()]
                steps["torch_fused"] = torch_fused_step(copies, list(grads.values()))
            samples = {
                **measure_interleaved(steps, repeats, min_seconds, tick=lambda: bar.update(1)),
                **samples,
            }
            rows.append(
                {
                    "dtype": dtype,
                    "leaves": leaves,
                    "layout": layout,
                    "elements": int(n),
                    "smallest": int(min(v.size for v in params.values())),
                    "largest": int(max(v.size for v in params.values())),
                    "seconds": {k: statistics.median(v) for k, v in samples.items()},
                    # 7 N bytes (update + apply_updates) at the bandwidth the roof reached (see the module)
                    "traffic_limit_s": statistics.median(samples["traffic_roof"]) * API_TRAFFIC,
                    "samples": samples,
                    "numba_all_cores": tree.choices(),
                }
            )
            del steps, roof_arrays
            tree.POOL.clear()
            tree.DISPATCH.force(None)  # forget this case's measurements
    return rows


def torch_fused_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Callable[[], None]:
    """torch.optim.Adagrad(fused=True) over these tensors (sharing the arrays' memory)."""
    import torch

    tensors = [torch.nn.Parameter(torch.from_numpy(p)) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.from_numpy(g)
    return torch.optim.Adagrad(tensors, lr=LR, initial_accumulator_value=G0, eps=EPS, fused=True).step


# ---------------------------------------------------------------- in the report


def api_lines(result: dict) -> list[str]:
    """The optax-shaped API on model-shaped pytrees: ms per step (``update`` then ``apply_updates``;
    optax's both in one jitted step; torch's ``step()``), and each peer's time over the Numba backend's."""
    cases = result.get("api") or []
    if not cases:
        return []
    impls = [k for k in API_NAMES if any(k in c["seconds"] for c in cases)]
    limit = all("traffic_limit_s" in c for c in cases)
    ceiling = limit and all("optax_jit" in c["seconds"] for c in cases)
    lines = [
        "**The optax-shaped API** (`solver.update(grads, state)` then `apply_updates(params, updates)`) on "
        "model-shaped pytrees, ms per step, and in brackets the time over the Numba backend's "
        "(above 1: the Numba backend is faster). optax: `update` and `apply_updates` in one `jax.jit`; "
        "torch: `torch.optim.Adagrad(fused=True).step()` on the same tensors. `step`: "
        "`solver.step(params, grads, state)`, the two calls fused (the same bits, 5 N), and `donate=True`."
        + (
            " *Limit*: the API's own traffic (7 N elements: fresh updates, state and params) at the memory "
            "bandwidth measured in the same run, and in brackets the limit over the Numba backend's time "
            "(1: at the limit). Peers that work in place, or fuse both calls, move 5 N."
            if limit
            else ""
        )
        + (
            " *Ceiling*: optax jitted's time over the limit, the largest speed-up over it the two calls "
            f"could reach at the bandwidth measured in this run (below {API_TARGET}: their target is out of "
            "reach there; `step`, 5 N, could reach 7/5 of it)."
            if ceiling
            else ""
        ),
        "",
        "| tree | "
        + ("limit | " if limit else "")
        + ("ceiling | " if ceiling else "")
        + " | ".join(API_NAMES[k] for k in impls)
        + " |",
        "|---|" + "---|" * (len(impls) + limit + ceiling),
    ]
    for c in cases:
        s = c["seconds"]
        cells = [
            "—"
            if k not in s
            else f"{s[k] * 1e3:,.1f}" + ("" if k == "numba_api" else f" ({s[k] / s['numba_api']:.2f}×)")
            for k in impls
        ]
        if ceiling:
            cells.insert(0, f"{api_ceiling(c):.2f}×")
        if limit:
            cells.insert(
                0, f"{c['traffic_limit_s'] * 1e3:,.1f} ({c['traffic_limit_s'] / s['numba_api']:.2f})"
            )
        tree = f"{c['leaves']:,} leaves ({c.get('layout', '1-D')}), {c['elements']:,} {c['dtype']}"
        tree += f" ({c['smallest']:,} to {c['largest']:,})"
        lines.append(f"| {tree} | " + " | ".join(cells) + " |")
    return lines


def api_ceiling(case: dict) -> float:
    """The largest speed-up over jitted optax the two calls could have in this case's run: optax's time over
    the API's own traffic limit (7 N elements at the bandwidth the run's traffic roof reached). Where optax
    runs near the bandwidth (it moves 5 N), it is below :data:`API_TARGET`, whatever the implementation.

    >>> api_ceiling({"seconds": {"optax_jit": 0.015}, "traffic_limit_s": 0.010})
    1.5
    """
    return case["seconds"]["optax_jit"] / case["traffic_limit_s"]


def api_targets(result: dict) -> list[tuple[str, str, int, float, float]]:
    """``(target, where, elements, measured, bound)`` of every API case: the Numba backend's speed-up
    over jitted optax (>= :data:`API_TARGET`) and over donated optax (>= 1: ahead of it), for the two
    calls (``update`` then ``apply_updates``), for ``solver.step`` and for ``solver.step(donate=True)``."""
    rows = []
    ours = (
        ("numba_api", "optax-shaped API, Numba backend", (("optax_jit", API_TARGET), ("optax_donated", 1.0))),
        ("numba_step", "solver.step, Numba backend", (("optax_jit", API_TARGET), ("optax_donated", 1.0))),
        ("numba_step_donated", "solver.step(donate=True), Numba backend", (("optax_donated", 1.0),)),
    )
    for case in result.get("api") or []:
        s = case["seconds"]
        where = f"{case['dtype']} {case['leaves']} leaves {case.get('layout', '1-D')}"
        for mine, name, peers in ours:
            for peer, bound in peers:
                if mine in s and peer in s:
                    target = f"{name}: speed-up over {API_NAMES[peer]} >= {bound}"
                    rows.append((target, where, case["elements"], s[peer] / s[mine], bound))
    return rows
