"""Adagrad as each framework computes it: same name, different arithmetic.

Each factory takes that framework's own parameter names and defaults and
returns an optimizer with the core's shape (``init``, ``update``, a state with
``sum_of_squares`` and ``count``), computed in NumPy in that framework's order
of operations, every scalar rounded to the array's dtype. ``apply_updates``
then adds the updates (``w + u``, which equals the frameworks' ``w - x`` to the
bit: IEEE subtraction is addition of the negation).

=============  =====  ==================  ====================================  =======
convention     G₀     ε                   update u                              G = 0
=============  =====  ==================  ====================================  =======
optax          0.1    inside, 1e-7        ``(-lr) * (g * (1/sqrt(G + ε)))``     u = 0
pytorch        0      outside, 1e-10      ``((-clr) * g) / (sqrt(G) + ε)``      u = 0·g/ε
keras          0.1    inside, 1e-7        ``-((lr * g) / sqrt(G + ε))``         NaN if ε = 0
tensorflow_v2  0.1    outside, 1e-7       ``-((g * lr) / (sqrt(G) + ε))``       u = 0·g/ε
=============  =====  ==================  ====================================  =======

All four accumulate ``G = G + g*g`` first and then use the new ``G``; PyTorch's
CPU kernels compute it, and its weight decay, as one fused multiply-add (one
rounding, measured against torch 2.13: the two-rounding form differs by 1 ULP
on the accumulator and up to hundreds of ULP on a cancelling weight decay).
PyTorch's ``clr = lr / (1 + (step - 1)·lr_decay)`` with ``step`` = 1 at the
first update; its weight decay adds ``weight_decay·w`` to the gradient first
and ``maximize`` negates the gradient. The sources read: optax
``_src/transform.py`` (``scale_by_rss``), torch ``optim/adagrad.py``
(``_single_tensor_adagrad``: ``addcmul_``, ``sqrt().add_``, ``addcdiv_``), Keras 3
``optimizers/adagrad.py`` (``update_step``; its learning rate lives in a float32 variable, so float64 runs use
the float32-rounded rate) and TensorFlow's ``ApplyAdagradV2``
kernel (``training_ops.cc``).

>>> import numpy as np
>>> g = np.float32([0.5])
>>> for name in ("optax", "pytorch", "keras", "tensorflow_v2"):
...     opt = FACTORIES[name](1.0)
...     u, _ = opt.update(g, opt.init(np.zeros(1, np.float32)), np.zeros(1, np.float32))
...     print(f"{name:14s} {u[0]: .8f}")
optax          -0.84515417
pytorch        -1.00000000
keras          -0.84515417
tensorflow_v2  -0.84515405
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.fma import fma
from adagrad_ref.reference import Adagrad, ScalarOrSchedule, update_leaf
from adagrad_ref.tree import flatten_with_path
from adagrad_ref.validation import check_hyperparameter

__all__ = ["FACTORIES", "ORDER_OF_OPERATIONS", "keras", "optax", "pytorch", "tensorflow_v2"]

#: Per convention, the canonical order of operations, one rounding per line (written into the golden files).
ORDER_OF_OPERATIONS = {
    "optax": [
        "G = g*g + G            (complex g = a + ib: G = fma(a, a, b*b) + G, as XLA computes re(conj(g)*g))",
        "s = 1 / sqrt(G + eps)  if G > 0, else s = 0",
        "u = s * g",
        "u = (-lr_t) * u        (lr_t = learning_rate(count), count = 0 at the first step)",
        "w = w + u",
    ],
    "pytorch": [
        "g = -g                 (only if maximize)",
        "g = fma(weight_decay, w, g)   (only if weight_decay != 0; ONE rounding: torch fuses it)",
        "clr = lr / (1 + (step - 1) * lr_decay)   (in float64, step = 1 at the first update; then rounded)",
        "G = fma(g, g, G)       (ONE rounding: torch's CPU addcmul_ is a fused multiply-add)",
        "d = sqrt(G) + eps",
        "u = ((-clr) * g) / d",
        "w = w + u",
    ],
    "keras": [
        "lr_t = the rate rounded to float32 (Keras keeps it in a float32 variable), then to the dtype",
        "G = G + g*g",
        "d = sqrt(G + eps)",
        "u = -((lr_t * g) / d)  (no guard: G + eps = 0 gives 0/0 = NaN)",
        "w = w + u              (Keras writes w - (lr_t * g) / d: the same bits)",
    ],
    "tensorflow_v2": [
        "G = G + g*g",
        "d = sqrt(G) + eps",
        "u = -((g * lr_t) / d)",
        "w = w + u              (TensorFlow writes w - g * lr_t / d: the same bits)",
    ],
}


def _pytorch_leaf(g, G, p, clr, eps, weight_decay, maximize):
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        if maximize:
            g = -g  # ascend instead
        if weight_decay != 0:
            g = fma(dtype(weight_decay), p, g)  # grad.add(param, alpha=weight_decay): one fused multiply-add
        G = fma(g, g, G)  # state_sum.addcmul_(grad, grad, value=1): torch's CPU kernel fuses it too
        d = np.sqrt(G) + dtype(eps)  # std = state_sum.sqrt().add_(eps)   (ε outside the root)
        u = (dtype(-clr) * g) / d  # param.addcdiv_(grad, std, value=-clr)
    return np.asarray(u), np.asarray(G)


def _keras_leaf(g, G, lr, eps):
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        G = G + g * g  # accumulator += square(g)
        d = np.sqrt(G + dtype(eps))  # sqrt(accumulator + epsilon)   (ε inside, no guard)
        u = -((dtype(lr) * g) / d)  # variable -= (lr * g) / d
    return np.asarray(u), np.asarray(G)


def _tensorflow_v2_leaf(g, G, lr, eps):
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        G = G + g * g  # accum += grad.square()
        d = np.sqrt(G) + dtype(eps)  # accum.sqrt() + epsilon   (ε outside)
        u = -((g * dtype(lr)) / d)  # var -= grad * lr / d
    return np.asarray(u), np.asarray(G)


class _Convention(Adagrad):
    """An :class:`Adagrad` whose leaf update follows another framework (NumPy backend only)."""

    convention = "optax"

    def __init__(self, learning_rate: ScalarOrSchedule, initial_accumulator_value: float, eps: float) -> None:
        super().__init__(learning_rate, initial_accumulator_value, eps)

    def __repr__(self) -> str:
        return f"conventions.{self.convention}({self._describe()})"

    def _describe(self) -> str:
        return (
            f"learning_rate={self.learning_rate!r}, "
            f"initial_accumulator_value={self.initial_accumulator_value!r}, eps={self.eps!r}"
        )

    #: Only optax's Adagrad takes complex params (PyTorch's treats real and imaginary parts apart).
    _takes_complex = False

    def init(self, params: Any):
        if not self._takes_complex:
            for path, leaf in flatten_with_path(params)[0]:
                if leaf is not None and np.iscomplexobj(leaf):
                    raise AdagradError(
                        f"params{path} is complex; the {self.convention} convention here takes real arrays"
                    )
        return super().init(params)


class _Optax(_Convention):
    convention = "optax"
    _takes_complex = True

    def _leaf_update(self, g, G, p, eta):
        return update_leaf(g, G, eta, self.eps)


class _PyTorch(_Convention):
    convention = "pytorch"

    def __init__(self, lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize) -> None:
        super().__init__(lr, initial_accumulator_value, eps)
        if callable(lr):
            raise AdagradError("lr must be a number in the pytorch convention (its schedule is lr_decay)")
        self.lr_decay = check_hyperparameter("lr_decay", lr_decay)
        self.weight_decay = check_hyperparameter("weight_decay", weight_decay)
        self.maximize = bool(maximize)
        self._uses_params = self.weight_decay != 0

    def _describe(self) -> str:
        return (
            f"lr={self.learning_rate!r}, lr_decay={self.lr_decay!r}, weight_decay={self.weight_decay!r}, "
            f"initial_accumulator_value={self.initial_accumulator_value!r}, eps={self.eps!r}, "
            f"maximize={self.maximize!r}"
        )

    @property
    def hyperparameters(self) -> dict:
        return {
            "lr": self.learning_rate,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
            "maximize": self.maximize,
        }

    def learning_rate_at(self, count: int) -> float:
        step = count + 1  # torch increments its step before using it
        return self.learning_rate / (1 + (step - 1) * self.lr_decay)  # clr, in float64 as in Python

    def _leaf_update(self, g, G, p, clr):
        return _pytorch_leaf(g, G, p, clr, self.eps, self.weight_decay, self.maximize)


def _keras_style_hyperparameters(opt: Adagrad) -> dict:
    lr = opt.learning_rate
    return {
        "learning_rate": "schedule" if callable(lr) else lr,
        "initial_accumulator_value": opt.initial_accumulator_value,
        "epsilon": opt.eps,
    }


class _Keras(_Convention):
    convention = "keras"

    @property
    def hyperparameters(self) -> dict:
        return _keras_style_hyperparameters(self)

    def learning_rate_at(self, count: int) -> float:
        # Keras keeps the rate in a float32 variable and casts it to the params' dtype when used:
        # a float64 run steps with the float32-rounded rate.
        return float(np.float32(super().learning_rate_at(count)))

    def _leaf_update(self, g, G, p, eta):
        return _keras_leaf(g, G, eta, self.eps)


class _TensorFlowV2(_Convention):
    convention = "tensorflow_v2"

    @property
    def hyperparameters(self) -> dict:
        return _keras_style_hyperparameters(self)

    def _leaf_update(self, g, G, p, eta):
        return _tensorflow_v2_leaf(g, G, eta, self.eps)


def optax(
    learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> Adagrad:
    """``optax.adagrad``: ε inside the root, G₀ = 0.1, zero update where G = 0 (the reference itself)."""
    return _Optax(learning_rate, initial_accumulator_value, eps)


def pytorch(
    lr: float = 0.01,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> Adagrad:
    """``torch.optim.Adagrad``: ε outside the root, G₀ = 0, ``clr = lr / (1 + (step-1)·lr_decay)``.

    Pass ``params`` to ``update`` when ``weight_decay != 0``.
    """
    return _PyTorch(lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize)


def keras(
    learning_rate: ScalarOrSchedule = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> Adagrad:
    """``keras.optimizers.Adagrad`` (Keras 3): ε inside the root, G₀ = 0.1, no guard."""
    return _Keras(learning_rate, initial_accumulator_value, epsilon)


def tensorflow_v2(
    learning_rate: ScalarOrSchedule = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> Adagrad:
    """TensorFlow's ``ApplyAdagradV2`` op (used by tf.keras 2's Adagrad, whose defaults these are):
    ε outside the root."""
    return _TensorFlowV2(learning_rate, initial_accumulator_value, epsilon)


#: The factories by name, as the golden files name their convention.
FACTORIES = {"optax": optax, "pytorch": pytorch, "keras": keras, "tensorflow_v2": tensorflow_v2}
