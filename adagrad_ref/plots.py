"""Figures, drawn with matplotlib only (the Agg backend: no screen needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

__all__ = ["plot_benchmark"]

_STYLE = {
    "roofline": dict(color="black", linestyle="--", linewidth=2.5, label="roofline (same traffic, no math)"),
    "roofline_serial": dict(color="gray", linestyle=":", linewidth=1.5, label="roofline, one core"),
    "numba": dict(color="tab:red", linewidth=2.5, marker="o", label="Numba core (adagrad_step_inplace)"),
    "numba_serial": dict(color="tab:red", linestyle=":", marker=".", label="Numba core, one core"),
    "numpy_inplace": dict(color="tab:blue", marker="s", label="NumPy in place, preallocated"),
    "numpy_class": dict(color="tab:cyan", marker="s", label="NumPy class (update + apply_updates)"),
    "torch_foreach": dict(color="tab:orange", linestyle=":", marker="^", label="torch Adagrad foreach"),
    "torch_fused": dict(color="tab:orange", marker="^", label="torch Adagrad fused"),
    "optax_jit": dict(color="tab:green", marker="D", label="optax.adagrad jitted, donated"),
}


def plot_benchmark(result: dict, path: str) -> None:
    """Time per element against size, log-log, one panel per dtype, the roofline drawn."""
    dtypes = [d for d in result["config"]["dtypes"] if any(r["dtype"] == d for r in result["dense"])]
    fig, axes = plt.subplots(1, len(dtypes), figsize=(7 * len(dtypes), 6.5), squeeze=False, sharey=True)
    for ax, dtype in zip(axes[0], dtypes, strict=True):
        for impl, style in _STYLE.items():
            rows = sorted(
                (r["n"], r["seconds"] / r["n"])
                for r in result["dense"]
                if r["dtype"] == dtype and r["impl"] == impl
            )
            if rows:
                ns, per = zip(*rows, strict=True)
                ax.plot(ns, [p * 1e9 for p in per], **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("elements per array, n")
        ax.set_title(f"One Adagrad step, {dtype}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("time per element (ns), lower is better")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=10, frameon=False)
    m = result["machine"]
    fig.suptitle(
        f"{m['cpu']}, {m['cores']} cores; median of {result['config']['repeats']} interleaved repeats",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=120)
    if path.endswith(".png"):
        fig.savefig(path[:-4] + ".svg")
    plt.close(fig)
