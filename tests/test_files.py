"""Atomic writes: the old file survives a failure, keeps its permissions, and no temporary file
is left behind, not even by a writer killed outright."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from chainrule.files import (
    atomic_write,
    remove_stale_temporaries,
    write_bytes_atomic,
    write_text_atomic,
)


def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError, match="interrupted"), atomic_write(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory"):
        write_text_atomic(tmp_path / "nope" / "a.txt", "x")


def test_only_write_modes(tmp_path):
    with pytest.raises(ValueError, match="mode must be"), atomic_write(tmp_path / "a", "a"):
        pass


def test_the_file_gets_the_permissions_open_would_give(tmp_path):
    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "page.html", "<p>hi</p>")
        with open(tmp_path / "plain.html", "w") as handle:
            handle.write("<p>hi</p>")
    finally:
        os.umask(umask)
    mode = os.stat(tmp_path / "page.html").st_mode & 0o777
    assert mode == os.stat(tmp_path / "plain.html").st_mode & 0o777 == 0o644


@pytest.mark.parametrize(("mode", "umask"), [(0o600, 0o022), (0o640, 0o077), (0o755, 0o022)])
def test_a_replaced_file_keeps_its_permissions(tmp_path, mode, umask):
    target = tmp_path / "log.csv"
    write_text_atomic(target, "old")
    target.chmod(mode)
    umask = os.umask(umask)
    try:
        write_text_atomic(target, "new")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    assert target.read_text() == "new"


def dead_pid() -> int:
    """The process id of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_dead_writers_of_the_same_file_are_removed(tmp_path):
    dead = dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".m.bin.{dead}.0123abcd.tmp",
            "live": f".m.bin.{sleeper.pid}.0123abcd.tmp",  # a save in progress elsewhere
            "ours": f".m.bin.{os.getpid()}.89abcdef.tmp",  # one in another thread of ours
            "other_file": f".m.bin.old.{dead}.0123abcd.tmp",  # a writer of "m.bin.old"
            "not_ours": f".m.bin.{dead}.backup.tmp",
            "unrelated": "m.bin.0123abcd.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"half a file")
        write_bytes_atomic(tmp_path / "m.bin", b"whole")
        left = set(os.listdir(tmp_path))
        assert left == {"m.bin", *names.values()} - {names["dead"]}
        assert remove_stale_temporaries(tmp_path / "m.bin") == []
    finally:
        sleeper.kill()
        sleeper.wait()
    # Once the sleeping writer is gone too, its temporary file goes with the next write.
    assert remove_stale_temporaries(tmp_path / "m.bin") == [tmp_path / names["live"]]
