"""Numba's on-disk cache, made safe whatever it holds (see :mod:`adagrad_ref.fast.kernels`).

:func:`cached_njit` is ``njit(error_model="numpy", cache=True)`` whose cache refuses an entry
compiled for other argument types (two processes racing on one index can mix them up), or one it
cannot read, and never lets an unreadable index fail a call.
"""

from __future__ import annotations

from numba import njit
from numba.core.caching import FunctionCache
from numba.core.sigutils import normalize_signature

__all__ = ["SignatureCheckedCache", "cached_njit"]


class SignatureCheckedCache(FunctionCache):
    """Numba's cache, refusing an entry compiled for other argument types, or one it cannot read
    (None: the dispatcher compiles, and its save overwrites the bad entry)."""

    def load_overload(self, sig, target_context):
        try:
            cres = super().load_overload(sig, target_context)
        except Exception:  # a truncated or foreign data file: compile instead
            return None
        if cres is not None and tuple(cres.signature.args) != tuple(normalize_signature(sig)[0]):
            return None
        return cres

    def save_overload(self, sig, data):
        """Save; an index that cannot be read (truncated, foreign, garbage) is emptied and the save
        retried, and if that fails too the entry is not cached: a cache never fails a call."""
        try:
            super().save_overload(sig, data)
        except Exception:
            try:
                self._cache_file.flush()  # Numba's own reset: an empty index
                super().save_overload(sig, data)
            except Exception:
                pass  # compiled and correct, only not cached


def cached_njit(**options):
    """``njit(error_model="numpy", cache=True, **options)`` with :class:`SignatureCheckedCache`."""

    def wrap(func):
        dispatcher = njit(error_model="numpy", **options)(func)
        dispatcher._cache = SignatureCheckedCache(func)  # what cache=True installs, plus the check
        return dispatcher

    return wrap
