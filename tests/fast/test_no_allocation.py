"""The in-place step allocates nothing per call (tracemalloc sees every NumPy allocation)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from adagrad_ref import adagrad_step_inplace
from adagrad_ref.fast.kernels import PARALLEL_MIN_BYTES


@pytest.mark.parametrize("n", [1000, PARALLEL_MIN_BYTES])  # one core; all cores (>= the bytes)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_step_allocates_no_array(n, dtype):
    p, g, G = np.zeros(n, dtype), np.ones(n, dtype), np.full(n, 0.1, dtype)
    adagrad_step_inplace(p, g, G, 0.1, 1e-7)  # compile and warm up outside the measurement
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(20):
            adagrad_step_inplace(p, g, G, 0.1, 1e-7)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    # An array of n elements would show as >= 4n bytes; the bound is far below one array.
    assert grown < 4096, f"{grown} bytes allocated over 20 steps"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_backend_update_allocates_only_its_outputs(dtype):
    """Per leaf, the updates and the new accumulator: two arrays, nothing of the leaf's size besides."""
    from adagrad_ref import adagrad

    n = 100_000
    opt = adagrad(0.1, backend="numba")
    params = {"a": np.zeros(n, dtype), "b": np.zeros((10, n // 10), dtype)}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    state = opt.init(params)
    opt.update(grads, state)  # load the kernels outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        updates, new_state = opt.update(grads, state)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = sum(x.nbytes for x in (*updates.values(), *new_state.sum_of_squares.values()))
    assert outputs == 4 * n * np.dtype(dtype).itemsize
    assert peak < outputs + 64 * 1024, f"peak {peak} bytes for {outputs} bytes of outputs"
