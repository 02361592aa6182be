"""Porters' notebook p1, the documented example to the bit: the lessons it states."""

from __future__ import annotations

import numpy as np

from adagrad_ref.teaching.claim_base import claim

NOTEBOOK = "p1_documented_example"


@claim
def first_step_moves_every_coordinate_by_eta():
    """The documented example's first step moves every coordinate by about η."""
    from adagrad_ref.example import run_documented_example

    w = run_documented_example("numpy", steps=1)
    moves = (w[0] - w[1]).astype(np.float64)
    text = (
        "In the documented example (η = 1, G₀ = 0.1) step 1 moves the three coordinates by {:.4f}, {:.4f}"
        " and {:.4f}, about η each, although their gradients are 2, 4 and 6: the first step is about"
        " −η·sign(g). x₁ lands near 0 only because it started at 1 = η."
    ).format(*moves)
    return (
        text,
        {"move_x1": moves[0], "move_x2": moves[1], "move_x3": moves[2]},
        np.all(abs(moves - 1) < 0.02),
    )
