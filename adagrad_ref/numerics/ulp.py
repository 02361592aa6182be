"""Distances between floats in units in the last place (ULP).

The distance between two floats of one dtype is the number of representable
values between them: adjacent floats are 1 ULP apart, ``+0.0`` and ``-0.0``
are 0 apart, two NaNs are 0 apart (NaN *is* the expected answer there), and a
NaN against a number is infinitely far. Complex arrays: the larger of the
distances of the real and the imaginary parts. :func:`ulp_distance`,
:func:`max_ulp` and :func:`ordered_int` take float16, bfloat16, float32,
float64 and the complex ones; any other dtype, or two different dtypes, is an
:class:`~adagrad_ref.errors.AdagradError`. :func:`same_bits` compares the bits
of arrays of any dtype.

>>> x = np.float32(1.0)
>>> int(ulp_distance(x, np.nextafter(x, np.float32(2))))
1
>>> int(ulp_distance(np.float32(-0.0), np.float32(0.0)))
0
>>> ulp_distance(np.float64("nan"), np.float64(1.0))
array(inf)
"""

from __future__ import annotations

import numpy as np

from adagrad_ref.errors import AdagradError, refuses_out_of_memory
from adagrad_ref.numerics.lowprec import is_low_precision

__all__ = ["max_ulp", "ordered_int", "same_bits", "ulp_distance"]

_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def _int_of(dtype: np.dtype) -> type:
    if dtype in (np.float32, np.float64) or is_low_precision(dtype):
        return _INT[dtype.itemsize]
    raise AdagradError(f"ulp: {dtype} is not a float16, bfloat16, float32 or float64 dtype")


@refuses_out_of_memory("ordered_int")
def ordered_int(x: np.ndarray) -> np.ndarray:
    """Map floats to int64 so that integer order is float order and adjacent floats differ by 1.

    >>> ordered_int(np.float16([-0.0, 0.0, 6.0e-8])).tolist()  # float16: its smallest subnormal is 1
    [0, 0, 1]
    """
    x = np.asarray(x)
    width = _int_of(x.dtype)
    i = x.view(width).astype(np.int64)
    sign_mask = np.int64(np.iinfo(width).min)
    # Negative floats have the sign bit set; fold them below zero so that order is numeric order.
    return np.where(i < 0, sign_mask - i, i)


@refuses_out_of_memory("ulp_distance")
def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise distance in ULP of ``a``'s dtype (float64 array; inf where only one is NaN)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype:
        raise AdagradError(f"ulp_distance: dtypes differ ({a.dtype} vs {b.dtype})")
    if np.iscomplexobj(a):
        return np.maximum(ulp_distance(a.real, b.real), ulp_distance(a.imag, b.imag))
    ia = ordered_int(a)
    ib = ordered_int(b)
    # Same sign: the int64 difference is exact. Opposite signs: it could overflow int64, so add the
    # magnitudes in float64 (exact below 2**53; beyond that the distance is astronomically large anyway).
    same_sign = (ia < 0) == (ib < 0)
    with np.errstate(over="ignore"):
        d_same = np.abs(ia - ib).astype(np.float64)
    d_opposite = np.abs(ia).astype(np.float64) + np.abs(ib).astype(np.float64)
    d = np.where(same_sign, d_same, d_opposite)
    an, bn = np.isnan(a), np.isnan(b)
    d = np.where(an & bn, 0.0, d)
    return np.where(an ^ bn, np.inf, d)


@refuses_out_of_memory("max_ulp")
def max_ulp(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise ULP distance (0 for empty arrays)."""
    d = ulp_distance(a, b)
    return float(d.max()) if d.size else 0.0


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


@refuses_out_of_memory("same_bits")
def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bit patterns, except that any NaN equals any NaN (float16, bfloat16,
    float32, float64 and complex; any other dtype: the same bytes).

    The sign and payload of a NaN are not part of the contract: when both
    operands of ``p + u`` are NaN, IEEE 754 lets the result be either, x86
    returns the first operand's, and compilers may swap the operands of an
    addition. Everything else, the sign of zero and subnormals included,
    must match to the bit.

    >>> same_bits(np.float32([0.0, np.nan]), np.float32([-0.0, np.nan]))
    False
    >>> same_bits(np.float32([np.nan]), -np.float32([np.nan]))
    True
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if np.iscomplexobj(a):
        return same_bits(a.real, b.real) and same_bits(a.imag, b.imag)
    if not (a.dtype.kind == "f" or is_low_precision(a.dtype)) or a.dtype.itemsize not in _UINT:
        return a.tobytes() == b.tobytes()  # no NaN: the bytes
    u = _UINT[a.dtype.itemsize]
    equal = a.view(u) == b.view(u)
    return bool(np.all(equal | (np.isnan(a) & np.isnan(b))))
