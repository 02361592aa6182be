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
    s = 1 / sqrt(G + eps)  if G > 0  else 0     # inverse root, guarded (complex: see rsqrt)
    u = s * g
    u = (-lr) * u                               # lr, eps rounded to the array's dtype
                                                # (complex: -lr + 0i, as jax converts a float)
    w = w + u                                   # apply_updates

How this file maps to optax, where ``optax.adagrad(lr, G0, eps)`` is
``chain(scale_by_rss(G0, eps), scale_by_learning_rate(lr))``::

    optax                                                 here
    scale_by_rss init: optax.tree.full_like(params, G0)   Adagrad.init
    scale_by_rss update: jax.tree.map(abs_sq(g) + t)      update_leaf, lines 1-3, mapped over the
                         jnp.where(t > 0, rsqrt(t + eps))   tree by Adagrad.update
                         optax.tree.mul(inv_sqrt, g)
    scale_by_learning_rate: -lr(count) * u                update_leaf, line 4; lr(count) is
                                                          Adagrad.learning_rate_at(state.count)
    ScaleByRssState, ScaleByScheduleState                 AdagradState(sum_of_squares, count)
    optax.apply_updates                                   apply_updates

The one difference in arithmetic: optax's ``jax.lax.rsqrt`` is XLA's, within
2 ULP of ``1 / sqrt`` (see docs/numerics.md, "How close the reference is to optax").

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
import optree

from adagrad_ref import backends, trees, validation
from adagrad_ref.backends import LeafUpdate
from adagrad_ref.errors import refuses_out_of_memory
from adagrad_ref.numerics import lowprec
from adagrad_ref.numerics.lowprec import is_low_precision
from adagrad_ref.trees import NAMESPACE, map_pairs
from adagrad_ref.validation import INT32_MAX

__all__ = [
    "Adagrad",
    "AdagradState",
    "abs_sq",
    "adagrad",
    "add_leaf",
    "apply_updates",
    "rsqrt",
    "update_leaf",
]

ScalarOrSchedule = float | Callable[[int], Any]


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

    Returns ``(u_t, G_t)``; :func:`apply_updates` adds ``u_t`` to the params.

    >>> u, G = update_leaf(np.float32([2.0, 0.0]), np.float32([0.1, 0.0]), 1.0, 1e-7)
    >>> G, u
    (array([4.1, 0. ], dtype=float32), array([-0.9877296, -0.       ], dtype=float32))
    """
    if is_low_precision(sum_of_squares.dtype):  # bfloat16, float16: each line rounded once, in float32
        return lowprec.update_leaf(g, sum_of_squares, learning_rate, eps)
    G = sum_of_squares
    minus_eta = validation.in_dtype("learning_rate", learning_rate, G.dtype, negate=True)  # -η (+0i)
    ε = validation.in_dtype("eps", eps, G.dtype)  # ε, likewise (a float64 ε must not promote float32)
    with np.errstate(all="ignore"):  # NaN and Inf propagate silently, as in optax
        G = abs_sq(g) + G  # G_t = |g_t|² + G_{t-1}
        s = np.where(G > 0, rsqrt(G + ε), 0)  # s_t = (G_t + ε)^(-1/2), and 0 where G_t = 0
        u = s * g  # g_t / √(G_t + ε)
        u = minus_eta * u  # u_t = -η · g_t / √(G_t + ε)
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
        from adagrad_ref.numerics.fma import fma  # only complex leaves need it

        return fma(g.real, g.real, g.imag * g.imag)
    return g * g


def rsqrt(x: np.ndarray) -> np.ndarray:
    """``1/√x`` with the signs of zero ``jax.lax.rsqrt`` gives: ``1 / np.sqrt(x)`` for real ``x``.

    For complex ``x`` (in Adagrad ``G + ε = r + 0i``: the imaginary part of ``G``
    starts at 0 and only 0 is ever added to it) jax returns ``1/√r - 0i`` where NumPy's
    ``1 / np.sqrt(x)`` gives ``1/√r + 0i`` (measured on CPU, eager and jitted:
    ``tests/golden/test_golden_complex.py``). That zero decides the sign of the zeros in
    ``u = s * g``, so a zero imaginary part is given the sign jax gives it.

    >>> rsqrt(np.complex64([4.0, np.inf]))
    array([0.5-0.j, 0. -0.j], dtype=complex64)
    """
    s = 1 / np.sqrt(x)
    if np.iscomplexobj(s):
        s = np.array(s)  # writable, a 0-d one included
        s.imag = np.where(s.imag == 0, -0.0, s.imag)  # jax: 1/√(r + 0i) = 1/√r - 0i
    return s


class Adagrad:
    """Adagrad as ``optax.adagrad`` defines it: ``init`` and ``update`` map :func:`update_leaf` over pytrees.

    Args:
      learning_rate: η, a number (a Python or NumPy scalar, a 0-d NumPy or JAX
        array) or a schedule ``count -> η`` such as an optax schedule (called
        with the Python int ``state.count`` before each update).
      initial_accumulator_value: :math:`G_0`, >= 0 (optax's default 0.1).
      eps: ε, added inside the square root, >= 0 (optax's default 1e-7).
      backend: ``"numpy"`` (this file's :func:`update_leaf`), ``"numba"`` (the
        compiled loop of :mod:`adagrad_ref.fast.kernels`, the same bits: every
        float32/float64 leaf of the tree in one compiled call per dtype, by
        :mod:`adagrad_ref.fast.tree`; the output leaves of a dtype are views of one
        pooled buffer, so a leaf kept keeps that buffer alive), or a
        leaf-update function ``(g, G, learning_rate, eps) -> (u, G)``: see
        :mod:`adagrad_ref.backends`.
      check_finite: if True, ``update`` refuses a gradient holding NaN or Inf,
        naming the leaf and the index, before computing anything. Off by
        default, as in optax, where NaN and Inf propagate (see docs/numerics.md).

    >>> solver = Adagrad(0.5, backend="numba")
    >>> state = solver.init({"w": np.zeros(2, np.float64), "b": None})
    >>> updates, state = solver.update({"w": np.array([3.0, 0.0]), "b": None}, state)
    >>> updates["w"], updates["b"], int(state.count)
    (array([-0.49724516, -0.        ]), None, 1)
    """

    #: The framework whose arithmetic this optimizer follows (see :mod:`adagrad_ref.conventions`).
    convention = "optax"

    def __init__(
        self,
        learning_rate: ScalarOrSchedule,
        initial_accumulator_value: float = 0.1,
        eps: float = 1e-7,
        *,
        backend: str | LeafUpdate = "numpy",
        check_finite: bool = False,
    ) -> None:
        self.learning_rate = validation.check_learning_rate(learning_rate)
        self.initial_accumulator_value = validation.check_hyperparameter(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = validation.check_hyperparameter("eps", eps)
        self.update_leaf = backends.leaf_update(backend, update_leaf)
        self.backend = backend
        self.check_finite = bool(check_finite)

    @refuses_out_of_memory("init")  # a MemoryError: an AdagradError of one line, as every bad input
    def init(self, params: Any) -> AdagradState:
        """:math:`G_0` = ``initial_accumulator_value`` in every entry, ``count`` = 0."""
        params = validation.check_init(params)  # the boundary: plain arrays, checked dtypes
        G0 = self.initial_accumulator_value
        for dtype in {p.dtype for p in optree.tree_leaves(params, namespace=NAMESPACE)}:
            self.check_fits(dtype)
        sum_of_squares = optree.tree_map(lambda p: np.full(p.shape, G0, p.dtype), params, namespace=NAMESPACE)
        return AdagradState(sum_of_squares=sum_of_squares, count=np.int32(0))

    @refuses_out_of_memory("update")
    def update(
        self, grads: Any, state: AdagradState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, AdagradState]:
        """Return ``(updates, new_state)``; ``params`` and ``extra_args`` are accepted, as in optax, unused.

        Every argument is checked before anything is computed, so a bad call
        raises :class:`AdagradError` and the (immutable) ``state`` stays valid.
        """
        del params, extra_args  # as optax's scale_by_rss
        whole_tree = backends.tree_update(self.backend)
        if whole_tree is not None:  # "numba": every leaf in one compiled call per dtype (same bits)
            g_leaves, sums, spec, _ = validation.check_update_leaves(
                grads, state, AdagradState, check_finite=self.check_finite
            )
            eta = self.learning_rate_at(int(state.count))  # η_t
            u_leaves, sums = whole_tree(g_leaves, sums, eta, self.eps, self.update_leaf)
            sum_of_squares = trees.unflatten(spec, sums)
            return trees.unflatten(spec, u_leaves), AdagradState(sum_of_squares, safe_increment(state.count))
        grads, sum_of_squares, _ = validation.check_update(
            grads, state, AdagradState, check_finite=self.check_finite
        )
        eta = self.learning_rate_at(int(state.count))  # η_t

        def step(g: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return self.update_leaf(g, G, eta, self.eps)  # (u_t, G_t) of one leaf

        updates, sum_of_squares = map_pairs(step, grads, sum_of_squares)  # the map, split into two trees
        return updates, AdagradState(sum_of_squares, safe_increment(state.count))

    @refuses_out_of_memory("step")
    def step(
        self, params: Any, grads: Any, state: AdagradState, *, donate: bool = False
    ) -> tuple[Any, AdagradState]:
        """``update`` then :func:`apply_updates` in one call: ``(new_params, new_state)``, the same bits.

        With ``backend="numba"`` the float32 and float64 leaves take one compiled pass per dtype that
        never stores the updates: 5 N elements of memory traffic instead of the two calls' 7 N (see
        :mod:`adagrad_ref.fast.tree`); other leaves take the two calls leaf by leaf. ``donate=True`` is
        an opt-in, as jax's donated buffers: the new params and sums are written into the arrays of
        ``params`` and ``state.sum_of_squares`` (plain ndarrays of native byte order, writable,
        C-contiguous, sharing no memory), and those arrays are returned.

        >>> solver = Adagrad(1.0, backend="numba")
        >>> params = {"w": np.array([1.0, 2.0, 3.0], np.float32)}
        >>> state = solver.init(params)
        >>> params, state = solver.step(params, {"w": 2 * params["w"]}, state)
        >>> params["w"], int(state.count)  # the documented example's first step
        (array([0.01227039, 1.0031104 , 2.001386  ], dtype=float32), 1)
        """
        p_leaves, g_leaves, sums, spec = validation.check_step_leaves(
            params, grads, state, AdagradState, check_finite=self.check_finite, donate=donate,
            addresses=backends.data_addresses(self.backend) if donate else None,
        )  # fmt: skip
        eta = self.learning_rate_at(int(state.count))  # η_t
        whole_tree = backends.tree_step(self.backend, self.update_leaf, add_leaf)
        w_leaves, sums = whole_tree(p_leaves, g_leaves, sums, eta, self.eps, donate)
        new_state = AdagradState(trees.unflatten(spec, sums), safe_increment(state.count))
        return trees.unflatten(spec, w_leaves), new_state

    def check_fits(self, dtype: Any) -> None:
        """Refuse (:class:`AdagradError`) a hyperparameter that overflows ``dtype``: G₀, ε or a constant η
        of 1e39 with float32 params would act as infinity (a schedule's η is checked at each step)."""
        validation.in_dtype("initial_accumulator_value", self.initial_accumulator_value, dtype)
        validation.in_dtype("eps", self.eps, dtype)
        if not callable(self.learning_rate):
            validation.in_dtype("learning_rate", self.learning_rate, dtype)

    def learning_rate_at(self, count: int) -> float:
        """η used by the update at ``count`` (0 at the first update), checked if it comes from a schedule."""
        if callable(self.learning_rate):
            return validation.schedule_value(self.learning_rate, count)
        return self.learning_rate

    @property
    def hyperparameters(self) -> dict[str, float | str]:
        """Every hyperparameter under optax's names; a schedule is recorded as ``"schedule"``."""
        lr = self.learning_rate
        return {
            "learning_rate": "schedule" if callable(lr) else lr,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }

    def __repr__(self) -> str:
        return (
            f"Adagrad(learning_rate={self.learning_rate!r}, "
            f"initial_accumulator_value={self.initial_accumulator_value!r}, "
            f"eps={self.eps!r}, backend={self.backend!r}"
            + (", check_finite=True)" if self.check_finite else ")")
        )


def safe_increment(count: Any) -> np.int32:
    """``count + 1``, saturating at 2**31 - 1 (optax's ``safe_increment`` for int32)."""
    count = int(count)
    return np.int32(count + 1) if count < INT32_MAX else np.int32(INT32_MAX)


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
    *,
    backend: str | LeafUpdate = "numpy",
    check_finite: bool = False,
) -> Adagrad:
    """``optax.adagrad``'s signature and defaults, returning an :class:`Adagrad`.

    >>> adagrad(0.1)
    Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, eps=1e-07, backend='numpy')
    """
    return Adagrad(learning_rate, initial_accumulator_value, eps, backend=backend, check_finite=check_finite)


@refuses_out_of_memory("apply_updates")
def apply_updates(params: Any, updates: Any) -> Any:
    """:math:`w_{t+1} = w_t + u_t`, leaf by leaf, in the params' dtype, as ``optax.apply_updates``.

    As in optax, a ``None`` in ``params`` stays ``None`` (``apply_updates(None, u)`` is ``None``).

    >>> apply_updates({"w": np.float32([1.0]), "b": None}, {"w": np.float32([-0.25]), "b": None})
    {'b': None, 'w': array([0.75], dtype=float32)}
    """
    p_leaves, u_leaves, spec = validation.check_apply_updates_leaves(params, updates)  # the boundary
    compiled = backends.compiled_apply()  # loaded by a Numba step: one compiled call per dtype, same bits
    if compiled is not None:
        return trees.unflatten(spec, compiled(p_leaves, u_leaves, add_leaf))
    return trees.unflatten(spec, [add_leaf(p, u) for p, u in zip(p_leaves, u_leaves, strict=True)])


def add_leaf(p: np.ndarray | None, u: np.ndarray | None) -> np.ndarray | None:
    """One leaf of :func:`apply_updates`: ``w + u`` in the params' dtype (``None`` stays ``None``)."""
    if p is None:
        return None
    if is_low_precision(p.dtype) or is_low_precision(u.dtype):
        return lowprec.add(p, u)  # bfloat16, float16: as jax promotes, rounded once to p's dtype
    with np.errstate(all="ignore"):
        return np.asarray(p + u).astype(p.dtype, copy=False)  # w_{t+1} = w_t + u_t
