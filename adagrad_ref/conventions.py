"""Adagrad as each framework computes it: same name, different arithmetic.

Each framework is a public *leaf function* (:func:`optax_leaf`,
:func:`pytorch_leaf`, :func:`keras_leaf`, :func:`tensorflow_v2_leaf`): one
array's step in that framework's order of operations, one line per rounding,
every scalar rounded to the array's dtype. Each *factory* (:func:`optax`,
:func:`pytorch`, :func:`keras`, :func:`tensorflow_v2`) takes the framework's
own parameter names and defaults, applies its checks, binds them to its leaf
function and returns the one shared driver, :class:`Convention` (optax's is the
reference's own :class:`~adagrad_ref.reference.Adagrad`, the same driver): ``init``,
``update`` (a map of the leaf function over the pytree), a state with
``sum_of_squares`` and ``count``, and ``convention``, ``hyperparameters`` and
``learning_rate_at``. ``apply_updates`` then adds the updates (``w + u``, which
equals the frameworks' ``w - x`` to the bit: IEEE subtraction is addition of
the negation).

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

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import optree

from adagrad_ref import validation
from adagrad_ref.errors import AdagradError, refuses_out_of_memory
from adagrad_ref.numerics.lowprec import is_low_precision
from adagrad_ref.reference import (
    Adagrad,
    AdagradState,
    ScalarOrSchedule,
    adagrad,
    safe_increment,
    update_leaf,
)
from adagrad_ref.trees import NAMESPACE, flatten, map_pairs

__all__ = [
    "FACTORIES",
    "ORDER_OF_OPERATIONS",
    "OTHER_FACTORIES",
    "Convention",
    "keras",
    "keras_leaf",
    "onnx",
    "onnx_leaf",
    "optax",
    "optax_leaf",
    "pytorch",
    "pytorch_leaf",
    "tensorflow_v2",
    "tensorflow_v2_leaf",
    "tfjs",
    "tfjs_leaf",
]

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
    "tfjs": [
        "lr_t = the rate rounded to float32 (tfjs multiplies by the scalar tensor -lr; float32 only)",
        "G = G + g*g            (add(accumulator, square(g)))",
        "d = sqrt(G + eps)      (eps = the backend's epsilon, 1e-7 on the CPU backend)",
        "u = (g / d) * (-lr_t)  (mul(div(g, d), -lr): divide first, then scale)",
        "w = u + w",
    ],
    "onnx": [
        "r = R / (1 + T * decay_factor)   (T = count, 0 at step 1; in float64, then rounded to the dtype)",
        "g = norm_coefficient * w + g     (two roundings; always, also when norm_coefficient = 0)",
        "G = G + g*g",
        "d = sqrt(G) + epsilon  (epsilon outside the root; default 0: no guard, 0/0 = NaN)",
        "u = -((r * g) / d)     (X_new = X - r * g / d: the same bits)",
        "w = w + u",
    ],
}


# ---------------------------------------------------------------- each framework's leaf update
# (g, G, p, lr, eps, ...) -> (u, G_new): one array's step, every scalar rounded to the array's dtype,
# one line per rounding. p (the params) is used by PyTorch's weight decay only.


def optax_leaf(g: np.ndarray, G: np.ndarray, p: np.ndarray | None, lr: float, eps: float):
    """optax: the reference's :func:`~adagrad_ref.reference.update_leaf` (ε inside the root, G > 0 guard)."""
    return update_leaf(g, G, lr, eps)


def pytorch_leaf(
    g: np.ndarray, G: np.ndarray, p: np.ndarray | None, clr: float, eps: float,
    weight_decay: float = 0.0, maximize: bool = False,
):  # fmt: skip
    """torch.optim.Adagrad's ``_single_tensor_adagrad``, ``clr`` being this step's decayed rate."""
    from adagrad_ref.numerics.fma import fma  # torch's fused multiply-adds (loaded when a PyTorch step runs)

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


def keras_leaf(g: np.ndarray, G: np.ndarray, p: np.ndarray | None, lr: float, eps: float):
    """Keras 3's ``Adagrad.update_step``, ``lr`` already rounded to float32 (:func:`keras`)."""
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        G = G + g * g  # accumulator += square(g)
        d = np.sqrt(G + dtype(eps))  # sqrt(accumulator + epsilon)   (ε inside, no guard)
        u = -((dtype(lr) * g) / d)  # variable -= (lr * g) / d
    return np.asarray(u), np.asarray(G)


def tensorflow_v2_leaf(g: np.ndarray, G: np.ndarray, p: np.ndarray | None, lr: float, eps: float):
    """TensorFlow's ``ApplyAdagradV2`` kernel (``training_ops.cc``)."""
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        G = G + g * g  # accum += grad.square()
        d = np.sqrt(G) + dtype(eps)  # accum.sqrt() + epsilon   (ε outside)
        u = -((g * dtype(lr)) / d)  # var -= grad * lr / d
    return np.asarray(u), np.asarray(G)


def tfjs_leaf(g: np.ndarray, G: np.ndarray, p: np.ndarray | None, lr: float, eps: float):
    """TensorFlow.js's ``AdagradOptimizer.applyGradients`` (``tfjs-core`` 4.22), ``lr`` rounded to float32.

    ``add(mul(div(g, sqrt(add(G, eps))), -lr), w)``: the division comes first and the rate scales
    its quotient, an order none of the other conventions uses.
    """
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        G = G + g * g  # add(accumulatedGrad, square(gradient))
        d = np.sqrt(G + dtype(eps))  # sqrt(add(newAccumulatedGrad, backend.epsilon()))   (ε inside)
        u = (g / d) * dtype(-lr)  # mul(div(gradient, d), -learningRate)
    return np.asarray(u), np.asarray(G)


def onnx_leaf(
    g: np.ndarray, G: np.ndarray, p: np.ndarray | None, r: float, epsilon: float,
    norm_coefficient: float = 0.0,
):  # fmt: skip
    """ONNX's ``ai.onnx.preview.training.Adagrad`` read per operation in the params' dtype (as a runtime
    kernel computes it), ``r`` this step's decayed rate (:func:`onnx`). The L2 term is always added,
    as the operator states it: with ``norm_coefficient = 0``, ``0·w`` is NaN where w is NaN or ±Inf,
    and ``0·w + (-0)`` is +0. The operator's NumPy reference (``onnx.reference``) differs in float32:
    it promotes ``r`` to float64, so a float32 update is computed in float64 and rounded once
    (measured in ``python -m adagrad_ref atlas``)."""
    dtype = G.dtype.type
    with np.errstate(all="ignore"):
        g = dtype(norm_coefficient) * p + g  # g_regularized = norm_coefficient * x + g
        G = G + g * g  # h_new = h + g_regularized * g_regularized
        d = np.sqrt(G) + dtype(epsilon)  # h_sqrt = sqrt(h_new) + epsilon   (ε outside)
        u = -((dtype(r) * g) / d)  # x_new = x - r_ * g_regularized / h_sqrt
    return np.asarray(u), np.asarray(G)


# ---------------------------------------------------------------- the shared driver


class Convention:
    """The one driver of every convention: ``init`` and ``update`` map a leaf update over pytrees.

    Args:
      convention: the framework's name (``"pytorch"``...).
      leaf_update: ``(g, G, p, lr) -> (u, G_new)``, the framework's leaf function
        with its other hyperparameters bound (``functools.partial``).
      learning_rate_at: ``count -> lr``, the rate the update at ``count`` uses.
      hyperparameters: every hyperparameter, under the framework's own names.
      initial_accumulator_value: :math:`G_0`.
      needs_params: whether ``update`` needs ``params`` (PyTorch's weight decay).
      takes_complex: whether complex params are accepted (optax only).
      takes_low_precision: whether bfloat16 and float16 params are accepted (optax only: the
        reference's per-operation rounding, :mod:`adagrad_ref.numerics.lowprec`).
      g0_must_fit: whether a G₀ that overflows the params' dtype is refused at ``init``
        (torch's ``full_like`` raises; the others store Inf).
      refuse_overflow: whether η, ε and G₀ that overflow the params' dtype are refused, at ``init``
        and at every step, as :func:`adagrad_ref.adagrad` refuses them (optax: the reference itself;
        the other conventions reproduce frameworks that store Inf).
      dtypes: the real dtypes the framework computes in (None: float32 and float64; TensorFlow.js:
        float32 only).

    Attributes ``learning_rate``, ``initial_accumulator_value`` and ``eps`` hold
    the values given to the factory, whatever the framework calls them.
    """

    def __init__(
        self, convention: str, leaf_update: Callable, learning_rate_at: Callable[[int], float],
        hyperparameters: dict[str, float | bool | str], *, learning_rate: Any,
        initial_accumulator_value: float, eps: float, needs_params: bool = False, takes_complex: bool = False,
        g0_must_fit: bool = False, takes_low_precision: bool = False, refuse_overflow: bool = False,
        dtypes: tuple[str, ...] | None = None,
    ) -> None:  # fmt: skip
        self.convention = convention
        self.leaf_update = leaf_update
        self.learning_rate_at = learning_rate_at
        self.hyperparameters = hyperparameters
        self.learning_rate = learning_rate
        self.initial_accumulator_value = initial_accumulator_value
        self.eps = eps
        self.needs_params = needs_params
        self.takes_complex = takes_complex
        self.g0_must_fit = g0_must_fit
        self.takes_low_precision = takes_low_precision
        self.refuse_overflow = refuse_overflow
        self.dtypes = dtypes

    @refuses_out_of_memory("init")
    def init(self, params: Any) -> AdagradState:
        """:math:`G_0` in every entry, ``count`` = 0."""
        params = validation.check_init(params, real_only=None if self.takes_complex else self.convention)
        if not self.takes_low_precision:
            self._refuse_low_precision(params, "params")
        self._refuse_other_dtypes(params, "params")
        G0 = self.initial_accumulator_value
        if self.refuse_overflow:
            for dtype in dict.fromkeys(p.dtype for p in optree.tree_leaves(params, namespace=NAMESPACE)):
                self._refuse_overflow(dtype, None if callable(self.learning_rate) else self.learning_rate)
        if self.g0_must_fit:
            for p in optree.tree_leaves(params, namespace=NAMESPACE):
                if math.isfinite(G0) and G0 > float(np.finfo(p.dtype).max):
                    raise AdagradError(
                        f"initial_accumulator_value {G0!r} overflows {p.dtype} "
                        "(torch: value cannot be converted to type float without overflow)"
                    )
        sums = optree.tree_map(lambda p: np.full(p.shape, G0, p.dtype), params, namespace=NAMESPACE)
        return AdagradState(sum_of_squares=sums, count=np.int32(0))

    def _refuse_overflow(self, dtype: Any, lr: Any) -> None:
        validation.in_dtype("initial_accumulator_value", self.initial_accumulator_value, dtype)
        validation.in_dtype("eps", self.eps, dtype)
        if lr is not None:  # a schedule's rate is checked at each step
            validation.in_dtype("learning_rate", lr, dtype)

    def _refuse_low_precision(self, tree: Any, name: str) -> None:
        paths, leaves, _ = flatten(tree, name)
        for i, p in enumerate(leaves):
            if is_low_precision(p.dtype):
                raise AdagradError(
                    f"{name}{paths[i]} is {p.dtype}; the {self.convention} convention here takes "
                    f"{' or '.join(self.dtypes or ('float32', 'float64'))} (bfloat16 and float16: "
                    "adagrad_ref.adagrad, optax's rounding)"
                )

    def _refuse_other_dtypes(self, tree: Any, name: str) -> None:
        if self.dtypes is None:
            return
        paths, leaves, _ = flatten(tree, name)
        for i, p in enumerate(leaves):
            if p.dtype.name not in self.dtypes:
                raise AdagradError(
                    f"{name}{paths[i]} is {p.dtype}; the {self.convention} convention computes in "
                    f"{' or '.join(self.dtypes)} only"
                )

    @refuses_out_of_memory("update")
    def update(
        self, grads: Any, state: AdagradState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, AdagradState]:
        """``(updates, new_state)``; ``params`` is needed if ``needs_params``; ``extra_args`` are ignored."""
        grads, sums, params = validation.check_update(
            grads, state, AdagradState, params=params, needs_params=self.needs_params
        )
        if not self.takes_low_precision:
            self._refuse_low_precision(grads, "grads")
        self._refuse_other_dtypes(grads, "grads")
        lr = self.learning_rate_at(int(state.count))
        if self.refuse_overflow:
            for dtype in dict.fromkeys(g.dtype for g in optree.tree_leaves(grads, namespace=NAMESPACE)):
                self._refuse_overflow(dtype, lr)
        if params is None:  # no weight decay: the leaf update does not read p

            def step(g: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return self.leaf_update(g, G, None, lr)

            mapped = (grads, sums)
        else:

            def step(g: np.ndarray, G: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return self.leaf_update(g, G, p, lr)

            mapped = (grads, sums, params)
        updates, sums = map_pairs(step, *mapped)
        return updates, AdagradState(sums, safe_increment(state.count))

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={'<schedule>' if v == 'schedule' else repr(v)}" for k, v in self.hyperparameters.items()
        )
        return f"conventions.{self.convention}({args})"


# ---------------------------------------------------------------- rates and checks


# The rates are module-level functions bound with functools.partial, never closures, so that every
# convention survives pickle (users send optimizers to worker processes) and copy.deepcopy.


def _constant(learning_rate: float, count: int) -> float:
    return learning_rate


def _scheduled(schedule: Callable[[int], Any], count: int) -> float:
    return validation.schedule_value(schedule, count)


def _constant_or_schedule(learning_rate: Any) -> Callable[[int], float]:
    """``count -> lr`` for a number or a schedule (optax, TensorFlow), the schedule's value checked."""
    if callable(learning_rate):
        return functools.partial(_scheduled, learning_rate)
    return functools.partial(_constant, learning_rate)


def _float32_rate(rate: Callable[[int], float], count: int) -> float:
    """Keras keeps the rate in a float32 variable."""
    return float(np.float32(rate(count)))


def _torch_clr(lr: float, lr_decay: float, count: int) -> float:
    step = count + 1  # torch increments its step before using it
    return lr / (1 + (step - 1) * lr_decay)  # in float64, as in Python


def _torch_check(name: str, value: Any, message: str, fill: bool = False) -> float:
    """torch.optim.Adagrad.__init__'s ``if not 0.0 <= value: raise ValueError(message)``: NaN and
    negative values raised, +Inf accepted, as torch does. Like torch it takes a bool (0 or 1) and a
    1-element array or tensor (torch: ``Tensor lr must be 1-element``), detached from autograd;
    ``fill`` (the initial accumulator value, which torch passes to ``full_like``) takes a 0-d one only."""
    if isinstance(value, (bool, np.bool_)):
        value = int(value)  # torch compares True as 1
    if hasattr(value, "detach") and hasattr(value, "numel"):  # a torch tensor, without importing torch
        if fill and (value.requires_grad or value.ndim):  # torch.full_like(p, value) needs a plain number
            raise AdagradError(f"{name} must be a number (torch.full_like takes it), got {value!r:.60}")
        value = value.detach().cpu().numpy()
    if (
        not fill
        and np.ndim(value) > 0
        and np.size(value) == 1
        and not isinstance(value, (str, bytes, list, tuple))
    ):
        value = np.asarray(value).reshape(())
    # torch takes np.longdouble('1e4000') as inf, as it takes float("inf")
    v = validation.as_real_scalar(name, value, overflow_to_inf=True)
    if not 0.0 <= v:
        raise AdagradError(f"{name}: {message}: {v!r} (torch.optim.Adagrad requires 0.0 <= {name})")
    return v


def _truth(name: str, value: Any) -> bool:
    """torch reads ``maximize`` by its truth (``if maximize:``): a bool, None or an integer is taken so;
    a string or an array, whose truth is a trap (``"False"`` is true), is refused in one line."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        return bool(operator.index(value))
    except TypeError:
        raise AdagradError(
            f"{name} must be a bool (or None or an integer, read as torch reads it), "
            f"got {type(value).__name__} {repr(value)[:60]}"
        ) from None


def _keras_style_hyperparameters(learning_rate: Any, initial_accumulator_value: float, eps: float) -> dict:
    return {
        "learning_rate": "schedule" if callable(learning_rate) else learning_rate,
        "initial_accumulator_value": initial_accumulator_value,
        "epsilon": eps,
    }


# ---------------------------------------------------------------- the factories


def optax(
    learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> Adagrad:
    """``optax.adagrad``: ε inside the root, G₀ = 0.1, zero update where G = 0: the reference itself,
    :func:`adagrad_ref.adagrad` (one optax driver, not a second one here)."""
    return adagrad(learning_rate, initial_accumulator_value, eps)


def pytorch(
    lr: float = 0.01,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> Convention:
    """``torch.optim.Adagrad``: ε outside the root, G₀ = 0, ``clr = lr / (1 + (step-1)·lr_decay)``.

    Refuses what ``torch.optim.Adagrad.__init__`` refuses (a negative or NaN
    ``lr``, ``lr_decay``, ``weight_decay``, ``initial_accumulator_value`` or
    ``eps``) and accepts what it accepts, +Inf included. Pass ``params`` to
    ``update`` when ``weight_decay != 0``.
    """
    if callable(lr):
        raise AdagradError("lr must be a number in the pytorch convention (its schedule is lr_decay)")
    lr = _torch_check("lr", lr, "Invalid learning rate")
    lr_decay = _torch_check("lr_decay", lr_decay, "Invalid lr_decay value")
    weight_decay = _torch_check("weight_decay", weight_decay, "Invalid weight_decay value")
    iav = _torch_check(
        "initial_accumulator_value",
        initial_accumulator_value,
        "Invalid initial_accumulator_value value",
        fill=True,
    )
    eps = _torch_check("eps", eps, "Invalid epsilon value")
    maximize = _truth("maximize", maximize)

    clr = functools.partial(_torch_clr, lr, lr_decay)
    hyper = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay, "initial_accumulator_value": iav,
             "eps": eps, "maximize": maximize}  # fmt: skip
    leaf = functools.partial(pytorch_leaf, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return Convention(
        "pytorch", leaf, clr, hyper, learning_rate=lr, initial_accumulator_value=iav, eps=eps,
        needs_params=weight_decay != 0, g0_must_fit=True,
    )  # fmt: skip


def keras(
    learning_rate: ScalarOrSchedule = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> Convention:
    """``keras.optimizers.Adagrad`` (Keras 3): ε inside the root, G₀ = 0.1, no guard.

    Keras keeps the rate in a float32 variable and casts it to the params'
    dtype when used: a float64 run steps with the float32-rounded rate.
    """
    lr = validation.check_learning_rate(learning_rate)
    iav = validation.check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
    eps = validation.check_hyperparameter("epsilon", epsilon)
    rate = _constant_or_schedule(lr)
    return Convention(
        "keras", functools.partial(keras_leaf, eps=eps), functools.partial(_float32_rate, rate),
        _keras_style_hyperparameters(lr, iav, eps), learning_rate=lr, initial_accumulator_value=iav, eps=eps,
    )  # fmt: skip


def tensorflow_v2(
    learning_rate: ScalarOrSchedule = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> Convention:
    """TensorFlow's ``ApplyAdagradV2`` op (used by tf.keras 2's Adagrad, whose defaults these are):
    ε outside the root."""
    lr = validation.check_learning_rate(learning_rate)
    iav = validation.check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
    eps = validation.check_hyperparameter("epsilon", epsilon)
    return Convention(
        "tensorflow_v2", functools.partial(tensorflow_v2_leaf, eps=eps), _constant_or_schedule(lr),
        _keras_style_hyperparameters(lr, iav, eps), learning_rate=lr, initial_accumulator_value=iav, eps=eps,
    )  # fmt: skip


def tfjs(
    learning_rate: float = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> Convention:
    """TensorFlow.js's ``tf.train.adagrad(learningRate, initialAccumulatorValue = 0.1)``: float32 only,
    ε inside the root (the backend's epsilon, 1e-7 on the CPU backend: tfjs takes no ε argument),
    ``u = (g / d) * (-lr)``. TensorFlow.js takes a number as the rate, no schedule."""
    if callable(learning_rate):
        raise AdagradError(
            "learning_rate must be a number in the tfjs convention (tf.train.adagrad takes no schedule)"
        )
    lr = validation.check_learning_rate(learning_rate)
    iav = validation.check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
    eps = validation.check_hyperparameter("epsilon", epsilon)
    return Convention(
        "tfjs", functools.partial(tfjs_leaf, eps=eps),
        functools.partial(_float32_rate, _constant_or_schedule(lr)),
        _keras_style_hyperparameters(lr, iav, eps), learning_rate=lr, initial_accumulator_value=iav, eps=eps,
        dtypes=("float32",),
    )  # fmt: skip


def _float32_attribute(value: float) -> float:
    """An ONNX float attribute as the model stores it (float32); one that overflows float32 is refused."""
    with np.errstate(over="ignore"):
        v = float(np.float32(value))
    if not math.isfinite(v):
        raise AdagradError(f"{value!r} overflows float32, the type of an ONNX float attribute")
    return v


def _onnx_rate(R: float, decay_factor: float, count: int) -> float:
    """``R / (1 + T * decay_factor)`` with T = count, in float64 as the operator's reference computes it
    (the leaf function rounds it to the params' dtype)."""
    return R / (1 + count * decay_factor)


def onnx(
    learning_rate: float, initial_accumulator_value: float = 0.0, epsilon: float = 0.0,
    decay_factor: float = 0.0, norm_coefficient: float = 0.0,
) -> Convention:  # fmt: skip
    """ONNX's ``ai.onnx.preview.training.Adagrad`` (attributes ``epsilon``, ``decay_factor``,
    ``norm_coefficient``, all 0 by default), read per operation in the params' dtype: ε outside the
    root, ``r = R / (1 + T·decay_factor)`` with T = ``count`` (0 at the first step) and the L2 term
    ``norm_coefficient·w`` added to the gradient first. ONNX attributes are float32 (protobuf
    ``float``): ``epsilon``, ``decay_factor`` and ``norm_coefficient`` are rounded to float32 here,
    as a float64 model receives them. The operator takes the accumulator H as an input, so G₀ is the
    caller's (``initial_accumulator_value``, 0 here). The decayed rate is computed in float64, as the
    reference computes it, and rounded to the params' dtype. ``update`` needs ``params``."""
    if callable(learning_rate):
        raise AdagradError(
            "learning_rate must be a number in the onnx convention (its schedule is decay_factor)"
        )
    lr = validation.check_learning_rate(learning_rate)
    iav = validation.check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
    eps = _float32_attribute(validation.check_hyperparameter("epsilon", epsilon))
    decay = _float32_attribute(validation.check_hyperparameter("decay_factor", decay_factor))
    norm = _float32_attribute(validation.check_hyperparameter("norm_coefficient", norm_coefficient))
    hyper = {"learning_rate": lr, "initial_accumulator_value": iav, "epsilon": eps, "decay_factor": decay,
             "norm_coefficient": norm}  # fmt: skip
    return Convention(
        "onnx", functools.partial(onnx_leaf, epsilon=eps, norm_coefficient=norm),
        functools.partial(_onnx_rate, lr, decay), hyper, learning_rate=lr,
        initial_accumulator_value=iav, eps=eps, needs_params=True,
    )  # fmt: skip


#: The factories by name, as the golden files name their convention.
FACTORIES = {"optax": optax, "pytorch": pytorch, "keras": keras, "tensorflow_v2": tensorflow_v2}

#: The conventions of other libraries (TensorFlow.js, ONNX), each with its golden file
#: (``python -m adagrad_ref atlas`` runs the libraries themselves on every golden file).
OTHER_FACTORIES = {"tfjs": tfjs, "onnx": onnx}
