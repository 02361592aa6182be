"""load_state fed thousands of mutated files: the one-line error or the right state, never anything else.

Mutations: bytes flipped, bytes overwritten, the file cut short, bytes inserted,
and meta.json rewritten with other JSON values in its fields (re-zipped with a
valid CRC, so that the checks behind the zip's own CRC are reached too), and the
archive itself reshaped (members compressed, repeated, renamed, added, reordered;
unknown fields anywhere in meta.json). Each load runs under a 5-second alarm: a
hang fails the test.

And the other way round: random trees (dict, OrderedDict, list, tuple, NamedTuples with
renamed fields, None) of random arrays (every dtype in both byte orders, 0-d and empty
shapes, random bits: NaN payloads, signed zeros, subnormals) round-trip bit for bit.
"""

from __future__ import annotations

import collections
import json
import warnings
import zipfile
from typing import NamedTuple

import numpy as np
import optree
import pytest
from helpers.fuzz_helpers import alarm, mutate_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adagrad_ref import AdagradError, AdagradState, adagrad
from adagrad_ref.state.checkpoint import load_state, save_state

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    opt = adagrad(0.1)
    params = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": [np.ones(2), None], "s": np.array(2.0)}
    state = opt.init(params)._replace(count=np.int32(3))
    f = tmp_path_factory.mktemp("orig") / "s.npz"
    save_state(f, state, optimizer=opt)
    return f.read_bytes(), state


def bits(state):
    leaves = optree.tree_leaves(state.sum_of_squares, none_is_leaf=True)
    return [None if x is None else (x.dtype.str, x.shape, x.tobytes()) for x in leaves]


def check_load(path, state, count=None):
    """Load: a one-line AdagradError, or exactly the saved arrays with the expected count.

    ``count``: what the (edited) file says; by default the saved state's.
    """
    try:
        with alarm(5):
            back = load_state(path)
    except AdagradError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        event(str(e).split(": ", 1)[1][:40])  # which check caught it (--hypothesis-show-statistics)
        return "error"
    event("loaded, equal to the original")
    # Whatever loads must be exactly what was saved.
    assert bits(back) == bits(state) and back.count == (state.count if count is None else count)
    return "ok"


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_byte_mutations(original, tmp_path, mutations):
    data, state = original
    buf = bytearray(data)
    for kind, pos, val in mutations:
        pos %= max(len(buf), 1)
        if kind == "flip" and buf:
            buf[pos] ^= val
        elif kind == "set" and buf:
            buf[pos] = val
        elif kind == "cut":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = bytes([val])
    f = tmp_path / "m.npz"
    f.write_bytes(bytes(buf))
    check_load(f, state)


@FUZZ
@given(data=st.data())
def test_meta_json_mutations(original, tmp_path, data):
    raw, state = original
    src = tmp_path / "src.npz"
    src.write_bytes(raw)
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    meta = mutate_json(data, json.loads(members["meta.json"]))
    members["meta.json"] = json.dumps(meta).encode()
    f = tmp_path / "m.npz"
    with zipfile.ZipFile(f, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    # An edit that keeps the file valid (a new count, other hyperparameters) may load: the arrays must
    # still be the saved ones (their sha256 is checked) and the count the one the file now says.
    check_load(f, state, count=meta.get("count") if isinstance(meta, dict) else None)


ZIP_EDITS = ["compress", "repeat", "rename", "add", "reorder", "unknown field"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_archive_mutations(original, tmp_path, data):
    raw, state = original
    src = tmp_path / "src.npz"
    src.write_bytes(raw)
    with zipfile.ZipFile(src) as z:
        items = [(i.filename, z.read(i)) for i in z.infolist()]
    edit = data.draw(st.sampled_from(ZIP_EDITS))
    k = data.draw(st.integers(0, len(items) - 1))
    compressed = set()
    if edit == "compress":
        compressed.add(items[k][0])
    elif edit == "repeat":
        items.insert(data.draw(st.integers(0, len(items))), items[k])
    elif edit == "rename":
        names = ["leaf_9.npy", "../leaf_00000.npy", "meta.json", "x", "leaf_00000.npy"]
        items[k] = (data.draw(st.sampled_from([n for n in names if n != items[k][0]])), items[k][1])
    elif edit == "add":
        items.insert(
            data.draw(st.integers(0, len(items))), (data.draw(st.text(min_size=1, max_size=12)), b"{}")
        )
    elif edit == "reorder":
        items = data.draw(st.permutations(items))
    else:
        meta = json.loads(items[0][1])
        places = [meta, *meta["leaves"], meta["treedef"], *meta["treedef"]["children"]]
        place = data.draw(st.sampled_from([p for p in places if isinstance(p, dict)]))
        place[data.draw(st.sampled_from(["x", "path", "T", "name"]))] = data.draw(st.none() | st.integers())
        items[0] = ("meta.json", json.dumps(meta).encode())
    f = tmp_path / "m.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        with zipfile.ZipFile(f, "w") as z:
            for name, content in items:
                kind = zipfile.ZIP_DEFLATED if name in compressed else zipfile.ZIP_STORED
                z.writestr(zipfile.ZipInfo(name), content, compress_type=kind)
    outcome = check_load(f, state)
    if edit != "reorder":  # every other edit is a file save_state never writes: refused
        assert outcome == "error", edit


# ---------------------------------------------------------------- random trees round-trip

Pair = collections.namedtuple("Pair", ["class", "w"], rename=True)  # fields ('_0', 'w')


class Layer(NamedTuple):
    w: object
    b: object


DTYPES = [e + t for t in ("f4", "f8", "c8", "c16") for e in "<>"]


def random_array(dtype, shape, seed):
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(np.random.default_rng(seed).bytes(n), dtype).reshape(shape).copy()


arrays = st.builds(
    random_array, st.sampled_from(DTYPES), st.lists(st.integers(0, 3), max_size=3), st.integers(0, 2**32 - 1)
)
keys = st.text(max_size=4)
trees = st.recursive(
    arrays | st.none(),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.lists(kids, max_size=3).map(tuple)
        | st.dictionaries(keys, kids, max_size=3)
        | st.lists(st.tuples(keys, kids), max_size=3, unique_by=lambda kv: kv[0]).map(collections.OrderedDict)
        | st.builds(Pair, kids, kids)
        | st.builds(Layer, kids, kids)
    ),
    max_leaves=10,
)


def described(tree):
    """Bits of every leaf, and every container's type name, fields, keys in order."""
    leaves, spec = optree.tree_flatten(tree, none_is_leaf=True)
    shape = spec.walk(
        leaves,
        lambda t, d, c: (t.__name__, getattr(t, "_fields", ()), d if isinstance(d, list) else (), c),
        lambda x: None if x is None else (x.dtype.str, x.shape, x.tobytes()),
    )
    return repr(shape)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees, count=st.integers(0, 2**31 - 1))
def test_random_trees_round_trip_bit_for_bit(tmp_path, tree, count):
    f = tmp_path / "t.npz"
    state = AdagradState(tree, np.int32(count))
    save_state(f, state)
    back = load_state(f)
    assert described(back.sum_of_squares) == described(tree) and back.count == count
    mine = load_state(f, like=tree).sum_of_squares  # the caller's own classes
    assert optree.tree_structure(mine) == optree.tree_structure(tree)
    assert described(mine) == described(tree)
