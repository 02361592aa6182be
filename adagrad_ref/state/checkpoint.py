"""Save and load an :class:`~adagrad_ref.AdagradState`: one ``.npz``, written atomically.

The format (version 2, see :mod:`adagrad_ref.state.statefile`) is an ordinary uncompressed ``.npz``
that ``numpy.load`` opens: one ``.npy`` per accumulator and a ``meta.json`` holding the count,
the tree as optree flattens it, each leaf's dtype (with its byte order), shape and SHA-256, and
the hyperparameters. Files of version 1 are refused with a one-line error naming the version.

Guarantees:

* a round trip is bit-exact (the raw bytes of every accumulator, NaN payloads and byte order
  included) for every state ``save_state`` accepts; one it cannot describe (a dict key that is
  not a ``str``, a ``deque``, a registered custom node, a NamedTuple whose name cannot be
  rebuilt, a tree more than 256 levels deep, a masked array) is refused before anything is
  written, with the reason;
* the write is atomic (:mod:`adagrad_ref.state.atomic`): the file is written under a temporary name
  in the same folder, flushed to disk, then renamed over the target. A crash or a full disk
  part-way leaves the previous file as it was; the temporary file of a killed process is removed
  by the next save to the same target. The temporary file is created with the final mode: an
  existing file's (a 0600 checkpoint is never readable by others, not even while it is
  written); a new one gets ``0o666`` less the umask, as ``np.savez`` does. A read-only
  checkpoint is refused, not replaced; so is a symlink that another user planted in a sticky
  world-writable folder (``/tmp``). Any other symlink at the target is written through: the
  file it points to is replaced, the link stays. A file name of up to 255 bytes works (the
  temporary name is shortened to fit);
* a truncated, corrupted, oversized or wrong-version file, or one whose arrays do not match
  their description, raises :class:`AdagradError` naming the file and the field,
  and nothing is returned: never a partly loaded state. Nothing is unpickled
  and no class is imported: NamedTuples come back as NamedTuples of the same
  name and fields, or as the caller's own classes when ``like=`` is given.

>>> import tempfile, os
>>> from adagrad_ref import adagrad
>>> opt = adagrad(0.1)
>>> state = opt.init({"w": np.zeros(3, np.float32)})
>>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
>>> save_state(path, state, optimizer=opt)
>>> load_state(path, optimizer=opt).sum_of_squares
{'w': array([0.1, 0.1, 0.1], dtype=float32)}
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import optree

from adagrad_ref.errors import AdagradError, refuses_out_of_memory, short
from adagrad_ref.reference import AdagradState
from adagrad_ref.state.atomic import replace_file
from adagrad_ref.state.statefile import (
    BFLOAT16,
    DTYPES,
    FORMAT,
    META,
    VERSION,
    TreeDecoder,
    check_meta_size,
    encode_tree,
    flatten,
    leaf_description,
    open_zip,
    read_leaf,
    read_meta,
    returned_dtype,
)
from adagrad_ref.validation import INT32_MAX

__all__ = ["FORMAT", "VERSION", "DescribedOptimizer", "load_state", "read_metadata", "save_state"]


@runtime_checkable
class DescribedOptimizer(Protocol):
    """What a state file records of an optimizer, and all ``save_state``/``load_state`` read of one:
    :class:`adagrad_ref.Adagrad` and every ``conventions.*`` optimizer have both.

    >>> from adagrad_ref import adagrad
    >>> isinstance(adagrad(0.1), DescribedOptimizer), isinstance(object(), DescribedOptimizer)
    (True, False)
    """

    #: The framework whose arithmetic it follows: ``"optax"``, ``"pytorch"``, ...
    convention: str

    @property
    def hyperparameters(self) -> Mapping[str, Any]:
        """Every hyperparameter under the framework's names (a schedule as ``"schedule"``)."""
        ...


# ---------------------------------------------------------------- hyperparameters


def _hyperparameters(opt: DescribedOptimizer | None) -> dict | None:
    """What a state file records of its optimizer: the convention's name and ALL its hyperparameters.

    Any optimizer of this package (``adagrad``, ``conventions.*``) is a :class:`DescribedOptimizer`.
    A schedule is code and is recorded only as the string ``"schedule"``:
    that the rate is a schedule is checked on load, *which* schedule cannot be.
    """
    if opt is None:
        return None
    if not isinstance(opt, DescribedOptimizer):
        raise AdagradError(
            f"optimizer must be one of adagrad_ref's optimizers (with convention and hyperparameters), "
            f"got {type(opt).__name__}"
        )
    described = {"convention": str(opt.convention), **opt.hyperparameters}
    # JSON has no Inf or NaN (torch accepts lr=inf): those are recorded as the strings 'inf', 'nan'.
    return {k: repr(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in described.items()}


def _check_hyperparameters(name: str, saved: Any, opt: DescribedOptimizer) -> None:
    """Refuse a file whose optimizer differs from ``opt`` in any field, naming the first that differs."""
    ours = _hyperparameters(opt)
    if saved is None:
        raise AdagradError(f"{name}: no hyperparameters were saved; cannot check them against the optimizer")
    for key in ["convention", *sorted((set(saved) | set(ours)) - {"convention"})]:
        if key not in saved or key not in ours or not _same_value(saved[key], ours[key]):
            theirs, mine = saved.get(key, "missing"), ours.get(key, "missing")
            note = ""
            if "schedule" in (theirs, mine):
                note = " (a schedule is recorded only as 'schedule': which schedule cannot be compared)"
            raise AdagradError(
                f"{name}: hyperparameters.{key} is {theirs!r} in the file, {mine!r} in the optimizer{note}"
            )


def _same_value(a: Any, b: Any) -> bool:
    # Exact: 0.1 and 0.1000000001 differ; bools are not numbers here (maximize=True is not lr=1.0).
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b) or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- save


@refuses_out_of_memory("save_state")
def save_state(
    path: str | os.PathLike, state: AdagradState, optimizer: DescribedOptimizer | None = None
) -> None:
    """Write ``state`` (and ``optimizer``'s hyperparameters, if given) to ``path`` atomically.

    If writing fails part-way (full disk, a crash), the file that was at ``path`` before is left
    as it was; on an exception the temporary file is removed, and the next save to ``path``
    removes those of killed processes. The temporary file has the final mode from its creation; a
    read-only file at ``path``, or a symlink another user planted in a sticky world-writable
    folder, is refused; any other symlink is written through. Every failure is an
    :class:`AdagradError` naming ``path``.
    """
    target = _target(path, "save_state")
    if not isinstance(state, AdagradState):
        raise AdagradError(f"save_state: state must be an AdagradState, got {type(state).__name__}")
    count = state.count
    if not (
        not isinstance(count, bool)
        and np.ndim(count) == 0
        and np.issubdtype(np.asarray(count).dtype, np.integer)
        and 0 <= count <= INT32_MAX
    ):
        raise AdagradError(f"save_state: state.count must be an integer in [0, 2**31-1], got {short(count)}")
    paths, leaves, spec = flatten(state.sum_of_squares, "state.sum_of_squares")
    treedef = encode_tree(spec, "state.sum_of_squares")
    TreeDecoder("save_state: state.sum_of_squares").build(treedef, "")  # what load will do, refused now
    saved = [_as_saved_array(p, leaf) for p, leaf in zip(paths, leaves, strict=True)]
    arrays = [a for a, _ in saved]
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "count": int(count),
        "treedef": treedef,
        "leaves": [{"dtype": label, "shape": list(a.shape), "sha256": _sha256(a)} for a, label in saved],
        "hyperparameters": _hyperparameters(optimizer),
    }
    try:
        meta_bytes = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise AdagradError(f"save_state: cannot record the hyperparameters ({e})") from None
    check_meta_size(meta_bytes, f"save_state: {target}")
    _write_atomically(target, arrays, meta_bytes)


def _target(path: Any, fn: str) -> str:
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise AdagradError(
            f"{fn}: path must be a str or os.PathLike of str, got {type(path).__name__} {short(path)}"
        )
    target = os.fspath(path)
    if not isinstance(target, str) or not target:
        raise AdagradError(f"{fn}: path must name a file, got {short(target)}")
    if "\0" in target:
        raise AdagradError(f"{fn}: path must name a file, got {short(target)} (it holds a NUL character)")
    if target.endswith((os.sep, "/")) or (os.altsep and target.endswith(os.altsep)):
        raise AdagradError(f"{fn}: path must name a file, got {short(target)} (it ends with a separator)")
    return target


def _as_saved_array(path: str, leaf: Any) -> tuple[np.ndarray, str]:
    """The array written for ``leaf`` and its meta.json dtype (bfloat16: its bits, little-endian)."""
    if isinstance(leaf, np.ma.MaskedArray):
        raise AdagradError(f"{path} is a masked array; its mask cannot be saved")
    if not (
        isinstance(leaf, (np.ndarray, np.generic)) or (hasattr(leaf, "__array__") and hasattr(leaf, "dtype"))
    ):
        raise AdagradError(f"{path} is a {type(leaf).__name__}; expected an array")
    a = np.asarray(leaf, order="C")  # keeps 0-d arrays and the byte order
    if a.dtype.kind == "V" and a.dtype.name == BFLOAT16 and a.dtype.itemsize == 2:
        return a.view(np.uint16).astype("<u2"), BFLOAT16
    if a.dtype.str not in DTYPES:
        raise AdagradError(
            f"{path} has dtype {a.dtype}; a state file holds float16/32/64, bfloat16 and complex64/128"
        )
    return a, a.dtype.str


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(a.reshape(-1).view(np.uint8)).hexdigest()


def _write_atomically(target: str, arrays: list[np.ndarray], meta_bytes: bytes) -> None:
    def write(f) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(META, meta_bytes)
            for i, a in enumerate(arrays):
                with zf.open(f"leaf_{i:05d}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, a, allow_pickle=False)

    replace_file(target, write, "cannot save the state")


# ---------------------------------------------------------------- load


def read_metadata(path: str | os.PathLike) -> dict:
    """The checked ``meta.json`` of a state file (format, version, count, leaves, hyperparameters)."""
    name = _target(path, "read_metadata")
    with open_zip(name) as z:
        return read_meta(z.zf, name)


@refuses_out_of_memory("load_state")
def load_state(
    path: str | os.PathLike, *, like: Any = None, optimizer: DescribedOptimizer | None = None
) -> AdagradState:
    """Read a state written by :func:`save_state`; everything is checked before it is returned.

    Args:
      like: optional params or state whose tree the file must have, with the same dtype (byte
        order aside: the result takes ``like``'s) and shape at every leaf; its NamedTuple classes
        are used for the result (otherwise classes of the same name and fields are made).
      optimizer: optional; the file's convention and every hyperparameter
        must equal its own, so that a resumed run computes what the
        interrupted one would have. A schedule is recorded only as
        ``"schedule"``: that both rates are schedules is checked, whether
        they are the same schedule cannot be.
    """
    name = _target(path, "load_state")
    with open_zip(name) as z:
        meta = read_meta(z.zf, name)
        decoder = TreeDecoder(f"{name}: meta.treedef")
        skeleton = decoder.build(meta["treedef"], "")
        leaves_meta = meta["leaves"]
        if len(leaves_meta) != decoder.n_leaves:
            raise AdagradError(
                f"{name}: meta.leaves has {len(leaves_meta)} entries, the tree has {decoder.n_leaves} arrays"
            )
        expected_members = {META} | {f"leaf_{i:05d}.npy" for i in range(decoder.n_leaves)}
        extra = sorted(set(z.zf.namelist()) - expected_members)
        if extra:
            raise AdagradError(f"{name}: unexpected member {short(extra[0])}")
        spec = optree.tree_structure(skeleton, none_is_leaf=False)
        if like is not None:  # checked before any array is read
            described = []
            for i, lm in enumerate(leaves_meta):
                stored, shape, _ = leaf_description(name, i, lm)
                described.append((returned_dtype(lm["dtype"], stored), shape))
            spec, like_dtypes = _check_like(name, meta["treedef"], like, described)
        arrays = [read_leaf(z, i, lm) for i, lm in enumerate(leaves_meta)]
    if like is not None:
        for i, dtype in enumerate(like_dtypes):
            if dtype != arrays[i].dtype:  # the other byte order: the same values, bit for bit
                arrays[i] = arrays[i].byteswap().view(dtype)
    if optimizer is not None:
        _check_hyperparameters(name, meta["hyperparameters"], optimizer)
    return AdagradState(sum_of_squares=spec.unflatten(arrays), count=np.int32(meta["count"]))


def _check_like(name: str, treedef: Any, like: Any, described: list[tuple]) -> tuple[Any, list[np.dtype]]:
    """``like``'s treespec and dtypes, once its structure, dtypes and shapes are the file's.

    ``described``: the file's ``(dtype, shape)`` per array. Byte order may differ: the result
    takes ``like``'s.
    """
    tree = like.sum_of_squares if isinstance(like, AdagradState) else like
    paths, leaves, spec = flatten(tree, "like")
    if encode_tree(spec, "like") != treedef:
        raise AdagradError(f"{name}: the saved tree does not have the structure of `like`")
    dtypes = []
    for p, leaf, (saved, saved_shape) in zip(paths, leaves, described, strict=True):
        try:
            dtype, shape = np.dtype(leaf.dtype), tuple(leaf.shape)
        except (AttributeError, TypeError):
            raise AdagradError(f"{name}: {p} is a {type(leaf).__name__}; `like` must hold arrays") from None
        if dtype.newbyteorder("=") != saved.newbyteorder("=") or shape != saved_shape:
            raise AdagradError(
                f"{name}: the file holds {saved.name} {saved_shape} where {p} is {dtype.name} {shape}"
            )
        dtypes.append(dtype)
    return spec, dtypes
