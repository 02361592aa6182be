"""The lessons of notebooks 02 and 05–07: rare features, no square root, diagonal against full matrix,
frameworks."""

from __future__ import annotations

import functools

import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching.claim_base import START, claim


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


# ------------------------------------------------------------- notebook 06: diagonal against full matrix
@functools.cache
def diag_full_runs():
    out = {}
    for name, angle in (("aligned", 0.0), ("rotated", np.pi / 4)):
        q = ex.Quadratic.make([0.2, 4.0], angle=angle)
        out[name] = (ex.run_adagrad(q, START, 0.4, 60), ex.run_full_matrix(q, START, 0.4, 60))
    return out


@functools.cache
def tuned_diag_full():
    """Diagonal and full-matrix Adagrad, each at its own best η on notebook 05's grid, aligned and rotated.

    ``{"aligned" | "rotated": {"diagonal" | "full matrix": (best η, steps to loss 1e-12, trajectory)}}``.
    """
    from adagrad_ref.teaching.claim_base import steps_to
    from adagrad_ref.teaching.claims_decay import TEXTBOOK_GRID

    out = {}
    for name, angle in (("aligned", 0.0), ("rotated", np.pi / 4)):
        q = ex.Quadratic.make([0.2, 4.0], angle=angle)
        row = {}
        for method, run in (
            ("diagonal", lambda eta, q=q: ex.run_adagrad(q, START, eta, 300)),
            ("full matrix", lambda eta, q=q: ex.run_full_matrix(q, START, eta, 300)),
        ):
            with np.errstate(all="ignore"):
                table = {float(eta): steps_to(run(eta), 1e-12) for eta in TEXTBOOK_GRID}
            best = min(table, key=lambda e: (table[e], e))
            row[method] = (best, table[best], run(best))
        out[name] = row
    return out


@claim
def tuned_diagonal_ties_aligned_full_matrix_wins_rotated():
    """Each at its best η: a tie on the axis-aligned quadratic; rotated, the full matrix wins by far."""
    t = tuned_diag_full()
    vals = {}
    for name in ("aligned", "rotated"):
        for method, key in (("diagonal", "diag"), ("full matrix", "full")):
            vals[f"{name}_{key}_best_eta"], vals[f"{name}_{key}_steps"] = t[name][method][:2]
    d, f = diag_full_runs()["aligned"]
    at = {n: float(d.loss[n] / f.loss[n]) for n in (10, 30, 60)}
    vals |= {f"untuned_aligned_ratio_step_{n}": r for n, r in at.items()}
    text = (
        "Each at its best η on notebook 05's grid, from (−5, −2), steps to loss 1e-12: on the axis-aligned"
        " quadratic the diagonal needs {:.0f} (η = {:g}) and the full matrix {:.0f} (η = {:g}), a tie;"
        " rotated by 45° the diagonal needs {:.0f} (η = {:g}) and the full matrix still {:.0f} (η = {:g})."
        " At one untuned η = 0.4 the aligned verdict depends on when one stops: the diagonal's loss over"
        " the full matrix's is {:.2f} at step 10, {:.2f} at 30 and {:.2f} at 60."
    ).format(
        vals["aligned_diag_steps"], vals["aligned_diag_best_eta"], vals["aligned_full_steps"],
        vals["aligned_full_best_eta"], vals["rotated_diag_steps"], vals["rotated_diag_best_eta"],
        vals["rotated_full_steps"], vals["rotated_full_best_eta"], at[10], at[30], at[60],
    )  # fmt: skip
    tie = abs(vals["aligned_diag_steps"] - vals["aligned_full_steps"]) <= 2
    wins = vals["rotated_diag_steps"] > 10 * vals["rotated_full_steps"]
    return text, vals, tie and wins and at[10] < 1 < at[60]


@claim
def full_matrix_is_rotation_invariant_if_the_start_rotates_too():
    """Rotating the problem AND the start point rotates the full-matrix path; the start alone breaks it."""
    R = ex.Quadratic.make([0.2, 4.0], angle=np.pi / 4).rotation
    aligned = ex.run_full_matrix(ex.Quadratic.make([0.2, 4.0]), START, 0.4, 60)
    rotated = ex.run_full_matrix(ex.Quadratic.make([0.2, 4.0], angle=np.pi / 4), R @ START, 0.4, 60)
    same_start = diag_full_runs()["rotated"][1]
    dev = float(np.max(np.abs(aligned.params @ R.T - rotated.params)))
    loss_dev = float(np.max(np.abs(rotated.loss / aligned.loss - 1)))
    same_dev = float(np.max(np.abs(same_start.loss / aligned.loss - 1)))
    text = "Full-matrix Adagrad is rotation-invariant when the start point is rotated too: the paths agree to"
    text += (
        " {:.1g} and the losses to {:.1g} (relative); from the same (−5, −2) the rotated run's loss differs"
    )
    text += " from the aligned one's by up to {:.0%} over the 60 steps."
    vals = {
        "max_path_difference": dev,
        "max_rel_loss_difference": loss_dev,
        "same_start_max_rel_loss_diff": same_dev,
    }
    return text.format(max(dev, 1e-16), max(loss_dev, 1e-16), same_dev), vals, dev < 1e-9 and same_dev > 0.1


# ------------------------------------------------------------- notebook 07: four frameworks
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


# ------------------------------------------------------------- notebook 02: rare features
@functools.cache
def rare_features_runs():
    """The rare-features experiment: the problem, the sweeps, each method's best run, the comparator."""
    from adagrad_ref.teaching import rare_features as rf

    data = rf.make_problem()
    grid = np.round(np.geomspace(0.03, 3.0, 9), 3)
    best = {m: rf.sweep(data, m, grid) for m in ("adagrad", "sgd")}
    return data, grid, best, rf.best_in_hindsight(data)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)))


@claim
def rare_features_adagrad_learns_rare_weights():
    """Each at its best η: Adagrad's error on the 10 rarest weights is far below SGD's (η₀/√t)."""
    data, _, best, _ = rare_features_runs()
    vals = {}
    for m in ("adagrad", "sgd"):
        run = best[m][0]
        e = run.w - data.w_star
        vals[f"{m}_best_eta"] = run.learning_rate
        vals[f"{m}_rare10_rms_error"] = _rms(e[-10:])
        vals[f"{m}_frequent10_rms_error"] = _rms(e[:10])
        vals[f"{m}_cumulative_loss"] = run.cumulative_loss[-1]
    text = (
        "Each at its best η, the RMS error on the 10 rarest weights is {:.3f} for Adagrad against {:.3f} for"
    )
    text += " SGD with η₀/√t; on the 10 most frequent {:.3f} against {:.3f}; cumulative loss {:.0f}"
    text += " against {:.0f}."
    text = text.format(
        vals["adagrad_rare10_rms_error"], vals["sgd_rare10_rms_error"], vals["adagrad_frequent10_rms_error"],
        vals["sgd_frequent10_rms_error"], vals["adagrad_cumulative_loss"], vals["sgd_cumulative_loss"],
    )  # fmt: skip
    ok = vals["adagrad_rare10_rms_error"] * 3 < vals["sgd_rare10_rms_error"]
    ok = ok and max(vals["adagrad_frequent10_rms_error"], vals["sgd_frequent10_rms_error"]) < 0.05
    return text, vals, ok and vals["adagrad_cumulative_loss"] < vals["sgd_cumulative_loss"]


def regret_slope(run, comparator_cumulative: np.ndarray, start: int = 1000) -> float:
    """The log-log slope of the cumulative regret against T, fitted from T = ``start`` to the end."""
    regret = run.cumulative_loss - comparator_cumulative
    T = np.arange(1, regret.size + 1)
    return float(np.polyfit(np.log(T[start - 1 :]), np.log(regret[start - 1 :]), 1)[0])


@claim
def rare_features_regret_grows_slower_than_sqrt_t():
    """The cumulative regret of each method, its log-log slope, and the paper's Σᵢ‖g_{1:T,i}‖₂."""
    data, _, best, (_, comp) = rare_features_runs()
    a, s = best["adagrad"][0], best["sgd"][0]
    vals = {
        "adagrad_regret": a.cumulative_loss[-1] - comp[-1],
        "sgd_regret": s.cumulative_loss[-1] - comp[-1],
        "adagrad_slope": regret_slope(a, comp),
        "sgd_slope": regret_slope(s, comp),
        "adagrad_sum_column_norms": a.gradient_column_norms.sum(),
        "sqrt_d_times_frobenius": np.sqrt(data.d) * np.linalg.norm(a.gradient_column_norms),
        # The data-dependent parts of the two regret bounds (Duchi et al. 2011, Theorem 5 and the
        # online gradient descent bound it is compared with): ‖w*‖∞·Σᵢ‖g_{1:T,i}‖₂ and ‖w*‖₂·‖g_{1:T}‖_F.
        "adagrad_bound_term": np.abs(data.w_star).max() * a.gradient_column_norms.sum(),
        "sgd_bound_term": np.linalg.norm(data.w_star) * np.linalg.norm(s.gradient_column_norms),
    }
    text = "Regret against the best fixed weights after T = {:,}: Adagrad {:.0f}, SGD {:.0f}; log-log slopes"
    text += (
        " over T = 1,000–{:,} {:.2f} and {:.2f} (√T is 0.5). Adagrad's Σᵢ‖g_{{1:T,i}}‖₂ = {:.0f} is {:.0%}"
    )
    text += " of its worst case √d·‖g_{{1:T}}‖_F. The bounds' data terms, ‖w*‖∞·Σᵢ‖g_{{1:T,i}}‖₂ = {:.0f}"
    text += " for Adagrad and ‖w*‖₂·‖g_{{1:T}}‖_F = {:.0f} for SGD, do not separate the methods here;"
    text += " the measured regret does."
    ratio = vals["adagrad_sum_column_norms"] / vals["sqrt_d_times_frobenius"]
    text = text.format(
        data.steps, vals["adagrad_regret"], vals["sgd_regret"], data.steps, vals["adagrad_slope"],
        vals["sgd_slope"], vals["adagrad_sum_column_norms"], ratio, vals["adagrad_bound_term"],
        vals["sgd_bound_term"],
    )  # fmt: skip
    ok = vals["adagrad_regret"] * 2 < vals["sgd_regret"] and vals["adagrad_slope"] < vals["sgd_slope"] < 0.5
    return text, vals, ok and ratio <= 1 and vals["adagrad_bound_term"] > vals["sgd_bound_term"]


def diagonal_cost(column_norms: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Σᵢ ‖g_{1:T,i}‖² / sᵢ for each row of ``scales``: the gradient term of the regret bound of a
    fixed diagonal step w ← w − η·diag(s)⁻¹·g (Duchi, Hazan & Singer 2011, section 1.1)."""
    return np.sum(column_norms**2 / np.atleast_2d(scales), axis=1)


@claim
def sqrt_of_the_sum_is_the_best_diagonal_in_hindsight():
    """The paper's derivation, checked on the best Adagrad run's gradients: among scales s > 0 with
    Σᵢ sᵢ = d, Σᵢ ‖g_{1:T,i}‖²/sᵢ is least at sᵢ ∝ ‖g_{1:T,i}‖₂ = √(Σ_t g²_{t,i}), and equals
    (Σᵢ ‖g_{1:T,i}‖₂)²/d there."""
    _, _, best, _ = rare_features_runs()
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
