"""The in-place kernels' refusals, explained: one :class:`AdagradError` line naming the argument.

:mod:`adagrad_ref.fast.kernels` checks everything inside its compiled call; only a refused
call comes here, to say what was wrong (nothing has been written then).
"""

from __future__ import annotations

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.numerics.lowprec import is_low_precision
from adagrad_ref.validation import check_hyperparameter, check_learning_rate, in_dtype

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # native byte order

# What the compiled entries of kernels.py answer. 0: stepped. Any other: nothing was written.
STEPPED = 0
UNTYPED = -1  #: not called: an argument Numba cannot type (a list, float16, a JAX array) or a subclass
FOREIGN_TYPES = (
    1  #: types the compiled path does not take (an int η, a big-endian array): known at compile time
)
SHAPES = 2  #: the arrays' shapes differ
OVERLAP = 3  #: two arrays share memory
HYPERPARAMETERS = 4  #: η or ε not finite in the arrays' dtype, or ε < 0
ROW_OUT_OF_RANGE = 5  #: sparse step: a row index outside the table
GO_PARALLEL = 6  #: not a refusal: every check passed, nothing written, run the parallel kernel
#: Refused only for their types: converted (plain views, Python floats), the compiled entry then steps.
CONVERTIBLE = (UNTYPED, FOREIGN_TYPES)


def plain_views(**named):
    """An ndarray subclass (np.matrix) as a plain view of its memory; a masked array is refused, as
    :func:`adagrad_ref.adagrad` refuses it: the step would ignore its mask."""
    for name, a in named.items():
        if isinstance(a, np.ma.MaskedArray):
            raise AdagradError(
                f"{name} is a masked array; the in-place step would ignore its mask: pass {name}.data"
            )
    return [
        a.view(np.ndarray) if isinstance(a, np.ndarray) and type(a) is not np.ndarray else a
        for a in named.values()
    ]


def retry(entry, *args) -> int:
    """The entry again, once the arguments were explained; never a raw Numba error."""
    try:
        return entry(*args)
    except Exception:  # pragma: no cover - every refusal is explained before
        raise AdagradError(f"the Numba kernel refused the arguments of {entry.__name__}") from None


def dtype_problem(name: str, a: np.ndarray) -> str | None:
    if a.dtype in KERNEL_DTYPES:
        return None
    if a.dtype.kind == "f" and a.dtype.newbyteorder("=") in KERNEL_DTYPES:
        order = "big" if a.dtype.byteorder == ">" else "little"
        return (
            f"{name} has dtype {a.dtype.str} ({order}-endian); the Numba kernel takes native-byte-order "
            f"float32 or float64: pass {name}.astype({name}.dtype.newbyteorder('='))"
        )
    if is_low_precision(a.dtype):
        return (
            f"{name} has dtype {a.dtype}; the Numba kernel takes float32 or float64 (the dense in-place "
            "step also bfloat16 or float16, when params, grads and sum_of_squares all have that dtype)"
        )
    return (
        f"{name} has dtype {a.dtype}; the Numba kernel takes float32 or float64 (the dense in-place step "
        "also bfloat16 or float16)"
    )


def explain_arrays(named: tuple, same_shape: bool, low_precision: bool = False) -> None:
    """The first of: not an ndarray, wrong dtype, not C-contiguous, dtype or shape unlike the first,
    read-only where written (the first and last), memory shared between two. ``low_precision``: the
    dense step's bfloat16/float16 kernel, which also takes those dtypes."""
    first_name, first = named[0]
    for name, a in named:
        if not isinstance(a, np.ndarray):
            raise AdagradError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        problem = None if low_precision and is_low_precision(a.dtype) else dtype_problem(name, a)
        if problem:
            raise AdagradError(problem)
        if not a.flags.c_contiguous:
            raise AdagradError(f"{name} is not C-contiguous; pass np.ascontiguousarray({name})")
    for name, a in named[1:]:
        if a.dtype != first.dtype:
            raise AdagradError(f"{name} has dtype {a.dtype}; expected {first.dtype} as {first_name}")
        if same_shape and a.shape != first.shape:
            raise AdagradError(f"{name} has shape {a.shape}; expected {first.shape} as {first_name}")
    for name, a in (named[0], named[-1]):
        if not a.flags.writeable:
            raise AdagradError(f"{name} is read-only; the in-place step writes to it")
    for i, (n1, a1) in enumerate(named):
        for n2, a2 in named[i + 1 :]:
            if np.may_share_memory(a1, a2):
                raise AdagradError(f"{n1} and {n2} share memory; the in-place step needs separate buffers")


def explain_hyperparameters(learning_rate, eps, dtype) -> tuple[float, float]:
    """η and ε checked as everywhere else, and finite in the arrays' ``dtype``, returned as Python
    floats (the fast path's types)."""
    if callable(learning_rate):
        raise AdagradError("learning_rate must be this step's number; evaluate the schedule before the call")
    learning_rate, eps = float(check_learning_rate(learning_rate)), check_hyperparameter("eps", eps)
    in_dtype("learning_rate", learning_rate, dtype)
    in_dtype("eps", eps, dtype)
    return learning_rate, eps
