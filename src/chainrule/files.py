"""Atomic file writes: a file is either its old self or completely new, never half-written.

Everything chainrule writes to a path (model files, checkpoints, CSV logs, PNG plots, HTML
pages) goes through :func:`atomic_write`: the bytes go to a temporary file in the same
directory, which is flushed, fsync'ed and then renamed over the target. A crash or an exception
part-way leaves the previous file untouched, and the file keeps the permissions it had.

The temporary file is named ``.<target>.<pid>.<random>.tmp``. An exception removes it; a writer
killed outright (SIGKILL, a power cut) cannot, so each write first removes the temporary files
of the same target whose writer process is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any
) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (``open_kwargs`` such as ``encoding``/``newline`` pass on).
    The parent directory must exist; a missing one is a FileNotFoundError naming it. A new
    file gets the permissions ``open()`` would give it; a replaced one keeps its own.

    ```pycon
    >>> with atomic_write("model.txt", "w") as f:  # doctest: +SKIP
    ...     f.write("weights")

    ```
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: no directory {str(directory)!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    remove_stale_temporaries(target)
    fd, temporary = _create_temporary(target)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
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


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new temporary file beside ``target``, open for writing, with the permissions the
    target will have: its own if it exists, else what ``open()`` gives a new file."""
    try:
        permissions = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        permissions = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            # The umask applies to the mode given here: 0o666 gives what open() would, and a
            # private target's mode keeps its bytes private from the first one written.
            fd = os.open(temporary, flags, 0o666 if permissions is None else permissions)
        except FileExistsError:
            continue
        if permissions is not None:
            try:  # exactly the target's mode, whatever the umask took away
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, permissions)
                else:
                    os.chmod(temporary, permissions)
            except BaseException:
                os.close(fd)
                os.unlink(temporary)
                raise
        return fd, temporary
    raise FileExistsError(f"cannot create a temporary file beside {str(target)!r}")


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that writers of ``path`` left when killed, and return them.

    A temporary file whose writer process is alive (another save in progress) is kept. The
    process ids are this machine's: writers on other machines sharing the directory must not
    write the same target at the same time.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if os.name != "posix":  # os.kill(pid, 0) would signal, not test, the process on Windows
        return []
    prefix = f".{target.name}."
    removed = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            pid = _writer_pid(entry.name, prefix)
            if pid is None or _is_alive(pid):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _writer_pid(name: str, prefix: str) -> int | None:
    """The process id in the name of a temporary file of the target, or None."""
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix) :].split(".")
    if len(parts) != 3 or parts[2] != "tmp" or len(parts[1]) != 8:
        return None
    pid, token = parts[0], parts[1]
    digits = pid.isascii() and pid.isdigit() and not pid.startswith("0")
    hexadecimal = all(c in "0123456789abcdef" for c in token)
    return int(pid) if digits and hexadecimal else None


def _is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: no signal, only the check that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: alive, and someone else's
        return True
    return True


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically as UTF-8 (see :func:`atomic_write`)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
