"""Rare features: the problem Adagrad was made for (Duchi, Hazan & Singer, 2011), small and synthetic.

An online linear regression with ``d`` features whose frequencies follow a Zipf-like law: feature
``i`` (0-based) is present in an example with probability ``p_i = p_0 / (i + 1)^a`` (``a``, the Zipf
exponent, is 1 unless said otherwise), with a random sign,
so that each example has a few nonzero features and the last ones are rare. The target is
``y = x·w* + noise``. At each step the learner predicts with its current weights, suffers the
squared loss ``½ (x·w − y)²``, and updates only the weights of the features present (the gradient
is zero on the others): Adagrad with :func:`adagrad_ref.sparse_step_inplace`, and stochastic gradient
descent with the step ``η₀/√t`` the convergence proofs use.

>>> data = make_problem(d=50, steps=500, seed=1)
>>> run = run_online(data, "adagrad", 0.5)
>>> run.cumulative_loss.shape, bool(run.cumulative_loss[-1] > 0)
((500,), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OnlineProblem", "OnlineRun", "best_in_hindsight", "make_problem", "run_online", "sweep"]


@dataclass(frozen=True)
class OnlineProblem:
    """``rows[t]``, ``values[t]``: the features present in example t and their values; ``y[t]``."""

    frequencies: np.ndarray
    w_star: np.ndarray
    rows: list[np.ndarray]
    values: list[np.ndarray]
    y: np.ndarray

    @property
    def d(self) -> int:
        return self.w_star.size

    @property
    def steps(self) -> int:
        return self.y.size

    def dense(self) -> np.ndarray:
        """The ``(steps, d)`` design matrix (for the best weights in hindsight)."""
        X = np.zeros((self.steps, self.d))
        for t, (r, v) in enumerate(zip(self.rows, self.values, strict=True)):
            X[t, r] = v
        return X


@dataclass(frozen=True)
class OnlineRun:
    """``w``: the final weights; ``cumulative_loss[t]``: the losses suffered in steps 1..t+1;
    ``gradient_column_norms[i]``: ‖g_{1:T,i}‖₂, the norm of feature i's gradients over the run."""

    method: str
    learning_rate: float
    w: np.ndarray
    cumulative_loss: np.ndarray
    gradient_column_norms: np.ndarray


def make_problem(
    d: int = 200,
    steps: int = 10_000,
    p0: float = 0.5,
    noise: float = 0.1,
    seed: int = 0,
    exponent: float = 1.0,
) -> OnlineProblem:
    """The Zipf-like problem: feature i present with probability ``p0 / (i + 1)**exponent``, sign random."""
    rng = np.random.default_rng(seed)
    freq = np.minimum(1.0, p0 / np.arange(1, d + 1) ** exponent)
    w_star = rng.standard_normal(d)
    present = rng.random((steps, d)) < freq
    signs = rng.choice([-1.0, 1.0], size=(steps, d))
    rows = [np.flatnonzero(p) for p in present]
    values = [s[r] for s, r in zip(signs, rows, strict=True)]
    y = np.array([v @ w_star[r] for r, v in zip(rows, values, strict=True)])
    y = y + noise * rng.standard_normal(steps)
    return OnlineProblem(freq, w_star, rows, values, y)


def run_online(
    data: OnlineProblem, method: str, learning_rate: float, initial_accumulator_value: float = 0.1
) -> OnlineRun:
    """One pass over the examples; ``method`` is ``"adagrad"`` (sparse in-place Adagrad, optax's
    ``eps`` = 1e-7) or ``"sgd"`` (``w -= η₀/√t · g`` on the features present)."""
    from adagrad_ref import sparse_step_inplace

    if method not in ("adagrad", "sgd"):
        raise ValueError(f"method must be 'adagrad' or 'sgd', got {method!r}")
    w = np.zeros((data.d, 1))
    G = np.full((data.d, 1), float(initial_accumulator_value))
    g2 = np.zeros(data.d)
    losses = np.empty(data.steps)
    for t in range(data.steps):
        r, v = data.rows[t], data.values[t]
        err = v @ w[r, 0] - data.y[t]
        losses[t] = 0.5 * err * err
        if r.size == 0:
            continue
        g = err * v  # the gradient on the features present; zero on every other
        g2[r] += g * g
        if method == "adagrad":
            sparse_step_inplace(w, r, g[:, None], G, learning_rate)
        else:
            w[r, 0] -= learning_rate / np.sqrt(t + 1) * g
    return OnlineRun(method, float(learning_rate), w[:, 0].copy(), np.cumsum(losses), np.sqrt(g2))


def best_in_hindsight(data: OnlineProblem) -> tuple[np.ndarray, np.ndarray]:
    """The fixed weights with the least total loss over the run (least squares), and the cumulative
    loss they suffer: the comparator of the regret."""
    X = data.dense()
    w, *_ = np.linalg.lstsq(X, data.y, rcond=None)
    return w, np.cumsum(0.5 * (X @ w - data.y) ** 2)


def sweep(data: OnlineProblem, method: str, grid) -> tuple[OnlineRun, dict[float, float]]:
    """Run ``method`` at every learning rate of ``grid``; the run with the least cumulative loss, and
    the final cumulative loss at each rate."""
    runs = [run_online(data, method, float(eta)) for eta in grid]
    table = {r.learning_rate: float(r.cumulative_loss[-1]) for r in runs}
    return min(runs, key=lambda r: r.cumulative_loss[-1]), table
