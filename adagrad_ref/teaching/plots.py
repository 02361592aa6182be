"""Figures, drawn with matplotlib only; one function per figure, each returning its Figure.

Headless (no display), matplotlib draws with its Agg backend by itself; in a
notebook the figures show inline. ``python -m adagrad_ref figures`` writes them all.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.reference import adagrad

# The figures' style, applied inside each figure function only (importing this module changes no
# global matplotlib setting). The fixed SVG salt makes a redrawn SVG file identical.
_RC = {"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10, "svg.hashsalt": "adagrad_ref"}


def _styled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(_RC):
            return fn(*args, **kwargs)

    return wrapper


__all__ = ["FIGURES", "plot_benchmark", "write_figures"]

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


@_styled
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
        fig.savefig(path[:-4] + ".svg", metadata={"Date": None})  # no timestamp: redrawing changes nothing
    plt.close(fig)


# ---------------------------------------------------------------- teaching figures

_COORD = ["tab:blue", "tab:red", "tab:green", "tab:purple"]


def _dress(ax, title: str, xlabel: str, ylabel: str, **legend: object) -> None:
    """Title, axis labels, a light grid and the legend: what every teaching figure's axes carry."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(**legend)


def _save(fig, path: str | None):
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


@_styled
def fig_effective_lr(path: str | None = None, steps: int = 10_000):
    """Effective learning rate per coordinate, log-log, with the 1/sqrt(t) law beside it:
    exact gradients (the decay stops) and noisy gradients (the decay goes on)."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad

    q = Quadratic.textbook()
    runs = [
        (
            "exact gradients: the accumulator levels off, the decay stops",
            run_adagrad(q, [-5, -2], 0.4, steps),
        ),
        (
            "noisy gradients (σ = 1): G grows like t, the rate falls like 1/√t",
            run_adagrad(q, [-5, -2], 0.4, steps, noise=1.0),
        ),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    t = np.arange(1, steps + 1)
    for ax, (title, tr) in zip(axes, runs, strict=True):
        for i in range(2):
            ax.loglog(
                t,
                tr.effective_lr[:, i],
                color=_COORD[i],
                label=f"η/√(G+ε), coordinate x{i + 1} (λ = {q.eigenvalues[i]:g})",
            )
        ax.loglog(t, 0.4 / np.sqrt(t), "k--", label="η/√t (the textbook law)")
        _dress(ax, title, "step t", "effective learning rate", loc="lower left")
    fig.suptitle("Adagrad's effective learning rate on f = 0.1·x1² + 2·x2², η = 0.4")
    return _save(fig, path)


@_styled
def fig_accumulator(path: str | None = None, steps: int = 200):
    """The accumulator per coordinate: the high-curvature coordinate accumulates fastest."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad

    q = Quadratic.make([0.2, 4.0])
    tr = run_adagrad(q, [-5, -2], 0.4, steps)
    fig, ax = plt.subplots(figsize=(8, 5))
    for i in range(2):
        ax.semilogy(
            tr.sum_of_squares[:, i],
            color=_COORD[i],
            label=f"G for x{i + 1} (curvature λ = {q.eigenvalues[i]:g})",
        )
    title = "The preconditioning picture: steep coordinates accumulate fast, then level off"
    _dress(ax, title, "step t", "accumulator G = 0.1 + Σ g² (log)")
    return _save(fig, path)


@_styled
def fig_implicit_vs_explicit(path: str | None = None, steps: int = 300):
    """Loss against step: Adagrad, plain gradient descent, gradient descent with η/sqrt(t+1)."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_gd

    q = Quadratic.textbook()
    runs = [
        run_adagrad(q, [-5, -2], 0.4, steps, label="Adagrad, η = 0.4 (implicit, per-coordinate decay)"),
        run_gd(q, [-5, -2], 0.4, steps, label="gradient descent, η = 0.4"),
        run_gd(
            q,
            [-5, -2],
            lambda t: 0.4 / np.sqrt(t + 1),
            steps,
            label="gradient descent, η = 0.4/√(t+1) (explicit decay)",
        ),
    ]
    fig, ax = plt.subplots(figsize=(8, 5))
    for tr, style in zip(runs, ["-", "--", ":"], strict=True):
        ax.semilogy(tr.loss, style, linewidth=2, label=tr.label)
    _dress(
        ax, "Implicit versus explicit learning-rate decay on f = 0.1·x1² + 2·x2²", "step t", "loss f(w) (log)"
    )
    return _save(fig, path)


def _contours(ax, q, lim=(-5.5, 1.5, -3, 3)):
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


@_styled
def fig_contour(path: str | None = None, steps: int = 20):
    """The textbook f = 0.1 x1² + 2 x2² from (−5, −2): Adagrad and gradient descent at η = 0.4 and η = 2."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_gd

    q = Quadratic.textbook()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for ax, eta in zip(axes, (0.4, 2.0), strict=True):
        _contours(ax, q)
        for tr, color in (
            (run_adagrad(q, [-5, -2], eta, steps, label=f"Adagrad, η = {eta:g}"), "tab:red"),
            (run_gd(q, [-5, -2], eta, steps, label=f"gradient descent, η = {eta:g}"), "tab:blue"),
        ):
            pts = tr.params
            outside = np.flatnonzero(np.abs(pts[:, 1]) > 3)
            label = tr.label
            if outside.size:  # diverging: draw up to the first point off the frame, and say so
                pts = pts[: outside[0] + 1]
                label += f" (diverges: |x2| = {abs(tr.params[-1, 1]):.0e} after {tr.steps} steps)"
            ax.plot(pts[:, 0], pts[:, 1], "-o", color=color, markersize=3.5, label=label)
        ax.plot([0], [0], "k*", markersize=12, label="minimum")
        ax.set_title(f"{steps} steps from (−5, −2), η = {eta:g}")
        ax.legend(loc="lower right")
    fig.suptitle("f = 0.1·x1² + 2·x2²: at η = 2 gradient descent diverges along x2, Adagrad does not")
    return _save(fig, path)


@_styled
def fig_condition_numbers(path: str | None = None, steps: int = 500):
    """Loss curves (log scale) for several condition numbers: axis-aligned quadratics, Adagrad vs GD."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_gd

    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    colors = ["tab:green", "tab:blue", "tab:orange", "tab:red"]
    for kappa, color in zip((1, 10, 100, 1000), colors, strict=True):
        q = Quadratic.make([1.0 / kappa, 1.0])
        ad = run_adagrad(q, [1.0, 1.0], 0.5, steps)
        gd = run_gd(q, [1.0, 1.0], 1.0, steps)  # η = 1/λmax: the largest safe constant step
        ax.semilogy(ad.loss, "-", color=color, linewidth=2, label=f"Adagrad, κ = {kappa}")
        ax.semilogy(gd.loss, "--", color=color, label=f"GD η = 1/λmax, κ = {kappa}")
    ax.set_ylim(1e-16, 2)
    title = "Ill-conditioning: Adagrad rescales each axis, gradient descent crawls along the flat one"
    _dress(ax, title, "step t", "loss (log)", ncol=2, fontsize=9)
    return _save(fig, path)


@_styled
def fig_first_steps(path: str | None = None):
    """How initial_accumulator_value and eps shape the first step: |u₁| against |g| for several G₀."""
    g = np.geomspace(1e-4, 1e3, 200)
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    for g0, eps, style in ((0.0, 1e-7, "-"), (0.0, 0.0, ":"), (0.1, 1e-7, "--"), (1.0, 1e-7, "-.")):
        opt = adagrad(1.0, initial_accumulator_value=g0, eps=eps)
        u, _ = opt.update(g, opt.init(np.zeros_like(g)))
        ax.loglog(g, np.abs(u), style, linewidth=2, label=f"G₀ = {g0:g}, ε = {eps:g}")
    title = "The first step: with G₀ = 0 it is η·sign(g) whatever |g| (until ε matters)"
    _dress(ax, title, "size of the first gradient |g₁|", "size of the first step |u₁| (η = 1)")
    return _save(fig, path)


def recovery_steps(tr, shift_at: int, level: float = 0.1) -> int:
    """Steps after the move until the loss first falls below ``level`` again."""
    below = np.flatnonzero(tr.loss[shift_at:] < level)
    return int(below[0]) if below.size else -1


@_styled
def fig_warning(path: str | None = None, steps: int = 6000, shift_at: int = 5000):
    """The documentation's warning made visible: after a long noisy run the optimum moves, and
    Adagrad's step, shrunk by everything it has accumulated, takes long to follow."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_gd

    q = Quadratic.make([1.0, 1.0], w_star=[0.0, 0.0])
    shift = (shift_at, [3.0, -3.0])
    ad = run_adagrad(q, [1.0, 1.0], 0.5, steps, noise=1.0, shift=shift, label="Adagrad, η = 0.5")
    gd = run_gd(q, [1.0, 1.0], 0.05, steps, noise=1.0, shift=shift, label="gradient descent, η = 0.05")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    window = slice(shift_at - 200, shift_at + 800)
    t = np.arange(steps + 1)
    for tr, color in ((ad, "tab:red"), (gd, "tab:blue")):
        label = f"{tr.label}: back under 0.1 after {recovery_steps(tr, shift_at)} steps"
        axes[0].semilogy(t[window], tr.loss[window], color=color, label=label, alpha=0.85)
    axes[0].axvline(shift_at, color="k", linestyle=":", label=f"the optimum moves (step {shift_at:,})")
    title = "After the move, Adagrad's shrunken steps lag behind"
    _dress(axes[0], title, "step t", "loss against the current optimum (log)", fontsize=9)
    axes[1].loglog(np.arange(1, steps + 1), ad.effective_lr[:, 0], color="tab:red", label="Adagrad η/√(G+ε)")
    axes[1].loglog(
        np.arange(1, steps + 1), gd.effective_lr[:, 0], color="tab:blue", label="gradient descent η"
    )
    axes[1].axvline(shift_at, color="k", linestyle=":")
    title = "The accumulator only grows, so the rate only falls"
    _dress(axes[1], title, "step t", "learning rate applied to the gradient")
    fig.suptitle("f = ½|w − w*|², noisy gradients (σ = 1); w* jumps from (0, 0) to (3, −3)")
    return _save(fig, path)


@_styled
def fig_diagonal_vs_full(path: str | None = None, steps: int = 60):
    """Diagonal against full-matrix Adagrad on an axis-aligned and a rotated ill-conditioned quadratic."""
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_full_matrix

    cases = [
        ("axis-aligned", Quadratic.make([0.2, 4.0])),
        ("rotated by 45°", Quadratic.make([0.2, 4.0], angle=np.pi / 4)),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    for col, (name, q) in enumerate(cases):
        diag = run_adagrad(q, [-5, -2], 0.4, steps, label="diagonal Adagrad (optax)")
        full = run_full_matrix(q, [-5, -2], 0.4, steps)
        ax = axes[0][col]
        _contours(ax, q, lim=(-5.5, 2.5, -4, 4))
        for tr, color in ((diag, "tab:red"), (full, "tab:purple")):
            ax.plot(tr.params[:, 0], tr.params[:, 1], "-o", color=color, markersize=3, label=tr.label)
        ax.set_title(f"{name} quadratic, eigenvalues 0.2 and 4, η = 0.4")
        ax.legend(loc="lower right")
        ax = axes[1][col]
        for tr, color in ((diag, "tab:red"), (full, "tab:purple")):
            ax.semilogy(tr.loss, color=color, linewidth=2, label=tr.label)
        _dress(ax, f"{name}: loss", "step t", "loss (log)")
    fig.suptitle("The diagonal of G sees the axes, not the directions: rotated, it loses to the full matrix")
    return _save(fig, path)


@_styled
def fig_frameworks(path: str | None = None, steps: int = 200):
    """One problem under the optax, PyTorch, Keras and TensorFlow conventions (each with its defaults
    for G₀ and ε, one learning rate), and how far each ends up from optax."""
    from adagrad_ref.teaching.experiments import Quadratic, run_convention

    q = Quadratic.textbook()
    runs = [
        run_convention(name, q, [-5.0, -2.0], 0.4, steps)
        for name in ("optax", "pytorch", "keras", "tensorflow_v2")
    ]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for tr, style in zip(runs, ["-", "--", "-.", ":"], strict=True):
        axes[0].semilogy(tr.loss, style, linewidth=2, label=tr.label)
        if tr.label != "optax":
            gap = np.max(np.abs(tr.params.astype(np.float64) - runs[0].params.astype(np.float64)), axis=1)
            axes[1].semilogy(np.maximum(gap, 1e-12), style, linewidth=2, label=f"{tr.label} − optax")
    _dress(axes[0], "float32, η = 0.4, each framework's default G₀ and ε", "step t", "loss (log)")
    _dress(axes[1], "max |w − w_optax| (log; 1e-12 stands for 0)", "step t", "distance from optax's params")
    fig.suptitle("Same name, different arithmetic: PyTorch starts at G₀ = 0 and puts ε outside the root")
    return _save(fig, path)


#: Every figure ``python -m adagrad_ref figures`` writes, by file name.
FIGURES = {
    "effective_lr.png": fig_effective_lr,
    "accumulator.png": fig_accumulator,
    "implicit_vs_explicit.png": fig_implicit_vs_explicit,
    "contour.png": fig_contour,
    "condition_numbers.png": fig_condition_numbers,
    "first_steps.png": fig_first_steps,
    "warning.png": fig_warning,
    "diagonal_vs_full.png": fig_diagonal_vs_full,
    "frameworks.png": fig_frameworks,
}


def write_figures(out_dir: str, progress=print) -> list[str]:
    """Write every figure into ``out_dir`` (PNG; the benchmark's from figures/bench.json, if present)."""
    import os
    import time

    os.makedirs(out_dir, exist_ok=True)
    written = []
    names = list(FIGURES)
    for i, name in enumerate(names, 1):
        t = time.perf_counter()
        path = os.path.join(out_dir, name)
        fig = FIGURES[name](path)
        plt.close(fig)
        written.append(path)
        progress(f"[{i}/{len(names)}] {path} ({time.perf_counter() - t:.1f} s)")
    bench_json = os.path.join(out_dir, "bench.json")
    if os.path.exists(bench_json):
        import json

        with open(bench_json) as f:
            plot_benchmark(json.load(f), os.path.join(out_dir, "bench.png"))
        written.append(os.path.join(out_dir, "bench.png"))
        progress(f"[+] {os.path.join(out_dir, 'bench.png')} (redrawn from {bench_json})")
    return written
