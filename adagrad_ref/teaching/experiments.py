"""Experiments on quadratic objectives: the numbers behind the figures and notebooks.

A quadratic :math:`f(w) = \\tfrac12 (w - w^*)^\\top A (w - w^*)` with
:math:`A = R \\operatorname{diag}(\\lambda) R^\\top` (chosen eigenvalues, rotated
by :math:`R`) has gradient :math:`A (w - w^*)`: every quantity Adagrad uses is
visible and small. Each runner records, per step, the params, the loss, the
accumulator :math:`G` and the effective per-coordinate learning rate
:math:`\\eta / \\sqrt{G_{ii} + \\epsilon}` (0 where :math:`G_{ii} = 0`, optax's guard).

>>> q = Quadratic.textbook()          # f = 0.1 x1^2 + 2 x2^2, the d2l example
>>> t = run_adagrad(q, [-5.0, -2.0], learning_rate=0.4, steps=20)
>>> t.params.shape, t.loss.shape, t.effective_lr.shape
((21, 2), (21,), (20, 2))
>>> round(float(t.loss[-1]), 4)
0.6354
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from adagrad_ref.conventions import FACTORIES
from adagrad_ref.reference import adagrad, apply_updates
from adagrad_ref.teaching.full_matrix import FullMatrixAdagrad

__all__ = [
    "Quadratic",
    "Trajectory",
    "run_adagrad",
    "run_convention",
    "run_full_matrix",
    "run_gd",
    "run_rmsprop",
]


@dataclass
class Quadratic:
    """The quadratic ``f(w) = (w - w*)ᵀ A (w - w*) / 2`` with ``A = R diag(λ) Rᵀ``."""

    eigenvalues: np.ndarray
    rotation: np.ndarray
    w_star: np.ndarray

    @classmethod
    def make(cls, eigenvalues: Sequence[float], angle: float = 0.0, w_star: Sequence[float] | None = None):
        """Eigenvalues, and (in 2-D) the angle in radians by which the axes are rotated."""
        lam = np.asarray(eigenvalues, dtype=np.float64)
        d = lam.size
        R = np.eye(d)
        if angle:
            if d != 2:
                raise ValueError("a rotation angle is for 2-D quadratics")
            c, s = np.cos(angle), np.sin(angle)
            R = np.array([[c, -s], [s, c]])
        w = np.zeros(d) if w_star is None else np.asarray(w_star, dtype=np.float64)
        return cls(lam, R, w)

    @classmethod
    def textbook(cls) -> Quadratic:
        """:math:`f = 0.1 x_1^2 + 2 x_2^2` (eigenvalues 0.2 and 4): the d2l Adagrad example."""
        return cls.make([0.2, 4.0])

    @property
    def A(self) -> np.ndarray:
        return self.rotation @ np.diag(self.eigenvalues) @ self.rotation.T

    @property
    def condition_number(self) -> float:
        return float(self.eigenvalues.max() / self.eigenvalues.min())

    def loss(self, w: np.ndarray) -> float:
        d = np.asarray(w) - self.w_star
        return float(0.5 * d @ self.A @ d)

    def grad(self, w: np.ndarray) -> np.ndarray:
        return self.A @ (np.asarray(w) - self.w_star)


@dataclass
class Trajectory:
    """Per-step records of one run: ``params[t]``, ``loss[t]`` and ``sum_of_squares[t]`` after t steps
    (index 0: the start), ``effective_lr[t]``: the rate applied to the gradient of step t+1."""

    label: str
    params: np.ndarray
    loss: np.ndarray
    sum_of_squares: np.ndarray
    effective_lr: np.ndarray

    @property
    def steps(self) -> int:
        return self.loss.size - 1


def _noisy(q: Quadratic, noise: float, seed: int, shift: tuple[int, Sequence[float]] | None):
    rng = np.random.default_rng(seed)

    def grad(w: np.ndarray, t: int) -> np.ndarray:
        target = q.w_star if shift is None or t < shift[0] else np.asarray(shift[1], dtype=np.float64)
        g = q.A @ (w - target)
        return g + noise * rng.standard_normal(g.size) if noise else g

    def loss(w: np.ndarray, t: int) -> float:
        target = q.w_star if shift is None or t < shift[0] else np.asarray(shift[1], dtype=np.float64)
        d = w - target
        return float(0.5 * d @ q.A @ d)

    return grad, loss


def run_adagrad(
    q: Quadratic,
    w0: Sequence[float],
    learning_rate: float,
    steps: int,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    noise: float = 0.0,
    seed: int = 0,
    shift: tuple[int, Sequence[float]] | None = None,
    label: str = "Adagrad",
) -> Trajectory:
    """Adagrad (the reference, float64) on ``q``; ``noise``: std of Gaussian noise added to each gradient;
    ``shift = (k, w2)``: from step k on, the optimum is at ``w2`` (the objective moves)."""
    opt = adagrad(learning_rate, initial_accumulator_value, eps)
    grad, loss = _noisy(q, noise, seed, shift)
    w = np.asarray(w0, dtype=np.float64)
    state = opt.init(w)
    ps, ls, Gs, rates = [w], [loss(w, 0)], [state.sum_of_squares], []
    for t in range(steps):
        updates, state = opt.update(grad(w, t), state)
        G = state.sum_of_squares
        rates.append(np.where(G > 0, learning_rate / np.sqrt(G + eps), 0.0))  # η / sqrt(G + ε)
        w = apply_updates(w, updates)
        ps.append(w)
        ls.append(loss(w, t + 1))
        Gs.append(G)
    return Trajectory(label, np.array(ps), np.array(ls), np.array(Gs), np.array(rates))


def run_gd(
    q: Quadratic,
    w0: Sequence[float],
    learning_rate: float | Callable[[int], float],
    steps: int,
    noise: float = 0.0,
    seed: int = 0,
    shift: tuple[int, Sequence[float]] | None = None,
    label: str = "gradient descent",
) -> Trajectory:
    """Gradient descent ``w -= η_t g``; ``learning_rate`` may be a schedule ``t -> η_t``."""
    grad, loss = _noisy(q, noise, seed, shift)
    w = np.asarray(w0, dtype=np.float64)
    ps, ls, rates = [w], [loss(w, 0)], []
    for t in range(steps):
        eta = learning_rate(t) if callable(learning_rate) else learning_rate
        w = w - eta * grad(w, t)
        rates.append(np.full(w.size, eta))
        ps.append(w)
        ls.append(loss(w, t + 1))
    zeros = np.zeros((steps + 1, w.size))
    return Trajectory(label, np.array(ps), np.array(ls), zeros, np.array(rates))


def run_rmsprop(
    q: Quadratic,
    w0: Sequence[float],
    learning_rate: float,
    steps: int,
    decay: float = 0.99,
    eps: float = 1e-7,
    noise: float = 0.0,
    seed: int = 0,
    shift: tuple[int, Sequence[float]] | None = None,
    label: str = "RMSProp",
) -> Trajectory:
    """Adagrad with RMSProp's one change, for teaching (not an optimizer of the package): the sum of
    squares becomes a decaying average, ``G = decay·G + (1 − decay)·g²``, so old gradients are forgotten.
    """
    grad, loss = _noisy(q, noise, seed, shift)
    w = np.asarray(w0, dtype=np.float64)
    G = np.zeros_like(w)
    ps, ls, Gs, rates = [w], [loss(w, 0)], [G], []
    for t in range(steps):
        g = grad(w, t)
        G = decay * G + (1 - decay) * g * g  # Adagrad: G = G + g * g
        rate = learning_rate / np.sqrt(G + eps)
        w = w - rate * g
        rates.append(rate)
        ps.append(w)
        ls.append(loss(w, t + 1))
        Gs.append(G)
    return Trajectory(label, np.array(ps), np.array(ls), np.array(Gs), np.array(rates))


def run_full_matrix(
    q: Quadratic,
    w0: Sequence[float],
    learning_rate: float,
    steps: int,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    label: str = "full-matrix Adagrad",
) -> Trajectory:
    opt = FullMatrixAdagrad(learning_rate, initial_accumulator_value, eps)
    w = np.asarray(w0, dtype=np.float64)
    state = opt.init(w)
    ps, ls, Gs, rates = [w], [q.loss(w)], [np.diag(state.sum_of_outer_products)], []
    for _ in range(steps):
        u, state = opt.update(q.grad(w), state)
        w = w + u
        Gd = np.diag(state.sum_of_outer_products)
        rates.append(learning_rate / np.sqrt(Gd + eps))
        ps.append(w)
        ls.append(q.loss(w))
        Gs.append(Gd)
    return Trajectory(label, np.array(ps), np.array(ls), np.array(Gs), np.array(rates))


def run_convention(
    name: str,
    q: Quadratic,
    w0: Sequence[float],
    learning_rate: float,
    steps: int,
    dtype: type = np.float32,
    **kwargs: float,
) -> Trajectory:
    """Adagrad as framework ``name`` computes it (``adagrad_ref.conventions``), in ``dtype``.

    ``kwargs`` are the framework's own hyperparameter names; the learning rate is passed as
    ``lr`` to PyTorch and ``learning_rate`` to the others.
    """
    key = "lr" if name == "pytorch" else "learning_rate"
    opt = FACTORIES[name](**{key: learning_rate}, **kwargs)
    w = np.asarray(w0, dtype=dtype)
    A = q.A.astype(dtype)
    w_star = q.w_star.astype(dtype)
    state = opt.init(w)
    ps, ls, Gs = [w], [q.loss(w.astype(np.float64))], [state.sum_of_squares]
    for _ in range(steps):
        g = A @ (w - w_star)
        updates, state = opt.update(g, state, w)
        w = apply_updates(w, updates)
        ps.append(w)
        ls.append(q.loss(w.astype(np.float64)))
        Gs.append(state.sum_of_squares)
    Gs = np.array(Gs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        rates = np.where(Gs[1:] > 0, learning_rate / np.sqrt(Gs[1:]), 0.0)  # η / sqrt(G), ε left out
    return Trajectory(name, np.array(ps), np.array(ls), Gs, rates)
