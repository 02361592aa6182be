"""How the golden files write floats, arrays and pytrees, and the one JSON layout they use.

Every float is its IEEE-754 bit pattern (lowercase hex of the uint32/uint64) with the shortest
round-trip decimal beside it (``nan``, ``inf``, ``-inf`` spelled out; float32 decimals are the
shortest that round-trip *in float32*). Complex arrays hold two entries per element, the real then
the imaginary part, as in memory.

>>> encode_array(np.float32([1.0, -0.1]))
{'shape': [2], 'hex': ['3f800000', 'bdcccccd'], 'dec': ['1.0', '-0.1']}
>>> decode_array({"shape": [1], "hex": ["80000000"]}, "float32", "x")
array([-0.], dtype=float32)
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import optree

from adagrad_ref.errors import AdagradError

__all__ = ["DTYPES", "REAL", "decode_array", "decode_tree", "dumps", "encode_array", "encode_tree"]

#: What each step of a golden case records.
QUANTITIES = ("sum_of_squares", "updates", "params")
DTYPES = ("float32", "float64", "complex64", "complex128")
HEX_DIGITS = {"float32": 8, "float64": 16, "complex64": 8, "complex128": 16}
UINT = {"float32": np.uint32, "float64": np.uint64, "complex64": np.uint32, "complex128": np.uint64}
REAL = {"float32": np.float32, "float64": np.float64, "complex64": np.float32, "complex128": np.float64}
#: Largest rank and extent a file may state (NumPy allows 64 dimensions; no case needs more than 2).
MAX_NDIM = 32
MAX_EXTENT = 2**31 - 1
_PATTERNS = {w: re.compile(f"[0-9a-f]{{{w}}}") for w in (8, 16)}


def _dec(x: np.floating) -> str:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(x) if isinstance(x, np.float32) else repr(float(x))


def encode_array(a: np.ndarray, dec: bool = True) -> dict:
    """``{"shape", "hex", "dec"}``: bit patterns and shortest round-trip decimals, C order.

    A 0-d array is written with shape ``[1]`` (the files' convention since version 1).
    """
    a = np.ascontiguousarray(a)
    name = a.dtype.name
    flat = a.reshape(-1).view(REAL[name]) if name.startswith("complex") else a.reshape(-1)
    width = HEX_DIGITS[name]
    out: dict[str, Any] = {
        "shape": list(a.shape),
        "hex": [format(int(b), f"0{width}x") for b in flat.view(UINT[name])],
    }
    if dec:
        out["dec"] = [_dec(x) for x in flat]
    return out


def check_shape(shape: Any, where: str) -> tuple[int, ...]:
    """A list of at most MAX_NDIM integers in [0, MAX_EXTENT], or the one-line error."""
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_NDIM
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_EXTENT for s in shape)
    ):
        raise AdagradError(
            f"{where}.shape: expected a list of at most {MAX_NDIM} integers in [0, {MAX_EXTENT}]"
        )
    return tuple(shape)


def decode_array(obj: Any, dtype: str, where: str) -> np.ndarray:
    """The inverse of :func:`encode_array`, checking everything; errors name ``where``."""
    if not isinstance(obj, dict):
        raise AdagradError(f"{where}: expected an object with shape and hex")
    shape = check_shape(obj.get("shape"), where)
    hexes = obj.get("hex")
    count = math.prod(shape) * (2 if dtype.startswith("complex") else 1)
    if not isinstance(hexes, list) or len(hexes) != count:
        got = len(hexes) if isinstance(hexes, list) else type(hexes).__name__
        raise AdagradError(f"{where}.hex: expected {count} bit patterns, got {got}")
    width = HEX_DIGITS[dtype]
    pattern = _PATTERNS[width]
    for i, h in enumerate(hexes):
        if not (isinstance(h, str) and pattern.fullmatch(h)):
            raise AdagradError(f"{where}.hex[{i}]: expected {width} lowercase hex digits, got {h!r:.40}")
    bits = np.array([int(h, 16) for h in hexes], dtype=UINT[dtype])
    real = bits.view(REAL[dtype])
    return (real.view(np.dtype(dtype)) if dtype.startswith("complex") else real).reshape(shape)


def path_string(path: tuple) -> str:
    """optree's path as the files write it: ``['w']`` for a dict key, ``[0]`` for a list index."""
    return "".join(f"[{k!r}]" for k in path)


def leaves_with_path(tree: Any) -> list[tuple[str, Any]]:
    """``[(path, leaf)]`` in optree's (= jax's) order, dict keys sorted, ``None`` kept as a leaf."""
    paths, leaves, _ = optree.tree_flatten_with_path(tree, none_is_leaf=True)
    return [(path_string(p), x) for p, x in zip(paths, leaves, strict=True)]


def encode_tree(tree: Any, dec: bool = True) -> list[dict]:
    return [
        {"path": p, "value": None if x is None else encode_array(np.asarray(x), dec)}
        for p, x in leaves_with_path(tree)
    ]


def decode_tree(leaves: Any, dtype: str, where: str) -> list[tuple[str, np.ndarray | None]]:
    if not isinstance(leaves, list):
        raise AdagradError(f"{where}: expected a list of leaves")
    out = []
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, dict) or not isinstance(leaf.get("path"), str) or "value" not in leaf:
            raise AdagradError(f"{where}[{i}]: expected an object with path and value")
        value = leaf["value"]
        out.append(
            (leaf["path"], None if value is None else decode_array(value, dtype, f"{where}[{i}].value"))
        )
    return out


def dumps(doc: dict) -> str:
    """The one serialisation used for golden files (so that regenerating is bit for bit).

    Indented objects; an array, and a pytree leaf ``{"path", "value"}``, on one line each: readable
    (one leaf a line), and a seventh of the size of indenting everything.

    >>> print(dumps({"a": [1, 2], "b": {"c": "d"}}))
    {
     "a": [1, 2],
     "b": {
      "c": "d"
     }
    }
    <BLANKLINE>
    """
    return _dumps(doc, "") + "\n"


def _dumps(o: Any, indent: str) -> str:
    inner = indent + " "
    if isinstance(o, dict) and ("hex" in o or set(o) == {"path", "value"}):
        return json.dumps(o, ensure_ascii=False)
    if isinstance(o, dict):
        if not o:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(o, list) and any(isinstance(x, (dict, list)) for x in o):
        return "[\n" + ",\n".join(inner + _dumps(x, inner) for x in o) + "\n" + indent + "]"
    return json.dumps(o, ensure_ascii=False)
