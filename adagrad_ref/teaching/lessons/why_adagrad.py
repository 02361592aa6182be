"""Notebook 01, why Adagrad exists: rare features (Duchi, Hazan & Singer 2011).

The experiment: online linear regression with 200 features whose frequencies follow a Zipf-like
law (:mod:`adagrad_ref.teaching.rare_features`), Adagrad against SGD with the step η₀/√t, each at
its best η on :data:`GRID`; the regret against the best fixed weights in hindsight; how the gain
depends on the Zipf exponent; and the paper's derivation of √(Σ g²) checked on the run's gradients.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import plots
from adagrad_ref.teaching import rare_features as rf
from adagrad_ref.teaching.claim_base import claim

NOTEBOOK = "01_why_adagrad"

#: The learning rates tried for both methods: 0.03·10^(k/4), k = 0…10 (0.03 to 9.49).
GRID = np.round(0.03 * 10 ** (np.arange(11) / 4), 3)

#: The Zipf exponents of the gain experiment (1 is the main problem's).
EXPONENTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


@functools.cache
def runs(exponent: float = 1.0):
    """The experiment at one Zipf exponent: ``(data, {method: (best run, {η: cumulative loss})},
    (best weights in hindsight, their cumulative loss))``."""
    data = rf.make_problem(exponent=exponent)
    best = {m: rf.sweep(data, m, GRID) for m in ("adagrad", "sgd")}
    return data, best, rf.best_in_hindsight(data)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)))


def regret_slope(run, comparator_cumulative: np.ndarray, start: int = 1000) -> float:
    """The log-log slope of the cumulative regret against T, fitted from T = ``start`` to the end."""
    regret = run.cumulative_loss - comparator_cumulative
    T = np.arange(1, regret.size + 1)
    return float(np.polyfit(np.log(T[start - 1 :]), np.log(regret[start - 1 :]), 1)[0])


@claim
def rare_features_adagrad_learns_rare_weights():
    """Each at its best η: Adagrad's error on the 10 rarest weights is far below SGD's (η₀/√t)."""
    data, best, _ = runs()
    vals = {}
    for m in ("adagrad", "sgd"):
        run = best[m][0]
        e = run.w - data.w_star
        vals[f"{m}_best_eta"] = run.learning_rate
        vals[f"{m}_rare10_rms_error"] = _rms(e[-10:])
        vals[f"{m}_frequent10_rms_error"] = _rms(e[:10])
        vals[f"{m}_cumulative_loss"] = run.cumulative_loss[-1]
    edge = [m for m in ("adagrad", "sgd") if vals[f"{m}_best_eta"] in (GRID[0], GRID[-1])]
    text = (
        "Each at its best η (Adagrad {:g}, SGD {:g}, both inside the grid), the RMS error on the 10 rarest"
        " weights is {:.3f} for Adagrad against {:.3f} for SGD with η₀/√t; on the 10 most frequent {:.3f}"
        " against {:.3f}; the cumulative loss {:.0f} against {:.0f}."
    ).format(
        vals["adagrad_best_eta"], vals["sgd_best_eta"],
        vals["adagrad_rare10_rms_error"], vals["sgd_rare10_rms_error"], vals["adagrad_frequent10_rms_error"],
        vals["sgd_frequent10_rms_error"], vals["adagrad_cumulative_loss"], vals["sgd_cumulative_loss"],
    )  # fmt: skip
    ok = vals["adagrad_rare10_rms_error"] * 3 < vals["sgd_rare10_rms_error"] and not edge
    ok = ok and max(vals["adagrad_frequent10_rms_error"], vals["sgd_frequent10_rms_error"]) < 0.05
    return text, vals, ok and vals["adagrad_cumulative_loss"] < vals["sgd_cumulative_loss"]


@claim
def rare_features_regret_grows_slower_than_sqrt_t():
    """The cumulative regret of each method and its log-log slope."""
    data, best, (_, comp) = runs()
    a, s = best["adagrad"][0], best["sgd"][0]
    vals = {
        "adagrad_regret": a.cumulative_loss[-1] - comp[-1],
        "sgd_regret": s.cumulative_loss[-1] - comp[-1],
        "adagrad_slope": regret_slope(a, comp),
        "sgd_slope": regret_slope(s, comp),
    }
    text = (
        "After T = {:,} examples the regret against the best fixed weights is {:.0f} for Adagrad and {:.0f}"
        " for SGD ({:.1f}× Adagrad's); fitted over T = 1,000–{:,}, it grows as T to the power {:.2f} and"
        " {:.2f} (√T would be 0.5)."
    ).format(
        data.steps, vals["adagrad_regret"], vals["sgd_regret"], vals["sgd_regret"] / vals["adagrad_regret"],
        data.steps, vals["adagrad_slope"], vals["sgd_slope"],
    )  # fmt: skip
    ok = vals["adagrad_regret"] * 2 < vals["sgd_regret"] and vals["adagrad_slope"] < vals["sgd_slope"] < 0.5
    return text, vals, ok


def bound_terms(exponent: float = 1.0) -> dict[str, float]:
    """The data-dependent parts of the two regret bounds on one run each: Adagrad's
    D∞·Σᵢ‖g_{1:T,i}‖₂ and online gradient descent's D₂·‖g_{1:T}‖_F, with D∞ = ‖w*‖∞ and D₂ = ‖w*‖₂
    (the distance from the start w = 0 to the comparator), each on its own best run's gradients."""
    data, best, _ = runs(exponent)
    a, s = best["adagrad"][0].gradient_column_norms, best["sgd"][0].gradient_column_norms
    return {
        "adagrad_bound_term": float(np.abs(data.w_star).max() * a.sum()),
        "sgd_bound_term": float(np.linalg.norm(data.w_star) * np.linalg.norm(s)),
        "sum_over_sqrt_d_frobenius": float(a.sum() / (np.sqrt(data.d) * np.linalg.norm(a))),
    }


@claim
def comparing_two_upper_bounds_does_not_rank_the_methods():
    """The bounds' data terms point the other way from the measured regret."""
    _, best, (_, comp) = runs()
    vals = bound_terms()
    vals["regret_ratio_sgd_over_adagrad"] = float(
        (best["sgd"][0].cumulative_loss[-1] - comp[-1]) / (best["adagrad"][0].cumulative_loss[-1] - comp[-1])
    )
    text = (
        "The data terms of the two bounds are {:.0f} for Adagrad (D∞·Σᵢ‖g_{{1:T,i}}‖₂) and {:.0f} for SGD"
        " (D₂·‖g_{{1:T}}‖_F): by its bound Adagrad would look worse, yet its measured regret is {:.1f}×"
        " smaller."
        " A bound only says how bad each method can get; two upper bounds do not rank two methods."
    ).format(vals["adagrad_bound_term"], vals["sgd_bound_term"], vals["regret_ratio_sgd_over_adagrad"])
    held = vals["adagrad_bound_term"] > vals["sgd_bound_term"] and vals["regret_ratio_sgd_over_adagrad"] > 2
    return text, vals, held


@functools.cache
def exponent_gains() -> dict[float, dict[str, float]]:
    """For each Zipf exponent: SGD's regret over Adagrad's (each at its best η), Σᵢ‖g_{1:T,i}‖₂ over
    its worst case √d·‖g_{1:T}‖_F, and how often the rarest feature appears."""
    out = {}
    for a in EXPONENTS:
        data, best, (_, comp) = runs(a)
        regrets = {m: float(best[m][0].cumulative_loss[-1] - comp[-1]) for m in best}
        counts = np.bincount(np.concatenate(data.rows), minlength=data.d)
        out[a] = {
            "gain": regrets["sgd"] / regrets["adagrad"],
            "sum_over_sqrt_d_frobenius": bound_terms(a)["sum_over_sqrt_d_frobenius"],
            "rarest_ten_min_count": float(counts[-10:].min()),
            "rarest_ten_max_count": float(counts[-10:].max()),
            "edge": float(any(best[m][0].learning_rate in (GRID[0], GRID[-1]) for m in best)),
        }
    return out


@claim
def the_gain_depends_on_how_rare_the_rare_features_are():
    """The gain is a hump over the exponent: largest at a moderate rarity, smaller at both ends (when
    every feature is common, and when the rare ones are seen at most a few times or never). Where
    exactly it peaks is this draw of the data, not the lesson (a reviewer's reruns on other seeds put
    the peak anywhere from a = 0.75 to 1.25; the hump held on all five)."""
    g = exponent_gains()
    vals = {f"{k}_a{a:g}": v for a, row in g.items() for k, v in row.items()}

    def seen(row):
        lo, hi = row["rarest_ten_min_count"], row["rarest_ten_max_count"]
        never = "; some never" if not lo else ""
        return f"the 10 rarest features seen {lo:.0f} to {hi:.0f} times each{never}"

    parts = ["\n  a = {:g}: {:.1f}× ({})".format(a, row["gain"], seen(row)) for a, row in g.items()]
    ratios = [row["sum_over_sqrt_d_frobenius"] for row in g.values()]
    gains = [row["gain"] for row in g.values()]
    peak = max(g, key=lambda a: g[a]["gain"])
    top_two = sorted(g, key=lambda a: g[a]["gain"])[-2:]
    lo, hi = min(top_two), max(top_two)
    band = (g[hi]["rarest_ten_min_count"], g[lo]["rarest_ten_max_count"])
    vals |= {"peak_exponent": peak, "peak_gain": g[peak]["gain"], "band_min_count": band[0]}
    vals |= {"band_max_count": band[1], "band_low_exponent": lo, "band_high_exponent": hi}
    text = (
        "SGD's regret over Adagrad's, each at its best η, for Zipf exponents a (feature i present with"
        " probability 0.5/i^a, T = 10,000 examples):" + ";".join(parts) + ".\nThe gain is a hump: largest"
        " at a moderate rarity (on this draw of the data at a = {:g}, {:.1f}×; where exactly it peaks is the"
        " draw, not the lesson), where the rare features are seen often enough for their own rate to learn"
        " them and too rarely for a global η₀/√t that has decayed long before; smaller when every feature is"
        " common (a = {:g}: {:.1f}×) and when the rare ones are seen at most a few times or never (a = {:g}:"
        " {:.1f}×).\nMeanwhile Σᵢ‖g_{{1:T,i}}‖₂ / (√d·‖g_{{1:T}}‖_F),"
        " the factor by which sparsity shrinks Adagrad's bound (lower is better for Adagrad), falls"
        " steadily ({}): it does not predict"
        " where the measured gain peaks."
    ).format(
        peak,
        g[peak]["gain"],
        EXPONENTS[0],
        g[EXPONENTS[0]]["gain"],
        EXPONENTS[-1],
        g[EXPONENTS[-1]]["gain"],
        ", ".join(f"{r:.0%}" for r in ratios),
    )
    i = list(g).index(peak)
    rise_then_fall = all(np.diff(gains[: i + 1]) > 0) and all(np.diff(gains[i:]) < 0)
    hump = gains[0] < max(gains) and gains[-1] < max(gains)
    held = rise_then_fall and 0 < i < len(gains) - 1 and hump and all(x > 1 for x in gains)
    held = held and g[EXPONENTS[0]]["rarest_ten_min_count"] >= 100 and all(np.diff(ratios) < 0)
    held = held and not any(row["edge"] for row in g.values())
    return text, vals, held


def diagonal_cost(column_norms: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Σᵢ ‖g_{1:T,i}‖² / sᵢ for each row of ``scales``: the gradient term of the regret bound of a
    fixed diagonal step w ← w − η·diag(s)⁻¹·g (Duchi, Hazan & Singer 2011, section 1.1)."""
    return np.sum(column_norms**2 / np.atleast_2d(scales), axis=1)


@claim
def sqrt_of_the_sum_is_the_best_diagonal_in_hindsight():
    """The paper's derivation, checked on the best Adagrad run's gradients: among scales s > 0 with
    Σᵢ sᵢ = d, Σᵢ ‖g_{1:T,i}‖²/sᵢ is least at sᵢ ∝ ‖g_{1:T,i}‖₂ = √(Σ_t g²_{t,i}), and equals
    (Σᵢ ‖g_{1:T,i}‖₂)²/d there."""
    _, best, _ = runs()
    n = best["adagrad"][0].gradient_column_norms
    d = n.size
    s_star = d * n / n.sum()
    rng = np.random.default_rng(0)
    random_scales = d * rng.dirichlet(np.ones(d), size=10_000)
    nearby = s_star * np.exp(0.05 * rng.standard_normal((1_000, d)))
    nearby *= d / nearby.sum(axis=1, keepdims=True)
    vals = {
        "cost_at_sqrt_of_sum": float(diagonal_cost(n, s_star)[0]),
        "closed_form": float(n.sum() ** 2 / d),
        "cost_one_scale": float(diagonal_cost(n, np.ones(d))[0]),
        "best_random": float(diagonal_cost(n, random_scales).min()),
        "best_nearby": float(diagonal_cost(n, nearby).min()),
    }
    text = "On the best Adagrad run's gradients (d = {}), the scales sᵢ ∝ ‖g_{{1:T,i}}‖₂ give"
    text += " Σᵢ ‖g_{{1:T,i}}‖²/sᵢ = {:.6g}, and (Σᵢ ‖g_{{1:T,i}}‖₂)²/d = {:.6g}; one scale for every feature"
    text += " gives {:.6g} ({:.2f}× more); the best of 10,000 random scales {:.6g}, the best of 1,000"
    text += " perturbations of sᵢ by about 5% {:.6g}: none lower."
    text = text.format(
        d, vals["cost_at_sqrt_of_sum"], vals["closed_form"], vals["cost_one_scale"],
        vals["cost_one_scale"] / vals["cost_at_sqrt_of_sum"], vals["best_random"], vals["best_nearby"],
    )  # fmt: skip
    c = vals["cost_at_sqrt_of_sum"]
    ok = bool(np.all(n > 0)) and abs(c / vals["closed_form"] - 1) < 1e-12
    return text, vals, ok and c < min(vals["cost_one_scale"], vals["best_random"], vals["best_nearby"])


@claim
def another_budget_gives_another_power():
    """Exercise: under the budget Σᵢ sᵢ² = d the best scales are sᵢ ∝ ‖g_{1:T,i}‖₂^(2/3), not the root
    of the sum: checked against other powers and 1,000 perturbations, on the best Adagrad run's gradients."""
    _, best, _ = runs()
    n = best["adagrad"][0].gradient_column_norms
    d = n.size

    def on_budget(s):  # every row of s rescaled to Σ s² = d
        s = np.atleast_2d(s)
        return s * np.sqrt(d / np.sum(s * s, axis=1, keepdims=True))

    costs = {p: float(diagonal_cost(n, on_budget(n**p))[0]) for p in (2 / 3, 1.0, 0.5, 0.0)}
    rng = np.random.default_rng(1)
    nearby = on_budget(on_budget(n ** (2 / 3)) * np.exp(0.05 * rng.standard_normal((1000, d))))
    vals = {f"cost_power_{p:.3g}": c for p, c in costs.items()}
    vals["best_nearby"] = float(diagonal_cost(n, nearby).min())
    text = (
        "Under the budget Σᵢ sᵢ² = d, Σᵢ ‖g_{1:T,i}‖²/sᵢ is "
        + ", ".join(f"{c:.6g} for sᵢ ∝ ‖g_{{1:T,i}}‖₂^{p:.3g}" for p, c in costs.items())
        + f"; the best of 1,000 perturbations of the 2/3 power by about 5% {vals['best_nearby']:.6g}:"
        " the 2/3 power is the least."
    )
    others = [c for p, c in costs.items() if p != 2 / 3] + [vals["best_nearby"]]
    return text, vals, costs[2 / 3] < min(others)


@plots.styled
def fig_rare_features(path: str | None = None):
    """The rare-features problem: error per weight against its feature's frequency, and the cumulative
    regret against T, log-log, with the √T slope drawn."""
    data, best, (_, comp) = runs()
    c = rare_features_adagrad_learns_rare_weights()
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
        slope = regret_slope(run, comp)
        axes[1].loglog(
            T, np.maximum(regret, 1e-3), color=colors[m], linewidth=2,
            label=f"{label}: grows as T^{slope:.2f} over T = 1,000–{T[-1]:,}",
        )  # fmt: skip
    axes[1].loglog(
        T, np.sqrt(T / T[-1]) * regret[-1], "k--", label="√T (slope 0.5), through SGD's last point"
    )
    plots.dress(axes[0], "Error per weight: Adagrad learns the rare features", "feature frequency (log)",
                "|w_T − w*| (log)", fontsize=8)  # fmt: skip
    plots.dress(axes[1], "Cumulative regret against the best fixed weights", "T (log)", "regret (log)",
                fontsize=9)  # fmt: skip
    fig.suptitle(
        f"Online linear regression, {data.d} features, feature i present with probability 0.5/i,"
        f" T = {data.steps:,}"
    )
    return plots.save(fig, path)


FIGURES = {"rare_features.png": fig_rare_features}
