"""How close is the reference to the real ``optax.adagrad``? Measured, in ULP.

Needs jax and optax (the dev requirements); ``python -m adagrad_ref optax-gaps``
prints the table docs/numerics.md quotes. Three comparisons per step, on random
pytrees whose values span six decades, a fifth of the gradients zero:

* ``ours`` against eager optax (each jax op its own XLA computation);
* jitted optax against eager optax, one step from the *same* state (so the
  jitted drift of the accumulator does not pile up);
* params after all steps: absolute gap against the bound
  ``sum_t UPDATE_ULP·ulp(u_t) + ulp(p_{t+1})`` (ULP on params means nothing
  near zero, where ``p + u`` cancels).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import optree

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.numerics.ulp import ulp_distance

__all__ = ["UPDATE_ULP", "measure", "param_tolerance_step", "random_tree"]

#: Bound on |updates - optax's updates| in ULP, for the same accumulator: XLA's
#: rsqrt is within 2 ULP of 1/sqrt rounded twice; two multiplies follow.
UPDATE_ULP = 4


def param_tolerance_step(u: np.ndarray, p_next: np.ndarray) -> np.ndarray:
    """What one step may add to |p_ours - p_optax|: the update's gap, plus one rounding of p + u."""
    return UPDATE_ULP * np.spacing(np.abs(u)) + np.spacing(np.abs(p_next))


def leaves(tree: Any) -> list[np.ndarray]:
    """The arrays of a pytree, dict keys sorted as jax sorts them, ``None`` leaves left out.

    >>> [x.tolist() for x in leaves({"b": [np.ones(1), None], "a": np.zeros(2)})]
    [[0.0, 0.0], [1.0]]
    """
    return [np.asarray(x) for x in optree.tree_leaves(tree) if x is not None]


def random_tree(rng: np.random.Generator, dtype: type, decades: float = 3.0, zero_frac: float = 0.0) -> dict:
    """A small model-shaped pytree (a None leaf included) of values 10**±decades."""

    def arr(*shape: int) -> np.ndarray:
        n = int(np.prod(shape))
        x = rng.standard_normal(n) * 10.0 ** rng.uniform(-decades, decades, n)
        x[rng.random(n) < zero_frac] = 0
        return x.astype(dtype).reshape(shape)

    return {"dense": {"w": arr(16, 8), "b": arr(8)}, "emb": [arr(5, 3), arr()], "none": None}


def measure(
    dtype: type, schedule: bool, initial_accumulator_value: float, steps: int = 25, seed: int = 0
) -> dict:
    """Run ours, eager optax and jitted optax side by side; return ULP histograms and the params check."""
    import jax
    import jax.numpy as jnp
    import optax

    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise RuntimeError("float64 needs jax.config.update('jax_enable_x64', True) before any jax array")
    rng = np.random.default_rng(seed)
    lrs = (0.5 * 0.9 ** np.arange(steps + 1)).astype(dtype)  # the same η_t on both sides
    iav = initial_accumulator_value
    ours = adagrad((lambda c: lrs[c]) if schedule else 0.3, initial_accumulator_value=iav)
    theirs = optax.adagrad(
        (lambda c: jnp.asarray(lrs)[c]) if schedule else 0.3, initial_accumulator_value=iav
    )
    jit_update = jax.jit(theirs.update)

    def to_jax(t):
        return jax.tree.map(jnp.asarray, t)

    hist = {k: Counter() for k in ("acc", "upd", "jit_acc", "jit_upd")}
    params = random_tree(rng, dtype)
    state, t_state = ours.init(params), theirs.init(to_jax(params))
    p_ours, p_theirs = params, to_jax(params)
    tol = [np.zeros(x.shape, np.float64) for x in leaves(params)]
    for step in range(steps):
        zero_frac = 1.0 if step == 3 else 0.2  # step 3: an all-zero gradient
        grads = random_tree(rng, dtype, zero_frac=zero_frac)
        j_updates, j_state = jit_update(to_jax(grads), t_state)
        t_updates, t_state = theirs.update(to_jax(grads), t_state)
        updates, state = ours.update(grads, state)
        pairs = {
            "acc": (state.sum_of_squares, t_state[0].sum_of_squares),
            "upd": (updates, t_updates),
            "jit_acc": (j_state[0].sum_of_squares, t_state[0].sum_of_squares),
            "jit_upd": (j_updates, t_updates),
        }
        for key, (a, b) in pairs.items():
            for x, y in zip(leaves(a), leaves(b), strict=True):
                hist[key].update(ulp_distance(x, y).astype(int).ravel().tolist())
        p_ours = apply_updates(p_ours, updates)
        p_theirs = optax.apply_updates(p_theirs, t_updates)
        for i, (u, p) in enumerate(zip(leaves(updates), leaves(p_ours), strict=True)):
            tol[i] = tol[i] + param_tolerance_step(u, p)
    worst = 0.0  # largest |gap| / bound over all params
    for a, b, t in zip(leaves(p_ours), leaves(p_theirs), tol, strict=True):
        gap = np.abs(a.astype(np.float64) - b.astype(np.float64))
        ratio = np.where(gap == 0, 0.0, gap / np.where(t > 0, t, np.inf))
        worst = max(worst, float(ratio.max()) if ratio.size else 0.0)
    return {
        "dtype": np.dtype(dtype).name,
        "schedule": schedule,
        "initial_accumulator_value": iav,
        "max": {k: max(h) for k, h in hist.items()},
        "hist": {k: dict(sorted(h.items())) for k, h in hist.items()},
        "params_gap_over_bound": worst,
    }


def report(steps: int = 25) -> str:
    """The table of docs/numerics.md: every configuration the tests check, with the ULP distribution."""
    import jax

    jax.config.update("jax_enable_x64", True)
    rows = [
        "| dtype | η | G₀ | acc vs eager optax | updates vs eager optax | jitted acc (1 step) "
        "| jitted updates (1 step) | params gap / bound |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def fmt(h: dict) -> str:
        total = sum(h.values())
        return ", ".join(f"{k}: {100 * v / total:.1f}%" for k, v in h.items())

    for dtype in (np.float32, np.float64):
        for schedule in (False, True):
            for iav in (0.1, 0.0):
                m = measure(dtype, schedule, iav, steps)
                h = m["hist"]
                rows.append(
                    f"| {m['dtype']} | {'schedule' if schedule else 'constant'} | {iav} | {fmt(h['acc'])} "
                    f"| {fmt(h['upd'])} | {fmt(h['jit_acc'])} | {fmt(h['jit_upd'])} "
                    f"| {m['params_gap_over_bound']:.3f} |"
                )
    return "\n".join(rows)
