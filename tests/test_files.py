"""Atomic writes: the old file survives a failure, and no temporary file is left behind."""

from __future__ import annotations

import os

import pytest

from chainrule.files import atomic_write, write_bytes_atomic, write_text_atomic


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
