"""The in-place kernel runs forward or backward, as its arrays lie (kernels._backward): the same bits either
way, the direction the rule says (seen where it changes the result: arrays that overlap on purpose), and
both loops vectorised (tests/fast/test_vectorisation.py).

Placements are made by carving each array out of its own buffer at a chosen byte offset modulo 4,096, the
address bits 4K aliasing compares (kernels._near)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_floats
from test_backends_bitwise import assert_same_bits

from adagrad_ref import adagrad, adagrad_step_inplace, apply_updates
from adagrad_ref.fast import kernels, tree
from adagrad_ref.reference import update_leaf

#: (p, g, G) offsets in bytes modulo 4,096, and whether the rule runs the loop backward: placements
#: measured in docs/performance.md (the 4K-aliasing section), and others around them.
PLACEMENTS = {
    "clear": ((0, 1024, 2048), False),
    "same offset (fresh large arrays)": ((16, 16, 16), False),
    "p 64 bytes past g and G": ((64, 0, 0), True),
    "p 64 bytes before g and G": ((4032, 0, 0), False),
    "p 96 bytes past g": ((96, 0, 2048), True),
    "g and G 64 bytes past p (p 64 before)": ((0, 64, 64), False),
    "G 64 bytes past p and g (G's stores weigh half)": ((0, 0, 64), False),
    "G 64 bytes before p and g": ((0, 0, 4032), True),
    "G 128 bytes past g, p clear": ((2048, 0, 128), True),
    "g 64 bytes past p and G": ((0, 64, 0), False),
    "g 64 bytes before p and G": ((0, 4032, 0), True),
}


def _carve(values: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``values`` that begins ``offset`` bytes past a multiple of 4,096."""
    buf = np.zeros(values.nbytes + 8192, np.uint8)
    start = (-buf.ctypes.data) % 4096 + offset
    out = buf[start : start + values.nbytes].view(values.dtype)
    out[...] = values
    return out


def _placed(rng, n, dtype, offsets):
    p, g = random_floats(rng, n, dtype), random_floats(rng, n, dtype)
    G = np.abs(random_floats(rng, n, dtype))
    G[:3], g[:3] = 0, 0  # the guard's zero update, at the end the backward loop steps last
    G[-3:], g[-3:] = 0, 0
    return tuple(_carve(a, o) for a, o in zip((p, g, G), offsets, strict=True))


@pytest.mark.parametrize("name", list(PLACEMENTS))
def test_the_rule_picks_the_direction_its_measurements_favour(rng, name):
    offsets, backward = PLACEMENTS[name]
    p, g, G = _placed(rng, 100, np.float32, offsets)
    assert [a.ctypes.data % 4096 for a in (p, g, G)] == list(offsets)
    assert kernels._backward(p, g, G) is backward


def test_near_is_the_window_past_modulo_4096(rng):
    base = _carve(np.zeros(64, np.float32), 0)
    for offset, near in ((0, 0), (4, 1), (kernels.ALIAS_WINDOW, 1), (kernels.ALIAS_WINDOW + 4, 0), (4092, 0)):
        a = _carve(np.zeros(64, np.float32), offset)
        assert kernels._near(a, base) == near, offset
        assert kernels._near(base, a) == (1 if 0 < 4096 - offset <= kernels.ALIAS_WINDOW else 0), offset


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(PLACEMENTS))
@pytest.mark.parametrize("n", [0, 1, 15, 1003, 300_001])
def test_every_direction_and_placement_gives_the_references_bits(rng, dtype, name, n):
    offsets, backward = PLACEMENTS[name]
    values = _placed(rng, n, dtype, offsets)
    u, G_ref = update_leaf(values[1], values[2], 0.3, 1e-7)
    p_ref = apply_updates(values[0], u)
    steps = {
        "the kernel (the rule's direction)": kernels._step_kernel,
        "forward": kernels._forward_loop,
        "backward": kernels._backward_loop,
    }
    for what, step in steps.items():
        p, g, G = (_carve(a, o) for a, o in zip(values, offsets, strict=True))
        assert n == 0 or kernels._backward(p, g, G) is backward  # (an empty view need not lie where carved)
        step(p, g, G, -dtype(0.3), dtype(1e-7))
        assert_same_bits(p, p_ref, f"params, {what}")
        assert_same_bits(G, G_ref, f"sum_of_squares, {what}")
    # the public call: one core; all cores, twice (the first all-cores call of a process runs Numba's
    # parallel loop and starts the helper threads, whose shares the second one uses); the dispatch's choice
    for parallel in (False, True, True, None):
        p, g, G = (_carve(a, o) for a, o in zip(values, offsets, strict=True))
        adagrad_step_inplace(p, g, G, 0.3, 1e-7, parallel=parallel)
        assert_same_bits(p, p_ref, f"params, the public call, parallel={parallel}")
        assert_same_bits(G, G_ref, f"sum_of_squares, the public call, parallel={parallel}")


def _overlapping(dtype, n: int, p_past_g: bool):
    """p and g overlapping on purpose, one of them 64 bytes past the other; G clear of both. A loop's direction
    then changes what it computes (an element of p written before or after it is read as g), which shows
    the direction taken; nothing else can (apart, both give the same bits). Unchecked kernels only: the
    public call refuses overlapping arrays."""
    lanes = 64 // np.dtype(dtype).itemsize
    f = _carve(np.linspace(-2, 2, n + lanes).astype(dtype), 0)
    g, p = (f[:n], f[lanes:]) if p_past_g else (f[lanes:], f[:n])
    G = _carve(np.full(n, 0.5, dtype), 2048)
    return p, g, G


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p_past_g", [True, False], ids=["p 64 bytes past g", "p 64 bytes before g"])
def test_the_kernels_take_the_direction_the_rule_says(dtype, p_past_g):
    n, hyper = 1003, (-dtype(0.3), dtype(1e-7))
    results = {}
    for what, step in {
        "forward": kernels._forward_loop,
        "backward": kernels._backward_loop,
        "the in-place kernel": kernels._step_kernel,
        "the donated step's leaf loop": tree._inplace_run,
    }.items():
        p, g, G = _overlapping(dtype, n, p_past_g)
        assert kernels._backward(p, g, G) is p_past_g
        step(p, g, G, *hyper)
        results[what] = p.copy()
    assert not np.array_equal(results["forward"], results["backward"], equal_nan=True)  # the probe can tell
    taken = results["backward" if p_past_g else "forward"]
    for what in ("the in-place kernel", "the donated step's leaf loop"):
        assert_same_bits(results[what], taken, what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(PLACEMENTS))
def test_a_donated_step_runs_the_rules_direction_with_the_references_bits(rng, dtype, name):
    """``solver.step(..., donate=True)`` on the Numba backend steps each leaf in place with the same rule
    (:data:`adagrad_ref.fast.kernels.runs_backward`): the bits of update then apply_updates."""
    offsets, backward = PLACEMENTS[name]
    values = _placed(rng, 1003, dtype, offsets)
    u, G_ref = update_leaf(values[1], values[2], 0.3, 1e-7)
    p_ref = apply_updates(values[0], u)
    p, g, G = (_carve(a, o) for a, o in zip(values, offsets, strict=True))
    assert kernels.runs_backward(p, g, G) is backward
    solver = adagrad(0.3, eps=1e-7, backend="numba")
    state = solver.init({"w": p})._replace(sum_of_squares={"w": G})
    new_p, new_state = solver.step({"w": p}, {"w": g}, state, donate=True)
    assert new_p["w"] is p and new_state.sum_of_squares["w"] is G
    assert_same_bits(p, p_ref, "params")
    assert_same_bits(G, G_ref, "sum_of_squares")
