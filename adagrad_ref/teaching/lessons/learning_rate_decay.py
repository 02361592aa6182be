"""Notebook 02, learning-rate decay: when Adagrad's rate falls like 1/√t, and when it levels off.

The experiments: Adagrad at η = 0.4 on the textbook quadratic f = 0.1·x1² + 2·x2² from (−5, −2),
10,000 steps, with exact gradients and with Gaussian gradient noise of std σ (:func:`decay_runs`);
the sliders' run (:func:`slider_run`) and its noisy version, against constant-step gradient descent.

*Noise floor* (the one meaning this course gives the word): the level at which a loss settles under
gradient noise and then stays, on average, however much longer the run. Constant-step gradient
descent has one; Adagrad has none: its mean loss keeps falling, as slowly as its rate.
"""

from __future__ import annotations

import functools
import os

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.claim_base import START, claim

NOTEBOOK = "02_learning_rate_decay"


@functools.cache
def decay_runs():
    """Adagrad (η = 0.4) on the textbook quadratic, 10,000 steps, for noise σ = 0, 0.5, 1, 2."""
    q = ex.Quadratic.textbook()
    return {s: ex.run_adagrad(q, START, 0.4, 10_000, noise=s) for s in (0.0, 0.5, 1.0, 2.0)}


@claim
def exact_gradients_rate_levels_off():
    """With exact gradients the accumulator stops growing, and the effective rate stops falling."""
    tr = decay_runs()[0.0]
    change = np.max(np.abs(tr.effective_lr[-1] / tr.effective_lr[999] - 1))
    how = "does not change at all" if change == 0 else f"changes by {change:.1g} (relative) at most"
    text = f"With exact gradients the effective rate levels off: between steps 1,000 and 10,000 it {how},"
    text += " on both coordinates."
    return text, {"rel_change_1e3_to_1e4": change, "rate_x1": tr.effective_lr[-1, 0]}, change < 1e-6


@claim
def noisy_rate_is_eta_over_sigma_sqrt_t():
    """With gradient noise σ, G_t ≈ σ² t and the rate falls as η/(σ√t), for every σ tried."""
    runs = decay_runs()
    vals = {}
    for s in (0.5, 1.0, 2.0):
        vals[f"rate*sigma*sqrt(t)/eta, sigma={s:g}"] = runs[s].effective_lr[-1, 0] * s * np.sqrt(10_000) / 0.4
    text = "With noisy gradients (std σ) the rate falls as η/(σ√t): at t = 10,000 the flat coordinate's rate"
    text += " is {} times η/(σ√t) for σ = 0.5, 1 and 2.".format(", ".join(f"{v:.3f}" for v in vals.values()))
    return text, vals, all(abs(v - 1) < 0.1 for v in vals.values())


@claim
def steep_accumulator_settles_first():
    """The steep coordinate's G grows most and settles first; the flat one's creeps on for longer."""
    tr = ex.run_adagrad(ex.Quadratic.textbook(), START, 0.4, 200)
    G = tr.sum_of_squares
    settled = [int(np.flatnonzero(np.abs(G[:, i] / G[-1, i] - 1) > 1e-3)[-1]) + 1 for i in range(2)]
    text = "The steep coordinate (x2, λ = 4) ends with {:.1f}× the flat one's G and is within 0.1% of it from"
    text += " step {}; the flat one (x1, λ = 0.2) only from step {}."
    vals = {"settled_x1": settled[0], "settled_x2": settled[1], "G_ratio_steep_flat": G[-1, 1] / G[-1, 0]}
    text = text.format(vals["G_ratio_steep_flat"], settled[1], settled[0])
    return (
        text,
        vals,
        settled[1] <= 30 and settled[1] * 3 < settled[0] < 200 and vals["G_ratio_steep_flat"] > 5,
    )


def slider_run(eta=0.4, g0=0.1, log10_eps=-7.0, sigma=0.0, kappa=20.0, steps=2000) -> ex.Trajectory:
    """The run the sliders draw: Adagrad on f = ½(4/κ·x1² + 4·x2²) from (−5, −2)."""
    q = ex.Quadratic.make([4.0 / kappa, 4.0])
    return ex.run_adagrad(q, START, eta, steps, g0, 10.0**log10_eps, noise=sigma)


WINDOWS = ((500, 1000), (1500, 2000), (19_000, 20_000))


@claim
def slider_defaults_converge_noise_falls_slowly():
    """At the sliders' defaults the loss falls geometrically; with σ = 1 Adagrad has no noise floor (its
    mean loss keeps falling, as slowly as its rate), where constant-step gradient descent has one."""
    exact, noisy = slider_run(), slider_run(sigma=1.0, steps=20_000)
    gd = ex.run_gd(ex.Quadratic.textbook(), START, 0.4, 20_000, noise=1.0)
    means = [float(noisy.loss[a:b].mean()) for a, b in WINDOWS]
    rates = [float(noisy.effective_lr[a:b, 0].mean()) for a, b in WINDOWS]
    gd_means = [float(gd.loss[a:b].mean()) for a, b in WINDOWS]
    text = (
        "At the sliders' defaults (κ = 20, exact gradients) the loss after 2,000 steps is {:.1g}. With σ = 1"
        " Adagrad has no noise floor: its mean loss is {:.4f} over steps 500–1,000, {:.4f} over 1,500–2,000"
        " and {:.4f} over 19,000–20,000 (a 20,000-step run), {:.1f}× lower, while the flat axis's mean rate"
        " falls {:.1f}× ({:.3g}, {:.3g}, {:.3g}). Gradient descent at the constant η = 0.4 has one: its mean"
        " loss over the same windows is {:.4f}, {:.4f} and {:.4f}."
    ).format(exact.loss[-1], *means, means[0] / means[-1], rates[0] / rates[-1], *rates, *gd_means)
    vals = {"exact_loss": exact.loss[-1]}
    vals |= {f"noisy_mean_loss_{a}_{b}": m for (a, b), m in zip(WINDOWS, means, strict=True)}
    vals |= {f"flat_rate_{a}_{b}": r for (a, b), r in zip(WINDOWS, rates, strict=True)}
    vals |= {f"gd_mean_loss_{a}_{b}": m for (a, b), m in zip(WINDOWS, gd_means, strict=True)}
    falls = means[0] > means[1] > means[2] > 1e-4
    slow = 0.5 < (means[0] / means[-1]) / (rates[0] / rates[-1]) < 2
    floor = max(gd_means) / min(gd_means) < 1.2
    return text, vals, exact.loss[-1] < 1e-30 and falls and slow and floor


# ------------------------------------------------------------------ the sliders
def live_front_end() -> bool:
    """Whether a person is looking at this kernel: True when a Jupyter server started it (it sets
    ``JPY_SESSION_NAME``), False when a script executes the notebook (nbclient, ``jupyter nbconvert
    --execute``, the tests). ``ADAGRAD_REF_SLIDERS=1`` or ``0`` in the environment decides instead.

    Widgets are only made for a live front end: executed headless, a notebook never waits on one."""
    flag = os.environ.get("ADAGRAD_REF_SLIDERS")
    if flag in ("0", "1"):
        return flag == "1"
    return bool(os.environ.get("JPY_SESSION_NAME"))


def show_sliders(explore) -> bool:
    """Sliders for ``explore``'s arguments, shown only in a live front end with ipywidgets installed;
    returns whether they were shown (and says why not)."""
    if not live_front_end():
        print("Not running live in Jupyter: no sliders (run live, with ipywidgets, they appear here);")
        print("the figure below is explore() at its defaults.")
        return False
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:
        print("pip install ipywidgets for the sliders; the figure below is explore() at its defaults")
        return False
    display(
        w.interactive(
            explore,
            eta=w.FloatLogSlider(value=0.4, base=10, min=-2, max=1, description="η"),
            g0=w.FloatSlider(value=0.1, min=0.0, max=2.0, step=0.05, description="G₀"),
            log10_eps=w.FloatSlider(value=-7, min=-12, max=0, step=1, description="log10 ε"),
            sigma=w.FloatSlider(value=0.0, min=0.0, max=3.0, step=0.25, description="σ"),
            kappa=w.FloatLogSlider(value=20, base=10, min=0, max=4, description="κ"),
            steps=w.fixed(2000),
        )
    )
    return True


# ------------------------------------------------------------------ figures
@plots.styled
def fig_effective_lr(path: str | None = None, sigma: float = 2.0):
    """Effective learning rate per coordinate, log-log: exact gradients (the decay stops) and noisy
    gradients of std σ (the rate falls as η/(σ√t))."""
    runs = decay_runs()
    c = noisy_rate_is_eta_over_sigma_sqrt_t()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    panels = (
        ("exact gradients: the accumulator levels off, so does the rate", runs[0.0]),
        (f"noisy gradients, σ = {sigma:g}: the rate falls as η/(σ√t)", runs[sigma]),
    )
    for ax, (title, tr) in zip(axes, panels, strict=True):
        t = np.arange(1, tr.steps + 1)
        for i, lam in enumerate((0.2, 4.0)):
            label = f"η/√(G+ε), x{i + 1} (λ = {lam:g})"
            ax.loglog(t, tr.effective_lr[:, i], color=plots.COORD_COLORS[i], label=label)
        if tr is runs[sigma]:
            ratio = c.values[f"rate*sigma*sqrt(t)/eta, sigma={sigma:g}"]
            label = f"η/(σ√t); at t = 10⁴ x1's rate is {ratio:.3f} × η/(σ√t)"
            ax.loglog(t, 0.4 / (sigma * np.sqrt(t)), "k--", label=label)
        plots.dress(ax, title, "step t", "effective learning rate", loc="lower left")
    fig.suptitle("Adagrad's effective learning rate on f = 0.1·x1² + 2·x2², η = 0.4")
    return plots.save(fig, path)


@plots.styled
def fig_accumulator(path: str | None = None):
    """The accumulator per coordinate against the step (log-log): the steep one grows most, settles first."""
    c = steep_accumulator_settles_first()
    tr = ex.run_adagrad(ex.Quadratic.textbook(), START, 0.4, 200)
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    t = np.arange(tr.steps + 1)
    for i, lam in enumerate((0.2, 4.0)):
        settled = int(c.values[f"settled_x{i + 1}"])
        color = plots.COORD_COLORS[i]
        ax.loglog(t[1:], tr.sum_of_squares[1:, i], color=color, label=f"G for x{i + 1} (λ = {lam:g})")
        label = f"x{i + 1}'s G within 0.1% of final: t = {settled}"
        ax.axvline(settled, color=color, linestyle=":", label=label)
    title = f"The steep coordinate's G ends {c.values['G_ratio_steep_flat']:.1f}× larger and settles first"
    plots.dress(ax, title, "step t (log)", "accumulator G = 0.1 + Σ g² (log)", loc="lower right")
    return plots.save(fig, path)


FIGURES = {"effective_lr.png": fig_effective_lr, "accumulator.png": fig_accumulator}
