"""One core or all, chosen by measuring (adagrad_ref.fast.dispatch): the choice follows the timings it is
given, is made again every REVISIT calls, and never changes a bit of the in-place step."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import adagrad_step_inplace
from adagrad_ref.fast import kernels
from adagrad_ref.fast.dispatch import (
    ALL,
    CHECK_ALL,
    CHECK_EVERY,
    MARGIN,
    ONE,
    SLOW_CALLS,
    TIME_ALL,
    TIME_ONE,
    Dispatch,
)


def trials(d: Dispatch, key, one_s: float, all_s: float) -> list[int]:
    """Answer every trial :meth:`Dispatch.choose` asks for with the given times."""
    asked = []
    for _ in range(Dispatch.TRIALS):
        how = d.choose(key, 1 << 20)
        asked.append(how)
        d.record(key, how == TIME_ALL, all_s if how == TIME_ALL else one_s)
    return asked


def test_the_trials_alternate_then_the_faster_runs_until_the_next_revisit():
    d = Dispatch(serial_below_bytes=1024)
    asked = trials(d, "k", one_s=2.0, all_s=1.0)
    assert asked.count(TIME_ALL) == asked.count(TIME_ONE) == Dispatch.TRIALS // 2
    assert d.choice("k") is True
    # all cores from now on; after the first, one call in CHECK_EVERY timed to check the choice (CHECK_ALL)
    between = [d.choose("k", 1 << 20) for _ in range(Dispatch.REVISIT_ALL - Dispatch.TRIALS - 1)]
    assert between[0] == ALL and set(between) == {ALL, CHECK_ALL}
    checked = [i for i, how in enumerate(between) if how == CHECK_ALL]
    assert set(np.diff(checked)) == {CHECK_EVERY} and checked[0] <= CHECK_EVERY
    assert d.choose("k", 1 << 20) == ALL  # call REVISIT_ALL: still the choice
    # the next call starts the trials again; this time all cores are slower (a busy second core)
    assert trials(d, "k", one_s=1.0, all_s=5.0)[0] == TIME_ALL
    assert d.choice("k") is False and d.choose("k", 1 << 20) == ONE
    # one core chosen: the trials again after REVISIT calls, sooner than after an all-cores choice
    assert {d.choose("k", 1 << 20) for _ in range(Dispatch.REVISIT - Dispatch.TRIALS - 1)} == {ONE}
    assert Dispatch.REVISIT < Dispatch.REVISIT_ALL and d.choose("k", 1 << 20) == TIME_ALL


def test_all_cores_must_win_by_the_margin_and_small_calls_are_not_measured():
    d = Dispatch(serial_below_bytes=1024)
    trials(d, "k", one_s=1.0, all_s=MARGIN * 1.0 + 0.01)  # faster, but not by the margin
    assert d.choice("k") is False
    assert d.choose("small", 1023) == ONE and d.choice("small") is None  # nothing measured
    d.force(True)
    assert d.choose("k", 1 << 20) == ALL and d.choose("small", 10) == ALL
    d.force(None)
    assert d.choice("k") is None  # forgotten: measured again


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_measured_dispatch_changes_no_bit_over_a_run(dtype):
    """Steps through the trials (one core and all cores alternating) and past them: every step's bits
    are the one-core step's, and the dispatch has measured this size."""
    n = 3 * kernels.PARALLEL_MIN_BYTES // np.dtype(dtype).itemsize + 5  # above the floor
    rng = np.random.default_rng(3)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal((Dispatch.TRIALS + 4, n)).astype(dtype)
    G = np.full(n, 0.1, dtype)
    p1, G1 = p.copy(), G.copy()
    kernels.STEP_DISPATCH.force(None)
    for step in g:
        adagrad_step_inplace(p, step, G, 0.3, 1e-7)
        adagrad_step_inplace(p1, step, G1, 0.3, 1e-7, parallel=False)
        assert p.tobytes() == p1.tobytes() and G.tobytes() == G1.tobytes()
    key = (p.dtype.char, p.nbytes.bit_length())
    assert (
        key in kernels.STEP_DISPATCH._seen
    )  # measured by the dispatch (whichever it chose: the bits are equal)


def test_a_subclass_is_stepped_through_its_plain_view_with_the_same_dispatch():
    class Tagged(np.ndarray):
        pass

    n = 2 * kernels.PARALLEL_MIN_BYTES // 4
    p = np.ones(n, np.float32).view(Tagged)
    G = np.full(n, 0.1, np.float32)
    kernels.STEP_DISPATCH.force(None)
    adagrad_step_inplace(p, np.ones(n, np.float32), G, 0.1, 1e-7)
    assert (np.asarray(G) == np.float32(0.1) + np.float32(1)).all()
    assert kernels.STEP_DISPATCH._seen.get(("f", p.nbytes.bit_length()))  # counted by the dispatch


def test_all_cores_calls_slower_than_one_core_in_a_row_start_the_trials_again():
    """Another process takes the second core after the trials: all-cores calls then take milliseconds.
    SLOW_CALLS such calls in a row (slower than one core's median) make the next call the first of new
    trials, not the 500th; one alone (a garbage collection, a preemption) does not."""
    d = Dispatch(serial_below_bytes=1024)
    trials(d, "k", one_s=2.0, all_s=1.0)

    def checked() -> None:
        """Up to the next call timed to check the choice: all cores, untimed, until it."""
        for _ in range(CHECK_EVERY - 1):
            if d.choose("k", 1 << 20) == CHECK_ALL:
                return
        assert d.choose("k", 1 << 20) == CHECK_ALL

    assert d.choose("k", 1 << 20) == ALL
    checked()
    d.record("k", True, 1.5)  # slower than its trials, not than one core: kept
    for _ in range(3):  # one slow call between normal ones, three times: kept
        checked()
        d.record("k", True, 2.5)
        checked()
        d.record("k", True, 1.0)
    for _ in range(SLOW_CALLS):
        checked()
        d.record("k", True, 2.5)  # slower than one core's median
    assert d.choose("k", 1 << 20) == TIME_ALL  # the trials again
    assert trials(d, "k", one_s=1.0, all_s=5.0)[0] == TIME_ONE  # (the first was asked above)
    assert d.choice("k") is False


def test_run_warms_both_kernels_once_and_restarts_its_trials_after_slow_calls_in_a_row():
    """:meth:`Dispatch.run` (the tree API): its first call runs each kernel once, untimed; then trials; a
    single slow all-cores call keeps the choice, SLOW_CALLS in a row start timed trials at once (no
    second warm-up: it would run a step twice for nothing)."""
    clock = {"t": 0.0}
    ran: list[str] = []
    cost = {"serial": 2.0, "parallel": 1.0}

    def kernel(name: str):
        def call() -> None:
            ran.append(name)
            clock["t"] += cost[name]

        return call

    d = Dispatch(serial_below_bytes=1024, clock=lambda: clock["t"])

    def run() -> str:
        ran.clear()
        d.run("k", 1 << 20, kernel("serial"), kernel("parallel"))
        return "+".join(ran)

    assert run() == "serial+parallel"  # the first call: both, untimed
    trial_runs = [run() for _ in range(Dispatch.TRIALS)]
    assert trial_runs.count("serial") == trial_runs.count("parallel") == Dispatch.TRIALS // 2
    assert d.choice("k") is True and run() == "parallel"
    cost["parallel"] = 3.0  # one slow call (slower than one core's 2.0): the choice stays
    assert run() == "parallel"
    cost["parallel"] = 1.0
    assert run() == "parallel" and d.choice("k") is True
    cost["parallel"] = 3.0
    assert [run() for _ in range(SLOW_CALLS)] == ["parallel"] * SLOW_CALLS
    # trials again, timed from their first call; all cores now slower: one core chosen
    again = [run() for _ in range(Dispatch.TRIALS + 1)]
    assert "serial+parallel" not in again and again[0] == "parallel"
    assert d.choice("k") is False and run() == "serial"


def test_a_child_forked_after_the_tree_api_ran_on_all_cores_steps_serially():
    """The tree API's parallel kernels run on GNU OpenMP too: a child forked after them was ended by
    Numba (SIGTERM, 'fork() called from a process already using GNU OpenMP'). Every parallel kernel now
    goes through kernels.parallel_or_serial: the child's tree update and in-place step run serially, with
    the same bits, and exit 0."""
    import os
    import subprocess
    import sys

    script = r"""
import os, numpy as np
from adagrad_ref import adagrad, adagrad_step_inplace, apply_updates
from adagrad_ref.fast import tree
tree.set_parallel(True)
n = 2_000_000
solver = adagrad(0.1, backend="numba")
params = {"a": np.ones(n, np.float32), "b": np.ones(1000, np.float32)}
grads = {"a": np.full(n, 0.5, np.float32), "b": np.full(1000, 0.5, np.float32)}
state = solver.init(params)
u, state = solver.update(grads, state, params)
params = apply_updates(params, u)
ref = adagrad(0.1, backend="numpy")
rs = ref.init(params)
ru, rs = ref.update(grads, rs, params)
pid = os.fork()
if pid == 0:
    u2, s2 = solver.update(grads, solver.init(params), params)
    p, G = np.ones(n, np.float32), np.ones(n, np.float32)
    adagrad_step_inplace(p, grads["a"], G, 0.1, parallel=True)
    q, H = np.ones(n, np.float32), np.ones(n, np.float32)
    adagrad_step_inplace(q, grads["a"], H, 0.1, parallel=False)
    same = all(u2[k].tobytes() == ru[k].tobytes() for k in u2) and p.tobytes() == q.tobytes()
    os._exit(0 if same else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=os.environ
    )
    assert out.returncode == 0 and out.stdout.strip() == "0", (out.stdout, out.stderr[-2000:])
