"""Pytrees go through optree with JAX's semantics: key order, OrderedDict, None, NamedTuple, your own
containers, paths in errors, and deep or cyclic trees refused in one line."""

from __future__ import annotations

import collections
import subprocess
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optree
import pytest

from adagrad_ref import AdagradError, adagrad, apply_updates, conventions
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.numerics.ulp import same_bits
from adagrad_ref.trees import NAMESPACE, flatten


class Layer(NamedTuple):
    w: np.ndarray
    b: np.ndarray | None


def model(dtype=np.float32):
    a = lambda *s: np.arange(1, 1 + int(np.prod(s)), dtype=dtype).reshape(s) / 7  # noqa: E731
    return {
        "z_last": a(2),
        "a_first": Layer(w=a(2, 3), b=None),
        "ordered": collections.OrderedDict([("y", a(3)), ("x", a(1))]),
        "list": [a(2), None, (a(),)],
    }


def test_leaf_order_and_output_key_order_are_jax_s():
    params = model()
    assert [x.tobytes() for x in flatten(params, "p")[1]] == [x.tobytes() for x in jax.tree.leaves(params)]
    opt = adagrad(0.1)
    state = opt.init(params)
    updates, state = opt.update(params, state)
    new = apply_updates(params, updates)
    jax_like = jax.tree.map(lambda x: x, params)
    for tree in (state.sum_of_squares, updates, new):
        assert list(tree) == list(jax_like) == sorted(params)  # a dict comes back sorted, as from jax.tree
        assert type(tree["ordered"]) is collections.OrderedDict and list(tree["ordered"]) == ["y", "x"]
        assert isinstance(tree["a_first"], Layer) and tree["a_first"].b is None
        assert tree["list"][1] is None and isinstance(tree["list"][2], tuple)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_same_tree_and_bits_as_optax(backend):
    """None is an empty subtree (JAX's rule): the state and updates hold None where params do."""
    params = model()
    opt, ref = adagrad(0.1, backend=backend), optax.adagrad(0.1)
    state, t_state = opt.init(params), ref.init(jax.tree.map(jnp.asarray, params))
    assert jax.tree.structure(state.sum_of_squares) == jax.tree.structure(t_state[0].sum_of_squares)
    grads = jax.tree.map(lambda x: x * 3, params)
    updates, state = opt.update(grads, state)
    t_updates, t_state = ref.update(jax.tree.map(jnp.asarray, grads), t_state)
    assert jax.tree.structure(updates) == jax.tree.structure(t_updates)
    for a, b in zip(
        jax.tree.leaves(state.sum_of_squares), jax.tree.leaves(t_state[0].sum_of_squares), strict=True
    ):
        assert same_bits(a, np.asarray(b))


class Pair:
    """A user's own container, registered with optree in this package's namespace."""

    def __init__(self, left, right):
        self.left, self.right = left, right


optree.register_pytree_node(
    Pair,
    lambda p: ((p.left, p.right), None, ("left", "right")),
    lambda _, children: Pair(*children),
    path_entry_type=optree.GetAttrEntry,
    namespace=NAMESPACE,
)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_registered_container_is_a_pytree(backend):
    params = {"pair": Pair(np.ones(2, np.float32), np.zeros(3, np.float32))}
    opt = adagrad(0.1, backend=backend)
    state = opt.init(params)
    assert isinstance(state.sum_of_squares["pair"], Pair)
    updates, _ = opt.update({"pair": Pair(np.ones(2, np.float32), np.ones(3, np.float32))}, state)
    assert isinstance(updates["pair"], Pair) and updates["pair"].right.shape == (3,)
    with pytest.raises(AdagradError, match=r"^grads\['pair'\]\.right has shape \(2,\); expected \(3,\)"):
        opt.update({"pair": Pair(np.ones(2, np.float32), np.ones(2, np.float32))}, state)
    flat = FlatAdagrad(params, 0.1)
    assert isinstance(flat.params["pair"], Pair)


def test_an_ordered_dict_is_not_a_dict():
    opt = adagrad(0.1)
    state = opt.init(collections.OrderedDict([("b", np.ones(1)), ("a", np.ones(1))]))
    with pytest.raises(
        AdagradError,
        match=r"^grads does not match the structure of state.sum_of_squares: grads: expected a OrderedDict "
        r"with keys \['b', 'a'\], got a dict with keys \['a', 'b'\]$",
    ):
        opt.update({"a": np.ones(1), "b": np.ones(1)}, state)


def test_unsortable_keys_are_refused_as_jax_refuses_them():
    with pytest.raises(ValueError):
        jax.tree.leaves({1: np.ones(1), "a": np.ones(1)})
    with pytest.raises(
        AdagradError, match=r"^params\['w'\] is a dict with unsortable keys \('<' not supported"
    ):
        adagrad(0.1).init({"w": {1: np.ones(1), "a": np.ones(1)}})


def deep(n):
    t = np.ones(1)
    for _ in range(n):
        t = [t]
    return t


def cyclic_dict():
    d = {"w": np.ones(1)}
    d["self"] = d
    return d


def cyclic_list():
    inner = [np.ones(1)]
    inner.append({"back": inner})
    return {"layers": inner}


ENTRY_POINTS = {
    "init": lambda t: adagrad(0.1).init(t),
    "init numba": lambda t: adagrad(0.1, backend="numba").init(t),
    "update": lambda t: adagrad(0.1).update(t, adagrad(0.1).init(np.ones(1))),
    "apply_updates params": lambda t: apply_updates(t, np.ones(1)),
    "pytorch init": lambda t: conventions.pytorch().init(t),
    "FlatAdagrad": lambda t: FlatAdagrad(t, 0.1),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: deep(3000), r"^(params|grads)(\[0\]){6}\.\.\.(\[0\]){6} is nested 1000 levels deep; "
         r"optree flattens at most 1000$"),
        (cyclic_dict, r"^(params|grads)\['self'\] is one of its own ancestors: "
         r"a pytree cannot contain itself$"),
        (cyclic_list, r"^(params|grads)\['layers'\]\[1\]\['back'\] is one of its own "
         r"ancestors"),
    ],
    ids=["deep", "cyclic dict", "cyclic list"],
)  # fmt: skip
def test_deep_and_cyclic_trees_get_one_line(entry, make, match):
    with pytest.raises(AdagradError, match=match) as info:
        ENTRY_POINTS[entry](make())
    assert "\n" not in str(info.value)


def test_deep_tree_in_a_fresh_process_does_not_crash():
    """Not a RecursionError, not a crash, whatever Python's recursion limit."""
    code = (
        "import sys, numpy as np\nsys.setrecursionlimit(200)\nfrom adagrad_ref import adagrad, AdagradError\n"
        "t = np.ones(1)\nfor _ in range(100_000): t = [t]\n"
        "try:\n    adagrad(0.1).init(t)\nexcept AdagradError as e:\n    print(str(e)[-60:])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("is nested 1000 levels deep; optree flattens at most 1000")


def test_a_tree_just_under_the_limit_works():
    t = deep(900)
    state = adagrad(0.1).init(t)
    leaf = state.sum_of_squares
    for _ in range(900):
        leaf = leaf[0]
    assert leaf.dtype == np.float64 and leaf[0] == 0.1
