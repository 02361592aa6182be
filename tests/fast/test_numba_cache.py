"""The cache works: a second process loads every function Python calls instead of compiling it.

What is cached, and why only that, is in :mod:`adagrad_ref.fast.kernels`; that no state of the
cache crashes a process is tested in ``test_numba_cache_processes.py``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from functools import partial
from typing import Any

import pytest
from helpers.paths import package_copy

SCRIPT = """
import json, numpy as np
from adagrad_ref.fast import kernels
p = np.zeros(8, np.float32); g = np.ones(8, np.float32); G = np.full(8, 0.1, np.float32)
kernels.adagrad_step_inplace(p, g, G, 0.1, 1e-7)
kernels.adagrad_step_inplace(p, g, G, 0.1, 1e-7, parallel=True)
kernels.sparse_step_inplace(p.reshape(4, 2), np.array([1, 3]), g.reshape(4, 2)[:2].copy(), G.reshape(4, 2), 0.1)
kernels.update_leaf(g, G, 0.1, 1e-7)
import time
end = time.monotonic() + 60  # (a guard: the all-cores call that starts the helpers loads _serve)
while not kernels._serve.signatures and time.monotonic() < end:
    time.sleep(0.01)
stats = {}
for name in ("_step_entry", "_step_kernel_parallel", "_sparse_entry", "_update_kernel", "_serve"):
    s = getattr(kernels, name).stats
    stats[name] = {"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}
print(json.dumps(stats))
"""


def run(cache_dir, script: str = SCRIPT, source: pathlib.Path | None = None) -> Any:
    """The JSON ``script`` prints last, run in a fresh process with this Numba cache (``source``: a copy of
    the package to import instead of the checkout's, run from there)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    command = [sys.executable, "-c", script]
    out = subprocess.run(command, env=env, cwd=source, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_hits_the_cache(tmp_path):
    # _step_entry twice: one core (an int: below that many bytes) and all cores (the helpers' block)
    compiled = {
        "_step_entry": 2,
        "_step_kernel_parallel": 1,
        "_sparse_entry": 1,
        "_update_kernel": 1,
        "_serve": 1,
    }
    first = run(tmp_path)
    assert first == {name: {"hits": 0, "misses": k} for name, k in compiled.items()}, first
    assert any(tmp_path.rglob("*.nbi")), "no cache index was written"
    second = run(tmp_path)
    assert second == {name: {"hits": k, "misses": 0} for name, k in compiled.items()}, second


def test_numba_still_keeps_a_dispatchers_cache_where_install_cache_sets_it(tmp_path):
    """``fast.cache.install_cache`` sets Numba's private ``Dispatcher._cache``, the slot ``cache=True``
    fills. If a Numba release moves it, this fails (and ``install_cache`` raises, naming the version),
    instead of the cache silently turning off."""
    import numba
    from numba.core.caching import FunctionCache, NullCache

    from adagrad_ref.fast import kernels
    from adagrad_ref.fast.cache import SignatureCheckedCache, install_cache

    plain = numba.njit(lambda x: x)
    assert isinstance(plain._cache, NullCache)  # no cache: Numba's placeholder in the slot
    module = tmp_path / "numba_slot_probe.py"
    module.write_text("def f(x):\n    return x + 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import numba_slot_probe

        numba_cached = numba.njit(cache=True)(numba_slot_probe.f)  # Numba's own cache=True ...
        assert type(numba_cached._cache) is FunctionCache  # ... fills the same slot
        ours = numba.njit(numba_slot_probe.f)
        install_cache(ours, SignatureCheckedCache(numba_slot_probe.f))
        assert isinstance(ours._cache, SignatureCheckedCache) and ours(1) == 2
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("numba_slot_probe", None)
    assert isinstance(kernels._step_entry._cache, SignatureCheckedCache)  # the kernels have it
    moved = numba.njit(lambda x: x)
    del moved._cache  # a Numba without the slot: refused loudly, naming the version
    with pytest.raises(RuntimeError, match=re.escape(f"Numba {numba.__version__} no longer keeps")):
        install_cache(moved, SignatureCheckedCache(numba_slot_probe.f))


def test_an_edit_of_a_sibling_module_makes_every_entry_stale(tmp_path):
    """Numba's stamp is the function's own file; ``_serve`` (kernels.py) carries the hand-over compiled
    from helpers.py. After helpers.py's source alone changes, every cached function compiles again (and the
    next process loads the new entries): on a copy of the package, so that the checkout is not touched."""
    copy = package_copy(tmp_path / "src")
    run_copy = partial(run, tmp_path / "cache", source=copy)
    where = run_copy(script="import json, adagrad_ref.fast.kernels as k; print(json.dumps(k.__file__))")
    assert pathlib.Path(where).is_relative_to(copy)  # the copy is what the processes run

    assert all(v["misses"] and not v["hits"] for v in run_copy().values())
    assert all(v["hits"] and not v["misses"] for v in run_copy().values())  # (loaded from the copy's cache)
    helpers = copy / "adagrad_ref" / "fast" / "helpers.py"
    helpers.write_text(helpers.read_text() + "\n# edited: a new source, the same code\n")
    again = run_copy()
    assert all(v["misses"] and not v["hits"] for v in again.values()), again
    assert all(v["hits"] and not v["misses"] for v in run_copy().values())
