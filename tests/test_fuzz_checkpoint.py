"""load_state fed thousands of mutated files: the one-line error or the right state, never anything else.

Mutations: bytes flipped, bytes overwritten, the file cut short, bytes inserted,
and meta.json rewritten with other JSON values in its fields (re-zipped with a
valid CRC, so that the checks behind the zip's own CRC are reached too). Each
load runs under a 5-second alarm: a hang fails the test.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import optree
import pytest
from fuzz_helpers import alarm, mutate_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adagrad_ref import AdagradError, adagrad
from adagrad_ref.checkpoint import load_state, save_state

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
