"""Notebook 03, the documentation's warning: Adagrad's rate only falls, so it is slow to follow a
problem that changes.

The experiment (:func:`warning_run`): f = ½|w − w*|² with gradient noise σ = 1, from (1, 1), 6,000
steps; at step 5,000 the optimum w* jumps from (0, 0) to (3, −3). Adagrad (η = 0.5) against gradient
descent (η = 0.05). Both sides of the trade-off are measured: the mean loss over steps 4,000–5,000,
before the move, and the steps after the move until the loss is back under 0.1.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.claim_base import claim

NOTEBOOK = "03_the_warning"

SHIFT_AT = 5000
NEW_OPTIMUM = (3.0, -3.0)
BEFORE = slice(4000, 5000)  # the window of the "mean loss before the move"


def warning_run(method: str = "adagrad", learning_rate: float = 0.5, steps: int = 6000) -> ex.Trajectory:
    """One run of the experiment: ``method`` is ``"adagrad"`` or ``"gd"`` (the same noise draws)."""
    q = ex.Quadratic.make([1.0, 1.0])
    kw = dict(noise=1.0, shift=(SHIFT_AT, list(NEW_OPTIMUM)))
    if method == "adagrad":
        label = f"Adagrad, η = {learning_rate:g}"
        return ex.run_adagrad(q, [1.0, 1.0], learning_rate, steps, label=label, **kw)
    if method == "gd":
        label = f"gradient descent, η = {learning_rate:g}"
        return ex.run_gd(q, [1.0, 1.0], learning_rate, steps, label=label, **kw)
    raise ValueError(f"method must be 'adagrad' or 'gd', got {method!r}")


@functools.cache
def warning_runs() -> tuple[ex.Trajectory, ex.Trajectory]:
    """Adagrad at η = 0.5 and gradient descent at η = 0.05."""
    return warning_run("adagrad", 0.5), warning_run("gd", 0.05)


def recovery_steps(tr: ex.Trajectory, shift_at: int = SHIFT_AT, level: float = 0.1) -> int:
    """Steps after the move until the loss first falls below ``level`` again (10⁹ if never)."""
    below = np.flatnonzero(tr.loss[shift_at:] < level)
    return int(below[0]) if below.size else 10**9


def mean_loss_before(tr: ex.Trajectory) -> float:
    """The mean loss over steps 4,000–5,000, before the move."""
    return float(np.mean(tr.loss[BEFORE]))


@claim
def warning_adagrad_lags_after_the_move():
    """After 5,000 noisy steps the optimum moves; Adagrad takes far longer than gradient descent to follow."""
    ad, gd = warning_runs()
    a, g = recovery_steps(ad), recovery_steps(gd)
    rate = float(ad.effective_lr[SHIFT_AT - 1].max())
    root_g_100 = float(np.sqrt(ad.sum_of_squares[100]).mean())  # √G after 100 steps, about σ√100 = 10
    text = "After the optimum moves at step 5,000, Adagrad (η = 0.5) needs {} steps to bring the loss back"
    text += " under 0.1, gradient descent (η = 0.05) {}: Adagrad's rate at the move is {:.4f}, {:.0f}× below"
    text += " gradient descent's. (Adagrad's η is 10× the other's because its rate is divided by √G,"
    text += " {:.1f} after 100 steps.)"
    vals = {"adagrad_steps": a, "gd_steps": g, "adagrad_rate_at_move": rate, "root_G_at_100": root_g_100}
    held = a > 4 * g and rate < 0.05 / 4 and abs(root_g_100 / 10 - 1) < 0.05
    return text.format(a, g, rate, 0.05 / rate, root_g_100), vals, held


@claim
def warning_adagrad_mean_loss_is_lower_before_the_move():
    """The other side of the trade-off: before the move Adagrad's mean loss is below gradient descent's."""
    ad, gd = warning_runs()
    fa, fg = mean_loss_before(ad), mean_loss_before(gd)
    text = "Before the move (steps 4,000–5,000) Adagrad's mean loss is {:.4f}, gradient descent's {:.4f},"
    text += " {:.1f}× higher: Adagrad's decayed rate averages the noise away; that is what costs it the lag."
    vals = {"adagrad_mean_loss": fa, "gd_mean_loss": fg, "ratio": fg / fa}
    return text.format(fa, fg, fg / fa), vals, 5 <= fg / fa <= 20


@claim
def the_trade_off_is_the_rate_adagrad_has_reached():
    """Gradient descent at the constant rate Adagrad has decayed to by the move has Adagrad's mean loss
    and Adagrad's lag: both sides of the warning's trade-off are set by that one rate."""
    ad, _ = warning_runs()
    rate = float(ad.effective_lr[SHIFT_AT - 1].max())
    slow = warning_run("gd", rate)
    vals = {
        "rate": rate,
        "gd_mean_loss": mean_loss_before(slow),
        "adagrad_mean_loss": mean_loss_before(ad),
        "gd_steps": recovery_steps(slow),
        "adagrad_steps": recovery_steps(ad),
    }
    text = "Gradient descent at Adagrad's rate at the move (η = {:.4f}, constant from the start): mean loss"
    text += " {:.4f} over steps 4,000–5,000 (Adagrad {:.4f}) and {} steps to recover (Adagrad {})."
    text = text.format(
        rate, vals["gd_mean_loss"], vals["adagrad_mean_loss"], vals["gd_steps"], vals["adagrad_steps"]
    )
    ok = abs(vals["gd_mean_loss"] / vals["adagrad_mean_loss"] - 1) < 0.1
    return text, vals, ok and abs(vals["gd_steps"] / vals["adagrad_steps"] - 1) < 0.1


@claim
def adagrad_at_gradient_descents_rate_has_its_lag():
    """Exercise: Adagrad with η ≈ 0.05·√5000 ≈ 3.5 reaches gradient descent's rate 0.05 at the move, and
    with it gradient descent's lag and mean loss before the move."""
    ad, gd = warning_run("adagrad", 3.5), warning_runs()[1]
    vals = {
        "rate": float(ad.effective_lr[SHIFT_AT - 1].max()),
        "adagrad_steps": recovery_steps(ad),
        "gd_steps": recovery_steps(gd),
        "adagrad_mean_loss": mean_loss_before(ad),
        "gd_mean_loss": mean_loss_before(gd),
    }
    text = (
        "Adagrad at η = 3.5: rate {:.4f} at the move (gradient descent's: 0.05), back under loss 0.1 after {}"
        " steps (gradient descent: {}), mean loss over steps 4,000–5,000 {:.4f} (gradient descent: {:.4f})."
    ).format(
        vals["rate"], vals["adagrad_steps"], vals["gd_steps"], vals["adagrad_mean_loss"], vals["gd_mean_loss"]
    )
    ok = abs(vals["rate"] / 0.05 - 1) < 0.05 and abs(vals["adagrad_steps"] / vals["gd_steps"] - 1) < 0.1
    return text, vals, ok and abs(vals["adagrad_mean_loss"] / vals["gd_mean_loss"] - 1) < 0.1


@claim
def effective_rate_never_rises_the_step_does():
    """The effective rate never rises; the step |Δx₁| grows when the gradients grow."""
    ad, _ = warning_runs()
    rates = ad.effective_lr
    rises = int(np.count_nonzero(np.diff(rates, axis=0) > 0))
    dx = np.abs(np.diff(ad.params[:, 0]))
    grow = float(np.mean(dx[SHIFT_AT : SHIFT_AT + 20]) / np.mean(dx[SHIFT_AT - 200 : SHIFT_AT]))
    text = "Adagrad's effective rate never rises (in 6,000 steps it rises {} times); the step does: the mean"
    text += " |Δx₁| of the 20 steps after the move is {:.1f}× that of the 200 before."
    return text.format(rises, grow), {"rate_rises": rises, "step_growth": grow}, rises == 0 and grow > 2


@plots.styled
def fig_warning(path: str | None = None):
    """The documentation's warning made visible: after a long noisy run the optimum moves; Adagrad's
    decayed rate, which held the loss low before, now makes it slow to follow."""
    ad, gd = warning_runs()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8))
    window = slice(SHIFT_AT - 300, SHIFT_AT + 700)
    t = np.arange(ad.steps + 1)
    for tr, color in ((ad, "tab:red"), (gd, "tab:blue")):
        label = f"{tr.label}: mean loss {mean_loss_before(tr):.4f} before the move,"
        label += f" {recovery_steps(tr)} steps to get back under 0.1"
        axes[0].semilogy(t[window], tr.loss[window], color=color, label=label, alpha=0.8)
    axes[0].axvline(SHIFT_AT, color="k", linestyle=":", label=f"the optimum moves (step {SHIFT_AT:,})")
    axes[0].axhline(0.1, color="0.5", linewidth=0.8, label="loss 0.1")
    ratio = mean_loss_before(gd) / mean_loss_before(ad)
    title = f"Before the move Adagrad's mean loss is {ratio:.1f}× lower;\nafter it, Adagrad lags"
    legend = dict(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    plots.dress(axes[0], title, "step t", "loss against the current optimum (log)", **legend)
    t1 = np.arange(1, ad.steps + 1)
    axes[1].semilogy(t1, ad.effective_lr[:, 0], color="tab:red", label="Adagrad η/√(G+ε), coordinate x₁")
    label = "gradient descent η (every coordinate)"
    axes[1].semilogy(t1, gd.effective_lr[:, 0], color="tab:blue", label=label)
    axes[1].axvline(SHIFT_AT, color="k", linestyle=":", label="the optimum moves")
    plots.dress(
        axes[1],
        "Adagrad's rate only falls,\nand the move's large gradients lower it further",
        "step t",
        "rate applied to the gradient (log)",
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
    )
    fig.suptitle("f = ½|w − w*|², noisy gradients (σ = 1); at step 5,000 w* jumps from (0, 0) to (3, −3)")
    return plots.save(fig, path)


FIGURES = {"warning.png": fig_warning}
