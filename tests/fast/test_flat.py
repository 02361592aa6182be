"""FlatAdagrad (one kernel call per dtype for a whole pytree) gives the bits of Adagrad leaf by leaf."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_floats

from adagrad_ref import AdagradError, adagrad, apply_updates
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.numerics.ulp import same_bits
from adagrad_ref.trees import flatten


def tree(rng, with_edges=False):
    def a(shape, dtype):
        n = int(np.prod(shape))
        return random_floats(rng, n, dtype, with_edges=with_edges).reshape(shape)

    return {
        "enc": [a((3, 4), np.float32), a((4,), np.float32), None],
        "dec": {"w": a((5, 2), np.float64), "s": a((), np.float64)},
        "emb": a((0, 3), np.float32),
    }


def assert_same_tree(a, b):
    pa, la, _ = flatten(a, "a")
    pb, lb, _ = flatten(b, "b")
    assert pa == pb
    for path, x, y in zip(pa, la, lb, strict=True):
        assert same_bits(x, y), path


@pytest.mark.parametrize("edges", [False, True])
def test_flat_equals_per_leaf_bit_for_bit(rng, edges):
    params = tree(rng)
    schedule = lambda c: 0.4 * 0.9**c  # noqa: E731
    opt = adagrad(schedule, initial_accumulator_value=0.05)
    flat = FlatAdagrad(params, schedule, initial_accumulator_value=0.05)
    state, p = opt.init(params), params
    for _ in range(6):
        g = tree(rng, with_edges=edges)
        u, state = opt.update(g, state)
        p = apply_updates(p, u)
        flat.set_grads(g)
        flat.step()
        assert_same_tree(flat.params, p)
        assert_same_tree(flat.state.sum_of_squares, state.sum_of_squares)
    assert int(flat.state.count) == int(state.count) == 6


def test_views_share_one_buffer_per_dtype(rng):
    flat = FlatAdagrad({k: np.zeros_like(v) if k == "emb" else v for k, v in tree(rng).items()}, 0.1)
    flat.params["enc"][0][...] = 0.5
    f32 = [x for x in flatten(flat.params, "params")[1] if x.dtype == np.float32]
    assert len({x.base.ctypes.data for x in f32 if x.size}) == 1  # views of the same buffer
    flat.grads["enc"][0][...] = 1.0  # writing a view is writing the buffer the kernel reads
    before = flat.params["enc"][0].copy()
    flat.step()
    assert np.all(flat.params["enc"][0] < before)


def test_flat_refuses_bad_input(rng):
    with pytest.raises(AdagradError, match=r"^params\['z'\] has dtype complex64; FlatAdagrad packs"):
        FlatAdagrad({"z": np.zeros(2, np.complex64)}, 0.1)
    flat = FlatAdagrad({"w": np.zeros(2, np.float32)}, 0.1)
    with pytest.raises(AdagradError, match=r"^grads\['w'\] is float64 \(2,\); expected float32 \(2,\)"):
        flat.set_grads({"w": np.zeros(2)})
    with pytest.raises(AdagradError, match=r"^grads does not match the structure of params: grads: expected"):
        flat.set_grads({"v": np.zeros(2, np.float32)})
    with pytest.raises(AdagradError, match=r"^eps must be finite and >= 0"):
        FlatAdagrad({"w": np.zeros(2, np.float32)}, 0.1, eps=-1.0)


def test_rebinding_a_leaf_is_an_error_not_a_silent_no_op():
    """flat.grads["w"] = g (instead of flat.grads["w"][...] = g) would leave the buffer as it was."""
    flat = FlatAdagrad({"w": np.zeros(2, np.float32), "b": [np.zeros(1, np.float32)]}, 0.1)
    flat.grads["w"] = np.ones(2, np.float32)
    with pytest.raises(AdagradError, match=r"^FlatAdagrad.grads was changed: a leaf was rebound"):
        flat.step()
    assert int(flat.state.count) == 0 and np.all(flat.params["w"] == 0)
    with pytest.raises(AdagradError, match=r"^FlatAdagrad.grads was changed"):
        flat.set_grads({"w": np.ones(2, np.float32), "b": [np.ones(1, np.float32)]})
    for tree in ("params", "state"):
        other = FlatAdagrad({"w": np.zeros(2, np.float32)}, 0.1)
        target = other.params if tree == "params" else other.state.sum_of_squares
        target["w"] = np.ones(2, np.float32)
        with pytest.raises(AdagradError, match=r"^FlatAdagrad\.(params|state\.sum_of_squares) was changed"):
            other.step()
    flat = FlatAdagrad({"b": [np.zeros(1, np.float32)]}, 0.1)
    flat.params["b"].append(np.zeros(1, np.float32))  # the tree edited: also refused
    with pytest.raises(AdagradError, match=r"^FlatAdagrad.params was changed"):
        flat.step()


def test_the_trees_cannot_be_reassigned():
    flat = FlatAdagrad({"w": np.zeros(2, np.float32)}, 0.1)
    with pytest.raises(AdagradError, match=r"^FlatAdagrad.grads cannot be reassigned; call set_grads"):
        flat.grads = {"w": np.ones(2, np.float32)}
    with pytest.raises(AdagradError, match=r"^FlatAdagrad.params cannot be reassigned"):
        flat.params = {"w": np.ones(2, np.float32)}
    flat.grads["w"][...] = 1.0  # writing into the view is the way
    flat.step()
    assert np.all(flat.params["w"] < 0) and int(flat.state.count) == 1
