"""An exact fused multiply-add, ``a*b + c`` rounded once, for NumPy arrays.

NumPy has no fma, and Python's ``math.fma`` arrived in 3.13. PyTorch's CPU
kernels use one (``addcmul_`` and ``add(alpha=)`` are ``fmadd`` on vectors),
so the PyTorch convention needs it to reproduce torch's bits. LLVM's
``llvm.fma`` intrinsic is exact by definition: a hardware FMA instruction
where there is one, the C library's ``fma`` otherwise.

>>> a = np.float32(1 + 2**-12)
>>> float(fma(a, a, np.float32(-1))) == 2**-11 + 2**-24   # a*a - 1 without rounding the product
True
>>> float(a * a - np.float32(1)) == 2**-11                 # two roundings lose the 2**-24
True
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit
from numba.extending import intrinsic

__all__ = ["fma"]


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    sig = a(a, b, c)

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, error_model="numpy")
def _fma_loop(a, b, c, out):
    for i in range(out.size):
        out[i] = _llvm_fma(a[i], b[i], c[i])


def fma(a, b, c) -> np.ndarray:
    """Elementwise ``a*b + c`` with one rounding; float32 or float64, broadcast like NumPy.

    The result has the dtype of ``c`` and every input is cast to it first.
    """
    c = np.asarray(c)
    dtype = c.dtype
    if dtype.type not in (np.float32, np.float64):
        raise TypeError(f"fma takes float32 or float64, got {dtype}")
    a, b, c = (np.asarray(x, dtype=dtype, order="C") for x in np.broadcast_arrays(a, b, c))  # keeps 0-d
    out = np.empty(c.shape, dtype)
    _fma_loop(a.reshape(-1), b.reshape(-1), c.reshape(-1), out.reshape(-1))
    return out
