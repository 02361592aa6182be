"""Pytrees through optree, with JAX's semantics and no JAX.

A *pytree* is what optax accepts as params: one array, or dicts, lists, tuples,
NamedTuples, OrderedDicts (and any container registered with optree) nesting
arrays. `optree <https://github.com/metaopt/optree>`_, the pytree library
PyTorch uses internally, flattens them as ``jax.tree`` does:

* dict keys are visited in sorted order, and a dict comes back with sorted keys
  (as ``jax.tree.map`` returns it); an ``OrderedDict`` keeps its insertion order;
* ``None`` is an empty subtree, not a leaf (``none_is_leaf=False``, JAX's rule):
  a ``None`` in params gives ``None`` in the state and in the updates;
* your own container works once registered, globally or in this package's
  namespace::

      optree.register_pytree_node(
          MyLayer,
          lambda layer: ((layer.w, layer.b), None, ("w", "b")),   # children, metadata, names
          lambda metadata, children: MyLayer(*children),
          path_entry_type=optree.GetAttrEntry,                   # paths read params['l'].w
          namespace="adagrad_ref",                               # or optree's global namespace
      )

Every leaf has a path such as ``['layer1']['w']``, so that an error names the
array (``grads['layer1']['w'] has shape ...``). A tree nested deeper than
optree's limit, or one that contains itself, is an :class:`AdagradError` naming
where, never a ``RecursionError``.

>>> import numpy as np
>>> paths, leaves, spec = flatten({"b": np.zeros(2), "a": [np.ones(1), None]}, "params")
>>> paths
["['a'][0]", "['b']"]
>>> unflatten(spec, ["x", "y"])
{'a': ['x', None], 'b': 'y'}
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import optree

from adagrad_ref.errors import AdagradError

__all__ = [
    "NAMESPACE",
    "PyTreeSpec",
    "first_difference",
    "flatten",
    "flatten_up_to",
    "leaf_paths",
    "map_pairs",
    "unflatten",
]

#: The optree namespace this package flattens in (besides optree's global registry).
NAMESPACE = "adagrad_ref"
PyTreeSpec = optree.PyTreeSpec
_PAIR = optree.tree_structure((0, 0))  # a leaf step returns a pair (u, G)


def map_pairs(step: Any, *trees: Any) -> tuple[Any, Any]:
    """Map ``step`` (leaves -> a pair) over ``trees``: the two trees of the pairs' first and second items.

    The one tree map of both drivers (:class:`adagrad_ref.Adagrad`, the conventions): the
    updates and the new accumulators from one pass.

    >>> map_pairs(lambda g, G: (-g, G + g * g), {"w": 2.0, "b": None}, {"w": 1.0, "b": None})
    ({'w': -2.0, 'b': None}, {'w': 5.0, 'b': None})
    """
    return optree.tree_transpose_map(step, *trees, inner_treespec=_PAIR, namespace=NAMESPACE)


def flatten(tree: Any, name: str, *, none_is_leaf: bool = False) -> tuple[LeafPaths, list[Any], PyTreeSpec]:
    """``(paths, leaves, spec)`` of ``tree``; ``name`` starts the paths of error messages.

    ``None`` is an empty subtree (JAX's rule), or a leaf with ``none_is_leaf``
    (optax's ``is_leaf=lambda x: x is None`` in ``apply_updates``). Raises
    :class:`AdagradError` for a dict whose keys cannot be sorted, a tree nested
    deeper than optree's limit and a tree that contains itself.
    """
    try:
        leaves, spec = optree.tree_flatten(tree, none_is_leaf=none_is_leaf, namespace=NAMESPACE)
    except RecursionError:
        raise AdagradError(_too_deep(tree, name)) from None
    if spec.num_nodes > spec.num_leaves and not _cached(_sortable, spec):
        _refuse_unsortable(spec, name)
    return LeafPaths(spec), leaves, spec


class LeafPaths(Sequence):
    """The leaves' paths, computed on first use (an error message), not on every step."""

    def __init__(self, spec: PyTreeSpec) -> None:
        self._spec = spec
        self._paths: list[str] | None = None

    def _all(self) -> list[str]:
        if self._paths is None:
            self._paths = leaf_paths(self._spec)
        return self._paths

    def __getitem__(self, i):  # type: ignore[override]
        return self._all()[i]

    def __len__(self) -> int:
        return self._spec.num_leaves

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._all())


def flatten_up_to(spec: PyTreeSpec, other: Any, name: str) -> list[Any]:
    """The subtrees of ``other`` at the leaves of ``spec`` (``spec`` is a prefix of ``other``'s structure).

    >>> spec = flatten({"b": None, "w": 1}, "params", none_is_leaf=True)[2]
    >>> flatten_up_to(spec, {"b": [1, 2], "w": 3}, "updates")
    [[1, 2], 3]
    """
    try:
        return spec.flatten_up_to(other)
    except (ValueError, TypeError, RecursionError):
        got = flatten(other, name, none_is_leaf=spec.none_is_leaf)[2]
        where = first_difference(spec, got, name, prefix=True) or f"{name}: expected {_describe(spec)}"
        raise AdagradError(f"{name} does not match the structure of params: {where}") from None


def leaf_paths(spec: PyTreeSpec) -> list[str]:
    """The path of every leaf, in flat order: ``"['a'][0]"``, ``".w"``...

    >>> leaf_paths(flatten({"a": [1, None]}, "params")[2])
    ["['a'][0]"]
    """
    return [_codify(a) for a in spec.accessors()]


def unflatten(spec: PyTreeSpec, leaves: list[Any]) -> Any:
    """Inverse of :func:`flatten`; every plain dict comes back with sorted keys, as from ``jax.tree``."""
    return optree.tree_unflatten(_cached(_sorted_spec, spec), leaves)


def _cached(fn: Any, spec: PyTreeSpec) -> Any:
    """``fn(spec)`` from its cache: a training loop meets a few structures (the caches hold no leaf)."""
    try:
        return fn(spec)
    except TypeError:  # a registered container whose metadata cannot be hashed
        return fn.__wrapped__(spec)


@functools.lru_cache(maxsize=256)
def _sorted_spec(spec: PyTreeSpec) -> PyTreeSpec:
    return spec.transform(f_node=_sorted_dict)


def _sorted_dict(node: PyTreeSpec) -> PyTreeSpec:
    # optree rebuilds a dict in its original key order; jax.tree in sorted order (node.entries()).
    if node.type is dict:
        pairs = list(zip(node.entries(), node.children(), strict=True))
        return optree.treespec_dict(pairs, none_is_leaf=node.none_is_leaf, namespace=NAMESPACE)
    return node


def _codify(accessor: optree.PyTreeAccessor) -> str:
    return accessor.codify("")


@functools.lru_cache(maxsize=256)
def _sortable(spec: PyTreeSpec) -> bool:
    # optree silently keeps the insertion order of keys it cannot sort; jax.tree refuses them.
    stack = [spec]
    while stack:
        node = stack.pop()
        if node.is_leaf():
            continue
        if node.type is dict or node.kind == optree.PyTreeKind.DEFAULTDICT:
            try:
                sorted(node.entries())
            except TypeError:
                return False
        stack.extend(node.children())
    return True


def _refuse_unsortable(spec: PyTreeSpec, name: str) -> None:
    for node, path in _nodes(spec, name):
        if node.type is dict or node.kind == optree.PyTreeKind.DEFAULTDICT:
            try:
                sorted(node.entries())
            except TypeError as e:
                raise AdagradError(f"{path} is a dict with unsortable keys ({e})") from None


def _nodes(spec: PyTreeSpec, name: str):
    """Every inner node of ``spec`` with its path, depth first, without recursion."""
    stack = [(spec, name)]
    while stack:
        node, path = stack.pop()
        if node.is_leaf():
            continue
        yield node, path
        steps = [_codify(a) for a in node.one_level().accessors()]
        stack.extend((c, path + s) for c, s in reversed(list(zip(node.children(), steps, strict=True))))


def first_difference(expected: PyTreeSpec, got: PyTreeSpec, name: str, *, prefix: bool = False) -> str | None:
    """Where two structures first differ, as ``"path: expected ..., got ..."``, or ``None`` if equal.

    With ``prefix``, a leaf of ``expected`` matches any subtree of ``got``.

    >>> a = flatten({"w": 0, "b": [0]}, "grads")[2]
    >>> first_difference(a, flatten({"w": 0}, "grads")[2], "grads")
    "grads: expected a dict with keys ['b', 'w'], got a dict with keys ['w']"
    >>> first_difference(a, flatten({"w": 0, "b": [None]}, "grads")[2], "grads")
    "grads['b'][0]: expected an array, got None"
    """
    if expected == got:
        return None
    stack = [(expected, got, name)]
    while stack:
        a, b, path = stack.pop()
        if a == b or (prefix and a.is_leaf()):
            continue
        if a.is_leaf() or b.is_leaf() or a.one_level() != b.one_level():
            return f"{path}: expected {_describe(a)}, got {_describe(b)}"
        steps = [_codify(x) for x in a.one_level().accessors()]
        kids = zip(a.children(), b.children(), steps, strict=True)
        stack.extend((ca, cb, path + s) for ca, cb, s in reversed(list(kids)))
    return None


def _describe(spec: PyTreeSpec) -> str:
    kind, n = spec.kind, spec.num_children
    if kind == optree.PyTreeKind.NONE:
        return "None"
    if spec.is_leaf():
        return "an array"
    if kind in (optree.PyTreeKind.DICT, optree.PyTreeKind.DEFAULTDICT, optree.PyTreeKind.ORDEREDDICT):
        return f"a {spec.type.__name__} with keys {list(spec.entries())}"
    if kind == optree.PyTreeKind.NAMEDTUPLE:
        name = spec.type.__name__
        return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name} with {n} fields"
    if kind in (optree.PyTreeKind.LIST, optree.PyTreeKind.TUPLE):
        return f"a {spec.type.__name__} of length {n}"
    return f"a {spec.type.__name__} with {n} children"


def _too_deep(tree: Any, name: str) -> str:
    """Why optree gave up: the first node inside itself, or nested past the limit (found by a loop)."""
    limit = optree.MAX_RECURSION_DEPTH
    # Each entry: node, its path as a linked list (step, parent), depth, the ids above it (linked too).
    stack: list[tuple[Any, tuple | None, int, tuple | None]] = [(tree, None, 0, None)]
    while stack:
        node, path, depth, ancestors = stack.pop()
        chain = ancestors
        while chain is not None:
            if chain[0] == id(node):
                return f"{_render(name, path)} is one of its own ancestors: a pytree cannot contain itself"
            chain = chain[1]
        if depth >= limit:
            return f"{_render(name, path)} is nested {depth} levels deep; optree flattens at most {limit}"
        try:
            children, _, entries, _ = optree.tree_flatten_one_level(
                node, none_is_leaf=False, namespace=NAMESPACE
            )
        except ValueError:  # a leaf
            continue
        fields = getattr(node, "_fields", None) if isinstance(node, tuple) else None
        steps = [f".{fields[i]}" if fields else f"[{e!r}]" for i, e in enumerate(entries)]
        here = (id(node), ancestors)
        for child, step in reversed(list(zip(children, steps, strict=True))):
            stack.append((child, (step, path), depth + 1, here))
    return f"{name} is too deeply nested to flatten"  # pragma: no cover


def _render(name: str, path: tuple | None, keep: int = 6) -> str:
    steps: list[str] = []
    while path is not None:
        steps.append(path[0])
        path = path[1]
    steps.reverse()
    if len(steps) > 2 * keep + 1:
        steps = [*steps[:keep], "...", *steps[-keep:]]
    return name + "".join(steps)
