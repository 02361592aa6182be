"""Every file the package writes is written atomically, with the final mode, and named in its errors.

Issue 17: ``save_state`` over a 0600 file created its temporary file 0644 (readable by other users
until it was tightened), replaced a checkpoint its owner had made read-only and the target of a
symlink another user planted in ``/tmp``, and refused a legal 255-byte file name (the temporary
name added ~35 bytes); ``golden --out`` and ``bench --update-readme`` (now ``--update-docs``) truncated their target before
writing, so a failed write left a cut file (README cut to 65,536 bytes) and said
``error: : File too large``. The file-size limit below (``RLIMIT_FSIZE``) makes the write fail
part-way as a full disk would.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
from helpers.paths import ROOT

from adagrad_ref import AdagradError, AdagradState
from adagrad_ref.state import atomic
from adagrad_ref.state.checkpoint import load_state, save_state


def state_of(tree, count=3):
    return AdagradState(sum_of_squares=tree, count=np.int32(count))


def test_the_temporary_file_is_created_with_the_final_mode(tmp_path, monkeypatch):
    target = tmp_path / "secret.npz"
    save_state(target, state_of({"w": np.ones(4)}))
    os.chmod(target, 0o600)
    seen = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, **kw):
        fd = real_open(path, flags, mode, **kw)
        if str(path).endswith(".tmp"):
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the mode the moment it exists
        return fd

    monkeypatch.setattr(os, "open", watching_open)
    old = os.umask(0o022)
    try:
        save_state(target, state_of({"w": np.ones(4)}, count=5))
    finally:
        os.umask(old)
    assert seen == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and load_state(target).count == 5


def test_a_read_only_checkpoint_is_refused_not_replaced(tmp_path):
    target = tmp_path / "kept.npz"
    save_state(target, state_of({"w": np.ones(2)}, count=1))
    os.chmod(target, 0o444)
    before = target.read_bytes()
    with pytest.raises(
        AdagradError, match=rf"^{re.escape(str(target))}: cannot save the state \(the file is "
    ):
        save_state(target, state_of({"w": np.ones(2)}, count=2))
    assert target.read_bytes() == before and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlink_planted_in_a_sticky_shared_folder_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # as /tmp
    victim = tmp_path / "victim.npz"
    save_state(victim, state_of({"w": np.ones(2)}, count=1))
    before = victim.read_bytes()
    planted = shared / "run.npz"
    planted.symlink_to(victim)
    os.lchown(planted, 4242, 4242)  # another user's link (the tests run as root)
    with pytest.raises(AdagradError) as e:
        save_state(planted, state_of({"w": np.zeros(2)}, count=9))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(
        f"{planted}: cannot save the state (a symbolic link in the shared"
    )
    assert "uid 4242" in msg and victim.read_bytes() == before
    own = shared / "mine.npz"  # one's own link there is followed, as before
    own.symlink_to(victim)
    save_state(own, state_of({"w": np.zeros(2)}, count=9))
    assert load_state(victim).count == 9 and own.is_symlink()


def test_a_folder_link_planted_in_a_sticky_shared_folder_is_refused(tmp_path):
    """Found by the adversarial re-probe: another user's link to one of our folders, used as a folder
    of the path (``/tmp/evil/victim.npz``), was followed: the check looked only at the last part."""
    from adagrad_ref.cli import main

    shared, victims = tmp_path / "shared", tmp_path / "victims"
    shared.mkdir()
    victims.mkdir(mode=0o700)
    os.chmod(shared, 0o1777)
    evil = shared / "evil"
    evil.symlink_to(victims)
    os.lchown(evil, 4242, 4242)
    for target in (evil / "victim.npz", evil / ".." / "evil" / "x.npz"):
        with pytest.raises(
            AdagradError, match=r"^.*: cannot save the state \(a symbolic link in the shared folder"
        ):
            save_state(target, state_of({"w": np.ones(2)}))
    assert main(["golden", "--out", str(evil)]) == 2
    assert list(victims.iterdir()) == []
    mine = shared / "mine"  # one's own link is followed, as before
    mine.symlink_to(victims)
    save_state(mine / "ok.npz", state_of({"w": np.ones(2)}))
    assert (victims / "ok.npz").is_file()


def test_an_unusable_target_name_is_refused_before_the_work(tmp_path):
    """A name the file system refuses (too long) was taken for a new file: ``bench --json`` measured for
    97 s, then failed on the figure's name."""
    with pytest.raises(AdagradError, match=r"File name too long\)$"):
        atomic.check_target(str(tmp_path / ("b" * 300)), "cannot write the benchmark result")


def test_bench_update_docs_reads_its_page_bounded_and_as_text(tmp_path):
    """``--update-docs /dev/zero`` read until memory ran out, a FIFO hung, non-UTF-8 bytes gave a
    traceback: each is now one line, exit 2, nothing written."""
    fifo, bad = tmp_path / "fifo", tmp_path / "bad.md"
    os.mkfifo(fifo)
    bad.write_bytes(b"\xff\xfe")
    bench = str(ROOT / "figures" / "bench.json")
    for page, line in (
        ("/dev/zero", "/dev/zero: not a regular file (a device, FIFO, socket or folder); refused"),
        (str(fifo), f"{fifo}: not a regular file (a device, FIFO, socket or folder); refused"),
        (str(bad), f"{bad}: not UTF-8 text (invalid start byte at byte 0)"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "adagrad_ref", "bench", "--json", bench, "--update-docs", page],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (out.returncode, out.stderr) == (2, f"adagrad-ref: error: {line}\n")
    assert bad.read_bytes() == b"\xff\xfe"


@pytest.mark.parametrize("name", ["a" * 251 + ".npz", "é" * 125 + ".npz", "b" * 255])
def test_a_file_name_of_up_to_255_bytes_works(tmp_path, name):
    assert len(name.encode()) in (254, 255)
    target = tmp_path / name
    save_state(target, state_of({"w": np.ones(3)}, count=4))
    save_state(target, state_of({"w": np.ones(3)}, count=6))  # again: over the file, past the stale sweep
    assert load_state(target).count == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_failure_or_ctrl_c_mid_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def half(f, exc):
        f.write(b"new, half")
        raise exc

    with pytest.raises(AdagradError, match=rf"^{re.escape(str(target))}: cannot write the file \(No space"):
        atomic.replace_file(
            target, lambda f: half(f, OSError(28, "No space left on device")), "cannot write the file"
        )
    with pytest.raises(KeyboardInterrupt):
        atomic.replace_file(target, lambda f: half(f, KeyboardInterrupt()), "cannot write the file")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    atomic.write_text(target, "new")
    assert target.read_text() == "new"


def test_a_figure_is_written_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adagrad_ref.teaching.plots import savefig

    target = tmp_path / "fig.png"
    target.write_bytes(b"old figure")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])

    def broken(f, **kw):
        f.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    real = fig.savefig
    fig.savefig = broken
    with pytest.raises(AdagradError, match=rf"^{re.escape(str(target))}: cannot write the figure"):
        savefig(fig, str(target), dpi=50)
    assert target.read_bytes() == b"old figure"
    fig.savefig = real
    savefig(fig, str(target), dpi=50)
    plt.close(fig)
    assert target.read_bytes().startswith(b"\x89PNG") and sorted(p.name for p in tmp_path.iterdir()) == [
        "fig.png"
    ]


#: Runs the command line under a file-size limit: the limit and the ignored SIGXFSZ (a write past the
#: limit then fails with EFBIG, as on a full disk) survive the exec. No preexec_fn: it forks, which
#: JAX, imported by other tests of the run, warns against.
LIMITED = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.executable, [sys.executable, "-m", "adagrad_ref", *sys.argv[2:]])
"""


def run_cli(args: list[str], limit: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", LIMITED, str(limit), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_bench_update_docs_past_a_file_size_limit_leaves_the_page_whole(tmp_path):
    """``bench --update-readme`` (now ``--update-docs``) truncated its target first: a failed write left
    the README cut to 65,536 bytes. The page is padded past the limit so that the write must fail."""
    page = tmp_path / "performance.md"
    page.write_text((ROOT / "docs" / "performance.md").read_text() + "\n<!-- " + "x" * 70_000 + " -->\n")
    before = page.read_bytes()
    assert len(before) > 65536
    out = run_cli(
        ["bench", "--update-docs", str(page), "--json", str(ROOT / "figures" / "bench.json")], 65536
    )
    assert out.returncode == 2, out.stderr
    assert (
        out.stderr == f"adagrad-ref: error: {page}: cannot update the performance numbers (File too large)\n"
    )
    assert page.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["performance.md"]


def test_golden_out_past_a_file_size_limit_leaves_every_file_whole(tmp_path):
    for name in ("optax.json", "schema.json"):
        (tmp_path / name).write_text("old\n")
    out = run_cli(["golden", "--out", str(tmp_path)], 65536)
    assert out.returncode == 2, out.stderr
    assert (
        out.stderr
        == f"adagrad-ref: error: {tmp_path / 'optax.json'}: cannot write the golden file (File too large)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optax.json", "schema.json"]
    assert all((tmp_path / n).read_text() == "old\n" for n in ("optax.json", "schema.json"))
