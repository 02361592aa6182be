"""A saved state records its optimizer's convention and every hyperparameter; loading with any other
optimizer is refused, naming the field. A schedule is recorded only as "schedule"."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from helpers.errors import one_line

from adagrad_ref import adagrad, conventions, load_state, save_state
from adagrad_ref.state.checkpoint import read_metadata

PYTORCH = {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 0.0, "eps": 1e-10}


def saved(tmp_path, opt, name="s.npz"):
    path = tmp_path / name
    save_state(path, opt.init({"w": np.zeros(3)}), optimizer=opt)
    return path


@pytest.mark.parametrize("name", sorted(conventions.FACTORIES))
def test_every_hyperparameter_and_the_convention_are_recorded(tmp_path, name):
    opt = conventions.FACTORIES[name](0.25)
    meta = read_metadata(saved(tmp_path, opt))
    assert meta["hyperparameters"] == {"convention": name, **opt.hyperparameters}
    load_state(tmp_path / "s.npz", optimizer=conventions.FACTORIES[name](0.25))  # the same: loads


@pytest.mark.parametrize(
    "field, other",
    [("lr_decay", 0.0), ("weight_decay", 0.0), ("maximize", False), ("eps", 1e-8), ("lr", 0.2),
     ("initial_accumulator_value", 0.1)],
)  # fmt: skip
def test_pytorch_any_differing_field_is_refused(tmp_path, field, other):
    path = saved(tmp_path, conventions.pytorch(**PYTORCH, maximize=True))
    kw = {**PYTORCH, "maximize": True, field: other}
    was = {**PYTORCH, "maximize": True}[field]
    message = f"{path}: hyperparameters.{field} is {was!r} in the file, {other!r} in the optimizer"
    with one_line("^" + re.escape(message) + "$"):
        load_state(path, optimizer=conventions.pytorch(**kw))


def test_another_convention_is_refused_before_its_fields(tmp_path):
    path = saved(tmp_path, conventions.keras(0.1))
    with one_line(r"hyperparameters\.convention is 'keras' in the file, 'tensorflow_v2' in the optimizer$"):
        load_state(path, optimizer=conventions.tensorflow_v2(0.1))
    with one_line(r"hyperparameters\.convention is 'keras' in the file, 'optax' in the optimizer$"):
        load_state(path, optimizer=adagrad(0.1))


def test_a_bool_is_not_a_number(tmp_path):
    """maximize=True must not equal a field holding 1.0 (JSON and Python both say True == 1)."""
    path = saved(tmp_path, conventions.pytorch(lr=1.0, maximize=True))
    with one_line(r"hyperparameters\.maximize is True in the file, False in the optimizer"):
        load_state(path, optimizer=conventions.pytorch(lr=1.0, maximize=False))


def test_a_schedule_is_recorded_as_one_and_what_cannot_be_compared_is_said(tmp_path):
    path = saved(tmp_path, adagrad(lambda c: 0.1 * 0.9**c))
    assert read_metadata(path)["hyperparameters"]["learning_rate"] == "schedule"
    load_state(path, optimizer=adagrad(lambda c: 0.5))  # another schedule: cannot be told apart, loads
    with one_line(
        r"hyperparameters\.learning_rate is 'schedule' in the file, 0\.1 in the optimizer "
        r"\(a schedule is recorded only as 'schedule': which schedule cannot be compared\)$"
    ):
        load_state(path, optimizer=adagrad(0.1))


def test_infinite_values_torch_accepts_round_trip(tmp_path):
    path = saved(tmp_path, conventions.pytorch(lr=math.inf))
    load_state(path, optimizer=conventions.pytorch(lr=math.inf))
    with one_line(r"hyperparameters\.lr is 'inf' in the file, 1\.0 in the optimizer"):
        load_state(path, optimizer=conventions.pytorch(lr=1.0))


def test_an_object_that_is_not_an_optimizer_is_refused(tmp_path):
    with one_line(
        r"^optimizer must be one of adagrad_ref's optimizers \(with convention and hyperparameters\), got dict$"
    ):
        save_state(tmp_path / "x.npz", adagrad(0.1).init(np.zeros(2)), optimizer={"lr": 0.1})
