"""The experiments behind the figures compute what they say, and every figure is labelled and written."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import ROOT

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.experiments import Quadratic, run_adagrad, run_convention, run_gd


def test_quadratic_gradient_is_the_derivative_of_its_loss():
    q = Quadratic.make([0.3, 5.0], angle=0.7, w_star=[1.0, -2.0])
    w = np.array([0.4, 0.9])
    h = 1e-6
    numeric = [(q.loss(w + h * e) - q.loss(w - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(q.grad(w), numeric, rtol=1e-6)
    assert q.condition_number == pytest.approx(5.0 / 0.3)


def test_run_adagrad_records_the_optimizer_exactly():
    q = Quadratic.textbook()
    tr = run_adagrad(q, [-5.0, -2.0], 0.4, 15)
    opt = adagrad(0.4)
    w = np.array([-5.0, -2.0])
    state = opt.init(w)
    for t in range(15):
        u, state = opt.update(q.grad(w), state)
        w = apply_updates(w, u)
        assert np.array_equal(tr.params[t + 1], w)
        assert np.array_equal(tr.sum_of_squares[t + 1], state.sum_of_squares)
        assert np.array_equal(tr.effective_lr[t], 0.4 / np.sqrt(state.sum_of_squares + 1e-7))
        assert tr.loss[t + 1] == q.loss(w)


def test_noisy_gradients_give_the_one_over_sqrt_t_law():
    """The claim of the effective-learning-rate figure, checked: with noise, rate * sqrt(t) levels off
    near eta / sigma; with exact gradients the rate itself levels off."""
    q = Quadratic.textbook()
    noisy = run_adagrad(q, [-5, -2], 0.4, 10_000, noise=1.0)
    t = np.arange(1, 10_001)
    scaled = noisy.effective_lr[:, 0] * np.sqrt(t)
    assert abs(scaled[-1] / scaled[4999] - 1) < 0.05 and scaled[-1] == pytest.approx(0.4, rel=0.1)
    exact = run_adagrad(q, [-5, -2], 0.4, 10_000)
    assert exact.effective_lr[-1, 0] == pytest.approx(exact.effective_lr[999, 0], rel=1e-6)


def test_gradient_descent_diverges_at_eta_2_and_adagrad_does_not():
    q = Quadratic.textbook()
    assert abs(run_gd(q, [-5, -2], 2.0, 20).params[-1, 1]) > 1e10
    assert run_adagrad(q, [-5, -2], 2.0, 20).loss[-1] < 1e-3


def test_pytorch_convention_first_step_is_lr_times_sign():
    q = Quadratic.textbook()
    tr = run_convention("pytorch", q, [-5.0, -2.0], 0.4, 1)
    np.testing.assert_allclose(tr.params[1] - tr.params[0], [0.4, 0.4], rtol=1e-6)


@pytest.mark.parametrize("name", list(plots.FIGURES))
def test_every_figure_has_titles_labels_and_a_legend(name):
    fig = plots.FIGURES[name]()
    try:
        axes = [ax for ax in fig.axes if ax.has_data()]
        assert axes
        for ax in axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), (name, ax)
        assert any(ax.get_legend() is not None for ax in axes) or fig.legends, name
    finally:
        plt.close(fig)


def test_figures_command_writes_every_png_reproducibly_and_says_what_it_skipped(tmp_path):
    """Every figure is written, byte for byte the committed one (the figures are regenerated, not edited);
    the benchmark's plot, without its bench.json in the folder, is skipped with the reason."""
    out = subprocess.run(
        [sys.executable, "-m", "adagrad_ref", "figures", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    for i, name in enumerate(plots.FIGURES, 1):
        assert (tmp_path / name).stat().st_size > 20_000
        assert f"[{i}/{len(plots.FIGURES)}] {tmp_path / name}" in out.stdout
        assert (tmp_path / name).read_bytes() == (ROOT / "figures" / name).read_bytes(), name
    bench = tmp_path / "bench.png"
    assert not bench.exists()
    assert (
        f"[skipped] {bench}: no {tmp_path / 'bench.json'} (python -m adagrad_ref bench writes it)"
        in out.stdout
    )
