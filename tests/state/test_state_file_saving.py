"""State files (issue 12 §3): saving keeps modes, cleans up after killed writers, names the target.

Every refusal is a one-line AdagradError naming the path the caller passed, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import sys

import numpy as np
from helpers.errors import one_line

from adagrad_ref import AdagradState
from adagrad_ref.state.checkpoint import load_state, read_metadata, save_state


def state_of(tree, count=3):
    return AdagradState(sum_of_squares=tree, count=np.int32(count))


# ---------------------------------------------------------------- saving


def test_an_existing_file_keeps_its_mode_and_a_new_one_gets_the_umask(tmp_path):
    state = state_of({"w": np.ones(2)})
    f = tmp_path / "s.npz"
    old = os.umask(0o027)
    try:
        save_state(f, state)
        assert stat.S_IMODE(f.stat().st_mode) == 0o640  # 0o666 less the umask, as np.savez
        os.chmod(f, 0o604)
        save_state(f, state)
        assert stat.S_IMODE(f.stat().st_mode) == 0o604
    finally:
        os.umask(old)


KILLED = """
import os, sys, numpy as np
from adagrad_ref import AdagradState
from adagrad_ref.state import checkpoint
real = np.lib.format.write_array
def crash(fp, a, **kw):
    real(fp, a[: a.size // 2], **kw)
    os._exit(3)
np.lib.format.write_array = crash
checkpoint.save_state(sys.argv[1], AdagradState({"w": np.ones(1000, np.float32)}, np.int32(9)))
"""

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save_and_live_ones_kept(tmp_path):
    target = tmp_path / "s.npz"
    save_state(target, state_of({"w": np.zeros(3)}))
    for _ in range(3):
        assert subprocess.run([sys.executable, "-c", KILLED, str(target)]).returncode == 3
    # Each killed save removed the one before it: one temporary file is left, the last one's.
    stale = sorted(p.name for p in tmp_path.iterdir() if p.name != "s.npz")
    assert len(stale) == 1 and all(re.fullmatch(r"\.s\.npz\.\d+\.[0-9a-f]{16}\.tmp", n) for n in stale)
    # A live writer's temporary file: its pid is alive (this process) or it is locked (another host).
    mine = tmp_path / f".s.npz.{os.getpid()}.{'a' * 16}.tmp"
    mine.write_bytes(b"in progress")
    locked = tmp_path / f".s.npz.{2**22 + 1}.{'b' * 16}.tmp"  # no such pid: only the lock protects it
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(locked)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        other = tmp_path / ".other.npz.1.cccccccccccccccc.tmp"  # another target's: not ours to remove
        other.write_bytes(b"")
        save_state(target, state_of({"w": np.ones(3)}))
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted([".other.npz.1.cccccccccccccccc.tmp", locked.name, mine.name, "s.npz"])
    finally:
        holder.kill()
        holder.wait()
    assert load_state(target).sum_of_squares["w"][0] == 1


def test_failures_name_the_target_never_the_temporary_file(tmp_path, monkeypatch):
    state = state_of({"w": np.ones(2)})
    (tmp_path / "afile").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    cases = [
        (
            tmp_path / "adir",
            rf"^{re.escape(str(tmp_path / 'adir'))}: cannot save the state \(it is a directory\)$",
        ),
        (
            tmp_path / "no" / "s.npz",
            rf"^{re.escape(str(tmp_path / 'no' / 's.npz'))}: cannot save the state \(.*/no does not exist\)$",
        ),
        (tmp_path / "afile" / "s.npz", r"afile/s.npz: cannot save the state \(.*/afile is not a folder\)$"),
        ("", r"^save_state: path must name a file, got ''$"),
        (b"s.npz", r"^save_state: path must be a str or os.PathLike of str, got bytes b's.npz'$"),
        (3, r"^save_state: path must be a str or os.PathLike of str, got int 3$"),
        ("s\0.npz", r"^save_state: path must name a file, got 's\\x00.npz' \(it holds a NUL character\)$"),
        (
            f"{tmp_path}/s.npz/",
            r"^save_state: path must name a file, got '.*/s.npz/' \(it ends with a separator\)$",
        ),
    ]
    for path, match in cases:
        with one_line(match):
            save_state(path, state)
    for fn in (load_state, read_metadata):  # the readers refuse such paths in the same one line
        with one_line(r"path must name a file, got 's\\x00.npz' \(it holds a NUL character\)$"):
            fn("s\0.npz")
    # A read-only folder (the tests run as root, who may write anywhere: the refusal is simulated).
    real_open = os.open

    def refuse(path, flags, mode=0o777, **kw):
        if str(path).endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", refuse)
    with one_line(rf"^{re.escape(str(tmp_path / 's.npz'))}: cannot save the state \(Permission denied\)$"):
        save_state(tmp_path / "s.npz", state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]


def test_a_symlinked_target_is_written_through(tmp_path):
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    save_state(real, state_of({"w": np.zeros(2)}))
    os.chmod(real, 0o640)
    link.symlink_to(real)
    save_state(link, state_of({"w": np.ones(2)}, count=8))
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link stays
    assert load_state(real).count == 8 and stat.S_IMODE(real.stat().st_mode) == 0o640
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "new.npz")
    save_state(dangling, state_of({"w": np.ones(2)}, count=4))  # creates the file the link names
    assert dangling.is_symlink() and load_state(tmp_path / "new.npz").count == 4
    to_dir = tmp_path / "todir.npz"
    to_dir.symlink_to(tmp_path)
    with one_line(rf"^{re.escape(str(to_dir))}: cannot save the state \(it is a directory\)$"):
        save_state(to_dir, state_of({"w": np.ones(2)}))
    loop1, loop2 = tmp_path / "loop1.npz", tmp_path / "loop2.npz"
    loop1.symlink_to(loop2)
    loop2.symlink_to(loop1)
    with one_line(rf"^{re.escape(str(loop1))}: cannot save the state \(a loop of symbolic links\)$"):
        save_state(loop1, state_of({"w": np.ones(2)}))
    assert loop1.is_symlink() and loop2.is_symlink()  # a loop of links is refused, never replaced
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_device_a_fifo_or_a_link_to_one_is_never_replaced(tmp_path):
    """Found by a new user as root: save_state("/dev/null", ...) renamed a regular file over the device."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the tests run as root, as CI does
    link = tmp_path / "link.npz"
    link.symlink_to(device)
    for target, kind in ((fifo, stat.S_ISFIFO), (device, stat.S_ISCHR), (link, stat.S_ISCHR)):
        with one_line(
            rf"^{re.escape(str(target))}: cannot save the state \(it exists and is not a regular file\)$"
        ):
            save_state(target, state_of({"w": np.ones(2)}))
        assert kind(os.stat(target).st_mode), target  # still the FIFO / the device
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


WRITER = """
import sys, numpy as np
from adagrad_ref import AdagradState
from adagrad_ref.state import checkpoint
path, me, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for k in range(n):
    c = me * 1000 + k
    checkpoint.save_state(path, AdagradState({"a": np.full(5000, c, np.float64), "b": [np.full(7, c, np.float32)]}, np.int32(c)))
"""


def test_concurrent_writers_and_loaders_see_only_complete_states(tmp_path):
    target = tmp_path / "s.npz"
    save_state(target, state_of({"a": np.zeros(5000), "b": [np.zeros(7, np.float32)]}, count=0))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(w), "40"]) for w in (1, 2, 3)]
    loads = 0
    while any(w.poll() is None for w in writers) or loads < 50:
        s = load_state(target)
        c = int(s.count)
        assert (s.sum_of_squares["a"] == c).all() and (s.sum_of_squares["b"][0] == c).all()
        loads += 1
    assert [w.wait() for w in writers] == [0, 0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]
    assert load_state(target).count % 1000 == 39
