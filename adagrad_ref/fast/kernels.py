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
  ``dtype.type(...)`` and the hyperparameters are cast before the loop;
* the ``G > 0`` guard is a select, not a branch with side effects, and
  ``error_model="numpy"`` drops Python's zero-division check from the
  division, so LLVM vectorises the loop (packed ``vsqrtps``/``vdivps``).

The in-place loop (:func:`_step_kernel`) runs forward, or backward where its arrays lie so that the
forward loop's stores would slow its own next loads (4K aliasing: :func:`_backward`); each element is
stepped alone, so the direction changes no bit. Numba's parallel loop and the bfloat16/float16 kernel
run forward.

What is cached, and why (Numba 0.68.1). Numba's on-disk cache (``cache=True``:
``__pycache__`` next to this file, or ``NUMBA_CACHE_DIR``) has two faults that
crash a later process, so the design keeps clear of both:

1. A cached function that *calls* a ``parallel=True`` function is saved
   without the hook that starts the thread pool, whenever the callee itself was
   loaded from the cache when the caller was compiled (an unpickled library
   forgets its ``_reload_init``). A later process that loads that caller and
   never touches the callee dies with SIGSEGV. Here no compiled function calls
   :func:`_step_kernel_parallel`: the jitted entry checks everything and
   answers "go parallel", and Python makes that second call, so the parallel
   kernel is only ever entered from Python, where Numba restores its hook.
2. The cache index maps a signature to a numbered data file chosen by reading
   the index; two processes compiling different signatures at the same moment
   can both pick ``.1.nbc``, so the index may name the other signature's
   machine code, which Numba then calls with the wrong array layout (a
   segfault, or silently wrong bits). Every cached function here uses
   :class:`adagrad_ref.fast.cache.SignatureCheckedCache`, which compiles again, and overwrites the
   entry, when the loaded code was compiled for other argument types or the
   entry cannot be read. Numba checks no cached byte either (one flipped bit of
   machine code ran: SIGSEGV, SIGILL or wrong bits), so each file it writes carries
   a SHA-256 digest that is checked before the entry is unpickled; where Numba
   finds no writable cache location, the functions compile in every process
   (one warning) instead of failing with "no locator available".

All cores, without a thread pool's start per call: an all-cores step of :func:`adagrad_step_inplace` is
split into one share per core inside the compiled entry; the calling thread steps one, and a helper
thread per other core, kept spinning between calls (:mod:`adagrad_ref.fast.helpers`), each of the others,
all with :func:`_step_kernel`. Numba's ``parallel=True`` loop (:func:`_step_kernel_parallel`) runs only
where there is no helper (the process's first all-cores call, which starts them, or where none can run),
and costs 3.6 us more a call on the AMD EPYC (GNU OpenMP waking its threads and joining them).

Cached: :func:`_step_entry`, :func:`_serve`, :func:`_step_kernel`, :func:`_step_kernel_parallel`,
:func:`_sparse_entry`, :func:`_update_kernel` (the ``inline="always"`` helpers and the
overloads are part of those). Cost of the design: where Numba's parallel loop runs (no helper threads),
it is a second compiled call, made from Python (measured when it was introduced, before the helper
threads, ``adagrad_step_inplace`` old against new, alternating in one process on 2 shared cores, best of
15 rounds: 10^6 elements 0.159 against 0.164 ms in float32, 0.471 against 0.474 ms in float64); with
the helper threads every call is one compiled call.

>>> import numpy as np
>>> p = np.array([1.0, 2.0, 3.0], np.float32)
>>> G = np.full(3, 0.1, np.float32)
>>> adagrad_step_inplace(p, 2 * p, G, 1.0, 1e-7)
>>> p, G
(array([0.01227039, 1.0031104 , 2.001386  ], dtype=float32), array([ 4.1, 16.1, 36.1], dtype=float32))
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from adagrad_ref.errors import AdagradError, out_of_memory
from adagrad_ref.fast import helpers
from adagrad_ref.fast.cache import cached_njit
from adagrad_ref.fast.dispatch import ALL, ONE, TIMED_ALL_CORES, Dispatch
from adagrad_ref.fast.refusals import (
    CONVERTIBLE,
    FOREIGN_TYPES,
    GO_PARALLEL,
    HYPERPARAMETERS,
    KERNEL_DTYPES,
    OVERLAP,
    ROW_OUT_OF_RANGE,
    SHAPES,
    STEPPED,
    UNTYPED,
    explain_arrays,
    explain_hyperparameters,
    plain_views,
    retry,
)
from adagrad_ref.numerics.lowprec import is_low_precision
from adagrad_ref.validation import in_dtype

__all__ = [
    "PARALLEL_MIN_BYTES",
    "STEP_DISPATCH",
    "adagrad_step_inplace",
    "element_step",
    "parallel_or_serial",
    "runs_backward",
    "sparse_step_inplace",
    "step_kernel",
    "update_leaf",
]

#: From arrays of this many bytes on, :func:`adagrad_step_inplace` (``parallel=None``) chooses one core
#: or all by measuring (:data:`STEP_DISPATCH`); below, one core, unmeasured: the short path, one compiled
#: call after the fewest Python checks. With Numba's parallel loop, a step below it was shorter than the
#: threads' start and join (~2.3 us on an Intel Xeon, ~4 us on an AMD EPYC, while one core steps 16 KiB in
#: ~1.6 us in float32 to ~2.9 us in float64). With the helper threads, all cores win from about 8 KiB
#: (measured on the AMD EPYC, just below 16 KiB: float32 1.71 us on all cores against 1.95 on the short
#: path, float64 2.09 against 2.55; at 8 KiB of float32 level, 1.40 against 1.35), which the dispatch's
#: own Python (~0.3 us a call) would take back below 16 KiB.
PARALLEL_MIN_BYTES = 16 * 1024

#: How :func:`adagrad_step_inplace` picks one core or all, per dtype and power-of-two size: the first
#: calls of each alternate the two, timed, then the faster runs (measured again every 500 calls, or
#: 2,000 where all cores won).
STEP_DISPATCH = Dispatch(PARALLEL_MIN_BYTES)


@njit(error_model="numpy", inline="always")
def _adagrad_element(g, G, neg_lr, eps, one, zero):
    G = g * g + G  # G_t = g_t² + G_{t-1}
    s = one / np.sqrt(G + eps) if G > zero else zero  # (G_t + ε)^(-1/2), 0 where G_t = 0
    u = neg_lr * (s * g)  # u_t = -η · g_t / √(G_t + ε)
    return u, G


#: One element's step, ``(g, G, -η, ε, 1, 0) -> (u, G_new)`` in the arrays' dtype: the compiled loops
#: of :mod:`adagrad_ref.fast.tree` call it, so that every Numba path has this one arithmetic.
element_step = _adagrad_element


@cached_njit()
def _update_kernel(g, G_in, neg_lr, eps, u_out, G_out):
    """Out of place, for ``Adagrad.update``: writes ``u_out`` and ``G_out``."""
    one = G_in.dtype.type(1)
    zero = G_in.dtype.type(0)
    for i in range(g.size):
        u_out[i], G_out[i] = _adagrad_element(g[i], G_in[i], neg_lr, eps, one, zero)


#: Bytes: an array that begins this near past another, modulo 4,096, is "near" it (:func:`_near`). The
#: forward loop slowed from 16 to 144 bytes in the scans, the backward loop up to 256 bytes before.
ALIAS_WINDOW = 256


@njit(error_model="numpy", inline="always")
def _near(a, b):
    """1 if array ``a`` begins 1 to :data:`ALIAS_WINDOW` bytes past array ``b`` modulo 4,096, else 0.

    A CPU first compares a load with the stores still in flight by the low 12 bits of their addresses
    (4K aliasing): a load that matches an earlier store there waits as if it read that store. A loop
    that runs forward stores element ``i`` and then loads elements just past it; where a written array
    begins a little past a read one, those loads match stores made a few iterations earlier. (Nothing to
    do with arrays sharing memory, which the step refuses.)"""
    d = (a.ctypes.data - b.ctypes.data) & 4095
    return 1 if 0 < d <= ALIAS_WINDOW else 0


@njit(error_model="numpy", inline="always")
def _backward(p, g, G):
    """True if an in-place step of ``p, g, G`` (1-D or any C arrays) should run from the last element to
    the first: where the forward loop's stores would meet its own next loads (:func:`_near`) more than the
    backward loop's. A written array (p, G) just past an array it reads slows the forward loop, just
    before it the backward one. Scores: p against g and against G, 2 points each; G against g, 1; G's
    place against p is not counted (it added nothing measurable). The weights were fitted on float32 on
    the AMD EPYC with AVX-512 (one core, p 64 bytes past g and G: forward 0.35-0.44 ns per element,
    backward 0.28-0.29, as clear); the measurements are in docs/performance.md (4K aliasing). Where both
    directions lose, the lower score wins (forward on a tie) and the step stays slower."""
    forward = 2 * (_near(p, g) + _near(p, G)) + _near(G, g)
    backward = 2 * (_near(g, p) + _near(G, p)) + _near(g, G)
    return backward < forward


#: ``(p, g, G) -> bool``: should an in-place step of these arrays run from the last element to the first
#: (:func:`_backward`)? ``step(..., donate=True)`` of :mod:`adagrad_ref.fast.tree` asks it too.
runs_backward = _backward


@njit(error_model="numpy", inline="always")
def _forward_loop(p, g, G, neg_lr, eps):
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    for i in range(p.size):
        u, G[i] = _adagrad_element(g[i], G[i], neg_lr, eps, one, zero)
        p[i] = p[i] + u


@njit(error_model="numpy", inline="always")
def _backward_loop(p, g, G, neg_lr, eps):
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    n = p.size
    for j in range(n):
        i = np.uintp(n - 1 - j)  # unsigned: no wrap-around of a negative index, so LLVM vectorises it
        u, G[i] = _adagrad_element(g[i], G[i], neg_lr, eps, one, zero)
        p[i] = p[i] + u


@cached_njit()
def _step_kernel(p, g, G, neg_lr, eps):
    """In place, one pass: G and p are overwritten; w_{t+1} = w_t + u_t. Each element alone, so the
    loop runs in whichever direction its stores slow its loads less (:func:`_backward`): the same bits."""
    if _backward(p, g, G):
        _backward_loop(p, g, G, neg_lr, eps)
    else:
        _forward_loop(p, g, G, neg_lr, eps)


#: The float32/float64 in-place step's kernel on one core, and of each share of an all-cores step with the
#: helper threads, ``(p, g, G, -η, ε)`` on 1-D C arrays, unchecked: :mod:`adagrad_ref.tools.roofs` times
#: it for the arithmetic roof.
step_kernel = _step_kernel


@cached_njit(parallel=True)
def _step_kernel_parallel(p, g, G, learning_rate, eps):
    """:func:`_step_kernel` with the loop split across threads, on arrays of any shape (C-contiguous,
    checked by :func:`_step_entry`) and η, ε as given (rounded here to the arrays' dtype, as
    :func:`_step_body` rounds them); always forward (``prange``: no direction rule, as it runs only on a
    process's first all-cores call or where no helper thread can). Called from Python only (see above)."""
    n = p.size
    p, g, G = p.reshape(n), g.reshape(n), G.reshape(n)
    neg_lr = -G.dtype.type(learning_rate)
    eps = G.dtype.type(eps)
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    for i in prange(n):
        u, G[i] = _adagrad_element(g[i], G[i], neg_lr, eps, one, zero)
        p[i] = p[i] + u


def _hyperparameter_types_ok(lr, eps) -> bool:
    """At compile time: η and ε are floats. An integer (or a bool) goes to the slow path, which makes it a
    Python float, so that every path rounds it the same way: ``float(n)``, then the arrays' dtype
    (Numba's direct int64 -> float32 conversion rounds an integer above 2**53 differently)."""
    return all(isinstance(h, types.Float) for h in (lr, eps))


@njit(error_model="numpy", inline="always")
def _hyperparameters_ok(learning_rate, eps, G):
    """At run time: η finite, ε finite and >= 0 (what validation.check_* require), both finite in the
    arrays' dtype (1e39 overflows float32)."""
    dt = G.dtype.type
    return np.isfinite(dt(learning_rate)) and np.isfinite(dt(eps)) and eps >= 0


@njit(error_model="numpy", inline="always")
def _extent(a):
    """The bytes ``[lo, hi)`` that array ``a`` may touch, any strides (empty: lo == hi)."""
    lo = hi = a.ctypes.data
    if a.size == 0:
        return lo, lo
    for k in range(a.ndim):
        step = (a.shape[k] - 1) * a.strides[k]
        if step < 0:
            lo += step
        else:
            hi += step
    return lo, hi + a.itemsize


@njit(error_model="numpy", inline="always")
def _overlap(a, b):
    a0, a1 = _extent(a)
    b0, b1 = _extent(b)
    return a0 < a1 and b0 < b1 and a0 < b1 and b0 < a1


@njit(error_model="numpy", inline="always")
def _checks(p, g, G, learning_rate, eps):
    """The run-time checks: STEPPED (all passed) or the refusal's code."""
    if p.shape != g.shape or p.shape != G.shape:
        return SHAPES
    if _overlap(p, g) or _overlap(p, G) or _overlap(g, G):
        return OVERLAP
    if not _hyperparameters_ok(learning_rate, eps, G):
        return HYPERPARAMETERS
    return STEPPED


@intrinsic
def _flat(typingctx, a):
    """A C-contiguous array of any shape as its 1-D view, borrowed: no owner, valid while ``a`` is (the
    call), read-only where ``a`` is. ``a.reshape(a.size)`` is the same view, but calls Numba's run-time
    reshape and counts a reference: measured on the AMD EPYC with AVX-512, in a compiled loop, a
    1,000-element float32 step took 366 ns with three of them and 314 with this."""
    if not (isinstance(a, types.Array) and a.layout == "C"):
        return None
    flat = a.copy(ndim=1, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(a)(context, builder, args[0])
        out = context.make_array(flat)(context, builder)
        size = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(a.dtype)))
        n = src.nitems
        context.populate_array(out, data=src.data, shape=[n], strides=[size], itemsize=size, meminfo=None)
        return out._getvalue()

    return flat(a), codegen


def _step_body(p, g, G, learning_rate, eps, cores):
    """Run-time checks, then the serial step; compiled only for types :func:`_step_types_ok` takes.
    ``cores``: arrays of this many bytes or more are not stepped (GO_PARALLEL: nothing written)."""
    code = _checks(p, g, G, learning_rate, eps)
    if code != STEPPED:
        return code
    if p.size * p.itemsize >= cores:
        return GO_PARALLEL
    # η and ε rounded to the arrays' dtype, as NumPy rounds a Python float.
    _step_kernel(_flat(p), _flat(g), _flat(G), -G.dtype.type(learning_rate), G.dtype.type(eps))
    return STEPPED


def _step_body_shared(p, g, G, learning_rate, eps, cores):
    """Run-time checks, then the step on all cores: shared with the warm helper threads of
    :mod:`adagrad_ref.fast.helpers` (``cores``: their rows, :data:`~adagrad_ref.fast.helpers.BLOCK`)."""
    code = _checks(p, g, G, learning_rate, eps)
    if code != STEPPED:
        return code
    dt = G.dtype.type
    return _split_step(cores, _flat(p), _flat(g), _flat(G), -dt(learning_rate), dt(eps))


@njit(error_model="numpy", inline="always")
def _share_start(n, j, k):
    """Where share ``j`` of ``k`` begins: a multiple of 16 elements (whole cache lines from the start)."""
    return n if j == k else (n * j // k) & ~15


@njit(error_model="numpy")
def _split_step(block, p, g, G, neg_lr, eps):
    """The step in ``k = rows + 1`` shares: share 0 here, share ``r + 1`` given to helper ``r``, and stepped
    here if that helper stopped or had not claimed it when share 0 was done. STEPPED; or GO_PARALLEL
    where there is no helper (nothing written: Numba's parallel loop runs instead)."""
    rows = block.shape[0]
    if rows == 0:
        return GO_PARALLEL
    k = rows + 1
    size = p.itemsize
    given = 0
    for r in range(rows):
        lo, hi = _share_start(p.size, r + 1, k), _share_start(p.size, r + 2, k)
        at = lo * size
        if helpers.post(
            block, r, size, p.ctypes.data + at, g.ctypes.data + at, G.ctypes.data + at, hi - lo, neg_lr, eps
        ):
            given |= 1 << r
    hi = _share_start(p.size, 1, k)
    _step_kernel(p[:hi], g[:hi], G[:hi], neg_lr, eps)
    for r in range(rows):
        if not (given & (1 << r) and helpers.join(block, r)):
            lo, hi = _share_start(p.size, r + 1, k), _share_start(p.size, r + 2, k)
            _step_kernel(p[lo:hi], g[lo:hi], G[lo:hi], neg_lr, eps)
    return STEPPED


@cached_njit(nogil=True)
def _serve(block, row, spin_ticks):
    """A helper thread's loop (:mod:`adagrad_ref.fast.helpers`): step each share it claims with
    :func:`_step_kernel`, until STOP."""
    while True:
        if helpers.next_share(block, row, spin_ticks) == helpers.STOP:
            return helpers.STOP
        itemsize, p, g, s, n, neg_lr, eps = helpers.share(block, row)
        if itemsize == 4:
            f4 = np.float32
            at = helpers.array_at
            _step_kernel(at(p, n, f4), at(g, n, f4), at(s, n, f4), f4(neg_lr), f4(eps))
        else:
            f8 = np.float64
            at = helpers.array_at
            _step_kernel(at(p, n, f8), at(g, n, f8), at(s, n, f8), neg_lr, eps)
        helpers.finished(block, row)


def _step_types_ok(p, g, G, lr, eps) -> bool:
    """At compile time: may the fast path take these Numba argument types?"""
    return (
        all(isinstance(a, types.Array) and a.layout == "C" for a in (p, g, G))
        and p.dtype in (types.float32, types.float64)
        and p.dtype == g.dtype == G.dtype
        and p.ndim == g.ndim == G.ndim
        and p.mutable
        and G.mutable
        and _hyperparameter_types_ok(lr, eps)
    )


def _step_checked(p, g, G, learning_rate, eps, cores):
    """Stub: its overload picks :func:`_step_body` (``cores`` an int), :func:`_step_body_shared` (an array),
    or a bare ``return FOREIGN_TYPES``."""


@overload(_step_checked)
def _step_checked_overload(p, g, G, learning_rate, eps, cores):
    # Choosing the implementation at compile time keeps a refused signature (an int64 or a
    # datetime64 array, say) to a one-line function: it compiles in about 0.2 s, not 2 s.
    if _step_types_ok(p, g, G, learning_rate, eps):
        return _step_body_shared if isinstance(cores, types.Array) else _step_body
    return lambda p, g, G, learning_rate, eps, cores: FOREIGN_TYPES


@cached_njit()
def _step_entry(p, g, G, learning_rate, eps, cores):
    """Checks, then the step, in one compiled call; returns STEPPED, GO_PARALLEL or a refusal
    (the codes of :mod:`adagrad_ref.fast.refusals`).

    ``cores`` an int: one core, below that many bytes; arrays of that size or more are not stepped here
    (GO_PARALLEL sends Python to :func:`_step_kernel_parallel`, nothing written yet). ``cores`` the
    helpers' block (:data:`adagrad_ref.fast.helpers.BLOCK`): all cores, with the helper threads
    (:func:`_split_step`).
    """
    return _step_checked(p, g, G, learning_rate, eps, cores)


_NEVER = sys.maxsize


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
    arrays (or all three bfloat16, or all three float16: the low-precision
    kernel, on one core; native byte order) of one shape and dtype, the first and last
    writeable, none sharing memory with another (an alias would read an
    element after it was written). ``learning_rate`` is this step's η (evaluate
    a schedule yourself) and both hyperparameters are rounded to the arrays'
    dtype. ``parallel``: ``None`` (one core below :data:`PARALLEL_MIN_BYTES`;
    from it on, one core or all as :data:`STEP_DISPATCH` measured faster on this
    machine for this dtype and size), ``True`` or ``False``; every element
    is independent, so it changes no bit. An ndarray subclass (``np.memmap``)
    is stepped through its plain view; a masked array is refused (its mask
    would be ignored). The loop runs forward or backward, as the arrays lie
    in memory (:data:`runs_backward`: the faster direction, the same bits).

    Every check runs inside one compiled call (the argument types at compile
    time, shapes, overlap and hyperparameters at run time), which also runs
    the step: on one core, or on all, shared with the warm helper threads of
    :mod:`adagrad_ref.fast.helpers`; where there are none (not started yet,
    or none can run), Numba's parallel loop is a second call, made from
    Python. A
    refused call comes back to Python, where :func:`_slow_step` names
    what was wrong in one :class:`AdagradError` line. Nothing is written then.
    """
    nd = _ND
    if type(params) is not nd or type(grads) is not nd or type(sum_of_squares) is not nd:
        return _not_plain(params, grads, sum_of_squares, learning_rate, eps, parallel)
    # the short path; not for 2-byte floats (bfloat16, float16), which the entry cannot compile: Numba
    # keeps no failed compilation, so it would try again on every call (9 ms each for float16)
    if parallel is None and params.nbytes < PARALLEL_MIN_BYTES and params.itemsize != 2:
        try:
            code = _step_entry(params, grads, sum_of_squares, learning_rate, eps, _NEVER)
        except MemoryError as e:  # Numba's, loading or compiling the kernel
            raise out_of_memory("adagrad_step_inplace", e) from None
        except Exception:  # an argument Numba cannot type at all (object arrays, ...)
            code = UNTYPED
        if code:
            _slow_step(params, grads, sum_of_squares, learning_rate, eps, _NEVER, code)
        return None
    if params.itemsize == 2 and _all_low_precision(params, grads, sum_of_squares):  # bfloat16, float16
        return _low_precision_step(params, grads, sum_of_squares, learning_rate, eps, parallel)
    if parallel is None:
        key = (params.dtype.char, params.nbytes.bit_length())  # per dtype and power-of-two size
        how = STEP_DISPATCH.choose(key, params.nbytes)
    elif isinstance(parallel, (bool, np.bool_)):
        how = ALL if parallel else ONE
    else:
        _refuse_parallel(parallel)
    # all cores (odd codes): the entry checks, then steps with the warm helper threads (or answers
    # GO_PARALLEL where there are none: Numba's parallel loop then; the first such call starts them)
    limit = helpers.BLOCK if how & 1 else _NEVER
    t = time.perf_counter() if how > ALL else 0.0
    try:
        code = _step_entry(params, grads, sum_of_squares, learning_rate, eps, limit)
    except MemoryError as e:  # Numba's, loading or compiling the kernel
        raise out_of_memory("adagrad_step_inplace", e) from None
    except Exception:  # an argument Numba cannot type at all (bfloat16, object arrays, ...)
        code = UNTYPED
    if code == GO_PARALLEL:
        try:
            _run_parallel(params, grads, sum_of_squares, learning_rate, eps)
        except MemoryError as e:  # Numba's, loading or compiling the parallel kernel
            raise out_of_memory("adagrad_step_inplace", e) from None
    elif code != STEPPED:
        return _slow_step(params, grads, sum_of_squares, learning_rate, eps, limit, code)
    if how > ALL:  # a trial of the dispatch, or a check of its all-cores choice: the time
        STEP_DISPATCH.record(key, how in TIMED_ALL_CORES, time.perf_counter() - t)
    if code == GO_PARALLEL and how & 1:  # (after the time: starting them is not the step's)
        _start_helpers()
    return None


_ND = np.ndarray


def _low_precision_step(params, grads, sum_of_squares, learning_rate, eps, parallel) -> None:
    """bfloat16 or float16 (all three arrays): the low-precision kernel, on one core."""
    from adagrad_ref.fast.lowprec_kernels import checked_step_inplace

    if not (parallel is None or isinstance(parallel, (bool, np.bool_))):
        _refuse_parallel(parallel)
    try:
        return checked_step_inplace(params, grads, sum_of_squares, learning_rate, eps)
    except MemoryError as e:  # Numba's, loading or compiling the kernel
        raise out_of_memory("adagrad_step_inplace", e) from None


def _start_helpers() -> None:
    """Start the helper threads, on the first all-cores call of the process (once)."""
    if not helpers.started():
        helpers.start(_serve)


def _refuse_parallel(parallel: object) -> None:
    what = f"{type(parallel).__name__} {parallel!r}"
    raise AdagradError(f"parallel must be None, True or False, got {what}")


def _not_plain(params, grads, sum_of_squares, learning_rate, eps, parallel) -> None:
    """Arguments that are not all plain ndarrays: subclasses (``np.memmap``, ``np.matrix``) are stepped
    through their plain views, with the same dispatch; anything else is explained."""
    views = plain_views(params=params, grads=grads, sum_of_squares=sum_of_squares)
    if all(type(a) is np.ndarray for a in views):
        return adagrad_step_inplace(*views, learning_rate, eps, parallel=parallel)
    if not (parallel is None or isinstance(parallel, (bool, np.bool_))):
        _refuse_parallel(parallel)
    return _slow_step(*views, learning_rate, eps, 0 if parallel else _NEVER, UNTYPED)


def _all_low_precision(*arrays) -> bool:
    """All three arrays bfloat16, or all float16 (any other mixture is refused by the float path)."""
    first = arrays[0]
    if not isinstance(first, np.ndarray) or first.dtype.itemsize != 2:  # float32/64: said at once
        return False
    return all(isinstance(a, np.ndarray) for a in arrays) and (
        is_low_precision(first.dtype) and all(a.dtype == first.dtype for a in arrays)
    )


def parallel_or_serial(parallel: Callable[[], None], serial: Callable[[], None]) -> None:
    """Run ``parallel`` (a call of a Numba ``parallel=True`` kernel), or ``serial`` (the same bits) in a
    child forked after such a kernel ran on GNU OpenMP: libgomp cannot run in such a child, and Numba
    ends the child (SIGTERM) rather than hang it. Every parallel kernel of the package (the in-place
    core's, :mod:`adagrad_ref.fast.tree`'s) is called through here."""
    global _parallel_ran
    if _forked_after_gomp:
        serial()
    else:
        _parallel_ran = True
        parallel()


def _run_parallel(p, g, G, learning_rate, eps) -> None:
    """:func:`parallel_or_serial` for the in-place step, written out (no closures on the hot path)."""
    global _parallel_ran
    if _forked_after_gomp:
        dt = G.dtype.type
        _step_kernel(p.reshape(-1), g.reshape(-1), G.reshape(-1), -dt(learning_rate), dt(eps))
    else:
        _parallel_ran = True
        _step_kernel_parallel(p, g, G, learning_rate, eps)


_parallel_ran = False
_forked_after_gomp = False


def _after_fork_in_child() -> None:
    global _forked_after_gomp
    if _parallel_ran:
        import numba

        _forked_after_gomp = _forked_after_gomp or numba.threading_layer() == "omp"


os.register_at_fork(after_in_child=_after_fork_in_child)


def _slow_step(params, grads, sum_of_squares, learning_rate, eps, limit: int | np.ndarray, code: int) -> None:
    """Explain a refusal; or, if only the hyperparameters' types or array subclasses were foreign
    (:data:`~adagrad_ref.fast.refusals.CONVERTIBLE`), step with the hyperparameters as floats and the
    plain ndarray views of the same memory: the compiled entry runs once more only then."""
    params, grads, sum_of_squares = plain_views(params=params, grads=grads, sum_of_squares=sum_of_squares)
    named = (("params", params), ("grads", grads), ("sum_of_squares", sum_of_squares))
    explain_arrays(named, same_shape=True)
    learning_rate, eps = explain_hyperparameters(learning_rate, eps, sum_of_squares.dtype)
    if code in CONVERTIBLE:  # a refusal at run time (shapes, overlap, η or ε) was explained above
        code = retry(_step_entry, params, grads, sum_of_squares, learning_rate, eps, limit)
    if code == GO_PARALLEL:
        _run_parallel(params, grads, sum_of_squares, learning_rate, eps)
        if isinstance(limit, np.ndarray):  # all cores, and no helper yet
            _start_helpers()
    elif code != STEPPED:  # pragma: no cover - every refusal above is explained
        raise AdagradError(f"adagrad_step_inplace refused its arguments (code {code})")


def _sparse_types_ok(table, rows, row_grads, G, lr, eps) -> bool:
    """At compile time, for :func:`sparse_step_inplace`: as :func:`_step_types_ok`."""
    return (
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


def _sparse_checked(table, rows, row_grads, G, learning_rate, eps):
    """Stub: its overload picks :func:`_sparse_body`, or a bare ``return FOREIGN_TYPES``."""


@overload(_sparse_checked)
def _sparse_checked_overload(table, rows, row_grads, G, learning_rate, eps):
    if _sparse_types_ok(table, rows, row_grads, G, learning_rate, eps):
        return _sparse_body
    return lambda table, rows, row_grads, G, learning_rate, eps: FOREIGN_TYPES


@cached_njit()
def _sparse_entry(table, rows, row_grads, G, learning_rate, eps):
    return _sparse_checked(table, rows, row_grads, G, learning_rate, eps)


def _sparse_body(table, rows, row_grads, G, learning_rate, eps):
    n, d = table.shape
    k = rows.shape[0]
    if G.shape != table.shape or row_grads.shape[0] != k or row_grads.shape[1] != d:
        return SHAPES
    # rows and row_grads are read after rows of table and G were written: no byte may be shared
    if _overlap(table, G) or _overlap(table, rows) or _overlap(table, row_grads):
        return OVERLAP
    if _overlap(G, rows) or _overlap(G, row_grads):
        return OVERLAP
    if not _hyperparameters_ok(learning_rate, eps, G):
        return HYPERPARAMETERS
    for i in range(k):
        if rows[i] < 0 or rows[i] >= n:
            return ROW_OUT_OF_RANGE
    neg_lr = -G.dtype.type(learning_rate)
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
    return STEPPED


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
    for the sort, nothing of the table's size. ``rows`` and ``row_grads`` must
    not share memory with ``table`` or ``sum_of_squares`` (they are read after
    rows of those were written).
    """
    nd = np.ndarray
    arrays = (table, rows, row_grads, sum_of_squares)
    code = UNTYPED
    if all(type(a) is nd for a in arrays):
        try:
            code = _sparse_entry(table, rows, row_grads, sum_of_squares, learning_rate, eps)
        except MemoryError as e:  # the kernel's sort of the rows, or Numba's own
            raise out_of_memory("sparse_step_inplace", e) from None
        except Exception:  # an argument Numba cannot type at all
            code = UNTYPED
    if code != STEPPED:
        _slow_sparse_step(table, rows, row_grads, sum_of_squares, learning_rate, eps, code)


def _slow_sparse_step(table, rows, row_grads, sum_of_squares, learning_rate, eps, code: int) -> None:
    table, rows, row_grads, sum_of_squares = plain_views(
        table=table, rows=rows, row_grads=row_grads, sum_of_squares=sum_of_squares
    )
    if not isinstance(rows, np.ndarray) or rows.ndim != 1 or rows.dtype.kind not in "iu":
        what = (
            f"{rows.dtype} array of shape {rows.shape}"
            if isinstance(rows, np.ndarray)
            else type(rows).__name__
        )
        raise AdagradError(f"rows must be a 1-D integer array, got {what}")
    if not rows.dtype.isnative:
        raise AdagradError(
            f"rows has dtype {rows.dtype.str} (non-native byte order); "
            "pass rows.astype(rows.dtype.newbyteorder('='))"
        )
    named = (("table", table), ("row_grads", row_grads), ("sum_of_squares", sum_of_squares))
    explain_arrays(named, same_shape=False)
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
    for name, a in (("table", table), ("sum_of_squares", sum_of_squares)):
        if np.may_share_memory(rows, a):
            raise AdagradError(
                f"rows and {name} share memory; the sparse step writes {name} while reading rows"
            )
    learning_rate, eps = explain_hyperparameters(learning_rate, eps, sum_of_squares.dtype)
    if code in CONVERTIBLE:  # a refusal at run time other than a row was explained above
        code = retry(_sparse_entry, table, rows, row_grads, sum_of_squares, learning_rate, eps)
    if code == ROW_OUT_OF_RANGE:
        bad = rows[(rows < 0) | (rows >= table.shape[0])]
        raise AdagradError(f"rows holds {bad[0]}, outside [0, {table.shape[0]}): the rows of table")
    if code:  # pragma: no cover - every refusal above is explained
        raise AdagradError(f"sparse_step_inplace refused its arguments (code {code})")


def update_leaf(
    g: np.ndarray, sum_of_squares: np.ndarray, learning_rate: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The Numba backend's step for one real array; returns ``(u_t, G_t)`` like the reference.

    ``g`` and ``sum_of_squares`` are float32 or float64 arrays of one dtype and
    shape; another byte order or memory layout is converted first (the same
    values, so the same bits as the NumPy reference). Complex leaves are not
    taken here: the backend table composes the NumPy reference for them.
    """
    arrays = []
    for name, a in (("g", g), ("sum_of_squares", sum_of_squares)):
        if not isinstance(a, np.ndarray):
            raise AdagradError(f"update_leaf: {name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype.kind != "f" or a.dtype.newbyteorder("=") not in KERNEL_DTYPES:
            raise AdagradError(
                f"update_leaf: {name} has dtype {a.dtype}; the Numba kernel takes real float32 or float64"
            )
        arrays.append(np.asarray(a, dtype=a.dtype.newbyteorder("="), order="C"))
    g, G_in = arrays
    if g.dtype != G_in.dtype or g.shape != G_in.shape:
        raise AdagradError(
            f"update_leaf: g is {g.dtype} {g.shape}, sum_of_squares {G_in.dtype} {G_in.shape}; "
            "they must match (convert the gradient first)"
        )
    dtype = G_in.dtype
    neg_lr = in_dtype("learning_rate", learning_rate, dtype, negate=True)
    eps = in_dtype("eps", eps, dtype)
    u = np.empty(g.shape, dtype)
    G = np.empty(g.shape, dtype)
    _update_kernel(
        g.reshape(-1),
        G_in.reshape(-1),
        neg_lr,
        eps,
        u.reshape(-1),
        G.reshape(-1),
    )
    return u, G
