"""conventions.pytorch refuses exactly what torch.optim.Adagrad.__init__ refuses.

torch checks ``if not 0.0 <= value: raise ValueError(...)`` for lr, lr_decay,
weight_decay, initial_accumulator_value and eps: a negative value or NaN is
refused, 0, -0.0, the smallest subnormal and +Inf are accepted. Each value is
tried on the real torch and on the convention: one raises if and only if the
other does, bools and 1-element arrays and tensors included (torch reads True as 1 and
checks ``Tensor lr must be 1-element``); a string or a list is refused by both.
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
    True,
    False,
    np.array([0.1]),
    np.array([[-0.1]]),
    np.array([0.1, 0.2]),
    torch.tensor(0.1),
    torch.tensor([0.1]),
    torch.tensor([-0.1]),
    torch.tensor([0.1, 0.2]),
    torch.tensor(0.1, requires_grad=True),
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
        assert "\n" not in str(e)
        number = not isinstance(value, torch.Tensor) and np.ndim(value) == 0
        assert str(e).startswith(f"{field}: {FIELDS[field]}" if number else field)
        return
    assert not torch_says_no, f"torch refuses {field}={value!r}, the convention accepted it"
    expected = float(np.asarray(value.detach() if isinstance(value, torch.Tensor) else value).reshape(()))
    assert opt.hyperparameters[field] == expected or math.isnan(opt.hyperparameters[field])


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


@pytest.mark.parametrize("value", ["0.1", None, [0.1], np.ones(2), 1j])
def test_what_is_not_a_number_is_refused(value):
    with pytest.raises(AdagradError) as info:
        conventions.pytorch(lr=value)
    assert "\n" not in str(info.value) and str(info.value).startswith("lr")
    assert torch_raises(lr=value)


@pytest.mark.parametrize("value", [True, False, None, 0, 1, np.int64(1), np.bool_(True)])
def test_maximize_is_read_by_its_truth_as_torch_reads_it(value):
    """torch has no check on maximize and steps ``if maximize:``; the convention takes what torch
    reads sensibly and gives the same step as the bool it means."""
    assert not torch_raises(maximize=value)
    opt = conventions.pytorch(lr=0.1, maximize=value)
    assert opt.hyperparameters["maximize"] is bool(value)


@pytest.mark.parametrize("value", ["False", b"", np.ones(2), 0.5])
def test_maximize_whose_truth_is_a_trap_is_refused(value):
    with pytest.raises(
        AdagradError,
        match=r"^maximize must be a bool \(or None or an integer, read as torch reads it\), got ",
    ):
        conventions.pytorch(maximize=value)
