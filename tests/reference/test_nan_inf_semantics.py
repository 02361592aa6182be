"""The NaN/Inf table of docs/numerics.md, row by row, on both backends and both dtypes.

Each row: the gradient and accumulator going in, what the accumulator, the
update and the param are after one step, and what the next step (a normal
gradient) does to that coordinate. The rows follow from the formula and the
order of operations; these tests hold the code to them.
"""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import adagrad, apply_updates


def classify(x: float) -> str:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == 0:
        return "-0" if np.signbit(x) else "+0"
    return "finite"


def big(dtype):
    return np.sqrt(np.finfo(dtype).max) * 4  # finite, but g² overflows


def tiny(dtype):
    return np.sqrt(np.finfo(dtype).smallest_subnormal) / 4  # nonzero, but g² underflows to 0


# (name, g(dtype), G_0, eps, expected (G, u, p) after step 1, expected u at step 2 with g = 1)
ROWS = [
    ("NaN gradient", lambda d: np.nan, 0.1, 1e-7, ("nan", "nan", "nan"), "-0"),
    ("+Inf gradient", lambda d: np.inf, 0.1, 1e-7, ("+inf", "nan", "nan"), "-0"),
    ("-Inf gradient", lambda d: -np.inf, 0.1, 1e-7, ("+inf", "nan", "nan"), "-0"),
    ("g² overflows to Inf", big, 0.1, 1e-7, ("+inf", "-0", "finite"), "-0"),
    ("zero gradient, zero accumulator (guard)", lambda d: 0.0, 0.0, 1e-7, ("+0", "-0", "finite"), "finite"),
    ("zero accumulator, eps = 0 (guard, no 0/0)", lambda d: 0.0, 0.0, 0.0, ("+0", "-0", "finite"), "finite"),
    ("g² underflows to 0, G₀ = 0", tiny, 0.0, 0.0, ("+0", "-0", "finite"), "finite"),
    ("zero gradient, G₀ = 0.1", lambda d: 0.0, 0.1, 1e-7, ("finite", "-0", "finite"), "finite"),
]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_nan_inf_row(backend, dtype, row):
    _, g_of, iav, eps, after, next_u = row
    opt = adagrad(0.1, initial_accumulator_value=iav, eps=eps, backend=backend)
    p = np.array([1.5], dtype)
    state = opt.init(p)
    u, state = opt.update(np.array([g_of(dtype)], dtype), state)
    p = apply_updates(p, u)
    got = (classify(state.sum_of_squares[0]), classify(u[0]), classify(p[0]))
    assert got == after
    if after[2] == "finite":
        assert p[0] == dtype(1.5)  # a zero update leaves the param exactly as it was
    u2, _ = opt.update(np.array([1.0], dtype), state)
    assert classify(u2[0]) == next_u
