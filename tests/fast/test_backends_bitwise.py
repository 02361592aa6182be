"""The NumPy reference and the Numba core give the same bits, everywhere.

Raw bit patterns are compared (``view(uint)``), so NaN payloads, the sign of
zero and subnormals all count. The data spans the whole exponent range and
mixes in zeros, subnormals, huge values whose square overflows, NaN and Inf.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_floats
from numba import njit

from adagrad_ref import adagrad, adagrad_step_inplace, apply_updates
from adagrad_ref.fast import kernels
from adagrad_ref.numerics.ulp import same_bits
from adagrad_ref.reference import update_leaf

UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
DTYPES = [np.float32, np.float64]


def assert_same_bits(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Bit patterns equal (any NaN equals any NaN: see adagrad_ref.numerics.ulp.same_bits)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    if not same_bits(a, b):
        ua, ub = a.reshape(-1).view(UINT[a.dtype]), b.reshape(-1).view(UINT[b.dtype])
        bad = np.flatnonzero((ua != ub) & ~(np.isnan(a.reshape(-1)) & np.isnan(b.reshape(-1))))
        i = bad[0]
        raise AssertionError(
            f"{what}: {bad.size} differ, first at {i}: {a.reshape(-1)[i]!r} vs {b.reshape(-1)[i]!r}"
        )


def hyper_cases(dtype):
    return [(1.0, 0.1, 1e-7), (0.01, 0.0, 0.0), (3.7, 0.0, 1e-7), (1e-3, 1e-30, 1e-10)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr, iav, eps", hyper_cases(None))
def test_update_leaf_numba_equals_numpy_bits(rng, dtype, lr, iav, eps):
    n = 20_000
    g = random_floats(rng, n, dtype)
    G = np.abs(random_floats(rng, n, dtype)) if iav else np.zeros(n, dtype)
    G[:100] = 0  # the guard: zero accumulators
    u_np, G_np = update_leaf(g, G, lr, eps)
    u_nb, G_nb = kernels.update_leaf(g, G, lr, eps)
    assert_same_bits(G_nb, G_np, "sum_of_squares")
    assert_same_bits(u_nb, u_np, "updates")
    # The data really exercised the special paths.
    assert np.isnan(u_np).any() and np.isinf(G_np).any() and (u_np == 0).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_step_trajectories_agree_bits(rng, dtype):
    shapes = {"w": (7, 13), "b": (13,), "s": ()}
    params = {
        k: random_floats(rng, int(np.prod(s)), dtype, with_edges=False).reshape(s) for k, s in shapes.items()
    }
    sched = lambda count: 0.5 / (1 + count)  # noqa: E731
    opts = {b: adagrad(sched, initial_accumulator_value=0.0, backend=b) for b in ("numpy", "numba")}
    states = {b: o.init(params) for b, o in opts.items()}
    ps = dict.fromkeys(opts, params)
    for step in range(30):
        grads = {
            k: random_floats(rng, v.size, dtype, with_edges=step % 7 == 3).reshape(v.shape)
            for k, v in params.items()
        }
        for b, o in opts.items():
            u, states[b] = o.update(grads, states[b])
            ps[b] = apply_updates(ps[b], u)
        for k in shapes:
            assert_same_bits(
                states["numba"].sum_of_squares[k], states["numpy"].sum_of_squares[k], f"G[{k}] step {step}"
            )
            assert_same_bits(ps["numba"][k], ps["numpy"][k], f"params[{k}] step {step}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 17, 1000, kernels.PARALLEL_MIN_BYTES // 4 + 3])
def test_inplace_step_equals_update_then_apply(rng, dtype, n):
    p = random_floats(rng, n, dtype)
    g = random_floats(rng, n, dtype)
    G = np.abs(random_floats(rng, n, dtype))
    u, G_ref = update_leaf(g, G, 0.3, 1e-7)
    p_ref = apply_updates(p, u)
    adagrad_step_inplace(p, g, G, 0.3, 1e-7)
    assert_same_bits(G, G_ref, "sum_of_squares")
    assert_same_bits(p, p_ref, "params")


@pytest.mark.parametrize("dtype", DTYPES)
def test_parallel_and_serial_kernels_agree_bits(rng, dtype):
    n = 300_001
    p, g = random_floats(rng, n, dtype), random_floats(rng, n, dtype)
    G = np.abs(random_floats(rng, n, dtype))
    args = []
    for kernel, lr in ((kernels._step_kernel, dtype(-0.7)), (kernels._step_kernel_parallel, 0.7)):
        pc, Gc = p.copy(), G.copy()
        kernel(pc, g, Gc, lr, dtype(1e-7))  # the serial kernel takes -η in the dtype, the parallel η
        args.append((pc, Gc))
    assert_same_bits(args[0][0], args[1][0], "params")
    assert_same_bits(args[0][1], args[1][1], "sum_of_squares")


@pytest.mark.parametrize("shape", [(), (5,), (3, 4, 5)])
def test_inplace_step_any_contiguous_shape(rng, shape):
    n = int(np.prod(shape))
    p = random_floats(rng, n, np.float32).reshape(shape)
    g = random_floats(rng, n, np.float32).reshape(shape)
    G = np.full(shape, 0.1, np.float32)
    u, G_ref = update_leaf(g, G, 1.0, 1e-7)
    p_ref = apply_updates(p, u)
    adagrad_step_inplace(p, g, G, 1.0, 1e-7)
    assert_same_bits(p, p_ref, "params")
    assert_same_bits(G, G_ref, "sum_of_squares")


def test_float64_hyperparameters_do_not_promote_float32(rng):
    """The trap: Numba does float32 ∘ float64 in float64. Casting η and ε keeps float32 bits.

    The un-cast kernel is run too, to show that this test would see the trap.
    """
    n = 50_000
    g = random_floats(rng, n, np.float32, with_edges=False)
    G = np.abs(random_floats(rng, n, np.float32, with_edges=False))
    lr, eps = np.float64(0.1), np.float64(1e-7)  # neither is exactly a float32
    u_np, _ = update_leaf(g, G, lr, eps)
    u_nb, _ = kernels.update_leaf(g, G, lr, eps)
    assert_same_bits(u_nb, u_np, "updates")

    u_bad, G_bad = np.empty_like(g), np.empty_like(G)
    kernels._update_kernel(g, G, -lr, eps, u_bad, G_bad)  # float64 scalars, not cast
    assert (u_bad.view(np.uint32) != u_np.view(np.uint32)).any()


@pytest.mark.parametrize("flags", [True, {"contract"}])
def test_fastmath_would_break_the_bits(rng, flags):
    """fastmath changes the bits: the core must not use it.

    The kernel's own element function is recompiled with ``fastmath=flags``;
    the real kernel's bits equal the reference (tests above), the fastmath
    build's do not. Measured with llvmlite 0.50 on 200,000 mixed values:
    ``fastmath=True`` changed 52 % of float32 updates (approximate rsqrt),
    ``{"contract"}`` alone 1 % of accumulators (``g*g + G`` as one FMA). The
    single flags arcp, afn, nnan, ninf, nsz and reassoc changed no bit of this
    loop on that LLVM, but they license exactly such rewrites (nnan would let
    it drop the NaN semantics of the guard), so the kernels carry none of them.
    """
    n = 200_000
    g = random_floats(rng, n, np.float64)
    G = np.abs(random_floats(rng, n, np.float64))
    G[:64] = 0.0
    element = njit(fastmath=flags)(kernels._adagrad_element.py_func)

    @njit(fastmath=flags)
    def fast_update(g, G_in, neg_lr, eps, u_out, G_out):
        one, zero = G_in.dtype.type(1), G_in.dtype.type(0)
        for i in range(g.size):
            u_out[i], G_out[i] = element(g[i], G_in[i], neg_lr, eps, one, zero)

    u_ref, G_ref = update_leaf(g, G, 0.3, 1e-7)
    u_fast, G_fast = np.empty_like(g), np.empty_like(G)
    fast_update(g, G, np.float64(-0.3), np.float64(1e-7), u_fast, G_fast)
    differs = (u_fast.view(np.uint64) != u_ref.view(np.uint64)).any() or (
        G_fast.view(np.uint64) != G_ref.view(np.uint64)
    ).any()
    assert differs, f"fastmath={flags} happened to give the same bits on this data"
    assert not kernels._update_kernel.targetoptions.get("fastmath")
    assert not kernels._step_kernel.targetoptions.get("fastmath")
    assert not kernels._step_kernel_parallel.targetoptions.get("fastmath")


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_bits_do_not_depend_on_array_length(rng, dtype):
    """NumPy's complex multiply fuses re*re + im*im only in its SIMD loop (long arrays); the reference
    spells the fused form out, so an element gets the same bits alone or in a long array."""
    n = 1001
    g = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n) + 1j * rng.standard_normal(n)).astype(dtype)
    G = np.full(n, 0.1, dtype)
    u_long, G_long = update_leaf(g, G, 0.3, 1e-7)
    for i in range(0, n, 97):
        u_one, G_one = update_leaf(g[i : i + 1], G[i : i + 1], 0.3, 1e-7)
        assert same_bits(G_one, G_long[i : i + 1]) and same_bits(u_one, u_long[i : i + 1]), i
