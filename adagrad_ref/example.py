"""The example of the ``optax.adagrad`` documentation, reproduced with this package.

The documentation runs five steps of ``optax.adagrad(learning_rate=1.0)`` on
``f(x) = sum(x**2)`` from ``x = [1, 2, 3]`` in float32 and prints::

    Objective function:  14.0
    Objective function: 5.01E+00
    Objective function: 2.40E+00
    Objective function: 1.25E+00
    Objective function: 6.86E-01
    Objective function: 3.85E-01

>>> print("\\n".join(documented_example("numpy")))
Objective function:  14.0
Objective function: 5.01E+00
Objective function: 2.40E+00
Objective function: 1.25E+00
Objective function: 6.86E-01
Objective function: 3.85E-01
"""

from __future__ import annotations

import numpy as np

from adagrad_ref.reference import adagrad, apply_updates

__all__ = ["documented_example", "f", "grad_f", "objective_lines", "run_documented_example"]


def f(x: np.ndarray) -> np.floating:
    """The documentation's objective, ``sum(x**2)``, in the dtype of ``x``."""
    return np.sum(x**2)


def grad_f(x: np.ndarray) -> np.ndarray:
    """Its gradient, ``2 x`` (what ``jax.grad(f)`` returns, exactly)."""
    return 2 * x


def run_documented_example(backend: str = "numpy", steps: int = 5) -> list[np.ndarray]:
    """The params after each step, starting with the initial ones."""
    solver = adagrad(learning_rate=1.0, backend=backend)
    params = np.array([1.0, 2.0, 3.0], np.float32)
    trajectory = [params]
    opt_state = solver.init(params)
    for _ in range(steps):
        grad = grad_f(params)
        updates, opt_state = solver.update(grad, opt_state, params)
        params = apply_updates(params, updates)
        trajectory.append(params)
    return trajectory


def documented_example(backend: str = "numpy") -> list[str]:
    """The lines the documentation prints, computed with ``backend``."""
    return objective_lines(run_documented_example(backend))


def objective_lines(trajectory: list[np.ndarray]) -> list[str]:
    """The lines the documentation prints for a trajectory of :func:`run_documented_example`."""
    lines = [f"Objective function:  {f(trajectory[0])}"]  # print('...: ', f(params)) adds the 2nd space
    lines += [f"Objective function: {f(p):.2E}" for p in trajectory[1:]]
    return lines
