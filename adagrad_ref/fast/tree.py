"""The optax-shaped API on the Numba backend: a whole pytree's update, and ``apply_updates``, in one call.

``solver.update(grads, state)`` with ``backend="numba"`` and :func:`adagrad_ref.apply_updates` spend
their time, on a model's pytree, in three places that have nothing to do with the arithmetic:
one Python call per leaf (its checks, its dispatch), a fresh allocation per output leaf whose pages
the kernel then faults in one by one (a fresh 70 MB array is ~17,000 first-touch page faults, often
more time than the arithmetic), and a second NumPy pass in ``apply_updates``. This module removes
the three:

* **one compiled call per dtype** runs the update of every float32 (or float64) leaf of the tree,
  reading each leaf where it lies (the kernel is handed the leaves' addresses) and writing the
  updates and the new sums into **one flat output buffer each**; the leaves handed back are
  views of those buffers shaped like the params; ``apply_updates`` likewise (``w + u`` of every
  leaf in one call into one fresh buffer);
* the output buffers come from a **pool** (:data:`POOL`): a buffer is handed out again only when
  no array refers to it any more (``sys.getrefcount``: every view of it, whatever the user did
  with it, holds a reference to the buffer), so its pages are already mapped and a step pays no
  page faults; an output can never share memory with an array still alive;
* the boundary checks run once per tree (:func:`adagrad_ref.validation.check_update_leaves`).
* on a large tree (:data:`STREAM_FROM_BYTES`) the outputs are written with **streaming stores**
  (32-byte non-temporal vector stores, from each output run's first aligned element): a plain store
  into a buffer not in the cache first reads the line it writes, so the update would move 6 N
  elements instead of 4 N and ``apply_updates`` 4 N instead of 3 N. The vector's operations are the
  scalar element's, lane by lane, in the same order (the same bits).

Semantics unchanged: every output is a fresh array (no byte shared with any input, or any array
alive before the call), the input state is not written (``step(..., donate=True)`` alone writes params and
sums in place, by request), and the bits are those of the NumPy
reference (:func:`adagrad_ref.fast.kernels._adagrad_element` is the element's arithmetic, as in
the in-place core). Leaves the compiled path does not take (complex, bfloat16, float16, an update
of another dtype than its param) go through the per-leaf path, as before.

What to know (the design's cost, in return for no page faults): the leaves of one output tree are
views of one buffer, so holding one leaf (``w = updates["w"]``) keeps the whole buffer alive and
out of the pool (copy a leaf you keep for long: ``updates["w"].copy()``). The pool keeps at most
:data:`BufferPool.PER_SIZE` buffers of each (dtype, size) for at most :data:`BufferPool.SIZES`
sizes (a training loop needs about five); ``POOL.clear()`` gives back the memory of every buffer
no array refers to.

>>> import numpy as np
>>> from adagrad_ref import adagrad, apply_updates
>>> solver = adagrad(0.1, backend="numba")
>>> params = {"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}
>>> state = solver.init(params)
>>> updates, state = solver.update({"w": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)}, state)
>>> params = apply_updates(params, updates)
>>> params["b"], params["b"].base is params["w"].base  # two views of one buffer
(array([-0.09534626, -0.09534626], dtype=float32), True)
"""

from __future__ import annotations

import collections
import operator
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import carray, njit, prange, types
from numba.extending import intrinsic

from adagrad_ref.fast.cache import cached_njit
from adagrad_ref.fast.dispatch import ALL, Dispatch
from adagrad_ref.fast.helpers import X86 as _X86
from adagrad_ref.fast.kernels import element_step, parallel_or_serial, runs_backward
from adagrad_ref.validation import C_CONTIGUOUS_OF, DTYPE_OF, SHAPE_OF, in_dtype

__all__ = [
    "DISPATCH",
    "POOL",
    "BufferPool",
    "Dispatch",
    "apply_leaves",
    "choices",
    "data_addresses",
    "set_parallel",
    "step_leaves",
    "update_leaves",
]

_KERNEL_TYPES = (np.float32, np.float64)
#: Elements per piece of work on all cores (a leaf larger than this is split): 256 KiB of float32.
_CHUNK = 65536


class BufferPool:
    """Flat output buffers, handed out again once no array refers to them (thread-safe).

    ``take(dtype, n)`` returns a 1-D array of ``n`` elements of ``dtype`` that no live array shares
    memory with: a pooled one whose only reference is the pool's own, or a new one.
    """

    #: Buffers kept per (dtype, size), and sizes kept (the least recently used size is dropped).
    PER_SIZE = 6
    SIZES = 8

    def __init__(self) -> None:
        self._buffers: collections.OrderedDict[tuple[str, int], list[np.ndarray]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def take(self, dtype: np.dtype, n: int) -> np.ndarray:
        key = (np.dtype(dtype).str, int(n))
        with self._lock:
            kept = self._buffers.get(key)
            if kept is None:
                kept = self._buffers[key] = []
                while len(self._buffers) > self.SIZES:
                    self._buffers.popitem(last=False)
            else:
                self._buffers.move_to_end(key)
            for i in range(len(kept)):
                # 2: the list's reference and getrefcount's argument. Any view of the buffer (a leaf
                # handed out, a view of that leaf, torch.from_numpy of it...) holds one more.
                if sys.getrefcount(kept[i]) == 2:
                    return kept[i]
            buf = np.empty(int(n), dtype)
            if len(kept) < self.PER_SIZE:
                kept.append(buf)
            return buf

    def clear(self) -> None:
        """Forget every pooled buffer (those still referred to stay alive with their arrays)."""
        with self._lock:
            self._buffers.clear()

    def __len__(self) -> int:
        """The number of buffers pooled, free or in use."""
        with self._lock:
            return sum(len(v) for v in self._buffers.values())


#: The pool every output of this module comes from.
POOL = BufferPool()


# ---------------------------------------------------------------- kernels


@intrinsic
def _pointer_like(typingctx, address, like):
    """The integer ``address`` as a pointer to elements of ``like``'s dtype."""
    ptr = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr))

    return ptr(address, like), codegen


#: Bytes per streaming store: the compiled runs write their outputs 32 bytes (one AVX vector) at a time
#: with non-temporal stores, from a 32-byte-aligned output address on.
_VECTOR_BYTES = 32


def _vector_type(context, dtype):
    elt = context.get_data_type(dtype)
    return ir.VectorType(elt, _VECTOR_BYTES * 8 // dtype.bitwidth)


def _vector_at(builder, array, i, vt):
    return builder.bitcast(builder.gep(array.data, [i]), vt.as_pointer())


def _splat(builder, value, vt):
    vec = ir.Constant(vt, None)
    for lane in range(vt.count):
        vec = builder.insert_element(vec, value, ir.Constant(ir.IntType(32), lane))
    return vec


def _stream(builder, value, pointer):
    """A non-temporal store of one aligned vector: written to memory without reading the line first (a
    fresh output buffer is not in the cache: a plain store would read each line before writing it)."""
    store = builder.store(value, pointer)
    store.align = _VECTOR_BYTES
    store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))


def _load(builder, pointer, itemsize):
    load = builder.load(pointer)
    load.align = itemsize  # the inputs lie anywhere
    return load


def _sfence(builder):
    """Order the streaming stores before anything after the run (another thread may read them next)."""
    if not _X86:
        builder.fence("seq_cst")
        return
    fn = builder.module.declare_intrinsic("llvm.x86.sse.sfence", fnty=ir.FunctionType(ir.VoidType(), []))
    builder.call(fn, [])


@intrinsic
def _stream_fence(typingctx):
    def codegen(context, builder, signature, args):
        _sfence(builder)
        return context.get_dummy_value()

    return types.none(), codegen


def _vector_element(builder, gv, Gv, neg_lr, eps, vt):
    """One vector of elements of :func:`adagrad_ref.fast.kernels._adagrad_element`: the same IEEE
    operations in the same order on each lane (so the same bits). Returns ``(u, G_new)``."""
    G_new = builder.fadd(builder.fmul(gv, gv), Gv)  # G_t = g_t² + G_{t-1}
    name = f"llvm.sqrt.v{vt.count}f{vt.element.intrinsic_name[1:]}"  # correctly rounded, as np.sqrt
    sqrt = builder.module.declare_intrinsic(name, fnty=ir.FunctionType(vt, [vt]))
    root = builder.call(sqrt, [builder.fadd(G_new, _splat(builder, eps, vt))])
    one = _splat(builder, ir.Constant(vt.element, 1.0), vt)
    zero = ir.Constant(vt, None)
    s = builder.select(builder.fcmp_ordered(">", G_new, zero), builder.fdiv(one, root), zero)
    u = builder.fmul(_splat(builder, neg_lr, vt), builder.fmul(s, gv))  # u_t = -η · (s · g_t)
    return u, G_new


def _arrays_of(context, builder, signature, args, which):
    return [context.make_array(signature.args[k])(context, builder, args[k]) for k in which]


@intrinsic
def _stream_update(typingctx, g, G, i, neg_lr, eps, u_out, G_out):
    """Elements ``i`` to ``i + lanes`` of :func:`_update_run`, as one vector (:func:`_vector_element`),
    the outputs streamed (``u_out`` and ``G_out`` at ``i`` 32-byte aligned)."""

    def codegen(context, builder, signature, args):
        vt = _vector_type(context, signature.args[0].dtype)
        size = signature.args[0].dtype.bitwidth // 8
        ga, Ga, ua, Goa = _arrays_of(context, builder, signature, args, (0, 1, 5, 6))
        i = args[2]
        gv = _load(builder, _vector_at(builder, ga, i, vt), size)
        Gv = _load(builder, _vector_at(builder, Ga, i, vt), size)
        u, G_new = _vector_element(builder, gv, Gv, args[3], args[4], vt)
        _stream(builder, u, _vector_at(builder, ua, i, vt))
        _stream(builder, G_new, _vector_at(builder, Goa, i, vt))
        return context.get_dummy_value()

    return types.none(g, G, i, neg_lr, eps, u_out, G_out), codegen


@intrinsic
def _stream_step(typingctx, p, g, G, i, neg_lr, eps, w_out, G_out):
    """Elements ``i`` to ``i + lanes`` of :func:`_step_run` (the update, then ``w + u``), as one vector;
    ``w_out`` and ``G_out`` streamed (aligned at ``i``). The update itself is never stored."""

    def codegen(context, builder, signature, args):
        vt = _vector_type(context, signature.args[0].dtype)
        size = signature.args[0].dtype.bitwidth // 8
        pa, ga, Ga, wa, Goa = _arrays_of(context, builder, signature, args, (0, 1, 2, 6, 7))
        i = args[3]
        pv = _load(builder, _vector_at(builder, pa, i, vt), size)
        gv = _load(builder, _vector_at(builder, ga, i, vt), size)
        Gv = _load(builder, _vector_at(builder, Ga, i, vt), size)
        u, G_new = _vector_element(builder, gv, Gv, args[4], args[5], vt)
        nan = builder.fcmp_unordered("uno", pv, pv)  # w + u, with w's NaN where both are NaN (_plus)
        w = builder.select(nan, builder.fadd(pv, pv), builder.fadd(pv, u))
        _stream(builder, w, _vector_at(builder, wa, i, vt))  # w_{t+1} = w_t + u_t
        _stream(builder, G_new, _vector_at(builder, Goa, i, vt))
        return context.get_dummy_value()

    return types.none(p, g, G, i, neg_lr, eps, w_out, G_out), codegen


@intrinsic
def _stream_add(typingctx, p, u, i, out):
    """Elements ``i`` to ``i + lanes`` of ``p + u`` as one vector, streamed into ``out`` (aligned at i)."""

    def codegen(context, builder, signature, args):
        ty = signature.args[0]
        vt = _vector_type(context, ty.dtype)
        size = ty.dtype.bitwidth // 8
        pa, ua, oa = (
            context.make_array(t)(context, builder, a)
            for t, a in zip(
                (signature.args[0], signature.args[1], signature.args[3]),
                (args[0], args[1], args[3]),
                strict=True,
            )
        )
        pv = _load(builder, _vector_at(builder, pa, args[2], vt), size)
        uv = _load(builder, _vector_at(builder, ua, args[2], vt), size)
        _stream(builder, builder.fadd(pv, uv), _vector_at(builder, oa, args[2], vt))
        return context.get_dummy_value()

    return types.none(p, u, i, out), codegen


@njit(error_model="numpy")
def _head(out, lanes):
    """Elements before ``out``'s first 32-byte-aligned one (all of them if fewer)."""
    return min(out.size, ((-out.ctypes.data) % _VECTOR_BYTES) // out.itemsize) if lanes > 0 else out.size


@njit(error_model="numpy")
def _plus(w, u):
    """``w + u``, keeping ``w``'s NaN (quieted) where both are NaN, as :func:`_add_run` (the compiled
    ``apply_updates``) does. LLVM may swap the operands of an addition, and x86 keeps the first operand's
    NaN, so a fused step that adds an update held in a register kept ``u``'s; ``w + w`` is ``w``'s NaN
    in either order (a branch-free select)."""
    return w + w if w != w else w + u


@njit(error_model="numpy")
def _update_run(g, G, neg_lr, eps, u_out, G_out, stream):
    """One run of elements: a plain loop over the unaligned head and the tail (LLVM vectorises it,
    checking at run time that the outputs do not overlap the inputs, as for the in-place core), and
    vectors streamed between them when both outputs are aligned alike (pooled buffers are)."""
    one = G_out.dtype.type(1)
    zero = G_out.dtype.type(0)
    lanes = _VECTOR_BYTES // u_out.itemsize
    aligned_alike = (u_out.ctypes.data - G_out.ctypes.data) % _VECTOR_BYTES == 0
    start = _head(u_out, lanes) if stream and aligned_alike else u_out.size
    for i in range(start):
        u_out[i], G_out[i] = element_step(g[i], G[i], neg_lr, eps, one, zero)
    i = start
    while i + lanes <= g.size:
        _stream_update(g, G, i, neg_lr, eps, u_out, G_out)
        i += lanes
    for j in range(i, g.size):
        u_out[j], G_out[j] = element_step(g[j], G[j], neg_lr, eps, one, zero)
    _stream_fence()


@njit(error_model="numpy")
def _add_run(p, u, out, stream):
    lanes = _VECTOR_BYTES // out.itemsize
    start = _head(out, lanes) if stream else out.size
    for i in range(start):
        out[i] = p[i] + u[i]  # w_{t+1} = w_t + u_t
    i = start
    while i + lanes <= out.size:
        _stream_add(p, u, i, out)
        i += lanes
    for j in range(i, out.size):
        out[j] = p[j] + u[j]
    _stream_fence()


@njit(error_model="numpy")
def _step_run(p, g, G, neg_lr, eps, w_out, G_out, stream):
    """One run of :func:`_update_run` and ``w + u`` fused: the update stays in a register."""
    one = G_out.dtype.type(1)
    zero = G_out.dtype.type(0)
    lanes = _VECTOR_BYTES // w_out.itemsize
    aligned_alike = (w_out.ctypes.data - G_out.ctypes.data) % _VECTOR_BYTES == 0
    start = _head(w_out, lanes) if stream and aligned_alike else w_out.size
    for i in range(start):
        u, G_out[i] = element_step(g[i], G[i], neg_lr, eps, one, zero)
        w_out[i] = _plus(p[i], u)  # w_{t+1} = w_t + u_t
    i = start
    while i + lanes <= g.size:
        _stream_step(p, g, G, i, neg_lr, eps, w_out, G_out)
        i += lanes
    for j in range(i, g.size):
        u, G_out[j] = element_step(g[j], G[j], neg_lr, eps, one, zero)
        w_out[j] = _plus(p[j], u)
    _stream_fence()


@cached_njit()
def _update_serial(g_at, G_at, sizes, neg_lr, eps, u_out, G_out, stream):
    """Every leaf k (``sizes[k]`` elements at addresses ``g_at[k]``, ``G_at[k]``), in order, into the
    flat outputs."""
    start = 0
    for k in range(sizes.size):
        n = sizes[k]
        g = carray(_pointer_like(g_at[k], u_out), n)
        G = carray(_pointer_like(G_at[k], G_out), n)
        _update_run(g, G, neg_lr, eps, u_out[start : start + n], G_out[start : start + n], stream)
        start += n


@cached_njit(parallel=True)
def _update_parallel(g_at, G_at, chunks, neg_lr, eps, u_out, G_out, stream):
    """:func:`_update_serial` over pieces ``(leaf's address index, first, last, output offset)`` on
    all cores. Called from Python only (see :mod:`adagrad_ref.fast.kernels` on the cache)."""
    for c in prange(chunks.shape[0]):
        k, lo, hi, out = chunks[c, 0], chunks[c, 1], chunks[c, 2], chunks[c, 3]
        g = carray(_pointer_like(g_at[k], u_out), hi)
        G = carray(_pointer_like(G_at[k], G_out), hi)
        u, G_new = u_out[out + lo : out + hi], G_out[out + lo : out + hi]
        _update_run(g[lo:hi], G[lo:hi], neg_lr, eps, u, G_new, stream)


@cached_njit()
def _add_serial(p_at, u_at, sizes, out, stream):
    """``out`` = every leaf's ``p + u``, in order."""
    start = 0
    for k in range(sizes.size):
        n = sizes[k]
        p = carray(_pointer_like(p_at[k], out), n)
        u = carray(_pointer_like(u_at[k], out), n)
        _add_run(p, u, out[start : start + n], stream)
        start += n


@cached_njit(parallel=True)
def _add_parallel(p_at, u_at, chunks, out, stream):
    for c in prange(chunks.shape[0]):
        k, lo, hi, at = chunks[c, 0], chunks[c, 1], chunks[c, 2], chunks[c, 3]
        p = carray(_pointer_like(p_at[k], out), hi)
        u = carray(_pointer_like(u_at[k], out), hi)
        _add_run(p[lo:hi], u[lo:hi], out[at + lo : at + hi], stream)


@cached_njit()
def _step_serial(p_at, g_at, G_at, sizes, neg_lr, eps, w_out, G_out, stream):
    """Every leaf's update and ``w + u`` in one pass, in order, into the flat outputs."""
    start = 0
    for k in range(sizes.size):
        n = sizes[k]
        p = carray(_pointer_like(p_at[k], w_out), n)
        g = carray(_pointer_like(g_at[k], w_out), n)
        G = carray(_pointer_like(G_at[k], G_out), n)
        _step_run(p, g, G, neg_lr, eps, w_out[start : start + n], G_out[start : start + n], stream)
        start += n


@cached_njit(parallel=True)
def _step_parallel(p_at, g_at, G_at, chunks, neg_lr, eps, w_out, G_out, stream):
    """:func:`_step_serial` over the pieces of :func:`_chunks` on all cores."""
    for c in prange(chunks.shape[0]):
        k, lo, hi, out = chunks[c, 0], chunks[c, 1], chunks[c, 2], chunks[c, 3]
        p = carray(_pointer_like(p_at[k], w_out), hi)
        g = carray(_pointer_like(g_at[k], w_out), hi)
        G = carray(_pointer_like(G_at[k], G_out), hi)
        w, G_new = w_out[out + lo : out + hi], G_out[out + lo : out + hi]
        _step_run(p[lo:hi], g[lo:hi], G[lo:hi], neg_lr, eps, w, G_new, stream)


@njit(error_model="numpy")
def _inplace_run(p, g, G, neg_lr, eps):
    """One run of the step in place (``step(..., donate=True)``), as the in-place core's loop: forward, or
    backward where the arrays lie so that the forward loop's stores would slow its next loads
    (:data:`adagrad_ref.fast.kernels.runs_backward`; each element alone, the same bits)."""
    one = G.dtype.type(1)
    zero = G.dtype.type(0)
    n = p.size
    if runs_backward(p, g, G):
        for j in range(n):
            i = np.uintp(n - 1 - j)  # unsigned: no wrap-around of a negative index (vectorised)
            u, G[i] = element_step(g[i], G[i], neg_lr, eps, one, zero)
            p[i] = _plus(p[i], u)
    else:
        for i in range(n):
            u, G[i] = element_step(g[i], G[i], neg_lr, eps, one, zero)
            p[i] = _plus(p[i], u)  # w_{t+1} = w_t + u_t


@cached_njit()
def _inplace_serial(p_at, g_at, G_at, sizes, neg_lr, eps, like):
    """Every leaf k's step in place, in order (``like``: an array of the leaves' dtype)."""
    for k in range(sizes.size):
        n = sizes[k]
        p = carray(_pointer_like(p_at[k], like), n)
        g = carray(_pointer_like(g_at[k], like), n)
        G = carray(_pointer_like(G_at[k], like), n)
        _inplace_run(p, g, G, neg_lr, eps)


@cached_njit(parallel=True)
def _inplace_parallel(p_at, g_at, G_at, chunks, neg_lr, eps, like):
    """:func:`_inplace_serial` over the pieces of :func:`_chunks` on all cores."""
    for c in prange(chunks.shape[0]):
        k, lo, hi = chunks[c, 0], chunks[c, 1], chunks[c, 2]
        p = carray(_pointer_like(p_at[k], like), hi)
        g = carray(_pointer_like(g_at[k], like), hi)
        G = carray(_pointer_like(G_at[k], like), hi)
        _inplace_run(p[lo:hi], g[lo:hi], G[lo:hi], neg_lr, eps)


# ---------------------------------------------------------------- the Python side

#: Below this many bytes per output buffer the compiled call always runs on one core (the threads'
#: start costs more than such a call's whole work); from it on, :class:`Dispatch` measures.
SERIAL_BELOW_BYTES = 256 * 1024


#: From this many bytes per output buffer on, the outputs are written with streaming (non-temporal)
#: stores: such a buffer is not in the cache, and a plain store reads each line before writing it
#: (a third more memory traffic for the update, a third more for ``apply_updates``). Below it, the
#: outputs may still be in the cache when read next: plain stores. (Measured on a 2-core AMD EPYC with
#: a 32 MiB L3, a 200-leaf step: streaming even or slower at 3.8 MB per buffer, 6-7 % faster at 7.6 MB,
#: 15-20 % at 30 MB and more.)
STREAM_FROM_BYTES = 6 * 1024 * 1024


#: How every call of this module picks one core or all.
DISPATCH = Dispatch(SERIAL_BELOW_BYTES)


def choices() -> dict[str, bool]:
    """What :data:`DISPATCH` chose so far, as ``{"update float32 17789573 elements": True, ...}``."""
    return {
        f"{kind} {np.dtype(dtype).name} {sum(sizes)} elements": chosen
        for (kind, dtype, sizes), chosen in DISPATCH.choices().items()
    }


def set_parallel(parallel: bool | None) -> None:
    """``True`` or ``False``: every later call on all cores or on one; ``None`` (the default): chosen by
    measuring (:class:`Dispatch`). No bit changes."""
    DISPATCH.force(parallel)


def _chunks(sizes: tuple[int, ...], threads: int) -> np.ndarray:
    """The pieces ``(leaf, first, last, output offset)`` of every leaf (at most :data:`_CHUNK` elements
    each), ordered so that each thread's share is equal work. Numba's ``prange`` hands each of
    ``threads`` threads an equal count of consecutive pieces; pieces in leaf order would give one
    thread the many small leaves and another the large ones' pieces (measured on an Intel Xeon, 200
    leaves: the update 11 ms, 7 ms for the same elements in 10 leaves). So the pieces are dealt,
    largest first, to the thread with the least work so far, and each thread's run is padded with
    empty pieces (``first == last``) to the same count.

    >>> _chunks((5, 3, 2), 2)[:, :3].tolist()  # (leaf, first, last): 5 | 3 + 2
    [[0, 0, 5], [0, 0, 0], [1, 0, 3], [2, 0, 2]]
    """
    rows = []
    out = 0
    for k, n in enumerate(sizes):
        for lo in range(0, n, _CHUNK):
            rows.append((k, lo, min(n, lo + _CHUNK), out))
        out += n
    shares: list[list[tuple[int, int, int, int]]] = [[] for _ in range(max(1, threads))]
    work = [0] * len(shares)
    for row in sorted(rows, key=lambda r: r[2] - r[1], reverse=True):  # stable: ties keep leaf order
        t = work.index(min(work))
        shares[t].append(row)
        work[t] += row[2] - row[1]
    longest = max(len(share) for share in shares)
    ordered = [row for share in shares for row in share + [(0, 0, 0, 0)] * (longest - len(share))]
    return np.array(ordered, np.int64).reshape(-1, 4)


_chunk_cache: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()


def _chunks_cached(sizes: tuple[int, ...]) -> np.ndarray:
    key = (sizes, numba.get_num_threads())
    got = _chunk_cache.get(key)
    if got is None:
        got = _chunk_cache[key] = _chunks(*key)
        while len(_chunk_cache) > 16:
            _chunk_cache.popitem(last=False)
    return got


def _contiguous(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Each array, C-contiguous (a copy where it is not: the same values, so the same bits)."""
    if all(map(C_CONTIGUOUS_OF, arrays)):  # the common case, without a Python call per leaf
        return arrays
    return [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]


_SIZE = operator.attrgetter("size")


def _groups(dtypes: list[np.dtype | None]) -> tuple[dict[type, list[int]], list[int]]:
    """``({float32 or float64: indices of the leaves of that dtype}, indices of the other leaves)``; a
    ``None`` marks a leaf that is not for the compiled path whatever its dtype."""
    kinds = set(dtypes)
    if len(kinds) == 1:  # one dtype, as a model's tree mostly is: no Python step per leaf
        only = kinds.pop()
        every = list(range(len(dtypes)))
        return ({only.type: every}, []) if only is not None and only.type in _KERNEL_TYPES else ({}, every)
    groups: dict[type, list[int]] = {}
    others = []
    for i, dtype in enumerate(dtypes):
        if dtype is not None and dtype.type in _KERNEL_TYPES:
            groups.setdefault(dtype.type, []).append(i)
        else:
            others.append(i)
    return groups, others


#: Where an ndarray object keeps its data pointer: ``PyArrayObject``'s first field, right after the object
#: header (NumPy's C API; the same in NumPy 1 and 2). Checked on probe arrays at import: where it does not
#: hold (another interpreter's object layout), the addresses come from ``__array_interface__`` instead.
_DATA_FIELD = object.__basicsize__


@cached_njit()
def _data_pointers(objects, offset):
    """The data pointer of each ndarray whose object is at ``objects[k]`` (``id()`` of an array kept alive
    by the caller): one compiled loop instead of a Python call per leaf (0.46 us each, measured)."""
    out = np.empty(objects.size, np.intp)
    for k in range(objects.size):
        out[k] = carray(_pointer_like(objects[k] + offset, objects), 1)[0]
    return out


def _addresses_by_id(arrays: list[np.ndarray]) -> np.ndarray:
    return _data_pointers(np.fromiter(map(id, arrays), np.intp, len(arrays)), _DATA_FIELD)


def _addresses_by_interface(arrays: list[np.ndarray]) -> np.ndarray:
    return np.fromiter((a.__array_interface__["data"][0] for a in arrays), np.intp, len(arrays))


def _pick_addresses() -> Callable[[list[np.ndarray]], np.ndarray]:
    """The fast reading if it agrees with the documented interface on every kind of leaf a step takes."""
    base = np.arange(24.0)
    probes = [
        base[1:],
        base.reshape(4, 6)[1:],
        base.astype(np.float32)[::1],
        np.empty(0),
        np.float64(1.0) * base,
    ]
    probes.append(np.ndarray.view(base[3:], np.memmap))  # a subclass: the same object layout first
    try:
        if np.array_equal(_addresses_by_id(probes), _addresses_by_interface(probes)):
            return _addresses_by_id
    except Exception:  # pragma: no cover - any other layout: the documented interface
        pass
    return _addresses_by_interface  # pragma: no cover


_addresses = _pick_addresses()


def data_addresses(arrays: list[np.ndarray]) -> np.ndarray:
    """Each array's data pointer, read in bulk (one compiled loop where the object layout allows)."""
    return _addresses(arrays)


def _views(buf: np.ndarray, shapes: list[tuple[int, ...]], sizes: tuple[int, ...]) -> list[np.ndarray]:
    out, start = [], 0
    for shape, n in zip(shapes, sizes, strict=True):
        view = buf[start : start + n]
        out.append(view if len(shape) == 1 else view.reshape(shape))  # a 1-D leaf: the slice is its shape
        start += n
    return out


def _hyperparameters(
    groups: dict[type, list[int]], others: list[int], learning_rate: float, eps: float,
    other: Callable[[int], None],
) -> dict[type, tuple[Any, Any]]:  # fmt: skip
    """Each group's ``(-η, ε)`` in its dtype. In leaf order, as the reference: the other leaves' own steps
    (``other(i)``), and each group's hyperparameters checked at its first leaf (a refusal names the dtype
    of the first leaf that refuses them)."""
    hyper: dict[type, tuple[Any, Any]] = {}
    first = {index[0]: scalar for scalar, index in groups.items()}
    for i in sorted([*others, *first]):
        if i in first:
            dtype = np.dtype(first[i])
            hyper[first[i]] = (
                in_dtype("learning_rate", learning_rate, dtype, negate=True),
                in_dtype("eps", eps, dtype),
            )
        else:
            other(i)
    return hyper


def update_leaves(
    g_leaves: list[np.ndarray],
    G_leaves: list[np.ndarray],
    learning_rate: float,
    eps: float,
    leaf_update: Callable[[np.ndarray, np.ndarray, float, float], tuple[np.ndarray, np.ndarray]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(updates, sums)`` of checked leaves (one shape and dtype per pair): the float32 and float64
    leaves in one compiled call per dtype, into pooled buffers; any other leaf by ``leaf_update``."""
    u_out: list[Any] = [None] * len(g_leaves)
    G_new: list[Any] = [None] * len(g_leaves)
    groups, others = _groups(list(map(DTYPE_OF, G_leaves)))

    def other(i: int) -> None:
        u_out[i], G_new[i] = leaf_update(g_leaves[i], G_leaves[i], learning_rate, eps)

    hyper = _hyperparameters(groups, others, learning_rate, eps, other)
    for scalar, index in groups.items():
        dtype = np.dtype(scalar)
        neg_lr, eps_ = hyper[scalar]
        every = len(index) == len(g_leaves)
        gs = _contiguous(g_leaves if every else [g_leaves[i] for i in index])
        Gs = _contiguous(G_leaves if every else [G_leaves[i] for i in index])
        inputs = (_addresses(gs), _addresses(Gs))
        u_views, G_views = _two_fresh_outputs(
            "update", _update_serial, _update_parallel, inputs, neg_lr, eps_, dtype, gs
        )
        for i, u, G in zip(index, u_views, G_views, strict=True):
            u_out[i], G_new[i] = u, G
    return u_out, G_new


def _two_fresh_outputs(
    kind: str, serial_kernel: Callable, parallel_kernel: Callable, inputs: tuple, neg_lr: Any, eps: Any,
    dtype: np.dtype, like: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """Run ``serial_kernel(*inputs, sizes, neg_lr, eps, out1, out2, stream)`` or its ``parallel_kernel``
    (``chunks`` in place of ``sizes``), as :data:`DISPATCH` chooses, into two pooled flat buffers, and
    return each buffer (of the native ``dtype``) as views shaped like the leaves ``like`` (the update's
    ``(u, G)``, the fused step's ``(w, G)``)."""
    sizes = tuple(map(_SIZE, like))
    total = sum(sizes)
    out1, out2 = POOL.take(dtype, total), POOL.take(dtype, total)
    if out1 is out2:  # pragma: no cover - the first is referred to by out1: never free
        out2 = np.empty(total, dtype)
    stream = total * dtype.itemsize >= STREAM_FROM_BYTES
    serial = partial(serial_kernel, *inputs, np.array(sizes, np.intp), neg_lr, eps, out1, out2, stream)
    parallel = partial(parallel_kernel, *inputs, _chunks_cached(sizes), neg_lr, eps, out1, out2, stream)
    DISPATCH.run(
        (kind, dtype.str, sizes),
        total * dtype.itemsize,
        serial,
        partial(parallel_or_serial, parallel, serial),
    )
    shapes = list(map(SHAPE_OF, like))
    return _views(out1, shapes, sizes), _views(out2, shapes, sizes)


def apply_leaves(
    p_leaves: list[np.ndarray | None],
    u_leaves: list[np.ndarray | None],
    add: Callable[[np.ndarray | None, np.ndarray | None], np.ndarray | None],
) -> list[np.ndarray | None]:
    """``w + u`` of checked leaves (``None`` where params hold ``None``): leaves of one dtype, float32
    or float64, in one compiled call per dtype into a pooled buffer; any other pair by ``add``."""
    out: list[Any] = [None] * len(p_leaves)
    plain = not any(p is None for p in p_leaves)  # by identity: NumPy 2 says np.dtype("float64") == None
    keys = list(map(DTYPE_OF, p_leaves)) if plain else []
    if not (plain and keys == list(map(DTYPE_OF, u_leaves))):  # None leaves, or another dtype than its param
        pairs = zip(p_leaves, u_leaves, strict=True)
        keys = [None if p is None or u.dtype != p.dtype else p.dtype for p, u in pairs]  # type: ignore[union-attr]
    groups, others = _groups(keys)
    for i in others:
        out[i] = add(p_leaves[i], u_leaves[i])
    for scalar, index in groups.items():
        dtype = np.dtype(scalar)
        every = len(index) == len(p_leaves)
        ps = _contiguous(p_leaves if every else [p_leaves[i] for i in index])  # type: ignore[arg-type]
        us = _contiguous(u_leaves if every else [u_leaves[i] for i in index])  # type: ignore[arg-type]
        sizes = tuple(map(_SIZE, ps))
        total = sum(sizes)
        buf = POOL.take(dtype, total)
        p_at, u_at = _addresses(ps), _addresses(us)
        stream = total * dtype.itemsize >= STREAM_FROM_BYTES
        serial = partial(_add_serial, p_at, u_at, np.array(sizes, np.intp), buf, stream)
        parallel = partial(_add_parallel, p_at, u_at, _chunks_cached(sizes), buf, stream)
        DISPATCH.run(
            ("apply", dtype.str, sizes),
            total * dtype.itemsize,
            serial,
            partial(parallel_or_serial, parallel, serial),
        )
        for i, w in zip(index, _views(buf, list(map(SHAPE_OF, ps)), sizes), strict=True):
            out[i] = w
    return out


def _run_once(key: tuple, nbytes: int, serial: Callable[[], None], parallel: Callable[[], None]) -> None:
    """An in-place call (it must not run twice): one core or all as :meth:`Dispatch.choose` says, timed
    and recorded when it asks."""
    how = DISPATCH.choose(key, nbytes)
    all_cores = how % 2 == 1  # odd: all cores
    run = partial(parallel_or_serial, parallel, serial) if all_cores else serial
    if how <= ALL:
        run()
        return
    t = time.perf_counter()
    run()
    DISPATCH.record(key, all_cores, time.perf_counter() - t)


def step_leaves(
    p_leaves: list[np.ndarray],
    g_leaves: list[np.ndarray],
    G_leaves: list[np.ndarray],
    learning_rate: float,
    eps: float,
    leaf_step: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    donate: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(params, sums)`` after one step of checked leaves (params, grads and sums of one shape and dtype
    per leaf): :func:`update_leaves` then :func:`apply_leaves` fused, the same bits. The float32 and
    float64 leaves go through one compiled pass per dtype that keeps each update in a register (5 N
    elements of memory traffic: read w, g, G, write fresh w and G; the two calls move 7 N), into pooled
    buffers; any other leaf by ``leaf_step(p, g, G) -> (w, G_new)``. ``donate``: the float32 and float64
    leaves' new values are written into ``p_leaves`` and ``G_leaves`` themselves (checked writable,
    contiguous and apart by :func:`adagrad_ref.validation.check_step_leaves`), and returned."""
    w_out: list[Any] = [None] * len(g_leaves)
    G_new: list[Any] = [None] * len(g_leaves)
    groups, others = _groups(list(map(DTYPE_OF, G_leaves)))

    def other(i: int) -> None:
        w_out[i], G_new[i] = leaf_step(p_leaves[i], g_leaves[i], G_leaves[i])

    hyper = _hyperparameters(groups, others, learning_rate, eps, other)
    for scalar, index in groups.items():
        dtype = np.dtype(scalar)
        neg_lr, eps_ = hyper[scalar]
        every = len(index) == len(g_leaves)
        ps = _contiguous(p_leaves if every else [p_leaves[i] for i in index])
        gs = _contiguous(g_leaves if every else [g_leaves[i] for i in index])
        Gs = _contiguous(G_leaves if every else [G_leaves[i] for i in index])
        sizes = tuple(map(_SIZE, gs))
        total = sum(sizes)
        p_at, g_at, G_at = _addresses(ps), _addresses(gs), _addresses(Gs)
        if donate:
            like = np.empty(0, dtype)
            serial = partial(_inplace_serial, p_at, g_at, G_at, np.array(sizes, np.intp), neg_lr, eps_, like)
            parallel = partial(_inplace_parallel, p_at, g_at, G_at, _chunks_cached(sizes), neg_lr, eps_, like)
            _run_once(("step in place", dtype.str, sizes), total * dtype.itemsize, serial, parallel)
            for i, p, G in zip(index, ps, Gs, strict=True):
                w_out[i], G_new[i] = p, G
            continue
        inputs = (p_at, g_at, G_at)
        w_views, G_views = _two_fresh_outputs(
            "step", _step_serial, _step_parallel, inputs, neg_lr, eps_, dtype, gs
        )
        for i, w, G in zip(index, w_views, G_views, strict=True):
            w_out[i], G_new[i] = w, G
    return w_out, G_new
