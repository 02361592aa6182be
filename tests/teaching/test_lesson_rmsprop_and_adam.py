"""Notebook 07's lessons hold over the whole run, and its NumPy RMSProp and Adam are optax's.

Each test asserts the property a sentence of the notebook states, against the baselines the
notebook names (each method at its own best rate from one grid), over every move of the run.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adagrad_ref.numerics.ulp import ulp_distance
from adagrad_ref.teaching.lessons import rmsprop_and_adam as lesson

# ----------------------------------------------------------------------------- against optax

STEPS = 200


def _gradients(dtype, seed=0, n=64):
    """Gradients over many scales (1e-4 to 1e3), with a few exact zeros and sign changes."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((STEPS, n)) * 10.0 ** rng.uniform(-4, 3, size=(1, n))
    g[:, :4] = 0.0
    return g.astype(dtype)


def _run_both(ours, theirs, dtype):
    """Both optimizers on the same gradients; returns the worst ULP distance of the updates, the share
    of updates identical to the bit, and checks the states (ν, and Adam's m) are identical every step."""
    g = _gradients(dtype)
    s_ours, s_theirs = ours.init(np.zeros(g.shape[1], dtype)), theirs.init(jnp.zeros(g.shape[1], dtype))
    worst, same = 0, 0
    for t in range(STEPS):
        u, s_ours = ours.update(g[t], s_ours)
        v, s_theirs = theirs.update(jnp.asarray(g[t]), s_theirs)
        v = np.asarray(v)
        assert v.dtype == u.dtype == dtype
        state = s_theirs[0]  # (ScaleByRmsState or ScaleByAdamState, the learning rate's EmptyState)
        assert np.array_equal(np.asarray(state.nu), s_ours.nu), t
        if hasattr(state, "mu"):
            assert np.array_equal(np.asarray(state.mu), s_ours.mu), t
            assert int(state.count) == s_ours.count
        d = ulp_distance(v, u)
        worst, same = max(worst, int(d.max())), same + int(np.sum(d == 0))
    return worst, same / g.size


# The bound measured here (x86-64, jax 0.10): XLA's rsqrt is within 2 ULP of 1/√ (RMSProp), and the
# step's few roundings after it add at most 1; Adam's √ν̂ + ε and its division add one more.
BOUND = {"rmsprop": 3, "adam": 4}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kind, hyper",
    [
        ("rmsprop", {}),
        ("rmsprop", {"decay": 0.99, "eps": 1e-6}),
        ("adam", {}),
        ("adam", {"b1": 0.8, "b2": 0.99}),
    ],
)
def test_numpy_rmsprop_and_adam_follow_optax(kind, hyper, dtype):
    """200 steps on gradients over seven decades: the states (ν, m, count) are optax's to the bit at
    every step; the updates are within the measured bound (optax's ``jax.lax.rsqrt`` and XLA's
    arithmetic are not NumPy's), and most of them are identical."""
    ours = getattr(lesson, kind)(0.01, **hyper)
    theirs = getattr(optax, kind)(0.01, **hyper)
    worst, same = _run_both(ours, theirs, dtype)
    assert worst <= BOUND[kind], worst
    assert same > 0.6, same


def test_optax_defaults_are_the_lessons():
    import inspect

    rms = inspect.signature(optax.rmsprop).parameters
    assert (rms["decay"].default, rms["eps"].default, rms["initial_scale"].default) == (0.9, 1e-8, 0.0)
    assert (rms["eps_in_sqrt"].default, rms["bias_correction"].default, rms["momentum"].default) == (
        True,
        False,
        None,
    )
    ad = inspect.signature(optax.adam).parameters
    assert (ad["b1"].default, ad["b2"].default, ad["eps"].default, ad["eps_root"].default) == (
        0.9,
        0.999,
        1e-8,
        0.0,
    )
    for name in ("rmsprop", "adam"):
        ours = inspect.signature(getattr(lesson, name)).parameters
        theirs = inspect.signature(getattr(optax, name)).parameters
        assert all(ours[k].default == theirs[k].default for k in ours if k != "learning_rate")


def test_the_grid_runs_adagrad_as_the_package_does_bit_for_bit():
    """The grid sweep's Adagrad (a learning rate per row) is ``adagrad_ref.adagrad`` at every step."""
    eta, r, _ = lesson.compare()["Adagrad"]
    ref = lesson.run_adagrad_ref(eta)
    assert np.array_equal(ref.params, r.params) and np.array_equal(ref.loss, r.loss)
    assert np.array_equal(ref.rates, r.rates)


# ----------------------------------------------------------------------------- the lessons


def test_rmsprop_warm_up_starts_one_over_sqrt_one_minus_beta_too_high_adam_does_not():
    for decay in (0.9, 0.99):
        r = lesson.constant_gradient_rates(200, decay=decay)
        t = np.arange(1, 201)
        np.testing.assert_allclose(r["RMSProp"], 1 / np.sqrt(1 - decay**t), rtol=1e-6)
        assert np.all(np.diff(r["RMSProp"]) < 0)  # it falls, every step of the warm-up
        np.testing.assert_allclose(r["Adam"], 1.0, rtol=1e-7)  # bias-corrected: steady from step 1


def test_in_the_run_rmsprops_rate_falls_in_the_warm_up_adams_does_not_overshoot():
    runs = lesson.compare()
    rms, adam = runs["RMSProp"][1], runs["Adam"][1]
    assert rms.rates[0, 0] > 1.4 * np.mean(rms.rates[7:12, 0])
    assert adam.rates[0, 0] < np.mean(adam.rates[7:12, 0])


def test_rmsprops_rate_falls_and_rises_again_at_every_move_adagrads_never_rises():
    runs = lesson.compare()
    rise = lesson.rise_after_moves(runs["RMSProp"][1])
    assert len(rise) == lesson.PHASES - 1
    assert np.all(rise[:, 1] < 0.5 * rise[:, 0]) and np.all(rise[:, 2] > 2 * rise[:, 1])
    ada = runs["Adagrad"][1].rates
    assert np.all(np.diff(ada, axis=0) <= 0)  # both coordinates, every step
    adam = lesson.rise_after_moves(runs["Adam"][1])
    assert np.all(adam[:, 1] < adam[:, 0]) and np.all(adam[:, 2] > adam[:, 1])  # Adam too, if less
    assert np.all(adam[:, 1] > 0.75 * adam[:, 0])


def test_adaptive_methods_give_the_flat_coordinate_about_ten_times_the_rate():
    for m, (_, r, _) in lesson.compare().items():
        ratio = np.mean(r.rates[:, 1]) / np.mean(r.rates[:, 0])
        if m == "gradient descent":
            assert ratio == 1.0
        else:
            assert 8 < ratio < 15, (m, ratio)


def test_tuned_rates_are_inside_the_grid():
    for m, (eta, _, score) in lesson.compare().items():
        assert lesson.GRID[0] < eta < lesson.GRID[-1], m
        assert np.isfinite(score).sum() > 10, m


def test_adagrads_recovery_doubles_over_the_run_rmsprop_and_adam_stay_gd_is_slowest():
    f = lesson.moves_facts()
    first, last, rec = f["first3"], f["last3"], f["recovery"]
    assert last["Adagrad"] > 1.8 * first["Adagrad"]
    assert np.corrcoef(np.arange(rec["Adagrad"].size), rec["Adagrad"])[0, 1] > 0.8  # a trend, not one move
    for m in ("RMSProp", "Adam"):
        assert abs(last[m] / first[m] - 1) < 0.15, m
    assert abs(first["Adagrad"] / first["Adam"] - 1) < 0.1 and first["Adagrad"] < first["RMSProp"]
    assert last["Adagrad"] > max(last["RMSProp"], last["Adam"])  # the slowest adaptive method at the end
    assert rec["gradient descent"].min() > 2 * max(rec[m].max() for m in ("Adagrad", "RMSProp", "Adam"))
    assert np.all(np.abs(rec["gradient descent"] - 200) < 25)  # "about 200 steps every time"


def test_adagrad_still_has_the_lowest_mean_loss_over_this_run():
    ml = lesson.moves_facts()["mean_loss"]
    assert ml["Adagrad"] == min(ml.values())
    assert ml["gradient descent"] == max(ml.values())
    st = lesson.moves_facts()["settled"]  # "once settled, in the last quarter of each phase, the lowest"
    assert st["Adagrad"] == min(st.values()), st


def test_the_figures_are_labelled():
    import matplotlib.pyplot as plt

    for fn in lesson.FIGURES.values():
        fig = fn()
        try:
            for ax in fig.axes:
                assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend()
        finally:
            plt.close(fig)


def test_exercise_1_a_longer_memory_recovers_faster_but_the_mean_loss_is_not_monotone():
    """The solution of notebook 07's exercise 1, at RMSProp's best rate for decay 0.9."""
    m = lesson.memory_facts()
    assert lesson.memory_facts_hold(m), m
    assert m[0.999]["recovery"] < m[0.9]["recovery"] and m[0.999]["mean_loss"] > m[0.99]["mean_loss"]
