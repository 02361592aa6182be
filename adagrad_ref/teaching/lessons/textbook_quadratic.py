"""Notebook 04, the textbook quadratic: per-parameter steps, conditioning, preconditioning.

The experiments: f = 0.1·x1² + 2·x2² (curvatures λ = 0.2 and 4; d2l's chapter on Adagrad) from
(−5, −2); the diagonal quadratics ½(x1²/κ + x2²) for κ = 1, 10, 100, 1000 (:func:`kappa_runs`); the
loss multiplied by a constant; and Adagrad and gradient descent each at its own best η on
:data:`TEXTBOOK_GRID` (:func:`tuned_runs`), axis-aligned and rotated by 45°.
"""

from __future__ import annotations

import functools
import math

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.reference import adagrad
from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.claim_base import START, claim, steps_to

NOTEBOOK = "04_textbook_quadratic"

#: The learning rates swept on the textbook quadratic, for every method alike.
TEXTBOOK_GRID = np.round(np.geomspace(0.05, 10.0, 31), 4)

#: The run budget of the tuned comparisons, and the loss they must reach.
BUDGET, TARGET = 300, 1e-12


@claim
def comparable_steps_for_unequal_gradients():
    """Dividing by √G makes the coordinates' steps comparable although their gradients differ."""
    tr = ex.run_adagrad(ex.Quadratic.textbook(), START, 0.4, 1)
    g = np.abs(ex.Quadratic.textbook().grad(np.array(START)))
    dx = np.abs(tr.params[1] - tr.params[0])
    text = "From (−5, −2) the gradients differ by {:.0f}× (1 and 8), the first steps by {:.2f}×: a coordinate"
    text += (
        " whose gradients have been small gets a large rate, so it takes a step comparable to the others'."
    )
    r_g, r_dx = g[1] / g[0], dx[1] / dx[0]
    return (
        text.format(r_g, r_dx),
        {"gradient_ratio": r_g, "step_ratio": r_dx},
        r_g > 5 and abs(r_dx - 1) < 0.1,
    )


@claim
def d2l_trace():
    """d2l's printed trace is Adagrad with G₀ = 0 and ε = 1e-6 (inside the root, like optax)."""
    q = ex.Quadratic.textbook()
    tr = ex.run_adagrad(q, START, 0.4, 20, initial_accumulator_value=0.0, eps=1e-6)
    x1, x2, s1, s2 = -5.0, -2.0, 0.0, 0.0  # d2l's adagrad_2d, line for line
    for _ in range(20):
        g1, g2 = 0.2 * x1, 4 * x2
        s1 += g1**2
        s2 += g2**2
        x1 -= 0.4 / math.sqrt(s1 + 1e-6) * g1
        x2 -= 0.4 / math.sqrt(s2 + 1e-6) * g2
    ulps = np.abs(tr.params[-1] - [x1, x2]) / np.spacing(np.abs([x1, x2]))
    optax_x1 = ex.run_adagrad(q, START, 0.4, 20).params[-1, 0]
    eps7_x1 = ex.run_adagrad(q, START, 0.4, 20, 0.0, 1e-7).params[-1, 0]
    text = (
        "With G₀ = 0 and ε = 1e-6 the reference reproduces d2l's printed trace (x1: −2.382563,"
        f" x2: −0.158591; d2l puts ε inside the root too), within {ulps.max():.0f} ULP of d2l's own float64"
        f" loop, which multiplies in another order; optax's G₀ = 0.1 moves x1 to {optax_x1:.3f}; ε = 1e-7"
        f" instead of 1e-6 moves it by {abs(eps7_x1 - x1):.1g}."
    )
    vals = {"x1": tr.params[-1, 0], "x2": tr.params[-1, 1], "max_ulp_from_d2l_loop": ulps.max()}
    vals |= {"optax_x1": optax_x1, "eps_1e-7_x1": eps7_x1}
    # d2l (Dive into Deep Learning, section 12.7 "Adagrad") prints "epoch 20, x1: -2.382563, x2: -0.158591".
    printed = (f"{tr.params[-1, 0]:f}", f"{tr.params[-1, 1]:f}") == ("-2.382563", "-0.158591")
    return text, vals, printed and ulps.max() <= 2 and abs(eps7_x1 - x1) < 1e-6 and abs(optax_x1 - x1) > 0.03


@claim
def gd_diverges_at_eta_2_adagrad_does_not():
    """At η = 2 gradient descent multiplies x₂ by 1 − 2·4 = −7 each step; Adagrad converges."""
    q = ex.Quadratic.textbook()
    gd, ad = ex.run_gd(q, START, 2.0, 20), ex.run_adagrad(q, START, 2.0, 20)
    text = (
        "At η = 2, after 20 steps gradient descent is at |x₂| = {:.2g} (×7 a step), Adagrad at loss {:.2g}."
    )
    x2, loss = abs(gd.params[-1, 1]), ad.loss[-1]
    text += " Adagrad's first step on x₂ is {:.3f}·η: about −η·sign(g)."
    first = float(ad.params[1, 1] - ad.params[0, 1]) / 2.0
    vals = {"gd_abs_x2": x2, "adagrad_loss": loss, "adagrad_first_x2_step_over_eta": first}
    seven = abs(x2 / (2 * 7.0**20) - 1) < 1e-9  # |x₂| = 2·7²⁰: ×(1 − 2·4) each step
    return text.format(x2, loss, first), vals, seven and loss < 1e-3 and abs(first - 1) < 0.01


@claim
def x2_lands_on_zero_at_eta_2_by_coincidence():
    """At η = 2 Adagrad's first step puts x₂ almost exactly on the minimum, because x₂ starts at −2 = −η."""
    q = ex.Quadratic.textbook()
    at = {eta: float(ex.run_adagrad(q, START, eta, 1).params[1, 1]) for eta in (2.0, 0.4, 3.0)}
    text = (
        f"At η = 2 Adagrad's first step takes x₂ from −2 to {at[2.0]:.4f}: the step is about η whatever"
        " the gradient, and x₂ starts at −2 = −η, so it lands on the minimum by coincidence (from the same"
        f" start, η = 0.4 takes it to {at[0.4]:.3f} and η = 3 to {at[3.0]:.3f})."
    )
    vals = {f"x2_after_one_step_eta_{eta:g}": x for eta, x in at.items()}
    return text, vals, abs(at[2.0]) < 0.01 and abs(at[0.4]) > 1 and abs(at[3.0]) > 0.9


@claim
def first_step_is_eta_sign_with_g0_zero():
    """With G₀ = 0 the first update is −η·sign(g) for any |g| ≫ √ε; G₀ = 0.1 damps small gradients."""
    g = np.geomspace(1e-2, 1e3, 50)
    u0, _ = (opt := adagrad(1.0, 0.0)).update(g, opt.init(np.zeros_like(g)))
    small = np.array([1e-3])
    u1, _ = (opt1 := adagrad(1.0, 0.1)).update(small, opt1.init(small))
    dev = float(np.max(np.abs(u0 / -1.0 - 1)))
    damped = float(u1[0] / (-1.0 * small[0] / np.sqrt(0.1)))
    text = (
        f"With G₀ = 0 the first update is −η·sign(g) whatever |g| (until g² is as small as ε): for |g| from"
        f" 0.01 to 1000, |u₁| = η within {max(dev, 1e-16):.1g} (relative); optax's G₀ = 0.1 damps a small"
        f" first gradient to about −η·g/√0.1 (η = 1, g = 1e-3: u₁ = {u1[0]:.3g}, {damped:.4f}× −η·g/√0.1)."
    )
    vals = {
        "max_rel_dev_g0_0": dev,
        "first_step_g0_0.1_g_1e-3": -u1[0],
        "u1_over_minus_eta_g_over_sqrt_g0": damped,
    }
    return text, vals, dev < 1e-3 and -u1[0] < 0.01 and abs(damped - 1) < 1e-3


# ------------------------------------------------------------------ conditioning and preconditioning
KAPPAS = (1, 10, 100, 1000)


@functools.cache
def kappa_runs(g0: float, eps: float):
    """For each κ: Adagrad (η = 0.5, G₀ = ``g0``, ε = ``eps``) and gradient descent (η = 1/λ_max = 1)
    on ½(x1²/κ + x2²) from (1, 1), 500 steps."""
    out = {}
    for kappa in KAPPAS:
        q = ex.Quadratic.make([1.0 / kappa, 1.0])
        out[kappa] = (ex.run_adagrad(q, [1.0, 1.0], 0.5, 500, g0, eps), ex.run_gd(q, [1.0, 1.0], 1.0, 500))
    return out


@claim
def path_ignores_curvatures_without_g0_and_eps():
    """With G₀ = ε = 0 the update is −η·x_i/√(Σ x_i²) per coordinate: λ cancels, every κ has one path."""
    runs = kappa_runs(0.0, 0.0)
    ref = runs[1][0].params
    dev = max(float(np.max(np.abs(runs[k][0].params - ref) / np.abs(ref))) for k in runs)
    final = [float(np.linalg.norm(runs[k][0].params[-1])) for k in runs]
    text = "With G₀ = ε = 0, Adagrad's path on a diagonal quadratic does not depend on the curvatures: for"
    text += " κ = 1, 10, 100, 1000 the iterates agree to {:.2g} (relative) at every step, and after 500 steps"
    text += " every run is at |x| ≤ {:.2g}."
    losses = [runs[k][0].loss[-1] for k in runs]
    vals = {"max_rel_path_difference": dev, "min_final_loss": min(losses), "max_final_loss": max(losses)}
    vals |= {"max_final_abs_x": max(final), "min_final_abs_x": min(final)}
    ok = dev < 1e-12 and max(losses) < 1e-200 and max(final) < 1e-100
    return text.format(max(dev, 1e-16), max(final)), vals, ok


@claim
def default_g0_flat_axis_is_gradient_descent():
    """With optax's G₀ = 0.1 a flat axis's g² never moves its accumulator: there Adagrad is GD at η/√G₀."""
    a, g = kappa_runs(0.1, 1e-7)[1000]
    rel = float(np.max(np.abs(a.effective_lr[:, 0] / (0.5 / np.sqrt(0.1)) - 1)))
    text = "With optax's G₀ = 0.1, at κ = 1000 the flat axis's effective rate stays within {:.2%} of"
    text += " η/√G₀ for 500 steps: there Adagrad is gradient descent, and it crawls too (loss after 500"
    text += " steps {:.3g}; gradient descent at η = 1/λ_max {:.3g})."
    vals = {"max_rel_dev_from_eta_over_sqrt_g0": rel, "adagrad_loss": a.loss[-1], "gd_loss": g.loss[-1]}
    return text.format(rel, a.loss[-1], g.loss[-1]), vals, rel < 0.01 and min(a.loss[-1], g.loss[-1]) > 1e-5


@claim
def rescaling_the_loss_leaves_adagrad_unchanged():
    """Multiplying the loss by c multiplies every gradient and √G by c: with G₀ = ε = 0 Adagrad's path
    does not change; gradient descent's does."""
    q1 = ex.Quadratic.textbook()
    vals = {}
    for c in (0.01, 100.0):
        q = ex.Quadratic.make([0.2 * c, 4.0 * c])
        a0, a = ex.run_adagrad(q1, START, 0.4, 100, 0.0, 0.0), ex.run_adagrad(q, START, 0.4, 100, 0.0, 0.0)
        d0, d = ex.run_adagrad(q1, START, 0.4, 100), ex.run_adagrad(q, START, 0.4, 100)
        with np.errstate(all="ignore"):
            gd = ex.run_gd(q, START, 0.4, 100)
        vals[f"adagrad_g0_0_max_diff_c{c:g}"] = float(np.max(np.abs(a.params - a0.params)))
        vals[f"adagrad_g0_0.1_max_diff_c{c:g}"] = float(np.max(np.abs(d.params - d0.params)))
        vals[f"gd_final_abs_x_c{c:g}"] = float(np.max(np.abs(gd.params[-1])))
    gd1 = float(np.max(np.abs(ex.run_gd(q1, START, 0.4, 100).params[-1])))
    vals["gd_final_abs_x_c1"] = gd1
    text = (
        "Multiply the loss by c: every gradient, and so √G, is multiplied by c, and with G₀ = ε = 0 Adagrad's"
        " iterates do not change: over 100 steps at η = 0.4 they differ by at most {:.1g} for c = 0.01 and"
        " {:.1g} for c = 100. Gradient descent at the same η ends at |x| ≤ {:.2g} for c = 1, but {:.2g} for"
        " c = 0.01 (it crawls) and {:.2g} for c = 100 (it diverges). optax's G₀ = 0.1 is not rescaled with"
        " the loss: with it, Adagrad's iterates move by up to {:.2g} for c = 0.01 (small gradients, G₀"
        " dominates) and {:.2g} for c = 100."
    ).format(
        vals["adagrad_g0_0_max_diff_c0.01"], vals["adagrad_g0_0_max_diff_c100"], gd1,
        vals["gd_final_abs_x_c0.01"], vals["gd_final_abs_x_c100"],
        vals["adagrad_g0_0.1_max_diff_c0.01"], vals["adagrad_g0_0.1_max_diff_c100"],
    )  # fmt: skip
    vals = {k: (v if np.isfinite(v) else 1e308) for k, v in vals.items()}
    held = max(vals["adagrad_g0_0_max_diff_c0.01"], vals["adagrad_g0_0_max_diff_c100"]) < 1e-12
    held = held and vals["gd_final_abs_x_c0.01"] > 100 * gd1 and vals["gd_final_abs_x_c100"] > 1e6
    return text, vals, held and vals["adagrad_g0_0.1_max_diff_c0.01"] > 1


@claim
def without_the_square_root_curvature_comes_back():
    """Exercise: drop the root (u = −η g/G) and, with G₀ = 0, the step is −η/g: the path depends on κ."""
    paths, first = {}, {}
    for kappa in (1, 1000):
        lam = np.array([1.0 / kappa, 1.0])
        w, G = np.array([1.0, 1.0]), np.zeros(2)
        for t in range(50):
            g = lam * w
            G = G + g * g
            w = w - 0.5 * g / G  # Adagrad would divide by np.sqrt(G)
            if t == 0:
                first[kappa] = abs(1.0 - w[0])
        paths[kappa] = w
    text = (
        "Without the square root the first step is −η/g, not −η·sign(g): at η = 0.5 the flat axis of κ = 1000"
    )
    text += (
        " (g = 0.001) jumps by {:.0f}, against {:.1f} at κ = 1; after 50 steps |x1| is {:.3g} against {:.3g}."
    )
    text = text.format(first[1000], first[1], abs(paths[1000][0]), abs(paths[1][0]))
    vals = {"first_step_kappa_1000": first[1000], "first_step_kappa_1": first[1]}
    vals |= {"abs_x1_kappa_1000": abs(paths[1000][0]), "abs_x1_kappa_1": abs(paths[1][0])}
    return text, vals, first[1000] > 100 * first[1] and abs(paths[1000][0]) > 1e3 * abs(paths[1][0])


# ------------------------------------------------------------------ each method at its best η
def never_climbs(tr: ex.Trajectory) -> bool:
    """Whether the loss never rises above its starting value (no divergence or overshoot first)."""
    return bool(np.all(tr.loss <= tr.loss[0]))


def tune(runners: dict) -> dict:
    """Each runner at its best η on TEXTBOOK_GRID by the course's one tuning rule (notebooks 04–06):
    among the runs whose loss never rises above its start, the fewest steps to loss 1e-12 within the
    budget, ties (and runs that never reach it) broken by the lower final loss.

    ``{name: (best η, {η: steps to 1e-12}, best trajectory, {η: (never climbs, steps, final loss,
    peak loss over the starting loss)})}``; the steps table covers every η of the grid, climbing or not."""
    out = {}
    with np.errstate(all="ignore"):
        for name, run in runners.items():
            rows = {}
            for eta in map(float, TEXTBOOK_GRID):
                tr = run(eta)
                peak = float(np.max(tr.loss) / tr.loss[0])
                rows[eta] = (never_climbs(tr), steps_to(tr, TARGET), float(tr.loss[-1]), peak)
            allowed = [e for e, row in rows.items() if row[0]]
            best = min(allowed, key=lambda e: (rows[e][1], rows[e][2]))
            out[name] = (best, {e: row[1] for e, row in rows.items()}, run(best), rows)
    return out


def fastest_ignoring_the_rule(rows: dict) -> tuple[float, int, float]:
    """The η of the grid that reaches 1e-12 soonest whatever its loss does first (ties: the smaller η):
    ``(η, steps, peak loss over the starting loss)``; for showing what the rule excludes."""
    eta = min(rows, key=lambda e: (rows[e][1], e))
    return eta, rows[eta][1], rows[eta][3]


def faster_runs_all_climb(rows: dict, best: float) -> bool:
    """Whether every run of the grid that reaches 1e-12 sooner than ``best``'s rises above its start."""
    return all(not row[0] for row in rows.values() if row[1] < rows[best][1])


@functools.cache
def tuned_runs(angle: float = 0.0):
    """Adagrad and gradient descent, each at its best η, on the textbook quadratic rotated by ``angle``
    (the start stays at (−5, −2))."""
    q = ex.Quadratic.make([0.2, 4.0], angle=angle)
    return tune(
        {
            "Adagrad": lambda eta: ex.run_adagrad(q, START, eta, BUDGET),
            "gradient descent": lambda eta: ex.run_gd(q, START, eta, BUDGET),
        }
    )


@claim
def tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic():
    """Each method at its own best η from the same grid: steps until the loss is below 1e-12."""
    t = tuned_runs()
    vals = {}
    for name, key in (("Adagrad", "adagrad"), ("gradient descent", "gd")):
        vals[f"{key}_best_eta"], vals[f"{key}_steps"] = t[name][0], t[name][1][t[name][0]]
    vals["gd_over_adagrad"] = vals["gd_steps"] / vals["adagrad_steps"]
    text = (
        "Each at its best η on the grid (among the runs whose loss never rises above its start, the one that"
        " reaches loss 1e-12 soonest), from (−5, −2), axis-aligned curvature: Adagrad reaches loss 1e-12 in"
        " {:.0f} steps (η = {:g}), gradient descent in {:.0f} (η = {:g}), {:.1f}× as many."
    ).format(
        vals["adagrad_steps"], vals["adagrad_best_eta"], vals["gd_steps"], vals["gd_best_eta"],
        vals["gd_over_adagrad"],
    )  # fmt: skip
    wins = [e for e, n in t["Adagrad"][1].items() if n < vals["gd_steps"]]
    vals |= {"etas_where_adagrad_beats_best_gd": len(wins), "smallest_such_eta": min(wins)}
    for name, key in (("Adagrad", "adagrad"), ("gradient descent", "gd")):
        ok_etas = [e for e, n in t[name][1].items() if n < 10**9]
        vals |= {f"{key}_rates_reaching": len(ok_etas), f"{key}_reaching_from": min(ok_etas)}
        vals |= {f"{key}_reaching_to": max(ok_etas)}
    lam = ex.Quadratic.textbook().eigenvalues
    best_rate = 2 / (lam.min() + lam.max())
    exact_best = ex.run_gd(ex.Quadratic.textbook(), START, best_rate, BUDGET)
    vals["gd_exact_best_steps"] = steps_to(exact_best, TARGET)
    text += (
        " Gradient descent's exact best constant rate, 2/(λ_min + λ_max) = {:.3f}, falls between grid points"
        " and needs {} steps."
    ).format(best_rate, vals["gd_exact_best_steps"])
    contiguous = wins == [e for e in map(float, TEXTBOOK_GRID) if e >= min(wins)]
    ok = vals["adagrad_steps"] * 5 < vals["gd_steps"] and contiguous and len(wins) >= 10
    wider = vals["adagrad_rates_reaching"] > 2 * vals["gd_rates_reaching"] and vals["gd_reaching_to"] < 0.5
    return text, vals, ok and wider and vals["gd_exact_best_steps"] < vals["gd_steps"]


@claim
def tuned_adagrad_divides_out_the_curvatures():
    """After its first steps, tuned Adagrad's gradients have filled G so that η·λᵢ/√Gᵢ is near 1 on both
    axes: both contract fast, as if the curvatures had been divided out. The grid's faster runs
    overshoot, their loss rising first."""
    eta, _, tr, rows = tuned_runs()["Adagrad"]
    lam = np.array([0.2, 4.0])
    factor = tr.effective_lr[-1] * lam  # η·λᵢ/√(Gᵢ + ε) at the end
    early = tr.effective_lr[5] * lam
    at2 = ex.run_adagrad(ex.Quadratic.textbook(), START, 2.0, BUDGET).effective_lr[-1] * lam
    fast_eta, fast_steps, fast_peak = fastest_ignoring_the_rule(rows)
    vals = {"best_eta": eta, "best_steps": rows[eta][1], "x1_after_step_1": tr.params[1, 0]}
    vals |= {"x2_after_step_1": tr.params[1, 1], "factor_x1": factor[0], "factor_x2": factor[1]}
    vals |= {"factor_x1_eta_2": at2[0], "factor_x2_eta_2": at2[1]}
    vals |= {"fastest_eta": fast_eta, "fastest_steps": fast_steps, "fastest_peak_over_start": fast_peak}
    text = (
        f"Tuned Adagrad's first step (η = {eta:g}) is about η on each axis: (−5, −2) goes to"
        f" ({tr.params[1, 0]:.2f}, {tr.params[1, 1]:.2f}), past the minimum on the steep axis x2, and its"
        " loss never rises above its start. The gradients of those first steps fill G, and from step 6 on the"
        f" contraction per step, x ← (1 − η·λᵢ/√Gᵢ)·x, has η·λᵢ/√Gᵢ = {factor[0]:.2f} and {factor[1]:.2f}:"
        f" x1 is multiplied by {1 - factor[0]:.2f} and x2 by {1 - factor[1]:.2f} a step, as if the curvatures"
        f" had been divided out. At η = 2 x1's factor stays at {at2[0]:.2f}: x1 is only multiplied by"
        f" {1 - at2[0]:.2f} a step, because a small η leaves √G too large for the flat axis. The grid's"
        f" fastest run ignoring the rule, η = {fast_eta:g}, takes {fast_steps} steps,"
        f" {rows[eta][1] - fast_steps} fewer, by overshooting both axes: its loss first rises to"
        f" {fast_peak:.1f}× its start."
    )
    held = rows[eta][0] and tr.params[1, 0] < 0 < tr.params[1, 1]
    held = held and np.all(np.abs(early / factor - 1) < 1e-4) and np.all(np.abs(1 - factor) < 0.4)
    fast_first = ex.run_adagrad(ex.Quadratic.textbook(), START, fast_eta, 1).params[1]
    vals |= {"fastest_x1_after_step_1": fast_first[0], "fastest_x2_after_step_1": fast_first[1]}
    held = held and at2[0] < 0.5 and fast_steps < rows[eta][1] and fast_peak > 1 and np.all(fast_first > 0)
    held = held and faster_runs_all_climb(rows, eta)  # "a still larger η saves steps only by overshooting"
    return text, vals, held


@claim
def adagrad_beats_tuned_gd_over_a_wide_band():
    """Exercise 3: the η at which Adagrad beats gradient descent's best step count form one band, from an
    edge found by bisection up to the grid's top; gradient descent's own band of η reaching 1e-12 is
    narrow and below its stability limit."""
    c = tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic().values
    table, target = tuned_runs()["Adagrad"][1], c["gd_steps"]
    q = ex.Quadratic.textbook()
    lo = max(e for e in table if e < c["smallest_such_eta"])  # the grid point below the band: loses
    hi = c["smallest_such_eta"]
    for _ in range(40):  # bisection between the two: steps(lo) ≥ target > steps(hi)
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if steps_to(ex.run_adagrad(q, START, mid, BUDGET), TARGET) < target else (mid, hi)
    at_one = steps_to(ex.run_adagrad(q, START, 1.0, BUDGET), TARGET)
    n, wins = len(TEXTBOOK_GRID), c["etas_where_adagrad_beats_best_gd"]
    vals = {"edge": hi, "steps_at_eta_1": at_one, "below_edge_grid_eta": max(e for e in table if e < hi)}
    vals["below_edge_grid_steps"] = table[vals["below_edge_grid_eta"]]
    # The tuning rule's part of the band: from this η on, the loss first rises above its start (overshoot).
    climbs = {float(e): not never_climbs(ex.run_adagrad(q, START, float(e), BUDGET)) for e in TEXTBOOK_GRID}
    vals["rule_edge"] = min(e for e, up in climbs.items() if up)
    vals["rule_band_top"] = max(float(e) for e in TEXTBOOK_GRID if e < vals["rule_edge"])
    # Gradient descent's next grid rate above its band: below the stability limit, yet too slow (the steep
    # axis is multiplied by 1 - η·λ_max, near -1: it oscillates and shrinks slowly).
    gd_table = tuned_runs()["gradient descent"][1]
    vals["gd_next_above"] = min(e for e in gd_table if e > c["gd_reaching_to"])
    vals["gd_next_above_steps"] = gd_table[vals["gd_next_above"]]
    text = (
        f"Adagrad beats gradient descent's best ({target:.0f} steps) at every η of the grid from"
        f" {c['smallest_such_eta']:g} to {max(TEXTBOOK_GRID):g} ({wins:.0f} of"
        f" {n} rates); between grid points, bisection puts the band's lower edge at η = {hi:.3f}"
        f" (η = {vals['below_edge_grid_eta']:g} takes {vals['below_edge_grid_steps']} steps; the exercise's"
        f" η = 1 takes {at_one}). From η = {vals['rule_edge']:.3g} on, the loss first rises above its start,"
        f" so the band the tuning rule allows ends at {vals['rule_band_top']:.3g}."
        f" Reaching loss 1e-12 within 300 steps at all: Adagrad at"
        f" {c['adagrad_rates_reaching']:.0f} of the {n} rates (η from {c['adagrad_reaching_from']:g} to"
        f" {c['adagrad_reaching_to']:g}), gradient descent at {c['gd_rates_reaching']:.0f} (from"
        f" {c['gd_reaching_from']:g} to {c['gd_reaching_to']:g}, {c['gd_reaching_from'] / 0.5:.0%} to"
        f" {c['gd_reaching_to'] / 0.5:.0%} of its stability limit 2/λ_max = 0.5)."
    )
    held = vals["below_edge_grid_steps"] >= target and at_one < target and hi <= 1.0
    held = held and c["adagrad_rates_reaching"] > 3 * c["gd_rates_reaching"]
    held = held and c["gd_reaching_to"] / c["gd_reaching_from"] < 2 and c["gd_reaching_to"] < 0.5
    held = held and all(up for e, up in climbs.items() if e >= vals["rule_edge"])  # one edge, no gap above
    held = held and 10**0.5 < vals["rule_band_top"] / hi < 10  # the rule's band: still most of a decade
    held = held and vals["gd_next_above"] < 0.5 and vals["gd_next_above_steps"] >= 10**9
    return text, vals, held


@claim
def tuned_gd_beats_diagonal_adagrad_once_rotated():
    """Rotate the same quadratic by 45° (the start stays at (−5, −2)): the diagonal rates no longer match
    the curvature, and tuned gradient descent beats tuned Adagrad."""
    t, aligned = tuned_runs(np.pi / 4), tuned_runs()
    vals = {
        "rotated_adagrad_best_eta": t["Adagrad"][0],
        "rotated_adagrad_steps": t["Adagrad"][1][t["Adagrad"][0]],
        "rotated_gd_best_eta": t["gradient descent"][0],
        "rotated_gd_steps": t["gradient descent"][1][t["gradient descent"][0]],
        "aligned_adagrad_steps": aligned["Adagrad"][1][aligned["Adagrad"][0]],
        "aligned_gd_steps": aligned["gradient descent"][1][aligned["gradient descent"][0]],
    }
    text = (
        "On the same quadratic rotated by 45° (same eigenvalues, same start, same grid) the ranking flips:"
        " tuned Adagrad needs {:.0f} steps to loss 1e-12 (η = {:g}; {:.0f} axis-aligned), tuned gradient"
        " descent {:.0f} (η = {:g}; {:.0f} axis-aligned): Adagrad takes {:.2f}× gradient descent's steps."
    ).format(
        vals["rotated_adagrad_steps"], vals["rotated_adagrad_best_eta"], vals["aligned_adagrad_steps"],
        vals["rotated_gd_steps"], vals["rotated_gd_best_eta"], vals["aligned_gd_steps"],
        vals["rotated_adagrad_steps"] / vals["rotated_gd_steps"],
    )  # fmt: skip
    same_gd = vals["rotated_gd_steps"] == vals["aligned_gd_steps"]  # "its step count does not change here"
    return text, vals, vals["rotated_adagrad_steps"] > vals["rotated_gd_steps"] and same_gd


# ------------------------------------------------------------------ figures
@plots.styled
def fig_contour(path: str | None = None, steps: int = 20):
    """The textbook f = 0.1 x1² + 2 x2² from (−5, −2): Adagrad and gradient descent at η = 0.4 and η = 2."""
    q = ex.Quadratic.textbook()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for ax, eta in zip(axes, (0.4, 2.0), strict=True):
        plots.contours(ax, q)
        for tr, color in (
            (ex.run_adagrad(q, [-5, -2], eta, steps, label=f"Adagrad, η = {eta:g}"), "tab:red"),
            (ex.run_gd(q, [-5, -2], eta, steps, label=f"gradient descent, η = {eta:g}"), "tab:blue"),
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
    return plots.save(fig, path)


@plots.styled
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
    plots.dress(ax, title, "size of the first gradient |g₁|", "size of the first step |u₁| (η = 1)")
    return plots.save(fig, path)


@plots.styled
def fig_condition_numbers(path: str | None = None):
    """Loss curves for κ = 1…1000: optax's G₀ = 0.1 (Adagrad crawls on the flat axis like gradient
    descent) against G₀ = ε = 0 (the path does not depend on the curvatures). Losses below 1e-16 are
    drawn at 1e-16."""
    flat = default_g0_flat_axis_is_gradient_descent()
    free = path_ignores_curvatures_without_g0_and_eps()
    floor = plots.LOSS_FLOOR
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    colors = ["tab:green", "tab:blue", "tab:orange", "tab:red"]
    for (kappa, (ad, gd)), color in zip(kappa_runs(0.1, 1e-7).items(), colors, strict=True):
        label = f"Adagrad, κ = {kappa}"
        axes[0].semilogy(np.maximum(ad.loss, floor), "-", color=color, linewidth=2, label=label)
        label = f"GD η = 1/λ_max, κ = {kappa}"
        if kappa == 1:
            label += " (loss exactly 0 from step 1)"
        axes[0].semilogy(np.maximum(gd.loss, floor), "--", color=color, label=label)
    title = f"G₀ = 0.1: at κ = 1000 both crawl (Adagrad {flat.values['adagrad_loss']:.2g}, GD"
    title += f" {flat.values['gd_loss']:.2g}):\non the flat axis Adagrad is GD with rate η/√G₀"
    plots.dress(axes[0], title, "step t", "loss (log; below 1e-16 drawn at 1e-16)", ncol=2, fontsize=8)
    for (kappa, (ad, _)), color, width in zip(
        kappa_runs(0.0, 0.0).items(), colors, (6, 4.5, 3, 1.5), strict=True
    ):
        label = f"Adagrad, κ = {kappa}"
        distance = np.linalg.norm(ad.params, axis=1)  # the same iterates give the same distance (not loss)
        axes[1].semilogy(distance, color=color, linewidth=width, label=label)
    title = "G₀ = ε = 0: one path for every κ (iterates agree to"
    title += f" {max(free.values['max_rel_path_difference'], 1e-16):.2g}),"
    title += "\nthe curvatures cancel out of g/√Σg²"
    plots.dress(axes[1], title, "step t (the first 80 of the 500)", "distance to the optimum ‖x‖ (log)",
                fontsize=9)  # fmt: skip
    axes[1].set_xlim(-1, 80)  # the loss is below 1e-16 from step ~33; the distance (its square root) ~66
    for ax in axes:
        ax.set_ylim(floor / 3, 3)
    fig.suptitle("Adagrad (η = 0.5) and gradient descent on f = ½(x1²/κ + x2²) from (1, 1)")
    return plots.save(fig, path)


FIGURES = {
    "contour.png": fig_contour,
    "first_steps.png": fig_first_steps,
    "condition_numbers.png": fig_condition_numbers,
}
