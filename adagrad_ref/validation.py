"""Checks on hyperparameters and on the arrays of a pytree, shared by both backends.

Everything here runs *before* any state is computed, so a bad call never leaves
half-updated state behind. Messages are one line and name the offending value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from adagrad_ref.errors import AdagradError

__all__ = [
    "SUPPORTED_DTYPES",
    "check_hyperparameter",
    "check_leaf_dtype",
    "check_learning_rate",
    "check_schedule_value",
]

#: Dtypes the optimizer accepts for params, grads and accumulators.
SUPPORTED_DTYPES = (np.float32, np.float64, np.complex64, np.complex128)


def _as_real_scalar(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise AdagradError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    arr = np.asarray(value)
    if arr.shape != () or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise AdagradError(f"{name} must be a real scalar, got {arr.dtype} array of shape {arr.shape}")
    return float(arr)


def check_hyperparameter(name: str, value: Any) -> float:
    """``eps`` and ``initial_accumulator_value``: finite and >= 0.

    >>> check_hyperparameter("eps", 1e-7)
    1e-07
    >>> check_hyperparameter("eps", -1.0)
    Traceback (most recent call last):
    ...
    adagrad_ref.errors.AdagradError: eps must be finite and >= 0, got -1.0
    """
    v = _as_real_scalar(name, value)
    if not math.isfinite(v) or v < 0:
        raise AdagradError(f"{name} must be finite and >= 0, got {v!r}")
    return v


def check_learning_rate(value: Any) -> float | Callable[[int], Any]:
    """A finite number, or a schedule ``count -> learning rate`` (checked at each step)."""
    if callable(value):
        return value
    v = _as_real_scalar("learning_rate", value)
    if not math.isfinite(v):
        raise AdagradError(f"learning_rate must be finite, got {v!r}")
    return v


def check_schedule_value(value: Any, count: int) -> float:
    """What a schedule returned at ``count``: a finite real scalar."""
    try:
        v = _as_real_scalar(f"learning_rate({count})", value)
    except AdagradError as e:
        raise AdagradError(f"schedule: {e}") from None
    if not math.isfinite(v):
        raise AdagradError(f"schedule: learning_rate({count}) returned {v!r}; it must be finite")
    return v


def check_leaf_dtype(path: str, arr: np.ndarray) -> None:
    """Params must be float32, float64, complex64 or complex128.

    float16 is refused rather than half-supported: XLA computes float16 in
    float32 and rounds per fused kernel, so there is no single bit-exact
    answer to be a reference for, and g**2 overflows float16 at |g| > 256.
    """
    if arr.dtype.type in SUPPORTED_DTYPES:
        return
    if arr.dtype == np.float16:
        raise AdagradError(
            f"{path} is float16; Adagrad's g**2 overflows float16 for |g| > 256 and optax computes "
            "it in float32 anyway: convert the params to float32"
        )
    raise AdagradError(f"{path} has dtype {arr.dtype}; expected float32 or float64 (or complex64/complex128)")
