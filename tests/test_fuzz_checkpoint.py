"""load_state fed thousands of mutated files: the one-line error or the right state, never anything else.

Mutations: bytes flipped, bytes overwritten, the file cut short, bytes inserted,
and meta.json rewritten with other JSON values in its fields (re-zipped with a
valid CRC, so that the checks behind the zip's own CRC are reached too). Each
load runs under a 5-second alarm: a hang fails the test.
"""

from __future__ import annotations

import json
import signal
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adagrad_ref import AdagradError, adagrad
from adagrad_ref.checkpoint import load_state, save_state
from adagrad_ref.tree import flatten_with_path

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def alarm(seconds: float):
    def on_alarm(signum, frame):
        raise TimeoutError(f"load_state took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    opt = adagrad(0.1)
    params = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": [np.ones(2), None], "s": np.array(2.0)}
    state = opt.init(params)._replace(count=np.int32(3))
    f = tmp_path_factory.mktemp("orig") / "s.npz"
    save_state(f, state, optimizer=opt)
    return f.read_bytes(), state


def bits(state):
    return [None if x is None else x.tobytes() for _, x in flatten_with_path(state.sum_of_squares)[0]]


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


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def meta_paths(meta, prefix=()):
    """Every place in the meta JSON that a value can be put."""
    yield prefix
    if isinstance(meta, dict):
        for k, v in meta.items():
            yield from meta_paths(v, (*prefix, k))
    elif isinstance(meta, list):
        for i, v in enumerate(meta):
            yield from meta_paths(v, (*prefix, i))


@FUZZ
@given(data=st.data())
def test_meta_json_mutations(original, tmp_path, data):
    raw, state = original
    src = tmp_path / "src.npz"
    src.write_bytes(raw)
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    meta = json.loads(members["meta.json"])
    paths = list(meta_paths(meta))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        value = data.draw(json_values)
        if not path:
            meta = value
            break
        node = meta
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    members["meta.json"] = json.dumps(meta).encode()
    f = tmp_path / "m.npz"
    with zipfile.ZipFile(f, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    # An edit that keeps the file valid (a new count, other hyperparameters) may load: the arrays must
    # still be the saved ones (their sha256 is checked) and the count the one the file now says.
    check_load(f, state, count=meta.get("count") if isinstance(meta, dict) else None)
