"""optax's API as optax users call it: schedules and array learning rates, extra arguments, None.

Against the real optax (eager, CPU), 25 steps of random gradients on a pytree,
on both backends. What is bit-exact and what is not, and why:

* the rate: optax calls the schedule with its count, a JAX int32 array, and
  multiplies by ``jnp.array(-schedule(count), dtype=g.dtype)``. Called as optax
  calls it (``lambda c: schedule(jnp.asarray(c, jnp.int32))``) the rate here is
  the same number, bit for bit at every step. Called with the Python int
  ``count``, as this package calls a schedule, JAX computes ``exponential_decay``
  and the linear pieces in float64 under ``jax_enable_x64`` (optax's int32 count
  makes them float32): measured at most 4 float32 ULP apart, asserted below;
* the accumulators: ``g*g + G`` is two roundings on both sides: bit for bit;
* the updates: optax computes ``jax.lax.rsqrt(G + eps)``, XLA's CPU rsqrt is not
  ``1/sqrt`` rounded twice: at most ``UPDATE_ULP`` (4) ULP apart, the bound of
  ``tests/reference/test_optax_crosscheck.py``, measured and asserted here too;
* the params: ``p + u`` cancels near zero, so they are held to the accumulated
  absolute bound ``sum_t UPDATE_ULP·ulp(u_t) + ulp(p_{t+1})``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adagrad_ref import AdagradError, adagrad, apply_updates, conventions
from adagrad_ref.numerics.ulp import same_bits, ulp_distance
from adagrad_ref.tools.optax_gaps import UPDATE_ULP, param_tolerance_step
from adagrad_ref.trees import flatten

STEPS = 25

SCHEDULES = {
    "constant": lambda: optax.constant_schedule(0.3),
    "exponential_decay": lambda: optax.exponential_decay(0.5, transition_steps=4, decay_rate=0.7),
    "cosine_decay": lambda: optax.cosine_decay_schedule(0.4, decay_steps=20, alpha=0.1),
    "piecewise_constant": lambda: optax.piecewise_constant_schedule(0.5, {5: 0.5, 12: 0.1}),
    "join_schedules": lambda: optax.join_schedules(
        [optax.linear_schedule(0.0, 0.5, 6), optax.exponential_decay(0.5, 3, 0.8)], boundaries=[6]
    ),
}


def leaves(tree):
    return flatten(tree, "tree")[1]


def random_tree(rng, dtype):
    def arr(*shape):
        n = int(np.prod(shape))
        return (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dtype).reshape(shape)

    return {"w": arr(6, 5), "b": arr(5), "none": None, "s": arr()}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_optax_schedules_against_real_optax(rng, backend, dtype, name):
    schedule = SCHEDULES[name]()
    as_optax_calls_it = lambda c: schedule(jnp.asarray(c, jnp.int32))  # noqa: E731
    ours, theirs = adagrad(as_optax_calls_it, backend=backend), optax.adagrad(schedule)
    params = random_tree(rng, dtype)
    state, t_state = ours.init(params), theirs.init(_jax(params))
    p, t_p = params, _jax(params)
    tol = [np.zeros(x.shape) for x in leaves(params)]
    worst_update = 0
    for count in range(STEPS):
        # The rate itself: the same number in the dtype as optax's jnp.array(-schedule(count), dtype).
        theirs_rate = np.asarray(jnp.array(-1 * schedule(jnp.asarray(count, jnp.int32)), dtype=dtype))
        assert same_bits(-np.asarray(ours.learning_rate_at(count), dtype), theirs_rate), count
        grads = random_tree(rng, dtype)
        updates, state = ours.update(grads, state, p)
        t_updates, t_state = theirs.update(_jax(grads), t_state, t_p)
        for a, b in zip(leaves(state.sum_of_squares), leaves(t_state[0].sum_of_squares), strict=True):
            assert same_bits(a, np.asarray(b)), count
        for a, b in zip(leaves(updates), leaves(t_updates), strict=True):
            worst_update = max(worst_update, int(ulp_distance(a, np.asarray(b)).max()))
        p, t_p = apply_updates(p, updates), optax.apply_updates(t_p, t_updates)
        for i, (u, x) in enumerate(zip(leaves(updates), leaves(p), strict=True)):
            tol[i] = tol[i] + param_tolerance_step(u, x)
    assert worst_update <= UPDATE_ULP
    for a, b, t in zip(leaves(p), leaves(t_p), tol, strict=True):
        assert np.all(np.abs(a.astype(np.float64) - np.asarray(b).astype(np.float64)) <= t)
    assert int(state.count) == int(t_state[1].count) == STEPS


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_a_schedule_called_with_the_python_count(name):
    """adagrad(schedule) calls it with the Python int count: the rate is within 4 float32 ULP of optax's
    (0 for the schedules that compute in float64 either way), in float32 and float64 params alike."""
    schedule = SCHEDULES[name]()
    opt = adagrad(schedule)
    counts = range(40)
    ours = np.array([opt.learning_rate_at(c) for c in counts])
    theirs = np.array([np.asarray(schedule(jnp.asarray(c, jnp.int32)), np.float64) for c in counts])
    rel = np.abs(ours - theirs) / np.abs(theirs).clip(min=1e-300)
    assert rel.max() <= 4 * 2.0**-24
    assert (rel.max() > 0) == (name in ("exponential_decay", "join_schedules"))  # measured: these two
    assert all(isinstance(opt.learning_rate_at(c), float) for c in (0, 1))


def _jax(tree):
    return {k: None if v is None else jnp.asarray(v) for k, v in tree.items()}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    "lr",
    [np.float32(0.3), np.float64(0.3), np.asarray(0.3), np.asarray(0.3, np.float32), np.int64(1)],
    ids=["np.float32", "np.float64", "0-d float64", "0-d float32", "np.int64"],
)
def test_numpy_scalars_and_0d_arrays_as_learning_rate(backend, lr):
    """The same bits as the Python float of the same value (optax casts the rate to the params' dtype)."""
    g = np.array([0.5, -2.0, 3.0], np.float32)
    a, b = adagrad(lr, backend=backend), adagrad(float(lr), backend=backend)
    assert same_bits(a.update(g, a.init(g))[0], b.update(g, b.init(g))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jax_arrays_as_learning_rate_like_optax(dtype):
    """A 0-d JAX array of the params' dtype. (A strongly typed float64 JAX rate makes optax's float32
    updates float64; here every rate is rounded to the params' dtype, so the updates stay float32.)"""
    lr = jnp.asarray(0.3, dtype)
    ours, theirs = adagrad(lr), optax.adagrad(lr)
    g = np.array([0.5, -2.0, 3.0, 0.0], dtype)
    u, s = ours.update(g, ours.init(g))
    tu, ts = theirs.update(jnp.asarray(g), theirs.init(jnp.asarray(g)))
    assert same_bits(s.sum_of_squares, np.asarray(ts[0].sum_of_squares))
    assert int(ulp_distance(u, np.asarray(tu)).max()) <= UPDATE_ULP


@pytest.mark.parametrize(
    "lr, match",
    [
        (np.complex64(0.3), r"^learning_rate must be a real number, got complex64"),
        (jnp.asarray(0.3 + 1j), r"^learning_rate must be a real number, got "),
        (np.ones(2), r"^learning_rate must be a real scalar, got float64 array of shape \(2,\)$"),
        (
            jnp.ones(3, jnp.float32),
            r"^learning_rate must be a real scalar, got float32 array of shape \(3,\)$",
        ),
        (np.asarray(np.nan), r"^learning_rate must be finite, got nan$"),
        (jnp.asarray(jnp.inf), r"^learning_rate must be finite, got inf$"),
        (True, r"^learning_rate must be a real number, got bool True$"),
        (np.bool_(True), r"^learning_rate must be a real number, got bool"),
        (None, r"^learning_rate must be a real number, got NoneType None$"),
    ],
)
def test_learning_rates_refused(lr, match):
    with pytest.raises(AdagradError, match=match) as info:
        adagrad(lr)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [jnp.asarray(jnp.nan), jnp.ones(2), np.complex128(1j)])
def test_a_schedule_returning_a_bad_jax_value_is_refused_at_that_step(bad):
    opt = adagrad(lambda c: jnp.asarray(0.1) if c == 0 else bad)
    state = opt.init(np.zeros(2))
    _, state = opt.update(np.ones(2), state)
    with pytest.raises(AdagradError, match=r"^schedule: learning_rate\(1\)"):
        opt.update(np.ones(2), state)


MAKERS = {
    "adagrad-numpy": lambda: adagrad(0.1),
    "adagrad-numba": lambda: adagrad(0.1, backend="numba"),
    "optax": lambda: conventions.optax(0.1),
    "pytorch": lambda: conventions.pytorch(0.1, weight_decay=0.1),
    "keras": lambda: conventions.keras(0.1),
    "tensorflow_v2": lambda: conventions.tensorflow_v2(0.1),
}


@pytest.mark.parametrize("name", MAKERS)
def test_update_accepts_and_ignores_extra_args(name):
    """As optax's GradientTransformationExtraArgs: update(grads, state, params, **extra_args)."""
    opt = MAKERS[name]()
    p = np.array([1.0, -2.0])
    state = opt.init(p)
    plain = opt.update(2 * p, state, p)
    extra = opt.update(2 * p, state, p, value=np.float64(3.0), key=object(), loss=None)
    assert same_bits(plain[0], extra[0]) and same_bits(plain[1].sum_of_squares, extra[1].sum_of_squares)


@pytest.mark.parametrize(
    "params, updates",
    [
        (None, None),
        (None, np.ones(2)),
        (None, {"anything": [1, 2]}),
        ({"b": None, "w": np.ones(2)}, {"b": None, "w": np.ones(2)}),
        ({"b": None, "w": np.ones(2)}, {"b": np.ones(3), "w": np.ones(2)}),
        ([None, np.ones(1)], [{"x": np.ones(4)}, np.ones(1)]),
        ({"w": np.ones(2, np.float32)}, {"w": np.full(2, 0.5)}),  # float64 updates, float32 params
    ],
)
def test_apply_updates_treats_none_as_optax(params, updates):
    ours = apply_updates(params, updates)
    theirs = optax.apply_updates(params, updates)
    spec_o, spec_t = flatten(ours, "o", none_is_leaf=True)[2], flatten(theirs, "t", none_is_leaf=True)[2]
    assert spec_o == spec_t
    for a, b in zip(leaves(ours), leaves(theirs), strict=True):
        assert a.dtype == np.asarray(b).dtype and same_bits(a, np.asarray(b))


def test_apply_updates_refuses_none_updates_for_an_array():
    """optax raises TypeError (array + None); here the one-line error naming the leaf."""
    with pytest.raises(TypeError):
        optax.apply_updates({"w": jnp.ones(2)}, {"w": None})
    with pytest.raises(AdagradError, match=r"^updates\['w'\]: expected an array, got None$"):
        apply_updates({"w": np.ones(2)}, {"w": None})


def test_none_params_give_a_none_state_and_none_updates_as_optax():
    ours, theirs = adagrad(0.1), optax.adagrad(0.1)
    assert ours.init(None).sum_of_squares is None and theirs.init(None)[0].sum_of_squares is None
    updates, state = ours.update(None, ours.init(None))
    assert updates is None and state.sum_of_squares is None and int(state.count) == 1
