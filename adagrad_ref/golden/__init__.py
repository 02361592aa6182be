"""Golden values for ports: the test-vector format, its cases, generator, verifier and report.

One JSON file per convention under ``adagrad_ref/golden/data/`` (``optax.json``,
``pytorch.json``, ``keras.json``, ``tensorflow_v2.json``), valid against
``adagrad_ref/golden/data/schema.json``; ``python -m adagrad_ref golden --out DIR``
writes them again, bit for bit (``--full``: every step of every trajectory). The layout
follows Project Wycheproof (a header, a table of flags, groups of tests sharing parameters,
each test with an id, a comment and flags) and NumPy's ufunc accuracy data (every float as
its IEEE-754 bit pattern in hex, with the shortest round-trip decimal beside it).

One module per job: :mod:`~adagrad_ref.golden.encoding` (floats, arrays, pytrees, the JSON
layout), :mod:`~adagrad_ref.golden.cases` (the case tables), :mod:`~adagrad_ref.golden.generator`
(running them through the conventions' public API), :mod:`~adagrad_ref.golden.port` (a port
from the guide, with its arithmetic passed in: the legitimate variants the relaxed tolerances
are measured from), :mod:`~adagrad_ref.golden.verifier` and :mod:`~adagrad_ref.golden.report`.
Nothing is imported here at import time but the names below, lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SCHEMA_VERSION",
    "decode_array",
    "dumps",
    "encode_array",
    "format_report",
    "generate",
    "golden_dir",
    "golden_path",
    "verify",
    "write_all",
]

_WHERE = {
    "SCHEMA_VERSION": "verifier",
    "decode_array": "encoding",
    "dumps": "encoding",
    "encode_array": "encoding",
    "format_report": "report",
    "generate": "generator",
    "golden_dir": "verifier",
    "golden_path": "verifier",
    "verify": "verifier",
    "write_all": "generator",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"adagrad_ref.golden.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'adagrad_ref.golden' has no attribute {name!r}")
