"""Notebook 05, implicit against explicit decay: Adagrad's rate decays by itself, by the gradients it
has seen; gradient descent's η₀/√(t+1) decays on a clock, whatever the gradients.

The experiment: the textbook quadratic of notebook 04 from (−5, −2), the grid of learning rates
:data:`~adagrad_ref.teaching.lessons.textbook_quadratic.TEXTBOOK_GRID`, 300 steps per run, for Adagrad,
constant-step gradient descent and gradient descent with η₀/√(t+1). One rule picks every method's η
(:func:`no_climb_tuning`, notebook 04's :func:`~adagrad_ref.teaching.lessons.textbook_quadratic.tune`):
among the runs whose loss never rises above its starting value (which excludes every run that
diverges first), the one that reaches loss 1e-12 soonest, or if none does, the one with the least
loss after 300 steps.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.claim_base import START, claim
from adagrad_ref.teaching.lessons.textbook_quadratic import (
    BUDGET,
    fastest_ignoring_the_rule,
    tune,
    tuned_runs,
)
from adagrad_ref.teaching.lessons.textbook_quadratic import never_climbs as never_climbs  # the notebook's

NOTEBOOK = "05_implicit_vs_explicit_decay"


def runners() -> dict:
    """The three methods on the textbook quadratic from (−5, −2), 300 steps: ``{name: η -> run}``."""
    q = ex.Quadratic.textbook()
    return {
        "Adagrad": lambda eta: ex.run_adagrad(q, START, eta, BUDGET),
        "gradient descent": lambda eta: ex.run_gd(q, START, eta, BUDGET),
        "gradient descent η₀/√(t+1)": lambda eta: ex.run_gd(q, START, lambda t: eta / np.sqrt(t + 1), BUDGET),
    }


@functools.cache
def _tuned() -> dict:
    return tune(runners())


def grid_table() -> dict:
    """``{name: {η: (never climbs, steps to 1e-12 or 10⁹, final loss, peak loss over its start)}}``."""
    return {name: row[3] for name, row in _tuned().items()}


def no_climb_tuning() -> dict:
    """Each method at its best η by the rule: ``{name: (η, steps to 1e-12 or 10⁹, run)}``."""
    return {name: (eta, steps[eta], tr) for name, (eta, steps, tr, _) in _tuned().items()}


@claim
def shared_eta_favours_gradient_descent():
    """At d2l's one shared η = 0.4 gradient descent wins: that η is near its best and far below Adagrad's."""
    q, t = ex.Quadratic.textbook(), tuned_runs()
    ad, gd = ex.run_adagrad(q, START, 0.4, BUDGET), ex.run_gd(q, START, 0.4, BUDGET)
    text = "At one shared η = 0.4 (d2l's), after 300 steps gradient descent is at loss {:.2g} and Adagrad at"
    text += " {:.2g}; but 0.4 is near gradient descent's best η on the grid ({:g}) and far below"
    text += " Adagrad's ({:g})."
    best_gd, best_ad = t["gradient descent"][0], t["Adagrad"][0]
    vals = {
        "gd_loss": gd.loss[-1],
        "adagrad_loss": ad.loss[-1],
        "gd_best_eta": best_gd,
        "adagrad_best_eta": best_ad,
    }
    ok = gd.loss[-1] < 1e-10 * ad.loss[-1] and abs(best_gd / 0.4 - 1) < 0.1 and best_ad > 10 * 0.4
    return text.format(gd.loss[-1], ad.loss[-1], best_gd, best_ad), vals, ok


@claim
def explicit_decay_is_too_slow_without_noise():
    """By one rule for all three methods (no climb above the starting loss), Adagrad and constant-step
    gradient descent reach 1e-12 and the η₀/√(t+1) decay does not; the decaying runs that do reach it
    all diverge first."""
    t, table = no_climb_tuning(), grid_table()
    decay = "gradient descent η₀/√(t+1)"
    (ad_eta, ad_steps, _), (gd_eta, gd_steps, _), (d_eta, d_steps, d_run) = (t[k] for k in t)
    reaching = [e for e, row in table[decay].items() if row[1] < 10**9]
    climbs = [table[decay][e][3] for e in reaching]
    free_eta, free_steps, free_climb = fastest_ignoring_the_rule(table["Adagrad"])
    vals = {
        "adagrad_eta": ad_eta,
        "adagrad_steps": ad_steps,
        "gd_eta": gd_eta,
        "gd_steps": gd_steps,
        "decay_eta0": d_eta,
        "decay_steps": d_steps,
        "decay_final_loss": float(d_run.loss[-1]),
        "decay_reaching_count": len(reaching),
        "decay_smallest_climb_of_those_reaching": min(climbs),
        "adagrad_free_eta": free_eta,
        "adagrad_free_steps": free_steps,
        "adagrad_free_climb": free_climb,
    }
    text = (
        "By one rule for all three methods (each at the η of the grid that reaches loss 1e-12 soonest, or"
        " else ends lowest, among the runs whose loss never rises above its start), Adagrad reaches 1e-12 in"
        " {:.0f} steps (η = {:g}), gradient descent with a constant step in {:.0f} (η = {:g}), and gradient"
        " descent with η₀/√(t+1) not within the 300 steps: its best, η₀ = {:g} (the grid's largest that"
        " never climbs), ends at loss {:.2g}. The decaying runs that do reach 1e-12 ({} of the 31) all"
        " diverge first, to at least {:.1e}× their starting loss, until the shrinking step brings them back."
        " (Without the rule, Adagrad's fastest is η = {:g}, {:.0f} steps, its loss rising {:.1f}× with its"
        " overshoot: notebook 04.)"
    ).format(
        ad_steps, ad_eta, gd_steps, gd_eta, d_eta, vals["decay_final_loss"], len(reaching), min(climbs),
        free_eta, vals["adagrad_free_steps"], vals["adagrad_free_climb"],
    )  # fmt: skip
    held = d_steps == 10**9 and vals["decay_final_loss"] > 1e-6 and ad_steps * 5 < gd_steps < 10**9
    largest = max(e for e, row in table[decay].items() if row[0])
    held = held and min(climbs) > 1e6 and d_eta == largest and 1 < vals["adagrad_free_climb"] < 10
    return text, vals, held


def first_step_limit(q: ex.Quadratic, x0) -> tuple[float, float, float, float]:
    """One gradient step at rate η from x0 changes the loss by −η·gᵀg + ½η²·gᵀAg: it does not raise it
    while η ≤ 2·gᵀg/(gᵀAg). Returns ``(that limit, the starting loss, gᵀg, ½·gᵀAg)``."""
    g = q.grad(np.asarray(x0, dtype=float))
    gg, gAg = float(g @ g), float(g @ q.A @ g)
    return 2 * gg / gAg, q.loss(np.asarray(x0, dtype=float)), gg, 0.5 * gAg


@claim
def the_decays_largest_eta0_is_set_by_its_first_step():
    """η₀/√(t+1) never climbs exactly while its first step (at η₀ itself) does not raise the loss; from
    step 2 on its rate is below 2/λ_max and every step lowers the loss."""
    q, run = ex.Quadratic.textbook(), runners()["gradient descent η₀/√(t+1)"]
    limit, f0, gg, half_gAg = first_step_limit(q, START)
    lo, hi = 0.1, 10.0  # bisection on the 300-step runs themselves: lo never climbs, hi does
    assert never_climbs(run(lo)) and not never_climbs(run(hi))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if never_climbs(run(mid)) else (lo, mid)
    edge = run(lo)
    table = grid_table()["gradient descent η₀/√(t+1)"]
    on_grid = max(e for e, row in table.items() if row[0])
    stable = 2 / q.eigenvalues.max()
    vals = {
        "first_step_limit": limit,
        "measured_limit": lo,
        "start_loss": f0,
        "gTg": gg,
        "half_gTAg": half_gAg,
    }
    vals |= {"stability_limit": stable, "second_step_rate": limit / np.sqrt(2), "grid_largest": on_grid}
    vals |= {"edge_final_loss": float(edge.loss[-1]), "grid_final_loss": table[on_grid][2]}
    text = (
        f"The decay's first step uses η₀ itself; from (−5, −2) it takes the loss from {f0:g} to"
        f" {f0:g} − {gg:g}·η₀ + {half_gAg:g}·η₀², no higher than the start while η₀ ≤ 2·gᵀg/(gᵀAg) ="
        f" {limit:.4f}: a little above the stability limit 2/λ_max = {stable:g}, because at first the flat"
        f" axis's fall makes up for the steep axis's overshoot. From step 2 on the rate is at most"
        f" {limit:.4f}/√2 = {limit / np.sqrt(2):.3f} < {stable:g}, and every step lowers the loss. Measured"
        f" by bisection on the 300-step runs, the largest η₀ that never climbs is {lo:.4f}; it ends at loss"
        f" {edge.loss[-1]:.3g}, not 1e-12 either. The grid's last η₀ that never climbs, {on_grid:g}, happens"
        f" to lie just below 2/λ_max (it ends at {table[on_grid][2]:.3g})."
    )
    after = np.diff(edge.loss[1:])
    held = abs(lo / limit - 1) < 1e-9 and stable < limit and limit / np.sqrt(2) < stable
    held = held and bool(np.all(after <= 0)) and edge.loss[-1] > 1e-12 and on_grid < stable < limit
    return text, vals, held


@claim
def implicit_decay_stops_explicit_decay_does_not():
    """Why: Adagrad's rate stops falling once the gradients vanish; η₀/√(t+1) keeps falling."""
    t = no_climb_tuning()
    ad, decay = t["Adagrad"][2], t["gradient descent η₀/√(t+1)"][2]
    ad_change = float(ad.effective_lr[-1, 0] / ad.effective_lr[29, 0])
    gd_change = float(decay.effective_lr[-1, 0] / decay.effective_lr[29, 0])
    text = (
        "Why: between steps 30 and 300 Adagrad's rate on the flat axis changes by a factor of"
        f" {ad_change:.6f} (its gradients have vanished, so G has stopped growing), the decaying step by a"
        f" factor of {gd_change:.2f}, √(30/300), whatever the gradients: without noise, a decay on a clock"
        " only slows gradient descent."
    )
    vals = {"adagrad_rate_ratio_300_over_30": ad_change, "decay_rate_ratio_300_over_30": gd_change}
    return text, vals, abs(ad_change - 1) < 1e-6 and abs(gd_change - np.sqrt(30 / 300)) < 1e-12


@plots.styled
def fig_implicit_vs_explicit(path: str | None = None):
    """Loss against step, each method at its best η by the one rule (never above its starting loss)."""
    fig, ax = plt.subplots(figsize=(9, 5.2))
    floor = plots.LOSS_FLOOR
    for (name, (eta, steps, tr)), style in zip(no_climb_tuning().items(), ["-", "--", ":"], strict=True):
        eta_name = "η₀" if "η₀" in name else "η"
        reach = f"loss < 1e-12 at step {steps}" if steps < 10**9 else f"loss {tr.loss[-1]:.1e} at step 300"
        label = f"{name}, {eta_name} = {eta:g}: {reach}"
        ax.semilogy(np.maximum(tr.loss, floor), style, linewidth=2, label=label)
    ax.axhline(1e-12, color="0.5", linewidth=0.8, label="the target, loss 1e-12")
    title = (
        "Each method at its best η on one grid among the runs that never rise above their starting loss:"
        "\nAdagrad's decay stops by itself, η₀/√(t+1) decays on regardless"
    )
    plots.dress(ax, title, "step t", "loss f(w) (log; below 1e-16 drawn at 1e-16)", fontsize=9)
    ax.set_ylim(floor / 3, 100)
    return plots.save(fig, path)


FIGURES = {"implicit_vs_explicit.png": fig_implicit_vs_explicit}
