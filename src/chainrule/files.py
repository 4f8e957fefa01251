"""Atomic file writes: a file is either its old self or completely new, never half-written.

Everything chainrule writes to a path (model files, checkpoints, CSV logs, PNG plots, HTML
pages) goes through :func:`atomic_write`: the bytes go to a temporary file in the same
directory, which is flushed, fsync'ed and then renamed over the target. A crash or an exception
part-way leaves the previous file untouched and no temporary file behind. (A file object given
instead of a path is written as it is: :func:`write_bytes`.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any
) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (``open_kwargs`` such as ``encoding``/``newline`` pass on).
    The parent directory must exist; a missing one is a FileNotFoundError naming it.

    >>> with atomic_write("model.txt", "w") as f:  # doctest: +SKIP
    ...     f.write("weights")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: no directory {str(directory)!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a saved model or page should get the usual
        # permissions of a new file, as open() would give it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename is durable only once the directory entry is on disk too.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically as UTF-8 (see :func:`atomic_write`)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_bytes(target: Any, data: bytes, where: str) -> None:
    """Write ``data`` to ``target``: a path, atomically, or a binary file object, at its
    current position (``where`` names the caller in errors)."""
    if isinstance(target, (str, os.PathLike)):
        write_bytes_atomic(target, data)
    elif callable(getattr(target, "write", None)):
        target.write(data)
    else:
        raise TypeError(
            f"{where}: f must be a path or a binary file object, got {type(target).__name__}"
        )


def read_bytes(source: Any, where: str) -> tuple[bytes, str]:
    """All the bytes of ``source`` (a path, or a binary file object read from its current
    position) and its name for messages; a missing file is a FileNotFoundError naming it."""
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes(), str(source)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{where}: no such file {str(source)!r}") from error
    if not callable(getattr(source, "read", None)):
        raise TypeError(
            f"{where}: f must be a path or a binary file object, got {type(source).__name__}"
        )
    data = source.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"{where}: the file object gave {type(data).__name__}; open it in binary mode"
        )
    return bytes(data), str(getattr(source, "name", f"<{type(source).__name__}>"))
