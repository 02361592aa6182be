"""conventions.pytorch refuses exactly what torch.optim.Adagrad.__init__ refuses.

torch checks ``if not 0.0 <= value: raise ValueError(...)`` for lr, lr_decay,
weight_decay, initial_accumulator_value and eps: a negative value or NaN is
refused, 0, -0.0, the smallest subnormal and +Inf are accepted. Each value is
tried on the real torch and on the convention: one raises if and only if the
other does. (A bool, which torch reads as 0 or 1, is refused here: it is not a
number; a string is refused by both.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adagrad_ref import AdagradError, conventions

FIELDS = {
    "lr": "Invalid learning rate",
    "lr_decay": "Invalid lr_decay value",
    "weight_decay": "Invalid weight_decay value",
    "initial_accumulator_value": "Invalid initial_accumulator_value value",
    "eps": "Invalid epsilon value",
}
VALUES = [
    -1.0,
    -1e-300,
    -5e-324,
    -0.0,
    0.0,
    5e-324,
    1e-10,
    0.5,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    np.float32(-0.5),
    np.float64(0.25),
    np.int64(-2),
    np.int64(3),
]


def torch_raises(**kw) -> bool:
    try:
        torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], **kw)
    except (ValueError, TypeError, RuntimeError):
        return True
    return False


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_convention_raises_iff_torch_raises(field, value):
    torch_says_no = torch_raises(**{field: value})
    try:
        opt = conventions.pytorch(**{field: value})
    except AdagradError as e:
        assert torch_says_no, f"torch accepts {field}={value!r}, the convention refused it: {e}"
        assert "\n" not in str(e) and str(e).startswith(f"{field}: {FIELDS[field]}")
        return
    assert not torch_says_no, f"torch refuses {field}={value!r}, the convention accepted it"
    assert opt.hyperparameters[field] == float(value) or math.isnan(opt.hyperparameters[field])


def test_the_edge_values_torch_accepts_still_step():
    """+Inf and 0 are accepted by torch, and a step with them returns (NaN/Inf propagate as in torch)."""
    for kw in ({"lr": math.inf}, {"eps": math.inf}, {"eps": 0.0}, {"weight_decay": math.inf}):
        opt = conventions.pytorch(**kw)
        p = np.array([1.0, 0.0])
        u, state = opt.update(np.array([0.5, 0.0]), opt.init(p), p)
        assert u.shape == (2,) and int(state.count) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("g0", [1e300, 3.5e38, 3e38, math.inf])
def test_an_initial_accumulator_value_that_overflows_the_dtype(dtype, g0):
    """torch fills the state with full_like(p, G0): a finite G0 beyond the dtype's range raises there."""
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    try:
        torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2, dtype=tdtype))], initial_accumulator_value=g0)
        torch_says_no = False
    except RuntimeError:
        torch_says_no = True
    opt = conventions.pytorch(initial_accumulator_value=g0)
    try:
        opt.init(np.zeros(2, dtype))
        ours_says_no = False
    except AdagradError as e:
        assert str(e).startswith(f"initial_accumulator_value {g0!r} overflows {np.dtype(dtype).name}")
        ours_says_no = True
    assert ours_says_no == torch_says_no


@pytest.mark.parametrize("value", [True, "0.1", None, [0.1], np.ones(2), 1j])
def test_what_is_not_a_number_is_refused(value):
    with pytest.raises(AdagradError) as info:
        conventions.pytorch(lr=value)
    assert "\n" not in str(info.value) and str(info.value).startswith("lr")
    if not isinstance(value, bool):
        assert torch_raises(lr=value)
