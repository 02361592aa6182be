"""Figures, drawn with matplotlib only; one function per figure, each returning its Figure.

Headless (no display), matplotlib draws with its Agg backend by itself; in a
notebook the figures show inline. ``python -m adagrad_ref figures`` writes them all.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.reference import adagrad
from adagrad_ref.teaching.lessons import low_precision

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
    "roofline": dict(color="black", linestyle="--", linewidth=2.5, label="traffic roof (no math)"),
    "roofline_serial": dict(color="gray", linestyle=":", linewidth=1.5, label="traffic roof, one core"),
    "numba": dict(color="tab:red", linewidth=2.5, marker="o", label="Numba core (adagrad_step_inplace)"),
    "numba_serial": dict(color="tab:red", linestyle=":", marker=".", label="Numba core, one core"),
    "numpy_class": dict(color="tab:cyan", marker="s", label="NumPy class (update + apply_updates)"),
    "torch_foreach": dict(color="tab:orange", linestyle=":", marker="^", label="torch Adagrad foreach"),
    "torch_fused": dict(color="tab:orange", marker="^", label="torch Adagrad fused"),
    "optax_jit": dict(color="tab:green", marker="D", label="optax.adagrad jitted, donated"),
}


@_styled
def plot_benchmark(result: dict, path: str) -> None:
    """Time per element against size, log-log, one panel per dtype, the traffic roof and the limit drawn."""
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
    fig.savefig(path, dpi=120)
    if path.endswith(".png"):
        fig.savefig(path[:-4] + ".svg", metadata={"Date": None})  # no timestamp: redrawing changes nothing
    plt.close(fig)


# ---------------------------------------------------------------- teaching figures
# Each title states a lesson; its numbers come from adagrad_ref.teaching.claims, which the tests assert.

COORD_COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple"]


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
def fig_effective_lr(path: str | None = None, sigma: float = 2.0):
    """Effective learning rate per coordinate, log-log: exact gradients (the decay stops) and noisy
    gradients of std σ (the rate falls as η/(σ√t))."""
    from adagrad_ref.teaching import claims

    runs = claims.decay_runs()
    c = claims.CLAIMS["noisy_rate_is_eta_over_sigma_sqrt_t"]()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    panels = (
        ("exact gradients: the accumulator levels off, so does the rate", runs[0.0]),
        (f"noisy gradients, σ = {sigma:g}: the rate falls as η/(σ√t)", runs[sigma]),
    )
    for ax, (title, tr) in zip(axes, panels, strict=True):
        t = np.arange(1, tr.steps + 1)
        for i, lam in enumerate((0.2, 4.0)):
            label = f"η/√(G+ε), x{i + 1} (λ = {lam:g})"
            ax.loglog(t, tr.effective_lr[:, i], color=COORD_COLORS[i], label=label)
        if tr is runs[sigma]:
            ratio = c.values[f"rate*sigma*sqrt(t)/eta, sigma={sigma:g}"]
            ax.loglog(
                t, 0.4 / (sigma * np.sqrt(t)), "k--", label=f"η/(σ√t); at t = 10⁴ x1's rate is {ratio:.3f}×"
            )
        _dress(ax, title, "step t", "effective learning rate", loc="lower left")
    fig.suptitle("Adagrad's effective learning rate on f = 0.1·x1² + 2·x2², η = 0.4")
    return _save(fig, path)


@_styled
def fig_accumulator(path: str | None = None):
    """The accumulator per coordinate against the step (log-log): the steep one grows most, settles first."""
    from adagrad_ref.teaching import claims
    from adagrad_ref.teaching.experiments import Quadratic, run_adagrad

    c = claims.CLAIMS["steep_accumulator_settles_first"]()
    tr = run_adagrad(Quadratic.textbook(), claims.START, 0.4, 200)
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    t = np.arange(tr.steps + 1)
    for i, lam in enumerate((0.2, 4.0)):
        settled = int(c.values[f"settled_x{i + 1}"])
        color = COORD_COLORS[i]
        ax.loglog(t[1:], tr.sum_of_squares[1:, i], color=color, label=f"G for x{i + 1} (λ = {lam:g})")
        label = f"x{i + 1}'s G within 0.1% of final: t = {settled}"
        ax.axvline(settled, color=color, linestyle=":", label=label)
    title = f"The steep coordinate's G ends {c.values['G_ratio_steep_flat']:.1f}× larger and settles first"
    _dress(ax, title, "step t (log)", "accumulator G = 0.1 + Σ g² (log)", loc="lower right")
    return _save(fig, path)


@_styled
def fig_implicit_vs_explicit(path: str | None = None):
    """Loss against step, each method at its own best η from one grid: Adagrad, gradient descent,
    gradient descent with η₀/√(t+1)."""
    from adagrad_ref.teaching import claims

    c = claims.CLAIMS["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]()
    r = claims.CLAIMS["tuned_gd_beats_diagonal_adagrad_once_rotated"]().values
    fig, ax = plt.subplots(figsize=(9, 5.2))
    top = 1.0
    for (name, (eta, table, tr)), style in zip(claims.tuned_runs().items(), ["-", "--", ":"], strict=True):
        peak = float(np.max(tr.loss))
        label = f"{name}, best η = {eta:g}: loss < 1e-12 at step {table[eta]}"
        if peak > 1e3:  # a transient the reader should see, not one the axis clips
            label += f" (first climbs to {peak:.1e} at step {int(np.argmax(tr.loss))})"
        ax.semilogy(np.maximum(tr.loss, 1e-300), style, linewidth=2, label=label)
        top = max(top, peak)
    ax.axhline(1e-12, color="0.5", linewidth=0.8)
    title = (
        "Each at its best η, axis-aligned curvature: Adagrad reaches 1e-12 in"
        f" {c.values['adagrad_steps']:.0f} steps, gradient descent in {c.values['gd_steps']:.0f}"
        f"\n(rotated by 45°: {r['rotated_adagrad_steps']:.0f} against {r['rotated_gd_steps']:.0f},"
        " notebook 5)"
    )
    _dress(ax, title, "step t", "loss f(w) (log)", fontsize=9)
    ax.set_ylim(1e-40, 10 ** np.ceil(np.log10(top) + 1))  # the whole curve, transient included
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
                label += f" (diverges: |x2| = {abs(tr.params[-1, 1]):.2g} after {tr.steps} steps)"
            ax.plot(pts[:, 0], pts[:, 1], "-o", color=color, markersize=3.5, label=label)
        ax.plot([0], [0], "k*", markersize=12, label="minimum")
        ax.set_title(f"{steps} steps from (−5, −2), η = {eta:g}")
        ax.legend(loc="lower right")
    fig.suptitle("f = 0.1·x1² + 2·x2²: at η = 2 gradient descent diverges along x2 (×(1 − 2·4) = ×−7 a step)")
    return _save(fig, path)


@_styled
def fig_condition_numbers(path: str | None = None):
    """Loss curves for κ = 1…1000: optax's G₀ = 0.1 (Adagrad crawls on the flat axis like gradient
    descent) against G₀ = ε = 0 (the path does not depend on the curvatures)."""
    from adagrad_ref.teaching import claims

    flat = claims.CLAIMS["default_g0_flat_axis_is_gradient_descent"]()
    free = claims.CLAIMS["path_ignores_curvatures_without_g0_and_eps"]()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    colors = ["tab:green", "tab:blue", "tab:orange", "tab:red"]
    for (kappa, (ad, gd)), color in zip(claims.kappa_runs(0.1, 1e-7).items(), colors, strict=True):
        axes[0].semilogy(ad.loss, "-", color=color, linewidth=2, label=f"Adagrad, κ = {kappa}")
        axes[0].semilogy(gd.loss, "--", color=color, label=f"GD η = 1/λmax, κ = {kappa}")
    title = f"G₀ = 0.1: at κ = 1000 both crawl (Adagrad {flat.values['adagrad_loss']:.2g}, GD"
    title += f" {flat.values['gd_loss']:.2g}):\non the flat axis Adagrad is GD with rate η/√G₀"
    _dress(axes[0], title, "step t", "loss (log)", ncol=2, fontsize=8)
    for (kappa, (ad, _)), color, width in zip(
        claims.kappa_runs(0.0, 0.0).items(), colors, (6, 4.5, 3, 1.5), strict=True
    ):
        axes[1].semilogy(
            np.maximum(ad.loss, 1e-300), color=color, linewidth=width, label=f"Adagrad, κ = {kappa}"
        )
    title = "G₀ = ε = 0: one path for every κ (params agree to"
    title += f" {max(free.values['max_rel_path_difference'], 1e-16):.2g}),"
    title += "\nthe curvatures cancel out of g/√Σg²"
    _dress(axes[1], title, "step t", "loss (log)", fontsize=9)
    fig.suptitle("Adagrad (η = 0.5) and gradient descent on f = ½(x1²/κ + x2²) from (1, 1)")
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
    title = "The first step: with G₀ = 0 it is −η·sign(g), so |u₁| = η, whatever |g| (until ε matters);"
    title += "\nG₀ > 0 damps small gradients"
    _dress(ax, title, "size of the first gradient |g₁|", "size of the first step |u₁| (η = 1)")
    return _save(fig, path)


@_styled
def fig_warning(path: str | None = None, shift_at: int = 5000):
    """The documentation's warning made visible: after a long noisy run the optimum moves; Adagrad's
    decayed rate, which held the loss low before, now makes it slow to follow."""
    from adagrad_ref.teaching import claims

    ad, gd, _ = claims.warning_runs()
    floor = claims.CLAIMS["warning_adagrad_floor_is_lower_before_the_move"]()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    window = slice(shift_at - 300, shift_at + 700)
    t = np.arange(ad.steps + 1)
    for tr, color, key in ((ad, "tab:red", "adagrad_floor"), (gd, "tab:blue", "gd_floor")):
        label = f"{tr.label}: mean loss {floor.values[key]:.3f} before; back under 0.1 after"
        label += f" {claims.recovery_steps(tr, shift_at)} steps"
        axes[0].semilogy(t[window], tr.loss[window], color=color, label=label, alpha=0.8)
    axes[0].axvline(shift_at, color="k", linestyle=":", label=f"the optimum moves (step {shift_at:,})")
    title = f"Before: Adagrad's loss {floor.values['ratio']:.1f}× lower; after: it lags"
    _dress(axes[0], title, "step t", "loss against the current optimum (log)", fontsize=8, loc="lower right")
    t1 = np.arange(1, ad.steps + 1)
    axes[1].loglog(t1, ad.effective_lr[:, 0], color="tab:red", label="Adagrad η/√(G+ε), coordinate x₁")
    axes[1].loglog(t1, gd.effective_lr[:, 0], color="tab:blue", label="gradient descent η (every coordinate)")
    axes[1].axvline(shift_at, color="k", linestyle=":")
    _dress(
        axes[1],
        "The accumulator only grows, so the rate only falls",
        "step t",
        "rate applied to the gradient",
    )
    fig.suptitle("f = ½|w − w*|², noisy gradients (σ = 1); w* jumps from (0, 0) to (3, −3)")
    return _save(fig, path)


@_styled
def fig_diagonal_vs_full(path: str | None = None):
    """Diagonal against full-matrix Adagrad, each at its own best η, on an axis-aligned and a rotated
    ill-conditioned quadratic."""
    from adagrad_ref.teaching import claims
    from adagrad_ref.teaching.experiments import Quadratic

    c = claims.CLAIMS["tuned_diagonal_ties_aligned_full_matrix_wins_rotated"]()
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    for col, (name, row) in enumerate(claims.tuned_diag_full().items()):
        q = Quadratic.make([0.2, 4.0], angle=np.pi / 4 if name == "rotated" else 0.0)
        runs = [
            (row["diagonal"], "tab:red", "diagonal Adagrad (optax)"),
            (row["full matrix"], "tab:purple", "full-matrix Adagrad"),
        ]
        pts = np.concatenate([tr.params[:40] for (_, _, tr), _, _ in runs])
        lo, hi = pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5
        ax = axes[0][col]
        _contours(ax, q, lim=(lo[0], hi[0], lo[1], hi[1]))
        for (eta, _, tr), color, label in runs:
            ax.plot(
                tr.params[:40, 0],
                tr.params[:40, 1],
                "-o",
                color=color,
                markersize=3,
                label=f"{label}, η = {eta:g}",
            )
        ax.set_title(f"{name} quadratic, eigenvalues 0.2 and 4: the first 40 steps")
        ax.legend(loc="lower right")
        ax = axes[1][col]
        for (eta, steps, tr), color, label in runs:
            ax.semilogy(
                tr.loss, color=color, linewidth=2, label=f"{label}, η = {eta:g}: {steps} steps to 1e-12"
            )
        ax.axhline(1e-12, color="0.5", linestyle=":", linewidth=1)
        ax.set_ylim(1e-16, 1e3)
        d, f = c.values[f"{name}_diag_steps"], c.values[f"{name}_full_steps"]
        verdict = "a tie" if abs(d - f) <= 2 else f"the full matrix {d / f:.0f}× sooner"
        _dress(
            ax,
            f"{name}: {d:.0f} steps to 1e-12 (diagonal), {f:.0f} (full):\n{verdict}",
            "step t",
            "loss (log)",
        )
    fig.suptitle(
        "Each at its own best η on notebook 05's grid: a tie on the axis-aligned quadratic; rotated by 45°"
        " the full matrix wins,\nbecause diag(G) sees axes, not directions (from (−5, −2))",
        fontsize=11,
    )
    return _save(fig, path)


@_styled
def fig_frameworks(path: str | None = None):
    """One problem under the optax, PyTorch, Keras and TensorFlow conventions (each with its defaults
    for G₀ and ε, one learning rate), and how far each ends up from optax."""
    from adagrad_ref.teaching import claims

    c = claims.CLAIMS["framework_gap_is_g0_not_eps_placement"]()
    runs = claims.framework_runs()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    styles = ["-", "--", "-.", ":", "-"]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for (name, tr), style, color in zip(runs.items(), styles, colors, strict=True):
        kw = dict(color=color, linewidth=1 if "G₀" in name else 2)  # the same color for a run in both panels
        axes[0].semilogy(tr.loss, style, label=name, **kw)
        if name != "optax":
            gap = np.abs(tr.params - runs["optax"].params).max(axis=1)
            axes[1].semilogy(np.maximum(gap, 1e-12), style, label=f"{name} − optax", **kw)
    _dress(axes[0], "float32, η = 0.4, each framework's default G₀ and ε", "step t", "loss (log)")
    _dress(axes[1], "max |w − w_optax| (log; 1e-12 stands for 0)", "step t", "distance from optax's params")
    title = f"PyTorch's gap ({c.values['pytorch_vs_optax']:.2g}) is its G₀ = 0: with G₀ = 0.1 it is"
    title += (
        f" {c.values['pytorch_g0_0.1_vs_optax']:.0e}; TensorFlow (ε outside the root too) stays with Keras"
    )
    fig.suptitle(title)
    return _save(fig, path)


@_styled
def fig_rare_features(path: str | None = None):
    """The rare-features problem: error per weight against its feature's frequency, and the cumulative
    regret against T, log-log, with the √T slope drawn."""
    from adagrad_ref.teaching import claims

    data, _, best, (_, comp) = claims.rare_features_runs()
    c = claims.CLAIMS["rare_features_adagrad_learns_rare_weights"]()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    colors = {"adagrad": "tab:red", "sgd": "tab:blue"}
    names = {"adagrad": "Adagrad", "sgd": "SGD η₀/√t"}
    T = np.arange(1, data.steps + 1)
    for m, (run, _) in best.items():
        label = f"{names[m]} (best η = {run.learning_rate:g})"
        rare = c.values[m + "_rare10_rms_error"]
        err = np.abs(run.w - data.w_star)
        axes[0].loglog(data.frequencies, err, "o", color=colors[m], ms=3, alpha=0.7,
                       label=f"{label}: RMS error on the 10 rarest {rare:.3f}")  # fmt: skip
        regret = run.cumulative_loss - comp
        slope = claims.regret_slope(run, comp)
        axes[1].loglog(
            T, np.maximum(regret, 1e-3), color=colors[m], linewidth=2,
            label=f"{label}: slope {slope:.2f} over T = 1,000–{T[-1]:,}",
        )  # fmt: skip
    axes[1].loglog(
        T, np.sqrt(T / T[-1]) * regret[-1], "k--", label="√T (slope 0.5), through SGD's last point"
    )
    _dress(axes[0], "Error per weight: Adagrad learns the rare features", "feature frequency (log)",
           "|w_T − w*| (log)", fontsize=8)  # fmt: skip
    _dress(axes[1], "Cumulative regret against the best fixed weights", "T (log)", "regret (log)", fontsize=9)
    fig.suptitle(
        f"Online linear regression, {data.d} features with Zipf-like frequencies, T = {data.steps:,}"
    )
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
    "rare_features.png": fig_rare_features,
    "bf16_accumulator.png": low_precision.fig_bf16_accumulator,
}


def write_figures(out_dir: str, progress=print) -> list[str]:
    """Write every figure into ``out_dir`` (PNG), and the benchmark's from ``out_dir/bench.json`` if it is
    there; say what was skipped and why."""
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
