"""Full-matrix Adagrad: the diagonal method when gradients are axis-aligned, faster when the problem is rotated."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad
from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_full_matrix
from adagrad_ref.teaching.full_matrix import FullMatrixAdagrad


def test_equals_the_diagonal_method_when_every_gradient_is_axis_aligned(rng):
    diag, full = (
        adagrad(0.3, initial_accumulator_value=0.05),
        FullMatrixAdagrad(0.3, initial_accumulator_value=0.05),
    )
    sd, sf = diag.init(np.zeros(4)), full.init(np.zeros(4))
    for _ in range(40):
        g = np.zeros(4)
        g[rng.integers(4)] = rng.standard_normal() * 10.0 ** rng.uniform(-2, 2)
        ud, sd = diag.update(g, sd)
        uf, sf = full.update(g, sf)
        np.testing.assert_allclose(uf, ud, rtol=1e-13, atol=0)
        np.testing.assert_allclose(np.diag(sf.sum_of_outer_products), sd.sum_of_squares, rtol=1e-15)
        assert np.count_nonzero(sf.sum_of_outer_products - np.diag(np.diag(sf.sum_of_outer_products))) == 0


def test_matches_the_formula_on_a_general_gradient():
    opt = FullMatrixAdagrad(0.5, initial_accumulator_value=0.1, eps=1e-7)
    g = np.array([1.0, -2.0, 0.5])
    u, state = opt.update(g, opt.init(np.zeros(3)))
    G = 0.1 * np.eye(3) + np.outer(g, g)
    # (G + εI)^(-1/2) by a different route: the matrix square root from an SVD, then an inverse.
    U, s, _ = np.linalg.svd(G + 1e-7 * np.eye(3))
    expected = -0.5 * np.linalg.solve(U @ np.diag(np.sqrt(s)) @ U.T, g)
    np.testing.assert_allclose(u, expected, rtol=1e-12)
    assert state.count == 1


def steps_to(tr, level):
    below = np.flatnonzero(tr.loss < level)
    return int(below[0]) if below.size else 10**9


def test_converges_in_fewer_steps_on_a_rotated_quadratic():
    q = Quadratic.make([0.2, 4.0], angle=np.pi / 4)
    diag = run_adagrad(q, [-5, -2], 0.4, 400)
    full = run_full_matrix(q, [-5, -2], 0.4, 400)
    assert steps_to(full, 1e-2) * 3 < steps_to(diag, 1e-2)
    # ... and the full matrix does not care about the rotation when the start point rotates too:
    # the rotated run is the aligned run, rotated (from the same start point it is not).
    aligned = run_full_matrix(Quadratic.make([0.2, 4.0]), [-5, -2], 0.4, 400)
    rotated_start = run_full_matrix(q, q.rotation @ [-5.0, -2.0], 0.4, 400)
    np.testing.assert_allclose(rotated_start.params, aligned.params @ q.rotation.T, atol=1e-9)
    assert np.max(np.abs(full.loss[1:60] / aligned.loss[1:60] - 1)) > 0.05


def test_bad_input():
    with pytest.raises(AdagradError, match="params must be a 1-D float32 or float64 vector"):
        FullMatrixAdagrad(0.1).init(np.zeros((2, 2)))
    opt = FullMatrixAdagrad(0.1)
    with pytest.raises(AdagradError, match=r"grads has shape \(3,\); expected \(2,\)"):
        opt.update(np.zeros(3), opt.init(np.zeros(2)))
    with pytest.raises(AdagradError, match="eps must be finite and >= 0"):
        FullMatrixAdagrad(0.1, eps=-1.0)
