r"""The reference: Adagrad exactly as ``optax.adagrad`` computes it, in plain NumPy.

The documented formula, for each parameter :math:`i`:

.. math::

    w_{t+1} = w_t - \eta \, \frac{g_t}{\sqrt{\sum_{\tau=1}^{t} g_\tau^2 + \epsilon}}

What the page leaves out and optax's code does (``scale_by_rss`` in
``optax/_src/transform.py``), and so does this file:

* the sum starts at ``initial_accumulator_value`` (0.1), not at 0:
  :math:`G_0 = 0.1`, :math:`G_t = G_{t-1} + |g_t|^2`;
* :math:`\epsilon` is *inside* the square root: :math:`1/\sqrt{G_t + \epsilon}`
  (PyTorch puts it outside, :math:`1/(\sqrt{G_t} + \epsilon)`, and starts at 0);
* where :math:`G_t = 0` the update is 0 (the ``sum > 0`` guard), not
  :math:`g/\sqrt{\epsilon}`.

The one canonical order of operations, per element, that the Numba core
(:mod:`adagrad_ref.fast.kernels`) follows to the bit::

    G = |g|**2 + G                              # accumulate (complex: see abs_sq)
    s = 1 / sqrt(G + eps)  if G > 0  else 0     # inverse root, guarded
    u = s * g
    u = (-lr) * u                               # lr, eps rounded to the array's dtype
    w = w + u                                   # apply_updates

Example (the optax documentation's, with NumPy arrays):

>>> import numpy as np
>>> from adagrad_ref import adagrad, apply_updates
>>> solver = adagrad(learning_rate=1.0)
>>> params = np.array([1.0, 2.0, 3.0], np.float32)
>>> state = solver.init(params)
>>> grads = 2 * params                       # gradient of sum(params**2)
>>> updates, state = solver.update(grads, state, params)
>>> params = apply_updates(params, updates)
>>> print(params, state.count)
[0.01227039 1.0031104  2.001386  ] 1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.tree import as_array_leaf, first_difference, flatten_with_path, unflatten
from adagrad_ref.validation import (
    check_hyperparameter,
    check_leaf_dtype,
    check_learning_rate,
    check_schedule_value,
)

__all__ = ["BACKENDS", "Adagrad", "AdagradState", "abs_sq", "adagrad", "apply_updates", "update_leaf"]

ScalarOrSchedule = float | Callable[[int], Any]
INT32_MAX = np.iinfo(np.int32).max
BACKENDS = ("numpy", "numba")


class AdagradState(NamedTuple):
    """Adagrad's state: the accumulator ``G`` and the number of updates done.

    Attributes:
      sum_of_squares: :math:`G_t`, the running sum of squared gradients, a tree
        of the params' structure and dtypes, starting at
        ``initial_accumulator_value``.
      count: updates done so far, an ``np.int32`` that saturates at 2**31 - 1
        (optax's ``safe_increment``). A schedule is evaluated at ``count``, so
        the first update uses ``learning_rate(0)``.

    How it maps to optax's state, ``optax.adagrad(...).init(params)``::

        (ScaleByRssState(sum_of_squares=...),   # <- sum_of_squares
         EmptyState())                          # constant learning rate: no count
        (ScaleByRssState(sum_of_squares=...),
         ScaleByScheduleState(count=...))       # schedule: <- count

    optax keeps no count for a constant learning rate; this state always has one.
    """

    sum_of_squares: Any
    count: np.int32


def update_leaf(
    g: np.ndarray, sum_of_squares: np.ndarray, learning_rate: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """One Adagrad step for one array: the documented formula, one line per step.

    Returns ``(u_t, G_t)``; the caller adds ``u_t`` to the params.

    >>> u, G = update_leaf(np.float32([2.0, 0.0]), np.float32([0.1, 0.0]), 1.0, 1e-7)
    >>> G, u
    (array([4.1, 0. ], dtype=float32), array([-0.9877296, -0.       ], dtype=float32))
    """
    G = sum_of_squares
    eta = G.dtype.type(learning_rate)  # η, rounded to the array's dtype
    ε = G.dtype.type(eps)  # ε, likewise (a float64 ε must not promote float32)
    with np.errstate(all="ignore"):  # NaN and Inf propagate silently, as in optax
        G = abs_sq(g) + G  # G_t = |g_t|² + G_{t-1}
        scale = np.where(G > 0, 1 / np.sqrt(G + ε), 0)  # (G_t + ε)^(-1/2), and 0 where G_t = 0
        u = scale * g  # g_t / √(G_t + ε)
        u = -eta * u  # u_t = -η · g_t / √(G_t + ε)
    return np.asarray(u), np.asarray(G)


def abs_sq(g: np.ndarray) -> np.ndarray:
    """|g|², as optax's ``abs_sq`` computes it: ``g * g`` for real ``g``.

    For complex ``g`` it is ``re(conj(g) * g)``, which XLA, and NumPy's SIMD
    loop for long arrays, evaluate with one fused multiply-add:
    ``fma(re, re, im * im)``. NumPy's short-array loop rounds twice instead, so
    ``(g.conj() * g).real`` would give bits that depend on the array's length
    and the CPU; this spells the fused form out so that they do not.
    """
    if np.iscomplexobj(g):
        from adagrad_ref.fma import fma

        return fma(g.real, g.real, g.imag * g.imag)
    return g * g


def _numba_update_leaf(g: np.ndarray, G: np.ndarray, learning_rate: float, eps: float):
    from adagrad_ref.fast.kernels import update_leaf as numba_update_leaf  # numba loads only when asked

    return numba_update_leaf(g, G, learning_rate, eps)


class Adagrad:
    """Adagrad as ``optax.adagrad`` defines it: ``init`` and ``update`` on pytrees.

    Args:
      learning_rate: η, a number or a schedule ``count -> η`` (called with the
        Python int ``state.count`` before each update).
      initial_accumulator_value: :math:`G_0`, >= 0 (optax's default 0.1).
      eps: ε, added inside the square root, >= 0 (optax's default 1e-7).
      backend: ``"numpy"`` (this file's :func:`update_leaf`) or ``"numba"``
        (the jitted loop of :mod:`adagrad_ref.fast.kernels`, the same bits; complex
        leaves take the NumPy path there too).
      check_finite: if True, ``update`` refuses a gradient holding NaN or Inf,
        naming the leaf and the index, before computing anything. Off by
        default, as in optax, where NaN and Inf propagate (see the README).

    >>> solver = Adagrad(0.5, backend="numba")
    >>> state = solver.init({"w": np.zeros(2, np.float64), "b": None})
    >>> updates, state = solver.update({"w": np.array([3.0, 0.0]), "b": None}, state)
    >>> updates["w"], updates["b"], int(state.count)
    (array([-0.49724516, -0.        ]), None, 1)
    """

    def __init__(
        self,
        learning_rate: ScalarOrSchedule,
        initial_accumulator_value: float = 0.1,
        eps: float = 1e-7,
        *,
        backend: str = "numpy",
        check_finite: bool = False,
    ) -> None:
        self.learning_rate = check_learning_rate(learning_rate)
        self.initial_accumulator_value = check_hyperparameter(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = check_hyperparameter("eps", eps)
        if backend not in BACKENDS:
            raise AdagradError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.check_finite = bool(check_finite)
        self._update_leaf = update_leaf if backend == "numpy" else _numba_update_leaf

    def __repr__(self) -> str:
        return (
            f"Adagrad(learning_rate={self.learning_rate!r}, "
            f"initial_accumulator_value={self.initial_accumulator_value!r}, "
            f"eps={self.eps!r}, backend={self.backend!r}"
            + (", check_finite=True)" if self.check_finite else ")")
        )

    def init(self, params: Any) -> AdagradState:
        """:math:`G_0` = ``initial_accumulator_value`` in every entry, ``count`` = 0."""
        leaves, treedef = flatten_with_path(params)
        sums = []
        for path, leaf in leaves:
            if leaf is None:
                sums.append(None)
                continue
            p = as_array_leaf(path, leaf, "params")
            check_leaf_dtype(f"params{path}", p)
            sums.append(np.full(p.shape, self.initial_accumulator_value, dtype=p.dtype))
        return AdagradState(sum_of_squares=unflatten(treedef, sums), count=np.int32(0))

    def update(self, grads: Any, state: AdagradState, params: Any = None) -> tuple[Any, AdagradState]:
        """Return ``(updates, new_state)``; ``params`` is accepted, as in optax, and unused here.

        Nothing is computed until every argument has been checked, so a bad
        call raises :class:`AdagradError` and leaves ``state`` as it was (it is
        immutable anyway: a new state is returned).
        """
        paths, g_leaves, G_leaves, treedef = _check_update_args(grads, state)
        p_leaves = _check_params(params, treedef, g_leaves) if self._uses_params else [None] * len(g_leaves)
        if self.check_finite:
            _check_all_finite(paths, g_leaves)
        count = int(state.count)
        eta = self.learning_rate_at(count)  # η_t
        updates, sums = [], []
        for g, G, p in zip(g_leaves, G_leaves, p_leaves, strict=True):
            if g is None:
                updates.append(None)
                sums.append(None)
                continue
            u, G = self._leaf_update(g, G, p, eta)
            updates.append(u)
            sums.append(G)
        new_count = np.int32(count + 1) if count < INT32_MAX else np.int32(INT32_MAX)
        return unflatten(treedef, updates), AdagradState(unflatten(treedef, sums), new_count)

    #: Whether ``update`` needs ``params`` (optax's Adagrad does not; PyTorch's weight decay does).
    _uses_params = False

    def _leaf_update(self, g: np.ndarray, G: np.ndarray, p: np.ndarray | None, eta: float):
        """One leaf's ``(u_t, G_t)``: the hook :mod:`adagrad_ref.conventions` overrides."""
        return self._update_leaf(g, G, eta, self.eps)

    #: The framework whose arithmetic this optimizer follows (see :mod:`adagrad_ref.conventions`).
    convention = "optax"

    @property
    def hyperparameters(self) -> dict:
        """Every hyperparameter under optax's names; a schedule is recorded as ``"schedule"``."""
        lr = self.learning_rate
        return {
            "learning_rate": "schedule" if callable(lr) else lr,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }

    def learning_rate_at(self, count: int) -> float:
        """η used by the update at ``count`` (0 at the first update), checked if it comes from a schedule."""
        if callable(self.learning_rate):
            return check_schedule_value(self.learning_rate(count), count)
        return self.learning_rate


def _check_update_args(grads: Any, state: Any) -> tuple[list, list, Any]:
    if isinstance(grads, AdagradState):
        raise AdagradError("update(grads, state): grads is an AdagradState; were grads and state swapped?")
    if not isinstance(state, AdagradState):
        raise AdagradError(
            f"update(grads, state): state must be the AdagradState returned by init/update, got "
            f"{type(state).__name__}"
        )
    count = state.count
    if not (
        np.ndim(count) == 0 and np.issubdtype(np.asarray(count).dtype, np.integer) and 0 <= count <= INT32_MAX
    ):
        raise AdagradError(f"state.count must be an integer in [0, 2**31-1], got {count!r}")
    g_items, g_def = flatten_with_path(grads)
    G_items, G_def = flatten_with_path(state.sum_of_squares)
    where = first_difference(G_def, g_def, "grads")
    if where is not None:
        raise AdagradError(f"grads does not match the structure of state.sum_of_squares: {where}")
    paths, g_leaves, G_leaves = [], [], []
    for (path, g), (_, G) in zip(g_items, G_items, strict=True):
        paths.append(path)
        if G is None:
            g_leaves.append(None)
            G_leaves.append(None)
            continue
        g = as_array_leaf(path, g, "grads")
        G = as_array_leaf(path, G, "state.sum_of_squares")
        check_leaf_dtype(f"state.sum_of_squares{path}", G)
        if g.shape != G.shape:
            raise AdagradError(
                f"grads{path} has shape {g.shape}; expected {G.shape} as in state.sum_of_squares"
            )
        if g.dtype != G.dtype:
            raise AdagradError(
                f"grads{path} has dtype {g.dtype}; expected {G.dtype} as in state.sum_of_squares"
            )
        g_leaves.append(g)
        G_leaves.append(G)
    return paths, g_leaves, G_leaves, g_def


def _check_params(params: Any, treedef: Any, g_leaves: list) -> list:
    """The params' leaves, checked against the grads' structure and shapes (when update needs them)."""
    if params is None:
        raise AdagradError(
            "update(grads, state, params): this optimizer needs params (e.g. for weight decay)"
        )
    items, p_def = flatten_with_path(params)
    where = first_difference(treedef, p_def, "params")
    if where is not None:
        raise AdagradError(f"params does not match the structure of grads: {where}")
    out = []
    for (path, p), g in zip(items, g_leaves, strict=True):
        if g is None:
            out.append(None)
            continue
        p = as_array_leaf(path, p, "params")
        if p.shape != g.shape or p.dtype != g.dtype:
            raise AdagradError(f"params{path} is {p.dtype} {p.shape}; expected {g.dtype} {g.shape} as grads")
        out.append(p)
    return out


def _check_all_finite(paths: list[str], g_leaves: list) -> None:
    for path, g in zip(paths, g_leaves, strict=True):
        if g is None:
            continue
        finite = np.isfinite(g)
        if not finite.all():
            index = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise AdagradError(
                f"grads{path} has a non-finite value {g[index]!r} at index {index} (check_finite=True)"
            )


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    *,
    backend: str = "numpy",
    check_finite: bool = False,
) -> Adagrad:
    """``optax.adagrad``'s signature and defaults, returning an :class:`Adagrad`.

    >>> adagrad(0.1)
    Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, eps=1e-07, backend='numpy')
    """
    return Adagrad(learning_rate, initial_accumulator_value, eps, backend=backend, check_finite=check_finite)


def apply_updates(params: Any, updates: Any) -> Any:
    """:math:`w_{t+1} = w_t + u_t`, leaf by leaf, in the params' dtype (as ``optax.apply_updates``).

    >>> apply_updates({"w": np.float32([1.0]), "b": None}, {"w": np.float32([-0.25]), "b": None})
    {'b': None, 'w': array([0.75], dtype=float32)}
    """
    p_items, p_def = flatten_with_path(params)
    u_items, u_def = flatten_with_path(updates)
    where = first_difference(p_def, u_def, "updates")
    if where is not None:
        raise AdagradError(f"updates does not match the structure of params: {where}")
    out = []
    for (path, p), (_, u) in zip(p_items, u_items, strict=True):
        if p is None:
            out.append(None)
            continue
        p = as_array_leaf(path, p, "params")
        u = as_array_leaf(path, u, "updates")
        if p.shape != u.shape:
            raise AdagradError(f"updates{path} has shape {u.shape}; expected {p.shape} as in params")
        with np.errstate(all="ignore"):
            out.append(np.asarray(p + u).astype(p.dtype, copy=False))  # w_{t+1} = w_t + u_t
    return unflatten(p_def, out)
