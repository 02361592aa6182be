"""The Numba core on bfloat16 and float16 (uint16 views, float32 arithmetic, round-to-nearest-even on
the bits) against the NumPy reference of :mod:`adagrad_ref.numerics.lowprec`, bit for bit.

The conversions are checked over every one of the 65,536 bit patterns (widening) and over 2**22
random float32 bit patterns plus every exact tie (rounding); the step over random bit patterns of
``g`` and ``G`` (zeros, subnormals, NaN, Inf, values whose square overflows) and edge values, through
every path: the ``numba`` backend, ``adagrad_step_inplace`` and ``FlatAdagrad``. Every bit counts,
except NaN against NaN: a bfloat16 NaN must be sign | 0x7fc0 on both sides (its sign free), a float16
NaN any NaN (see :func:`mismatches`).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad, adagrad_step_inplace, apply_updates, sparse_step_inplace
from adagrad_ref.fast import lowprec_kernels as K
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.numerics import lowprec

FORMATS = {"bfloat16": np.dtype(ml_dtypes.bfloat16), "float16": np.dtype(np.float16)}
#: The kernels in use (conversions as LLVM IR; float16 as LLVM's ``half`` where the CPU has F16C) and
#: the same kernels with the conversions in Python (the float16 fallback without F16C): both tested.
KERNEL_SETS = pytest.mark.parametrize("kernels", [K.KERNELS, K.PLAIN_KERNELS], ids=["ir", "plain"])
HYPER = [(0.1, 0.1, 1e-7), (0.3, 0.0, 0.0), (2.5, 1e-3, 1e-3), (1e-4, 5.0, 1e-7)]  # (lr, G0, eps)


def mismatches(a, b) -> int:
    """Elements whose bits differ, except NaN against NaN. bfloat16: such a NaN must be 0x7fc0 on both
    sides, with either sign (both narrow a NaN to sign | 0x7fc0, ml_dtypes' rule; where two NaN operands
    meet, IEEE leaves which sign propagates to the hardware and the compiler's operand order). float16
    and float32: any NaN (F16C's conversions quiet a signaling NaN, NumPy's cast keeps it signaling)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    width = {2: np.uint16, 4: np.uint32}[a.dtype.itemsize]
    nan = np.isnan(a.astype(np.float32)) & np.isnan(b.astype(np.float32))
    if a.dtype == FORMATS["bfloat16"]:
        nan &= ((a.view(width) & 0x7FFF) == 0x7FC0) & ((b.view(width) & 0x7FFF) == 0x7FC0)
    return int(((a.view(width) != b.view(width)) & ~nan).sum())


def random_bits(dt, n, seed):
    return np.random.default_rng(seed).integers(0, 2**16, n, dtype=np.uint16).view(dt)


def edge_values(dt) -> np.ndarray:
    fi = ml_dtypes.finfo(dt)
    v = [0.0, -0.0, fi.smallest_subnormal, -fi.smallest_subnormal, fi.smallest_normal, fi.max, -fi.max,
         float(np.sqrt(float(fi.max))) * 2, np.nan, np.inf, -np.inf, 1.0, -3.0, 1e-3]  # fmt: skip
    return np.array(v, np.float64).astype(dt)


@KERNEL_SETS
@pytest.mark.parametrize("name", FORMATS)
def test_widening_every_bit_pattern(name, kernels):
    dt = FORMATS[name]
    h = np.arange(2**16, dtype=np.uint16).view(dt)
    assert mismatches(K.widen(h, kernels), lowprec._read(h, lowprec.flushes(dt))) == 0


@KERNEL_SETS
@pytest.mark.parametrize("name", FORMATS)
def test_rounding_random_float32_and_every_tie(name, kernels):
    """Against NumPy's float16 cast / ml_dtypes' bfloat16 cast (and bfloat16's flush)."""
    dt = FORMATS[name]
    fl = lowprec.flushes(dt)
    rng = np.random.default_rng(7)
    grid = np.arange(2**16, dtype=np.uint16).view(dt)
    grid = grid[np.isfinite(grid.astype(np.float32))].astype(np.float32)
    with np.errstate(all="ignore"):
        nxt = np.nextafter(grid.astype(dt), np.array(np.inf, dt)).astype(np.float32)
        ties = ((grid.astype(np.float64) + nxt.astype(np.float64)) / 2).astype(np.float32)  # exact midpoints
    x = np.concatenate([rng.integers(0, 2**32, 2**22, dtype=np.uint32).view(np.float32), grid, ties,
                        np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf))])  # fmt: skip
    assert mismatches(K.narrow(x, dt, kernels), lowprec._round(x, dt, fl)) == 0


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("lr,G0,eps", HYPER)
def test_numba_backend_random_bits(name, lr, G0, eps):
    dt = FORMATS[name]
    g, G = random_bits(dt, 2**18, 1), random_bits(dt, 2**18, 2)
    u1, G1 = adagrad(lr, G0, eps, backend="numba").update_leaf(g, G, lr, eps)
    u2, G2 = lowprec.update_leaf(g, G, lr, eps)
    assert mismatches(u1, u2) == 0 and mismatches(G1, G2) == 0


@KERNEL_SETS
@pytest.mark.parametrize("name", FORMATS)
def test_every_kernel_set_every_g_pattern(name, kernels):
    """Every one of the 65,536 g patterns against every 251st G pattern (262 of them, every class: a
    prime stride varies the low bits), 2**24 elements, against the NumPy reference."""
    dt = FORMATS[name]
    G_some = np.arange(0, 2**16, 251, dtype=np.uint16).view(dt)
    for lr, eps in ((0.1, 1e-7), (2.5, 0.0)):
        for start in range(0, 2**16, 2**13):
            g_block = np.arange(start, start + 2**13, dtype=np.uint16).view(dt)
            g, G = np.repeat(g_block, G_some.size), np.tile(G_some, g_block.size)
            u1, G1 = K.update_leaf(g, G, lr, eps, kernels)
            u2, G2 = lowprec.update_leaf(g, G, lr, eps)
            assert mismatches(u1, u2) == 0 and mismatches(G1, G2) == 0, (lr, eps, start)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("lr,G0,eps", HYPER)
def test_numba_backend_edge_values_every_pair(name, lr, G0, eps):
    dt = FORMATS[name]
    e = edge_values(dt)
    g, G = np.repeat(e, e.size), np.tile(np.abs(e.astype(np.float32)).astype(dt), e.size)
    opt_a, opt_b = adagrad(lr, G0, eps, backend="numba"), adagrad(lr, G0, eps)
    s_a = opt_a.init(g)._replace(sum_of_squares=G)
    s_b = opt_b.init(g)._replace(sum_of_squares=G)
    for _ in range(3):
        u_a, s_a = opt_a.update(g, s_a)
        u_b, s_b = opt_b.update(g, s_b)
        assert mismatches(u_a, u_b) == 0 and mismatches(s_a.sum_of_squares, s_b.sum_of_squares) == 0


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("lr,G0,eps", HYPER)
def test_inplace_step_equals_update_then_apply(name, lr, G0, eps):
    dt = FORMATS[name]
    rng = np.random.default_rng(3)
    n = 50_000
    p = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dt)
    p[:1000] = random_bits(dt, 1000, 4)  # every class in the params too
    opt = adagrad(lr, G0, eps)
    state = opt.init(p)
    w, G = p.copy(), state.sum_of_squares.copy()
    for k in range(5):
        g = (
            random_bits(dt, n, 10 + k)
            if k % 2
            else (rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 3, n)).astype(dt)
        )
        u, state = opt.update(g, state)
        p = apply_updates(p, u)
        adagrad_step_inplace(w, g, G, lr, eps)
        assert mismatches(w, p) == 0 and mismatches(G, state.sum_of_squares) == 0


@pytest.mark.parametrize("name", FORMATS)
def test_flat_adagrad_low_precision(name):
    dt = FORMATS[name]
    rng = np.random.default_rng(5)
    params = {"a": rng.standard_normal((3, 4)).astype(dt), "b": rng.standard_normal(7).astype(dt),
              "c": rng.standard_normal(2).astype(np.float32)}  # fmt: skip
    flat = FlatAdagrad(params, 0.2)
    opt = adagrad(0.2)
    state, p = opt.init(params), params
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
        flat.set_grads(grads)
        flat.step()
        u, state = opt.update(grads, state)
        p = apply_updates(p, u)
    for k in params:
        assert flat.params[k].dtype == params[k].dtype
        assert mismatches(flat.params[k], p[k]) == 0
        assert mismatches(flat.state.sum_of_squares[k], state.sum_of_squares[k]) == 0


@pytest.mark.parametrize("name", FORMATS)
def test_inplace_refusals_one_line_nothing_written(name):
    dt = FORMATS[name]
    p, g, G = np.ones(4, dt), np.ones(4, dt), np.ones(4, dt)
    cases = [
        (
            (p, np.ones(4, np.float32), G),
            rf"^params has dtype {dt}; the Numba kernel takes float32 or float64 \(the",
        ),
        ((p, np.ones(5, dt), G), r"^grads has shape \(5,\); expected \(4,\) as params$"),
        ((p, np.ones(8, dt)[::2], G), r"^grads is not C-contiguous"),
        ((p, p, G), r"^params and grads share memory"),
        ((p, g, [1.0]), rf"^params has dtype {dt}; .* when params, grads and sum_of_squares all have"),
    ]
    for args, match in cases:
        with pytest.raises(AdagradError, match=match) as info:
            adagrad_step_inplace(*args, 0.1)
        assert "\n" not in str(info.value)
    ro = np.ones(4, dt)
    ro.flags.writeable = False
    with pytest.raises(AdagradError, match=r"^params is read-only"):
        adagrad_step_inplace(ro, g, G, 0.1)
    with pytest.raises(AdagradError, match=r"^eps must be finite and >= 0"):
        adagrad_step_inplace(p, g, G, 0.1, -1.0)
    assert np.all(p.astype(np.float32) == 1) and np.all(G.astype(np.float32) == 1)


@pytest.mark.parametrize("name", FORMATS)
def test_sparse_step_refuses_low_precision_in_one_line(name):
    dt = FORMATS[name]
    table, G = np.ones((3, 2), dt), np.ones((3, 2), dt)
    with pytest.raises(
        AdagradError, match=rf"^table has dtype {dt}; the Numba kernel takes float32 or float64 "
    ):
        sparse_step_inplace(table, np.array([0]), np.ones((1, 2), dt), G, 0.1)


@pytest.mark.parametrize("name", FORMATS)
def test_the_step_is_vectorised_in_32_bit_lanes(name):
    """The in-place step's loop runs packed sqrt and division, and no integer vector wider than 32
    bits (the Python conversions made Numba compute in 64-bit lanes: 4.4 and 7.0 ns/element, measured
    in docs/low_precision.md); float16 converts with F16C's instructions where the CPU has them."""
    import re

    step = K.KERNELS[lowprec.flushes(FORMATS[name])]["step"]
    a = np.ones(64, np.uint16)
    step(a.copy(), a.copy(), a.copy(), np.uint16(1), np.uint16(1))
    sig = step.signatures[0]
    asm, llvm = step.inspect_asm(sig), step.inspect_llvm(sig)
    assert {"vsqrtps", "vdivps"} <= set(re.findall(r"\bv(?:sqrt|div)ps\b", asm)) or {
        "sqrtps",
        "divps",
    } <= set(re.findall(r"\b(?:sqrt|div)ps\b", asm))
    assert not re.search(r"<\d+ x i64>", llvm)
    if name == "float16" and K.HARDWARE_FLOAT16:
        # F16C's packed conversions, or on a CPU with AVX512-FP16 (Intel Xeon) that extension's forms
        # (vcvtph2psx, vcvtps2phx): the same IEEE conversions either way
        converts = set(re.findall(r"\bvcvt\w+", asm))
        assert {"vcvtph2ps", "vcvtps2ph"} <= converts or {"vcvtph2psx", "vcvtps2phx"} <= converts, converts
    # With AVX512-FP16, LLVM narrows a float32 op on widened halves rounded back to half into the native
    # half op (vmulph, vaddph): the same bits, as float32 has at least 2*11 + 2 bits (one rounding either
    # way; the bitwise tests of this file hold on both CPUs). What would change bits is a contraction
    # into one FMA: never, on any CPU (no fastmath, no contract).
    assert not re.search(r"\bvfn?m(?:add|sub)\w*(?:ph|sh)\b", asm)
