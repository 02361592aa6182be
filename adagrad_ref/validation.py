"""The boundary: every check on hyperparameters and pytrees, run once before anything is computed.

A bad call raises :class:`AdagradError` with one line naming the argument or
the leaf (``grads['layer1']['w'] has shape ...``) and changes nothing. What
passes comes back as plain, native-byte-order ndarrays in canonical trees
(dict keys sorted, as ``jax.tree`` returns them), so the formula behind the
boundary never meets a ``np.matrix`` (whose ``*`` is a matrix product), a
masked array, a big-endian array, a list or a Python float.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import byte_bounds

from adagrad_ref import trees
from adagrad_ref.errors import AdagradError, overflow, short
from adagrad_ref.numerics import lowprec
from adagrad_ref.numerics.lowprec import is_low_precision

__all__ = [
    "C_CONTIGUOUS_OF",
    "INT32_MAX",
    "SUPPORTED_DTYPES",
    "as_leaf_array",
    "as_real_scalar",
    "check_apply_updates",
    "check_apply_updates_leaves",
    "check_hyperparameter",
    "check_init",
    "check_leaf_dtype",
    "check_learning_rate",
    "check_schedule_value",
    "check_step_leaves",
    "check_update",
    "check_update_leaves",
    "in_dtype",
    "schedule_value",
]

#: Dtypes the optimizer accepts for params, grads and accumulators.
SUPPORTED_DTYPES = (np.float32, np.float64, np.complex64, np.complex128)
#: ``count`` saturates here, as optax's ``safe_increment`` does for int32.
INT32_MAX = int(np.iinfo(np.int32).max)


# ---------------------------------------------------------------- hyperparameters


def as_real_scalar(name: str, value: Any, *, overflow_to_inf: bool = False) -> float:
    """Anything that converts to a 0-d real array: a number, a NumPy scalar, a 0-d NumPy or JAX array.
    A finite value beyond float64's range (``np.longdouble('1e4000')``) is refused as what it is, or
    read as ±inf with ``overflow_to_inf`` (as ``float()`` reads it: torch's convention does)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise AdagradError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if isinstance(value, int) and not -(2**63) <= value < 2**64:  # NumPy would make an object array
        try:
            return float(value)
        except OverflowError:
            raise AdagradError(f"{name} must be a real number, got an int too large for a float") from None
    try:
        arr = np.asarray(value)  # works on jax arrays without importing jax
    except Exception as e:
        raise AdagradError(
            f"{name} must be a real number, got {type(value).__name__} ({short(str(e))})"
        ) from None
    if _is_extended_float(arr.dtype) and arr.shape == ():
        return float(arr.astype(np.float64))  # bfloat16, float8_*: ml_dtypes' real types (optax takes them)
    if arr.dtype == object or arr.dtype.kind not in "fiu":
        if arr.shape == ():
            raise AdagradError(f"{name} must be a real number, got {type(value).__name__} {short(value)}")
        raise AdagradError(f"{name} must be a real scalar, got {arr.dtype} array of shape {arr.shape}")
    if arr.shape != ():
        raise AdagradError(f"{name} must be a real scalar, got {arr.dtype} array of shape {arr.shape}")
    v = float(arr)
    if math.isinf(v) and np.isfinite(arr) and not overflow_to_inf:  # a wider float beyond float64's range
        raise overflow(name, arr[()], np.dtype(np.float64), _largest_text(np.float64))
    return v


def _is_extended_float(dtype: np.dtype) -> bool:
    """ml_dtypes' real floating types (bfloat16, float8_*, ...), recognised without importing it."""
    return (
        dtype.kind == "V"
        and dtype.names is None
        and dtype.subdtype is None
        and dtype.name.startswith(("bfloat16", "float"))
    )


def check_hyperparameter(name: str, value: Any) -> float:
    """``eps`` and ``initial_accumulator_value``: finite and >= 0.

    >>> check_hyperparameter("eps", 1e-7)
    1e-07
    >>> check_hyperparameter("eps", -1.0)
    Traceback (most recent call last):
    ...
    adagrad_ref.errors.AdagradError: eps must be finite and >= 0, got -1.0
    """
    v = as_real_scalar(name, value)
    if not math.isfinite(v) or v < 0:
        raise AdagradError(f"{name} must be finite and >= 0, got {v!r}")
    return v


def _largest_text(dtype: Any) -> str:
    """The largest finite value of ``dtype`` as a message says it: NumPy's shortest text for float32
    and float64 (complex: of a component); the exact value for bfloat16 and float16, whose shortest
    text (``6.55e+04``) would read as a different number.

    >>> _largest_text(np.float32), _largest_text(np.complex128), _largest_text(np.float16)
    ('3.4028235e+38', '1.7976931348623157e+308', '65504.0')
    """
    dtype = np.dtype(dtype)
    return repr(lowprec.largest_finite(dtype)) if dtype.itemsize == 2 else str(np.finfo(dtype).max)


def in_dtype(name: str, value: Any, dtype: Any, negate: bool = False) -> np.generic:
    """A hyperparameter rounded to the arrays' dtype, the one way every path rounds it: to a Python
    float first (an integer above 2**53 is rounded once, as ``float(n)``), then to ``dtype``. A finite
    value that overflows ``dtype`` (1e39 in float32) is refused: it would act as infinity. bfloat16 and
    float16: through float32, as every step rounds them (:func:`adagrad_ref.numerics.lowprec.hyperparameter`).

    >>> in_dtype("eps", 1e-7, np.float32)
    np.float32(1e-07)
    >>> in_dtype("learning_rate", 1e39, np.float32)
    Traceback (most recent call last):
    ...
    adagrad_ref.errors.AdagradError: learning_rate 1e+39 overflows float32 (largest finite 3.4028235e+38)

    ``negate``: ``-value`` rounded instead (the same bits for a real dtype; for a complex one the
    imaginary zero stays +0, as ``dtype.type(-value)`` gives, where negating the result gives -0).
    """
    v = value if type(value) is float else as_real_scalar(name, value)
    dtype = np.dtype(dtype)
    if dtype.itemsize == 2:  # bfloat16, float16: through float32, as every step rounds it (jax's rule)
        return lowprec.hyperparameter(name, v, dtype, negate)[()]
    with np.errstate(over="ignore"):
        r = dtype.type(-v if negate else v)
    if math.isfinite(v) and not np.isfinite(r):
        raise overflow(name, v, dtype, _largest_text(dtype))
    return r


def check_learning_rate(value: Any) -> float | Callable[[int], Any]:
    """A finite real number (a Python or NumPy scalar, a 0-d NumPy or JAX array), or a schedule
    ``count -> learning rate`` such as an optax schedule (its value is checked at each step).

    >>> check_learning_rate(np.asarray(0.5, np.float32))
    0.5
    """
    if callable(value):
        return value
    v = as_real_scalar("learning_rate", value)
    if not math.isfinite(v):
        raise AdagradError(f"learning_rate must be finite, got {v!r}")
    return v


def schedule_value(schedule: Callable[[int], Any], count: int) -> float:
    """``schedule(count)``, checked; an exception it raises becomes the one-line AdagradError (chained)."""
    try:
        value = schedule(count)
    except Exception as e:
        raise AdagradError(f"schedule: learning_rate({count}) raised {type(e).__name__}: {e}") from e
    return check_schedule_value(value, count)


def check_schedule_value(value: Any, count: int) -> float:
    """What a schedule returned at ``count``: a finite real scalar (an optax schedule returns a JAX array)."""
    try:
        v = as_real_scalar(f"learning_rate({count})", value)
    except AdagradError as e:
        raise AdagradError(f"schedule: {e}") from None
    if not math.isfinite(v):
        raise AdagradError(f"schedule: learning_rate({count}) returned {v!r}; it must be finite")
    return v


# ---------------------------------------------------------------- leaves


def as_leaf_array(where: str, leaf: Any) -> np.ndarray:
    """One leaf as a plain ndarray in native byte order; ``where`` is its path, e.g. ``params['w']``.

    Python numbers are refused: their dtype would be a guess (optax makes them
    weakly typed float32, NumPy float64), and a reference must not guess. A
    masked array is refused (its mask would be ignored); other ndarray
    subclasses (``np.matrix``) are taken as plain arrays, and a big-endian
    array is converted to native order: the same values, the same bits.
    """
    if isinstance(leaf, np.ma.MaskedArray):
        raise AdagradError(
            f"{where} is a masked array; Adagrad would ignore its mask: pass np.ma.filled(x, 0) or x.data"
        )
    if isinstance(leaf, (bool, int, float, complex)) and not isinstance(leaf, np.generic):
        raise AdagradError(
            f"{where} is a Python {type(leaf).__name__}; pass np.asarray(value, dtype=np.float32) "
            "(or float64) so that the dtype is explicit"
        )
    if not (
        isinstance(leaf, (np.ndarray, np.generic)) or (hasattr(leaf, "__array__") and hasattr(leaf, "dtype"))
    ):
        what = type(leaf).__name__
        raise AdagradError(
            f"{where} is a {what}; expected an array, or a dict/list/tuple/NamedTuple of arrays"
        )
    try:
        arr = np.asarray(leaf)
    except Exception as e:
        raise AdagradError(f"{where}: cannot be read as a NumPy array ({type(e).__name__}: {e})") from None
    check_leaf_dtype(where, arr)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def check_leaf_dtype(path: str, arr: np.ndarray) -> None:
    """Params must be float32, float64, complex64, complex128, bfloat16 or float16.

    bfloat16 and float16 are computed as optax computes them, each operation in
    float32 rounded once to the leaf's dtype (:mod:`adagrad_ref.numerics.lowprec`).
    """
    if arr.dtype.type in SUPPORTED_DTYPES or is_low_precision(arr.dtype):
        return
    raise AdagradError(f"{path} has dtype {arr.dtype}; expected float32 or float64 (or complex64/complex128)")


def _plain(leaf: Any) -> bool:
    """The common case, checked without building a path: a native ndarray of a supported dtype."""
    return type(leaf) is np.ndarray and leaf.dtype.type in SUPPORTED_DTYPES and leaf.dtype.isnative


_NATIVE_SUPPORTED = frozenset(np.dtype(t) for t in SUPPORTED_DTYPES)
#: A leaf's dtype and shape, as C-level getters for ``map`` over a tree's leaves (no Python call per leaf).
DTYPE_OF = operator.attrgetter("dtype")
SHAPE_OF = operator.attrgetter("shape")
C_CONTIGUOUS_OF = operator.attrgetter("flags.c_contiguous")


def _all_plain(leaves: list[Any]) -> bool:
    """:func:`_plain` of every leaf, in bulk (no Python call per leaf: a model's tree has hundreds)."""
    return set(map(type, leaves)) <= {np.ndarray} and set(map(DTYPE_OF, leaves)) <= _NATIVE_SUPPORTED


def _arrays(name: str, paths: trees.LeafPaths, leaves: list[Any]) -> list[np.ndarray]:
    """Every leaf as a checked ndarray; a path is built only for a leaf that needs converting or refusing."""
    if _all_plain(leaves):
        return leaves
    return [x if _plain(x) else as_leaf_array(f"{name}{paths[i]}", x) for i, x in enumerate(leaves)]


def _leaves(tree: Any, name: str) -> tuple[trees.LeafPaths, list[np.ndarray], trees.PyTreeSpec]:
    paths, leaves, spec = trees.flatten(tree, name)
    return paths, _arrays(name, paths, leaves), spec


# ---------------------------------------------------------------- the entry points' arguments


def check_init(params: Any, *, real_only: str | None = None) -> Any:
    """``params`` as a canonical tree of checked arrays; ``real_only``: a convention that takes no complex."""
    paths, leaves, spec = _leaves(params, "params")
    if real_only:
        for i, p in enumerate(leaves):
            if np.iscomplexobj(p):
                raise AdagradError(
                    f"params{paths[i]} is complex; the {real_only} convention here takes real arrays"
                )
    return trees.unflatten(spec, leaves)


def check_update(
    grads: Any, state: Any, state_type: type, *, params: Any = None, needs_params: bool = False,
    check_finite: bool = False,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """``(grads, sum_of_squares, params)`` as canonical trees of one structure, shapes and dtypes.

    ``params`` is checked and returned only if ``needs_params`` (else ``None``).
    """
    g_leaves, sums, spec, p_tree = check_update_leaves(
        grads, state, state_type, params=params, needs_params=needs_params, check_finite=check_finite
    )
    return trees.unflatten(spec, g_leaves), trees.unflatten(spec, sums), p_tree


def check_update_leaves(
    grads: Any, state: Any, state_type: type, *, params: Any = None, needs_params: bool = False,
    check_finite: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray], trees.PyTreeSpec, Any]:  # fmt: skip
    """:func:`check_update`'s checks, its result as leaves: ``(grads' leaves, sums' leaves, spec,
    params)``, for a caller that maps over the leaves itself (one tree's checks, paid once)."""
    if isinstance(grads, state_type):
        raise AdagradError("update(grads, state): grads is an AdagradState; were grads and state swapped?")
    if not isinstance(state, state_type):
        raise AdagradError(
            f"update(grads, state): state must be the AdagradState returned by init/update, got "
            f"{type(state).__name__}"
        )
    count = state.count
    if not (np.ndim(count) == 0 and np.asarray(count).dtype.kind in "iu" and 0 <= count <= INT32_MAX):
        raise AdagradError(f"state.count must be an integer in [0, 2**31-1], got {short(count)}")
    _, sums, spec = _leaves(state.sum_of_squares, "state.sum_of_squares")
    g_paths, g_leaves, g_spec = trees.flatten(grads, "grads")
    where = trees.first_difference(spec, g_spec, "grads")
    if where is not None:
        raise AdagradError(f"grads does not match the structure of state.sum_of_squares: {where}")
    g_leaves = _arrays("grads", g_paths, g_leaves)
    same = list(map(SHAPE_OF, g_leaves)) == list(map(SHAPE_OF, sums))
    same = same and list(map(DTYPE_OF, g_leaves)) == list(map(DTYPE_OF, sums))
    for i, (g, G) in enumerate(zip([] if same else g_leaves, [] if same else sums, strict=True)):
        if g.shape != G.shape:
            raise AdagradError(
                f"grads{g_paths[i]} has shape {g.shape}; expected {G.shape} as in state.sum_of_squares"
            )
        if g.dtype != G.dtype:
            raise AdagradError(
                f"grads{g_paths[i]} has dtype {g.dtype}; expected {G.dtype} as in state.sum_of_squares"
            )
    if check_finite:
        _check_all_finite(g_paths, g_leaves)
    p_tree = _check_params(params, spec, g_leaves) if needs_params else None
    return g_leaves, sums, spec, p_tree


def _check_params(params: Any, spec: trees.PyTreeSpec, g_leaves: list[np.ndarray]) -> Any:
    if params is None:
        raise AdagradError(
            "update(grads, state, params): this optimizer needs params (e.g. for weight decay)"
        )
    return trees.unflatten(spec, _params_leaves(params, spec, g_leaves))


def _params_leaves(params: Any, spec: trees.PyTreeSpec, g_leaves: list[np.ndarray]) -> list[np.ndarray]:
    paths, leaves, p_spec = trees.flatten(params, "params")
    where = trees.first_difference(spec, p_spec, "params")
    if where is not None:
        raise AdagradError(f"params does not match the structure of grads: {where}")
    out = _arrays("params", paths, leaves)
    for i, (p, g) in enumerate(zip(out, g_leaves, strict=True)):
        if p.shape != g.shape or p.dtype != g.dtype:
            raise AdagradError(
                f"params{paths[i]} is {p.dtype} {p.shape}; expected {g.dtype} {g.shape} as grads"
            )
    return out


def check_step_leaves(
    params: Any,
    grads: Any,
    state: Any,
    state_type: type,
    *,
    check_finite: bool = False,
    donate: bool = False,
    addresses: Callable[[list[np.ndarray]], np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], trees.PyTreeSpec]:
    """``step(params, grads, state)``'s checks: :func:`check_update_leaves`' and params of the grads'
    structure, shapes and dtypes; with ``donate``, every array written in place (each params leaf and
    each sum) an ndarray, C-contiguous, writable and sharing no memory with any other array of the call
    (``addresses``: a reader of many arrays' data pointers at once, as the Numba backend has). Returns
    ``(params' leaves, grads' leaves, sums' leaves, spec)``."""
    if not isinstance(donate, bool | np.bool_):
        raise AdagradError(f"step(..., donate=...): donate must be True or False, got {short(donate)}")
    if params is None:
        raise AdagradError("step(params, grads, state): params is None; pass the params the grads are of")
    if not isinstance(state, state_type) or isinstance(params, state_type) or isinstance(grads, state_type):
        raise AdagradError(
            f"step(params, grads, state): state must be the AdagradState returned by init, update or step, "
            f"got {type(state).__name__} (the order is params, grads, state)"
        )
    g_leaves, sums, spec, _ = check_update_leaves(grads, state, state_type, check_finite=check_finite)
    p_leaves = _params_leaves(params, spec, g_leaves)
    if donate:
        _check_donated(p_leaves, sums, g_leaves, params, state.sum_of_squares, addresses or _data_addresses)
    return p_leaves, g_leaves, sums, spec


def _data_addresses(arrays: list[np.ndarray]) -> np.ndarray:
    """Each array's data pointer (the documented interface; the Numba backend passes a bulk reader)."""
    return np.fromiter((a.__array_interface__["data"][0] for a in arrays), np.int64, len(arrays))


def _byte_ranges(
    arrays: list[np.ndarray], addresses: Callable[[list[np.ndarray]], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``(first byte, one past the last)`` of each array's memory; a non-contiguous one's whole extent."""
    lo = np.asarray(addresses(arrays), np.int64)
    hi = lo + np.fromiter(map(_NBYTES, arrays), np.int64, len(arrays))
    for i, a in enumerate(arrays):
        if not a.flags.c_contiguous:  # strided (grads may be): the bytes its strides reach
            lo[i], hi[i] = byte_bounds(a)
    return lo, hi


_NBYTES = operator.attrgetter("nbytes")
_WRITEABLE = operator.attrgetter("flags.writeable")


def _check_donated(
    p_leaves: list[np.ndarray],
    sums: list[np.ndarray],
    g_leaves: list[np.ndarray],
    params: Any,
    state_sums: Any,
    addresses: Callable[[list[np.ndarray]], np.ndarray],
) -> None:
    """Each array ``step(..., donate=True)`` writes is writable, C-contiguous and overlaps no other array
    of the call: byte ranges compared in bulk after one sort (O(n log n) for n leaves); the names are
    looked up only for a refusal."""
    written = p_leaves + sums

    def name(i: int) -> str:
        paths = trees.flatten(params, "params")[0]
        k = i % len(p_leaves)
        return f"params{paths[k]}" if i < len(p_leaves) else f"state.sum_of_squares{paths[k]}"

    given = trees.flatten(params, "params")[1] + trees.flatten(state_sums, "state.sum_of_squares")[1]
    if any(a is not b for a, b in zip(written, given, strict=True)):  # a leaf the checks had to convert
        i = next(i for i, (a, b) in enumerate(zip(written, given, strict=True)) if a is not b)
        kind = f"a {type(given[i]).__name__}"
        if isinstance(given[i], np.generic):
            kind = f"a NumPy scalar ({type(given[i]).__name__}: immutable)"
        if type(given[i]) is np.ndarray:
            kind = f"dtype {given[i].dtype.str}" + (
                " (big-endian)" if given[i].dtype.byteorder == ">" else ""
            )
        raise AdagradError(
            f"{name(i)} is {kind}; step(..., donate=True) writes only into the arrays given: "
            "plain numpy.ndarray leaves of native byte order"
        )
    if not all(map(_WRITEABLE, written)):
        i = next(i for i, a in enumerate(written) if not a.flags.writeable)
        raise AdagradError(f"{name(i)} is read-only; step(..., donate=True) writes the new values into it")
    if not all(map(C_CONTIGUOUS_OF, written)):
        i = next(i for i, a in enumerate(written) if not a.flags.c_contiguous)
        raise AdagradError(f"{name(i)} is not C-contiguous; step(..., donate=True) writes in place into it")
    lo, hi = _byte_ranges(written, addresses)
    mine = np.flatnonzero(hi > lo)
    mine = mine[np.argsort(lo[mine], kind="stable")]
    clash = np.flatnonzero(lo[mine[1:]] < np.maximum.accumulate(hi[mine])[:-1])
    if clash.size:  # the first array that starts before an earlier one ends: it overlaps that one
        j = mine[clash[0] + 1]
        i = next(i for i in mine if lo[i] <= lo[j] < hi[i] and i != j)
        raise AdagradError(
            f"{name(i)} and {name(j)} share memory; step(..., donate=True) writes both in place"
        )
    g_lo, g_hi = _byte_ranges(g_leaves, addresses)
    read = np.flatnonzero(g_hi > g_lo)
    read = read[np.argsort(g_lo[read], kind="stable")]
    if read.size and mine.size:
        reach = np.maximum.accumulate(g_hi[read])  # the furthest any grads leaf starting so far reaches
        k = np.searchsorted(g_lo[read], hi[mine], side="left")  # the grads leaves starting before each ends
        bad = np.flatnonzero((k > 0) & (reach[np.maximum(k, 1) - 1] > lo[mine]))
        if bad.size:
            i = mine[bad[0]]
            g = next(g for g in read if g_lo[g] < hi[i] and g_hi[g] > lo[i])
            paths = trees.flatten(params, "params")[0]
            what = name(i)
            raise AdagradError(
                f"{what} and grads{paths[g]} share memory; step(..., donate=True) writes {what} in place"
            )


def _check_all_finite(paths: trees.LeafPaths, g_leaves: list[np.ndarray]) -> None:
    for i, g in enumerate(g_leaves):
        finite = np.isfinite(g)
        if not finite.all():
            index = tuple(int(k) for k in np.argwhere(~finite)[0])
            value = g[index].item()  # a Python float or complex: prints nan, inf, -inf
            raise AdagradError(
                f"grads{paths[i]} has a non-finite value {value!r} at index {index} (check_finite=True)"
            )


def check_apply_updates(params: Any, updates: Any) -> tuple[Any, Any]:
    """``(params, updates)`` as canonical trees of one structure, read as ``optax.apply_updates`` reads them.

    optax maps over ``params`` with ``None`` as a leaf (``is_leaf=lambda x: x is
    None``): where ``params`` holds ``None``, ``updates`` may hold anything and
    the result is ``None``; so ``apply_updates(None, anything)`` is ``None``.
    Both trees come back with ``None`` there.
    """
    ps, us, spec = check_apply_updates_leaves(params, updates)
    return trees.unflatten(spec, ps), trees.unflatten(spec, us)


def check_apply_updates_leaves(
    params: Any, updates: Any
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], trees.PyTreeSpec]:
    """:func:`check_apply_updates`'s checks, its result as ``(params' leaves, updates' leaves, spec)``
    (``None`` as a leaf)."""
    paths, p_leaves, spec = trees.flatten(params, "params", none_is_leaf=True)
    u_leaves = trees.flatten_up_to(spec, updates, "updates")
    if (
        _all_plain(p_leaves)
        and _all_plain(u_leaves)
        and list(map(SHAPE_OF, p_leaves)) == list(map(SHAPE_OF, u_leaves))
    ):
        return p_leaves, u_leaves, spec  # every pair two plain arrays of one shape: nothing to convert
    ps, us = [], []
    for i, (p, u) in enumerate(zip(p_leaves, u_leaves, strict=True)):
        if p is None:
            ps.append(None)
            us.append(None)
            continue
        p = p if _plain(p) else as_leaf_array(f"params{paths[i]}", p)
        if u is None:
            raise AdagradError(f"updates{paths[i]}: expected an array, got None")
        u = u if _plain(u) else as_leaf_array(f"updates{paths[i]}", u)
        if u.shape != p.shape:
            raise AdagradError(f"updates{paths[i]} has shape {u.shape}; expected {p.shape} as in params")
        ps.append(p)
        us.append(u)
    return ps, us, spec
