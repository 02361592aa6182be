"""Every file the package writes, written atomically: never a 0-byte, cut or half-written file.

:func:`replace_file` writes under a temporary name in the target's folder, flushes it to disk,
renames it over the target (``os.replace``) and flushes the folder. A failure or Ctrl-C part-way
leaves the previous file as it was, removes the temporary file, and (for a failure) raises
:class:`AdagradError` naming the target; a killed writer's temporary file is removed by the next
write to the same target (it is locked while in use). Used by ``save_state``, ``golden --out``,
``bench`` (``--json``, ``--update-docs``, the plots) and ``figures``.

* The temporary file is created with the target's final mode (an existing file's mode; a new
  file gets ``0o666`` less the umask, as ``open`` gives): never readable by more users than the
  file it replaces, not even for a moment.
* A target whose mode grants no write permission (its owner made it read-only) is refused, as
  ``open(path, "w")`` refuses it for everyone but root; so is a symlink that another user planted
  in a sticky world-writable folder such as ``/tmp`` (Linux's ``fs.protected_symlinks`` rule).
  Any other symlink is written through: the file it names is replaced, the link stays.
* The temporary name is at most the folder's longest file name, whatever the target's length
  (a 255-byte target name works).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from typing import BinaryIO

from adagrad_ref.errors import AdagradError

__all__ = ["check_target", "replace_file", "write_bytes", "write_text"]

_SUFFIX_BYTES = len(".") + 10 + len(".") + 16 + len(".tmp")  # ".{pid}.{16 hex}.tmp", pid < 2**32


def write_bytes(target: str | os.PathLike, data: bytes, action: str = "cannot write the file") -> None:
    """``data`` as the whole content of ``target``, atomically (see :func:`replace_file`)."""
    replace_file(target, lambda f: f.write(data), action)


def write_text(target: str | os.PathLike, text: str, action: str = "cannot write the file") -> None:
    """``text`` (UTF-8) as the whole content of ``target``, atomically (see :func:`replace_file`)."""
    write_bytes(target, text.encode("utf-8"), action)


def replace_file(target: str | os.PathLike, write: Callable[[BinaryIO], object], action: str) -> None:
    """Call ``write(f)`` on a new temporary file and rename it over ``target``; every refusal and
    failure is one :class:`AdagradError` line, ``"{target}: {action} ({reason})"``."""
    target = os.fspath(target)
    real, folder, base, mode = check_target(target, action)
    _remove_stale_temporaries(folder, _prefix(folder, base))
    tmp = os.path.join(folder, f".{_prefix(folder, base)}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    create = 0o666 if mode is None else mode & 0o777  # the final mode (the umask may narrow it)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), create)
    except OSError as e:
        raise AdagradError(f"{target}: {action} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(fd, blocking=True)  # tells a later write that this temporary file is in use
            if mode is not None:
                os.fchmod(fd, mode)  # the bits the umask removed, or setgid and the like: never wider
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except OSError as e:
        _unlink(tmp)
        raise AdagradError(f"{target}: {action} ({e.strerror or e})") from None
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_folder(folder)


def check_target(target: str, action: str) -> tuple[str, str, str, int | None]:
    """(the file a write replaces, its folder, its name, its mode or None): refused if it cannot be."""
    if not target or "\0" in target or target.endswith((os.sep, "/")):
        raise AdagradError(f"{target!r}: {action} (not a file name)")
    _refuse_planted_links(target, action)
    real = os.path.realpath(target)  # a symlink is written through: the file it names is replaced
    folder, base = os.path.split(real)
    if os.path.islink(real):  # realpath stops inside a loop of links
        raise AdagradError(f"{target}: {action} (a loop of symbolic links)")
    if os.path.isdir(real):
        raise AdagradError(f"{target}: {action} (it is a directory)")
    if not os.path.isdir(folder):
        why = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise AdagradError(f"{target}: {action} ({folder} {why})")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, folder, base, None  # a new file
    except OSError as e:  # a name too long, a permission: refused now, not after the work is done
        raise AdagradError(f"{target}: {action} ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):  # never rename over a device, FIFO or socket
        raise AdagradError(f"{target}: {action} (it exists and is not a regular file)")
    if not st.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise AdagradError(f"{target}: {action} (the file is read-only: make it writable or remove it first)")
    return real, folder, base, stat.S_IMODE(st.st_mode)


def _refuse_planted_links(target: str, action: str) -> None:
    """Refuse to follow a symlink in a sticky world-writable folder (``/tmp``) that neither this user
    nor the folder's owner made: another user could point it at any file of ours. Every link met on
    the way is checked, in the folders of the path as in its last part (``/tmp/evil/x.npz`` where
    ``/tmp/evil`` is another user's link to one of our folders is refused too)."""
    pending = [part for part in os.path.abspath(target).split(os.sep) if part]
    path, hops = os.sep, 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            path = os.path.dirname(path)
            continue
        if part == ".":
            continue
        here = os.path.join(path, part)
        if not os.path.islink(here):
            path = here
            continue
        hops += 1
        if hops > 40:  # a loop: realpath and the checks after it refuse it
            return
        try:
            link, where = os.lstat(here), os.stat(path)
        except OSError:
            return
        sticky_shared = where.st_mode & stat.S_ISVTX and where.st_mode & stat.S_IWOTH
        if sticky_shared and link.st_uid not in (os.geteuid(), where.st_uid):
            raise AdagradError(
                f"{target}: {action} (a symbolic link in the shared folder {path} made by another user "
                f"(uid {link.st_uid}); remove it, or name the file it points to)"
            )
        to = os.readlink(here)
        if os.path.isabs(to):
            path = os.sep
        pending = [p for p in to.split(os.sep) if p] + pending


def _prefix(folder: str, base: str) -> str:
    """``base``, shortened so that ``.{prefix}{suffix}`` fits the folder's longest file name."""
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    room = max(1, min(name_max, 255) - 1 - _SUFFIX_BYTES)
    raw = base.encode("utf-8", "surrogateescape")
    if len(raw) <= room:
        return base
    return raw[:room].decode("utf-8", "ignore") or "f"  # never cut inside a character


def _lock(fd: int, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): temporary files are only removed on exceptions
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _remove_stale_temporaries(folder: str, prefix: str) -> None:
    """Remove ``.{prefix}.{pid}.{random}.tmp`` files whose writer is dead: not locked, pid gone."""
    pattern = re.compile(re.escape(f".{prefix}.") + r"(\d+)\.[0-9a-f]{16}\.tmp")
    try:
        entries = [e.name for e in os.scandir(folder) if pattern.fullmatch(e.name)]
    except OSError:
        return
    for entry in entries:
        pid = int(pattern.fullmatch(entry).group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        path = os.path.join(folder, entry)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _lock(fd, blocking=False):
                os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or a number that is no pid: leave its file alone
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
