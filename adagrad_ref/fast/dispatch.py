"""One core or all: chosen by measuring, on this machine, now (no threshold tuned on one CPU).

Every element of an Adagrad step is independent, so running it on one core or on all changes no bit;
only the time differs, and where the two cross depends on the CPU (measured: a float64 step of
10,000 elements was faster on one core of the AMD EPYC this project first ran on, on two of an Intel
Xeon and of a later AMD EPYC with AVX-512: 8.8 against 9.6 us with Numba's parallel loop, 5.5 against 9.7
with the helper threads of :mod:`adagrad_ref.fast.helpers`) and on the machine's
load (on 2 cores shared with another busy process, all cores can be many times slower than one).
So a :class:`Dispatch` times both on the first calls of each kind and size, runs the faster, and
measures again every :data:`Dispatch.REVISIT` calls, or sooner where all cores were chosen and
:data:`SLOW_CALLS` timed all-cores calls in a row (one in :data:`CHECK_EVERY` is timed) were slower
than one core.

Two kinds of callers:

* a step that writes fresh outputs (:mod:`adagrad_ref.fast.tree`) may run twice on one call:
  :meth:`Dispatch.run` runs both kernels on the first call of a key (loading and warming each);
* an in-place step may not (it would step twice): :meth:`Dispatch.choose` says which to run and
  whether to time it, and :meth:`Dispatch.record` takes the time (:mod:`adagrad_ref.fast.kernels`, and
  ``step(..., donate=True)`` in :mod:`adagrad_ref.fast.tree`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

__all__ = [
    "ALL",
    "CHECK_ALL",
    "CHECK_EVERY",
    "MARGIN",
    "ONE",
    "SLOW_CALLS",
    "TIMED_ALL_CORES",
    "TIME_ALL",
    "TIME_ONE",
    "Dispatch",
]

#: All cores are chosen only if their median time is below this fraction of one core's: on a machine
#: shared with other busy processes all cores can be far slower, and a noisy trial must not pick them. Not
#: lower: a step large enough to be memory-bound is only a little faster on two cores than on one (measured
#: on the AMD EPYC, the update of a 200-leaf float32 tree of 17.8 M elements: all cores' trial median 0.93
#: and 0.90 of one core's in two processes, the first put on one core when this was 0.9; in the benchmark
#: run before the change, ``update``, ``step`` and ``step(donate=True)`` of that tree in its ``(k, 64)``
#: form ran on one core).
MARGIN = 0.95

#: All cores chosen, this many timed all-cores calls in a row slower than both one core's median and twice
#: their own start the trials again: the machine changed (another process took a core). One such call alone
#: is not enough: a garbage collection or a preemption makes one slow call, and trials cost one-core calls.
SLOW_CALLS = 2

#: All cores chosen, one call in this many is timed to check the choice (:data:`CHECK_ALL`), so that the
#: others pay no clock and no record (~1 us of Python a call, measured on the AMD EPYC: 7 % of a float32
#: step of 100,000 elements). A machine that changed is then seen within ``SLOW_CALLS * CHECK_EVERY`` calls.
CHECK_EVERY = 8

#: What :meth:`Dispatch.choose` answers: run on one core or all, untimed; timed, as a trial; or on all cores,
#: timed, to check the choice (odd: all cores; above ALL: time it and :meth:`Dispatch.record` the time).
ONE, ALL, TIME_ONE, TIME_ALL, CHECK_ALL = 0, 1, 2, 3, 5
TIMED_ALL_CORES = (TIME_ALL, CHECK_ALL)


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


class Dispatch:
    """One core or all, chosen by measuring, per key (a call's kind, dtype and size), on this machine.

    The first :data:`TRIALS` calls of a key alternate one core and all cores, timing each (for
    :meth:`run`, a first call runs both, untimed: it loads and warms each kernel); from then on the
    faster of the two medians runs (all cores only if their median is below :data:`MARGIN` times one
    core's), and every :data:`REVISIT` calls the trials are run again (:data:`REVISIT_ALL` where
    :meth:`choose` chose all cores; the machine's load changes; sooner after
    :data:`SLOW_CALLS` too slow timed all-cores calls in a row). ``force(True/False)``
    fixes the choice (``None``: measure again). At most :data:`KEYS` keys are remembered. A call of
    fewer than ``serial_below_bytes`` runs on one core, unmeasured: below it all cores cannot win back
    what they cost (each caller's bound says what: Numba's parallel loop's start for the tree's calls, the
    dispatch's own Python for the in-place step's).
    """

    TRIALS = 10
    REVISIT = 500
    #: :meth:`choose`, all cores chosen: the trials again after this many calls (their one-core calls cost
    #: ~1.5 % of a float32 step of 100,000 elements at every 500 calls; the checks of :data:`CHECK_EVERY`
    #: see a machine that got busier within ``SLOW_CALLS * CHECK_EVERY`` calls meanwhile).
    REVISIT_ALL = 2000
    KEYS = 64

    def __init__(self, serial_below_bytes: int = 0, clock: Callable[[], float] = time.perf_counter) -> None:
        self.serial_below_bytes = serial_below_bytes
        self._clock = clock  # seconds, for run()'s timings (a test passes its own)
        self._forced: bool | None = None
        # key -> [calls, one core's times, all cores' times, slow calls in a row, both kernels run once]
        self._seen: dict[Hashable, list] = {}
        # key -> [ONE or ALL, calls left, too slow for all cores, slow calls in a row]
        self._decided: dict[Hashable, list] = {}
        self._lock = threading.Lock()

    def force(self, parallel: bool | None) -> None:
        self._forced = parallel
        with self._lock:
            self._seen.clear()
            self._decided.clear()

    def _count(self, key: Hashable) -> tuple[list, int]:
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                seen = self._seen[key] = [0, [], [], 0, False]
                if len(self._seen) > self.KEYS:
                    oldest = next(iter(self._seen))
                    del self._seen[oldest]
                    self._decided.pop(oldest, None)
            calls = seen[0] = seen[0] + 1
        return seen, calls % self.REVISIT

    @staticmethod
    def _faster_all(seen: list) -> bool:
        return bool(seen[1]) and bool(seen[2]) and _median(seen[2]) < MARGIN * _median(seen[1])

    def choose(self, key: Hashable, nbytes: int) -> int:
        """For a step that cannot run twice: :data:`ONE` or :data:`ALL`; a trial to time and :meth:`record`
        (:data:`TIME_ONE`, :data:`TIME_ALL`); or, between trials where all cores were chosen, one call in
        :data:`CHECK_EVERY` on all cores to time and record too (:data:`CHECK_ALL`: :data:`SLOW_CALLS` in a
        row slower than one core restart the trials)."""
        decided = self._decided.get(key)
        if decided is not None and self._forced is None:  # between trials: no lock, no count
            if decided[1] > 0:
                decided[1] -= 1
                if decided[0] != ALL:
                    return ONE
                return CHECK_ALL if decided[1] % CHECK_EVERY == 0 else ALL
            self._decided.pop(key, None)
        if self._forced is not None:
            return ALL if self._forced else ONE
        if nbytes < self.serial_below_bytes:
            return ONE
        seen, phase = self._count(key)
        if phase == 0 or phase > self.TRIALS:
            how = ALL if self._faster_all(seen) else ONE
            if phase > self.TRIALS:  # the calls up to the next trials need no count
                period = self.REVISIT_ALL if how == ALL else self.REVISIT
                self._decided[key] = [how, period - 1 - phase, self._too_slow(seen), 0]
                seen[0] = self.REVISIT - 1
            return how
        if phase == 1:  # (re)start the trials
            seen[1], seen[2] = [], []
        return TIME_ALL if phase % 2 == 1 else TIME_ONE

    @staticmethod
    def _too_slow(seen: list) -> float:
        """An all-cores call slower than this says the machine changed (another process took the second
        core: then a call can take milliseconds): slower than both one core's median and twice its own."""
        return max(_median(seen[1]), 2 * _median(seen[2])) if seen[1] and seen[2] else float("inf")

    def record(self, key: Hashable, all_cores: bool, seconds: float) -> None:
        """The time of a call :meth:`choose` asked to time: a trial's, kept; or an all-cores call's between
        trials, which starts the trials again at the next call if it was the :data:`SLOW_CALLS`-th too
        slow in a row."""
        seen = self._seen.get(key)
        decided = self._decided.get(key)
        if decided is not None:
            if not all_cores:
                return
            decided[3] = decided[3] + 1 if seconds > decided[2] else 0
            if decided[3] >= SLOW_CALLS and seen is not None:
                self._decided.pop(key, None)
                seen[0] = self.REVISIT  # the next call is the first of new trials
            return
        if seen is not None:
            seen[2 if all_cores else 1].append(seconds)

    def run(
        self, key: Hashable, nbytes: int, serial: Callable[[], None], parallel: Callable[[], None]
    ) -> None:
        """For a step that may run twice (fresh outputs): run the faster, measuring as the class says (the
        first call of a key runs both kernels, untimed; trials started again later time from their first
        call)."""
        if self._forced is not None or nbytes < self.serial_below_bytes:
            (parallel if self._forced else serial)()
            return
        seen, phase = self._count(key)
        if phase == 1:  # (re)start the trials
            seen[1], seen[2], seen[3] = [], [], 0
            if not seen[4]:  # the first: both kernels loaded and warmed by this call, which runs each once
                seen[4] = True  # (the same outputs written twice: every element is independent)
                serial()
                parallel()
                return
        if phase == 0 or phase > 1 + self.TRIALS:
            if not self._faster_all(seen):
                serial()
                return
            t = self._clock()
            parallel()
            seen[3] = seen[3] + 1 if self._clock() - t > self._too_slow(seen) else 0
            if seen[3] >= SLOW_CALLS:  # the machine changed: measure again
                seen[0] = self.REVISIT
            return
        use_all = phase % 2 == 1
        t = self._clock()
        (parallel if use_all else serial)()
        seen[2 if use_all else 1].append(self._clock() - t)

    def choice(self, key: Hashable) -> bool | None:
        """What the measurements chose for ``key`` so far (``None``: not measured yet)."""
        if self._forced is not None:
            return self._forced
        seen = self._seen.get(key)
        if not seen or not seen[1] or not seen[2]:
            return None
        return self._faster_all(seen)

    def choices(self) -> dict[Hashable, bool]:
        """Every key measured so far, and what was chosen (True: all cores)."""
        out = {}
        for key in list(self._seen):
            chosen = self.choice(key)
            if chosen is not None:
                out[key] = chosen
        return out
