"""The multi-tensor path: a whole pytree stepped by one kernel call per dtype.

A real model is a pytree of many arrays, and one Python call per leaf costs
more than the arithmetic of a small leaf. :class:`FlatAdagrad` packs params,
grads and accumulators once into one contiguous buffer per dtype, and hands
out views of those buffers shaped like the leaves (the multi-tensor kernels of
the big frameworks do the same). Write gradients into ``.grads`` (or call
:meth:`FlatAdagrad.set_grads`), call :meth:`FlatAdagrad.step`, read ``.params``.
Writing means *into* the views (``flat.grads["w"][...] = g``): a leaf rebound
in the tree (``flat.grads["w"] = g``) would leave the buffer unchanged, so
``step`` refuses to run then, and the trees themselves cannot be reassigned.

Bit for bit the same as :class:`~adagrad_ref.Adagrad` leaf by leaf:

>>> import numpy as np
>>> flat = FlatAdagrad({"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}, learning_rate=0.1)
>>> flat.set_grads({"w": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)})
>>> flat.step()
>>> flat.params["b"], int(flat.state.count)
(array([-0.09534626, -0.09534626], dtype=float32), 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optree

from adagrad_ref.errors import AdagradError, refuses_out_of_memory
from adagrad_ref.fast.kernels import adagrad_step_inplace
from adagrad_ref.numerics.lowprec import is_low_precision
from adagrad_ref.reference import Adagrad, AdagradState, ScalarOrSchedule, safe_increment
from adagrad_ref.trees import NAMESPACE, first_difference, flatten, unflatten
from adagrad_ref.validation import as_leaf_array, check_init

__all__ = ["FlatAdagrad"]


class FlatAdagrad:
    """Adagrad on a pytree packed into one buffer per dtype; ``step`` is one fused call per dtype.

    Args:
      params: the initial params (copied in); float32 and float64 leaves, ``None`` allowed.
      learning_rate, initial_accumulator_value, eps: as :func:`adagrad_ref.adagrad`.
      parallel: passed to :func:`adagrad_ref.adagrad_step_inplace` (``None``: by size).

    Attributes:
      params, grads: trees of views into the buffers, shaped like ``params``
        (read-only attributes: write into the views).
      state: an :class:`AdagradState` whose ``sum_of_squares`` are views too.
    """

    @refuses_out_of_memory("FlatAdagrad")
    def __init__(
        self,
        params: Any,
        learning_rate: ScalarOrSchedule,
        initial_accumulator_value: float = 0.1,
        eps: float = 1e-7,
        *,
        parallel: bool | None = None,
    ) -> None:
        self._optimizer = Adagrad(learning_rate, initial_accumulator_value, eps)  # checks the hyperparameters
        if parallel is not None and not isinstance(parallel, (bool, np.bool_)):
            raise AdagradError(f"parallel must be None, True or False, got {type(parallel).__name__}")
        self.parallel = parallel
        paths, arrays, self._spec = flatten(check_init(params), "params")
        for path, a in zip(paths, arrays, strict=True):
            if a.dtype.type not in (np.float32, np.float64) and not is_low_precision(a.dtype):
                raise AdagradError(
                    f"params{path} has dtype {a.dtype}; FlatAdagrad packs float32 and float64 "
                    "(use adagrad_ref.Adagrad for other dtypes)"
                )
        self._buffers: dict[np.dtype, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for dtype in sorted({a.dtype for a in arrays}, key=str):
            self._optimizer.check_fits(dtype)
            total = sum(a.size for a in arrays if a.dtype == dtype)
            self._buffers[dtype] = (
                np.empty(total, dtype),
                np.zeros(total, dtype),
                np.full(total, self._optimizer.initial_accumulator_value, dtype),
            )
        self._build_views([(a.dtype, a.shape) for a in arrays])
        for view, a in zip(self._views[0], arrays, strict=True):
            view[...] = a
        self._count = 0

    def _build_views(self, layout: list[tuple[np.dtype, tuple[int, ...]]]) -> None:
        """The leaves as views into the buffers, in order: ``layout`` is each leaf's (dtype, shape)."""
        offsets = dict.fromkeys(self._buffers, 0)
        self._views: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        for dtype, shape in layout:
            start = offsets[dtype]
            size = int(np.prod(shape, dtype=np.int64))
            offsets[dtype] = start + size
            for v, buf in zip(self._views, self._buffers[dtype], strict=True):
                v.append(buf[start : start + size].reshape(shape))
        self._params, self._grads, self._sums = (unflatten(self._spec, v) for v in self._views)

    def __getstate__(self) -> dict:
        """The buffers and the leaves' layout: pickle would copy each view into an array of its own,
        and the copy's ``params`` would no longer see its steps."""
        return {
            "optimizer": self._optimizer,
            "parallel": self.parallel,
            "spec": self._spec,
            "buffers": self._buffers,
            "layout": [(v.dtype, v.shape) for v in self._views[0]],
            "count": self._count,
        }

    def __setstate__(self, state: dict) -> None:
        self._optimizer, self.parallel, self._spec = state["optimizer"], state["parallel"], state["spec"]
        self._buffers, self._count = state["buffers"], state["count"]
        self._build_views(state["layout"])

    @property
    def params(self) -> Any:
        return self._params

    @params.setter
    def params(self, value: Any) -> None:
        raise AdagradError(
            "FlatAdagrad.params cannot be reassigned; write into its views (flat.params['w'][...] = x)"
        )

    @property
    def grads(self) -> Any:
        return self._grads

    @grads.setter
    def grads(self, value: Any) -> None:
        raise AdagradError(
            "FlatAdagrad.grads cannot be reassigned; call set_grads(grads) or write into its views"
        )

    @property
    def state(self) -> AdagradState:
        return AdagradState(sum_of_squares=self._sums, count=np.int32(self._count))

    def set_grads(self, grads: Any) -> None:
        """Copy a gradient tree (the params' structure, shapes and dtypes) into ``.grads``."""
        self._check_views()
        paths, leaves, spec = flatten(grads, "grads")
        where = first_difference(self._spec, spec, "grads")
        if where is not None:
            raise AdagradError(f"grads does not match the structure of params: {where}")
        checked = []
        for path, g, target in zip(paths, leaves, self._views[1], strict=True):
            g = as_leaf_array(f"grads{path}", g)
            if g.shape != target.shape or g.dtype != target.dtype:
                raise AdagradError(
                    f"grads{path} is {g.dtype} {g.shape}; expected {target.dtype} {target.shape} as in params"
                )
            checked.append(g)
        for g, target in zip(checked, self._views[1], strict=True):
            target[...] = g

    def step(self) -> None:
        """One Adagrad step on every leaf: one call of the fused kernel per dtype."""
        self._check_views()
        eta = self._optimizer.learning_rate_at(self._count)  # η_t, checked if a schedule
        for p, g, G in self._buffers.values():
            adagrad_step_inplace(p, g, G, eta, self._optimizer.eps, parallel=self.parallel)
        self._count = int(safe_increment(self._count))

    def _check_views(self) -> None:
        """Refuse to step if a leaf of params/grads/state was rebound instead of written into."""
        trees = (self._params, self._grads, self._sums)
        for name, tree, views in zip(
            ("params", "grads", "state.sum_of_squares"), trees, self._views, strict=True
        ):
            leaves = optree.tree_leaves(tree, none_is_leaf=False, namespace=NAMESPACE)
            if len(leaves) != len(views) or any(a is not b for a, b in zip(leaves, views, strict=True)):
                raise AdagradError(
                    f"FlatAdagrad.{name} was changed: a leaf was rebound or the tree edited, so the buffer "
                    f"would not see it; write into the views instead (flat.{name}['w'][...] = x)"
                )
