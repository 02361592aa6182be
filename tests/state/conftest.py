"""Fixtures shared by the state-file tests."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import adagrad, save_state


@pytest.fixture
def saved(tmp_path):
    """A state file of adagrad(0.1) over a float32 and a float64 leaf, saved with its optimizer."""
    opt = adagrad(0.1)
    f = tmp_path / "s.npz"
    save_state(f, opt.init({"w": np.ones(64, np.float32), "v": np.ones(3)}), optimizer=opt)
    return f
