"""A step leaves no reference cycles behind: arrays are freed when dropped, not when the GC runs.

The pytree walkers were once nested recursive functions; each call left a cycle
(function -> closure cell -> function) holding the call's leaves, so the NumPy
class kept about two arrays a step alive until the cyclic collector ran. The
benchmark found it: 1e8 float64 elements grew by 1.6 GB a step and were killed
at 24 GB. With the collector off, ``gc.collect()`` must find nothing to free.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from adagrad_ref import adagrad, apply_updates, load_state, save_state
from adagrad_ref.fast.flat import FlatAdagrad


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def params():
    return {"w": np.ones((3, 4)), "b": [np.zeros(4), None], "s": np.array(1.0)}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_update_and_apply_leave_no_cycles(no_gc, backend):
    opt = adagrad(lambda c: 0.1, backend=backend)
    p = params()
    state = opt.init(p)
    opt.update(params(), state)  # the first call loads (or compiles) the kernels: one-time garbage
    gc.collect()
    for _ in range(5):
        updates, state = opt.update(params(), state, p)
        p = apply_updates(p, updates)
    assert gc.collect() == 0


def test_flat_steps_leave_no_cycles(no_gc):
    flat = FlatAdagrad(params(), 0.1)
    flat.step()  # loads the kernels
    gc.collect()
    for _ in range(3):
        flat.set_grads(params())
        flat.step()
    assert gc.collect() == 0


def test_a_loaded_state_is_freed_when_dropped(no_gc, tmp_path):
    """json and namedtuple make small cycles of their own; none may hold an array."""
    save_state(tmp_path / "s.npz", adagrad(0.1).init(params()))
    state = load_state(tmp_path / "s.npz")
    ref = weakref.ref(state.sum_of_squares["w"])
    del state
    assert ref() is None
