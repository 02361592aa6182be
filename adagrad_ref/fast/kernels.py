"""The fast CPU core: the reference's formula as one fused Numba loop.

Each element goes through :func:`_adagrad_element`, the same order of
operations as :func:`adagrad_ref.reference.update_leaf`, so the two agree bit
for bit. What keeps them equal:

* no ``fastmath``: ``contract`` alone lets LLVM fuse ``g*g + G`` into an FMA
  (measured: 1 % of accumulators change), ``fastmath=True`` also rewrites
  ``1/sqrt`` (52 % of float32 updates change), and the other flags license
  such rewrites or assume away NaN and Inf;
* every scalar is of the array's dtype: Numba types a Python float, or the
  literal ``1.0``, as float64, and float32 arithmetic mixed with a float64
  scalar is silently done in float64. The constants 1 and 0 are made with
  ``dtype.type(...)`` and the hyperparameters are cast before the call;
* the ``G > 0`` guard is a select, not a branch with side effects, and
  ``error_model="numpy"`` drops Python's zero-division check from the
  division, so LLVM vectorises the loop (packed ``vsqrtps``/``vdivps``).

All functions use ``cache=True``: a second process loads the machine code
from ``__pycache__`` instead of compiling again.

>>> import numpy as np
>>> p = np.array([1.0, 2.0, 3.0], np.float32)
>>> G = np.full(3, 0.1, np.float32)
>>> adagrad_step_inplace(p, 2 * p, G, 1.0, 1e-7)
>>> p, G
(array([0.01227039, 1.0031104 , 2.001386  ], dtype=float32), array([ 4.1, 16.1, 36.1], dtype=float32))
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.core.errors import NumbaError
from numba.extending import overload

from adagrad_ref.errors import AdagradError
from adagrad_ref.validation import check_hyperparameter, check_learning_rate

__all__ = ["PARALLEL_MIN_BYTES", "adagrad_step_inplace", "sparse_step_inplace", "update_leaf"]

#: From arrays of this many bytes on, :func:`adagrad_step_inplace` runs on all cores
#: (12,288 float32 or 6,144 float64 elements). Measured on 2 cores: one core is
#: faster up to about 10,000 float32 / 4,000 float64 elements, where the threads'
#: start-up (about 2 us) outweighs the halved loop. Each element is independent,
#: so this changes no bit of the result.
PARALLEL_MIN_BYTES = 48 * 1024

_KERNEL_DTYPES = (np.float32, np.float64)


@njit(cache=True, error_model="numpy", inline="always")
def _adagrad_element(g, G, neg_lr, eps, one, zero):
    G = g * g + G  # G_t = g_t² + G_{t-1}
    s = one / np.sqrt(G + eps) if G > zero else zero  # (G_t + ε)^(-1/2), 0 where G_t = 0
    u = neg_lr * (s * g)  # u_t = -η · g_t / √(G_t + ε)
    return u, G


@njit(cache=True, error_model="numpy")
def _update_kernel(g, G_in, neg_lr, eps, u_out, G_out):
    """Out of place, for ``Adagrad.update``: writes ``u_out`` and ``G_out``."""
    one = G_in.dtype.type(1)
    zero = G_in.dtype.type(0)
    for i in range(g.size):
        u_out[i], G_out[i] = _adagrad_element(g[i], G_in[i], neg_lr, eps, one, zero)


@njit(cache=True, error_model="numpy")
def _step_kernel(p, g, G, neg_lr, eps):
    """In place, one pass: G and p are overwritten; w_{t+1} = w_t + u_t."""
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    for i in range(p.size):
        u, G[i] = _adagrad_element(g[i], G[i], neg_lr, eps, one, zero)
        p[i] = p[i] + u


@njit(cache=True, error_model="numpy", parallel=True)
def _step_kernel_parallel(p, g, G, neg_lr, eps):
    """:func:`_step_kernel` with the loop split across threads."""
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    for i in prange(p.size):
        u, G[i] = _adagrad_element(g[i], G[i], neg_lr, eps, one, zero)
        p[i] = p[i] + u


def _hyperparameter_types_ok(lr, eps) -> bool:
    """At compile time: η and ε are real numbers (a bool is refused, as in the Python checks)."""
    return all(
        isinstance(h, (types.Float, types.Integer)) and not isinstance(h, types.Boolean) for h in (lr, eps)
    )


@njit(cache=True, error_model="numpy", inline="always")
def _hyperparameters_ok(learning_rate, eps):
    """At run time: η finite, ε finite and >= 0 (what validation.check_* require)."""
    return np.isfinite(learning_rate) and np.isfinite(eps) and eps >= 0


def _types_ok(p, g, G, lr, eps):
    """Compile-time check (see its overload): may the fast path take these argument types?"""


@overload(_types_ok)
def _types_ok_overload(p, g, G, lr, eps):
    arrays = (p, g, G)
    good = (
        all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)
        and p.dtype in (types.float32, types.float64)
        and p.dtype == g.dtype == G.dtype
        and p.ndim == g.ndim == G.ndim
        and p.mutable
        and G.mutable
        and _hyperparameter_types_ok(lr, eps)
    )
    if good:
        return lambda p, g, G, lr, eps: True
    return lambda p, g, G, lr, eps: False


@njit(cache=True, error_model="numpy", inline="always")
def _overlap(a, b):
    a0, b0 = a.ctypes.data, b.ctypes.data
    return a.nbytes > 0 and b.nbytes > 0 and a0 < b0 + b.nbytes and b0 < a0 + a.nbytes


@njit(cache=True, error_model="numpy")
def _step_entry(p, g, G, learning_rate, eps, parallel):
    """Checks and the step in one compiled call; returns 0, or a code for the slow path to explain.

    ``parallel``: 1 all cores, 0 one core, -1 all cores for arrays of PARALLEL_MIN_BYTES or more.
    """
    if not _types_ok(p, g, G, learning_rate, eps):
        return 1
    if p.shape != g.shape or p.shape != G.shape:
        return 2
    if _overlap(p, g) or _overlap(p, G) or _overlap(g, G):
        return 3
    if not _hyperparameters_ok(learning_rate, eps):
        return 4
    # η and ε rounded to the arrays' dtype, as NumPy rounds a Python float.
    neg_lr = G.dtype.type(-learning_rate)
    eps_ = G.dtype.type(eps)
    n = p.size
    if parallel == 1 or (parallel == -1 and n * p.itemsize >= PARALLEL_MIN_BYTES):
        _step_kernel_parallel(p.reshape(n), g.reshape(n), G.reshape(n), neg_lr, eps_)
    else:
        _step_kernel(p.reshape(n), g.reshape(n), G.reshape(n), neg_lr, eps_)
    return 0


def adagrad_step_inplace(
    params: np.ndarray,
    grads: np.ndarray,
    sum_of_squares: np.ndarray,
    learning_rate: float,
    eps: float = 1e-7,
    *,
    parallel: bool | None = None,
) -> None:
    """One fused Adagrad step, in place: ``sum_of_squares`` and ``params`` are overwritten.

    The same bits as ``update`` followed by ``apply_updates`` in the NumPy
    reference, in one pass over memory and with no allocation. ``params``,
    ``grads`` and ``sum_of_squares`` must be C-contiguous float32 or float64
    arrays of one shape and dtype, the first and last writeable, none sharing
    memory with another (an alias would read an element after it was written).
    ``learning_rate`` is this step's η (evaluate a schedule yourself) and both
    hyperparameters are rounded to the arrays' dtype. ``parallel``: ``None``
    (all cores for arrays of :data:`PARALLEL_MIN_BYTES` or more), ``True`` or
    ``False``; every element is independent, so it changes no bit.

    Every check runs inside the one compiled call (the argument types at
    compile time, shapes, overlap and hyperparameters at run time), so a small
    array pays one dispatch; only a refused call comes back to Python, where
    :func:`_explain_refusal` names what was wrong. Nothing is written then.
    """
    nd = np.ndarray
    if not (isinstance(params, nd) and isinstance(grads, nd) and isinstance(sum_of_squares, nd)):
        code = -1  # never let Numba compile a specialisation for a list or another object
    else:
        try:
            code = _step_entry(
                params,
                grads,
                sum_of_squares,
                learning_rate,
                eps,
                -1 if parallel is None else int(bool(parallel)),
            )
        except (TypeError, NumbaError):  # a hyperparameter Numba cannot type at all
            code = -1
    if code:
        _explain_refusal(params, grads, sum_of_squares, learning_rate, eps, code)


def _explain_refusal(params, grads, sum_of_squares, learning_rate, eps, code: int) -> None:
    named = (("params", params), ("grads", grads), ("sum_of_squares", sum_of_squares))
    _explain_arrays(named, same_shape=True)
    _explain_hyperparameters(learning_rate, eps)
    raise AdagradError(f"adagrad_step_inplace refused its arguments (code {code})")  # pragma: no cover


def _explain_arrays(named: tuple, same_shape: bool) -> None:
    """The first of: not an ndarray, wrong dtype, not C-contiguous, dtype or shape unlike the first,
    read-only where written (the first and last), memory shared between two."""
    first_name, first = named[0]
    for name, a in named:
        if not isinstance(a, np.ndarray):
            raise AdagradError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype.type not in _KERNEL_DTYPES:
            raise AdagradError(f"{name} has dtype {a.dtype}; the Numba kernel takes float32 or float64")
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


def _explain_hyperparameters(learning_rate, eps) -> None:
    check_learning_rate(learning_rate)
    if callable(learning_rate):
        raise AdagradError("learning_rate must be this step's number; evaluate the schedule before the call")
    check_hyperparameter("eps", eps)


def _sparse_types_ok(table, rows, row_grads, G, lr, eps):
    """Compile-time check (see its overload) for :func:`sparse_step_inplace`."""


@overload(_sparse_types_ok)
def _sparse_types_ok_overload(table, rows, row_grads, G, lr, eps):
    good = (
        all(isinstance(a, types.Array) and a.layout == "C" and a.ndim == 2 for a in (table, row_grads, G))
        and table.dtype in (types.float32, types.float64)
        and table.dtype == row_grads.dtype == G.dtype
        and table.mutable
        and G.mutable
        and isinstance(rows, types.Array)
        and rows.ndim == 1
        and isinstance(rows.dtype, types.Integer)
        and _hyperparameter_types_ok(lr, eps)
    )
    if good:
        return lambda table, rows, row_grads, G, lr, eps: True
    return lambda table, rows, row_grads, G, lr, eps: False


@njit(cache=True, error_model="numpy")
def _sparse_entry(table, rows, row_grads, G, learning_rate, eps):
    if not _sparse_types_ok(table, rows, row_grads, G, learning_rate, eps):
        return 1
    n, d = table.shape
    k = rows.shape[0]
    if G.shape != table.shape or row_grads.shape[0] != k or row_grads.shape[1] != d:
        return 2
    if _overlap(table, G) or _overlap(table, row_grads) or _overlap(G, row_grads):
        return 3
    if not _hyperparameters_ok(learning_rate, eps):
        return 4
    for i in range(k):
        if rows[i] < 0 or rows[i] >= n:
            return 5
    neg_lr = G.dtype.type(-learning_rate)
    eps_ = G.dtype.type(eps)
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    order = np.argsort(rows, kind="mergesort")  # stable: duplicates keep their order of occurrence
    g_sum = np.empty(d, G.dtype)
    i = 0
    while i < k:
        r = rows[order[i]]
        g_sum[:] = zero  # summed from +0 in order of occurrence: the bits of np.add.at on zeros
        j = i
        while j < k and rows[order[j]] == r:
            for c in range(d):
                g_sum[c] = g_sum[c] + row_grads[order[j], c]
            j += 1
        for c in range(d):
            u, G[r, c] = _adagrad_element(g_sum[c], G[r, c], neg_lr, eps_, one, zero)
            table[r, c] = table[r, c] + u
        i = j
    return 0


def sparse_step_inplace(
    table: np.ndarray,
    rows: np.ndarray,
    row_grads: np.ndarray,
    sum_of_squares: np.ndarray,
    learning_rate: float,
    eps: float = 1e-7,
) -> None:
    """One Adagrad step on the rows of an embedding table that have a gradient, in place.

    ``table`` and ``sum_of_squares`` are ``(n, d)``, ``rows`` is ``(k,)``
    integers in ``[0, n)``, ``row_grads`` is ``(k, d)``: row ``rows[i]`` has
    gradient ``row_grads[i]``. Duplicate rows are summed first, in their order
    of occurrence (as torch coalesces a sparse gradient). The result is, bit
    for bit, the dense step with a gradient that is zero in every other row
    (an untouched row would get ``G + 0`` and ``w + (-0)``: no change), at a
    cost proportional to ``k·d`` instead of ``n·d``. It allocates ``O(k + d)``
    for the sort, nothing of the table's size.
    """
    nd = np.ndarray
    arrays = (table, rows, row_grads, sum_of_squares)
    if not all(isinstance(a, nd) for a in arrays):
        code = -1
    else:
        try:
            code = _sparse_entry(table, rows, row_grads, sum_of_squares, learning_rate, eps)
        except (TypeError, NumbaError):
            code = -1
    if code:
        _explain_sparse_refusal(table, rows, row_grads, sum_of_squares, learning_rate, eps, code)


def _explain_sparse_refusal(table, rows, row_grads, sum_of_squares, learning_rate, eps, code: int) -> None:
    if not isinstance(rows, np.ndarray) or rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        what = (
            f"{rows.dtype} array of shape {rows.shape}"
            if isinstance(rows, np.ndarray)
            else type(rows).__name__
        )
        raise AdagradError(f"rows must be a 1-D integer array, got {what}")
    named = (("table", table), ("row_grads", row_grads), ("sum_of_squares", sum_of_squares))
    _explain_arrays(named, same_shape=False)
    for name, a in named:
        if a.ndim != 2:
            raise AdagradError(f"{name} must be 2-D (rows, d), got shape {a.shape}")
    expected = (rows.shape[0], table.shape[1])
    if row_grads.shape != expected:
        raise AdagradError(f"row_grads has shape {row_grads.shape}; expected {expected}: (len(rows), d)")
    if sum_of_squares.shape != table.shape:
        raise AdagradError(
            f"sum_of_squares has shape {sum_of_squares.shape}; expected {table.shape} as table"
        )
    _explain_hyperparameters(learning_rate, eps)
    if code == 5:
        bad = rows[(rows < 0) | (rows >= table.shape[0])]
        raise AdagradError(f"rows holds {bad[0]}, outside [0, {table.shape[0]}): the rows of table")
    raise AdagradError(f"sparse_step_inplace refused its arguments (code {code})")  # pragma: no cover


def update_leaf(
    g: np.ndarray, sum_of_squares: np.ndarray, learning_rate: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The Numba backend's step for one array; returns ``(u_t, G_t)`` like the reference.

    Complex arrays take the NumPy reference path (Numba's complex arithmetic
    is not guaranteed to round like NumPy's).
    """
    if sum_of_squares.dtype.type not in _KERNEL_DTYPES:
        from adagrad_ref.reference import update_leaf as numpy_update_leaf

        return numpy_update_leaf(g, sum_of_squares, learning_rate, eps)
    dtype = sum_of_squares.dtype
    u = np.empty(g.shape, dtype)
    G = np.empty(g.shape, dtype)
    _update_kernel(
        np.ascontiguousarray(g).reshape(-1),
        np.ascontiguousarray(sum_of_squares).reshape(-1),
        dtype.type(-learning_rate),
        dtype.type(eps),
        u.reshape(-1),
        G.reshape(-1),
    )
    return u, G
