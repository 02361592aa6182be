r"""Full-matrix Adagrad: the :math:`G = \sum_t g_t g_t^\top` the documentation defines, kept whole.

``optax.adagrad`` (and this package's reference) keeps only the diagonal of
:math:`G`, one number per parameter. The full matrix also remembers how the
coordinates' gradients move together, and preconditions with its inverse
square root:

.. math::

    G_t = G_{t-1} + g_t g_t^\top, \qquad
    w_{t+1} = w_t - \eta \, (G_t + \epsilon I)^{-1/2} g_t

with :math:`G_0 = ` ``initial_accumulator_value`` :math:`\cdot I`. The inverse
square root comes from an eigendecomposition of the symmetric :math:`G_t + \epsilon I`
(``numpy.linalg.eigh``): :math:`V \operatorname{diag}(\lambda_i^{-1/2}) V^\top`. It costs
:math:`O(p^3)` a step for :math:`p` parameters, which is why nobody uses it on
a network, and why it is here: to show, on two parameters, what the diagonal
gives up (``notebooks/06_diagonal_vs_full_matrix.ipynb``).

>>> import numpy as np
>>> opt = FullMatrixAdagrad(1.0)
>>> state = opt.init(np.zeros(2))
>>> u, state = opt.update(np.array([3.0, 0.0]), state)
>>> np.round(u, 6), state.sum_of_outer_products.shape
(array([-0.99449, -0.     ]), (2, 2))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.validation import check_hyperparameter, check_learning_rate

__all__ = ["FullMatrixAdagrad", "FullMatrixState"]


class FullMatrixState(NamedTuple):
    """``sum_of_outer_products``: :math:`G_t`, a ``(p, p)`` matrix; ``count``: updates done."""

    sum_of_outer_products: np.ndarray
    count: int


class FullMatrixAdagrad:
    """Full-matrix Adagrad on one flat parameter vector (``init``/``update`` as the diagonal one).

    Args:
      learning_rate: η (a number).
      initial_accumulator_value: :math:`G_0 = ` this times the identity (optax's default 0.1).
      eps: ε, added to the diagonal before the inverse square root (optax's default 1e-7).
    """

    def __init__(
        self, learning_rate: float, initial_accumulator_value: float = 0.1, eps: float = 1e-7
    ) -> None:
        lr = check_learning_rate(learning_rate)
        if callable(lr):
            raise AdagradError("learning_rate must be a number for FullMatrixAdagrad")
        self.learning_rate = lr
        self.initial_accumulator_value = check_hyperparameter(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = check_hyperparameter("eps", eps)

    def init(self, params: np.ndarray) -> FullMatrixState:
        p = np.asarray(params)
        if p.ndim != 1 or p.dtype.type not in (np.float32, np.float64):
            raise AdagradError(f"params must be a 1-D float32 or float64 vector, got {p.dtype} {p.shape}")
        G = np.eye(p.size, dtype=np.float64) * self.initial_accumulator_value
        return FullMatrixState(G, 0)

    def update(self, grads: np.ndarray, state: FullMatrixState, params: np.ndarray | None = None):
        """``(updates, new_state)``: :math:`-\\eta (G_t + \\epsilon I)^{-1/2} g_t`, in float64."""
        g = np.asarray(grads, dtype=np.float64)
        G = state.sum_of_outer_products
        if g.shape != (G.shape[0],):
            raise AdagradError(f"grads has shape {g.shape}; expected ({G.shape[0]},) as the state")
        G = G + np.outer(g, g)  # G_t = G_{t-1} + g gᵀ
        lam, V = np.linalg.eigh(G + self.eps * np.eye(g.size))  # G + εI = V diag(λ) Vᵀ
        with np.errstate(divide="ignore"):
            inv_sqrt = np.where(lam > 0, 1 / np.sqrt(np.maximum(lam, 0)), 0.0)  # λ^(-1/2), 0 where λ = 0
        u = -self.learning_rate * (V @ (inv_sqrt * (V.T @ g)))  # -η (G + εI)^(-1/2) g
        return u, FullMatrixState(G, state.count + 1)
