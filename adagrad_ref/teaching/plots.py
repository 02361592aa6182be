"""Figures, drawn with matplotlib only: the benchmark's, the teaching figures' shared style, and
``python -m adagrad_ref figures``, which writes them all.

Each teaching figure is a function in its lesson module (``adagrad_ref.teaching.lessons.<stem>``),
listed in that module's ``FIGURES``; :data:`FIGURES` gathers them all, in the course's order.
Headless (no display), matplotlib draws with its Agg backend by itself; in a notebook the figures
show inline.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.state.atomic import replace_file

# The figures' style, applied inside each figure function only (importing this module changes no
# global matplotlib setting). The fixed SVG salt makes a redrawn SVG file identical.
STYLE = {"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10, "svg.hashsalt": "adagrad_ref"}


def styled(fn):
    """Draw ``fn``'s figure in the figures' style (applied inside the call only)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


__all__ = [
    "COORD_COLORS",
    "FIGURES",  # noqa: F822 (computed on use, by __getattr__)
    "STYLE",
    "contours",
    "dress",
    "plot_benchmark",
    "save",
    "styled",
    "write_figures",
]

_STYLE = {
    "roofline": dict(color="black", linestyle="--", linewidth=2.5, label="traffic roof (no math)"),
    "roofline_serial": dict(color="gray", linestyle=":", linewidth=1.5, label="traffic roof, one core"),
    "numba": dict(color="tab:red", linewidth=2.5, marker="o", label="Numba core (adagrad_step_inplace)"),
    "numba_serial": dict(color="tab:red", linestyle=":", marker=".", label="Numba core, one core"),
    "numpy_class": dict(color="tab:cyan", marker="s", label="NumPy class (update + apply_updates)"),
    "torch_foreach": dict(color="tab:orange", linestyle=":", marker="^", label="torch Adagrad foreach"),
    "torch_fused": dict(color="tab:orange", marker="^", label="torch Adagrad fused"),
    "optax_jit": dict(color="tab:green", marker="D", label="optax.adagrad jitted, donated"),
}


_API_STYLE = {
    "numba_api": ("Numba backend", "tab:blue"),
    "numba_step": ("Numba backend, solver.step", "navy"),
    "numba_step_donated": ("Numba backend, step(donate=True)", "tab:purple"),
    "numpy_api": ("NumPy backend", "tab:gray"),
    "optax_jit": ("optax jitted", "tab:green"),
    "optax_donated": ("optax jitted, donated", "tab:olive"),
    "torch_fused": ("torch Adagrad fused", "tab:red"),
}


def _plot_api(ax, cases: list[dict]) -> None:
    """The optax-shaped API on model-shaped pytrees: ms per step, one group of bars per tree."""
    impls = [k for k in _API_STYLE if any(k in c["seconds"] for c in cases)]
    width = 0.8 / len(impls)
    for j, impl in enumerate(impls):
        xs = [i + j * width for i, c in enumerate(cases) if impl in c["seconds"]]
        ms = [c["seconds"][impl] * 1e3 for c in cases if impl in c["seconds"]]
        label, color = _API_STYLE[impl]
        ax.bar(xs, ms, width, label=label, color=color)
    limits = [(i, c["traffic_limit_s"] * 1e3) for i, c in enumerate(cases) if "traffic_limit_s" in c]
    for k, (i, ms_) in enumerate(limits):  # the floor of the Numba backend's 7 N of traffic
        ax.hlines(ms_, i - width / 2, i + width / 2, colors="black", linewidth=2,
                  label="its traffic limit (7 N at the measured bandwidth)" if k == 0 else None)  # fmt: skip
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(cases))])
    ax.set_xticklabels(
        [
            f"{c['leaves']} leaves\n{c.get('layout', '1-D')}, {c['dtype']}\n{c['elements'] / 1e6:.1f} M"
            for c in cases
        ],
        fontsize=9,
    )
    ax.set_ylabel("ms per step (update + apply_updates, or step), lower is better")
    ax.set_title("The optax-shaped API on a model's pytree")
    ax.grid(True, axis="y", alpha=0.3)
    tallest = max(v * 1e3 for c in cases for k, v in c["seconds"].items() if k in _API_STYLE)
    ax.set_ylim(0, tallest * 1.45)  # room above the bars for the legend
    ax.legend(fontsize=9, ncol=2, loc="upper right")


@styled
def plot_benchmark(result: dict, path: str) -> None:
    """Time per element against size, log-log, one panel per dtype, the traffic roof and the limit drawn."""
    dtypes = [d for d in result["config"]["dtypes"] if any(r["dtype"] == d for r in result["dense"])]
    api = result.get("api") or []
    panels = len(dtypes) + (1 if api else 0)
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 6.5), squeeze=False)
    for ax in axes[0][1 : len(dtypes)]:
        ax.sharey(axes[0][0])  # the dtypes' panels on one scale
    if api:
        _plot_api(axes[0][-1], api)
    for ax, dtype in zip(axes[0][: len(dtypes)], dtypes, strict=True):
        for impl, style in _STYLE.items():
            rows = sorted(
                (r["n"], r["seconds"] / r["n"])
                for r in result["dense"]
                if r["dtype"] == dtype and r["impl"] == impl
            )
            if rows:
                ns, per = zip(*rows, strict=True)
                ax.plot(ns, [p * 1e9 for p in per], **style)
        limits = sorted(
            (r["n"], r["limit_s"] / r["n"]) for r in result.get("limits", []) if r["dtype"] == dtype
        )
        if limits:  # the larger of the two roofs, size by size (tools/bench_report.limits)
            ns, per = zip(*limits, strict=True)
            label = "limit: the larger of the traffic and arithmetic roofs"
            ax.plot(ns, [p * 1e9 for p in per], color="black", lw=6, alpha=0.2, label=label)
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
    savefig(fig, path, dpi=120)
    if path.endswith(".png"):
        savefig(fig, path[:-4] + ".svg", metadata={"Date": None})  # no timestamp: redrawing changes nothing
    plt.close(fig)


# ---------------------------------------------------------------- the teaching figures' shared style
# Each title states a lesson; its numbers come from its lesson module's claims, which the tests assert.

#: The floor of every loss axis: below about 1e-16 a float64 loss is rounding, not a lesson.
LOSS_FLOOR = 1e-16

COORD_COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple"]


def savefig(fig, path: str, **options) -> None:
    """``fig.savefig(path, **options)``, written atomically (a failure or Ctrl-C leaves the old file)."""
    import os

    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    replace_file(path, lambda f: fig.savefig(f, format=fmt, **options), "cannot write the figure")


def dress(ax, title: str, xlabel: str, ylabel: str, **legend: object) -> None:
    """Title, axis labels, a light grid and the legend: what every teaching figure's axes carry."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(**legend)


def save(fig, path: str | None):
    fig.tight_layout()
    if path:
        savefig(fig, path, dpi=110)
    return fig


def contours(ax, q, lim=(-5.5, 1.5, -3, 3)):
    x = np.linspace(lim[0], lim[1], 200)
    y = np.linspace(lim[2], lim[3], 200)
    X, Y = np.meshgrid(x, y)
    P = np.stack([X - q.w_star[0], Y - q.w_star[1]], axis=-1)
    Z = 0.5 * np.einsum("...i,ij,...j->...", P, q.A, P)
    ax.contour(X, Y, Z, levels=np.geomspace(0.01, max(Z.max(), 0.02), 14), colors="0.75", linewidths=0.8)
    ax.set_xlim(lim[0], lim[1])
    ax.set_ylim(lim[2], lim[3])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def _figures() -> dict:
    from adagrad_ref.teaching import lessons

    out: dict = {}
    for module in lessons.modules():
        out.update(getattr(module, "FIGURES", {}))
    return out


def __getattr__(name: str):
    if name == "FIGURES":  # computed on use: the lesson modules import this module's helpers
        return _figures()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_figures(out_dir: str, progress=print) -> list[str]:
    """Write every figure into ``out_dir`` (PNG), and the benchmark's from ``out_dir/bench.json`` if it is
    there; say what was skipped and why."""
    import os
    import time

    os.makedirs(out_dir, exist_ok=True)
    written = []
    figures = _figures()
    names = list(figures)
    for i, name in enumerate(names, 1):
        t = time.perf_counter()
        path = os.path.join(out_dir, name)
        fig = figures[name](path)
        plt.close(fig)
        written.append(path)
        progress(f"[{i}/{len(names)}] {path} ({time.perf_counter() - t:.1f} s)")
    bench_json = os.path.join(out_dir, "bench.json")
    bench_png = os.path.join(out_dir, "bench.png")
    if os.path.exists(bench_json):
        import json

        with open(bench_json) as f:
            plot_benchmark(json.load(f), bench_png)
        written.append(bench_png)
        progress(f"[+] {bench_png} (redrawn from {bench_json})")
    else:
        progress(f"[skipped] {bench_png}: no {bench_json} (python -m adagrad_ref bench writes it)")
    return written
