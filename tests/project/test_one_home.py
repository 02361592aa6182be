"""One home for each fact: no module-level UPPER_CASE constant is assigned in two modules of the package.

A second ``INT32_MAX = ...`` or ``NAMESPACE = ...`` is a copy that can drift from the first: the
second module imports the first's instead. The scan reads every module's source (``ast``), so a
copy added anywhere in the package, private (``_PAIR``) or public, fails here naming both homes.

A few names are, by design, a field every module of one kind defines for itself (each lesson's
notebook and figures) or a different fact under the same local name (a reader's own limits); they
are listed in ``PER_MODULE`` with why, and their values must differ (the same value twice is a copy).
"""

from __future__ import annotations

import ast
import collections

from helpers.paths import ROOT

PACKAGE = ROOT / "adagrad_ref"

PER_MODULE = {
    "NOTEBOOK": "each lesson's own notebook",
    "FIGURES": "each lesson's own figures",
    "GRID": "each lesson's own grid of learning rates",
    "FACTORIES": "the rmsprop/Adam lesson's own table of optimizers (not the conventions')",
    "FORMAT": "the state file's and the low-precision golden file's format names",
    "MAX_JSON_VALUES": "each reader's own bound (state file, golden file)",
    "MAX_DEPTH": "each reader's own bound (state file, golden file)",
    "MAX_NDIM": "each reader's own bound (state file, golden file)",
    "DTYPES": "the state file's dtype table (byte orders) and the golden file's dtype names",
    "_F32": "a local alias of np.float32 in each low-precision module",
}


def constants() -> dict[str, list[tuple[str, str]]]:
    """Every module-level UPPER_CASE name: ``{name: [(module path, value's source), ...]}``."""
    found: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            for t in targets:
                if isinstance(t, ast.Name) and t.id.lstrip("_").isupper() and len(t.id.lstrip("_")) > 1:
                    found[t.id].append((str(path.relative_to(PACKAGE.parent)), ast.unparse(value)))
    return found


def test_no_constant_is_assigned_in_two_modules():
    found = constants()
    assert {"INT32_MAX", "NAMESPACE", "SUPPORTED_DTYPES"} <= set(found)  # the scan sees the package
    twice = {
        name: sorted(p for p, _ in homes)
        for name, homes in found.items()
        if len({p for p, _ in homes}) > 1 and name not in PER_MODULE
    }
    assert not twice, f"constants with two homes (import one from the other): {twice}"


def test_per_module_names_are_not_copies():
    """A name allowed in several modules still holds a different value in each (else it is a copy)."""
    found = constants()
    copies = {
        name: homes
        for name, homes in found.items()
        if name in PER_MODULE and name != "_F32" and len({v for _, v in homes}) < len(homes)
    }
    assert not copies, f"the same value assigned in two modules: {copies}"
