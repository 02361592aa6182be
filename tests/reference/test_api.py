"""The optax-shaped API: init/update/apply_updates on pytrees, dtypes, count, schedules."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from adagrad_ref import Adagrad, AdagradError, AdagradState, adagrad, apply_updates
from adagrad_ref.numerics.ulp import same_bits
from adagrad_ref.reference import INT32_MAX, update_leaf


class Layer(NamedTuple):
    w: np.ndarray
    b: np.ndarray | None


def make_params(dtype=np.float32):
    return {
        "layer1": Layer(w=np.ones((2, 3), dtype), b=None),
        "layer2": [np.arange(4, dtype=dtype), (np.array(2.0, dtype),)],
    }


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_structure_dtype_and_shape_are_preserved(backend, dtype):
    opt = adagrad(0.1, backend=backend)
    params = make_params(dtype)
    state = opt.init(params)
    assert isinstance(state, AdagradState) and state.count == 0 and state.count.dtype == np.int32
    grads = make_params(dtype)
    updates, new_state = opt.update(grads, state, params)
    new_params = apply_updates(params, updates)
    for tree in (state.sum_of_squares, updates, new_state.sum_of_squares, new_params):
        assert isinstance(tree["layer1"], Layer) and tree["layer1"].b is None
        assert isinstance(tree["layer2"], list) and isinstance(tree["layer2"][1], tuple)
        assert tree["layer1"].w.dtype == dtype and tree["layer1"].w.shape == (2, 3)
        assert tree["layer2"][1][0].shape == () and isinstance(tree["layer2"][1][0], np.ndarray)
    assert new_state.count == 1
    # G_0 is initial_accumulator_value rounded to the dtype, in every entry.
    assert np.all(state.sum_of_squares["layer2"][0] == dtype(0.1))


def test_inputs_are_not_mutated_and_state_is_new():
    opt = adagrad(0.1)
    params = {"w": np.ones(3, np.float32)}
    state = opt.init(params)
    before = state.sum_of_squares["w"].copy()
    grads = {"w": np.full(3, 2.0, np.float32)}
    _, new_state = opt.update(grads, state)
    assert np.array_equal(state.sum_of_squares["w"], before)
    assert new_state.sum_of_squares["w"] is not state.sum_of_squares["w"]
    assert np.array_equal(grads["w"], np.full(3, 2.0, np.float32))


def test_schedule_is_called_with_count_starting_at_zero():
    seen = []

    def schedule(count):
        seen.append(count)
        return 0.1

    opt = adagrad(schedule)
    params = np.zeros(2, np.float64)
    state = opt.init(params)
    for _ in range(3):
        _, state = opt.update(np.ones(2), state)
    assert seen == [0, 1, 2] and int(state.count) == 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_count_saturates_at_int32_max(backend):
    opt = adagrad(0.1, backend=backend)
    state = opt.init(np.zeros(1, np.float32))._replace(count=np.int32(INT32_MAX - 1))
    _, state = opt.update(np.ones(1, np.float32), state)
    assert state.count == INT32_MAX
    _, state = opt.update(np.ones(1, np.float32), state)
    assert state.count == INT32_MAX and state.count.dtype == np.int32


def test_defaults_are_optax_defaults():
    import inspect

    import optax

    sig = inspect.signature(optax.adagrad).parameters
    opt = Adagrad(1.0)
    assert opt.initial_accumulator_value == sig["initial_accumulator_value"].default
    assert opt.eps == sig["eps"].default


def test_python_scalar_hyperparameters_do_not_promote_float32():
    opt = adagrad(np.float64(0.1), initial_accumulator_value=np.float64(0.1), eps=np.float64(1e-7))
    u, s = opt.update(np.ones(3, np.float32), opt.init(np.ones(3, np.float32)))
    assert u.dtype == np.float32 and s.sum_of_squares.dtype == np.float32


def test_non_contiguous_grads_on_numba_backend_equal_numpy():
    g = np.arange(20, dtype=np.float64).reshape(4, 5).T  # Fortran-ordered view
    outs = []
    for backend in ("numpy", "numba"):
        opt = adagrad(0.3, backend=backend)
        outs.append(opt.update(g, opt.init(np.zeros((5, 4))))[0])
    assert outs[0].tobytes() == outs[1].tobytes()


def test_jax_arrays_are_accepted_as_leaves():
    import jax.numpy as jnp

    opt = adagrad(0.1)
    state = opt.init({"w": jnp.ones(3, jnp.float32)})
    u, _ = opt.update({"w": jnp.ones(3, jnp.float32)}, state)
    assert isinstance(u["w"], np.ndarray) and u["w"].dtype == np.float32


def test_a_backend_is_a_leaf_update_function_composition_not_subclassing():
    """backend= may be a function (g, G, learning_rate, eps) -> (u, G): the map uses it for every leaf."""
    calls = []

    def traced(g, G, learning_rate, eps):
        calls.append((g.shape, learning_rate, eps))
        return update_leaf(g, G, learning_rate, eps)

    params = {"a": np.ones(3, np.float32), "b": [np.ones((2, 2), np.float32)]}
    ours, ref = Adagrad(0.25, backend=traced), adagrad(0.25)
    u1, s1 = ours.update(params, ours.init(params))
    u2, s2 = ref.update(params, ref.init(params))
    assert sorted(calls) == [((2, 2), 0.25, 1e-7), ((3,), 0.25, 1e-7)]
    assert same_bits(u1["a"], u2["a"]) and same_bits(s1.sum_of_squares["b"][0], s2.sum_of_squares["b"][0])


@pytest.mark.parametrize("backend", [3, None, "NUMPY"])
def test_a_backend_that_is_neither_a_name_nor_a_function(backend):
    with pytest.raises(
        AdagradError, match=rf"^backend must be one of \('numpy', 'numba'\), got {backend!r}$"
    ):
        adagrad(0.1, backend=backend)
