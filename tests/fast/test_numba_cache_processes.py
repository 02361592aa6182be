"""No state of Numba's on-disk cache, and no order of calls across processes, crashes the fast core.

Two faults of Numba 0.68.1's cache took the process down before (SIGSEGV, exit -11):

1. A cached function calling a ``parallel=True`` function. The minimal reproducer,
   ``repro.py``, with numba 0.68.1 alone::

       import numpy as np
       from numba import njit, prange

       @njit(cache=True, parallel=True)
       def kernel(x):
           for i in prange(x.size):
               x[i] += 1.0

       @njit(cache=True)
       def caller(x):
           kernel(x.reshape(x.size))

   then three fresh processes on one empty ``NUMBA_CACHE_DIR``:
   ``python -c "import numpy as np, repro; repro.caller(np.zeros((2, 3)))"``, then the same with
   ``np.zeros(6)`` twice: the third dies with SIGSEGV. The second process compiled
   ``caller(1-D)`` against ``kernel`` *loaded from the cache*; an unpickled library has an
   empty ``_reload_init``, so ``caller``'s entry is saved without ``_reload_parfors`` (the hook
   that starts the thread pool), and the third process, which loads ``caller`` and never
   touches ``kernel``, runs parallel code with no threading layer. Calling
   ``numba.np.ufunc.parallel._launch_threads()`` first avoids the crash, which confirms it.
2. Two processes compiling different signatures of one function at the same moment may both
   read an empty index and both save their machine code as ``.1.nbc``: the index then names
   one signature's code for the other, which Numba calls with the wrong array layout (a
   segfault or silently wrong bits). :func:`test_a_mixed_up_cache_entry_is_compiled_again`
   builds that state on purpose.

The design (see :mod:`adagrad_ref.fast.kernels`): no compiled function calls the parallel
kernel (Python does), and every cached function loads through a cache that refuses an entry
compiled for other argument types. Here fresh processes run every public entry point, 0-d to
3-D, both dtypes, in the issue's crashing sequences and in seeded permutations, against a
fresh ``NUMBA_CACHE_DIR`` and against the default location (``__pycache__`` of a copy of the
package in a temporary directory, so the repository's own cache is left alone), two of them
compiling into one empty cache at the same time. Each call's bits are compared with the NumPy
reference in the worker; any non-zero exit fails.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers.paths import ROOT, package_copy

WORKER = r"""
import json, sys
import numpy as np
from adagrad_ref import adagrad, adagrad_step_inplace, apply_updates, sparse_step_inplace
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.reference import update_leaf

SHAPES = {0: (), 1: (5,), 2: (3, 4), 3: (2, 3, 4)}


def data(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    return (np.asarray(rng.standard_normal(shape)).astype(dtype),
            np.asarray(rng.standard_normal(shape)).astype(dtype),
            np.asarray(rng.uniform(0.0, 2.0, shape)).astype(dtype))


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def step(dtype, ndim, parallel, n):
    p, g, G = data(dtype, (n,) if n else SHAPES[ndim], 1)
    u, G_ref = update_leaf(g, G, 0.1, 1e-7)
    p_ref = apply_updates(p, u)
    adagrad_step_inplace(p, g, G, 0.1, 1e-7, parallel=parallel)
    return same(p, p_ref) and same(G, G_ref)


def sparse(dtype):
    table, _, G = data(dtype, (6, 3), 2)
    rows = np.array([4, 0, 4, 2])
    row_grads = data(dtype, (4, 3), 3)[1]
    dense = np.zeros_like(table)
    np.add.at(dense, rows, row_grads)
    u, G_ref = update_leaf(dense, G, 0.1, 1e-7)
    t_ref = apply_updates(table, u)
    sparse_step_inplace(table, rows, row_grads, G, 0.1, 1e-7)
    return same(table, t_ref) and same(G, G_ref)


def backend(dtype, ndim):
    params = {"w": data(dtype, SHAPES[ndim], 4)[0], "b": None}
    grads = {"w": data(dtype, SHAPES[ndim], 5)[1], "b": None}
    fast, ref = adagrad(0.1, backend="numba"), adagrad(0.1)
    s_fast, s_ref = fast.init(params), ref.init(params)
    for _ in range(2):
        u_fast, s_fast = fast.update(grads, s_fast)
        u_ref, s_ref = ref.update(grads, s_ref)
    return same(u_fast["w"], u_ref["w"]) and same(s_fast.sum_of_squares["w"], s_ref.sum_of_squares["w"])


def flat(dtype):
    params = {k: data(dtype, SHAPES[d], 6 + d)[0] for k, d in (("s", 0), ("v", 1), ("m", 3))}
    grads = {k: data(dtype, v.shape, 9)[1] for k, v in params.items()}
    opt = FlatAdagrad(params, learning_rate=0.1)
    opt.set_grads(grads)
    opt.step()
    ref = adagrad(0.1)
    u, _ = ref.update(grads, ref.init(params))
    expected = apply_updates(params, u)
    return all(same(opt.params[k], expected[k]) for k in params)


CALLS = {"step": step, "sparse": sparse, "backend": backend, "flat": flat}
for name, *args in json.loads(sys.argv[1]):
    args = [np.dtype(a).type if isinstance(a, str) and a.startswith("float") else a for a in args]
    if not CALLS[name](*args):
        sys.exit(f"{name}{tuple(args)}: bits differ from the NumPy reference")
print("ok")
"""

F32, F64 = "float32", "float64"


def step(dtype: str, ndim: int, parallel: bool | None = None, n: int = 0) -> list:
    return ["step", dtype, ndim, parallel, n]


#: Every public entry point, 0-d to 3-D, both dtypes; 300,000 elements reach the parallel kernel.
ALL_CALLS = [
    *(step(dt, nd, par) for dt in (F32, F64) for nd in range(4) for par in (None, True, False)),
    *(step(dt, 1, None, 300_000) for dt in (F32, F64)),
    *(["sparse", dt] for dt in (F32, F64)),
    *(["backend", dt, nd] for dt in (F32, F64) for nd in range(4)),
    *(["flat", dt] for dt in (F32, F64)),
]

#: The issue's crashing sequences, one list of calls per process.
ISSUE_SEQUENCES = {
    "2d-1d-1d": [[step(F32, 2)], [step(F32, 1)], [step(F32, 1)]],
    "big-2d-1d-2d": [[step(F32, 1, None, 300_000)], [step(F32, 2)], [step(F32, 1)], [step(F32, 2)]],
    "3d-parallel-1d-serial-twice": [[step(F64, 3, True)], [step(F64, 1, False)]] * 2,
}


def environment(cache: str, where: pathlib.Path) -> tuple[dict, pathlib.Path]:
    """The environment and the package root for one fresh cache of kind ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if cache == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(where / "numba_cache")
        root = ROOT
    else:  # the default: __pycache__ next to the sources, so run a private copy of the package
        root = package_copy(where / "pkg", "data")
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return env, root


def start(calls: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(calls)],
        env=env,
        cwd=env["PYTHONPATH"].split(os.pathsep)[0],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, what: str) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what}: exit {proc.returncode}\n{err[-3000:]}"
    assert out.strip().endswith("ok"), f"{what}: {out!r}"


def run_sequence(processes: list[list], env: dict, name: str) -> None:
    for i, calls in enumerate(processes):
        finish(start(calls, env), f"{name}, process {i + 1} of {len(processes)} ({calls})")


def cache_files(cache: str, env: dict, root: pathlib.Path) -> list[pathlib.Path]:
    base = pathlib.Path(env["NUMBA_CACHE_DIR"]) if cache == "NUMBA_CACHE_DIR" else root / "adagrad_ref"
    return sorted(base.rglob("*.nbi"))


@pytest.mark.parametrize("cache", ["NUMBA_CACHE_DIR", "default"])
def test_the_issues_crashing_sequences(tmp_path, cache):
    """Each sequence on its own fresh cache; the three sequences run side by side."""
    envs = {name: environment(cache, tmp_path / name) for name in ISSUE_SEQUENCES}
    with ThreadPoolExecutor(len(ISSUE_SEQUENCES)) as pool:
        done = [
            pool.submit(run_sequence, procs, envs[name][0], name) for name, procs in ISSUE_SEQUENCES.items()
        ]
    for future in done:
        future.result()
    for name, (env, root) in envs.items():
        assert cache_files(cache, env, root), f"{name}: nothing was cached"


@pytest.mark.parametrize("cache, seed", [("NUMBA_CACHE_DIR", 1), ("default", 2)])
def test_every_entry_point_concurrently_then_in_seeded_orders(tmp_path, cache, seed):
    """Two processes compile every call into one empty cache at the same time, in different orders
    (different signatures at the same moment: the race that can mix up the index); then the calls,
    shuffled, in three processes, then everything in one process, from the cache."""
    env, root = environment(cache, tmp_path)
    rng = random.Random(seed)
    first = rng.sample(ALL_CALLS, len(ALL_CALLS))
    second = [c for c in ALL_CALLS if c[1] == F64] + [c for c in ALL_CALLS if c[1] == F32]
    procs = [start(first, env), start(second, env)]
    for i, proc in enumerate(procs):
        finish(proc, f"concurrent process {i + 1}")
    shuffled = rng.sample(ALL_CALLS, len(ALL_CALLS))
    run_sequence([shuffled[i::3] for i in range(3)] + [list(reversed(shuffled))], env, f"seed {seed}")
    assert cache_files(cache, env, root)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_cache_index_never_fails_a_call(tmp_path, damage):
    """Every index file (``.nbi``) emptied or overwritten after a first run: Numba reads the index
    again when it saves (``IndexDataCacheFile.save``), outside the load that the checked cache
    guards, and raised ``EOFError``/``UnpicklingError`` from ``adagrad_step_inplace`` in every later
    process. Now an unreadable index is emptied and the entry saved again: every entry point gives
    the reference's bits in the next two processes, and the second finds a readable index."""
    env, root = environment("NUMBA_CACHE_DIR", tmp_path)
    calls = [step(F32, 1, None, 300_000), step(F64, 2), ["sparse", F32], ["backend", F64, 1], ["flat", F32]]
    run_sequence([calls], env, "first run")
    for index in cache_files("NUMBA_CACHE_DIR", env, root):
        index.write_bytes(b"" if damage == "truncated" else b"garbage")
    run_sequence([calls, calls], env, f"{damage} index")
    for index in cache_files("NUMBA_CACHE_DIR", env, root):
        assert index.read_bytes() not in (b"", b"garbage"), index.name


MIXED = r"""
import json, sys
import numpy as np
from adagrad_ref.fast import kernels
from adagrad_ref.reference import apply_updates, update_leaf
shape, dtype = json.loads(sys.argv[1])
p, g, G = np.zeros(shape, dtype), np.ones(shape, dtype), np.full(shape, 0.1, dtype)
u, G_ref = update_leaf(g, G, 0.1, 1e-7)
p_ref = apply_updates(p, u)
kernels.adagrad_step_inplace(p, g, G, 0.1, 1e-7)
ok = p.tobytes() == p_ref.tobytes() and G.tobytes() == G_ref.tobytes()
s = kernels._step_entry.stats
print(json.dumps({"ok": ok, "hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}))
"""


def run_mixed(args: list, cache_dir: pathlib.Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", MIXED, json.dumps(args)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_mixed_up_cache_entry_is_compiled_again(tmp_path):
    """The index of one cache with the data file of another: the state the race of fault 2 leaves.

    Cache A compiled ``_step_entry`` for 1-D float32, cache B for 3-D float64; both saved it
    as ``.1.nbc``. A's index with B's data file makes Numba's own cache hand the 3-D
    float64 machine code to a 1-D float32 call (with plain ``cache=True`` this segfaults or
    writes wrong values); the checked cache must refuse it, compile, and give the right bits.
    A truncated data file must likewise be compiled again, not crash the load.
    """
    a, b, mixed = tmp_path / "a", tmp_path / "b", tmp_path / "mixed"
    assert run_mixed([[5], "float32"], a) == {"ok": True, "hits": 0, "misses": 1}
    assert run_mixed([[2, 3, 4], "float64"], b) == {"ok": True, "hits": 0, "misses": 1}
    shutil.copytree(a, mixed)
    (entry_index,) = mixed.rglob("kernels._step_entry-*.nbi")
    (b_data,) = b.rglob("kernels._step_entry-*.1.nbc")
    (mixed_data,) = mixed.rglob("kernels._step_entry-*.1.nbc")
    assert b_data.read_bytes() != mixed_data.read_bytes()
    shutil.copyfile(b_data, mixed_data)
    assert entry_index.exists()
    assert run_mixed([[5], "float32"], mixed) == {"ok": True, "hits": 0, "misses": 1}
    assert run_mixed([[5], "float32"], mixed) == {"ok": True, "hits": 1, "misses": 0}  # repaired
    mixed_data.write_bytes(mixed_data.read_bytes()[:100])
    assert run_mixed([[5], "float32"], mixed) == {"ok": True, "hits": 0, "misses": 1}


STRUCTURE = r"""
import json
import numpy as np
from numba.core.dispatcher import Dispatcher
from adagrad_ref import adagrad, apply_updates
from adagrad_ref.fast import kernels, tree
for n in (5, 300_000):
    p = np.zeros(n, np.float32)
    for parallel in (None, True, False):
        kernels.adagrad_step_inplace(p, np.ones(n, np.float32), np.ones(n, np.float32), 0.1, parallel=parallel)
t = np.zeros((3, 2))
kernels.sparse_step_inplace(t, np.array([1]), np.ones((1, 2)), np.ones((3, 2)), 0.1)
for n in (3, 300_000):  # a large tree: the tree path times (so compiles) its one-core and all-core kernels
    u, _ = adagrad(0.1, backend="numba").update({"w": np.ones(n)}, adagrad(0.1).init({"w": np.ones(n)}))
    apply_updates({"w": np.ones(n)}, u)
import time
end = time.monotonic() + 60  # (a guard: the all-cores call that starts the helpers loads _serve)
while not kernels._serve.signatures and time.monotonic() < end:
    time.sleep(0.01)
found, seen = {}, set()
for module in (kernels, tree):
    for name, d in vars(module).items():  # a second name of one function (kernels.step_kernel) once
        if isinstance(d, Dispatcher) and d.signatures and id(d) not in seen:
            seen.add(id(d))
            found[f"{module.__name__.rsplit('.', 1)[1]}.{name}"] = sorted(
                {"numba_parallel_for" in d.inspect_llvm(s) for s in d.signatures}
            )
print(json.dumps(found))
"""


def test_only_the_parallel_kernel_holds_parallel_code(tmp_path):
    """Fault 1 needs a compiled caller of parallel code: no cached function but the kernel has any."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", STRUCTURE], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {  # the cached kernels; the optax-shaped API's tree kernels (fast/tree.py) too
        "kernels._step_entry": [False],
        "kernels._step_kernel": [False],
        "kernels._step_kernel_parallel": [True],
        "kernels._sparse_entry": [False],
        "kernels._split_step": [False],  # the all-cores step with the helper threads: no parallel code
        "kernels._serve": [False],  # (a helper thread's loop)
        "tree._data_pointers": [False],  # the leaves' data addresses, read in one loop
        "tree._head": [False],  # inlined helpers of the tree kernels (not cached themselves)
        "tree._update_run": [False],
        "tree._add_run": [False],
        "tree._update_serial": [False],
        "tree._update_parallel": [True],  # called from Python only, as the in-place parallel kernel
        "tree._add_serial": [False],
        "tree._add_parallel": [True],
    }


def executable_sections(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) in ``blob`` of every executable section of every ELF64 object it holds: the
    machine code Numba pickles into a ``.nbc`` file."""
    found, at = [], blob.find(b"\x7fELF")
    while at >= 0:
        shoff = int.from_bytes(blob[at + 0x28 : at + 0x30], "little")
        shentsize = int.from_bytes(blob[at + 0x3A : at + 0x3C], "little")
        shnum = int.from_bytes(blob[at + 0x3C : at + 0x3E], "little")
        for i in range(shnum):
            h = at + shoff + i * shentsize
            flags = int.from_bytes(blob[h + 0x08 : h + 0x10], "little")
            offset = int.from_bytes(blob[h + 0x18 : h + 0x20], "little")
            size = int.from_bytes(blob[h + 0x20 : h + 0x28], "little")
            if flags & 0x4 and size > 0 and at + offset + size <= len(blob):  # SHF_EXECINSTR
                found.append((at + offset, at + offset + size))
        at = blob.find(b"\x7fELF", at + 4)
    return found


#: Every cached kernel: the serial and parallel step, the sparse step, the backend's update (fast/tree.py).
DAMAGE_CALLS = [step(F32, 1), step(F64, 2, False), step(F32, 1, True), ["sparse", F64], ["backend", F32, 1]]


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_a_damaged_cache_entry_is_compiled_again(tmp_path, where):
    """Bits flipped in the machine code of every cached kernel (``*.nbc``) after a first run. Numba's
    cache checks neither: before the digest, runs like these died with SIGSEGV or SIGILL or gave
    wrong bits (issue 17: 8 of 16 single flips in ``_step_entry``). Now each file's digest is checked
    before it is unpickled: a damaged entry is compiled again, its file rewritten, and the next
    process loads it intact."""
    env, _ = environment("NUMBA_CACHE_DIR", tmp_path)
    run_sequence([DAMAGE_CALLS], env, "first run")
    data_files = sorted(pathlib.Path(env["NUMBA_CACHE_DIR"]).rglob("*.nbc"))
    assert {f.name.split("-")[0] for f in data_files} >= {
        "kernels._step_entry",
        "kernels._step_kernel_parallel",
        "kernels._sparse_entry",
        "tree._update_serial",
    }, data_files
    for f in data_files:
        blob = bytearray(f.read_bytes())
        sections = executable_sections(bytes(blob))
        assert sections, f"{f.name}: no machine code found"
        for k, (start, end) in enumerate(sections):
            for j in range(4):  # four bits in each executable section, spread around `where`
                i = min(end - 1, start + int((end - start) * where) + 7 * j)
                blob[i] ^= 1 << ((k + j + int(where * 8)) % 8)
        f.write_bytes(bytes(blob))
    run_sequence([DAMAGE_CALLS], env, f"flipped bits at {where}")
    assert all(f.read_bytes() != b"" for f in data_files)
    run_sequence([DAMAGE_CALLS], env, "after the repair")


NO_CACHE = r"""
import warnings
import numpy as np
warnings.simplefilter("default")
from adagrad_ref import adagrad, adagrad_step_inplace, sparse_step_inplace
from adagrad_ref.fast import kernels
from adagrad_ref.reference import apply_updates, update_leaf
p, g, G = np.zeros(5, np.float32), np.ones(5, np.float32), np.full(5, 0.1, np.float32)
u, G_ref = update_leaf(g, G, 0.1, 1e-7)
p_ref = apply_updates(p, u)
for parallel in (None, True):
    q, H = p.copy(), G.copy()
    adagrad_step_inplace(q, g, H, 0.1, 1e-7, parallel=parallel)
    assert q.tobytes() == p_ref.tobytes() and H.tobytes() == G_ref.tobytes()
sparse_step_inplace(np.zeros((3, 2)), np.array([1]), np.ones((1, 2)), np.ones((3, 2)), 0.1)
adagrad(0.1, backend="numba").update({"w": np.ones(3)}, adagrad(0.1).init({"w": np.ones(3)}))
assert not any(s for d in (kernels._step_entry, kernels._update_kernel) for s in d.stats.cache_hits.values())
print("ok")
"""


@pytest.mark.parametrize("numba_cache_dir", ["unset", "a regular file"])
def test_no_writable_cache_location_compiles_without_a_cache(tmp_path, numba_cache_dir):
    """No place Numba can cache in: the package's ``__pycache__`` is a file (as a read-only package
    folder would be for a non-root user), so are HOME and XDG_CACHE_HOME, and ``NUMBA_CACHE_DIR`` is
    unset or a regular file. Numba raised ``RuntimeError: cannot cache function ...: no locator
    available`` at import; now every entry point compiles without a cache, gives the reference's
    bits, and one warning says so."""
    env, root = environment("default", tmp_path)
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    for folder in (root / "adagrad_ref" / "fast", root / "adagrad_ref"):
        (folder / "__pycache__").write_text("")
    env.update(HOME=str(blocked), XDG_CACHE_HOME=str(blocked), PYTHONDONTWRITEBYTECODE="1")
    if numba_cache_dir != "unset":
        env["NUMBA_CACHE_DIR"] = str(blocked)
    out = subprocess.run(
        [sys.executable, "-c", NO_CACHE], env=env, cwd=root, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stderr[-3000:]}"
    assert out.stdout.strip().endswith("ok"), out.stdout
    assert out.stderr.count("NumbaCacheUnavailableWarning") == 1, out.stderr
    assert "NUMBA_CACHE_DIR" in out.stderr and "no locator" in out.stderr, out.stderr


def test_a_foreign_cache_entry_is_compiled_again(tmp_path):
    """Every index and data file as plain Numba writes them (the same bytes without this package's
    digest header): nothing unverified is loaded; each function is compiled again, and the next
    process loads the rewritten, sealed files."""
    from adagrad_ref.fast.cache import MAGIC

    env, _ = environment("NUMBA_CACHE_DIR", tmp_path)
    run_sequence([DAMAGE_CALLS], env, "first run")
    files = sorted(pathlib.Path(env["NUMBA_CACHE_DIR"]).rglob("*.nb[ci]"))
    for f in files:
        blob = f.read_bytes()
        assert blob.startswith(MAGIC), f.name
        f.write_bytes(blob[len(MAGIC) + 32 :])
    run_sequence([DAMAGE_CALLS], env, "foreign entries")
    assert all(f.read_bytes().startswith(MAGIC) for f in files), "not rewritten"
    run_sequence([DAMAGE_CALLS], env, "after the repair")
