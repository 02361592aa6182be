"""Save and load an :class:`~adagrad_ref.AdagradState`: one ``.npz``, written atomically.

The file is an ordinary uncompressed ``.npz`` (a zip of ``.npy`` members) that
``numpy.load`` can open, plus one member ``meta.json``::

    meta.json        {"format": "adagrad_ref.state", "version": 1, "count": 5,
                      "treedef": {...}, "leaves": [{"path", "dtype", "shape", "sha256"}, ...],
                      "hyperparameters": {...} or null}
    leaf_00000.npy   the accumulator of the first non-None leaf, in tree order
    leaf_00001.npy   ...

Guarantees:

* a round trip is bit-exact (the raw bytes of every accumulator, NaN payloads included);
* the write is atomic: the file is written under a temporary name in the same
  folder, flushed to disk, then renamed over the target. A crash or a full disk
  part-way leaves the previous file as it was;
* a truncated, corrupted or wrong-version file, or one whose arrays do not match
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

import collections
import hashlib
import io
import json
import math
import os
import struct
import tempfile
import zipfile
from typing import Any

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.reference import INT32_MAX, AdagradState
from adagrad_ref.tree import TreeDef, as_array_leaf, flatten_with_path, leaf_paths, unflatten
from adagrad_ref.validation import SUPPORTED_DTYPES

__all__ = ["FORMAT", "VERSION", "load_state", "read_metadata", "save_state"]

FORMAT = "adagrad_ref.state"
VERSION = 1
_META = "meta.json"
_MAX_META_BYTES = 64 << 20
_DTYPES = {np.dtype(t).name: np.dtype(t) for t in SUPPORTED_DTYPES}


# ---------------------------------------------------------------- tree <-> JSON


def _treedef_to_json(d: TreeDef) -> dict:
    kind = d[0]
    if kind in ("leaf", "none"):
        return {"t": kind}
    if kind == "dict":
        for k in d[1]:
            if not isinstance(k, str):
                raise AdagradError(f"cannot save a dict key of type {type(k).__name__} ({k!r}); use str keys")
        return {"t": "dict", "keys": list(d[1]), "children": [_treedef_to_json(c) for c in d[2]]}
    if kind == "namedtuple":
        cls = d[1]
        return {
            "t": "namedtuple",
            "name": cls.__name__,
            "fields": list(cls._fields),
            "children": [_treedef_to_json(c) for c in d[2]],
        }
    return {"t": kind, "children": [_treedef_to_json(c) for c in d[1]]}


def _treedef_from_json(j: Any, where: str) -> TreeDef:
    if not isinstance(j, dict) or not isinstance(j.get("t"), str):
        raise AdagradError(f"{where}: expected an object with a string 't'")
    kind = j["t"]
    if kind in ("leaf", "none"):
        return (kind,)
    children = j.get("children")
    if not isinstance(children, list):
        raise AdagradError(f"{where}.children: expected a list")
    kids = tuple(_treedef_from_json(c, f"{where}.children[{i}]") for i, c in enumerate(children))
    if kind == "dict":
        keys = j.get("keys")
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys) and len(keys) == len(kids)):
            raise AdagradError(f"{where}.keys: expected {len(kids)} strings")
        if keys != sorted(set(keys)):
            raise AdagradError(f"{where}.keys: expected sorted, distinct keys")
        return ("dict", tuple(keys), kids)
    if kind == "namedtuple":
        name, fields = j.get("name"), j.get("fields")
        ok = isinstance(name, str) and isinstance(fields, list) and len(fields) == len(kids)
        if not ok or not all(isinstance(f, str) for f in fields):
            raise AdagradError(f"{where}: a namedtuple needs a string name and {len(kids)} string fields")
        try:
            cls = collections.namedtuple(name, fields)
        except (ValueError, TypeError) as e:
            raise AdagradError(f"{where}: invalid namedtuple ({e})") from None
        return ("namedtuple", cls, kids)
    if kind in ("list", "tuple"):
        return (kind, kids)
    raise AdagradError(f"{where}.t: unknown kind {kind!r}")


# ---------------------------------------------------------------- hyperparameters


def _hyperparameters(opt: Any) -> dict | None:
    """What a state file records of its optimizer: the convention's name and ALL its hyperparameters.

    Any optimizer of this package (``adagrad``, ``conventions.*``) has ``convention`` and
    ``hyperparameters``. A schedule is code and is recorded only as the string ``"schedule"``:
    that the rate is a schedule is checked on load, *which* schedule cannot be.
    """
    if opt is None:
        return None
    try:
        described = {"convention": str(opt.convention), **opt.hyperparameters}
    except AttributeError:
        raise AdagradError(
            f"optimizer must be one of adagrad_ref's optimizers (with convention and hyperparameters), "
            f"got {type(opt).__name__}"
        ) from None
    # JSON has no Inf or NaN (torch accepts lr=inf): those are recorded as the strings 'inf', 'nan'.
    return {k: repr(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in described.items()}


def _check_hyperparameters(name: str, saved: Any, opt: Any) -> None:
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


def save_state(path: str | os.PathLike, state: AdagradState, optimizer: Any = None) -> None:
    """Write ``state`` (and ``optimizer``'s hyperparameters, if given) to ``path`` atomically.

    If writing fails part-way (full disk, a crash), the file that was at
    ``path`` before is left as it was; on an exception the temporary file is
    removed.
    """
    if not isinstance(state, AdagradState):
        raise AdagradError(f"save_state: state must be an AdagradState, got {type(state).__name__}")
    count = int(state.count)
    if not 0 <= count <= INT32_MAX:
        raise AdagradError(f"save_state: state.count must be in [0, 2**31-1], got {count}")
    items, treedef = flatten_with_path(state.sum_of_squares)
    arrays, described = [], []
    for leaf_path, leaf in items:
        if leaf is None:
            continue
        a = np.asarray(as_array_leaf(leaf_path, leaf, "state.sum_of_squares"), order="C")  # keeps 0-d
        if a.dtype.name not in _DTYPES:
            raise AdagradError(f"state.sum_of_squares{leaf_path} has dtype {a.dtype}; cannot save it")
        arrays.append(a)
        described.append(
            {"path": leaf_path, "dtype": a.dtype.name, "shape": list(a.shape), "sha256": _sha256(a)}
        )
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "count": count,
        "treedef": _treedef_to_json(treedef),
        "leaves": described,
        "hyperparameters": _hyperparameters(optimizer),
    }
    meta_bytes = json.dumps(meta, indent=1, allow_nan=False).encode()

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(_META, meta_bytes)
                for i, a in enumerate(arrays):
                    with zf.open(f"leaf_{i:05d}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, a, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(a.tobytes()).hexdigest()


# ---------------------------------------------------------------- load


def read_metadata(path: str | os.PathLike) -> dict:
    """The checked ``meta.json`` of a state file (format, version, count, leaves, hyperparameters)."""
    with _open_zip(path) as zf:
        return _read_meta(zf, os.fspath(path))


def load_state(path: str | os.PathLike, *, like: Any = None, optimizer: Any = None) -> AdagradState:
    """Read a state written by :func:`save_state`; everything is checked before it is returned.

    Args:
      like: optional params or state whose tree the file must have; its
        NamedTuple classes are used for the result (otherwise classes of the
        same name and fields are made).
      optimizer: optional; the file's convention and every hyperparameter
        must equal its own, so that a resumed run computes what the
        interrupted one would have. A schedule is recorded only as
        ``"schedule"``: that both rates are schedules is checked, whether
        they are the same schedule cannot be.
    """
    name = os.fspath(path)
    with _open_zip(path) as zf:
        meta = _read_meta(zf, name)
        treedef = _treedef_from_json(meta["treedef"], f"{name}: meta.treedef")
        kinds = leaf_paths(treedef)
        array_paths = [p for p, kind in kinds if kind == "leaf"]
        leaves_meta = meta["leaves"]
        if len(leaves_meta) != len(array_paths):
            raise AdagradError(
                f"{name}: meta.leaves has {len(leaves_meta)} entries, the tree has {len(array_paths)} arrays"
            )
        for i, (lm, p) in enumerate(zip(leaves_meta, array_paths, strict=True)):
            if not isinstance(lm, dict) or lm.get("path") != p:
                raise AdagradError(f"{name}: meta.leaves[{i}].path: expected {p!r} as the tree says")
        arrays = [_read_leaf(zf, name, i, lm) for i, lm in enumerate(leaves_meta)]
        n_arrays = len(arrays)
        expected_members = {_META} | {f"leaf_{i:05d}.npy" for i in range(n_arrays)}
        extra = sorted(set(zf.namelist()) - expected_members)
        if extra:
            raise AdagradError(f"{name}: unexpected member {extra[0]!r}")

    if like is not None:
        like_tree = like.sum_of_squares if isinstance(like, AdagradState) else like
        like_def = flatten_with_path(like_tree)[1]
        if _treedef_to_json(like_def) != meta["treedef"]:
            raise AdagradError(f"{name}: the saved tree does not have the structure of `like`")
        treedef = like_def
    if optimizer is not None:
        _check_hyperparameters(name, meta["hyperparameters"], optimizer)
    it = iter(arrays)
    leaves = [None if kind == "none" else next(it) for _, kind in kinds]
    return AdagradState(sum_of_squares=unflatten(treedef, leaves), count=np.int32(meta["count"]))


# What zipfile raises on a damaged archive (found by tests/test_fuzz_checkpoint.py).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # "zip file version 10.9", an unknown compression method
    struct.error,
    OSError,
    EOFError,
    ValueError,
    OverflowError,
    RuntimeError,  # an "encrypted" flag bit
)


class _open_zip:
    def __init__(self, path: str | os.PathLike):
        self.name = os.fspath(path)
        try:
            self.f = open(self.name, "rb")
        except OSError as e:
            raise AdagradError(f"{self.name}: cannot open ({e.strerror or e})") from None
        try:
            self.zf = zipfile.ZipFile(self.f)
        except _ZIP_ERRORS as e:
            self.f.close()
            raise AdagradError(f"{self.name}: not a readable .npz/zip file ({e})") from None

    def __enter__(self) -> zipfile.ZipFile:
        return self.zf

    def __exit__(self, *exc: Any) -> None:
        self.zf.close()
        self.f.close()


def _read_member(zf: zipfile.ZipFile, name: str, member: str, limit: int) -> bytes:
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise AdagradError(f"{name}: missing member {member!r}") from None
    if info.file_size > limit:
        raise AdagradError(f"{name}: member {member!r} declares {info.file_size} bytes, more than {limit}")
    try:
        with zf.open(info) as m:
            data = m.read(limit + 1)
    except _ZIP_ERRORS as e:
        raise AdagradError(f"{name}: member {member!r} is corrupted ({e})") from None
    if len(data) != info.file_size:
        raise AdagradError(f"{name}: member {member!r} is truncated")
    return data


def _read_meta(zf: zipfile.ZipFile, name: str) -> dict:
    raw = _read_member(zf, name, _META, _MAX_META_BYTES)
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise AdagradError(f"{name}: meta.json is not valid JSON ({e})") from None
    except ValueError as e:
        raise AdagradError(f"{name}: meta.json {e}") from None
    if not isinstance(meta, dict):
        raise AdagradError(f"{name}: meta.json must be an object")
    if meta.get("format") != FORMAT:
        raise AdagradError(f"{name}: meta.format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise AdagradError(
            f"{name}: meta.version is {meta.get('version')!r}; this reader reads version {VERSION}"
        )
    count = meta.get("count")
    if not (isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= INT32_MAX):
        raise AdagradError(f"{name}: meta.count must be an integer in [0, 2**31-1], got {count!r}")
    if not isinstance(meta.get("leaves"), list):
        raise AdagradError(f"{name}: meta.leaves must be a list")
    if "treedef" not in meta:
        raise AdagradError(f"{name}: meta.treedef is missing")
    hp = meta.get("hyperparameters", "missing")
    if hp is not None and not isinstance(hp, dict):
        raise AdagradError(f"{name}: meta.hyperparameters must be an object or null")
    return meta


def _refuse_constant(c: str) -> None:
    raise ValueError(f"has {c}, which is not JSON")


def _read_leaf(zf: zipfile.ZipFile, name: str, i: int, lm: Any) -> np.ndarray:
    where = f"{name}: meta.leaves[{i}]"
    if not isinstance(lm, dict):
        raise AdagradError(f"{where}: expected an object")
    dtype = _DTYPES.get(lm.get("dtype")) if isinstance(lm.get("dtype"), str) else None
    if dtype is None:
        raise AdagradError(f"{where}.dtype: expected one of {sorted(_DTYPES)}, got {lm.get('dtype')!r}")
    shape = lm.get("shape")
    if not (
        isinstance(shape, list)
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise AdagradError(f"{where}.shape: expected a list of non-negative integers, got {shape!r}")
    nbytes = math.prod(shape) * dtype.itemsize
    member = f"leaf_{i:05d}.npy"
    raw = _read_member(zf, name, member, nbytes + 4096)  # the .npy header is < 4 KiB
    try:
        f = io.BytesIO(raw)
        version = np.lib.format.read_magic(f)
        header = (
            np.lib.format.read_array_header_1_0(f)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(f)
        )
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, RecursionError, MemoryError) as e:
        raise AdagradError(f"{name}: {member} has a bad .npy header ({type(e).__name__})") from None
    h_shape, fortran, h_dtype = header
    if h_dtype != dtype or list(h_shape) != shape or fortran:
        raise AdagradError(
            f"{name}: {member} holds {h_dtype} {tuple(h_shape)}, meta.leaves[{i}] says {dtype} {tuple(shape)}"
        )
    data = raw[f.tell() :]
    if len(data) != nbytes:
        raise AdagradError(f"{name}: {member} has {len(data)} bytes of data, expected {nbytes}")
    a = np.frombuffer(data, dtype=dtype).reshape(tuple(shape)).copy()
    if _sha256(a) != lm.get("sha256"):
        raise AdagradError(f"{name}: {member} does not match meta.leaves[{i}].sha256 (the file is corrupted)")
    return a
