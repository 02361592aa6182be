"""The in-place step allocates nothing per call (tracemalloc sees every NumPy allocation)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from adagrad_ref import adagrad_step_inplace
from adagrad_ref.kernels import PARALLEL_MIN_BYTES


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
