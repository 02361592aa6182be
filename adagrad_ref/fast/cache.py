"""Numba's on-disk cache, made safe whatever it holds (see :mod:`adagrad_ref.fast.kernels`).

:func:`cached_njit` is ``njit(error_model="numpy", cache=True)`` whose cache

* refuses an entry compiled for other argument types (two processes racing on one index can mix
  them up), or one it cannot read, and never lets an unreadable index fail a call;
* refuses a damaged or foreign entry: every index and data file it writes starts with
  :data:`MAGIC` and the SHA-256 digest of the rest, checked before anything in it is unpickled
  or run (one flipped bit in cached machine code otherwise runs: SIGSEGV, SIGILL or wrong bits);
  a file without a matching digest is treated as absent, so the function is compiled again and
  the file rewritten;
* is stale as soon as the source of any module of this folder changes, not only the function's own file
  (Numba's stamp): a cached function carries compiled code and constants of its siblings (the helper threads'
  hand-over of :mod:`adagrad_ref.fast.helpers` inside :func:`adagrad_ref.fast.kernels._serve`, the
  element of :mod:`adagrad_ref.fast.kernels` inside the tree's loops), which an edit of a sibling
  alone would otherwise leave running from the old cache;
* is left out when Numba finds no writable place for it (read-only package folder, no writable
  home, ``NUMBA_CACHE_DIR`` unusable): the functions are then compiled in every process, and one
  :class:`NumbaCacheUnavailableWarning` says so, instead of Numba's ``RuntimeError: cannot cache
  function ...: no locator available`` from every entry point.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import io
import pickle
import warnings

from numba import njit
from numba.core.caching import FunctionCache, IndexDataCacheFile, NullCache
from numba.core.sigutils import normalize_signature

__all__ = [
    "MAGIC",
    "DigestCheckedCacheFile",
    "NumbaCacheUnavailableWarning",
    "SignatureCheckedCache",
    "cached_njit",
    "folder_stamp",
    "install_cache",
]

#: The first bytes of every cache file this package writes; the SHA-256 digest of the rest follows.
MAGIC = b"adagrad_ref numba cache v1 sha256\n"
_DIGEST_BYTES = 32


class NumbaCacheUnavailableWarning(RuntimeWarning):
    """Numba found no writable place for its cache: the fast core compiles in every process."""


class _DamagedEntry(Exception):
    """A cache file whose digest does not match its content (damaged, cut, or not written here)."""


def _seal(body: bytes) -> bytes:
    return MAGIC + hashlib.sha256(body).digest() + body


def _unseal(blob: bytes) -> bytes:
    head = len(MAGIC) + _DIGEST_BYTES
    if len(blob) < head or not blob.startswith(MAGIC):
        raise _DamagedEntry("no digest")
    body = blob[head:]
    if hashlib.sha256(body).digest() != blob[len(MAGIC) : head]:
        raise _DamagedEntry("digest mismatch")
    return body


class DigestCheckedCacheFile(IndexDataCacheFile):
    """Numba's index and data files, each sealed with :data:`MAGIC` and a SHA-256 digest of its
    content when written and checked before it is unpickled when read."""

    def _load_index(self):
        try:
            with open(self._index_path, "rb") as f:
                blob = f.read()
        except FileNotFoundError:
            return {}
        try:
            stream = io.BytesIO(_unseal(blob))
            version = pickle.load(stream)
            if version != self._version:
                return {}
            stamp, overloads = pickle.loads(stream.read())
            if stamp != self._source_stamp or not isinstance(overloads, dict):
                return {}
            return overloads
        except Exception:  # damaged, foreign or another format: an empty index, rewritten on save
            return {}

    def _save_index(self, overloads):
        body = pickle.dumps(self._version, protocol=-1) + self._dump((self._source_stamp, overloads))
        with self._open_for_write(self._index_path) as f:
            f.write(_seal(body))

    def _load_data(self, name):
        with open(self._data_path(name), "rb") as f:
            blob = f.read()
        return pickle.loads(_unseal(blob))  # _DamagedEntry: the caller compiles instead

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(_seal(self._dump(data)))


@functools.cache
def folder_stamp() -> tuple[tuple[str, bytes], ...]:
    """``(module name, SHA-256 of its source)`` of every module of this package folder
    (``adagrad_ref.fast``), read once per process, from a folder or a zip alike: part of every cache entry's
    stamp here (an entry written with another is stale). The contents, as Numba stamps a function's own
    file: a touched, copied or reinstalled module with the same source keeps the cache. Only this folder:
    a cached kernel compiling in code from another package folder would need that folder stamped too."""
    stamps = []
    try:
        modules = [m for m in importlib.resources.files(__package__).iterdir() if m.name.endswith(".py")]
        for module in sorted(modules, key=lambda m: m.name):
            stamps.append((module.name, hashlib.sha256(module.read_bytes()).digest()))
    except Exception:  # a folder that cannot be listed or read: the stamp of what could be read
        pass
    return tuple(stamps)


class SignatureCheckedCache(FunctionCache):
    """Numba's cache, refusing an entry compiled for other argument types, a damaged or foreign
    one, or one it cannot read (None: the dispatcher compiles, and its save overwrites the bad
    entry)."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = DigestCheckedCacheFile(
            cache_path=self._cache_path,
            filename_base=self._impl.filename_base,
            source_stamp=(self._impl.locator.get_source_stamp(), folder_stamp()),
        )

    def load_overload(self, sig, target_context):
        try:
            cres = super().load_overload(sig, target_context)
        except Exception:  # a truncated, damaged or foreign data file: compile instead
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


_warned_no_cache = False


def _warn_no_cache(func, error: Exception) -> None:
    global _warned_no_cache
    if not _warned_no_cache:
        _warned_no_cache = True
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        warnings.warn(
            "adagrad_ref: Numba found no writable cache location (read-only package folder, no "
            "writable home, NUMBA_CACHE_DIR unusable), so the fast core is compiled in every process "
            f"(first refused: {func.__qualname__}: {reason}). Set NUMBA_CACHE_DIR to a writable folder "
            "to cache it.",
            NumbaCacheUnavailableWarning,
            stacklevel=3,
        )


def install_cache(dispatcher, cache: FunctionCache) -> None:
    """Give ``dispatcher`` the on-disk ``cache``: the one place this package touches a private
    attribute of Numba.

    Numba has no public way to choose a dispatcher's cache class: ``njit(cache=True)`` runs
    ``Dispatcher.enable_caching``, which sets ``self._cache = FunctionCache(self.py_func)``
    (``numba/core/dispatcher.py``; a dispatcher without a cache holds a ``NullCache`` there). This
    sets the same slot to ``cache``, a :class:`FunctionCache` subclass with the checks above. If
    Numba moves the slot, this raises ``RuntimeError`` naming Numba's version rather than setting an
    attribute Numba no longer reads (the cache would then silently be off); the test suite checks
    the slot against the installed Numba (``test_numba_cache.py``).
    """
    import numba

    if not (
        isinstance(getattr(dispatcher, "_cache", None), NullCache)
        and callable(getattr(dispatcher, "enable_caching", None))
        and isinstance(cache, FunctionCache)
    ):
        raise RuntimeError(
            f"adagrad_ref.fast.cache.install_cache: Numba {numba.__version__} no longer keeps a "
            "dispatcher's cache in Dispatcher._cache (a NullCache before enable_caching); update it"
        )
    dispatcher._cache = cache  # what cache=True installs, plus the checks


def cached_njit(**options):
    """``njit(error_model="numpy", cache=True, **options)`` with :class:`SignatureCheckedCache`;
    without a cache (and one warning) where Numba finds no writable place for one."""

    def wrap(func):
        dispatcher = njit(error_model="numpy", **options)(func)
        try:
            cache = SignatureCheckedCache(func)
        except Exception as error:  # "no locator available": compile in each process instead
            _warn_no_cache(func, error)
            return dispatcher
        install_cache(dispatcher, cache)  # a Numba that moved the slot fails here, loudly
        return dispatcher

    return wrap
