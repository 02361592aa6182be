r"""``torch.optim.Adagrad`` on bfloat16 and float16 tensors (CPU), its three code paths to the bit.

Measured against torch 2.13 on CPU (``tests/conventions/test_low_precision_torch.py`` compares every bit).
Each
path computes in float32 (torch's "opmath" type) and rounds to the tensor's dtype where it writes a
tensor; they differ in *where* they round, so they give different bits:

``single`` (``foreach=False``)::

    G = rnd(G + g*g)                      # addcmul_: one rounding (g*g is exact in float32)
    d = rnd(rnd(sqrt(G)) + rnd(eps))      # sqrt(), then add_(eps): eps rounded to the dtype first
    w = rnd(w + ((-clr)*g)/d)             # addcdiv_: one rounding; -clr a float32 scalar

``foreach`` (``foreach=True``, torch's default on CPU for a list of tensors)::

    G, d as single
    n = rnd((-clr)*g)                     # _foreach_mul: the numerator is rounded ...
    w = rnd(w + n/d)                      # ... before _foreach_addcdiv_

``fused`` (``fused=True``)::

    S = G + g*g  (float32, kept)          # the accumulator is rounded only when stored:
    G = rnd(S)
    d = sqrt(S) + rnd(eps)                # sqrt of the unrounded sum; d not rounded
    w = rnd(w - (rnd(clr)*g)/d)           # clr rounded to the dtype
                                          # (the scalar loop over the last size % vector_size
                                          #  elements: clr and eps not rounded)

``rnd`` is round-to-nearest-even from float32; torch keeps subnormals (no flush-to-zero), in both
formats. ``clr = lr / (1 + (step - 1)*lr_decay)`` in float64, as torch computes it. Weight decay and
``maximize`` are not reproduced here (the float32 convention has them: :mod:`adagrad_ref.conventions`).

>>> import numpy as np
>>> w, G = step(np.float16([1.0]), np.float16([2.0]), np.float16([0.0]), 0.1, 1e-10, "single")
>>> w, G
(array([0.9], dtype=float16), array([4.], dtype=float16))
"""

from __future__ import annotations

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.numerics.lowprec import is_low_precision, scalar

__all__ = ["PATHS", "step"]

#: torch.optim.Adagrad's code paths: foreach=False, foreach=True, fused=True.
PATHS = ("single", "foreach", "fused")
_F32 = np.float32


def step(
    w: np.ndarray, g: np.ndarray, G: np.ndarray, clr: float, eps: float, path: str = "single",
    vector_size: int = 16,
):  # fmt: skip
    """One ``torch.optim.Adagrad`` step on one bfloat16 or float16 tensor; returns ``(w, G)``.

    ``clr`` is this step's rate, ``lr / (1 + (step - 1)*lr_decay)``; ``path`` one of :data:`PATHS`.
    ``vector_size`` (fused only): the float32 lanes of torch's CPU vectors (16 with AVX-512, measured;
    8 with AVX2, not measured); the last ``size % vector_size`` elements take the kernel's scalar
    loop, which does not round ``clr`` and ``eps`` to the dtype (float32 or float64 arithmetic there:
    the two gave the same bits on every value tried).
    """
    if path not in PATHS:
        raise AdagradError(f"path must be one of {PATHS}, got {path!r}")
    dt = G.dtype
    if not is_low_precision(dt) or w.dtype != dt or g.dtype != dt:
        raise AdagradError(
            f"w, g and G must share one bfloat16 or float16 dtype, got {w.dtype}, {g.dtype}, {dt}"
        )

    def f(a):
        return np.asarray(a).astype(_F32)

    def rnd(x):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(x, _F32).astype(dt)

    e = f(scalar(eps, dt))
    with np.errstate(all="ignore"):
        S = f(G) + f(g) * f(g)
        G = rnd(S)
        if path == "fused":
            tail = np.arange(G.size).reshape(G.shape) >= G.size - G.size % vector_size
            c = np.where(tail, _F32(clr), f(scalar(clr, dt)))  # the scalar loop: clr, eps not rounded
            d = np.sqrt(S) + np.where(tail, _F32(eps), e)
            return rnd(f(w) - (c * f(g)) / d), G
        d = f(rnd(f(rnd(np.sqrt(f(G)))) + e))
        minus_clr = _F32(-clr)
        if path == "foreach":
            return rnd(f(w) + f(rnd(minus_clr * f(g))) / d), G
        return rnd(f(w) + (minus_clr * f(g)) / d), G
