"""The state-file format (version 2) that :mod:`adagrad_ref.state.checkpoint` writes and reads.

An ordinary uncompressed ``.npz`` (a zip of ``.npy`` members, ``numpy.load`` opens it) plus one
member ``meta.json``::

    meta.json        {"format": "adagrad_ref.state", "version": 2, "count": 5,
                      "treedef": ..., "leaves": [{"dtype", "shape", "sha256"}, ...],
                      "hyperparameters": {...} or null}
    leaf_00000.npy   the accumulator of the first array leaf, in optree's (and jax's) order
    leaf_00001.npy   ...

``treedef`` describes the containers as optree flattens them (``none_is_leaf=False``):
``"*"`` is an array, ``null`` is ``None``, and a container is an object:
``{"t": "dict", "keys": [...sorted], "children": [...]}``, ``{"t": "OrderedDict", "keys":
[...insertion order], ...}``, ``{"t": "list" | "tuple", "children": [...]}`` or ``{"t":
"namedtuple", "name": "Layer", "fields": ["w", "b"], "children": [...]}``. A NamedTuple is
recorded by its class's ``__name__`` and ``_fields`` and rebuilt with
``collections.namedtuple(name, fields, rename=True)`` (so a field renamed ``_0`` from ``class``
comes back). A leaf's ``dtype`` is NumPy's ``dtype.str`` with its byte order (``"<f4"``,
``">c16"``, ``"<f2"``); the array is stored, and comes back, in that byte order. A bfloat16 leaf
(``ml_dtypes``) is ``"bfloat16"``: its ``.npy`` member holds its bit patterns as little-endian
uint16 (what ``numpy.load`` shows), and it comes back as bfloat16, every bit as saved.

Version 1 (the hand-written tree walkers' format, before optree: leaves carried a ``path``,
dtypes had no byte order, a leaf was ``{"t": "leaf"}``) is refused with a one-line error naming
the version.

Reading is bounded: compressed, encrypted, duplicated or unexpected members, unknown or missing
fields, a zip declaring more members than a ``meta.json`` can describe (699,051, checked before
its directory is read), a ``meta.json`` over 64 MiB or holding over 2**23 JSON values, a tree over
2**20 nodes or 256 levels, more than 64 dimensions, a shape too large for an array, a member
declaring more bytes than the file has: each is refused with a one-line :class:`AdagradError`
before anything big is allocated. Each array is read from the file straight into the array
returned (peak memory: the state).

>>> _, _, spec = flatten({"b": [np.zeros(2), None], "a": np.ones(1)}, "tree")
>>> encode_tree(spec, "tree")
{'t': 'dict', 'keys': ['a', 'b'], 'children': ['*', {'t': 'list', 'children': ['*', None]}]}
>>> TreeDecoder("meta.treedef").build(encode_tree(spec, "tree"), "")  # the leaves' indices at "*"
{'a': 0, 'b': [1, None]}
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import keyword
import math
import os
import stat
import struct
import zipfile
from typing import Any

import numpy as np
import optree

from adagrad_ref.errors import AdagradError, refuse_json_constant, short

# Containers registered with optree, globally or in this namespace, are seen as nodes (and refused).
from adagrad_ref.trees import NAMESPACE
from adagrad_ref.validation import INT32_MAX

FORMAT = "adagrad_ref.state"
VERSION = 2
META = "meta.json"
META_KEYS = {"format", "version", "count", "treedef", "leaves", "hyperparameters"}
MAX_META_BYTES = 64 << 20
MAX_NODES = 1 << 20
# json.loads builds up to ~70 bytes per value ("{}" costs 64 bytes for 2 of text). Counting commas,
# brackets and strings first bounds what parsing can allocate (measured: a meta.json of "{}", short
# strings, floats or long strings at these caps peaks at 160 to 315 MiB); a real state counts about
# 20 per leaf (a dict of layers of w and b), so about 400,000 leaves fit.
MAX_JSON_VALUES = 8 * MAX_NODES
MAX_DEPTH = 256
# Each leaf costs at least 12 of those values in meta.json ("*" in the tree, and its {"dtype", "shape",
# "sha256"}), so no readable file has more members than this; the zip's directory is refused above it
# before it is parsed (zipfile builds an object per member: 1M members took 353 MB and 6-9 s).
MAX_LEAVES = MAX_JSON_VALUES // 12
MAX_MEMBERS = MAX_LEAVES + 1
MAX_NDIM = 64
MAX_NPY_HEADER = 4096
CHUNK = 1 << 20
#: bfloat16 (ml_dtypes) has no ``.npy`` type of its own (its ``dtype.str`` is ``"<V2"``, any 2 bytes):
#: its leaf is stored as its bit patterns, little-endian uint16, and named ``"bfloat16"`` in meta.json.
BFLOAT16 = "bfloat16"
DTYPES = {
    **{
        d.str: d
        for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128)
        for d in (np.dtype(t).newbyteorder("<"), np.dtype(t).newbyteorder(">"))
    },
    BFLOAT16: np.dtype("<u2"),
}


def returned_dtype(label: str, stored: np.dtype) -> np.dtype:
    """The dtype a leaf comes back in: ``stored``, or bfloat16 for a leaf stored as its bits."""
    if label == BFLOAT16:
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return stored


# ---------------------------------------------------------------- tree <-> JSON


def flatten(tree: Any, name: str) -> tuple[list[str], list[Any], Any]:
    """``(paths, leaves, treespec)`` of ``tree`` as optree flattens it, paths like ``name['w']``."""
    try:
        accessors, leaves, spec = optree.tree_flatten_with_accessor(
            tree, none_is_leaf=False, namespace=NAMESPACE
        )
    except RecursionError:
        raise AdagradError(f"{name} is nested too deeply, or contains itself") from None
    except (TypeError, ValueError) as e:
        raise AdagradError(f"{name} cannot be flattened ({e})") from None
    if spec.num_nodes > MAX_NODES:
        raise AdagradError(f"{name} has {spec.num_nodes} tree nodes; a state file holds at most {MAX_NODES}")
    return [a.codify(name) for a in accessors], leaves, spec


def encode_tree(spec: Any, name: str) -> Any:
    """The JSON description of an optree treespec (see the module docstring)."""

    def node(node_type: type, data: Any, children: tuple) -> Any:
        kids = list(children)
        if node_type is type(None):
            return None
        if node_type in (dict, collections.OrderedDict):
            for k in data:
                if not isinstance(k, str):
                    raise AdagradError(
                        f"{name}: cannot save a dict key of type {type(k).__name__} ({k!r}); use str keys"
                    )
            return {"t": node_type.__name__, "keys": list(data), "children": kids}
        if node_type in (list, tuple):
            return {"t": node_type.__name__, "children": kids}
        if optree.is_namedtuple_class(node_type):
            return {
                "t": "namedtuple",
                "name": node_type.__name__,
                "fields": list(node_type._fields),
                "children": kids,
            }
        raise AdagradError(
            f"{name}: cannot save a {node_type.__name__} node; a state file records dict, OrderedDict, list, "
            "tuple, NamedTuple and None"
        )

    return spec.walk(range(spec.num_leaves), node, lambda _: "*")


_NODE_FIELDS = {
    "dict": {"t", "keys", "children"},
    "OrderedDict": {"t", "keys", "children"},
    "list": {"t", "children"},
    "tuple": {"t", "children"},
    "namedtuple": {"t", "name", "fields", "children"},
}


class TreeDecoder:
    """Rebuild a tree from its JSON description, with the leaf's index (0, 1, ...) at each ``"*"``."""

    def __init__(self, where: str):
        self.where, self.n_leaves, self.n_nodes = where, 0, 0
        self.classes: dict[tuple, type] = {}

    def build(self, j: Any, at: str, depth: int = 0) -> Any:
        self.n_nodes += 1
        if self.n_nodes > MAX_NODES or depth > MAX_DEPTH:
            raise AdagradError(
                f"{self.where}: the tree has more than {MAX_NODES} nodes or {MAX_DEPTH} levels"
            )
        if j == "*":
            self.n_leaves += 1
            return self.n_leaves - 1
        if j is None:
            return None
        if not isinstance(j, dict):
            raise AdagradError(
                f'{self.where}{at}: expected "*" (an array), null (None) or an object, got {short(j)}'
            )
        t = j.get("t")
        if not isinstance(t, str) or t not in _NODE_FIELDS:
            raise AdagradError(
                f"{self.where}{at}.t: unknown kind {short(t)}; expected one of {list(_NODE_FIELDS)}"
            )
        if set(j) != _NODE_FIELDS[t]:
            raise AdagradError(f"{self.where}{at}: a {t} has exactly the fields {sorted(_NODE_FIELDS[t])}")
        kids_j = j["children"]
        if not isinstance(kids_j, list):
            raise AdagradError(f"{self.where}{at}.children: expected a list")
        kids = [self.build(c, f"{at}.children[{i}]", depth + 1) for i, c in enumerate(kids_j)]
        if t in ("list", "tuple"):
            return kids if t == "list" else tuple(kids)
        names = j["fields" if t == "namedtuple" else "keys"]
        if not (
            isinstance(names, list) and len(names) == len(kids) and all(isinstance(k, str) for k in names)
        ):
            raise AdagradError(f"{self.where}{at}: expected {len(kids)} strings as keys or fields")
        if len(set(names)) != len(names) or (t == "dict" and names != sorted(names)):
            raise AdagradError(f"{self.where}{at}.keys: expected distinct keys{', sorted' * (t == 'dict')}")
        if t == "dict":
            return dict(zip(names, kids, strict=True))
        if t == "OrderedDict":
            return collections.OrderedDict(zip(names, kids, strict=True))
        return self.namedtuple(j["name"], names, at)(*kids)

    def namedtuple(self, name: Any, fields: list[str], at: str) -> type:
        key = (name, tuple(fields))
        if key not in self.classes:
            ok = isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            # rename=True keeps the names a NamedTuple class may hold, such as `_0` for `class`.
            cls = collections.namedtuple(name, fields, rename=True) if ok else None
            if cls is None or cls._fields != key[1]:
                raise AdagradError(
                    f"{self.where}{at}: cannot make a NamedTuple {short(name)} with fields {fields}"
                )
            self.classes[key] = cls
        return self.classes[key]


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


class open_zip:
    """The file's zip, refused unless every member is stored, plain, unique and within the file."""

    def __init__(self, name: str):
        self.name = name
        try:  # O_NONBLOCK: a FIFO must not hang the open; it is then refused as not a regular file
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise AdagradError(f"{name}: cannot open ({e.strerror or e})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise AdagradError(f"{name}: cannot open (not a regular file)")
        self.f = os.fdopen(fd, "rb")
        self._check_member_count()
        try:
            size = os.fstat(self.f.fileno()).st_size
            self.zf = zipfile.ZipFile(self.f)
        except _ZIP_ERRORS as e:
            self.f.close()
            raise AdagradError(f"{name}: not a readable .npz/zip file ({e})") from None
        self.size, self.headers = size, {}  # headers: the parsed .npy headers, by their bytes
        try:
            self._check_members(size)
        except AdagradError:
            self.__exit__()
            raise

    def _check_member_count(self) -> None:
        """At most MAX_MEMBERS members, counted before zipfile reads the directory (it builds an object
        per member): the count the end record declares, then the directory itself, walked without
        building anything and stopped at the first member too many (zipfile reads every entry the
        directory holds, whatever the end record declares)."""
        try:
            end = zipfile._EndRecData(self.f)  # the end record (zip64 too), as ZipFile reads it first
            if end:
                declared, cd_size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
                start = end[zipfile._ECD_LOCATION] - cd_size  # as ZipFile finds it (with any prefix)
                if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
                    start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
                counted = declared if declared > MAX_MEMBERS else self._count_entries(start, cd_size)
            self.f.seek(0)
        except Exception:  # ZipFile reads it again and says what is wrong
            return
        if end and counted > MAX_MEMBERS:
            self.f.close()
            raise AdagradError(
                f"{self.name}: the zip holds more than {MAX_MEMBERS} members; a state file has at most "
                f"{MAX_MEMBERS} (meta.json and one per leaf)"
            )

    def _count_entries(self, start: int, cd_size: int) -> int:
        """Central-directory entries from ``start``, counted up to MAX_MEMBERS + 1."""
        if start < 0:
            return 0
        self.f.seek(start)
        data = self.f.read(cd_size)
        at, n, head = 0, 0, zipfile.sizeCentralDir
        while at + head <= len(data) and n <= MAX_MEMBERS:
            if data[at : at + 4] != zipfile.stringCentralDir:
                break  # ZipFile refuses it
            name, extra, comment = struct.unpack_from("<3H", data, at + 28)
            at += head + name + extra + comment
            n += 1
        return n

    def _check_members(self, size: int) -> None:
        seen = set()
        for info in self.zf.infolist():
            member = short(info.filename)
            if info.filename in seen:
                raise AdagradError(f"{self.name}: member {member} appears twice")
            seen.add(info.filename)
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1:
                raise AdagradError(
                    f"{self.name}: member {member} is compressed or encrypted; state files are stored as is"
                )
            if info.file_size > size or info.file_size != info.compress_size:
                raise AdagradError(
                    f"{self.name}: member {member} declares {info.file_size} bytes in a file of {size}"
                )

    def __enter__(self) -> open_zip:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.zf.close()
        self.f.close()


def check_meta_size(raw: bytes, where: str) -> None:
    if len(raw) > MAX_META_BYTES:
        raise AdagradError(f"{where}: meta.json has {len(raw)} bytes, more than {MAX_META_BYTES}")
    values = raw.count(b",") + raw.count(b"{") + raw.count(b"[") + raw.count(b'"') // 2
    if values > MAX_JSON_VALUES:
        raise AdagradError(f"{where}: meta.json holds more than {MAX_JSON_VALUES} values")


def read_meta(zf: zipfile.ZipFile, name: str) -> dict:
    try:
        info = zf.getinfo(META)
    except KeyError:
        raise AdagradError(f"{name}: missing member {META!r}") from None
    if info.file_size > MAX_META_BYTES:
        raise AdagradError(f"{name}: meta.json declares {info.file_size} bytes, more than {MAX_META_BYTES}")
    try:
        with zf.open(info) as m:
            raw = m.read(MAX_META_BYTES + 1)
    except _ZIP_ERRORS as e:
        raise AdagradError(f"{name}: member {META!r} is corrupted ({e})") from None
    if len(raw) != info.file_size:
        raise AdagradError(f"{name}: member {META!r} is truncated")
    check_meta_size(raw, name)
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=refuse_json_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise AdagradError(f"{name}: meta.json is not valid JSON ({e})") from None
    except ValueError as e:
        raise AdagradError(f"{name}: meta.json {e}") from None
    if not isinstance(meta, dict):
        raise AdagradError(f"{name}: meta.json must be an object")
    if meta.get("format") != FORMAT:
        raise AdagradError(f"{name}: meta.format is {short(meta.get('format'))}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise AdagradError(
            f"{name}: meta.version is {short(meta.get('version'))}; this reader reads version {VERSION}"
            + (
                " (version 1 files: load with adagrad_ref 0.1 and save again)"
                if meta.get("version") == 1
                else ""
            )
        )
    if set(meta) != META_KEYS:
        odd = sorted(set(meta) ^ META_KEYS)[0]
        raise AdagradError(f"{name}: meta.{short(odd)[1:-1]} is {'unknown' if odd in meta else 'missing'}")
    count = meta["count"]
    if not (isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= INT32_MAX):
        raise AdagradError(f"{name}: meta.count must be an integer in [0, 2**31-1], got {short(count)}")
    if not isinstance(meta["leaves"], list):
        raise AdagradError(f"{name}: meta.leaves must be a list")
    if meta["hyperparameters"] is not None and not isinstance(meta["hyperparameters"], dict):
        raise AdagradError(f"{name}: meta.hyperparameters must be an object or null")
    return meta


def leaf_description(name: str, i: int, lm: Any) -> tuple[np.dtype, tuple[int, ...], int]:
    where = f"{name}: meta.leaves[{i}]"
    if not isinstance(lm, dict) or set(lm) != {"dtype", "shape", "sha256"}:
        raise AdagradError(f"{where}: expected an object with exactly dtype, shape and sha256")
    dtype = DTYPES.get(lm["dtype"]) if isinstance(lm["dtype"], str) else None
    if dtype is None:
        raise AdagradError(f"{where}.dtype: expected one of {sorted(DTYPES)}, got {short(lm['dtype'])}")
    shape = lm["shape"]
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_NDIM
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise AdagradError(
            f"{where}.shape: expected at most {MAX_NDIM} non-negative integers, got {short(shape)}"
        )
    if math.prod(max(s, 1) for s in shape) * dtype.itemsize > np.iinfo(np.intp).max:
        raise AdagradError(f"{where}.shape: {short(shape)} is too large for an array")
    if not isinstance(lm["sha256"], str):
        raise AdagradError(f"{where}.sha256: expected a string")
    return dtype, tuple(shape), math.prod(shape) * dtype.itemsize


def read_leaf(z: open_zip, i: int, lm: Any) -> np.ndarray:
    """Read one ``.npy`` member straight into the array returned, then hash it: no other copy.

    The member is stored, so its bytes are read from the file itself (after the zip's local
    header); the SHA-256 of meta.json, not the zip's CRC-32, vouches for them.
    """
    name = z.name
    dtype, shape, nbytes = leaf_description(name, i, lm)
    member = f"leaf_{i:05d}.npy"
    try:
        info = z.zf.getinfo(member)
    except KeyError:
        raise AdagradError(f"{name}: missing member {member!r}") from None
    if not nbytes <= info.file_size <= nbytes + MAX_NPY_HEADER:
        raise AdagradError(
            f"{name}: {member} has {info.file_size} bytes; meta.leaves[{i}] says {nbytes} of data "
            f"and a header of at most {MAX_NPY_HEADER}"
        )
    try:
        z.f.seek(info.header_offset)
        local = z.f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04" or local[8:10] != b"\0\0" or local[6] & 1:
            raise AdagradError(f"{name}: {member} has a bad local header (the file is corrupted)")
        n_name, n_extra = struct.unpack("<HH", local[26:30])
        if z.f.read(n_name) != member.encode():
            raise AdagradError(
                f"{name}: {member} has another name in its local header (the file is corrupted)"
            )
        start = info.header_offset + 30 + n_name + n_extra
        if start + info.file_size > z.size:
            raise AdagradError(f"{name}: {member} extends past the end of the file")
        z.f.seek(start)
        head = z.f.read(min(info.file_size, MAX_NPY_HEADER + 16))
        h_shape, fortran, h_dtype, h_len = _npy_header(z, head, member)
        if h_dtype != dtype or tuple(h_shape) != shape or fortran:
            got = f"{h_dtype} {tuple(h_shape)}" + " in Fortran order" * bool(fortran)
            raise AdagradError(f"{name}: {member} holds {got}, meta.leaves[{i}] says {dtype} {shape}")
        have = info.file_size - h_len
        if have != nbytes:
            raise AdagradError(f"{name}: {member} has {have} bytes of data, expected {nbytes}")
        a = np.empty(shape, dtype)
        out = a.reshape(-1).view(np.uint8)
        first = head[h_len:]
        out[: len(first)] = np.frombuffer(first, np.uint8)
        pos = len(first)
        while pos < nbytes:  # straight into the array, no intermediate bytes
            got = z.f.readinto(memoryview(out[pos : pos + CHUNK]))
            if not got:
                raise AdagradError(f"{name}: {member} is truncated")
            pos += got
    except OSError as e:
        raise AdagradError(f"{name}: cannot read {member} ({e.strerror or e})") from None
    if hashlib.sha256(out).hexdigest() != lm["sha256"]:
        raise AdagradError(f"{name}: {member} does not match meta.leaves[{i}].sha256 (the file is corrupted)")
    if lm["dtype"] == BFLOAT16:  # the bits, in this machine's byte order, viewed as bfloat16
        a = a.astype("=u2", copy=False).view(returned_dtype(BFLOAT16, dtype))
    return a


def _npy_header(z: open_zip, head: bytes, member: str) -> tuple:
    """``(shape, fortran_order, dtype, header length)`` of the ``.npy`` member starting with ``head``."""
    f = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"version {version}")
        size_bytes = 2 if version == (1, 0) else 4
        h_len = 6 + 2 + size_bytes + int.from_bytes(head[8 : 8 + size_bytes], "little")
        key = head[:h_len]
        if key not in z.headers:  # most leaves share a few headers: each is parsed once
            f.seek(0)
            np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            parsed = read(f, max_header_size=MAX_NPY_HEADER)
            if f.tell() != h_len:
                raise ValueError("header length")
            z.headers[key] = (*parsed, h_len)
        return z.headers[key]
    except Exception as e:  # numpy's parser of untrusted text: SyntaxError, tokenize.TokenError, ...
        raise AdagradError(f"{z.name}: {member} has a bad .npy header ({type(e).__name__})") from None
