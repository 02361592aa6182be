"""Pytree helpers: the few things optax gets from ``jax.tree`` and this package
needs without JAX.

A *pytree* here is what optax accepts as params: one array, or dicts, lists,
tuples and NamedTuples nesting arrays, with ``None`` allowed as an empty leaf.
Dict keys are visited in sorted order, as ``jax.tree`` does, so the flat order
of leaves is the same in both libraries.

Every leaf carries a *path* such as ``params['layer1']['w']`` or
``params[0].bias`` so that an error can name the offending array.

>>> leaves, treedef = flatten_with_path({"b": np.zeros(2), "a": [np.ones(1), None]})
>>> [path for path, _ in leaves]
["['a'][0]", "['a'][1]", "['b']"]
>>> unflatten(treedef, [1, None, 2])
{'a': [1, None], 'b': 2}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from adagrad_ref.errors import AdagradError

__all__ = ["TreeDef", "as_array_leaf", "first_difference", "flatten_with_path", "leaf_paths", "unflatten"]

# A TreeDef is a hashable nested tuple describing the containers of a pytree:
#   ("leaf",)                         an array
#   ("none",)                         a None leaf
#   ("dict", keys, children)          keys sorted, children in that order
#   ("list", children) / ("tuple", children)
#   ("namedtuple", cls, children)
TreeDef = tuple


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _describe(x: Any) -> str:
    return type(x).__name__


def flatten_with_path(tree: Any) -> tuple[list[tuple[str, Any]], TreeDef]:
    """Return ``([(path, leaf), ...], treedef)``; ``None`` leaves are kept.

    Raises :class:`AdagradError` for a dict whose keys cannot be sorted, naming its path.
    """
    leaves: list[tuple[str, Any]] = []
    treedef = _flatten(tree, "", leaves)
    return leaves, treedef


# The walkers are module-level functions that take their accumulator as an argument. A nested
# recursive function refers to itself through its closure: a reference cycle, which kept every
# array of every call alive until the cyclic garbage collector ran (the benchmark's NumPy class
# grew by 2 arrays a step, and 1e8 float64 was killed at 24 GB).


def _flatten(node: Any, path: str, leaves: list[tuple[str, Any]]) -> TreeDef:
    if node is None:
        leaves.append((path, None))
        return ("none",)
    if isinstance(node, dict):
        try:
            keys = tuple(sorted(node))
        except TypeError as e:
            raise AdagradError(f"{path or 'tree'} is a dict with unsortable keys ({e})") from None
        return ("dict", keys, tuple(_flatten(node[k], f"{path}[{k!r}]", leaves) for k in keys))
    if _is_namedtuple(node):
        children = tuple(_flatten(v, f"{path}.{f}", leaves) for f, v in zip(node._fields, node, strict=True))
        return ("namedtuple", type(node), children)
    if isinstance(node, (list, tuple)):
        kind = "list" if isinstance(node, list) else "tuple"
        return (kind, tuple(_flatten(v, f"{path}[{i}]", leaves) for i, v in enumerate(node)))
    leaves.append((path, node))
    return ("leaf",)


def leaf_paths(treedef: TreeDef) -> list[tuple[str, str]]:
    """``(path, kind)`` of every leaf of ``treedef`` in flat order; kind is ``"leaf"`` or ``"none"``.

    >>> leaf_paths(flatten_with_path({"a": [np.ones(1), None]})[1])
    [("['a'][0]", 'leaf'), ("['a'][1]", 'none')]
    """
    out: list[tuple[str, str]] = []
    _paths(treedef, "", out)
    return out


def _paths(d: TreeDef, path: str, out: list[tuple[str, str]]) -> None:
    kind = d[0]
    if kind in ("leaf", "none"):
        out.append((path, kind))
    elif kind == "dict":
        for k, c in zip(d[1], d[2], strict=True):
            _paths(c, f"{path}[{k!r}]", out)
    elif kind == "namedtuple":
        for f, c in zip(d[1]._fields, d[2], strict=True):
            _paths(c, f"{path}.{f}", out)
    else:
        for i, c in enumerate(d[1]):
            _paths(c, f"{path}[{i}]", out)


def unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Inverse of :func:`flatten_with_path`: rebuild the containers around ``leaves``."""
    return _build(treedef, iter(leaves))


def _build(d: TreeDef, it: Iterator[Any]) -> Any:
    kind = d[0]
    if kind in ("leaf", "none"):
        return next(it)
    if kind == "dict":
        return {k: _build(c, it) for k, c in zip(d[1], d[2], strict=True)}
    if kind == "namedtuple":
        return d[1](*[_build(c, it) for c in d[2]])
    children = [_build(c, it) for c in d[1]]
    return children if kind == "list" else tuple(children)


class _Diff(NamedTuple):
    path: str
    expected: str
    got: str


def first_difference(expected: TreeDef, got: TreeDef, name: str = "tree") -> str | None:
    """Describe where two tree structures first differ, or ``None`` if equal.

    ``name`` is the name of the tree ``got`` came from, the start of each path.

    >>> a = flatten_with_path({"w": np.zeros(1), "b": [np.zeros(1)]})[1]
    >>> first_difference(a, flatten_with_path({"w": np.zeros(1)})[1], "grads")
    "grads: expected a dict with keys ['b', 'w'], got a dict with keys ['w']"
    >>> first_difference(a, flatten_with_path({"w": np.zeros(1), "b": [None]})[1], "grads")
    "grads['b'][0]: expected an array, got None"
    """
    d = _first_difference(expected, got, name)
    if d is None:
        return None
    return f"{d.path}: expected {d.expected}, got {d.got}"


def _kind_text(d: TreeDef) -> str:
    kind = d[0]
    if kind == "leaf":
        return "an array"
    if kind == "none":
        return "None"
    if kind == "dict":
        return f"a dict with keys {list(d[1])}"
    if kind == "namedtuple":
        return f"a {d[1].__name__} with {len(d[2])} fields"
    return f"a {kind} of length {len(d[1])}"


def _first_difference(a: TreeDef, b: TreeDef, path: str) -> _Diff | None:
    if a == b:
        return None
    same_kind = a[0] == b[0]
    if same_kind and a[0] == "dict" and a[1] == b[1]:
        pairs = zip(a[1], a[2], b[2], strict=True)
        for k, ca, cb in pairs:
            d = _first_difference(ca, cb, f"{path}[{k!r}]")
            if d is not None:
                return d
    elif same_kind and a[0] == "namedtuple" and a[1] is b[1]:
        for f, ca, cb in zip(a[1]._fields, a[2], b[2], strict=True):
            d = _first_difference(ca, cb, f"{path}.{f}")
            if d is not None:
                return d
    elif same_kind and a[0] in ("list", "tuple") and len(a[1]) == len(b[1]):
        for i, (ca, cb) in enumerate(zip(a[1], b[1], strict=True)):
            d = _first_difference(ca, cb, f"{path}[{i}]")
            if d is not None:
                return d
    return _Diff(path, _kind_text(a), _kind_text(b))


def as_array_leaf(path: str, leaf: Any, name: str) -> np.ndarray:
    """Turn a leaf into an ndarray, refusing what has no explicit dtype.

    Python numbers are refused: their dtype would be a guess (optax makes them
    weakly typed float32, NumPy makes them float64), and a reference must not
    guess.
    """
    if isinstance(leaf, np.ndarray):
        return leaf
    if isinstance(leaf, np.generic) or (hasattr(leaf, "__array__") and hasattr(leaf, "dtype")):
        return np.asarray(leaf)
    if isinstance(leaf, (bool, int, float, complex)):
        raise AdagradError(
            f"{name}{path} is a Python {_describe(leaf)}; pass np.asarray(value, dtype=np.float32) "
            "(or float64) so that the dtype is explicit"
        )
    raise AdagradError(
        f"{name}{path} is a {_describe(leaf)}; expected an array, or a dict/list/tuple/NamedTuple of arrays"
    )
