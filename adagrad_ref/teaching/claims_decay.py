"""The lessons of notebooks 01, 03, 04 and 05 (the documented example, learning-rate decay, the warning,
the textbook quadratic)."""

from __future__ import annotations

import functools

import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching.claim_base import START, claim, steps_to

#: The learning rates swept on the textbook quadratic, for every method alike.
TEXTBOOK_GRID = np.round(np.geomspace(0.05, 10.0, 31), 4)


# ------------------------------------------------------------- notebook 01: the documented example
@claim
def first_step_moves_every_coordinate_by_eta():
    """The documented example's first step moves every coordinate by about η."""
    from adagrad_ref.example import run_documented_example

    w = run_documented_example("numpy", steps=1)
    moves = (w[0] - w[1]).astype(np.float64)
    text = (
        "In the documented example (η = 1, G₀ = 0.1) step 1 moves every coordinate by about η, whatever its "
        "gradient (2, 4, 6): the first step is about −η·sign(g). x₁ lands near 0 only because x₁ = η = 1."
    )
    return (
        text,
        {"move_x1": moves[0], "move_x2": moves[1], "move_x3": moves[2]},
        np.all(abs(moves - 1) < 0.02),
    )


@claim
def first_step_is_eta_sign_with_g0_zero():
    """With G₀ = 0 the first update is −η·sign(g) for any |g| ≫ √ε; G₀ = 0.1 damps small gradients."""
    from adagrad_ref import adagrad

    g = np.geomspace(1e-2, 1e3, 50)
    u0, _ = (opt := adagrad(1.0, 0.0)).update(g, opt.init(np.zeros_like(g)))
    small = np.array([1e-3])
    u1, _ = (opt1 := adagrad(1.0, 0.1)).update(small, opt1.init(small))
    dev = float(np.max(np.abs(u0 / -1.0 - 1)))
    damped = float(u1[0] / (-1.0 * small[0] / np.sqrt(0.1)))
    text = (
        f"With G₀ = 0 the first update is −η·sign(g) whatever |g| (until g² is as small as ε): |u₁| = η"
        f" within {max(dev, 1e-16):.1g}; optax's G₀ = 0.1 damps a small first gradient to about −η·g/√0.1"
        f" (η = 1, g = 1e-3: u₁ = {u1[0]:.3g}, {damped:.4f}× −η·g/√0.1)."
    )
    vals = {
        "max_rel_dev_g0_0": dev,
        "first_step_g0_0.1_g_1e-3": -u1[0],
        "u1_over_minus_eta_g_over_sqrt_g0": damped,
    }
    return text, vals, dev < 1e-3 and -u1[0] < 0.01 and abs(damped - 1) < 1e-3


# -------------------------------------------------- notebooks 03 and 04: learning-rate decay, the warning
@functools.cache
def decay_runs():
    q = ex.Quadratic.textbook()
    return {s: ex.run_adagrad(q, START, 0.4, 10_000, noise=s) for s in (0.0, 0.5, 1.0, 2.0)}


@claim
def exact_gradients_rate_levels_off():
    """With exact gradients the accumulator stops growing, and the effective rate stops falling."""
    tr = decay_runs()[0.0]
    change = np.max(np.abs(tr.effective_lr[-1] / tr.effective_lr[999] - 1))
    text = "With exact gradients the effective rate levels off: between steps 1,000 and 10,000 it changes by"
    text += " less than 1e-6 (relative) on both coordinates."
    return text, {"rel_change_1e3_to_1e4": change, "rate_x1": tr.effective_lr[-1, 0]}, change < 1e-6


@claim
def noisy_rate_is_eta_over_sigma_sqrt_t():
    """With gradient noise σ, G_t ≈ σ² t and the rate falls as η/(σ√t), for every σ tried."""
    runs = decay_runs()
    vals = {}
    for s in (0.5, 1.0, 2.0):
        vals[f"rate*sigma*sqrt(t)/eta, sigma={s:g}"] = runs[s].effective_lr[-1, 0] * s * np.sqrt(10_000) / 0.4
    text = (
        "With noisy gradients (std σ) the rate falls as η/(σ√t): at t = 10,000, rate·σ√t/η is within 10% of 1"
    )
    text += " for σ = 0.5, 1 and 2 (flat coordinate)."
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
    """The run notebook 03's sliders draw: f = ½(4/κ·x1² + 4·x2²) from (−5, −2)."""
    q = ex.Quadratic.make([4.0 / kappa, 4.0])
    return ex.run_adagrad(q, START, eta, steps, g0, 10.0**log10_eps, noise=sigma)


@claim
def slider_defaults_converge_noise_falls_slowly():
    """At the sliders' defaults the loss falls geometrically; with σ = 1 there is no floor: the noise
    level falls, but only as slowly as the effective rate does."""
    exact, noisy = slider_run(), slider_run(sigma=1.0, steps=20_000)
    windows = ((500, 1000), (1500, 2000), (19_000, 20_000))
    means = [float(noisy.loss[a:b].mean()) for a, b in windows]
    rates = [float(noisy.effective_lr[a:b, 0].mean()) for a, b in windows]
    text = (
        "At the sliders' defaults (κ = 20, exact gradients) the loss after 2,000 steps is {:.1g}. With σ = 1"
        " there is no noise floor: the mean loss is {:.2g} over steps 500–1,000, {:.2g} over 1,500–2,000"
        " and {:.2g} over 19,000–20,000 (a 20,000-step run), while the flat axis's mean rate goes {:.3g},"
        " {:.3g}, {:.3g}: the noise level falls ({:.1f}×), but only about as slowly as the rate ({:.1f}×)."
    ).format(exact.loss[-1], *means, *rates, means[0] / means[-1], rates[0] / rates[-1])
    vals = {"exact_loss": exact.loss[-1]}
    vals |= {f"noisy_mean_loss_{a}_{b}": m for (a, b), m in zip(windows, means, strict=True)}
    vals |= {f"flat_rate_{a}_{b}": r for (a, b), r in zip(windows, rates, strict=True)}
    falls = means[0] > means[1] > means[2] > 1e-4
    slow = 0.5 < (means[0] / means[-1]) / (rates[0] / rates[-1]) < 2
    return text, vals, exact.loss[-1] < 1e-30 and falls and slow


@functools.cache
def warning_runs():
    q = ex.Quadratic.make([1.0, 1.0])
    shift = (5000, [3.0, -3.0])
    kw = dict(noise=1.0, shift=shift)
    return (
        ex.run_adagrad(q, [1.0, 1.0], 0.5, 6000, label="Adagrad, η = 0.5", **kw),
        ex.run_gd(q, [1.0, 1.0], 0.05, 6000, label="gradient descent, η = 0.05", **kw),
        ex.run_rmsprop(q, [1.0, 1.0], 0.05, 6000, decay=0.99, label="RMSProp, η = 0.05, decay 0.99", **kw),
    )


def recovery_steps(tr: ex.Trajectory, shift_at: int = 5000, level: float = 0.1) -> int:
    """Steps after the move until the loss first falls below ``level`` again."""
    below = np.flatnonzero(tr.loss[shift_at:] < level)
    return int(below[0]) if below.size else 10**9


@claim
def warning_adagrad_lags_after_the_move():
    """After 5,000 noisy steps the optimum moves; Adagrad takes far longer than gradient descent to follow."""
    ad, gd, _ = warning_runs()
    a, g = recovery_steps(ad), recovery_steps(gd)
    rate = float(ad.effective_lr[4999].max())
    root_g_100 = float(np.sqrt(ad.sum_of_squares[100]).mean())  # √G after 100 steps, about σ√100 = 10
    text = "After the optimum moves at step 5,000, Adagrad (η = 0.5) needs {} steps to bring the loss back"
    text += " under 0.1, gradient descent (η = 0.05) {}: Adagrad's rate at the move is {:.4f}, {:.0f}× below."
    text += " (Adagrad's η is 10× the others' because its rate is divided by √G, {:.1f} after 100 steps.)"
    vals = {"adagrad_steps": a, "gd_steps": g, "adagrad_rate_at_move": rate, "root_G_at_100": root_g_100}
    held = a > 4 * g and rate < 0.05 / 4 and abs(root_g_100 / 10 - 1) < 0.05
    return text.format(a, g, rate, 0.05 / rate, root_g_100), vals, held


@claim
def warning_adagrad_floor_is_lower_before_the_move():
    """The other side of the trade-off: before the move Adagrad's loss floor is below gradient descent's."""
    ad, gd, _ = warning_runs()
    fa, fg = float(np.mean(ad.loss[4000:5000])), float(np.mean(gd.loss[4000:5000]))
    text = "Before the move (steps 4,000–5,000) Adagrad's mean loss is {:.1f}× lower than gradient descent's:"
    text += " its decayed rate averages the noise away; that is what costs it the lag."
    return text.format(fg / fa), {"adagrad_floor": fa, "gd_floor": fg, "ratio": fg / fa}, 5 <= fg / fa <= 20


@claim
def the_trade_off_is_the_rate_adagrad_has_reached():
    """Gradient descent at the constant rate Adagrad has decayed to by the move has Adagrad's floor and
    Adagrad's lag: both sides of the warning's trade-off are set by that one rate."""
    ad, _, _ = warning_runs()
    rate = float(ad.effective_lr[4999].max())
    q = ex.Quadratic.make([1.0, 1.0])
    slow = ex.run_gd(q, [1.0, 1.0], rate, 6000, noise=1.0, shift=(5000, [3.0, -3.0]))
    vals = {
        "rate": rate,
        "gd_floor": float(np.mean(slow.loss[4000:5000])),
        "adagrad_floor": float(np.mean(ad.loss[4000:5000])),
        "gd_steps": recovery_steps(slow),
        "adagrad_steps": recovery_steps(ad),
    }
    text = "Gradient descent at Adagrad's rate at the move (η = {:.4f}, constant from the start): mean loss"
    text += " {:.4f} over steps 4,000–5,000 (Adagrad {:.4f}) and {} steps to recover (Adagrad {})."
    text = text.format(rate, vals["gd_floor"], vals["adagrad_floor"], vals["gd_steps"], vals["adagrad_steps"])
    ok = abs(vals["gd_floor"] / vals["adagrad_floor"] - 1) < 0.1
    return text, vals, ok and abs(vals["gd_steps"] / vals["adagrad_steps"] - 1) < 0.1


@claim
def effective_rate_never_rises_the_step_does():
    """The effective rate never rises; the step |Δx₁| grows when the gradients grow."""
    ad, _, _ = warning_runs()
    rates = ad.effective_lr
    rises = int(np.count_nonzero(np.diff(rates, axis=0) > 0))
    dx = np.abs(np.diff(ad.params[:, 0]))
    grow = float(np.mean(dx[5000:5020]) / np.mean(dx[4800:5000]))
    text = "Adagrad's effective rate never rises (in 6,000 steps it rises {} times); the step does: the mean"
    text += " |Δx₁| of the 20 steps after the move is {:.1f}× that of the 200 before."
    return text.format(rises, grow), {"rate_rises": rises, "step_growth": grow}, rises == 0 and grow > 2


@claim
def rmsprop_follows_the_move():
    """RMSProp's decaying average forgets the old gradients: it follows the move much faster than Adagrad."""
    ad, _, rp = warning_runs()
    a, r = recovery_steps(ad), recovery_steps(rp)
    rates = rp.effective_lr[-1].mean(), ad.effective_lr[-1].mean()
    floors = [float(np.mean(tr.loss[4000:5000])) for tr in (rp, ad)]
    text = (
        "With a decaying average (RMSProp, decay 0.99, η = 0.05) instead of the sum, the loss is back under"
    )
    text += " 0.1 after {} steps, against Adagrad's {}. The price: its rate no longer decays (at step 6,000"
    text += " {:.3f}, Adagrad's {:.4f}) and its loss floor before the move is {:.1f}× Adagrad's."
    text = text.format(r, a, rates[0], rates[1], floors[0] / floors[1])
    # Its rate, mean over both coordinates: over the 1,000 steps before the move, and at its lowest in
    # the 100 steps after it (the large new gradients fill the average, so the rate falls, not rises).
    before = float(rp.effective_lr[4000:5000].mean())
    after = float(rp.effective_lr[5000:5100].mean(axis=1).min())
    text += " Its rate was {:.3f} before the move (about η/σ, σ = 1); the move's large gradients"
    text += " lower it to {:.3f}."
    text = text.format(before, after)
    vals = {
        "rmsprop_steps": r,
        "adagrad_steps": a,
        "rmsprop_final_rate": rates[0],
        "adagrad_final_rate": rates[1],
        "rmsprop_rate_before_move": before,
        "rmsprop_lowest_rate_after_move": after,
    }
    vals |= {"rmsprop_floor": floors[0], "adagrad_floor": floors[1]}
    held = 3 * r < a and rates[0] > 4 * rates[1] and floors[0] > 3 * floors[1]
    return text, vals, held and after < 0.9 * before and abs(before / 0.05 - 1) < 0.1


# ------------------------------------------------------------- notebook 05: the textbook quadratic
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


@functools.cache
def tuned_runs():
    q = ex.Quadratic.textbook()
    runners = {
        "Adagrad": lambda eta: ex.run_adagrad(q, START, eta, 300),
        "gradient descent": lambda eta: ex.run_gd(q, START, eta, 300),
        "gradient descent η₀/√(t+1)": lambda eta: ex.run_gd(q, START, lambda t: eta / np.sqrt(t + 1), 300),
    }
    return _tune(runners)


def _tune(runners) -> dict:
    """Each runner at its best η on TEXTBOOK_GRID: ``{name: (best η, {η: steps to 1e-12}, trajectory)}``."""
    out = {}
    with np.errstate(all="ignore"):
        for name, run in runners.items():
            table = {float(eta): steps_to(run(eta), 1e-12) for eta in TEXTBOOK_GRID}
            best = min(table, key=lambda e: (table[e], e))
            out[name] = (best, table, run(best))
    return out


@functools.cache
def tuned_runs_rotated():
    """The textbook quadratic rotated by 45° (same eigenvalues, same start), tuned on the same grid."""
    q = ex.Quadratic.make([0.2, 4.0], angle=np.pi / 4)
    return _tune(
        {
            "Adagrad": lambda eta: ex.run_adagrad(q, START, eta, 300),
            "gradient descent": lambda eta: ex.run_gd(q, START, eta, 300),
        }
    )


@claim
def tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic():
    """Each method at its own best η from the same grid: steps until the loss is below 1e-12."""
    t = tuned_runs()
    vals = {}
    for name, key in (
        ("Adagrad", "adagrad"),
        ("gradient descent", "gd"),
        ("gradient descent η₀/√(t+1)", "gd_decay"),
    ):
        vals[f"{key}_best_eta"], vals[f"{key}_steps"] = t[name][0], t[name][1][t[name][0]]
    text = "Each at its best η on the grid, from (−5, −2), axis-aligned curvature: Adagrad reaches loss 1e-12"
    text += " in {:.0f} steps (η = {:g}), gradient descent in {:.0f} (η = {:g}), gradient descent with"
    text += " η₀/√(t+1) in {:.0f} (η₀ = {:g}): {:.1f}× and {:.1f}× Adagrad's steps."
    wins = [e for e, n in t["Adagrad"][1].items() if n < vals["gd_steps"]]
    text += " Adagrad beats gradient descent's best at every η from {:g} to {:g} on the grid ({} of {})."
    text = text.format(
        vals["adagrad_steps"], vals["adagrad_best_eta"], vals["gd_steps"], vals["gd_best_eta"],
        vals["gd_decay_steps"], vals["gd_decay_best_eta"], vals["gd_steps"] / vals["adagrad_steps"],
        vals["gd_decay_steps"] / vals["adagrad_steps"], min(wins), max(wins), len(wins), len(TEXTBOOK_GRID),
    )  # fmt: skip
    vals |= {"etas_where_adagrad_beats_best_gd": len(wins), "smallest_such_eta": min(wins)}
    vals |= {"gd_over_adagrad": vals["gd_steps"] / vals["adagrad_steps"]}
    vals |= {"gd_decay_over_adagrad": vals["gd_decay_steps"] / vals["adagrad_steps"]}
    # The same test for every method: at how many rates of the grid does it reach 1e-12 at all within
    # the 300 steps of each run?
    text += " Within 300 steps, loss 1e-12 is reached at"
    for name, key in (("Adagrad", "adagrad"), ("gradient descent", "gd")):
        ok_etas = [e for e, n in t[name][1].items() if n < 10**9]
        vals |= {f"{key}_rates_reaching": len(ok_etas), f"{key}_reaching_from": min(ok_etas)}
        vals |= {f"{key}_reaching_to": max(ok_etas)}
        text += " {} rates, η from {:g} to {:g}, by {}{}".format(
            len(ok_etas), min(ok_etas), max(ok_etas), name, ";" if key == "adagrad" else "."
        )
    q = ex.Quadratic.textbook()
    lam = q.eigenvalues
    best_rate = 2 / (lam.min() + lam.max())
    vals |= {"gd_exact_best_steps": steps_to(ex.run_gd(q, START, best_rate, 300), 1e-12)}
    text += f" Gradient descent's exact best constant rate 2/(λ_min + λ_max) = {best_rate:.3f}, between grid"
    text += f" points, needs {vals['gd_exact_best_steps']} steps."
    decay = t["gradient descent η₀/√(t+1)"][2]
    vals |= {"gd_decay_peak_loss": float(decay.loss.max()), "gd_decay_peak_step": int(decay.loss.argmax())}
    text += f" The best decaying run first climbs to loss {vals['gd_decay_peak_loss']:.1e} at step"
    text += f" {vals['gd_decay_peak_step']} (η₀/√(t+1) > 2/λ_max = {2 / lam.max():g} early on)."
    contiguous = wins == [e for e in map(float, TEXTBOOK_GRID) if e >= min(wins)]
    ok = vals["adagrad_steps"] * 5 < min(vals["gd_steps"], vals["gd_decay_steps"])
    wider = vals["adagrad_rates_reaching"] > 2 * vals["gd_rates_reaching"] and vals["gd_reaching_to"] < 0.5
    wider = wider and vals["gd_exact_best_steps"] < vals["gd_steps"]
    return text, vals, ok and contiguous and len(wins) >= 10 and wider


@claim
def tuned_gd_beats_diagonal_adagrad_once_rotated():
    """Rotate the same quadratic by 45°: the diagonal rates no longer match the curvature, and tuned
    gradient descent (rotation-invariant) beats tuned Adagrad."""
    t, aligned = tuned_runs_rotated(), tuned_runs()
    vals = {
        "rotated_adagrad_best_eta": t["Adagrad"][0],
        "rotated_adagrad_steps": t["Adagrad"][1][t["Adagrad"][0]],
        "rotated_gd_best_eta": t["gradient descent"][0],
        "rotated_gd_steps": t["gradient descent"][1][t["gradient descent"][0]],
        "aligned_adagrad_steps": aligned["Adagrad"][1][aligned["Adagrad"][0]],
    }
    text = (
        "On the same quadratic rotated by 45° (same eigenvalues, same start, same grid) the ranking flips:"
        " tuned Adagrad needs {:.0f} steps to loss 1e-12 (η = {:g}; {:.0f} axis-aligned), tuned gradient"
        " descent {:.0f} (η = {:g}): Adagrad takes {:.2f}× gradient descent's steps."
    ).format(
        vals["rotated_adagrad_steps"], vals["rotated_adagrad_best_eta"], vals["aligned_adagrad_steps"],
        vals["rotated_gd_steps"], vals["rotated_gd_best_eta"],
        vals["rotated_adagrad_steps"] / vals["rotated_gd_steps"],
    )  # fmt: skip
    return text, vals, vals["rotated_adagrad_steps"] > vals["rotated_gd_steps"]


@claim
def shared_eta_favours_gradient_descent():
    """At d2l's one shared η = 0.4 gradient descent wins: that η is near its best and far below Adagrad's."""
    q, t = ex.Quadratic.textbook(), tuned_runs()
    ad, gd = ex.run_adagrad(q, START, 0.4, 300), ex.run_gd(q, START, 0.4, 300)
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


@functools.cache
def kappa_runs(g0: float, eps: float):
    out = {}
    for kappa in (1, 10, 100, 1000):
        q = ex.Quadratic.make([1.0 / kappa, 1.0])
        out[kappa] = (ex.run_adagrad(q, [1.0, 1.0], 0.5, 500, g0, eps), ex.run_gd(q, [1.0, 1.0], 1.0, 500))
    return out


@claim
def path_ignores_curvatures_without_g0_and_eps():
    """With G₀ = ε = 0 the update is −η·x_i/√(Σ x_i²) per coordinate: λ cancels, every κ has one path."""
    runs = kappa_runs(0.0, 0.0)
    ref = runs[1][0].params
    dev = max(float(np.max(np.abs(runs[k][0].params - ref) / np.abs(ref))) for k in runs)
    losses = [runs[k][0].loss[-1] for k in runs]
    final = [float(np.linalg.norm(runs[k][0].params[-1])) for k in runs]
    text = "With G₀ = ε = 0, Adagrad's path on a diagonal quadratic does not depend on the curvatures: for"
    text += " κ = 1, 10, 100, 1000 the params agree to {:.2g} (relative; asserted below 1e-12) at every step,"
    text += " and after 500 steps every run is at |x| = {:.2g} (largest of the four; loss at most {:.2g})."
    vals = {"max_rel_path_difference": dev, "min_final_loss": min(losses), "max_final_loss": max(losses)}
    vals |= {"max_final_abs_x": max(final), "min_final_abs_x": min(final)}
    ok = dev < 1e-12 and max(losses) < 1e-200 and max(final) < 1e-100
    return text.format(max(dev, 1e-16), max(final), max(losses)), vals, ok


@claim
def default_g0_flat_axis_is_gradient_descent():
    """With optax's G₀ = 0.1 a flat axis's g² never moves its accumulator: there Adagrad is GD at η/√G₀."""
    a, g = kappa_runs(0.1, 1e-7)[1000]
    rel = float(np.max(np.abs(a.effective_lr[:, 0] / (0.5 / np.sqrt(0.1)) - 1)))
    text = "With optax's G₀ = 0.1, at κ = 1000 the flat axis's effective rate stays within {:.2%} of"
    text += " η/√G₀ (asserted: below 1%) for 500 steps: there Adagrad is gradient descent, and it crawls"
    text += " too (loss {:.3g}, GD at"
    text += " η = 1/λmax {:.3g})."
    vals = {"max_rel_dev_from_eta_over_sqrt_g0": rel, "adagrad_loss": a.loss[-1], "gd_loss": g.loss[-1]}
    return text.format(rel, a.loss[-1], g.loss[-1]), vals, rel < 0.01 and min(a.loss[-1], g.loss[-1]) > 1e-5


@claim
def d2l_trace():
    """d2l's printed trace is Adagrad with G₀ = 0 and ε = 1e-6 (inside the root, like optax)."""
    import math

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
    text = "run_adagrad(..., initial_accumulator_value=0, eps=1e-6) reproduces d2l's printed trace"
    text += " (x1: −2.382563,"
    text += (
        " x2: −0.158591; d2l puts ε inside the root too), within {:.0f} ULP of d2l's own float64 loop, which"
    )
    text += (
        " multiplies in another order; optax's G₀ = 0.1 moves x1 to {:.3f}; ε = 1e-7 instead of 1e-6 moves it"
    )
    text += " by {:.1g}."
    text = text.format(ulps.max(), optax_x1, abs(eps7_x1 - x1))
    vals = {"x1": tr.params[-1, 0], "x2": tr.params[-1, 1], "max_ulp_from_d2l_loop": ulps.max()}
    vals |= {"optax_x1": optax_x1, "eps_1e-7_x1": eps7_x1}
    # d2l (Dive into Deep Learning, section 12.7 "Adagrad") prints "epoch 20, x1: -2.382563, x2: -0.158591".
    printed = (f"{tr.params[-1, 0]:f}", f"{tr.params[-1, 1]:f}") == ("-2.382563", "-0.158591")
    return text, vals, printed and ulps.max() <= 2 and abs(eps7_x1 - x1) < 1e-6 and abs(optax_x1 - x1) > 0.03
