"""The serial core is vectorised: its machine code holds packed sqrt and division.

Numba shows no assembly for functions compiled with ``cache=True``, so each
kernel is compiled again from its own source with its own target options
(everything but the cache) and that assembly is read. Before
``error_model="numpy"`` the division carried Python's zero-division check, a
branch that kept LLVM from vectorising: only scalar ``vsqrtss``/``vdivss``
were emitted and the step took 4x longer at 1,000 elements.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit

from adagrad_ref.fast import kernels, tree


def assembly(dispatcher, *args) -> str:
    options = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("cache", "nopython")}
    twin = njit(**options)(dispatcher.py_func)
    twin(*args)
    (asm,) = twin.inspect_asm().values()
    return asm


@pytest.mark.parametrize("dtype, suffix", [(np.float32, "ps"), (np.float64, "pd")])
def test_serial_kernels_use_packed_sqrt_and_division(dtype, suffix):
    n = 64
    p, g, G = np.zeros(n, dtype), np.ones(n, dtype), np.ones(n, dtype)
    hyper = (dtype(-0.1), dtype(1e-7))
    for asm in (
        assembly(kernels._forward_loop, p, g, G, *hyper),  # the in-place kernel's two directions
        assembly(kernels._backward_loop, p, g, G, *hyper),
        assembly(tree._inplace_run, p, g, G, *hyper),  # step(donate=True)'s, both directions in one
        assembly(kernels._update_kernel, g, G, *hyper, np.empty(n, dtype), np.empty(n, dtype)),
    ):
        ops = set(re.findall(r"\bv?(?:sqrt|div)[ps][sd]\b", asm))
        assert {f"vsqrt{suffix}", f"vdiv{suffix}"} <= ops or {f"sqrt{suffix}", f"div{suffix}"} <= ops, ops


def test_the_twin_has_the_kernels_options():
    assert kernels._step_kernel.targetoptions.get("error_model") == "numpy"
    assert not kernels._step_kernel.targetoptions.get("fastmath")
