"""The Numba core for bfloat16 and float16: the bits of :mod:`adagrad_ref.numerics.lowprec`, compiled.

Numba has no bfloat16 and no float16 arithmetic, so the arrays are read as their ``uint16`` bit
patterns, widened exactly to float32 by integer operations, computed in float32 (no ``fastmath``:
no FMA contraction, no reassociation), and rounded back to the format with round-to-nearest-even
done on the bits. Every conversion is branch-free (selects), so LLVM can vectorise the loop.

* bfloat16 -> float32: the 16 bits become the high half of the float32 (exact).
* float32 -> bfloat16: add ``0x7fff`` plus the lowest kept bit, keep the high half (ties to even;
  overflow carries into the exponent and gives Inf); a NaN keeps its high half, made quiet.
* float16 -> float32: shift the exponent and mantissa into place and multiply by 2**112 (exact for
  normals and subnormals alike); Inf and NaN get the float32 exponent 255.
* float32 -> float16: normals add the rounding bias to the bits (as bfloat16); results below
  2**-14 are rounded by one float32 addition of 0.5, whose rounding is the float16 subnormal's.
* bfloat16 flushes as optax does on CPU (:func:`adagrad_ref.numerics.lowprec.flushes`): an operand or a
  float32 result with a zero exponent field becomes a zero of its sign.

The functions below state these conversions in Python (:data:`PLAIN_KERNELS` compiles them); the
kernels in use (:data:`KERNELS`) write the same operations as LLVM IR in 32-bit integers, since Numba
types Python integer arithmetic in 64 bits and the loop then ran in 64-bit lanes (4.4 ns/element
bfloat16, 7.0 float16 at n = 1e6); float16 uses LLVM's ``half`` conversions where the CPU has F16C
(one instruction each way). Every rounded intermediate stays a float32 of the format's values, stored
as bits only at the end. Same bits on every path (tests/fast/test_low_precision_numba.py).

>>> import numpy as np
>>> u, G = update_leaf(np.float16([3.0, 0.0]), np.float16([0.1, 0.0]), 0.1, 1e-7)
>>> u, G
(array([-0.0994, -0.    ], dtype=float16), array([9.1, 0. ], dtype=float16))
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as ll
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from adagrad_ref.errors import AdagradError
from adagrad_ref.numerics import lowprec

__all__ = ["KERNELS", "checked_step_inplace", "narrow", "update_leaf", "widen"]

_U32 = np.uint32
_U16 = np.uint16
_F32 = np.float32
_TWO_112 = np.float32(2.0**112)
_HALF = np.float32(0.5)  # float32 bits 126 << 23: its ulp is float16's smallest subnormal, 2**-24


@njit(inline="always")
def _f32(bits):
    return np.uint32(bits).view(np.float32)


@njit(inline="always")
def _bits(x):
    return np.float32(x).view(np.uint32)


@njit(inline="always")
def _bf16_to_f32(h, flush):
    b = np.uint32(h) << np.uint32(16)
    denormal = (b & np.uint32(0x7F800000)) == np.uint32(0)
    b = (b & np.uint32(0x80000000)) if (flush and denormal) else b
    return _f32(b)


@njit(inline="always")
def _f32_to_bf16(x, flush):
    b = _bits(x)
    denormal = (b & np.uint32(0x7F800000)) == np.uint32(0)
    b = (b & np.uint32(0x80000000)) if (flush and denormal) else b
    is_nan = (b & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    rounded = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    nan = ((b >> np.uint32(16)) & np.uint32(0x8000)) | np.uint32(0x7FC0)  # ml_dtypes' NaN: sign kept
    return np.uint16(nan if is_nan else rounded)


@njit(inline="always")
def _f16_to_f32(h):
    h = np.uint32(h)
    sign = (h & np.uint32(0x8000)) << np.uint32(16)
    em = (h & np.uint32(0x7FFF)) << np.uint32(13)  # exponent and mantissa in float32's places
    finite = _bits(_f32(em) * _TWO_112)  # rebias 15 -> 127: exact for normals and subnormals
    special = em | np.uint32(0x7F800000)  # exponent 31 (Inf, NaN) -> 255, mantissa kept
    is_special = (h & np.uint32(0x7C00)) == np.uint32(0x7C00)
    return _f32((special if is_special else finite) | sign)


@njit(inline="always")
def _f32_to_f16(x):
    b = _bits(x)
    sign = (b >> np.uint32(16)) & np.uint32(0x8000)
    a = b & np.uint32(0x7FFFFFFF)
    is_nan = a > np.uint32(0x7F800000)
    nan = np.uint32(0x7E00) | ((a >> np.uint32(13)) & np.uint32(0x3FF))
    # |x| >= 65520 rounds to Inf; the normal path's carry gives it, but its exponent would wrap above 2**16
    big = a >= np.uint32((127 + 16) << 23)
    # normals: rebias, add the rounding bias (ties to even), drop 13 bits
    normal = (
        a - np.uint32((127 - 15) << 23) + np.uint32(0xFFF) + ((a >> np.uint32(13)) & np.uint32(1))
    ) >> 13
    # below 2**-14: one float32 addition of 0.5 rounds to float16's subnormal grid (ulp 2**-24)
    small = _bits(_f32(a) + _HALF) - _bits(_HALF)
    tiny = a < np.uint32(113 << 23)
    out = small if tiny else normal
    out = np.uint32(0x7C00) if big else out
    out = nan if is_nan else out
    return np.uint16(out | sign)


# ---------------------------------------------------------------- the conversions as LLVM IR
# The functions above are the rule in Python; Numba types every integer operation on them in 64 bits
# (uint32 + uint32 is uint64), so the vectorised loop ran in 64-bit lanes with conversions between:
# 4.4 ns/element for bfloat16, 7.0 for float16, against 0.28 for float32. The same operations written
# as LLVM IR in 32-bit integers (bfloat16), and float16 as LLVM's own ``half`` conversions (one
# instruction each with F16C: vcvtph2ps, vcvtps2ph), give the same bits (the exhaustive tests run
# every path) in lanes as wide as float32's.

_I16, _I32, _FLOAT = ir.IntType(16), ir.IntType(32), ir.FloatType()


def _c32(v: int) -> ir.Constant:
    return ir.Constant(_I32, v)


def _flush_bits(builder, b):
    """b with a zero exponent field (zero or subnormal) made a zero of its sign."""
    denormal = builder.icmp_unsigned("==", builder.and_(b, _c32(0x7F800000)), _c32(0))
    return builder.select(denormal, builder.and_(b, _c32(0x80000000)), b)


@intrinsic
def _bf16_in(typingctx, h):
    """bfloat16 bits -> float32, subnormals read as zero (optax on CPU)."""

    def codegen(context, builder, signature, args):
        b = builder.shl(builder.zext(args[0], _I32), _c32(16))
        return builder.bitcast(_flush_bits(builder, b), _FLOAT)

    return types.float32(types.uint16), codegen


@intrinsic
def _bf16_rnd(typingctx, x):
    """float32 -> the nearest bfloat16 (flushed), as a float32: the bits of :func:`_bf16_out` in the
    high half, zeros below (a NaN: sign | 0x7fc0, ml_dtypes' quiet NaN)."""

    def codegen(context, builder, signature, args):
        b = _flush_bits(builder, builder.bitcast(args[0], _I32))
        is_nan = builder.icmp_unsigned(">", builder.and_(b, _c32(0x7FFFFFFF)), _c32(0x7F800000))
        bias = builder.add(_c32(0x7FFF), builder.and_(builder.lshr(b, _c32(16)), _c32(1)))
        nan = builder.or_(builder.and_(b, _c32(0x80000000)), _c32(0x7FC00000))
        r = builder.select(is_nan, nan, builder.add(b, bias))
        return builder.bitcast(builder.and_(r, _c32(0xFFFF0000)), _FLOAT)

    return types.float32(types.float32), codegen


@intrinsic
def _bf16_store(typingctx, x):
    """A float32 with zero low half (a rounded bfloat16) -> its bfloat16 bits: the high half."""

    def codegen(context, builder, signature, args):
        return builder.trunc(builder.lshr(builder.bitcast(args[0], _I32), _c32(16)), _I16)

    return types.uint16(types.float32), codegen


@intrinsic
def _f16_rnd_half(typingctx, x):
    """float32 -> the nearest float16, as a float32 (``fptrunc`` to ``half``, then ``fpext``)."""

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.fptrunc(args[0], ir.HalfType()), _FLOAT)

    return types.float32(types.float32), codegen


@intrinsic
def _bf16_out(typingctx, x):
    """float32 -> bfloat16 bits: flushed, then nearest-even on the bits; a NaN is sign | 0x7fc0 (as ml_dtypes'
    cast: the payload is not kept)."""

    def codegen(context, builder, signature, args):
        b = _flush_bits(builder, builder.bitcast(args[0], _I32))
        is_nan = builder.icmp_unsigned(">", builder.and_(b, _c32(0x7FFFFFFF)), _c32(0x7F800000))
        high = builder.lshr(b, _c32(16))
        bias = builder.add(_c32(0x7FFF), builder.and_(high, _c32(1)))
        rounded = builder.lshr(builder.add(b, bias), _c32(16))  # no wrap: only NaNs exceed 0xff800000
        nan = builder.or_(builder.and_(high, _c32(0x8000)), _c32(0x7FC0))
        return builder.trunc(builder.select(is_nan, nan, rounded), _I16)

    return types.uint16(types.float32), codegen


@intrinsic
def _f16_in_half(typingctx, h):
    """float16 bits -> float32 by LLVM's ``fpext half`` (exact)."""

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), _FLOAT)

    return types.float32(types.uint16), codegen


@intrinsic
def _f16_out_half(typingctx, x):
    """float32 -> float16 bits by LLVM's ``fptrunc`` to ``half`` (round to nearest even, subnormals kept)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), _I16)

    return types.uint16(types.float32), codegen


def _host_features() -> dict:
    try:
        return dict(ll.get_host_cpu_features())
    except (AttributeError, RuntimeError):  # llvmlite cannot tell on this platform: assume nothing
        return {}


_FEATURES = _host_features()
#: Whether this CPU converts float16 in hardware (F16C): LLVM then lowers ``half`` conversions to one
#: instruction; without it they would be library calls, so the integer conversions above are used.
HARDWARE_FLOAT16 = bool(_FEATURES.get("f16c", False))


@njit(inline="always")
def _bf16_plain_in(h):
    return _bf16_to_f32(h, True)


@njit(inline="always")
def _bf16_plain_out(x):
    return _f32_to_bf16(x, True)


def _kernels(to_float32, from_float32, rnd=None, store=None):
    """The kernels of one format, its conversions compiled in (no per-element format test).

    ``to_float32`` widens an operand from outside (g, G, p, the hyperparameters: bfloat16 flushed) and
    ``from_float32`` rounds a float32 to the format's bits. The arithmetic keeps every rounded
    intermediate as a float32: ``rnd`` rounds a float32 to the nearest value of the format, as a
    float32 (default: ``from_float32`` then ``to_float32``: exact, since a rounded bfloat16 is never
    subnormal), and ``store`` writes such a value as bits (default: ``from_float32``, exact on it).
    The IR kernels give ``rnd`` and ``store`` of their own: no shift down and back up per operation."""
    if rnd is None:

        @njit(inline="always")
        def rnd(x):
            return to_float32(from_float32(x))

    store = store or from_float32

    @njit(inline="always")
    def element(g, G, neg_lr, eps):
        """One element: the lines of :func:`adagrad_ref.numerics.lowprec.update_leaf`, each result rounded to
        the
        format and kept as a float32; returns (u, G_t) as float32 values of the format."""
        gf = to_float32(g)
        gg = rnd(gf * gf)  # g²
        Gf = rnd(gg + to_float32(G))  # G_t = g² + G_{t-1}
        t = rnd(Gf + to_float32(eps))  # G_t + ε
        inv = rnd(np.float32(1) / np.sqrt(t))  # rsqrt: one rounding
        s = inv if Gf > np.float32(0) else np.float32(0)  # the guard
        u = rnd(s * gf)  # s · g
        u = rnd(to_float32(neg_lr) * u)  # (-η) · u
        return u, Gf

    @njit(error_model="numpy")
    def update_kernel(g, G_in, neg_lr, eps, u_out, G_out):
        for i in range(g.size):
            u, Gf = element(g[i], G_in[i], neg_lr, eps)
            u_out[i], G_out[i] = store(u), store(Gf)

    @njit(error_model="numpy")
    def step_kernel(p, g, G, neg_lr, eps):
        """In place: G and p overwritten, p = p + u rounded once (``apply_updates`` of one format)."""
        for i in range(p.size):
            u, Gf = element(g[i], G[i], neg_lr, eps)
            G[i] = store(Gf)
            p[i] = from_float32(to_float32(p[i]) + u)

    @njit(error_model="numpy")
    def convert_kernel(h, out):
        for i in range(h.size):
            out[i] = to_float32(h[i])

    @njit(error_model="numpy")
    def round_kernel(x, out):
        for i in range(x.size):
            out[i] = from_float32(x[i])

    return {"update": update_kernel, "step": step_kernel, "widen": convert_kernel, "narrow": round_kernel}


#: Per format (True: bfloat16, flushing; False: float16), its compiled kernels, the conversions as
#: LLVM IR: bfloat16 in 32-bit integer operations, float16 as LLVM's ``half`` where the CPU has F16C
#: (else the Python conversions). LLVM's ``bfloat`` (vcvtneps2bf16 with AVX512-BF16) was tried: the
#: rule's bits, but LLVM vectorised its loop 4 wide only, and it was slower (1.9 against 1.7 ns/element).
KERNELS = {
    True: _kernels(_bf16_in, _bf16_out, _bf16_rnd, _bf16_store),
    False: (
        _kernels(_f16_in_half, _f16_out_half, _f16_rnd_half)
        if HARDWARE_FLOAT16
        else _kernels(_f16_to_f32, _f32_to_f16)
    ),
}
#: The same kernels with the conversions written in Python (Numba's 64-bit integer operations, and
#: float16's integer conversions): the rule as the docstring states it, kept to test the others against.
PLAIN_KERNELS = {
    True: _kernels(_bf16_plain_in, _bf16_plain_out),
    False: _kernels(_f16_to_f32, _f32_to_f16),
}


def widen(a: np.ndarray, kernels: dict | None = None) -> np.ndarray:
    """A bfloat16 or float16 array as float32, through the kernel's conversion (bfloat16 flushed);
    ``kernels``: :data:`KERNELS` (default) or :data:`PLAIN_KERNELS`."""
    out = np.empty(a.shape, np.float32)
    (kernels or KERNELS)[lowprec.flushes(a.dtype)]["widen"](
        np.ascontiguousarray(a).view(_U16).reshape(-1), out.reshape(-1)
    )
    return out


def narrow(x: np.ndarray, dtype, kernels: dict | None = None) -> np.ndarray:
    """A float32 array rounded to bfloat16 (flushed) or float16 by the kernel's conversion."""
    dtype = np.dtype(dtype)
    out = np.empty(np.shape(x), dtype)
    x = np.ascontiguousarray(x, np.float32)
    (kernels or KERNELS)[lowprec.flushes(dtype)]["narrow"](x.reshape(-1), out.view(_U16).reshape(-1))
    return out


def _hyper_bits(learning_rate: float, eps: float, dtype: np.dtype) -> tuple[np.uint16, np.uint16]:
    """-η and ε in the leaf's dtype (through float32, as :func:`adagrad_ref.numerics.lowprec.hyperparameter`:
    one that overflows the dtype is refused), as bits."""
    neg_lr = lowprec.hyperparameter("learning_rate", learning_rate, dtype, negate=True).view(_U16)[()]
    e = lowprec.hyperparameter("eps", eps, dtype).view(_U16)[()]
    return np.uint16(neg_lr), np.uint16(e)


def update_leaf(
    g: np.ndarray, sum_of_squares: np.ndarray, learning_rate: float, eps: float, kernels: dict | None = None
):
    """The Numba backend's step for one bfloat16 or float16 array; returns ``(u_t, G_t)``."""
    dtype = sum_of_squares.dtype
    if not lowprec.is_low_precision(dtype) or g.dtype != dtype or g.shape != sum_of_squares.shape:
        raise AdagradError(
            f"update_leaf: g is {g.dtype} {g.shape}, sum_of_squares {dtype} {sum_of_squares.shape}; "
            "the low-precision kernel takes one bfloat16 or float16 dtype and shape"
        )
    g16 = np.ascontiguousarray(g).view(_U16).reshape(-1)
    G16 = np.ascontiguousarray(sum_of_squares).view(_U16).reshape(-1)
    u = np.empty(g.shape, dtype)
    G = np.empty(g.shape, dtype)
    neg_lr, e = _hyper_bits(learning_rate, eps, dtype)
    (kernels or KERNELS)[lowprec.flushes(dtype)]["update"](
        g16, G16, neg_lr, e, u.view(_U16).reshape(-1), G.view(_U16).reshape(-1)
    )
    return u, G


def step_inplace(
    params: np.ndarray, grads: np.ndarray, sum_of_squares: np.ndarray, learning_rate, eps
) -> None:
    """The fused in-place step on bfloat16 or float16 arrays (checked by the caller)."""
    dtype = params.dtype
    neg_lr, e = _hyper_bits(learning_rate, eps, dtype)
    KERNELS[lowprec.flushes(dtype)]["step"](
        params.view(_U16).reshape(-1),
        grads.view(_U16).reshape(-1),
        sum_of_squares.view(_U16).reshape(-1),
        neg_lr,
        e,
    )


def checked_step_inplace(params, grads, sum_of_squares, learning_rate, eps) -> None:
    """:func:`adagrad_ref.adagrad_step_inplace` for bfloat16 or float16 params: the same checks, each
    refusal one :class:`AdagradError` line, nothing written; then the serial fused step (every element
    is independent, so ``parallel`` could change no bit; this kernel runs on one core)."""
    from adagrad_ref.fast.refusals import explain_arrays, explain_hyperparameters, plain_views

    params, grads, sum_of_squares = plain_views(params=params, grads=grads, sum_of_squares=sum_of_squares)
    named = (("params", params), ("grads", grads), ("sum_of_squares", sum_of_squares))
    explain_arrays(named, same_shape=True, low_precision=True)
    learning_rate, eps = explain_hyperparameters(learning_rate, eps, params.dtype)
    step_inplace(params, grads, sum_of_squares, learning_rate, eps)
