"""The backends: which function computes one leaf's step, chosen by name at the boundary.

A backend is a *leaf update* ``(g, G, learning_rate, eps) -> (u, G_new)``
with the bits of :func:`adagrad_ref.reference.update_leaf`:

==========  =============================================================
``numpy``   the reference's own ``update_leaf``: NumPy, the formula as written
``numba``   :func:`adagrad_ref.fast.kernels.update_leaf`, one fused compiled
            loop for float32/float64 (bfloat16/float16: :mod:`adagrad_ref.fast.lowprec_kernels`);
            complex leaves fall back to the reference (Numba's complex
            arithmetic does not round as NumPy's)
==========  =============================================================

:class:`adagrad_ref.Adagrad` also takes a leaf-update function itself
(composition): ``Adagrad(0.1, backend=my_leaf_update)``.

Dependencies point one way: the reference imports this module and passes its
own ``update_leaf`` in; this module imports nothing of the reference, and the
Numba core only when a Numba step runs (``import adagrad_ref`` loads no Numba).

>>> import numpy as np
>>> numpy_leaf = lambda g, G, lr, eps: ("numpy", G)
>>> leaf_update("numpy", numpy_leaf) is numpy_leaf
True
>>> leaf_update("numba", numpy_leaf)(np.zeros(1, np.complex64), np.ones(1, np.complex64), 0.1, 1e-7)[0]
'numpy'
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.numerics.lowprec import is_low_precision

__all__ = [
    "BACKENDS",
    "LeafUpdate",
    "TreeStep",
    "compiled_apply",
    "data_addresses",
    "leaf_update",
    "tree_step",
    "tree_update",
]

#: ``(g, G, learning_rate, eps) -> (u, G_new)``, the step of one array.
LeafUpdate = Callable[[np.ndarray, np.ndarray, float, float], tuple[np.ndarray, np.ndarray]]


def _numba(reference: LeafUpdate, g: np.ndarray, G: np.ndarray, learning_rate: float, eps: float):
    if is_low_precision(G.dtype):  # bfloat16, float16: uint16 views, float32 arithmetic, rounded back
        from adagrad_ref.fast.lowprec_kernels import update_leaf as low_precision_leaf

        return low_precision_leaf(g, G, learning_rate, eps)
    if G.dtype.type not in (np.float32, np.float64):
        return reference(g, G, learning_rate, eps)  # complex: the reference's exact fma form
    from adagrad_ref.fast.kernels import update_leaf  # Numba loads on the first Numba step

    return update_leaf(g, G, learning_rate, eps)


#: The table: each backend's leaf update, made from the reference's (which it may fall back to).
BACKENDS: dict[str, Callable[[LeafUpdate], LeafUpdate]] = {
    "numpy": lambda reference: reference,
    "numba": lambda reference: functools.partial(_numba, reference),
}


def leaf_update(backend: str | LeafUpdate, reference: LeafUpdate) -> LeafUpdate:
    """The leaf update of ``backend``: a name in :data:`BACKENDS`, or a leaf-update function as it is."""
    if callable(backend):
        return backend
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise AdagradError(f"backend must be one of {tuple(BACKENDS)}, got {backend!r}")
    return BACKENDS[backend](reference)


#: ``(g_leaves, sum_leaves, learning_rate, eps, leaf_update) -> (u_leaves, sum_leaves)``: a whole
#: tree's update at once (checked leaves in; the leaves it does not take itself go to ``leaf_update``).
TreeUpdate = Callable[[list, list, float, float, LeafUpdate], tuple[list, list]]


def tree_update(backend: Any) -> TreeUpdate | None:
    """The whole-tree update of ``backend``, or ``None`` (then its leaf update is mapped over the tree).

    ``"numba"``: :func:`adagrad_ref.fast.tree.update_leaves`, one compiled call per dtype for the
    whole tree into pooled output buffers (the same bits as the leaf update; see that module).
    """
    if isinstance(backend, str) and backend == "numba":
        from adagrad_ref.fast.tree import update_leaves  # Numba loads on the first Numba step

        return update_leaves
    return None


def compiled_apply() -> Callable[[list, list, Callable], list] | None:
    """``apply_updates``'s compiled path, once a Numba step has loaded it (else ``None``: NumPy's).

    :func:`adagrad_ref.fast.tree.apply_leaves`: ``w + u`` of every float32/float64 leaf in one
    compiled call per dtype, the bits of NumPy's ``p + u``. ``import adagrad_ref`` loads no Numba, so
    this path is taken only in a process where the Numba backend has run.
    """
    fast = sys.modules.get("adagrad_ref.fast.tree")
    return None if fast is None else fast.apply_leaves


#: ``(p_leaves, g_leaves, sum_leaves, learning_rate, eps, donate) -> (w_leaves, sum_leaves)``: a whole
#: tree's ``update`` then ``apply_updates`` (checked leaves in).
TreeStep = Callable[[list, list, list, float, float, bool], tuple[list, list]]


def tree_step(backend: Any, update: LeafUpdate, add: Callable[[Any, Any], Any]) -> TreeStep:
    """The whole-tree step of ``backend``: ``update`` (its leaf update) then ``add`` (``w + u``), per leaf;
    with ``donate``, the results copied into the params' and sums' arrays. ``"numba"``:
    :func:`adagrad_ref.fast.tree.step_leaves`, the float32/float64 leaves fused in one compiled pass per
    dtype (the same bits), the others as here."""

    def leaf_step(p: np.ndarray, g: np.ndarray, G: np.ndarray, eta: float, eps: float) -> tuple:
        u, G_new = update(g, G, eta, eps)
        return add(p, u), G_new

    def written(p_leaves: list, sums: list, new: list) -> tuple[list, list]:
        """``donate``: each leaf's new values copied into its params and sums (after every leaf is computed,
        so a refusal leaves every array as it was), those arrays returned."""
        for p, G, (w, G_new) in zip(p_leaves, sums, new, strict=True):  # all checked before the first write
            if w is not p:
                _check_fits(p, G, w, G_new)
        for p, G, (w, G_new) in zip(p_leaves, sums, new, strict=True):
            if w is not p:
                np.copyto(p, w)
                np.copyto(G, G_new)
        return p_leaves, sums

    def per_leaf(p_leaves: list, g_leaves: list, sums: list, eta: float, eps: float, donate: bool):
        new = [leaf_step(p, g, G, eta, eps) for p, g, G in zip(p_leaves, g_leaves, sums, strict=True)]
        if donate:
            return written(p_leaves, sums, new)
        return [w for w, _ in new], [G for _, G in new]

    if not (isinstance(backend, str) and backend == "numba"):
        return per_leaf
    from adagrad_ref.fast.tree import step_leaves  # Numba loads on the first Numba step

    def other(p: np.ndarray, g: np.ndarray, G: np.ndarray, eta: float, eps: float, donate: bool) -> tuple:
        new = leaf_step(p, g, G, eta, eps)
        if donate:  # checked here, before step_leaves writes the compiled leaves in place
            _check_fits(p, G, *new)
        return new

    def fused(p_leaves: list, g_leaves: list, sums: list, eta: float, eps: float, donate: bool):
        w_leaves, G_leaves = step_leaves(
            p_leaves, g_leaves, sums, eta, eps, lambda p, g, G: other(p, g, G, eta, eps, donate), donate
        )
        if donate:  # the compiled leaves are written in place already; the others are copied now
            return written(p_leaves, sums, list(zip(w_leaves, G_leaves, strict=True)))
        return w_leaves, G_leaves

    return fused


def data_addresses(backend: Any) -> Callable[[list], np.ndarray] | None:
    """A reader of many arrays' data pointers at once for ``backend``'s checks (the Numba backend's
    compiled one: :func:`adagrad_ref.fast.tree.data_addresses`), or ``None``."""
    if isinstance(backend, str) and backend == "numba":
        from adagrad_ref.fast.tree import data_addresses

        return data_addresses
    return None


def _fits(value: Any, target: np.ndarray) -> bool:
    """``value`` can be copied into ``target`` as it is: its shape, and a dtype of the same kind."""
    try:
        return np.shape(value) == target.shape and np.can_cast(
            np.asarray(value).dtype, target.dtype, "same_kind"
        )
    except Exception:  # an object NumPy cannot read: not copyable
        return False


def _check_fits(p: np.ndarray, G: np.ndarray, w: Any, G_new: Any) -> None:
    """Refuse a leaf update's result that cannot be copied into the leaf's own arrays (``donate=True``)."""
    if not (_fits(w, p) and _fits(G_new, G)):
        got = f"{type(w).__name__} {np.shape(w)}, {type(G_new).__name__} {np.shape(G_new)}"
        raise AdagradError(
            f"the backend's leaf update returned ({got}) for a leaf of {p.dtype} {p.shape}; "
            "step(..., donate=True) cannot write it in place (nothing written)"
        )
