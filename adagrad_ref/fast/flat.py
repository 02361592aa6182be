"""The multi-tensor path: a whole pytree stepped by one kernel call per dtype.

A real model is a pytree of many arrays, and one Python call per leaf costs
more than the arithmetic of a small leaf. :class:`FlatAdagrad` packs params,
grads and accumulators once into one contiguous buffer per dtype, and hands
out views of those buffers shaped like the leaves (the multi-tensor kernels of
the big frameworks do the same). Write gradients into ``.grads`` (or call
:meth:`FlatAdagrad.set_grads`), call :meth:`FlatAdagrad.step`, read ``.params``.

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

from adagrad_ref.errors import AdagradError
from adagrad_ref.fast.kernels import adagrad_step_inplace
from adagrad_ref.reference import INT32_MAX, Adagrad, AdagradState, ScalarOrSchedule
from adagrad_ref.tree import as_array_leaf, first_difference, flatten_with_path, unflatten

__all__ = ["FlatAdagrad"]


class FlatAdagrad:
    """Adagrad on a pytree packed into one buffer per dtype; ``step`` is one fused call per dtype.

    Args:
      params: the initial params (copied in); float32 and float64 leaves, ``None`` allowed.
      learning_rate, initial_accumulator_value, eps: as :func:`adagrad_ref.adagrad`.
      parallel: passed to :func:`adagrad_ref.adagrad_step_inplace` (``None``: by size).

    Attributes:
      params, grads: trees of views into the buffers, shaped like ``params``.
      state: an :class:`AdagradState` whose ``sum_of_squares`` are views too.
    """

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
        self.parallel = parallel
        items, self._treedef = flatten_with_path(params)
        arrays = []
        for path, leaf in items:
            if leaf is None:
                arrays.append(None)
                continue
            a = as_array_leaf(path, leaf, "params")
            if a.dtype.type not in (np.float32, np.float64):
                raise AdagradError(
                    f"params{path} has dtype {a.dtype}; FlatAdagrad packs float32 and float64 "
                    "(use adagrad_ref.Adagrad for other dtypes)"
                )
            arrays.append(a)
        self._buffers: dict[np.dtype, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for dtype in sorted({a.dtype for a in arrays if a is not None}, key=str):
            total = sum(a.size for a in arrays if a is not None and a.dtype == dtype)
            self._buffers[dtype] = (
                np.empty(total, dtype),
                np.zeros(total, dtype),
                np.full(total, self._optimizer.initial_accumulator_value, dtype),
            )
        offsets = dict.fromkeys(self._buffers, 0)
        views: list[list[np.ndarray | None]] = [[], [], []]
        for a in arrays:
            if a is None:
                for v in views:
                    v.append(None)
                continue
            start = offsets[a.dtype]
            offsets[a.dtype] = start + a.size
            for v, buf in zip(views, self._buffers[a.dtype], strict=True):
                v.append(buf[start : start + a.size].reshape(a.shape))
            views[0][-1][...] = a
        self.params = unflatten(self._treedef, views[0])
        self.grads = unflatten(self._treedef, views[1])
        self._sums = unflatten(self._treedef, views[2])
        self._count = 0

    @property
    def state(self) -> AdagradState:
        return AdagradState(sum_of_squares=self._sums, count=np.int32(self._count))

    def set_grads(self, grads: Any) -> None:
        """Copy a gradient tree (the params' structure, shapes and dtypes) into ``.grads``."""
        items, treedef = flatten_with_path(grads)
        where = first_difference(self._treedef, treedef, "grads")
        if where is not None:
            raise AdagradError(f"grads does not match the structure of params: {where}")
        targets = [leaf for _, leaf in flatten_with_path(self.grads)[0]]
        for (path, g), target in zip(items, targets, strict=True):
            if target is None:
                continue
            g = as_array_leaf(path, g, "grads")
            if g.shape != target.shape or g.dtype != target.dtype:
                raise AdagradError(
                    f"grads{path} is {g.dtype} {g.shape}; expected {target.dtype} {target.shape} as in params"
                )
        for (_, g), target in zip(items, targets, strict=True):
            if target is not None:
                target[...] = g

    def step(self) -> None:
        """One Adagrad step on every leaf: one call of the fused kernel per dtype."""
        eta = self._optimizer.learning_rate_at(self._count)  # η_t, checked if a schedule
        for p, g, G in self._buffers.values():
            adagrad_step_inplace(p, g, G, eta, self._optimizer.eps, parallel=self.parallel)
        self._count = min(self._count + 1, INT32_MAX)
