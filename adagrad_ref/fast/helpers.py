"""Helper threads kept warm between calls: the all-cores step without a thread pool's start.

Why. Numba's ``parallel=True`` loop wakes its threads and joins them on every call: on the 2-core machines of
this project that costs 3.6 us (AMD EPYC) to 2.3 us (Intel Xeon) a call, measured from compiled
code, plus ~1 us more from Python. A float32 step of 100,000 elements takes ~15 us on two cores, so
that start alone kept the core at 0.81 of its limit there. Here each other core has one helper
thread that, after a call, waits for the next by spinning on one cache line for
:data:`SPIN_SECONDS`; a call hands it its share of the elements by writing that line, steps its own
share, and waits for the helper's "finished". The hand-over costs two cache-line transfers.

How. Each helper owns one row of :data:`BLOCK`, an int64 array of 16 slots (128 bytes, its own
cache lines): its state, the dtype, the three arrays' addresses, the element count, -eta and
epsilon (float64 bits; exact for float32 too), and the count of shares it stepped (:data:`SERVED`).
The states move only by atomic operations:

* ``IDLE -> POSTED`` by the calling thread (compare-and-swap, after writing the share's slots);
  ``PARKED -> POSTED`` the same, and then a futex wake-up for the sleeping helper;
* ``POSTED -> RUNNING`` by the helper (compare-and-swap: it claims the share), then
  ``RUNNING -> FINISHED`` (release, after the share is written);
* ``FINISHED -> IDLE`` by the calling thread, after reading it (acquire), before it returns; or
  ``POSTED -> IDLE`` by the calling thread, when the helper has not claimed its share by the time the
  caller's own share is done (a helper still waking, or not scheduled): the caller steps it itself;
* ``IDLE -> PARKED`` by a helper that spun :data:`SPIN_SECONDS` with nothing to do (compare-and-swap:
  a call posting at that moment wins or loses as a whole); it then sleeps in the kernel (Linux
  futex, no GIL), until a call posts to it;
* ``-> STOP`` at interpreter exit, or where a helper's thread failed.

Every element is independent and each share runs the same compiled kernel, so who steps which share
changes no bit. The first all-cores call of a process starts the helpers (once: 5 ms to measure
the cycle counter's rate, which times the spin, and the helpers' code loaded from Numba's cache, or
compiled) and runs Numba's parallel loop itself. Where
no helper can run (one core, one Numba thread, not Linux on x86-64, a free-threaded Python, no thread
could start), :data:`BLOCK` has no
row and every all-cores call runs Numba's parallel loop.

What it needs to be safe:

* the calling function holds the GIL through the whole hand-over (it is not ``nogil``), so one call
  at a time posts, and it returns only after every share is written, each by its helper or by the
  caller: the arrays outlive the helpers' use of them, and a ``KeyboardInterrupt`` waits for the
  call's end;
* after ``os.fork`` the child has no helper threads: its copy of the block is dropped (no row is
  posted to there) and new helpers start on its first all-cores call;
* the helpers are daemon threads holding their block, so that it outlives them at exit.

The cost. While warm, a helper keeps a core busy; after :data:`SPIN_SECONDS` without a call it
sleeps. GNU OpenMP, which Numba's parallel loop runs on here, spins the same way after each loop
(``GOMP_SPINCOUNT``: 300,000 pauses, several milliseconds).
"""

from __future__ import annotations

import atexit
import os
import platform
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from adagrad_ref.fast.cache import cached_njit

__all__ = [
    "BLOCK",
    "IDLE",
    "PARKED",
    "SERVED",
    "SPIN_SECONDS",
    "STOP",
    "X86",
    "array_at",
    "finished",
    "join",
    "next_share",
    "post",
    "share",
    "start",
    "started",
]

#: A helper with nothing to do spins this long, then sleeps until a call posts to it.
SPIN_SECONDS = 0.002

# The slots of a helper's row, and the states.
_STATE, _ITEMSIZE, _P, _G, _S, _N, _NEG_LR, _EPS, SERVED = range(9)  # SERVED: shares the helper stepped
_ROW = 16  # slots: 128 bytes, so that two helpers never share a cache line
IDLE, POSTED, RUNNING, FINISHED, PARKED, STOP = 0, 1, 2, 3, 4, 5

#: No helper: the state before :func:`start`, in a forked child, or where none can run (one core).
_NONE = np.zeros((0, _ROW), np.int64)

#: The helpers' rows (one per helper thread), passed to every all-cores call (:func:`split_step`).
BLOCK = _NONE

_MACHINE = platform.machine().lower()
#: An x86 CPU (its ``pause`` and ``sfence`` instructions are used where it is).
X86 = _MACHINE in ("x86_64", "amd64", "i386", "i686", "x86")
#: Linux's futex system call (its number on this machine; None: no futex, so no helpers), and its
#: process-private wait and wake operations.
_SYS_FUTEX = {"x86_64": 202, "amd64": 202}.get(_MACHINE) if sys.platform == "linux" else None
# (x86-64 only: on AArch64 the LLVM of older llvmlite releases compiles the cycle counter to a register
# Linux forbids user code to read, SIGILL, or to a constant zero)
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129


# ---------------------------------------------------------------- atomics on one slot of the block


def _slot(context, builder, signature, args):
    """A pointer to ``block[row, slot]`` (C-contiguous int64, 2-D)."""
    block = context.make_array(signature.args[0])(context, builder, args[0])
    index = builder.add(builder.mul(args[1], ir.Constant(args[1].type, _ROW)), args[2])
    return builder.gep(block.data, [index])


@intrinsic
def _load_acquire(typingctx, block, row, slot):
    def codegen(context, builder, signature, args):
        return builder.load_atomic(_slot(context, builder, signature, args), "acquire", 8)

    return types.int64(block, row, slot), codegen


@intrinsic
def _store_release(typingctx, block, row, slot, value):
    def codegen(context, builder, signature, args):
        builder.store_atomic(args[3], _slot(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return types.void(block, row, slot, types.int64), codegen


@intrinsic
def _swap(typingctx, block, row, slot, old, new):
    """Compare-and-swap: ``old -> new`` if the slot holds ``old``; True if it did."""

    def codegen(context, builder, signature, args):
        pair = builder.cmpxchg(
            _slot(context, builder, signature, args), args[3], args[4], "acq_rel", "acquire"
        )
        return builder.extract_value(pair, 1)

    return types.boolean(block, row, slot, types.int64, types.int64), codegen


@intrinsic
def _pause(typingctx):
    """The spin-wait hint (x86 ``pause``): the spinning core yields to its sibling, and leaves the loop
    without a memory-order flush."""

    def codegen(context, builder, signature, args):
        if X86:
            fn = builder.module.declare_intrinsic(
                "llvm.x86.sse2.pause", fnty=ir.FunctionType(ir.VoidType(), [])
            )
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def _ticks(typingctx):
    """The CPU's cycle counter (x86 TSC), to time the spin without a system call."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        return builder.call(builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=fnty), [])

    return types.int64(), codegen


@intrinsic
def _array_at(typingctx, address, n, dtype):
    """The ``n`` elements of ``dtype`` at ``address`` as a 1-D C array (no owner: the caller's arrays)."""
    arrty = types.Array(dtype.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        data = builder.inttoptr(args[0], context.get_data_type(dtype.dtype).as_pointer())
        ary = context.make_array(arrty)(context, builder)
        size = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(dtype.dtype)))
        context.populate_array(ary, data=data, shape=[args[1]], strides=[size], itemsize=size, meminfo=None)
        return ary._getvalue()

    return arrty(types.int64, types.intp, dtype), codegen


@intrinsic
def _bits(typingctx, x):
    """A float64's bits as an int64, and back (:func:`_float`)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _futex(typingctx, block, row, op, value):
    """``syscall(SYS_futex, &block[row, STATE], op, value, NULL)``: sleep while the state's low 32 bits
    equal ``value`` (wait), or wake one sleeper (wake). Declared by name, variadic as libc has it, so that
    a cached function links it in each process."""

    def codegen(context, builder, signature, args):
        i64, i32 = ir.IntType(64), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64], var_arg=True), "syscall"
        )
        slot = _slot(context, builder, signature, (args[0], args[1], ir.Constant(i64, _STATE)))
        call = [ir.Constant(i64, _SYS_FUTEX or 0), builder.ptrtoint(slot, i64)]
        call += [builder.trunc(args[2], i32), builder.trunc(args[3], i32), ir.Constant(i64, 0)]
        builder.call(fn, call)
        return context.get_dummy_value()

    return types.void(block, row, types.int64, types.int64), codegen


# ---------------------------------------------------------------- the hand-over, compiled


@njit(error_model="numpy", inline="always")
def post(block, row, itemsize, p, g, s, n, neg_lr, eps):
    """Give helper ``row`` a share (addresses ``p``, ``g``, ``s`` of ``n`` elements), waking it if it
    sleeps: True if it was given, False if the helper stopped (then the caller steps the share)."""
    block[row, _ITEMSIZE] = itemsize
    block[row, _P] = p
    block[row, _G] = g
    block[row, _S] = s
    block[row, _N] = n
    block[row, _NEG_LR] = _bits(np.float64(neg_lr))
    block[row, _EPS] = _bits(np.float64(eps))
    if _swap(block, row, _STATE, IDLE, POSTED):  # release: the slots above are visible before it
        return True
    if _swap(block, row, _STATE, PARKED, POSTED):
        _futex(block, row, _FUTEX_WAKE, 1)
        return True
    return False


@njit(error_model="numpy", inline="always")
def join(block, row):
    """Wait until helper ``row`` has written its share and leave it idle: True; or, if it has not
    claimed the share yet, take it back: False (the caller steps it)."""
    while True:
        state = _load_acquire(block, row, _STATE)
        if state == FINISHED:
            _store_release(block, row, _STATE, IDLE)
            return True
        if (state == POSTED and _swap(block, row, _STATE, POSTED, IDLE)) or state == STOP:
            return False  # not claimed (a helper still waking, not scheduled, or whose thread failed)
        _pause()


@njit(error_model="numpy", inline="always")
def next_share(block, row, spin_ticks):
    """In a helper: spin until a share is posted and claim it (RUNNING), sleep in the kernel after
    ``spin_ticks`` cycles of nothing, or return STOP."""
    since = _ticks()
    while True:
        state = _load_acquire(block, row, _STATE)
        if state == POSTED and _swap(block, row, _STATE, POSTED, RUNNING):
            return RUNNING
        if state == STOP:
            return STOP
        if state == PARKED:  # (woken with nothing to do, or spuriously) sleep on while parked
            _futex(block, row, _FUTEX_WAIT, PARKED)
            since = _ticks()
        else:
            _pause()
            if _ticks() - since > spin_ticks:
                _swap(block, row, _STATE, IDLE, PARKED)  # a call posting now wins or loses as a whole


@njit(error_model="numpy", inline="always")
def share(block, row):
    """In a helper, after claiming: ``(itemsize, p, g, s, n, -eta, eps)`` of its share."""
    return (
        block[row, _ITEMSIZE],
        block[row, _P],
        block[row, _G],
        block[row, _S],
        block[row, _N],
        _float(block[row, _NEG_LR]),
        _float(block[row, _EPS]),
    )


@njit(error_model="numpy", inline="always")
def finished(block, row):
    """In a helper: its share is written (release: the caller that sees FINISHED sees the elements)."""
    block[row, SERVED] += 1
    _store_release(block, row, _STATE, FINISHED)


array_at = _array_at


@cached_njit()
def _stop(block):
    """Every helper between calls (IDLE or PARKED) ends: STOP, and a wake-up for a sleeping one."""
    for row in range(block.shape[0]):
        if _swap(block, row, _STATE, IDLE, STOP) or _swap(block, row, _STATE, PARKED, STOP):
            _futex(block, row, _FUTEX_WAKE, 1)


@cached_njit()
def _now():
    return _ticks()


# ---------------------------------------------------------------- the threads, from Python

_lock = threading.Lock()
_threads: list[threading.Thread] = []
_tried = False


def _helper_count() -> int:
    """One helper per other core Numba may use (``numba.get_num_threads()`` now: ``NUMBA_NUM_THREADS`` or
    ``numba.set_num_threads``; and the CPUs this process may run on), at most 63; none without Linux's
    futex."""
    import numba

    if _SYS_FUTEX is None or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return 0  # no futex; or a free-threaded Python, where two calls could post to one helper at once
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        threads = numba.get_num_threads()
    except Exception:  # no threading layer: Numba's configured count
        threads = numba.config.NUMBA_NUM_THREADS
    return max(0, min(threads, cpus, 64) - 1)


def _ticks_per_second() -> float:
    """The cycle counter's rate: its ticks over 5 ms of ``time.perf_counter`` (compiled first, so that
    the compilation is not in the interval)."""
    _now()
    c0, t0 = _now(), time.perf_counter()
    time.sleep(0.005)
    c1, t1 = _now(), time.perf_counter()
    return (c1 - c0) / (t1 - t0)


def _block(rows: int) -> np.ndarray:
    """``rows`` rows of :data:`_ROW` int64 slots, the first on a 128-byte boundary, all PARKED."""
    raw = np.zeros((rows + 1) * _ROW, np.int64)
    skip = (-raw.ctypes.data % 128) // 8
    block = raw[skip : skip + rows * _ROW].reshape(rows, _ROW)
    block[:, _STATE] = PARKED
    return block


def started() -> bool:
    """Has this process tried to start its helpers (whether any could run or not)?"""
    return _tried


def start(serve: Callable[[np.ndarray, int, int], int]) -> None:
    """Start the helpers, once per process (again in a forked child): ``serve(block, row, spin_ticks)``
    is the compiled loop a helper runs until STOP. Where no helper can start, :data:`BLOCK` stays empty
    and all-cores calls run Numba's parallel loop.

    Everything Numba compiles or loads for the helpers (``serve``, the tick reader, :func:`_stop`) is
    loaded here, in the calling thread: a helper thread that loaded ``serve`` itself would hold Numba's
    compiler lock meanwhile, and a child forked then would inherit it held, and wait for it forever at its
    first compile. An interrupt before the threads start leaves nothing started: the next call tries
    again."""
    global BLOCK, _tried
    with _lock:
        if _tried:
            return
        rows = _helper_count()
        if rows == 0:
            _tried = True
            return
        try:
            rate = _ticks_per_second()
            if rate < 1e6:  # a counter that does not count (or barely): the spin could never end
                _tried = True
                return
            spin = int(SPIN_SECONDS * rate)
            block = _block(rows)
            done = _block(1)
            done[0, _STATE] = STOP
            serve(done, 0, spin)  # loaded (or compiled) here; returns at once (STOP)
            _stop(done)
        except Exception:  # out of memory compiling or loading them: no helpers
            _tried = True
            return
        _tried = True
        me = threading.get_native_id()
        interrupted = True
        try:
            for row in range(rows):
                args = (serve, block, row, spin, me)
                thread = threading.Thread(target=_run, args=args, name=f"adagrad_ref helper {row}")
                thread.daemon = True
                try:
                    thread.start()
                except Exception:  # "can't start new thread": this row and the rest stay PARKED (taken back)
                    break
                _threads.append(thread)
            interrupted = False
        finally:
            if _threads and not (block[:, _STATE] == STOP).all():  # (all STOP: see _run)
                BLOCK = block
            elif interrupted and not _threads:  # interrupted before any thread started: try again later
                _tried = False


def _run(serve, block: np.ndarray, row: int, spin: int, starter: int) -> None:
    """A helper thread: ``serve`` until STOP. A "thread" that runs on its starter's own OS thread (gevent's
    monkey-patched ``threading`` makes greenlets of them) must never spin or sleep there: its row is
    stopped, and the helpers are dropped (Numba's parallel loop then). Anything raised ends the thread
    quietly, its row STOP: calls step its share themselves."""
    global BLOCK
    try:
        if threading.get_native_id() == starter:
            block[:, _STATE] = STOP
            BLOCK = _NONE
            return
        serve(block, row, spin)
    except BaseException:  # never printed into the user's process: the calls step this row's shares
        block[row, _STATE] = STOP


def _stop_at_exit() -> None:
    if BLOCK.shape[0]:
        _stop(BLOCK)


def _forget() -> None:
    """In a forked child: its parent's helper threads are not here, so their block is dropped."""
    global BLOCK, _tried, _lock
    BLOCK, _tried, _lock = _NONE, False, threading.Lock()
    _threads.clear()


atexit.register(_stop_at_exit)
os.register_at_fork(after_in_child=_forget)
