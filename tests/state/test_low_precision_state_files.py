"""bfloat16 and float16 state in state files: every bit pattern comes back as saved (the sign of zero
and NaN payloads included), in its dtype, with ``like`` and ``optimizer`` checks as for float32; a run
resumed from a file continues bit for bit; a file whose bfloat16 member is not its bits is refused."""

from __future__ import annotations

import json
import zipfile

import ml_dtypes
import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad, apply_updates
from adagrad_ref.state.checkpoint import load_state, read_metadata, save_state

BF16 = np.dtype(ml_dtypes.bfloat16)


def every_pattern(dt, shape=(256, 256)):
    return np.arange(2**16, dtype=np.uint16).view(dt).reshape(shape)


def same_bits(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_every_bit_pattern_round_trips(tmp_path):
    tree = {
        "bf": every_pattern(BF16),
        "h": every_pattern(np.float16),
        "bf0": np.asarray(np.float32(-0.0)).astype(BF16),
        "h0": np.asarray(np.float16(np.nan)),
        "empty": np.zeros((0, 3), BF16),
        "f": np.ones(3, np.float32),
    }
    opt = adagrad(0.1)
    state = opt.init(tree)._replace(sum_of_squares=tree)
    path = tmp_path / "s.npz"
    save_state(path, state, opt)
    labels = [leaf["dtype"] for leaf in read_metadata(path)["leaves"]]
    assert labels == ["bfloat16", "bfloat16", "bfloat16", "<f4", "<f2", "<f2"]  # keys sorted
    for back in (load_state(path), load_state(path, like=tree, optimizer=opt)):
        for k, v in tree.items():
            assert same_bits(back.sum_of_squares[k], v), k
    # numpy.load opens the file: a bfloat16 leaf is its bit patterns as little-endian uint16.
    with np.load(path) as z:
        assert z["leaf_00000"].dtype == np.dtype("<u2")
        assert np.array_equal(z["leaf_00000"], tree["bf"].view(np.uint16))


def test_like_must_have_the_saved_dtype(tmp_path):
    tree = {"w": np.ones(4, BF16)}
    save_state(tmp_path / "s.npz", adagrad(0.1).init(tree))
    for other in (np.float16, np.float32):
        with pytest.raises(AdagradError, match=r"the file holds bfloat16 \(4,\) where like\['w'\] is "):
            load_state(tmp_path / "s.npz", like={"w": np.ones(4, other)})


@pytest.mark.parametrize("dt", [BF16, np.dtype(np.float16)], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_resumed_run_continues_bit_for_bit(tmp_path, dt, backend):
    rng = np.random.default_rng(11)
    params = {"w": rng.standard_normal(1000).astype(dt), "b": rng.standard_normal(7).astype(dt)}
    grads = [{k: rng.standard_normal(v.shape).astype(dt) for k, v in params.items()} for _ in range(6)]
    opt = adagrad(0.05, backend=backend)

    def run(p, s, gs):
        for g in gs:
            u, s = opt.update(g, s)
            p = apply_updates(p, u)
        return p, s

    p_all, s_all = run(params, opt.init(params), grads)
    p_half, s_half = run(params, opt.init(params), grads[:3])
    save_state(tmp_path / "s.npz", s_half, opt)
    s_back = load_state(tmp_path / "s.npz", like=params, optimizer=opt)
    p_end, s_end = run(p_half, s_back, grads[3:])
    assert int(s_end.count) == int(s_all.count) == 6
    for k in params:
        assert same_bits(p_end[k], p_all[k]) and same_bits(s_end.sum_of_squares[k], s_all.sum_of_squares[k])


def _rewrite(path, out, meta_change=None, member_array=None):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["meta.json"])
    if meta_change:
        meta_change(meta)
    members["meta.json"] = json.dumps(meta).encode()
    if member_array is not None:
        import io

        buf = io.BytesIO()
        np.lib.format.write_array(buf, member_array)
        members["leaf_00000.npy"] = buf.getvalue()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n, b in members.items():
            z.writestr(n, b)


def test_a_bfloat16_leaf_that_is_not_its_bits_is_refused_in_one_line(tmp_path):
    tree = {"w": np.arange(8, dtype=np.float32).astype(BF16)}
    save_state(tmp_path / "s.npz", adagrad(0.1).init(tree)._replace(sum_of_squares=tree))
    # meta says bfloat16, the member holds float16 (same size, other bits)
    _rewrite(tmp_path / "s.npz", tmp_path / "a.npz", member_array=tree["w"].astype(np.float16))
    with pytest.raises(
        AdagradError, match=r"leaf_00000\.npy holds float16 \(8,\), meta\.leaves\[0\] says uint16"
    ) as e:
        load_state(tmp_path / "a.npz")
    assert "\n" not in str(e.value)
    # a dtype label that is no dtype of the format
    _rewrite(tmp_path / "s.npz", tmp_path / "b.npz", lambda m: m["leaves"][0].update(dtype="<V2"))
    with pytest.raises(
        AdagradError, match=r"meta\.leaves\[0\]\.dtype: expected one of .*'bfloat16'.*got '<V2'"
    ):
        load_state(tmp_path / "b.npz")
