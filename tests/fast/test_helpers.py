"""The warm helper threads of the all-cores in-place step (adagrad_ref.fast.helpers): the same bits as one
core whoever steps which share, a share no helper claimed stepped by the caller, and no hang or crash when
the helpers sleep, stop, never start, are absent (one thread allowed) or are lost in a forked child."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from adagrad_ref.fast import helpers, kernels
from adagrad_ref.fast.refusals import GO_PARALLEL, STEPPED

LR, EPS = 0.01, 1e-7


def _arrays(n: int, dtype, seed: int = 0):
    """Params, grads and sums with the kernel's special values among ordinary ones."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    G = rng.uniform(0, 2, n).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, 1e30], dtype)
    for a in (p, g, G):
        k = min(n, special.size)
        a[rng.choice(n, k, replace=False)] = special[:k] if n else a[:0]
    G[: min(n, 4)] = 0  # G = 0 where g = 0 below: the guard's zero update
    g[: min(n, 4)] = 0
    return p, g, G


def _one_core(p, g, G):
    p, g, G = p.copy(), g.copy(), G.copy()
    dt = G.dtype.type
    kernels._step_kernel(p, g, G, -dt(LR), dt(EPS))
    return p, G


def _served() -> np.ndarray:
    return helpers.BLOCK[:, helpers.SERVED].copy()


def _warm() -> np.ndarray:
    """The helpers' block, once every helper has stepped a share of an all-cores call (the first such call
    of the process starts them)."""
    big = np.ones(1 << 16, np.float32)
    end = time.monotonic() + 60
    kernels.adagrad_step_inplace(big, big.copy(), big.copy(), LR, EPS, parallel=True)
    before = _served()
    while time.monotonic() < end:
        kernels.adagrad_step_inplace(big, big.copy(), big.copy(), LR, EPS, parallel=True)
        if (_served() > before).all():
            return helpers.BLOCK
    raise AssertionError(f"the helpers stepped no share in 60 s: {helpers.BLOCK[:, :2]}")


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.tobytes() == b.tobytes()


def test_this_machine_has_a_helper_per_other_core():
    cpus = min(len(os.sched_getaffinity(0)), int(os.environ.get("NUMBA_NUM_THREADS", 64)))
    assert _warm().shape[0] == min(cpus, 64) - 1 >= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_helpers_step_their_shares_with_one_cores_bits(dtype):
    """At sizes whose shares are empty, odd, or not whole cache lines, every call compared; each size is
    stepped until a helper stepped a share of it (SERVED counts them; the caller may take an unclaimed
    share back, so on a loaded machine that can take many calls: up to 20 s a size)."""
    block = _warm()
    for n in [0, 1, 15, 16, 17, 31, 33, 100, 1000, 4097, 100_003]:
        served = _served()
        end = time.monotonic() + 20
        attempt = 0
        while not (_served() > served).all():
            assert time.monotonic() < end, f"no helper stepped a share of {n} elements in 20 s"
            p, g, G = _arrays(n, dtype, seed=n + attempt)
            want_p, want_G = _one_core(p, g, G)
            assert kernels._step_entry(p, g, G, LR, EPS, block) == STEPPED
            assert _same(p, want_p) and _same(G, want_G), (n, attempt)
            attempt += 1


@pytest.mark.parametrize("shape", [(), (3, 0), (40, 50), (7, 11, 13)])
def test_both_entries_step_any_c_shape_views_at_an_offset_and_read_only_grads_with_one_cores_bits(shape):
    """The entry steps each array as its 1-D view (borrowed, of any C shape): on one core and with the
    helpers, 0-d, empty and n-d arrays, views that start past their buffer's start, a read-only g."""
    block = _warm()
    n = int(np.prod(shape))
    for offset, cores in [(0, sys.maxsize), (3, sys.maxsize), (0, block), (3, block)]:
        arrays = _arrays(n, np.float32, seed=n + offset)
        p, g, G = (np.concatenate([np.zeros(offset, a.dtype), a])[offset:].reshape(shape) for a in arrays)
        g.flags.writeable = False
        want_p, want_G = _one_core(p.ravel(), g.ravel(), G.ravel())
        assert kernels._step_entry(p, g, G, LR, EPS, cores) == STEPPED
        assert _same(p.ravel(), want_p) and _same(G.ravel(), want_G), (shape, offset)


def test_a_call_after_the_helpers_fell_asleep_steps_the_same_and_wakes_them():
    block = _warm()
    end = time.monotonic() + 20
    while not (block[:, 0] == helpers.PARKED).all():  # asleep after their spin
        assert time.monotonic() < end
        time.sleep(helpers.SPIN_SECONDS)
    p, g, G = _arrays(2_000_000, np.float32)
    want_p, want_G = _one_core(p, g, G)
    served = _served()
    kernels.adagrad_step_inplace(p, g, G, LR, EPS, parallel=True)  # posted to the sleeper: woken
    assert _same(p, want_p) and _same(G, want_G)
    assert _warm() is block and (_served() > served).all()  # the same helpers, stepping again


def test_a_helper_with_nothing_to_do_sleeps_after_its_spin():
    """Its thread's CPU time over 0.5 s with no call: the spin (SPIN_SECONDS) and no more (a helper that
    never parked would use the whole 0.5 s)."""
    _warm()
    clocks = [time.pthread_getcpuclockid(t.ident) for t in helpers._threads]
    before = [time.clock_gettime(c) for c in clocks]
    time.sleep(0.5)
    used = [time.clock_gettime(c) - b for c, b in zip(clocks, before, strict=True)]
    assert max(used) < 10 * helpers.SPIN_SECONDS + 0.01, used


def _private_helpers(rows: int, live: int):
    """A block of ``rows`` helpers of which the first ``live`` have a thread (the rest stay PARKED)."""
    block = helpers._block(rows)
    spin = 10**12  # never parks during the test
    threads = [
        threading.Thread(target=helpers._run, args=(kernels._serve, block, r, spin, -1), daemon=True)
        for r in range(live)
    ]
    for t in threads:
        t.start()
    x = np.ones(1000, np.float32)
    end = time.monotonic() + 60
    try:
        while not (block[:live, helpers.SERVED] > 0).all():  # each live helper has stepped a share
            assert time.monotonic() < end, block[:, :2]
            kernels._split_step(block, x, x.copy(), x.copy(), np.float32(-LR), np.float32(EPS))
    except BaseException:
        _stop(block, threads)  # (they would spin for the rest of the session)
        raise
    block[:, helpers.SERVED] = 0
    return block, threads


def _stop(block, threads):
    helpers._stop(block)
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive()
    assert (block[:, 0] == helpers.STOP).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_share_whose_helper_never_comes_is_stepped_by_the_caller(dtype):
    """Three helpers, one without a thread: each call posts to it (waking nobody) and takes its share back
    once its own is done; the two live helpers step theirs, or the caller does if they are slow."""
    block, threads = _private_helpers(rows=3, live=2)
    try:
        for n in [5, 64, 1001, 65_536 + 3, 1_000_000]:
            p, g, G = _arrays(n, dtype, seed=n)
            want_p, want_G = _one_core(p, g, G)
            dt = G.dtype.type
            assert kernels._split_step(block, p, g, G, -dt(LR), dt(EPS)) == STEPPED
            assert _same(p, want_p) and _same(G, want_G), n
            assert (block[:, 0] == helpers.IDLE).all()  # the caller took the share back: IDLE, not POSTED
        assert block[2, helpers.SERVED] == 0  # (the live ones stepped shares before: _private_helpers)
    finally:
        _stop(block, threads)


def test_stopped_helpers_shares_are_stepped_by_the_caller_and_no_helper_means_numbas_loop():
    block = helpers._block(2)
    block[:, 0] = helpers.STOP
    p, g, G = _arrays(1000, np.float32)
    want_p, want_G = _one_core(p, g, G)
    assert kernels._split_step(block, p, g, G, np.float32(-LR), np.float32(EPS)) == STEPPED
    assert _same(p, want_p) and _same(G, want_G)
    before = p.tobytes(), G.tobytes()
    assert kernels._step_entry(p, g, G, LR, EPS, helpers._NONE) == GO_PARALLEL  # nothing written
    assert (p.tobytes(), G.tobytes()) == before


def test_calls_racing_the_helpers_sleep_and_wake_keep_the_bits():
    """Calls spaced around the spin time, so that a helper parks while a call posts, or is woken
    while the next arrives; alternating dtypes and sizes."""
    _warm()
    rng = np.random.default_rng(1)
    for i in range(150):
        dtype = (np.float32, np.float64)[i % 2]
        p, g, G = _arrays(int(rng.integers(20_000, 120_000)), dtype, seed=i)
        want_p, want_G = _one_core(p, g, G)
        kernels.adagrad_step_inplace(p, g, G, LR, EPS, parallel=True)
        assert _same(p, want_p) and _same(G, want_G), i
        time.sleep(float(rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])) * helpers.SPIN_SECONDS)


def _python(script: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


_STEP = r"""
import os, time, numpy as np
from adagrad_ref import adagrad_step_inplace
from adagrad_ref.fast import helpers, kernels
def step_and_check(n=300_000):
    p, g, G = (np.linspace(-1, 1, n, dtype=np.float32) for _ in range(3))
    q, H = p.copy(), G.copy()
    for _ in range(50):
        adagrad_step_inplace(p, g, G, 0.1, parallel=True)
        kernels._step_kernel(q, g, H, np.float32(-0.1), np.float32(1e-7))
    return p.tobytes() == q.tobytes() and G.tobytes() == H.tobytes()
"""


def test_a_forked_child_starts_its_own_helpers():
    """The child has no helper threads: its copy of the parent's block (rows spinning there) must not be
    posted to (that call would wait forever)."""
    script = (
        _STEP
        + r"""
assert step_and_check() and helpers.BLOCK.shape[0] >= 1
parent = helpers.BLOCK
pid = os.fork()
if pid == 0:
    ok = helpers.BLOCK.shape[0] == 0 and step_and_check() and helpers.BLOCK is not parent
    os._exit(0 if ok and helpers.BLOCK.shape[0] >= 1 else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    )
    out = _python(script)
    assert out.returncode == 0 and out.stdout.strip() == "0", (out.stdout, out.stderr[-2000:])


def test_a_process_exits_promptly_with_helpers_spinning_or_asleep():
    for pause in ("", "time.sleep(0.1)"):
        t = time.monotonic()
        out = _python(_STEP + f"assert step_and_check()\n{pause}\nprint('done')\n")
        assert out.returncode == 0 and out.stdout.strip() == "done" and not out.stderr, out.stderr[-2000:]
        assert time.monotonic() - t < 120


def test_with_one_thread_allowed_there_is_no_helper_and_the_step_is_the_same():
    out = _python(_STEP + "assert step_and_check()\nprint(helpers.BLOCK.shape[0])\n", NUMBA_NUM_THREADS="1")
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr[-2000:]
    limited = (
        "import numba\nnumba.set_num_threads(1)\n"
        + _STEP
        + "assert step_and_check()\nprint(helpers.BLOCK.shape[0])\n"
    )
    out = _python(limited)  # set_num_threads before the first all-cores call
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr[-2000:]


def _no_helpers_when_thread_start(body: str) -> None:
    """A process whose ``threading.Thread.start`` runs ``body`` (one line, ``self`` the thread) steps with
    one core's bits and ends with no helper, having tried to start them."""
    script = (
        f"import threading\ndef start(self):\n    {body}\nthreading.Thread.start = start\n"
        + _STEP
        + "assert step_and_check()\nprint(helpers.BLOCK.shape[0], helpers.started())\n"
    )
    out = _python(script)
    assert out.returncode == 0 and out.stdout.strip() == "0 True", (out.stdout, out.stderr[-2000:])


def test_where_no_helper_thread_can_start_the_step_runs_without_them():
    """``threading.Thread.start`` refused (a process at its thread limit): no helper, Numba's loop."""
    _no_helpers_when_thread_start('raise RuntimeError("can\'t start new thread")')


def test_a_child_forked_just_after_the_helpers_started_can_compile():
    """The helpers' code is loaded by the caller before their threads start: a helper thread loading it
    itself held Numba's compiler lock, and a child forked then waited for it forever at its first
    compile (2 of 3 multiprocessing pools hung)."""
    script = r"""
import os, numpy as np
from adagrad_ref import adagrad_step_inplace
x = np.ones(100_000, np.float32)
adagrad_step_inplace(x, x.copy(), x.copy(), 0.1, parallel=True)  # starts the helpers
pid = os.fork()
if pid == 0:
    y = np.ones(3, np.float64)  # a new signature: a compile in the child
    adagrad_step_inplace(y, y.copy(), y.copy(), 0.1)
    os._exit(0)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    for _ in range(3):
        out = _python(script)
        assert out.returncode == 0 and out.stdout.strip() == "0", (out.stdout, out.stderr[-2000:])


def test_a_helper_on_its_callers_own_thread_stops_and_the_step_runs_without_helpers():
    """gevent's monkey-patched ``threading`` runs a "thread" as a greenlet on the caller's OS thread, where
    the helper's loop would spin and sleep forever; here ``Thread.start`` runs the target at once, on the
    caller's thread, as such a greenlet would when the caller yields."""
    _no_helpers_when_thread_start("self._target(*self._args)")


def test_an_interrupt_while_the_helpers_start_leaves_them_to_the_next_call():
    script = (
        _STEP
        + r"""
real = helpers._ticks_per_second
def interrupted():
    helpers._ticks_per_second = real
    raise KeyboardInterrupt
helpers._ticks_per_second = interrupted
x = np.ones(100_000, np.float32)
try:
    adagrad_step_inplace(x, x.copy(), x.copy(), 0.1, parallel=True)
except KeyboardInterrupt:
    print("interrupted", helpers.started(), helpers.BLOCK.shape[0])
assert step_and_check()
print(helpers.BLOCK.shape[0] >= 1)
"""
    )
    out = _python(script)
    assert out.returncode == 0 and out.stdout.split("\n")[:2] == ["interrupted False 0", "True"], (
        out.stdout,
        out.stderr[-2000:],
    )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_small_two_byte_float_steps_do_not_try_the_float_entry(dtype, monkeypatch):
    """Numba keeps no failed compilation: a 2-byte-float call that tried the float32/64 entry first
    compiled (and failed) again on every call, 9 ms each in float16."""
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    tried = []
    real = kernels._step_entry
    monkeypatch.setattr(kernels, "_step_entry", lambda *a: tried.append(1) or real(*a))
    p = np.ones(1000, dt)
    kernels.adagrad_step_inplace(p, p.copy(), p.copy(), 0.1)
    assert not tried and p[0] != dt.type(1)
