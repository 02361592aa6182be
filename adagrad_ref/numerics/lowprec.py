r"""bfloat16 and float16 leaves: Adagrad as optax computes it on them, every operation rounded once.

The rule, measured against optax 0.2.8 / jax 0.10.2 on CPU (eager for both formats, jitted for
bfloat16; ``tests/numerics/test_low_precision_optax.py`` compares every bit):

* every operation of :func:`adagrad_ref.reference.update_leaf` is computed in float32 on the
  operands converted exactly to float32, and its result rounded to the leaf's dtype
  (round to nearest, ties to even): ``g*g``, ``+ G``, ``+ eps``, ``* g``, ``* (-lr)``, ``w + u``.
  float32 has at least 2p + 2 bits for a format of p bits (24 >= 2*11 + 2, an equality for
  float16), so each of these is also the correctly rounded operation of the format itself: double
  rounding cannot show (Figueroa 1995, "When is double rounding innocuous?"). Native low-precision
  hardware gives the same bits only if it fuses nothing and flushes as the third point says.
* the inverse square root is *one* operation, as optax's ``jax.lax.rsqrt``: ``1/sqrt`` computed in
  float32 and rounded once, not ``sqrt`` rounded and then ``1/`` rounded (that differs for 9,017 of
  the 65,536 bfloat16 inputs and 8,402 of the float16 ones: docs/low_precision.md). XLA's float32
  rsqrt is itself within 2 ULP of ``1/sqrt``, but over every one of the 65,536 inputs of each format
  the rounded result is the same (asserted exhaustively);
* bfloat16 only: XLA's CPU code runs with flush-to-zero and denormals-are-zero, and a bfloat16
  subnormal is a float32 subnormal. So every operand below 2**-126 in magnitude is read as a zero
  of its sign (the ``G > 0`` guard included), and every float32 result below 2**-126 becomes a zero
  of its sign before it is rounded. float16's subnormals are normal float32 numbers: they are kept;
* the hyperparameters are rounded to the leaf's dtype first, as jax's weak types do: ``lr`` and
  ``eps`` through float32 (Python float -> float32 -> dtype, eager optax), and
  ``initial_accumulator_value`` by ``np.full`` (float16: directly from the float64; bfloat16:
  ml_dtypes' cast goes through float32 too). Jitted float16 optax rounds ``lr`` and ``eps``
  directly from the float64: the one difference found between jitted and eager float16 optax.

>>> import numpy as np
>>> g = np.float16([3.0, 0.0]); G = np.float16([0.1, 0.0])
>>> u, G = update_leaf(g, G, 0.1, 1e-7)
>>> u, G
(array([-0.0994, -0.    ], dtype=float16), array([9.1, 0. ], dtype=float16))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adagrad_ref.errors import overflow

__all__ = [
    "FLOAT32_TINY",
    "add",
    "flushes",
    "hyperparameter",
    "is_low_precision",
    "largest_finite",
    "rsqrt",
    "scalar",
    "update_leaf",
]

#: The smallest normal float32 (and bfloat16) number, 2**-126.
FLOAT32_TINY = np.float32(2.0**-126)
_F32 = np.float32


def is_low_precision(dtype: Any) -> bool:
    """float16, or ml_dtypes' bfloat16 (recognised by name: no import of ml_dtypes needed)."""
    dtype = np.dtype(dtype)
    return dtype == np.float16 or (dtype.kind == "V" and dtype.name == "bfloat16")


def flushes(dtype: Any) -> bool:
    """Whether optax on CPU flushes this format's subnormals (bfloat16: yes; float16: no)."""
    return np.dtype(dtype).name == "bfloat16"


def scalar(value: float, dtype: Any) -> np.ndarray:
    """A hyperparameter in the leaf's dtype, as jax rounds a weakly typed Python float: via float32."""
    return np.asarray(np.float32(value)).astype(dtype)


_LARGEST: dict[np.dtype, float] = {}


def largest_finite(dtype: Any) -> float:
    """The largest finite value of the 2-byte ``dtype``, exactly (``65504.0`` for float16)."""
    big = _LARGEST.get(dtype)  # (a leaf's dtype: no conversion on the step's path)
    if big is None:
        dt = np.dtype(dtype)
        big = _LARGEST[dtype] = float(np.nextafter(np.array(np.inf, dt), np.array(0, dt)))
    return big


def hyperparameter(name: str, value: float, dtype: Any, negate: bool = False) -> np.ndarray:
    """:func:`scalar` of ``value`` (of ``-value`` if ``negate``); a finite value that rounds to Inf is
    refused, as :func:`adagrad_ref.validation.in_dtype` refuses it for the other dtypes (a schedule's
    η of 1e39 on bfloat16 would act as infinity).

    >>> hyperparameter("learning_rate", 1e5, np.float16)
    Traceback (most recent call last):
    ...
    adagrad_ref.errors.AdagradError: learning_rate 100000.0 overflows float16 (largest finite 65504.0)
    """
    if abs(value) <= largest_finite(dtype):  # the common case: it cannot overflow (a NaN goes below)
        return scalar(-value if negate else value, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        r = scalar(-value if negate else value, dtype)
    if math.isfinite(value) and not np.isfinite(r.astype(_F32)):
        raise overflow(name, float(value), np.dtype(dtype), repr(largest_finite(dtype)))
    return r


def _read(a: np.ndarray, flush: bool) -> np.ndarray:
    """The operand as float32 (exact); denormals-are-zero where the format flushes."""
    x = np.asarray(a).astype(_F32)
    return np.where(np.abs(x) < FLOAT32_TINY, np.copysign(_F32(0), x), x) if flush else x


def _round(x: np.ndarray, dtype: Any, flush: bool) -> np.ndarray:
    """A float32 result rounded once to ``dtype``; flush-to-zero first where the format flushes."""
    x = np.asarray(x, _F32)
    if flush:
        x = np.where(np.abs(x) < FLOAT32_TINY, np.copysign(_F32(0), x), x)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond the max: Inf; NaN stays NaN
        return x.astype(dtype)


def update_leaf(g: np.ndarray, sum_of_squares: np.ndarray, learning_rate: float, eps: float):
    """:func:`adagrad_ref.reference.update_leaf` for a bfloat16 or float16 leaf: the same lines, each
    computed in float32 and rounded once to the leaf's dtype (``1/sqrt`` is one operation)."""
    dt = sum_of_squares.dtype
    fl = flushes(dt)

    def f(a):  # an operand, read as float32
        return _read(a, fl)

    def r(x):  # a result, rounded to the leaf's dtype
        return _round(x, dt, fl)

    minus_eta = hyperparameter("learning_rate", learning_rate, dt, negate=True)  # -η, via float32
    e = hyperparameter("eps", eps, dt)
    with np.errstate(all="ignore"):
        gg = r(f(g) * f(g))  # g²
        G = r(f(gg) + f(sum_of_squares))  # G_t = g² + G_{t-1}
        inv = rsqrt(r(f(G) + f(e)))  # rsqrt(G_t + ε): one rounding
        s = np.where(f(G) > 0, inv, np.zeros((), dt))  # the guard, on G read as float32
        u = r(f(s) * f(g))  # s · g
        u = r(f(minus_eta) * f(u))  # (-η) · u
    return np.asarray(u), np.asarray(G)


def rsqrt(x: np.ndarray) -> np.ndarray:
    """``jax.lax.rsqrt`` on a bfloat16 or float16 array: ``1/sqrt`` in float32, rounded once.

    >>> import ml_dtypes
    >>> rsqrt(np.array([2.0, 0.0, 1e-39], ml_dtypes.bfloat16))  # 1e-39: subnormal, read as 0
    array([0.707031, inf, inf], dtype=bfloat16)
    """
    fl = flushes(x.dtype)
    with np.errstate(all="ignore"):
        return _round(_F32(1) / np.sqrt(_read(x, fl)), x.dtype, fl)


def add(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``optax.apply_updates`` for one leaf where either side is bfloat16 or float16: ``p + u`` in the
    type jax promotes to (bfloat16 or float16 with itself; float32 with the other format or with
    float32; float64 with float64), rounded once to ``p``'s dtype."""
    p, u = np.asarray(p), np.asarray(u)
    with np.errstate(all="ignore"):
        if p.dtype == u.dtype:  # one low-precision format: its own operation
            fl = flushes(p.dtype)
            return _round(_read(p, fl) + _read(u, fl), p.dtype, fl)
        wide = np.result_type(*(np.float32 if is_low_precision(a.dtype) else a.dtype for a in (p, u)))
        if wide != np.float32:  # float64 or complex: the low-precision side converted exactly, IEEE add
            x = _exact(p).astype(wide) + _exact(u).astype(wide)
            return x.astype(p.dtype) if not is_low_precision(p.dtype) else _round(x.real, p.dtype, False)
        flush = flushes(p.dtype) or flushes(u.dtype)  # XLA's float32 arithmetic flushes (as for bfloat16)
        return _round(_read(p, flush) + _read(u, flush), p.dtype, flush)


def _exact(a: np.ndarray) -> np.ndarray:
    return a.astype(_F32) if is_low_precision(a.dtype) else a
