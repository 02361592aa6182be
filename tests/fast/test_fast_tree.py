"""The Numba backend's whole-tree path (adagrad_ref/fast/tree.py): the reference's bits, fresh outputs.

``solver.update`` with ``backend="numba"`` runs every float32/float64 leaf in one compiled call per
dtype, writing into pooled flat buffers, and ``apply_updates`` does the same once that module is
loaded. Checked here: the bits of the NumPy reference on the same trees (NaN, Inf, zeros, the
``G = 0`` guard, mixed dtypes, odd layouts), on one core and on all cores; every output fresh
(sharing no memory with an input or with any array alive before the call); the input state
untouched; and a pooled buffer never handed out while any array still refers to it.
"""

from __future__ import annotations

import gc
import re
import time

import ml_dtypes
import numpy as np
import pytest
from conftest import random_floats

from adagrad_ref import AdagradError, adagrad, apply_updates, backends
from adagrad_ref.fast import tree
from adagrad_ref.numerics.ulp import same_bits
from adagrad_ref.reference import update_leaf


def _bits_equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "V":  # bfloat16: compare the raw bits
        return np.array_equal(a.view(np.uint16), b.view(np.uint16))
    return bool(same_bits(a, b))


def _leaves(t) -> list:
    import optree

    return optree.tree_leaves(t, namespace="adagrad_ref")


def _tree(rng, with_edges=True):
    """Mixed leaves: float32 and float64 of several shapes (0-d, empty, 2-D, one large enough to be
    split into pieces on all cores), a non-contiguous one, complex64 and bfloat16, and None."""
    big = tree._CHUNK * 2 + 17
    params = {
        "a": random_floats(rng, 1000, np.float32, with_edges).reshape(10, 100),
        "b": random_floats(rng, 1, np.float64, with_edges).reshape(()),
        "c": np.zeros((0, 3), np.float32),
        "d": random_floats(rng, big, np.float32, with_edges),
        "e": [random_floats(rng, 333, np.float64, with_edges), None],
        "f": (
            random_floats(rng, 50, np.float32, False) + 1j * random_floats(rng, 50, np.float32, False)
        ).astype(np.complex64),
        "h": random_floats(rng, 40, np.float32, False).astype(ml_dtypes.bfloat16),
    }
    return params


def _grads_like(rng, params, with_edges=True):
    def one(p):
        if p.dtype == np.complex64:
            return (random_floats(rng, p.size, np.float32, False) * (1 + 1j)).astype(p.dtype).reshape(p.shape)
        if p.dtype.kind == "V":
            return random_floats(rng, p.size, np.float32, False).astype(p.dtype).reshape(p.shape)
        g = random_floats(rng, p.size, p.dtype, with_edges).reshape(p.shape)
        if g.size > 20:
            g.reshape(-1)[:10] = 0  # with G = 0 below: the guard
        return g

    import optree

    return optree.tree_map(one, params, namespace="adagrad_ref")


@pytest.fixture(params=[None, False, True], ids=["measured", "one core", "all cores"])
def parallel(request):
    tree.set_parallel(request.param)
    yield request.param
    tree.set_parallel(None)


def _numpy_apply(monkeypatch):
    """apply_updates on NumPy's path (as in a process where no Numba step ran)."""

    def run(p, u):
        with monkeypatch.context() as m:
            m.setattr(backends, "compiled_apply", lambda: None)
            return apply_updates(p, u)

    return run


@pytest.fixture(params=[0, 1 << 62], ids=["streamed stores", "plain stores"])
def stream_from(request, monkeypatch):
    """Every call of the compiled path with streaming (non-temporal) stores, or none: both the
    reference's bits (the trees here are below tree.STREAM_FROM_BYTES, so 0 forces the streamed path)."""
    monkeypatch.setattr(tree, "STREAM_FROM_BYTES", request.param)
    return request.param


@pytest.mark.parametrize("iav, lr, eps", [(0.1, 0.01, 1e-7), (0.0, 1.0, 0.0), (0.0, 3.7, 1e-7)])
def test_three_steps_give_the_numpy_reference_s_bits(rng, monkeypatch, parallel, stream_from, iav, lr, eps):
    params = _tree(rng)
    ref, fast = adagrad(lr, iav, eps), adagrad(lr, iav, eps, backend="numba")
    s_ref, s_fast = ref.init(params), fast.init(params)
    p_ref = p_fast = params
    numpy_apply = _numpy_apply(monkeypatch)
    saw_nan = saw_guard = False
    for _ in range(3):
        grads = _grads_like(rng, params)
        u_ref, s_ref = ref.update(grads, s_ref)
        u_fast, s_fast = fast.update(grads, s_fast)
        p_ref, p_fast = numpy_apply(p_ref, u_ref), apply_updates(p_fast, u_fast)
        for what, a, b in (
            ("updates", u_fast, u_ref),
            ("sums", s_fast.sum_of_squares, s_ref.sum_of_squares),
            ("params", p_fast, p_ref),
        ):
            la, lb = _leaves(a), _leaves(b)
            assert len(la) == len(lb) == 7, what
            for x, y in zip(la, lb, strict=True):
                assert _bits_equal(x, y), what
        saw_nan |= bool(np.isnan(u_ref["a"]).any())
        saw_guard |= bool((u_ref["d"] == 0).any())
        assert int(s_fast.count) == int(s_ref.count)
    assert saw_nan and saw_guard  # the data reached the special cases
    # None stays None, in the same places; dict keys come back sorted, as from the reference
    assert u_fast["e"][1] is None and p_fast["e"][1] is None and list(u_fast) == list(u_ref)


def test_the_compiled_leaves_are_views_of_one_buffer_per_dtype(rng):
    params = _tree(rng, with_edges=False)
    solver = adagrad(0.1, backend="numba")
    updates, state = solver.update(_grads_like(rng, params, False), solver.init(params))
    f32 = [updates["a"], updates["c"], updates["d"]]
    assert all(u.base is f32[0].base and u.base is not None for u in f32)
    assert updates["b"].base is updates["e"][0].base is not f32[0].base  # float64: its own buffer
    assert state.sum_of_squares["a"].base is not f32[0].base  # the sums: a buffer of their own
    assert f32[0].base.size == sum(u.size for u in f32)


def _all_arrays(*trees_) -> list[np.ndarray]:
    return [x for t in trees_ for x in _leaves(t) if isinstance(x, np.ndarray)]


def test_outputs_are_fresh_and_the_input_state_is_untouched(rng, parallel):
    params = _tree(rng, with_edges=False)
    solver = adagrad(0.1, backend="numba")
    state = solver.init(params)
    for _ in range(4):  # steps that hand pooled buffers out again
        grads = _grads_like(rng, params, False)
        before = [x.copy() for x in _all_arrays(state.sum_of_squares, grads, params)]
        updates, new_state = solver.update(grads, state)
        new_params = apply_updates(params, updates)
        inputs = _all_arrays(state.sum_of_squares, grads, params)
        for x, saved in zip(inputs, before, strict=True):
            assert _bits_equal(x, saved)  # nothing written into an input
        for out in _all_arrays(updates, new_state.sum_of_squares, new_params):
            assert not any(np.shares_memory(out, x) for x in inputs if x.size and out.size)
        assert not any(
            np.shares_memory(a, b) for a in _all_arrays(new_params) for b in _all_arrays(updates) if a.size
        )
        state, params = new_state, new_params


def test_a_held_output_is_never_overwritten_by_later_steps(rng, parallel):
    params = {"w": rng.standard_normal((64, 33)).astype(np.float32), "v": rng.standard_normal(700)}
    solver = adagrad(0.1, backend="numba")
    state = solver.init(params)
    updates, state = solver.update(params, state)
    held = updates["w"]  # one leaf kept: its whole buffer must stay out of the pool
    held_view = updates["v"][3:9]  # a view of a view
    saved, saved_view = held.copy(), held_view.copy()
    held_sums = state.sum_of_squares["w"]
    saved_sums = held_sums.copy()
    del updates
    gc.collect()
    p = params
    for _ in range(3 * tree.BufferPool.PER_SIZE):  # more steps than the pool keeps buffers
        grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
        u, state = solver.update(grads, state)
        p = apply_updates(p, u)
        for out in _all_arrays(u, state.sum_of_squares, p):
            assert not np.shares_memory(out, held) and not np.shares_memory(out, held_view)
            assert not np.shares_memory(out, held_sums)
    assert _bits_equal(held, saved) and _bits_equal(held_view, saved_view)
    assert _bits_equal(held_sums, saved_sums)


def test_the_pool_reuses_freed_buffers_and_clear_forgets_them():
    pool = tree.BufferPool()
    a = pool.take(np.float32, 1000)
    view = a[10:20]
    del a
    b = pool.take(np.float32, 1000)
    assert not np.shares_memory(b, view)  # the first is still referred to through its view
    address = b.__array_interface__["data"][0]
    del b
    c = pool.take(np.float32, 1000)
    assert c.__array_interface__["data"][0] == address  # freed: handed out again (no page faults)
    held = [c, *(pool.take(np.float32, 1000) for _ in range(tree.BufferPool.PER_SIZE + 3))]
    assert len({x.__array_interface__["data"][0] for x in held}) == len(held)  # all distinct
    assert len(pool) == tree.BufferPool.PER_SIZE
    for n in range(tree.BufferPool.SIZES + 4):
        pool.take(np.float64, 10 + n)
    assert len(pool) <= tree.BufferPool.PER_SIZE * tree.BufferPool.SIZES
    pool.clear()
    assert len(pool) == 0 and held[0][:0].size == 0  # the held arrays live on


def test_the_default_pool_can_be_cleared_between_steps(rng):
    solver = adagrad(0.1, backend="numba")
    params = {"w": rng.standard_normal(100).astype(np.float32)}
    state = solver.init(params)
    u1, state = solver.update(params, state)
    tree.POOL.clear()
    u2, state = solver.update(params, state)
    assert not np.shares_memory(u1["w"], u2["w"]) and len(tree.POOL) >= 1


def test_the_dispatch_measures_then_runs_the_faster():
    dispatch = tree.Dispatch(tree.SERIAL_BELOW_BYTES)
    ran: list[str] = []

    def slow() -> None:
        ran.append("one")
        time.sleep(0.02)

    def fast() -> None:
        ran.append("all")

    key, nbytes = ("update", "<f4", (10**6,)), 4 * 10**6
    for _ in range(1 + tree.Dispatch.TRIALS):  # the warm-up call (both run) and the trials
        dispatch.run(key, nbytes, slow, fast)
    assert ran[:2] == ["one", "all"]
    assert ran.count("one") == ran.count("all") == 1 + tree.Dispatch.TRIALS // 2
    assert dispatch.choice(key) is True
    ran.clear()
    for _ in range(5):
        dispatch.run(key, nbytes, slow, fast)
    assert ran == ["all"] * 5
    ran.clear()
    dispatch.run(("update", "<f4", (10,)), 40, slow, fast)  # too small to start threads for
    assert ran == ["one"]
    dispatch.force(True)
    dispatch.run(("update", "<f4", (10,)), 40, slow, fast)
    assert ran == ["one", "all"]


def test_non_contiguous_and_big_endian_leaves_give_the_same_bits(rng):
    base = rng.standard_normal((40, 30))
    grads = {"t": base.T, "s": base[:, ::3].astype(">f8"), "f": base[::2].astype(np.float32)}
    params = {k: np.ascontiguousarray(v, dtype=np.dtype(v.dtype).newbyteorder("=")) for k, v in grads.items()}
    ref, fast = adagrad(0.3), adagrad(0.3, backend="numba")
    u_ref, s_ref = ref.update(grads, ref.init(params))
    u_fast, s_fast = fast.update(grads, fast.init(params))
    for a, b in zip(
        _leaves((u_fast, s_fast.sum_of_squares)), _leaves((u_ref, s_ref.sum_of_squares)), strict=True
    ):
        assert _bits_equal(a, b)
    mixed = apply_updates({"x": np.ones(3, np.float32)}, {"x": np.full(3, 0.1)})  # float64 update
    assert mixed["x"].dtype == np.float32
    assert _bits_equal(mixed["x"], (np.ones(3, np.float32) + np.full(3, 0.1)).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_a_tree_of_one_dtype_gives_the_numpy_reference_s_bits(rng, monkeypatch, dtype):
    """A model's tree is mostly of one dtype: its leaves are grouped, made contiguous and checked in bulk
    (tree._groups, tree._contiguous, validation._all_plain), not one Python call per leaf. The same bits
    as the reference, with a non-contiguous leaf among them (copied) and without."""
    shapes = [(3, 5), (7,), (), (0,), (tree._CHUNK + 3,), (4, 6)]

    complex_ = np.dtype(dtype).kind == "c"
    real = np.float64 if dtype == np.float64 else np.float32

    def make():
        out = [random_floats(rng, int(np.prod(s)), real, not complex_).reshape(s) for s in shapes]
        return [(a + 1j * a if complex_ else a).astype(dtype) for a in out]

    params = dict(zip("abcdef", make(), strict=True))
    for fortran in (False, True):
        grads = dict(zip("abcdef", make(), strict=True))
        if fortran:  # a Fortran-ordered leaf: not C-contiguous, copied
            grads["f"] = np.asfortranarray(grads["f"])
            assert not grads["f"].flags.c_contiguous
        ref, fast = adagrad(0.3), adagrad(0.3, backend="numba")
        u_ref, s_ref = ref.update(grads, ref.init(params))
        u_fast, s_fast = fast.update(grads, fast.init(params))
        for a, b in zip(_leaves((u_fast, s_fast)), _leaves((u_ref, s_ref)), strict=True):
            assert _bits_equal(a, b)
        w_fast = apply_updates(params, u_fast)
        w_ref = _numpy_apply(monkeypatch)(params, u_ref)
        for a, b in zip(_leaves(w_fast), _leaves(w_ref), strict=True):
            assert _bits_equal(a, b)


def test_the_data_addresses_read_in_bulk_are_numpy_s():
    """tree._addresses reads each array's data pointer in one compiled loop; it must be NumPy's own for
    every kind of array a step hands it (views at an offset, 0-d, empty, a subclass, read-only)."""
    base = np.arange(60.0)
    ro = base[5:].copy()
    ro.flags.writeable = False
    arrays = [base, base[7:], base.reshape(6, 10)[2:], np.float32(2) * base, np.empty(0), np.asarray(3.0), ro]
    arrays.append(np.ndarray.view(base[11:], np.memmap))
    want = [a.__array_interface__["data"][0] for a in arrays]
    assert tree._addresses is tree._addresses_by_id  # the fast reading was validated at import here
    assert tree._addresses(arrays).tolist() == want
    assert tree._addresses_by_interface(arrays).tolist() == want


@pytest.mark.parametrize("order", [("f", "c"), ("c", "f")], ids=["float32 first", "complex64 first"])
@pytest.mark.parametrize("bad", [{"learning_rate": 1e39}, {"learning_rate": 0.1, "eps": 1e39}])
def test_a_refused_hyperparameter_names_the_first_leaf_s_dtype_as_the_reference_does(order, bad):
    """The compiled groups and the per-leaf leaves are checked in leaf order, as the NumPy reference steps
    them: the refusal names the dtype of the first leaf that refuses the value (the complex leaves once
    came first, whatever their place)."""
    from adagrad_ref import AdagradError, AdagradState

    dtypes = {"f": np.float32, "c": np.complex64}
    leaves = {f"{k}{name}": np.ones(3, dtypes[name]) for k, name in enumerate(order)}
    state = AdagradState({k: v.copy() for k, v in leaves.items()}, np.int32(0))
    said = []
    for backend in ("numpy", "numba"):
        with pytest.raises(AdagradError) as refused:
            adagrad(**bad, backend=backend).update(leaves, state)
        said.append(str(refused.value))
    assert said[0] == said[1] and np.dtype(dtypes[order[0]]).name in said[1]


# ---------------------------------------------------------------- solver.step: update and apply_updates fused


def _copy_tree(t):
    import optree

    return optree.tree_map(lambda x: x.copy(), t, namespace="adagrad_ref")


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("donate", [False, True], ids=["fresh", "donated"])
def test_step_gives_the_bits_of_update_then_apply_updates(
    rng, monkeypatch, parallel, stream_from, backend, donate
):
    """``solver.step(params, grads, state)``: the NumPy reference's update then apply_updates, bit for bit,
    over three steps of the mixed tree (NaN, Inf, the G = 0 guard, complex, bfloat16, None); fresh
    outputs and the inputs untouched, or (``donate=True``) the new values written into the very arrays
    of params and state, which are returned."""
    params = _tree(rng)
    ref, solver = adagrad(0.7), adagrad(0.7, backend=backend)
    s_ref = ref.init(params)
    p, s = _copy_tree(params), solver.init(params)
    numpy_apply = _numpy_apply(monkeypatch)
    for _ in range(3):
        grads = _grads_like(rng, params)
        u_ref, s_ref = ref.update(grads, s_ref)
        params = numpy_apply(params, u_ref)
        inputs = _all_arrays(p, grads, s.sum_of_squares)
        before = [x.copy() for x in inputs]
        new_p, new_s = solver.step(p, grads, s, donate=donate)
        for what, a, b in (("params", new_p, params), ("sums", new_s.sum_of_squares, s_ref.sum_of_squares)):
            la, lb = _leaves(a), _leaves(b)
            assert len(la) == len(lb) == 7, what
            assert all(_bits_equal(x, y) for x, y in zip(la, lb, strict=True)), what
        assert int(new_s.count) == int(s_ref.count)
        outputs = _all_arrays(new_p, new_s.sum_of_squares)
        if donate:  # the same arrays, holding the new values
            assert all(o is x for o, x in zip(outputs, _all_arrays(p, s.sum_of_squares), strict=True))
        else:
            assert all(_bits_equal(x, saved) for x, saved in zip(inputs, before, strict=True))
            assert not any(np.shares_memory(o, x) for o in outputs for x in inputs if o.size and x.size)
        p, s = new_p, new_s
    assert new_p["e"][1] is None and list(new_p) == list(params)


def test_step_with_the_numba_backend_keeps_the_update_in_a_register(rng):
    """The fused pass writes two output buffers per dtype (params and sums), not three: no updates tree."""
    params = {"w": rng.standard_normal((64, 33)).astype(np.float32), "v": rng.standard_normal(70)}
    solver = adagrad(0.1, backend="numba")
    tree.POOL.clear()
    new_p, new_s = solver.step(params, _copy_tree(params), solver.init(params))
    assert len(tree.POOL) == 4  # float32 and float64: params and sums each
    assert new_p["w"].base is not None and new_p["w"].base is not new_s.sum_of_squares["w"].base


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_donated_step_refuses_what_it_cannot_write_and_writes_nothing(rng, backend):
    """donate=True: read-only, non-contiguous and overlapping arrays are refused, naming them, before
    anything is written; a refusal that comes while stepping (a learning rate that overflows float16)
    leaves every array as it was too."""
    solver = adagrad(0.1, backend=backend)
    params = {"a": rng.standard_normal((30, 7)).astype(np.float32), "b": rng.standard_normal(5)}
    grads = _copy_tree(params)
    state = solver.init(params)
    read_only = params["b"].copy()
    read_only.flags.writeable = False
    big = np.zeros(1000, np.float32)
    cases = {
        "params['b'] is read-only": ({**params, "b": read_only}, grads, state),
        "params['a'] is not C-contiguous": ({**params, "a": np.asfortranarray(params["a"])}, grads, state),
        "params['a'] and grads['a'] share memory": ({**params, "a": grads["a"]}, grads, state),
        "params['a'] and state.sum_of_squares['a'] share memory": (
            {**params, "a": state.sum_of_squares["a"]}, grads, state,
        ),
        "params['a'] and state.sum_of_squares['a'] share memory; ": (  # overlapping views of one buffer
            {**params, "a": big[:210].reshape(30, 7)},
            grads,
            state._replace(sum_of_squares={**state.sum_of_squares, "a": big[190:400].reshape(30, 7)}),
        ),
        "params['b'] is dtype >f8 (big-endian); step(..., donate=True) writes only into the arrays given": (
            {**params, "b": params["b"].astype(">f8")}, grads, state,
        ),
        "params['b'] is a NumPy scalar (float64: immutable)": (
            {**params, "b": np.float64(1.0)}, {**grads, "b": np.ones((), np.float64)},
            state._replace(sum_of_squares={**state.sum_of_squares, "b": np.full((), 0.1)}),
        ),
        "state.sum_of_squares['a'] is a memmap": (  # a subclass: the checks hand the kernel a plain view of it
            params,
            grads,
            state._replace(
                sum_of_squares={**state.sum_of_squares, "a": np.full((30, 7), 0.1, np.float32).view(np.memmap)}
            ),
        ),
        # a sum inside the reach of a strided (non-contiguous) grads leaf of another key
        "state.sum_of_squares['b'] and grads['a'] share memory": (
            params,
            {**grads, "a": big[::4][:210].reshape(30, 7)},
            state._replace(sum_of_squares={**state.sum_of_squares, "b": big[500:510].view(np.float64)}),
        ),
    }  # fmt: skip
    for expected, (p, g, s) in cases.items():
        before = [x.copy() for x in _all_arrays(p, s.sum_of_squares)]
        with pytest.raises(AdagradError, match=re.escape(expected)):
            solver.step(p, g, s, donate=True)
        assert all(_bits_equal(x, y) for x, y in zip(_all_arrays(p, s.sum_of_squares), before, strict=True))
    mixed = {"c": (rng.standard_normal(4) + 1j).astype(np.complex64), "h": np.ones(3, np.float16), **params}
    big_lr = adagrad(lambda count: 1e5, backend=backend)  # at the step: 1e5 overflows float16 (largest 65504)
    s = big_lr.init(mixed)
    before = [x.copy() for x in _all_arrays(mixed, s.sum_of_squares)]
    with pytest.raises(AdagradError, match=r"^learning_rate .*float16"):
        big_lr.step(mixed, _copy_tree(mixed), s, donate=True)
    assert all(_bits_equal(x, y) for x, y in zip(_all_arrays(mixed, s.sum_of_squares), before, strict=True))


def test_step_names_a_misplaced_argument():
    solver = adagrad(0.1, backend="numba")
    params = {"w": np.ones(3, np.float32)}
    state = solver.init(params)
    with pytest.raises(AdagradError, match=r"^step\(params, grads, state\): params is None"):
        solver.step(None, params, state)
    for args in ((params, state, params), (state, params, state)):
        with pytest.raises(
            AdagradError, match=r"^step\(params, grads, state\): state must be the AdagradState"
        ):
            solver.step(*args)
    with pytest.raises(
        AdagradError, match=r"^params\['w'\] is float32 \(2,\); expected float32 \(3,\) as grads$"
    ):
        solver.step({"w": np.ones(2, np.float32)}, params, state)


@pytest.mark.parametrize(
    "dtype, bits, p_nan, g_nan",
    [
        (np.float32, np.uint32, 0xFFC00005, 0x7FC00003),  # -NaN with payload 5, +NaN with payload 3
        (np.float64, np.uint64, 0xFFF8000000000005, 0x7FF8000000000003),
    ],
)
@pytest.mark.parametrize("donate", [False, True], ids=["fresh", "donated"])
def test_step_keeps_the_param_s_nan_where_param_and_update_are_both_nan(
    rng, parallel, stream_from, dtype, bits, p_nan, g_nan, donate
):
    """Raw bits, NaN payloads included (the other tests count any NaN equal to any NaN): where the param
    and its update are both NaN, the compiled apply_updates keeps the param's NaN at every element (NumPy's
    own ``p + u`` does so in its vector loop, not in its scalar tail); the fused step
    computes u in a register, and an addition LLVM may commute kept u's NaN instead."""
    n = tree._CHUNK + 77
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    p.view(bits)[rng.random(n) < 0.5] = p_nan
    g.view(bits)[rng.random(n) < 0.5] = g_nan
    solver = adagrad(1.0, 0.0, 0.0, backend="numba")
    state = solver.init({"w": p})
    updates, _ = solver.update({"w": g}, state)
    expected = apply_updates({"w": p}, updates)["w"].view(bits)  # the two calls, on the compiled path
    both = np.isnan(p) & np.isnan(updates["w"])
    assert both.sum() > 1000 and not np.array_equal(p.view(bits)[both], updates["w"].view(bits)[both])
    assert np.array_equal(expected[both], p.view(bits)[both])  # the param's NaN, everywhere
    sums = state._replace(sum_of_squares={"w": state.sum_of_squares["w"].copy()})
    w, _ = solver.step({"w": p.copy()}, {"w": g}, sums, donate=donate)
    assert np.array_equal(w["w"].view(bits), expected)


def test_a_donated_step_refuses_a_backend_result_it_cannot_write_before_writing_any():
    """A leaf-update function (``backend=``) that returns the wrong shape for one leaf: refused, and the
    leaves before it are not written either; ``donate`` must be a bool."""

    def broken(g, G, learning_rate, eps):
        u, G_new = update_leaf(g, G, learning_rate, eps)
        return (u[:1], G_new[:1]) if g.size == 3 else (u, G_new)

    solver = adagrad(0.1, backend=broken)
    params = {"a": np.ones(4), "b": np.ones(3)}
    state = solver.init(params)
    before = [x.copy() for x in _all_arrays(params, state.sum_of_squares)]
    with pytest.raises(
        AdagradError, match=r"^the backend's leaf update returned .* float64 \(3,\); .*nothing written"
    ):
        solver.step(params, {"a": np.ones(4), "b": np.ones(3)}, state, donate=True)
    assert all(
        _bits_equal(x, y) for x, y in zip(_all_arrays(params, state.sum_of_squares), before, strict=True)
    )
    with pytest.raises(
        AdagradError, match=r"^step\(\.\.\., donate=\.\.\.\): donate must be True or False, got 'no'"
    ):
        adagrad(0.1).step(params, params, state, donate="no")


def test_a_donated_numba_step_checks_the_other_leaves_before_writing_the_compiled_ones():
    """With the Numba backend the float32/float64 leaves are written in place by the compiled pass; a
    leaf it does not take (complex here) whose leaf update returns the wrong shape is refused before
    that pass runs, so the float32 leaf is unwritten too."""
    solver = adagrad(0.1, backend="numba")
    good = solver.update_leaf
    solver.update_leaf = lambda g, G, lr, eps: (
        tuple(x[:1] for x in good(g, G, lr, eps)) if g.size == 3 else good(g, G, lr, eps)
    )
    params = {"a": np.ones(4, np.float32), "z": np.ones(3, np.complex64)}
    state = solver.init(params)
    before = [x.copy() for x in _all_arrays(params, state.sum_of_squares)]
    with pytest.raises(AdagradError, match=r"^the backend's leaf update returned .*nothing written"):
        solver.step(params, {"a": np.ones(4, np.float32), "z": np.ones(3, np.complex64)}, state, donate=True)
    assert all(
        _bits_equal(x, y) for x, y in zip(_all_arrays(params, state.sum_of_squares), before, strict=True)
    )
