"""Porters' notebook p2, the same optimizer in four frameworks: optax, PyTorch, Keras, TensorFlow.

The experiment (:func:`framework_runs`): the textbook quadratic from (−5, −2), η = 0.4, 200 float32
steps, under each framework's arithmetic and defaults (``adagrad_ref.conventions``), and PyTorch once
more with G₀ = 0.1.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.claim_base import START, claim

NOTEBOOK = "p2_frameworks"


@functools.cache
def framework_runs():
    q = ex.Quadratic.textbook()
    runs = {
        n: ex.run_convention(n, q, START, 0.4, 200) for n in ("optax", "pytorch", "keras", "tensorflow_v2")
    }
    runs["pytorch, G₀ = 0.1"] = ex.run_convention(
        "pytorch", q, START, 0.4, 200, initial_accumulator_value=0.1
    )
    return runs


def framework_gap(a: str, b: str = "optax") -> float:
    """The largest |w_a − w_b| over the 200 float32 steps of the frameworks comparison."""
    r = framework_runs()
    return float(np.max(np.abs(r[a].params.astype(np.float64) - r[b].params.astype(np.float64))))


@claim
def framework_gap_is_g0_not_eps_placement():
    """TensorFlow puts ε outside the root and stays with Keras; PyTorch's gap is its G₀ = 0."""
    vals = {
        "pytorch_vs_optax": framework_gap("pytorch"),
        "pytorch_g0_0.1_vs_optax": framework_gap("pytorch, G₀ = 0.1"),
        "tensorflow_vs_keras": framework_gap("tensorflow_v2", "keras"),
        "keras_vs_optax": framework_gap("keras"),
    }
    text = "PyTorch's gap to optax ({:.2g}) is its G₀ = 0: given G₀ = 0.1 it stays within {:.1g}. TensorFlow"
    text += " also puts ε outside the root, and its float32 params {} Keras's over the 200 steps."
    tf = vals["tensorflow_vs_keras"]
    tf_text = "are bit-identical to" if tf == 0 else f"stay within {tf:.1g} of"
    text = text.format(vals["pytorch_vs_optax"], vals["pytorch_g0_0.1_vs_optax"], tf_text)
    ok = vals["pytorch_vs_optax"] > 1e-2 and vals["pytorch_g0_0.1_vs_optax"] < 1e-4
    return text, vals, ok and vals["tensorflow_vs_keras"] < 1e-6


@claim
def zero_accumulator_guard():
    """With G₀ = ε = 0 and a zero gradient, optax's G > 0 guard gives 0; the others compute 0/0."""
    from adagrad_ref import conventions

    g, w, vals = np.array([0.5, 0.0]), np.zeros(2), {}
    for name, make in conventions.FACTORIES.items():
        eps_name = "eps" if name in ("optax", "pytorch") else "epsilon"
        opt = make(1.0, initial_accumulator_value=0.0, **{eps_name: 0.0})
        with np.errstate(all="ignore"):
            u, _ = opt.update(g, opt.init(w), w)
        vals[f"{name}_zero_coordinate_is_nan"] = np.isnan(u[1])
    text = "With G₀ = ε = 0 a zero gradient meets G = 0: optax's G > 0 guard returns 0, the other three"
    text += " compute 0/0 = nan (this shows the guard, not where ε goes)."
    others = [v for k, v in vals.items() if not k.startswith("optax")]
    return text, vals, vals["optax_zero_coordinate_is_nan"] == 0 and all(others)


@plots.styled
def fig_frameworks(path: str | None = None):
    """One problem under the optax, PyTorch, Keras and TensorFlow conventions (each with its defaults
    for G₀ and ε, one learning rate), and how far each ends up from optax."""
    c = framework_gap_is_g0_not_eps_placement()
    runs = framework_runs()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    styles = ["-", "--", "-.", ":", "-"]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for (name, tr), style, color in zip(runs.items(), styles, colors, strict=True):
        kw = dict(color=color, linewidth=1 if "G₀" in name else 2)  # the same color for a run in both panels
        axes[0].semilogy(tr.loss, style, label=name, **kw)
        if name != "optax":
            gap = np.abs(tr.params - runs["optax"].params).max(axis=1)
            axes[1].semilogy(np.maximum(gap, 1e-12), style, label=f"{name}: its distance from optax", **kw)
    plots.dress(axes[0], "float32, η = 0.4, each framework's default G₀ and ε", "step t", "loss (log)")
    plots.dress(
        axes[1],
        "How far each run's params are from optax's run\n(the larger coordinate; 1e-12 stands for 0)",
        "step t",
        "max |w − w_optax| (log)",
        fontsize=9,
        loc="center right",  # the empty band between PyTorch's gap (~1e-2) and the others (<1e-6)
        bbox_to_anchor=(1.0, 0.62),
    )
    title = f"PyTorch's gap ({c.values['pytorch_vs_optax']:.2g}) is its G₀ = 0: with G₀ = 0.1 it stays within"
    title += (
        f" {c.values['pytorch_g0_0.1_vs_optax']:.0e}; TensorFlow (ε outside the root too) stays with Keras"
    )
    fig.suptitle(title)
    return plots.save(fig, path)


FIGURES = {"frameworks.png": fig_frameworks}
