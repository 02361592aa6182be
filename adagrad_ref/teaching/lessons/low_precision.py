"""Adagrad in bfloat16: the accumulator stops growing.

``G`` only grows: ``G_t = G_{t-1} + g_t²``. In a format with ``p`` bits of precision, ``G + g²``
rounds back to ``G`` exactly when ``g²`` is below half an ULP of ``G`` (at exactly half, when ``G`` is
the even neighbour of the tie), and half an ULP of ``G`` lies in ``(G·2^-(p+1), G·2^-p]``: for bfloat16
(``p = 8``) in ``(G/512, G/256]``. So a bfloat16 ``G`` certainly stops once ``g² < G/512`` and never
while ``g² > G/256``. With ``g = 1`` a bfloat16 accumulator starting at 0.1 reaches
256 and stays there (256 + 1 is a tie between 256 and 258: even is 256); float16 (``p = 11``) stops at
2048, float32 only at 2**24. From then on the effective rate ``η/√G`` stops falling for ``g = 1``;
for noisy ``g`` the bfloat16 ``G`` still grows, ever more slowly than float32's, so the rate falls
ever more slowly.

Everything here is computed with the reference (:func:`adagrad_ref.adagrad`), whose bfloat16 is
optax's to the bit (``tests/numerics/test_low_precision_optax.py``).
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.reference import adagrad

__all__ = ["accumulator_runs", "fig_bf16_accumulator", "stalls"]


def _dtypes() -> dict[str, np.dtype]:
    import ml_dtypes  # bfloat16's NumPy type (installed with jax; requirements.txt pins it)

    return {
        "float32": np.dtype(np.float32),
        "float16": np.dtype(np.float16),
        "bfloat16": np.dtype(ml_dtypes.bfloat16),
    }


def _accumulators(grads: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """G after every step (float64 copy), the reference's update with G0 = 0.1 (optax's default)."""
    opt = adagrad(0.1)
    g = grads.astype(dtype)
    state = opt.init(g[0])
    out = np.empty(len(g))
    for t in range(len(g)):
        _, state = opt.update(g[t], state)
        out[t] = float(np.asarray(state.sum_of_squares).astype(np.float64))
    return out


@functools.cache
def accumulator_runs(steps: int = 3000, seed: int = 0) -> dict:
    """G per step in each dtype, for g = 1 and for g ~ N(0, 1) (the same draws for every dtype)."""
    noisy = np.random.default_rng(seed).standard_normal(steps)
    dtypes = _dtypes()
    return {
        kind: {name: _accumulators(g, dt) for name, dt in dtypes.items()}
        for kind, g in (("ones", np.ones(steps)), ("normal", noisy))
    } | {"normal_grads": noisy.astype(dtypes["bfloat16"]).astype(np.float64)}


def stalls(steps: int = 3000) -> dict:
    """Measured: where G stops with g = 1, and, in the noisy run, the bfloat16 G against float32's."""
    runs = accumulator_runs(steps)
    out = {}
    for name in ("bfloat16", "float16"):
        G = runs["ones"][name]
        final = G[-1]
        out[f"{name} stops at"] = final
        out[f"{name} stops at step"] = int(np.argmax(G == final)) + 1
    normal = runs["normal"]
    out["bfloat16 / float32 G, noisy, end"] = normal["bfloat16"][-1] / normal["float32"][-1]
    out["noisy steps where bfloat16 G did not change"] = int(np.sum(np.diff(normal["bfloat16"]) == 0))
    return out


def fig_bf16_accumulator(path: str | None = None):
    """Two panels: G against the step for g = 1 and for g ~ N(0, 1), float32, float16 and bfloat16."""
    runs = accumulator_runs()
    s = stalls()
    colors = {"float32": "tab:blue", "float16": "tab:green", "bfloat16": "tab:red"}
    from adagrad_ref.teaching import plots

    with plt.rc_context(plots.STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        t = np.arange(1, len(runs["ones"]["float32"]) + 1)
        ax = axes[0]
        for name, G in runs["ones"].items():
            ax.loglog(t, G, color=colors[name], label=f"G in {name}")
        for name in ("bfloat16", "float16"):
            stop, step = s[f"{name} stops at"], s[f"{name} stops at step"]
            ax.axhline(
                stop, color=colors[name], linestyle=":", label=f"{name} stops at {stop:g} (step {step})"
            )
        ax.set_title("g = 1 every step: G + 1 rounds back to G")
        ax.set_xlabel("step t (log)")
        ax.set_ylabel("accumulator G = 0.1 + Σ g² (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left")
        ax = axes[1]
        for name, G in runs["normal"].items():
            if name in colors:
                ax.loglog(t, G, color=colors[name], label=f"G in {name}")
        ratio = s["bfloat16 / float32 G, noisy, end"]
        frozen = s["noisy steps where bfloat16 G did not change"]
        ax.set_title(
            f"g ~ N(0, 1): bfloat16's G ends at {ratio:.2f}× float32's;\n"
            f"it did not change at {frozen} of the {len(t) - 1} steps after the first"
        )
        ax.set_xlabel("step t (log)")
        ax.set_ylabel("accumulator G (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left")
        fig.suptitle(
            "A bfloat16 accumulator stops growing once g² is below half an ULP of G, in (G/512, G/256]"
        )
        return plots.save(fig, path)


FIGURES = {"bf16_accumulator.png": fig_bf16_accumulator}
