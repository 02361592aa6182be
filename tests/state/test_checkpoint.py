"""save_state / load_state: bit-exact, atomic, and loud about damaged files."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import zipfile
from typing import NamedTuple

import numpy as np
import optree
import pytest
from helpers.errors import one_line

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.state import checkpoint
from adagrad_ref.state.checkpoint import load_state, read_metadata, save_state


class Layer(NamedTuple):
    w: np.ndarray
    b: np.ndarray | None


def params_tree():
    nan_payload = np.array([0x7FC00123], np.uint32).view(np.float32)  # a NaN with a payload
    return {
        "layer": Layer(w=np.arange(6, dtype=np.float32).reshape(2, 3), b=None),
        "emb": [np.array(1.5, np.float64), np.zeros((0, 4), np.float64)],
        "z": np.array([1 + 2j, 3 - 1j], np.complex64),
        "odd": np.concatenate([nan_payload, np.float32([-0.0, np.inf])]),
    }


def raw_bytes(tree):
    """Every leaf's path, dtype (with byte order), shape and raw bytes; None leaves included."""
    paths, leaves, _ = optree.tree_flatten_with_path(tree, none_is_leaf=True)
    return [
        (p, None if x is None else (x.dtype.str, x.shape, x.tobytes()))
        for p, x in zip(paths, leaves, strict=True)
    ]


def test_round_trip_is_bit_exact_with_the_callers_classes(tmp_path):
    opt = adagrad(0.1)
    state = opt.init(params_tree())._replace(count=np.int32(7))
    state = state._replace(sum_of_squares={**state.sum_of_squares, "odd": params_tree()["odd"]})
    f = tmp_path / "s.npz"
    save_state(f, state, optimizer=opt)
    back = load_state(f, like=params_tree(), optimizer=opt)
    assert raw_bytes(back.sum_of_squares) == raw_bytes(state.sum_of_squares)
    assert back.count == 7 and back.count.dtype == np.int32
    assert type(back.sum_of_squares["layer"]) is Layer and back.sum_of_squares["layer"].b is None


def test_without_like_namedtuples_come_back_with_their_name_and_fields(tmp_path):
    opt = adagrad(0.1)
    state = opt.init(params_tree())
    save_state(tmp_path / "s.npz", state)
    back = load_state(tmp_path / "s.npz")
    layer = back.sum_of_squares["layer"]
    assert type(layer).__name__ == "Layer" and layer._fields == ("w", "b")
    assert raw_bytes(back.sum_of_squares) == raw_bytes(state.sum_of_squares)


def test_file_is_an_ordinary_npz(tmp_path):
    opt = adagrad(0.1)
    save_state(tmp_path / "s.npz", opt.init({"w": np.ones(3, np.float32)}))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        assert np.array_equal(z["leaf_00000"], np.full(3, np.float32(0.1)))
    meta = read_metadata(tmp_path / "s.npz")
    assert meta["format"] == "adagrad_ref.state" and meta["version"] == 2


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_resume_after_load_is_bit_identical_to_never_stopping(tmp_path, backend, rng):
    opt = adagrad(lambda c: 0.3 / (1 + c), initial_accumulator_value=0.05, backend=backend)
    params = {"w": rng.standard_normal((4, 5)).astype(np.float32), "b": rng.standard_normal(5)}
    grads = [
        {"w": rng.standard_normal((4, 5)).astype(np.float32), "b": rng.standard_normal(5)} for _ in range(12)
    ]

    def run(p, s, gs):
        for g in gs:
            u, s = opt.update(g, s)
            p = apply_updates(p, u)
        return p, s

    p_straight, s_straight = run(params, opt.init(params), grads)
    p_half, s_half = run(params, opt.init(params), grads[:6])
    save_state(tmp_path / "s.npz", s_half, optimizer=opt)
    p_resumed, s_resumed = run(p_half, load_state(tmp_path / "s.npz", like=params, optimizer=opt), grads[6:])
    assert raw_bytes(p_resumed) == raw_bytes(p_straight)
    assert raw_bytes(s_resumed.sum_of_squares) == raw_bytes(s_straight.sum_of_squares)
    assert s_resumed.count == s_straight.count == 12


def test_full_disk_mid_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    opt = adagrad(0.1)
    target = tmp_path / "s.npz"
    old = opt.init({"a": np.ones(1000, np.float32), "b": np.ones(1000, np.float32)})
    save_state(target, old)
    before = target.read_bytes()

    real_write = np.lib.format.write_array
    calls = []

    def failing_write(fp, array, **kw):
        calls.append(1)
        if len(calls) == 2:  # the first leaf is written, then the disk is full
            fp.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    new = old._replace(count=np.int32(5))
    with one_line(rf"^{re.escape(str(target))}: cannot save the state \(No space left on device\)$"):
        save_state(target, new)
    assert len(calls) == 2
    assert target.read_bytes() == before  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]  # no temporary file left behind
    assert load_state(target).count == 0


CRASH = """
import os, sys, numpy as np
from adagrad_ref import adagrad
from adagrad_ref.state import checkpoint
real = np.lib.format.write_array
def crash(fp, a, **kw):
    real(fp, a[: a.size // 2], **kw)
    os._exit(3)  # the process dies mid-write: no cleanup, no exception handler runs
np.lib.format.write_array = crash
opt = adagrad(0.1)
state = opt.init({"w": np.ones(1000, np.float32)})._replace(count=np.int32(9))
checkpoint.save_state(sys.argv[1], state)
"""


def test_crash_mid_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "s.npz"
    opt = adagrad(0.1)
    save_state(target, opt.init({"w": np.ones(1000, np.float32)}))
    before = target.read_bytes()
    out = subprocess.run([sys.executable, "-c", CRASH, str(target)], capture_output=True)
    assert out.returncode == 3
    assert target.read_bytes() == before
    assert load_state(target).count == 0
    leftovers = [p for p in tmp_path.iterdir() if p.name != "s.npz"]
    assert leftovers and all(p.name.startswith(".s.npz.") for p in leftovers)  # the half-written temp file


def rewrite(src, dst, edit_member):
    """Copy a zip, passing each member's bytes through edit_member(name, data) -> data or None (drop)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit_member(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)


def edit_meta(fn):
    def edit(name, data):
        if name != "meta.json":
            return data
        meta = json.loads(data)
        fn(meta)
        return json.dumps(meta).encode()

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (edit_meta(lambda m: m.update(version=3)), r"meta.version is 3; this reader reads version 2$"),
        (
            edit_meta(lambda m: m.update(version=1)),
            r"meta.version is 1; this reader reads version 2 \(version 1 files: load with adagrad_ref 0.1 "
            r"and save again\)$",
        ),
        (edit_meta(lambda m: m.update(format="other")), r"meta.format is 'other'"),
        (edit_meta(lambda m: m.update(count=-1)), r"meta.count must be an integer"),
        (edit_meta(lambda m: m.pop("treedef")), r"meta.treedef is missing"),
        (
            edit_meta(lambda m: m["leaves"][0].update(dtype="int8")),
            r"meta.leaves\[0\].dtype: expected one of",
        ),
        (edit_meta(lambda m: m["leaves"][1].update(shape=[65])), r"leaf_00001.npy holds float32 \(64,\)"),
        (edit_meta(lambda m: m["leaves"].pop()), r"meta.leaves has 1 entries, the tree has 2 arrays"),
        (
            edit_meta(lambda m: m["treedef"].update(t="set")),
            r"meta.treedef.t: unknown kind 'set'; expected one",
        ),
        (lambda n, d: None if n == "leaf_00001.npy" else d, r"missing member 'leaf_00001.npy'"),
        (
            lambda n, d: d[:-4] if n == "leaf_00001.npy" else d,
            r"leaf_00001.npy has 252 bytes of data, expected 256",
        ),
        (
            lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n == "leaf_00001.npy" else d,
            r"leaf_00001.npy does not match meta.leaves\[1\].sha256",
        ),
        (lambda n, d: b"{not json" if n == "meta.json" else d, r"meta.json is not valid JSON"),
        (
            lambda n, d: d.replace(b"0.1", b"NaN") if n == "meta.json" else d,
            r"meta.json has NaN, which is not JSON",
        ),
    ],
)
def test_damaged_file_gets_one_line_naming_file_and_field(saved, tmp_path, edit, match):
    bad = tmp_path / "bad.npz"
    rewrite(saved, bad, edit)
    with one_line(match) as info:
        load_state(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


@pytest.mark.parametrize("cut", [0, 10, 100, -10])
def test_truncated_file(saved, tmp_path, cut):
    data = saved.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[:cut])
    with one_line(r"cut.npz: "):
        load_state(bad)


def test_missing_file_and_wrong_optimizer(saved, tmp_path):
    with one_line(r"nope.npz: cannot open"):
        load_state(tmp_path / "nope.npz")
    with one_line(r"hyperparameters.eps is 1e-07 in the file, 1e-08 in the optimizer"):
        load_state(saved, optimizer=adagrad(0.1, eps=1e-8))
    with one_line(r"the saved tree does not have the structure of `like`"):
        load_state(saved, like={"w": np.ones(64, np.float32)})


def test_save_refuses_what_it_cannot_write(tmp_path):
    with one_line(r"save_state: state must be an AdagradState, got dict"):
        save_state(tmp_path / "x.npz", {"w": np.ones(2)})
    opt = adagrad(0.1)
    with one_line(r"cannot save a dict key of type int"):
        save_state(tmp_path / "x.npz", opt.init({1: np.ones(2)}))
    assert not list(tmp_path.iterdir())


def test_module_constants_are_the_documented_ones():
    assert checkpoint.FORMAT == "adagrad_ref.state" and checkpoint.VERSION == 2
    assert os.path.basename(checkpoint.__file__) == "checkpoint.py"
