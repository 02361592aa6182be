"""The benchmark's clock: every implementation timed in turn, the same way (used by ``bench`` and
``bench_api``); and the name of the CPU it ran on (``bench`` and ``atlas`` record it)."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable

__all__ = ["SETTLE_SECONDS", "calls_for", "cpu_name", "measure_interleaved"]


def calls_for(step: Callable[[], None], min_seconds: float, at_least: bool = False) -> int:
    """How many calls make one sample last about ``min_seconds`` (rounded down, at least one call);
    ``at_least``: rounded up, so that they last at least ``min_seconds``."""
    t = time.perf_counter()
    step()
    one = max(time.perf_counter() - t, 1e-7)
    return max(1, math.ceil(min_seconds / one) if at_least else int(min_seconds / one))


#: Before each timed block, untimed calls of the same step for at least this long (and at least one call):
#: longer than the spin of the threads the implementation before it leaves behind (GNU OpenMP's, after
#: Numba's parallel loop, the traffic roof's or torch's: 8 ms of CPU time after each loop, measured on the
#: AMD EPYC; this package's helper threads: 2 ms), so that they do not share the cores with the timed block.
SETTLE_SECONDS = 0.012


def measure_interleaved(
    steps: dict[str, Callable[[], None]],
    repeats: int,
    min_seconds: float,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Seconds per call of each step: every repeat times every implementation, in a rotating order.

    Each timed block starts with untimed calls of the same step (:data:`SETTLE_SECONDS`, at least one):
    the implementation timed before it leaves its runtime's threads spinning and its data in the caches,
    and the first call after it pays most of that (measured on the Intel Xeon: a 1,000-leaf tree API
    step 17.6 ms alone, 22.0 ms right after jitted optax, 18.4 ms the call after). It reduces that
    carry-over; it does not remove it (the benchmark's API steps stay above their times measured alone).
    """
    for step in steps.values():  # warm-up: compile, allocate, fault the pages in
        step()
        step()
    calls = {name: calls_for(step, min_seconds) for name, step in steps.items()}
    settle = {name: calls_for(step, SETTLE_SECONDS, at_least=True) for name, step in steps.items()}
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step = steps[name]
            for _ in range(settle[name]):
                step()
            k = calls[name]
            t = time.perf_counter()
            for _ in range(k):
                step()
            samples[name].append((time.perf_counter() - t) / k)
        tick()
    return samples


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere ``platform.processor()``, or ``"unknown"``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
