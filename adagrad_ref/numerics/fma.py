"""An exact fused multiply-add, ``a*b + c`` rounded once, for NumPy arrays, in pure NumPy.

NumPy has no fma, and Python's ``math.fma`` arrived in 3.13. PyTorch's CPU
kernels use one (``addcmul_`` and ``add(alpha=)`` are ``fmadd`` on vectors),
so the PyTorch convention needs it to reproduce torch's bits, and XLA computes
a complex ``|g|²`` as ``fma(re, re, im*im)``. This module computes it with
ordinary NumPy operations (round to nearest, ties to even), so that the NumPy
reference does not load a compiler.

>>> a = np.float32(1 + 2**-12)
>>> float(fma(a, a, np.float32(-1))) == 2**-11 + 2**-24   # a*a - 1 without rounding the product
True
>>> float(a * a - np.float32(1)) == 2**-11                 # two roundings lose the 2**-24
True

The algorithm
-------------
Rounding to odd, written RO, keeps the truncated value and sets its last bit
whenever the rounding was inexact. Its use (S. Boldo and G. Melquiond,
"Emulation of a FMA and correctly rounded sums: proved algorithms using rounding
to odd", IEEE Transactions on Computers 57(4), 2008, pp. 462-471) is that a
value rounded to odd at ``p + 2`` bits or more, then rounded to nearest at
``p`` bits, is the value rounded to nearest at ``p`` bits directly: no double
rounding. RO is computed here from an ordinary sum ``s = x + y`` and its exact
error ``e`` (TwoSum): if ``e != 0`` and the last bit of ``s`` is even, step
``s`` one unit towards ``e`` (``nextafter``).

*float32.* The product of two float32 numbers (24 bits each) is exact in
float64 (53 bits). The float64 sum with ``c`` is rounded to odd, then to float32
(53 >= 24 + 2, so this is the correctly rounded result, subnormal float32
results included, since they are normal float64 numbers). Overflow to ±Inf and
the Inf/NaN rules follow from the exact float64 product.

*float64.* Boldo and Melquiond's emulated FMA::

    (uh, ul) = ExactMult(a, b)      # Dekker's product with Veltkamp's split: uh + ul = a*b
    (th, tl) = TwoSum(c, uh)        # th + tl = c + uh
    v = RO(tl + ul)
    z = RN(th + v)                  # = RN(a*b + c)

which they prove for operations that neither overflow nor underflow. To keep
every intermediate in range, ``a`` and ``b`` are scaled to their mantissas in
[1/2, 1) (``frexp``), so that ``a*b = ma*mb * 2**E`` with ``ma*mb`` in [1/4, 1),
and ``c`` by the same ``2**-E``, clamped: where ``|c| >= 2**(E+55)`` the result
is ``c`` itself (the product is below an eighth of its last place); where
``|c| < 2**(E-111)`` only its sign can matter (the exact product is a multiple
of ``2**(E-106)``, and so is every rounding boundary near it) and ``c`` is
replaced by a value of the same sign below ``2**(E-110)``. The result is then
scaled back by ``2**E`` exactly, overflowing to ±Inf where it must.

A result below the smallest normal number has a coarser last place than 53
bits, so scaling it back would round twice. There, with ``K = ±2**-1022`` (the
sign of the result, in the scaled units), ``RN(K + x) - K`` is ``x`` rounded
once to the subnormal grid, and ``RN(K + th + v)`` is computed with the same
paper's correctly rounded sum of three numbers (two TwoSums, RO, RN). That the
odd-rounded ``th + v`` stands for the exact ``x`` on this coarser grid too is
what the tests check, on hundreds of thousands of subnormal results each run.

Zeros, infinities and NaNs take IEEE 754's rules directly: a finite product
plus an infinite ``c`` is ``c`` (even where ``a*b`` alone would overflow); an
infinite or NaN product (``Inf * 0`` is NaN) plus ``c`` is what NumPy's
``a*b + c`` gives; a zero ``c`` leaves the correctly rounded product ``a*b``
(whose sign survives underflow); a zero ``a`` or ``b`` gives ``a*b + c``.

``tests/numerics/test_fma.py`` checks the result bit for bit against the hardware FMA
(LLVM's ``llvm.fma`` through Numba, test-only) on millions of values and
against exact rational arithmetic.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fma"]

_SPLIT = 2.0**27 + 1  # Veltkamp's constant for 53-bit doubles
_BLOCK = 1 << 15  # elements per block: the intermediates stay in the CPU's cache


def _two_sum(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's TwoSum: ``s = RN(x + y)`` and ``e`` with ``s + e == x + y`` exactly (no overflow)."""
    s = x + y
    yy = s - x
    return s, (x - (s - yy)) + (y - yy)


def _two_prod(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's product: ``p = RN(x*y)``, ``e`` with ``p + e == x*y`` exactly (``x``, ``y`` in [1/2, 1))."""
    t = _SPLIT * x
    xh = t - (t - x)
    xl = x - xh
    t = _SPLIT * y
    yh = t - (t - y)
    yl = y - yh
    p = x * y
    return p, ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _round_to_odd(s: np.ndarray, e: np.ndarray, exact: np.ndarray | bool = True) -> np.ndarray:
    """The odd-rounded value of ``s + e`` (``s = RN(s + e)``, ``e`` its error), where ``exact`` holds."""
    bits = s.view(np.uint64 if s.dtype == np.float64 else np.uint32)
    step = exact & (e != 0) & ((bits & 1) == 0)
    return np.where(step, np.nextafter(s, np.copysign(np.inf, e)), s)


def _ro_add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _round_to_odd(*_two_sum(x, y))


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a.astype(np.float64) * b.astype(np.float64)  # exact, Inf/NaN by IEEE's rules
    c = c.astype(np.float64)
    s, e = _two_sum(p, c)
    return _round_to_odd(s, e, np.isfinite(s)).astype(np.float32)


def _fma64_general(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a``, ``b``, ``c`` finite and non-zero."""
    ma, ea = np.frexp(a)
    mb, eb = np.frexp(b)
    mc, ec = np.frexp(c)
    E = ea + eb  # a*b = ma*mb * 2**E, ma*mb in [1/4, 1)
    d = ec - E
    cs = np.ldexp(mc, np.clip(d, -110, 55))  # c / 2**E, exact, or a stand-in of the same sign
    uh, ul = _two_prod(ma, mb)
    th, tl = _two_sum(cs, uh)
    v = _ro_add(tl, ul)
    z = th + v  # RN(a*b + c) / 2**E
    out = np.ldexp(z, E)
    limit = np.ldexp(1.0, -1022 - E)  # the smallest normal number, in these units
    sub = (z != 0) & (np.abs(z) <= limit)
    if sub.any():
        K = np.copysign(limit[sub], z[sub])
        u2h, u2l = _two_sum(th[sub], v[sub])
        t2h, t2l = _two_sum(K, u2h)
        z2 = t2h + _ro_add(t2l, u2l)  # RN(K + x): x rounded to the subnormal grid, plus K
        out[sub] = np.copysign(np.ldexp(z2 - K, E[sub]), z[sub])  # exact: a multiple of 2**-1074
    return np.where(d > 55, c, out)


def _fma64(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    finite_ab = np.isfinite(a) & np.isfinite(b)
    general = finite_ab & np.isfinite(c) & (a != 0) & (b != 0) & (c != 0)
    if general.all():
        return _fma64_general(a, b, c)
    out = a * b + c  # right where the product is Inf/NaN or zero (its sign included)
    out = np.where(finite_ab & ~np.isfinite(c), c, out)  # a finite product never overflows: c wins
    out = np.where(finite_ab & (c == 0) & (a != 0) & (b != 0), a * b, out)  # one rounding of a*b
    if general.any():
        out[general] = _fma64_general(a[general], b[general], c[general])
    return out


def fma(a, b, c) -> np.ndarray:
    """Elementwise ``a*b + c`` with one rounding; float32 or float64, broadcast like NumPy.

    The result has the dtype of ``c`` and every input is cast to it first.
    """
    c = np.asarray(c)
    dtype = c.dtype
    if dtype.type not in (np.float32, np.float64):
        raise TypeError(f"fma takes float32 or float64, got {dtype}")
    a, b, c = np.broadcast_arrays(np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype), c)
    shape = c.shape
    a, b, c = (np.ravel(x) for x in (a, b, c))  # 1-D: boolean indexing also works for 0-d input
    kernel = _fma32 if dtype.type is np.float32 else _fma64
    out = np.empty(c.size, dtype)
    with np.errstate(all="ignore"):
        for i in range(0, c.size, _BLOCK):
            j = slice(i, i + _BLOCK)
            out[j] = kernel(a[j], b[j], c[j])
    return out.reshape(shape)
