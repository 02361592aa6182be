"""Dependencies point one way, and ``import adagrad_ref`` loads only what it uses.

The import graph is read from the source (``ast``), every ``import`` and
``from ... import`` counted wherever it stands: at module level, inside a
function (a lazy import) or under ``if TYPE_CHECKING``. A cycle, lazy or not,
fails the test and is printed.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest
from helpers.paths import ROOT

PACKAGE = ROOT / "adagrad_ref"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = mod.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join([*base, node.module] if node.module else base)
                else:
                    prefix = node.module or ""
                targets = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
            for t in targets:
                # `import a.b.c` runs a, a.b and a.b.c: each is an edge.
                parts = t.split(".")
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    # A module's own parent packages are imported before it anyway: not an edge.
                    if name in modules and name != mod and not mod.startswith(name + "."):
                        graph[mod].add(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def test_the_graph_reader_sees_lazy_imports_and_finds_cycles():
    graph = import_graph()
    assert "adagrad_ref.fast.kernels" in graph["adagrad_ref.backends"]  # imported inside a function
    assert "adagrad_ref.state.checkpoint" in graph["adagrad_ref"]  # inside __getattr__
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package_lazy_imports_included():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_reference_never_imports_the_fast_core():
    graph = import_graph()
    reachable, todo = set(), ["adagrad_ref.reference"]
    while todo:
        m = todo.pop()
        for n in graph[m] - reachable:
            reachable.add(n)
            todo.append(n)
    # Only through the backend table's function-level import, when a Numba step runs:
    direct = {m for m in graph["adagrad_ref.reference"] if m.startswith("adagrad_ref.fast")}
    assert not direct
    assert graph["adagrad_ref.backends"] & {"adagrad_ref.fast.kernels"} == {"adagrad_ref.fast.kernels"}
    assert "adagrad_ref.reference" not in graph["adagrad_ref.backends"]


def loaded_after(code: str) -> set[str]:
    prog = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def test_import_adagrad_ref_loads_the_reference_alone():
    mods = loaded_after("import adagrad_ref")
    ours = {m for m in mods if m.startswith("adagrad_ref")}
    assert (
        ours
        == {
            "adagrad_ref",
            "adagrad_ref.backends",
            "adagrad_ref.errors",
            "adagrad_ref.numerics",
            "adagrad_ref.numerics.lowprec",  # bfloat16/float16: the reference's per-operation rounding (NumPy only)
            "adagrad_ref.reference",
            "adagrad_ref.trees",
            "adagrad_ref.validation",
        }
    )
    assert not top(mods) & {"numba", "llvmlite", "tqdm", "jax", "matplotlib"}
    assert "adagrad_ref.state.checkpoint" not in mods


@pytest.mark.parametrize(
    "code, loads, does_not_load",
    [
        (
            "import numpy as np, adagrad_ref\nopt = adagrad_ref.adagrad(0.1)\n"
            "opt.update(np.ones(2), opt.init(np.ones(2)))",
            set(),
            {"numba", "adagrad_ref.fast.kernels", "adagrad_ref.state.checkpoint", "tqdm"},
        ),
        (
            "import numpy as np, adagrad_ref\nopt = adagrad_ref.adagrad(0.1, backend='numba')\n"
            "opt.init(np.ones(2))",
            set(),
            {"numba", "adagrad_ref.fast.kernels"},  # constructing and init run no Numba step
        ),
        (
            "import numpy as np, adagrad_ref\nopt = adagrad_ref.adagrad(0.1, backend='numba')\n"
            "opt.update(np.ones(2), opt.init(np.ones(2)))",
            {"numba", "adagrad_ref.fast.kernels"},
            {"adagrad_ref.state.checkpoint", "tqdm"},
        ),
        (
            "import adagrad_ref\nadagrad_ref.save_state",
            {"adagrad_ref.state.checkpoint"},
            {"numba", "tqdm"},
        ),
        (
            "import adagrad_ref\nadagrad_ref.adagrad_step_inplace",
            {"numba", "adagrad_ref.fast.kernels"},
            {"adagrad_ref.state.checkpoint", "tqdm"},
        ),
        (
            "from adagrad_ref import conventions",
            {"adagrad_ref.conventions"},
            {"numba", "tqdm", "adagrad_ref.state.checkpoint"},
        ),
    ],
    ids=["numpy step", "numba init", "numba step", "save_state", "adagrad_step_inplace", "conventions"],
)
def test_what_is_loaded_when(code, loads, does_not_load):
    mods = loaded_after(code)
    everything = mods | top(mods)
    assert loads <= everything, loads - everything
    assert not does_not_load & everything, does_not_load & everything


NAMEDTUPLE_API = {"_replace", "_fields", "_asdict", "_make", "_field_defaults"}


def private_names_defined(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, methods, module globals, self._attributes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_module_reaches_into_another_s_private_names_or_subclasses_its_classes():
    """Extension by composition: no module reads or overrides a private name another module of the
    package defines (`obj._leaf_update`, `from adagrad_ref.x import _private`), and no class derives
    from a class of another module. (Third-party privates, e.g. Numba's, are not this test's concern.)"""
    modules = {p: ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py")) if p.name != "tree.py"}
    defined = {p: private_names_defined(t) for p, t in modules.items()}
    problems = []
    for path, tree in modules.items():
        others = set().union(*(d for q, d in defined.items() if q != path)) - defined[path] - NAMEDTUPLE_API
        ours = set()  # names imported from adagrad_ref modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("adagrad_ref"):
                for a in node.names:
                    ours.add(a.asname or a.name)
                    if a.name.startswith("_"):
                        problems.append(f"{path.name}:{node.lineno} imports {node.module}.{a.name}")
            if isinstance(node, ast.Attribute) and node.attr in others:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    problems.append(f"{path.name}:{node.lineno} reads {ast.unparse(node)}")
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    if isinstance(base, ast.Name) and base.id in ours and base.id != "AdagradError":
                        problems.append(f"{path.name}:{node.lineno} class {node.name}({base.id})")
                for item in node.body:  # a method named like another module's private one: an override
                    if isinstance(item, ast.FunctionDef) and item.name in others and node.bases:
                        problems.append(f"{path.name}:{item.lineno} {node.name}.{item.name} overrides")
    assert not problems, problems


def test_the_private_access_check_sees_an_override(tmp_path):
    a = ast.parse("class A:\n    def _leaf_update(self): pass\n")
    b = ast.parse("from m import A\nclass B(A):\n    def _leaf_update(self): pass\nx = obj._leaf_update\n")
    assert "_leaf_update" in private_names_defined(a)
    reads = [n for n in ast.walk(b) if isinstance(n, ast.Attribute) and n.attr in private_names_defined(a)]
    assert reads and isinstance(reads[0].value, ast.Name) and reads[0].value.id == "obj"
