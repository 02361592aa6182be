"""The reference against the real optax (jax, CPU), on random pytrees.

Measured gaps and why (docs/numerics.md, "How close the reference is to optax"):

* accumulators: ``|g|**2 + G`` is a multiply and an add in both, so un-jitted
  optax (each op its own XLA computation) gives the same bits. Under
  ``jax.jit`` XLA fuses them into one FMA, one rounding instead of two:
  1 ULP at most for one step from the same state (it then drifts by up to
  1 ULP a step, so the jitted check starts each step from optax's eager state).
* updates: optax computes ``jax.lax.rsqrt(G + eps)``, and XLA's CPU rsqrt is
  not ``1/sqrt`` rounded twice: measured up to 2 ULP apart on its own, and
  after the two multiplies by ``g`` and ``-lr`` at most 4 ULP in both dtypes.
* params: ``p + u`` cancels, so ULP on params means nothing near zero. The
  bound is absolute and grows with the steps taken: per step 4 ULP of the
  update plus one rounding of the sum, ``sum_t 4*ulp(u_t) + ulp(p_{t+1})``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adagrad_ref import adagrad
from adagrad_ref.numerics.ulp import max_ulp, ulp_distance
from adagrad_ref.tools.optax_gaps import UPDATE_ULP, measure, param_tolerance_step

ACC_ULP_EAGER = 0
ACC_ULP_JIT_ONE_STEP = 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("schedule", [False, True])
@pytest.mark.parametrize("iav", [0.1, 0.0])
def test_against_optax(dtype, schedule, iav):
    m = measure(dtype, schedule, iav, steps=25, seed=7)
    assert m["max"]["acc"] <= ACC_ULP_EAGER, m["max"]
    assert m["max"]["jit_acc"] <= ACC_ULP_JIT_ONE_STEP, m["max"]
    assert m["max"]["upd"] <= UPDATE_ULP, m["max"]
    assert m["max"]["jit_upd"] <= UPDATE_ULP, m["max"]
    assert m["params_gap_over_bound"] <= 1.0, m
    # The gaps are real (else the bounds would measure nothing): rsqrt moves some updates,
    # the FMA some jitted accumulators.
    assert m["max"]["upd"] >= 1 and m["max"]["jit_acc"] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_guard_zero_accumulator_gives_zero_update_like_optax(dtype):
    ours = adagrad(1.0, initial_accumulator_value=0.0)
    theirs = optax.adagrad(1.0, initial_accumulator_value=0.0)
    g = np.array([0.0, -0.0, 2.0, -3.0], dtype)
    u, _ = ours.update(g, ours.init(g))
    tu, _ = theirs.update(jnp.asarray(g), theirs.init(jnp.asarray(g)))
    tu = np.asarray(tu)
    assert u[:2].tolist() == tu[:2].tolist() == [0.0, 0.0]  # G = 0: the guard, not g/sqrt(eps)
    assert max_ulp(u, tu) <= UPDATE_ULP
    # With G_0 = 0 and eps = 0 the first step is -η·g/|g|, whatever the size of g (as long as g²
    # neither underflows to 0 nor overflows to Inf): ±η to 1 ULP.
    sign_only = adagrad(1.0, initial_accumulator_value=0.0, eps=0.0)
    g = np.array([1e-15, -7.0, 3e15], dtype)
    u, _ = sign_only.update(g, sign_only.init(g))
    assert max_ulp(u, -np.sign(g)) <= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate_like_optax(dtype):
    big = np.sqrt(np.finfo(dtype).max) * 4  # g² overflows to Inf
    g = np.array([np.nan, np.inf, -np.inf, big, 0.0, 1.0], dtype)
    ours, theirs = adagrad(0.1), optax.adagrad(0.1)
    u, s = ours.update(g, ours.init(g))
    tu, ts = theirs.update(jnp.asarray(g), theirs.init(jnp.asarray(g)))
    assert ulp_distance(s.sum_of_squares, np.asarray(ts[0].sum_of_squares)).max() == 0
    assert ulp_distance(u, np.asarray(tu)).max() <= UPDATE_ULP
    # The semantics, spelled out: NaN in, NaN out; Inf·0 is NaN; a finite g whose g² overflows moves by 0.
    assert np.isnan(u[:3]).all() and u[3] == 0 and np.isinf(s.sum_of_squares[1:4]).all()


def test_complex_params_like_optax(rng):
    n = 64
    p = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    ours, theirs = adagrad(0.1), optax.adagrad(0.1)
    state, t_state = ours.init(p), theirs.init(jnp.asarray(p))
    assert state.sum_of_squares.dtype == np.asarray(t_state[0].sum_of_squares).dtype == np.complex64
    for _ in range(10):
        g = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        u, state = ours.update(g, state)
        tu, t_state = theirs.update(jnp.asarray(g), t_state)
        assert max_ulp(state.sum_of_squares, np.asarray(t_state[0].sum_of_squares)) == 0
        assert max_ulp(u, np.asarray(tu)) <= UPDATE_ULP


def test_documented_example_params_like_optax():
    """The example's own trajectory, float32, against optax step by step."""
    from adagrad_ref.example import run_documented_example

    solver = optax.adagrad(learning_rate=1.0)
    params = jnp.array([1.0, 2.0, 3.0], jnp.float32)
    state = solver.init(params)
    ours = run_documented_example("numpy")
    tol = np.zeros(3, np.float64)
    G = np.full(3, 0.1)
    for step in range(1, 6):
        updates, state = solver.update(jax.grad(lambda x: jnp.sum(x**2))(params), state, params)
        params = optax.apply_updates(params, updates)
        # Closed loop: a gap d in p changes g = 2p by 2d, and p - g/sqrt(G + g²) by at most
        # (1 + 2/sqrt(G_t)) d: the previous gap is carried with that factor.
        G = G + (2.0 * ours[step - 1].astype(np.float64)) ** 2
        carried = (1 + 2 / np.sqrt(G)) * tol
        tol = carried + param_tolerance_step(ours[step] - ours[step - 1], ours[step])
        assert np.all(np.abs(ours[step] - np.asarray(params)) <= tol), (step, ours[step], params)
